/*
 * jevent.c: the incremental walk over one SSE event's JSON data that the
 * stream dialects share.
 *
 * Each data payload goes to one yajl parser as its bytes arrive
 * (yajl_allow_multiple_values lets one parser take the events one after
 * another).  The walker keeps what every dialect needs: a stack of the
 * keys by depth (each looked up in the dialect's table), whether the
 * event is one JSON object, and a capture of a raw sub-value as compact
 * JSON into a buffer the dialect names.  The dialect's hooks see a
 * container begin and end (at the depths it asks for), each scalar and
 * each key, at the current key path, and hold everything about what the
 * values mean.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "vmanjl.h"

/* A capture deeper than yajl_gen can write (128): the event is refused. */
#define CAPDEPTH 100

#define CAP(call) do {							\
	if (w->capdepth >= 0)						\
		call;							\
} while (0)

/* Start capturing the value that begins now into *to (unless one is
 * being captured already). */
void
jev_cap_start(struct jev *w, struct buf *to)
{
	if (w->capdepth >= 0)
		return;
	yajl_gen_clear(w->cap);
	yajl_gen_reset(w->cap, NULL);
	buf_reset(to);
	w->capto = to;
	w->capdepth = 0;
}

/* An index as sent, the n bytes of a number: an integer from 0 to max,
 * or -1. */
long
jev_index(const char *s, size_t n, long max)
{
	long v = 0;

	if (!n)
		return -1;
	for (; n && *s >= '0' && *s <= '9'; s++, n--)
		if ((v = v * 10 + (*s - '0')) > max)
			return -1;
	return n ? -1 : v;
}

/* The scalar begun is not kept after all: a capture that began at it
 * is dropped, its buffer left empty. */
void
jev_cap_drop(struct jev *w)
{
	if (w->capdepth == 0)
		w->capdepth = -1;
}

/* A value ended (close: a container): the capture is done at its end. */
static void
cap_end(struct jev *w, int close)
{
	const unsigned char *p;
	size_t n;

	if (w->capdepth < 0)
		return;
	w->capdepth -= close;
	if (w->capdepth == 0) {
		yajl_gen_get_buf(w->cap, &p, &n);
		buf_put(w->capto, p, n);
		w->capdepth = -1;
	}
}

/* Which key of the table is k?  Called for every key of every event: the
 * length and the first byte rule most keys out before any compare. */
static inline int
lookup(const struct jev *w, const unsigned char *k, size_t n)
{
	const struct jev_name *t = w->hk->names;
	size_t i;

	for (i = 0; i < w->hk->nnames; i++)
		if (t[i].len == n && t[i].name[0] == k[0] &&
		    memcmp(t[i].name, k, n) == 0)
			return t[i].key;
	return 0;
}

/* Is a hook called at the current depth (a JEV_AT mask)? */
static inline int
at(const struct jev *w, unsigned mask)
{
	return w->depth < 32 && (mask >> w->depth & 1);
}

/* A scalar: of type 's' string, 'n' number, '0' null or 'b' boolean,
 * its text (a number's, "null", "true", "false") in s[0..n).  The hook
 * comes first: where it starts a capture, the value is its first. */
static int
scalar(struct jev *w, int type, const char *s, size_t n)
{
	if (w->depth == 0)
		return w->bad = 1, 0;
	if (w->hk->scalar)
		w->hk->scalar(w->ctx, type, s, n);
	if (w->capdepth >= 0) {
		switch (type) {
		case '0': yajl_gen_null(w->cap); break;
		case 'b': yajl_gen_bool(w->cap, s[0] == 't'); break;
		case 'n': yajl_gen_number(w->cap, s, n); break;
		}
		cap_end(w, 0);
	}
	return 1;
}

static int
cb_null(void *ctx)
{
	return scalar(ctx, '0', "null", 4);
}

static int
cb_bool(void *ctx, int v)
{
	return scalar(ctx, 'b', v ? "true" : "false", v ? 4 : 5);
}

static int
cb_number(void *ctx, const char *s, size_t n)
{
	return scalar(ctx, 'n', s, n);
}

/* A string is captured made valid UTF-8; the hook sees it as sent. */
static int
cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct jev *w = ctx;

	if (w->depth == 0)
		return w->bad = 1, 0;
	if (w->hk->scalar)
		w->hk->scalar(w->ctx, 's', (const char *)s, n);
	if (w->capdepth >= 0) {
		size_t cn = n;
		const unsigned char *cs = json_utf8_clean(s, &cn, &w->tmp);

		yajl_gen_string(w->cap, cs, cn);
		cap_end(w, 0);
	}
	return 1;
}

/* A key: captured, looked up down to the hooks' depth, then the hook's. */
static int
cb_map_key(void *ctx, const unsigned char *k, size_t n)
{
	struct jev *w = ctx;

	if (w->capdepth >= 0) {
		size_t cn = n;
		const unsigned char *cs = json_utf8_clean(k, &cn, &w->tmp);

		yajl_gen_string(w->cap, cs, cn);
	}
	if (w->depth <= w->hk->deep && n)
		w->key[w->depth] = lookup(w, k, n);
	else if (w->depth <= JEV_MAXD)
		w->key[w->depth] = 0;
	if (w->hk->key && at(w, w->hk->key_at))
		w->hk->key(w->ctx, k, n);
	return 1;
}

/* A container begins (kind '{' or '['): the hook first, where it may
 * start a capture, then one level deeper. */
static int
open_container(struct jev *w, int kind)
{
	if (w->hk->begin && at(w, w->hk->begin_at))
		w->hk->begin(w->ctx, kind);
	if (w->capdepth >= 0 && ++w->capdepth > CAPDEPTH)
		return w->bad = 1, 0;
	w->depth++;
	if (w->depth <= JEV_MAXD)
		w->key[w->depth] = 0;
	return 1;
}

static int
cb_start_map(void *ctx)
{
	struct jev *w = ctx;

	if (!open_container(w, '{'))
		return 0;
	CAP(yajl_gen_map_open(w->cap));
	return 1;
}

static int
cb_start_array(void *ctx)
{
	struct jev *w = ctx;

	if (w->depth == 0)
		return w->bad = 1, 0;
	if (!open_container(w, '['))
		return 0;
	CAP(yajl_gen_array_open(w->cap));
	return 1;
}

/* A container ended: the hook sees the depth of its key (it may refuse
 * the event by returning 0); a top-level one is a value of the event. */
static int
close_container(struct jev *w)
{
	int ok = 1;

	w->depth--;
	if (w->hk->end && at(w, w->hk->end_at))
		ok = w->hk->end(w->ctx);
	if (w->depth == 0)
		w->values++;
	if (w->capdepth >= 0)
		cap_end(w, 1);
	return ok;
}

static int
cb_end_map(void *ctx)
{
	struct jev *w = ctx;

	CAP(yajl_gen_map_close(w->cap));
	return close_container(w);
}

static int
cb_end_array(void *ctx)
{
	struct jev *w = ctx;

	CAP(yajl_gen_array_close(w->cap));
	return close_container(w);
}

static const yajl_callbacks jev_callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array
};

/* Set up w for a dialect: its hooks and their ctx, its key table (the
 * keys it follows, each with a non-zero number) looked up down to depth
 * deep. */
void
jev_init(struct jev *w, const struct jev_hooks *hooks, void *ctx)
{
	memset(w, 0, sizeof *w);
	w->hk = hooks;
	w->ctx = ctx;
	if (!(w->cap = yajl_gen_alloc(NULL)))
		err(2, "out of memory");
	w->capdepth = -1;
}

/* Forget the event being read: a new attempt starts a new stream. */
void
jev_reset(struct jev *w)
{
	if (w->h)
		yajl_free(w->h);
	w->h = NULL;
	w->depth = w->bad = w->values = w->started = 0;
	w->capdepth = -1;
}

void
jev_free(struct jev *w)
{
	jev_reset(w);
	buf_free(&w->tmp);
	yajl_gen_free(w->cap);
}

/*
 * Bytes of the current event's data payload, as they arrive.  A payload
 * that does not start with '{' is not fed to the parser (the event is
 * then judged whole when it ends); nor is anything after a parse error.
 * Returns 1 when the bytes from w->in to p + n went to the parser.
 */
int
jev_data(struct jev *w, const char *p, size_t n)
{
	if (w->bad)
		return 0;
	if (!w->started) {
		while (n && (*p == ' ' || *p == '\t' || *p == '\n'))
			p++, n--;
		if (!n)
			return 0;
		w->started = 1;
		if (*p != '{') {
			w->bad = 1;
			return 0;
		}
	}
	if (!w->h) {
		w->h = yajl_alloc(&jev_callbacks, NULL, w);
		if (!w->h)
			err(2, "out of memory");
		yajl_config(w->h, yajl_allow_multiple_values, 1);
		w->depth = 0;
	}
	w->in = p;
	if (yajl_parse(w->h, (const unsigned char *)p, n) != yajl_status_ok) {
		yajl_free(w->h);
		w->h = NULL;
		w->bad = 1;
	}
	return 1;
}

/* A dialect's data(), for a decoder whose first member is its struct
 * jev: the bytes are walked; always 1 (go on). */
int
jev_feed(void *dec, const char *p, size_t n)
{
	jev_data(dec, p, n);
	return 1;
}

/* The event is over, not judged (a "[DONE]"): on to the next. */
void
jev_next(struct jev *w)
{
	w->bad = w->values = w->started = 0;
}

/*
 * The event whose data is data[0..n) is complete: JEV_EMPTY when it held
 * nothing, JEV_ONE for one JSON object, else JEV_BAD with why in msg
 * (and the parser dropped).  Ready for the next event either way.
 */
int
jev_end(struct jev *w, const char *data, size_t n, struct buf *msg)
{
	int bad = w->bad, values = w->values, depth = w->depth;
	struct buf why = { 0 };

	jev_next(w);
	if (!bad && values == 0 && depth == 0)
		return JEV_EMPTY;
	if (!bad && values == 1 && depth == 0)
		return JEV_ONE;
	if (w->h) {
		yajl_free(w->h);
		w->h = NULL;
	}
	w->depth = 0;
	w->capdepth = -1;
	buf_reset(msg);
	buf_puts(msg, "malformed data line in stream: ");
	if (values > 1)
		buf_puts(msg, "more than one JSON value");
	else if (json_compact(data, n, NULL, NULL, 0, &why) < 0)
		buf_put(msg, why.p, why.len);
	else
		buf_puts(msg, "not a JSON object");
	buf_free(&why);
	return JEV_BAD;
}
