/*
 * fuzz-answer.c: libFuzzer target for answers and the records made of
 * them (json.c, chat.c, sse.c, out.c).
 *
 * The input is a response body, taken every way vmanjl.c takes one:
 * - a 2xx JSON answer: json_compact() with attempt_done()'s picks, then
 *   the response record (or the parse_error record, or the plain-text
 *   answer's record), in both output formats;
 * - an error answer: fail_from_body()'s picks (the error shapes of
 *   vman-api.md section 2), then the retry and error records;
 * - an event stream of chat chunks: sse.c feeding chat.c, deltas as
 *   delta records, then chat_result()'s response record or the stream's
 *   error record; fed whole and a byte at a time, and with --events;
 * - the records of each request go into a cache capture, and are
 *   replayed from it (out_replay) in both formats.
 * The glue that lives in vmanjl.c (fail_set, fail_from_body, the SSE
 * callbacks) is restated here, as close to it as can be.
 *
 * Invariants: every record written is one line of a JSON object that
 * yajl parses, and so is every record replayed from the cache; each
 * pick and each part of a result is JSON; a failed compaction says why;
 * a stream gives the same records whether it arrives whole or a byte at
 * a time.  No crash, no leak.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "../vmanjl.h"

/* vmanjl.c's, which out.c calls: fixed time, and nothing to free. */
long long
now_ms(void)
{
	return 1000;
}

void
req_free(struct req *r)
{
	(void)r;
}

static void
fail(const char *what, const char *p, size_t n)
{
	fprintf(stderr, "fuzz-answer: invariant broken: %s\n", what);
	if (p)
		fprintf(stderr, "  the text: %.*s\n",
		    (int)(n > 4000 ? 4000 : n), p);
	abort();
}

/* Is p[0..n) one JSON text, starting with first unless first is 0? */
static int
is_json(const char *p, size_t n, int first)
{
	yajl_handle h = yajl_alloc(NULL, NULL, NULL);
	int ok;

	if (!h)
		abort();
	ok = n > 0 && (!first || p[0] == first) &&
	    yajl_parse(h, (const unsigned char *)p, n) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok;
}

static void
check_json(const struct buf *b, const char *what)
{
	if (b->len && !is_json(b->p, b->len, 0))
		fail(what, b->p, b->len);
}

/* Every record in b is one line of a JSON object; append them to all
 * (when not NULL) and empty b. */
static void
check_records(struct buf *b, struct buf *all)
{
	const char *p = b->p, *end = p ? p + b->len : p, *nl;

	if (b->len && end[-1] != '\n')
		fail("output does not end in a newline", b->p, b->len);
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!is_json(p, (size_t)(nl - p), '{'))
			fail("a record is not a JSON object", p,
			    (size_t)(nl - p));
	}
	if (all)
		buf_put(all, b->p, b->len);
	buf_reset(b);
}

/* ---------------------------------------------------------------- */
/* vmanjl.c's glue (its failure classes are fail.c's, linked as they are) */

static void
result_free(struct result *res)
{
	buf_free(&res->body);
	buf_free(&res->content);
	buf_free(&res->finish);
	buf_free(&res->usage);
	buf_free(&res->task);
	buf_free(&res->file);
	buf_free(&res->ctype);
}

static void
check_result(const struct result *res)
{
	if (!is_json(res->body.p, res->body.len, 0))
		fail("the result body is not JSON", res->body.p,
		    res->body.len);
	check_json(&res->content, "the result content is not JSON");
	check_json(&res->finish, "the result finish_reason is not JSON");
	check_json(&res->usage, "the result usage is not JSON");
}

/* count_usage() of vmanjl.c: the picks must be JSON. */
static void
count_usage(const struct buf *usage)
{
	struct jpick pk[2] = {
		{ .path = "prompt_tokens" }, { .path = "completion_tokens" }
	};
	struct buf msg = { 0 };

	if (usage->len && json_compact(usage->p, usage->len, NULL, pk, 2,
	    &msg) == 0) {
		check_json(&pk[0].val, "prompt_tokens is not JSON");
		check_json(&pk[1].val, "completion_tokens is not JSON");
		(void)json_int(&pk[0].val);
		(void)json_int(&pk[1].val);
	} else if (usage->len)
		fail("the usage does not parse again", usage->p, usage->len);
	json_picks_free(pk, 2);
	buf_free(&msg);
}

/* ---------------------------------------------------------------- */
/* One request's records */

struct ctx {
	struct out o;
	struct req r;
	struct buf cap;		/* the cache capture */
	struct buf msg;
	struct buf all;		/* every record, for comparing runs */
	int events;		/* --events */
	int nbad;
};

static void
ctx_init(struct ctx *c, int format)
{
	memset(c, 0, sizeof *c);
	out_init(&c->o, format, 0);
	c->o.fd = -1;		/* records are checked, never written */
	c->o.timing = 1;
	c->r.line = 7;
	c->r.nevents = -1;
	c->r.attempts = 1;
	c->r.tries = 1;
	c->r.t_start = 1;
	buf_puts(&c->r.cid, "\"cid\"");
	buf_puts(&c->r.request_id, "\"req-1\"");
	c->r.capture = &c->cap;
}

/* Replay the capture in both formats: every record must parse. */
static void
replay(struct ctx *c)
{
	struct out o;
	struct req r;
	int fmt;

	if (!c->cap.len)
		return;		/* nothing to cache (vmanjl replays none) */
	for (fmt = FMT_VMANJL; fmt <= FMT_BATCH; fmt++) {
		out_init(&o, fmt, 0);
		o.fd = -1;
		memset(&r, 0, sizeof r);
		r.line = 8;
		r.nevents = -1;
		buf_puts(&r.cid, "12");
		out_replay(&o, &r, &c->cap);
		check_records(&o.buf, NULL);
		buf_free(&r.cid);
		buf_free(&r.request_id);
		out_free(&o);
	}
}

static void
ctx_free(struct ctx *c)
{
	replay(c);
	out_free(&c->o);
	buf_free(&c->r.cid);
	buf_free(&c->r.request_id);
	buf_free(&c->r.evq);
	buf_free(&c->r.held);
	fail_free(&c->r.fail);
	buf_free(&c->cap);
	buf_free(&c->msg);
	buf_free(&c->all);
}

/* A 2xx answer that is not a stream: attempt_done()'s JSON branch. */
static void
plain(const uint8_t *data, size_t size, int format, int text)
{
	struct jpick pk[4] = {
		{ .path = "choices.0.message.content" },
		{ .path = "choices.0.text" },
		{ .path = "choices.0.finish_reason" }, { .path = "usage" }
	};
	struct result res;
	struct ctx c;
	size_t i;

	memset(&res, 0, sizeof res);
	ctx_init(&c, format);
	if (size == 0) {
		buf_puts(&res.body, "null");
		out_response(&c.o, &c.r, 200, &res);
	} else if (json_compact((const char *)data, size, &res.body, pk, 4,
	    &c.msg) == 0) {
		for (i = 0; i < 4; i++)
			check_json(&pk[i].val, "a pick is not JSON");
		if (pk[0].val.len)
			buf_put(&res.content, pk[0].val.p, pk[0].val.len);
		else if (pk[1].val.len)
			buf_put(&res.content, pk[1].val.p, pk[1].val.len);
		buf_put(&res.finish, pk[2].val.p, pk[2].val.len);
		buf_put(&res.usage, pk[3].val.p, pk[3].val.len);
		check_result(&res);
		count_usage(&res.usage);
		out_response(&c.o, &c.r, 200, &res);
	} else if (!c.msg.len) {
		fail("json_compact failed without a message", NULL, 0);
	} else if (text) {
		/* Plain text (srt, vtt, text): a JSON string. */
		buf_reset(&res.body);
		json_str(&res.body, (const char *)data, size);
		check_result(&res);
		out_response(&c.o, &c.r, 200, &res);
	} else {
		fail_set(&c.r.fail, 200, "parse_error", 0,
		    "invalid JSON in the answer: %s", c.msg.p);
		out_error(&c.o, &c.r, &c.r.fail);
	}
	check_records(&c.o.buf, NULL);
	json_picks_free(pk, 4);
	result_free(&res);
	ctx_free(&c);
}

/* A non-2xx answer: a retry record, then the error record. */
static void
error_answer(const uint8_t *data, size_t size, int format, long status)
{
	struct ctx c;

	ctx_init(&c, format);
	fail_from_body(&c.r.fail, status, (const char *)data, size,
	    "http_error", &c.msg);
	check_json(&c.r.fail.message, "the failure message is not JSON");
	check_json(&c.r.fail.type, "the failure type is not JSON");
	check_json(&c.r.fail.code, "the failure code is not JSON");
	check_json(&c.r.fail.body, "the failure body is not JSON");
	out_retry(&c.o, &c.r, &c.r.fail, 1500);
	out_error(&c.o, &c.r, &c.r.fail);
	check_records(&c.o.buf, NULL);
	ctx_free(&c);
}

/* The SSE and chat callbacks of vmanjl.c. */
static int
on_sse_data(void *arg, const char *s, size_t n)
{
	struct ctx *c = arg;

	return c->r.chat ? chat_data(c->r.chat, s, n) : 1;
}

static int
on_sse_event(void *arg, const struct sse_event *ev)
{
	struct ctx *c = arg;
	struct req *r = &c->r;
	int rc;

	if (c->events) {
		out_event(&c->o, r, ev);
		r->nevents++;
		check_records(&c->o.buf, &c->all);
		return 1;
	}
	rc = chat_event(r->chat, ev->data, ev->data_len, &c->msg);
	switch (rc) {
	case CHAT_MORE:
	case CHAT_DONE:
		out_commit(&c->o, r);
		check_records(&c->o.buf, &c->all);
		r->in_event = 1;
		return 1;
	case CHAT_ERROR:
		if (!chat_error(r->chat)->len)
			fail("CHAT_ERROR without an error", NULL, 0);
		check_json(chat_error(r->chat), "the error event is not JSON");
		fail_from_body(&r->fail, r->status,
		    chat_error(r->chat)->p, chat_error(r->chat)->len,
		    "stream_error", &c->msg);
		r->fail.retryable = 0;
		break;
	case CHAT_BAD:
		if (!c->msg.len)
			fail("CHAT_BAD without a message", NULL, 0);
		fail_set(&r->fail, r->status, "stream_error", 0, "%s",
		    c->msg.p);
		break;
	default:
		fail("chat_event returned an unknown value", NULL, 0);
	}
	buf_reset(&r->evq);
	r->stopped = 1;
	return 0;
}

static void
on_delta(void *arg, const struct delta *d)
{
	struct ctx *c = arg;

	if (d->index < 0)
		fail("a delta with a negative index", NULL, 0);
	if (d->tool_calls && !is_json(d->tool_calls, d->tool_calls_len, 0))
		fail("a delta's tool_calls are not JSON", d->tool_calls,
		    d->tool_calls_len);
	out_delta(&c->o, &c->r, d);
}

static const struct sse_callbacks sse_cb = { on_sse_data, on_sse_event };

/* A streamed answer, fed in pieces of step bytes (0: whole); the
 * records made go to all. */
static void
stream(const uint8_t *data, size_t size, size_t step, int events,
    struct buf *all)
{
	struct result res;
	struct ctx c;
	struct sse *p;
	size_t off, n;
	int torn;

	memset(&res, 0, sizeof res);
	ctx_init(&c, FMT_VMANJL);
	c.events = events;
	c.r.status = 200;
	if (events)
		c.r.nevents = 0;
	else
		c.r.chat = chat_new(on_delta, &c);
	if (!(p = sse_new(&sse_cb, &c)))
		abort();
	for (off = 0; off < size && !c.r.stopped; off += n) {
		n = step && step < size - off ? step : size - off;
		if (sse_feed(p, (const char *)data + off, n) < 0 &&
		    !c.r.stopped)
			fail("sse_feed failed but nobody stopped it", NULL, 0);
		check_records(&c.o.buf, &c.all);
	}
	if (c.r.stopped) {
		c.r.in_event = 0;
		buf_reset(&c.r.evq);
		out_error(&c.o, &c.r, &c.r.fail);
	} else {
		/* attempt_done() for a stream. */
		torn = sse_end(p);
		if (events && torn) {
			fail_set(&c.r.fail, 200, "stream_error", 1,
			    "stream ended in the middle of an event");
			out_retry(&c.o, &c.r, &c.r.fail, 10);
			out_error(&c.o, &c.r, &c.r.fail);
		} else if (events || chat_done(c.r.chat)) {
			if (!events) {
				out_commit(&c.o, &c.r);
				chat_result(c.r.chat, &res);
				check_result(&res);
				count_usage(&res.usage);
			} else
				buf_puts(&res.body, "null");
			out_response(&c.o, &c.r, 200, &res);
		} else {
			c.r.in_event = 0;
			buf_reset(&c.r.evq);
			fail_set(&c.r.fail, 200, "stream_error", 1,
			    "stream ended without [DONE]");
			out_error(&c.o, &c.r, &c.r.fail);
		}
	}
	check_records(&c.o.buf, &c.all);
	buf_put(all, c.all.p, c.all.len);
	sse_free(p);
	chat_free(c.r.chat);
	result_free(&res);
	ctx_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = { 0 }, bytes = { 0 }, odd = { 0 };
	int fmt;

	for (fmt = FMT_VMANJL; fmt <= FMT_BATCH; fmt++) {
		plain(data, size, fmt, 0);
		plain(data, size, fmt, 1);
		error_answer(data, size, fmt, 400);
	}
	error_answer(data, size, FMT_VMANJL, 429);

	stream(data, size, 0, 0, &whole);
	stream(data, size, 1, 0, &bytes);
	stream(data, size, 7, 0, &odd);
	if (whole.len != bytes.len || whole.len != odd.len ||
	    (whole.len && (memcmp(whole.p, bytes.p, whole.len) ||
	    memcmp(whole.p, odd.p, whole.len))))
		fail("the stream's records depend on how it is split",
		    whole.p, whole.len);
	stream(data, size, 0, 1, &whole);
	buf_free(&whole);
	buf_free(&bytes);
	buf_free(&odd);
	return 0;
}
