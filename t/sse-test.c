/*
 * sse-test.c: tests of the SSE push parser (sse.c), printed as TAP.
 *
 * Each case is a byte string and the events it must give, written by hand
 * from the WHATWG spec as "type|id|data" lines (data escaped: \n \r \\
 * \xhh), then "stopped" if a callback stopped the parser, then "end=N",
 * what sse_end returned.  Every case is fed whole, a byte at a time, cut
 * at every point and (when short) at every pair of points: the parser
 * keeps state across feeds, so all must agree.  Each piece is a separate
 * allocation of its exact size, so ASan catches a read past a feed.
 * The bytes given to sse_data for an event must be its data exactly.
 * Random streams are checked against a naive line-at-a-time reading of
 * the spec, written separately below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vmanjl.h"

#define S(s)		s, sizeof(s) - 1
#define PAIR_MAX	64	/* cut at every pair of points up to this */
#define NRANDOM		5000

struct tcase {
	const char *name;
	const char *in;
	size_t len;
	const char *want;	/* what the parser must do, rendered */
	int stop;		/* N > 0: sse_event says stop at the Nth
				 * event; -1: sse_data at its first call */
};

static const struct tcase cases[] = {
	/* Line ends. */
	{ "LF line ends", S("data: a\n\ndata: b\n\n"),
	    "message||a\nmessage||b\nend=0\n", 0 },
	{ "CR line ends", S("data: a\r\rdata: b\r\r"),
	    "message||a\nmessage||b\nend=0\n", 0 },
	{ "CRLF line ends", S("data: a\r\n\r\ndata: b\r\n\r\n"),
	    "message||a\nmessage||b\nend=0\n", 0 },
	{ "mixed line ends", S("data: a\r\ndata: b\n\rdata: c\r\r\n"),
	    "message||a\\nb\nmessage||c\nend=0\n", 0 },
	{ "CRLF is one line end, not a line and a blank line",
	    S("data: a\r\ndata: b\r\n\r\n"), "message||a\\nb\nend=0\n", 0 },
	{ "CR then CRLF is a line end and a blank line",
	    S("data: a\r\r\ndata: b\n\n"),
	    "message||a\nmessage||b\nend=0\n", 0 },
	{ "LF then CR is two line ends", S("data: a\n\rdata: b\n\n"),
	    "message||a\nmessage||b\nend=0\n", 0 },
	{ "LF CR LF is a line end and a blank line", S("data: a\n\r\n"),
	    "message||a\nend=0\n", 0 },
	{ "a CR inside a value ends the line", S("data: a\rb: c\n\n"),
	    "message||a\nend=0\n", 0 },
	{ "a final CR is a complete blank line", S("data: a\n\r"),
	    "message||a\nend=0\n", 0 },

	/* Byte order mark. */
	{ "BOM at the stream start is skipped",
	    S("\xEF\xBB\xBF" "data: a\n\n"), "message||a\nend=0\n", 0 },
	{ "BOM at the start, then a field name",
	    S("\xEF\xBB\xBF" "event: e\ndata: a\n\n"), "e||a\nend=0\n", 0 },
	{ "BOM inside a value is kept", S("data: \xEF\xBB\xBF" "a\n\n"),
	    "message||\\xef\\xbb\\xbfa\nend=0\n", 0 },
	{ "a second BOM is part of the field name",
	    S("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n"),
	    "message||b\nend=0\n", 0 },
	{ "BOM at the start of a later line is part of the name",
	    S("data: a\n\n\xEF\xBB\xBF" "data: b\n\n"),
	    "message||a\nend=0\n", 0 },
	{ "a partial BOM is part of the field name",
	    S("\xEF\xBB" "data: a\n\ndata: b\n\n"), "message||b\nend=0\n", 0 },
	{ "a partial BOM then a line end is an unknown field",
	    S("\xEF\xBB\rdata: a\r\r"), "message||a\nend=0\n", 0 },
	{ "a BOM alone", S("\xEF\xBB\xBF"), "end=0\n", 0 },
	{ "a partial BOM alone", S("\xEF\xBB"), "end=0\n", 0 },
	{ "an empty stream", S(""), "end=0\n", 0 },

	/* Comments and field syntax. */
	{ "comments are ignored",
	    S(": comment\ndata: a\n:\n: data: b\n\n"),
	    "message||a\nend=0\n", 0 },
	{ "a comment and a blank line dispatch nothing",
	    S(": keep-alive\n\n"), "end=0\n", 0 },
	{ "a field without a colon has an empty value",
	    S("event: x\nevent\ndata: a\n\n"), "message||a\nend=0\n", 0 },
	{ "data:x", S("data:x\n\n"), "message||x\nend=0\n", 0 },
	{ "data: x drops one space", S("data: x\n\n"),
	    "message||x\nend=0\n", 0 },
	{ "data:  x keeps the second space", S("data:  x\n\n"),
	    "message|| x\nend=0\n", 0 },
	{ "data: alone is empty data", S("data: \n\n"),
	    "message||\nend=0\n", 0 },
	{ "a tab after the colon is kept", S("data:\tx\n\n"),
	    "message||\\x09x\nend=0\n", 0 },
	{ "a space before the colon is part of the name",
	    S("data : a\n\n"), "end=0\n", 0 },
	{ "a space at the line start is part of the name",
	    S(" data: a\n\n"), "end=0\n", 0 },
	{ "field names are case-sensitive", S("DATA: a\nData: b\n\n"),
	    "end=0\n", 0 },
	{ "a colon inside a value is kept",
	    S("event: x:y\ndata: a:b: c\ndata::\n\n"),
	    "x:y||a:b: c\\n:\nend=0\n", 0 },
	{ "unknown fields are ignored",
	    S("foo: bar\ndata: a\nretry: 1000\nbar\nretry\nidx: 3\n\n"),
	    "message||a\nend=0\n", 0 },
	{ "a long field name is an unknown field",
	    S("dataaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x\n"
	    "eventttttttttttttttttttttttttttttttttttttttttt\n"
	    "data: a\n\n"), "message||a\nend=0\n", 0 },
	{ "a long name then data on the next line",
	    S("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx:data: b\n"
	    "data: a\n\n"), "message||a\nend=0\n", 0 },
	{ "NUL in data passes through", S("data: a\0b\n\n"),
	    "message||a\\x00b\nend=0\n", 0 },

	/* Data lines. */
	{ "multi-line data is joined by LF",
	    S("data: a\ndata: b\ndata: c\n\n"),
	    "message||a\\nb\\nc\nend=0\n", 0 },
	{ "data alone is an event with empty data", S("data\n\n"),
	    "message||\nend=0\n", 0 },
	{ "data: with nothing after it", S("data:\n\n"),
	    "message||\nend=0\n", 0 },
	{ "two empty data lines are one LF", S("data\ndata\n\n"),
	    "message||\\n\nend=0\n", 0 },
	{ "data then an empty data line", S("data: a\ndata\n\n"),
	    "message||a\\n\nend=0\n", 0 },
	{ "an empty data line then data", S("data\ndata: a\n\n"),
	    "message||\\na\nend=0\n", 0 },
	{ "CRLF line ends around an empty data line",
	    S("data: a\r\ndata:\r\ndata: b\r\n\r\n"),
	    "message||a\\n\\nb\nend=0\n", 0 },

	/* Event type and id. */
	{ "event sets the type", S("event: add\ndata: 1\n\n"),
	    "add||1\nend=0\n", 0 },
	{ "the type is reset after each event",
	    S("event:add\ndata: 1\n\ndata: 2\n\n"),
	    "add||1\nmessage||2\nend=0\n", 0 },
	{ "the last event field wins",
	    S("event: a\nevent: b\ndata: 1\n\n"), "b||1\nend=0\n", 0 },
	{ "the type is reset by a blank line without data",
	    S("event: x\n\ndata: a\n\n"), "message||a\nend=0\n", 0 },
	{ "the id persists across events",
	    S("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"),
	    "message|1|a\nmessage|1|b\nmessage|2|c\nend=0\n", 0 },
	{ "an id with NUL is ignored",
	    S("id: 1\ndata: a\n\nid: 2\0" "3\ndata: b\n\n"),
	    "message|1|a\nmessage|1|b\nend=0\n", 0 },
	{ "id alone resets the id to empty",
	    S("id: 1\ndata: a\n\nid\ndata: b\n\nid: 2\nid:\ndata: c\n\n"),
	    "message|1|a\nmessage||b\nmessage||c\nend=0\n", 0 },
	{ "an id set by an event without data persists",
	    S("id: 7\n\ndata: a\n\n"), "message|7|a\nend=0\n", 0 },
	{ "the id may come after the data", S("data: a\nid: 9\n\n"),
	    "message|9|a\nend=0\n", 0 },
	{ "a blank line without data dispatches nothing",
	    S("\n\n\r\n\revent: x\nid: 3\n\n"), "end=0\n", 0 },

	/* End of stream. */
	{ "an event without its blank line is discarded",
	    S("data: a\n\ndata: b\n"), "message||a\nend=1\n", 0 },
	{ "an unterminated data line is discarded",
	    S("data: a\n\ndata: b"), "message||a\nend=1\n", 0 },
	{ "an event ended by CR but no blank line is discarded",
	    S("data: a\r"), "end=1\n", 0 },
	{ "an unterminated data: counts as pending", S("data:"), "end=1\n", 0 },
	{ "an unterminated data counts as pending", S("data"), "end=1\n", 0 },
	{ "an unterminated dat is not a data line", S("dat"), "end=0\n", 0 },
	{ "an unterminated event without data is not pending",
	    S("event: x\nid: 1\n"), "end=0\n", 0 },
	{ "an unterminated comment is not pending", S(": data"), "end=0\n", 0 },
	{ "an unterminated unknown field is not pending",
	    S("data: a\n\nfoo"), "message||a\nend=0\n", 0 },

	/* Stopping. */
	{ "sse_event returning 0 stops the parser",
	    S("data: a\n\ndata: b\n\n"), "message||a\nstopped\nend=0\n", 1 },
	{ "sse_event stopping at the second event",
	    S("id: 1\ndata: a\n\ndata: b\n\ndata: c\n\n"),
	    "message|1|a\nmessage|1|b\nstopped\nend=0\n", 2 },
	{ "sse_data returning 0 stops the parser",
	    S("data: a\n\ndata: b\n\n"), "stopped\nend=1\n", -1 },

	/* What an OpenAI-compatible server sends. */
	{ "an OpenAI chat completion stream",
	    S(": ping\n\n"
	    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}"
	    "\n\n"
	    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}"
	    "\n\n"
	    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	    "\"choices\":[{\"index\":0,\"delta\":{},"
	    "\"finish_reason\":\"stop\"}]}\n\n"
	    "data: [DONE]\n\n"),
	    "message||{\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n"
	    "message||{\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n"
	    "message||{\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	    "\"choices\":[{\"index\":0,\"delta\":{},"
	    "\"finish_reason\":\"stop\"}]}\n"
	    "message||[DONE]\nend=0\n", 0 },
	{ "an OpenAI stream cut short",
	    S("data: {\"choices\":[]}\r\n\r\ndata: {\"cho"),
	    "message||{\"choices\":[]}\nend=1\n", 0 },
};

/* What the callbacks of one run saw. */
struct run {
	struct buf out;		/* events rendered, and any complaints */
	struct buf streamed;	/* sse_data bytes since the last event */
	int nevents;
	int stop_event;
	int stop_data;
};

static int ntest, nfail;

static void
die(const char *what)
{
	fprintf(stderr, "sse-test: %s\n", what);
	exit(2);
}

static void
add(struct buf *b, const void *p, size_t n)
{
	if (buf_add(b, p, n) < 0)
		die("out of memory");
}

static void
adds(struct buf *b, const char *s)
{
	add(b, s, strlen(s));
}

/* Append bytes so that the result is one printable line. */
static void
add_esc(struct buf *b, const char *s, size_t n)
{
	char hex[8];
	unsigned char c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\n')
			adds(b, "\\n");
		else if (c == '\r')
			adds(b, "\\r");
		else if (c == '\\')
			adds(b, "\\\\");
		else if (c < 0x20 || c >= 0x7f) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			adds(b, hex);
		} else
			add(b, &c, 1);
	}
}

static void
add_event(struct buf *b, const char *type, size_t tlen, const char *id,
    size_t ilen, const char *data, size_t dlen)
{
	add_esc(b, type, tlen);
	adds(b, "|");
	add_esc(b, id, ilen);
	adds(b, "|");
	add_esc(b, data, dlen);
	adds(b, "\n");
}

/* TAP: one test result, with diagnostics when it failed. */
static void
ok(int pass, const char *name, const char *diag)
{
	ntest++;
	if (!pass)
		nfail++;
	printf("%sok %d - %s\n", pass ? "" : "not ", ntest, name);
	if (!pass && diag)
		printf("%s", diag);
	fflush(stdout);
}

static int
on_data(void *ctx, const char *p, size_t n)
{
	struct run *r = ctx;

	add(&r->streamed, p, n);
	return !r->stop_data;
}

/* Render the event, with a complaint if sse_data did not stream exactly
 * its data. */
static int
on_event(void *ctx, const struct sse_event *ev)
{
	struct run *r = ctx;

	add_event(&r->out, ev->type, ev->type_len, ev->id, ev->id_len,
	    ev->data, ev->data_len);
	if (r->streamed.len != ev->data_len ||
	    memcmp(r->streamed.p ? r->streamed.p : "", ev->data,
	    ev->data_len) != 0) {
		adds(&r->out, "sse_data gave '");
		add_esc(&r->out, r->streamed.p, r->streamed.len);
		adds(&r->out, "'\n");
	}
	buf_reset(&r->streamed);
	r->nevents++;
	return r->nevents != r->stop_event;
}

static const struct sse_callbacks callbacks = { on_data, on_event };

/*
 * Feed tc->in cut at the ncut ascending points cut[], end the stream, and
 * render into out what the parser did.  A feed returning -1 must be
 * followed only by feeds returning -1.
 */
static void
run(const struct tcase *tc, const size_t *cut, size_t ncut, struct buf *out)
{
	struct run r;
	struct sse *p;
	size_t i, from, to;
	char *piece, num[64];
	int rc, stopped = 0;

	memset(&r, 0, sizeof(r));
	r.stop_event = tc->stop > 0 ? tc->stop : 0;
	r.stop_data = tc->stop < 0;
	if (!(p = sse_new(&callbacks, &r)))
		die("sse_new: out of memory");
	for (i = 0, from = 0; i <= ncut; i++, from = to) {
		to = i < ncut ? cut[i] : tc->len;
		if (!(piece = malloc(to - from ? to - from : 1)))
			die("out of memory");
		memcpy(piece, tc->in + from, to - from);
		rc = sse_feed(p, piece, to - from);
		free(piece);
		if (rc == -1)
			stopped = 1;
		else if (rc != 0 || stopped) {
			snprintf(num, sizeof(num), "sse_feed returned %d%s\n",
			    rc, stopped ? " after a stop" : "");
			adds(&r.out, num);
		}
	}
	if (stopped)
		adds(&r.out, "stopped\n");
	snprintf(num, sizeof(num), "end=%d\n", sse_end(p));
	adds(&r.out, num);
	sse_free(p);
	buf_free(&r.streamed);
	buf_reset(out);
	add(out, r.out.p, r.out.len);
	buf_free(&r.out);
}

/* Render a failure: the input, the cuts, expected and actual output. */
static void
mismatch(struct buf *diag, const char *in, size_t len, const size_t *cut,
    size_t ncut, const char *want, const char *got)
{
	char num[32];
	size_t i;
	const char *s, *e;

	adds(diag, "# input: '");
	add_esc(diag, in, len);
	adds(diag, ncut ? "'\n# cut at:" : "'\n# cut at: nowhere");
	for (i = 0; i < ncut; i++) {
		snprintf(num, sizeof(num), " %zu", cut[i]);
		adds(diag, num);
	}
	adds(diag, "\n");
	for (i = 0; i < 2; i++) {
		adds(diag, i == 0 ? "# expected:\n" : "# got:\n");
		for (s = i == 0 ? want : got; *s; s = e + 1) {
			e = strchr(s, '\n');
			adds(diag, "#   ");
			add(diag, s, e - s + 1);
		}
	}
}

/* Run tc cut at cut[0..ncut) and compare with want; on the first
 * mismatch, fill diag. */
static int
try(const struct tcase *tc, const size_t *cut, size_t ncut,
    const char *want, struct buf *got, struct buf *diag)
{
	run(tc, cut, ncut, got);
	if (strcmp(got->p, want) == 0)
		return 1;
	if (diag->len == 0)
		mismatch(diag, tc->in, tc->len, cut, ncut, want, got->p);
	return 0;
}

static void
check_case(const struct tcase *tc)
{
	struct buf got = { 0 }, diag = { 0 }, name = { 0 };
	size_t *cut, i, j;
	int pass;

	if (!(cut = calloc(tc->len + 2, sizeof(*cut))))
		die("out of memory");

	buf_reset(&name);
	adds(&name, tc->name);
	adds(&name, ": whole");
	pass = try(tc, NULL, 0, tc->want, &got, &diag);
	ok(pass, name.p, diag.p);

	buf_reset(&diag);
	for (i = 1; i < tc->len; i++)
		cut[i - 1] = i;
	buf_reset(&name);
	adds(&name, tc->name);
	adds(&name, ": a byte at a time");
	pass = try(tc, cut, tc->len ? tc->len - 1 : 0, tc->want, &got, &diag);
	ok(pass, name.p, diag.p);

	buf_reset(&diag);
	pass = 1;
	for (i = 0; i <= tc->len; i++) {
		cut[0] = i;
		pass &= try(tc, cut, 1, tc->want, &got, &diag);
	}
	buf_reset(&name);
	adds(&name, tc->name);
	adds(&name, ": cut at every point");
	ok(pass, name.p, diag.p);

	if (tc->len <= PAIR_MAX) {
		buf_reset(&diag);
		pass = 1;
		for (i = 0; i <= tc->len; i++)
			for (j = i; j <= tc->len; j++) {
				cut[0] = i;
				cut[1] = j;
				pass &= try(tc, cut, 2, tc->want, &got, &diag);
			}
		buf_reset(&name);
		adds(&name, tc->name);
		adds(&name, ": cut at every pair of points");
		ok(pass, name.p, diag.p);
	}
	free(cut);
	buf_free(&got);
	buf_free(&diag);
	buf_free(&name);
}

/*
 * Named feeds: the same stream in given pieces, where the point is the
 * cut itself (the split tests above go through these too, among others).
 */
static void
check_cuts(void)
{
	static const struct tcase crlf = { "", S("data: a\r\ndata: b\r\n\r\n"),
	    "message||a\\nb\nend=0\n", 0 };
	static const size_t crlf_cut[] = { 8, 17, 19 };
	static const struct tcase space = { "", S("data: a\n\ndata: b\n\n"),
	    "message||a\nmessage||b\nend=0\n", 0 };
	static const size_t space_cut[] = { 5, 14 };
	static const struct tcase bom = { "", S("\xEF\xBB\xBF" "data: a\n\n"),
	    "message||a\nend=0\n", 0 };
	static const size_t bom_cut[] = { 1, 2 };
	struct buf got = { 0 }, diag = { 0 };
	int pass;

	/* try first: ok's arguments are evaluated in no set order. */
	pass = try(&crlf, crlf_cut, 3, crlf.want, &got, &diag);
	ok(pass, "a CR ending one feed and an LF starting the next are "
	    "one line end", diag.p);
	buf_reset(&diag);
	pass = try(&space, space_cut, 2, space.want, &got, &diag);
	ok(pass, "the space after 'data:' may start the next feed", diag.p);
	buf_reset(&diag);
	pass = try(&bom, bom_cut, 2, bom.want, &got, &diag);
	ok(pass, "a BOM split across three feeds is skipped", diag.p);
	buf_free(&got);
	buf_free(&diag);
}

static int
streamed_is(struct run *r, const char *s)
{
	return r->streamed.len == strlen(s) &&
	    memcmp(r->streamed.p ? r->streamed.p : "", s, r->streamed.len) == 0;
}

/* sse_data gets value bytes when they arrive, not at the line end. */
static void
check_streaming(void)
{
	struct run r;
	struct sse *p;
	int pass = 1;

	memset(&r, 0, sizeof(r));
	if (!(p = sse_new(&callbacks, &r)))
		die("out of memory");
	pass &= sse_feed(p, S("data: ab")) == 0 && streamed_is(&r, "ab");
	pass &= sse_feed(p, S("c")) == 0 && streamed_is(&r, "abc");
	pass &= sse_feed(p, S("\ndata:")) == 0;
	pass &= sse_feed(p, S(" d")) == 0 && streamed_is(&r, "abc\nd");
	pass &= sse_feed(p, S("\ndata")) == 0 && r.out.len == 0;
	pass &= sse_feed(p, S("\n\n")) == 0;
	pass &= r.out.p && strcmp(r.out.p, "message||abc\\nd\\n\n") == 0;
	pass &= sse_end(p) == 0;
	ok(pass, "sse_data gets value bytes as they arrive", NULL);
	sse_free(p);
	buf_free(&r.out);
	buf_free(&r.streamed);
}

/* After a stop feeds fail until sse_reset; sse_reset forgets the id, the
 * partial line and the event, and skips a BOM again. */
static void
check_reset(void)
{
	struct run r;
	struct sse *p;
	int pass;

	memset(&r, 0, sizeof(r));
	r.stop_event = 1;
	if (!(p = sse_new(&callbacks, &r)))
		die("out of memory");
	pass = sse_feed(p, S("\xEF\xBB\xBFid: 5\ndata: a\n\ndata: b")) == -1;
	pass &= sse_feed(p, S("\n\n")) == -1;
	pass &= sse_feed(p, "", 0) == -1;
	ok(pass, "after a stop every sse_feed returns -1", NULL);

	sse_reset(p);
	buf_reset(&r.out);
	buf_reset(&r.streamed);
	r.stop_event = 0;
	pass = sse_feed(p, S("\xEF\xBB\xBF" "data: c\n\n")) == 0;
	pass &= r.out.p && strcmp(r.out.p, "message||c\n") == 0;
	pass &= sse_end(p) == 0;
	ok(pass, "sse_reset clears the stop, the id and the BOM state", NULL);

	pass = sse_feed(p, S("id: 6\nevent: e\ndata: x\n")) == 0;
	sse_reset(p);
	buf_reset(&r.out);
	buf_reset(&r.streamed);
	pass &= sse_end(p) == 0;
	pass &= sse_feed(p, S("\ndata: y\n\n")) == 0;
	pass &= r.out.p && strcmp(r.out.p, "message||y\n") == 0;
	ok(pass, "sse_reset discards the pending event", NULL);
	sse_free(p);
	buf_free(&r.out);
	buf_free(&r.streamed);
}

/* Both callbacks may be missing, and so may the table. */
static void
check_null(void)
{
	struct sse_callbacks none = { NULL, NULL };
	struct sse *p, *q;
	int pass;

	if (!(p = sse_new(NULL, NULL)))
		die("out of memory");
	if (!(q = sse_new(&none, NULL)))
		die("out of memory");
	pass = sse_feed(p, S("data: a\n\ndata: b\n")) == 0 &&
	    sse_end(p) == 1;
	pass &= sse_feed(q, S("data: a\n\ndata: b\n\n")) == 0 &&
	    sse_end(q) == 0;
	ok(pass, "callbacks may be NULL", NULL);
	sse_free(p);
	sse_free(q);
	sse_free(NULL);
}

/*
 * The reference for the random test: the spec read naively, the whole
 * stream split into lines first, then each line interpreted; the data
 * buffer gets value + LF per line and loses its last LF at dispatch.
 */
static void
ref_parse(const char *s, size_t n, struct buf *out)
{
	struct buf data = { 0 }, type = { 0 }, id = { 0 };
	const char *line, *colon, *val;
	size_t i = 0, j, len, nlen, vlen;
	char num[32];
	int pending;

	buf_reset(out);
	if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	for (;;) {
		for (j = i; j < n && s[j] != '\r' && s[j] != '\n'; j++)
			;
		if (j == n)
			break;
		line = s + i;
		len = j - i;
		i = j + 1;
		if (s[j] == '\r' && i < n && s[i] == '\n')
			i++;
		if (len == 0) {
			if (data.len > 0)
				add_event(out, type.len ? type.p : "message",
				    type.len ? type.len : 7, id.p ? id.p : "",
				    id.len, data.p, data.len - 1);
			buf_reset(&data);
			buf_reset(&type);
			continue;
		}
		if (line[0] == ':')
			continue;
		if ((colon = memchr(line, ':', len))) {
			nlen = colon - line;
			val = colon + 1;
			vlen = len - nlen - 1;
			if (vlen > 0 && *val == ' ') {
				val++;
				vlen--;
			}
		} else {
			nlen = len;
			val = line + len;
			vlen = 0;
		}
		if (nlen == 5 && memcmp(line, "event", 5) == 0) {
			buf_reset(&type);
			add(&type, val, vlen);
		} else if (nlen == 4 && memcmp(line, "data", 4) == 0) {
			add(&data, val, vlen);
			add(&data, "\n", 1);
		} else if (nlen == 2 && memcmp(line, "id", 2) == 0 &&
		    !memchr(val, '\0', vlen)) {
			buf_reset(&id);
			add(&id, val, vlen);
		}
	}
	/* An unterminated last line counts if it is a data line. */
	pending = data.len > 0 || (n - i >= 4 &&
	    memcmp(s + i, "data", 4) == 0 && (n - i == 4 || s[i + 4] == ':'));
	snprintf(num, sizeof(num), "end=%d\n", pending);
	adds(out, num);
	buf_free(&data);
	buf_free(&type);
	buf_free(&id);
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32) % n;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A random stream over a small alphabet.  Mostly lines: a field name,
 * often a known one, maybe a colon and spaces, a value, any line end; the
 * last line may lack its end.  Some streams are pure noise.
 */
static void
gen_stream(struct buf *b)
{
	static const char *const name[] = {
		"data", "data", "data", "data", "data", "event", "id", "",
		"dat", "retry",
		("\xEF\xBB\xBF" "data"),
	};
	static const char *const eol[] = { "\n", "\r", "\r\n" };
	static const char noise[] = "\r\n: datevnix";
	static const char value[] = "x: :dv";
	int nline, k;

	buf_reset(b);
	if (rnd(8) == 0)
		adds(b, "\xEF\xBB\xBF");
	if (rnd(4) == 0) {
		for (k = rnd(200); k > 0; k--)
			add(b, rnd(40) ? &noise[rnd(sizeof(noise) - 1)] :
			    "", 1);
		return;
	}
	for (nline = rnd(20); nline > 0; nline--) {
		switch (rnd(10)) {
		case 0:
		case 1:
		case 2:
			break;
		case 3:
			for (k = rnd(8); k > 0; k--)
				add(b, &noise[rnd(sizeof(noise) - 1)], 1);
			break;
		default:
			adds(b, name[rnd(sizeof(name) / sizeof(name[0]))]);
			if (rnd(4))
				adds(b, ":");
			for (k = rnd(3); k > 0; k--)
				adds(b, " ");
			for (k = rnd(6); k > 0; k--)
				add(b, rnd(20) ?
				    &value[rnd(sizeof(value) - 1)] : "", 1);
			break;
		}
		if (nline > 1 || rnd(4))
			adds(b, eol[rnd(3)]);
	}
}

/*
 * Random streams fed whole must match the reference; fed a byte at a
 * time and in random pieces they must match the whole feed.
 */
static void
check_random(void)
{
	struct buf in = { 0 }, want = { 0 }, whole = { 0 }, got = { 0 };
	struct buf diag1 = { 0 }, diag2 = { 0 };
	struct tcase tc;
	size_t cut[512], ncut, i, k, events = 0, pending = 0;
	int iter, bad1 = 0, bad2 = 0;

	memset(&tc, 0, sizeof(tc));
	tc.name = "random";
	for (iter = 0; iter < NRANDOM; iter++) {
		gen_stream(&in);
		tc.in = in.p ? in.p : "";
		tc.len = in.len;
		if (tc.len > sizeof(cut) / sizeof(cut[0]))
			die("random stream too long");
		ref_parse(tc.in, tc.len, &want);
		events += count_lines(want.p) - 1;
		pending += strstr(want.p, "end=1") != NULL;
		run(&tc, NULL, 0, &whole);
		if (strcmp(whole.p, want.p) != 0) {
			if (bad1++ == 0)
				mismatch(&diag1, tc.in, tc.len, NULL, 0,
				    want.p, whole.p);
		}
		for (i = 1; i < tc.len; i++)
			cut[i - 1] = i;
		ncut = tc.len ? tc.len - 1 : 0;
		for (k = 0; k < 6; k++) {
			if (!try(&tc, cut, ncut, whole.p, &got, &diag2))
				bad2++;
			ncut = rnd(8);
			for (i = 0; i < ncut; i++)
				cut[i] = rnd(tc.len + 1);
			qsort(cut, ncut, sizeof(cut[0]), cmp_size);
		}
	}
	ok(bad1 == 0, "random streams fed whole match the reference",
	    diag1.p);
	ok(bad2 == 0, "random streams fed in pieces match the whole feed",
	    diag2.p);
	/* Lest the two above pass by finding nothing in the noise. */
	ok(events > NRANDOM / 2 && pending > NRANDOM / 10,
	    "random streams hold events and pending data", NULL);
	buf_free(&in);
	buf_free(&want);
	buf_free(&whole);
	buf_free(&got);
	buf_free(&diag1);
	buf_free(&diag2);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	check_cuts();
	check_streaming();
	check_reset();
	check_null();
	check_random();
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
