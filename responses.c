/*
 * responses.c: reading an OpenAI Responses API stream (POST /v1/responses),
 * event by event.
 *
 * Every event's data is one JSON object whose "type" names the event.
 * The data bytes go to one yajl parser as they arrive; its callbacks
 * keep only the three top-level members a delta needs (type,
 * output_index, delta), so the text events cost little.  The rare
 * events that need more (an output item announced, the terminal
 * response, an error) are read whole once the event is complete.  The
 * answer is the response object of response.completed (or
 * response.incomplete), as the server would have sent it without
 * streaming; the top-level content, finish_reason and usage come from it
 * in the chat vocabulary.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "vmanjl.h"

#define MAXCALL 4096	/* a bound on the function calls of one answer */

enum { RK_OTHER, RK_TYPE, RK_INDEX, RK_DELTA };

/* A function call announced by response.output_item.added. */
struct call {
	long output;		/* its output_index */
	struct buf id, name;	/* JSON strings */
	int told;		/* its first fragment has gone out */
};

struct rsp {
	yajl_handle h;
	void (*on_delta)(void *, const struct delta *);
	void *ctx;

	int depth;
	int key;		/* the top-level member being read */
	int bad;		/* this event is not a JSON object */
	int values;		/* objects completed in this event */
	int started;		/* this event's first byte has been seen */

	/* The members of the current event that deltas need. */
	struct buf type, delta;
	long index;
	int has_delta;

	struct call *calls;
	size_t ncalls;
	struct buf frag;	/* a delta's tool_calls JSON */
	struct buf final;	/* the terminal response object */
	struct buf error;	/* an error event's or failure's JSON */
	int done;
};

/* An index as sent: a small non-negative integer, or -1. */
static long
small_int(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (!n)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if ((v = v * 10 + (s[i] - '0')) > 1000000000L)
			return -1;
	}
	return v;
}

/* Which member of the event is k?  Only top-level keys are looked at. */
static int
lookup(const unsigned char *k, size_t n)
{
	if (n == 4 && memcmp(k, "type", 4) == 0)
		return RK_TYPE;
	if (n == 5 && memcmp(k, "delta", 5) == 0)
		return RK_DELTA;
	if (n == 12 && memcmp(k, "output_index", 12) == 0)
		return RK_INDEX;
	return RK_OTHER;
}

static int
cb_null(void *ctx)
{
	struct rsp *c = ctx;

	if (c->depth == 0)
		return c->bad = 1, 0;
	return 1;
}

static int
cb_bool(void *ctx, int v)
{
	struct rsp *c = ctx;

	(void)v;
	if (c->depth == 0)
		return c->bad = 1, 0;
	return 1;
}

static int
cb_number(void *ctx, const char *s, size_t n)
{
	struct rsp *c = ctx;

	if (c->depth == 0)
		return c->bad = 1, 0;
	if (c->depth == 1 && c->key == RK_INDEX)
		c->index = small_int(s, n);
	return 1;
}

static int
cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct rsp *c = ctx;

	if (c->depth == 0)
		return c->bad = 1, 0;
	if (c->depth != 1)
		return 1;
	if (c->key == RK_TYPE) {
		buf_reset(&c->type);
		buf_put(&c->type, s, n);
	} else if (c->key == RK_DELTA) {
		buf_reset(&c->delta);
		buf_put(&c->delta, s, n);
		c->has_delta = 1;
	}
	return 1;
}

static int
cb_map_key(void *ctx, const unsigned char *k, size_t n)
{
	struct rsp *c = ctx;

	if (c->depth == 1)
		c->key = lookup(k, n);
	return 1;
}

/* Deeper than any answer needs: the event is refused. */
#define MAXDEPTH 1000

static int
cb_start_map(void *ctx)
{
	struct rsp *c = ctx;

	if (++c->depth > MAXDEPTH)
		return c->bad = 1, 0;
	return 1;
}

static int
cb_start_array(void *ctx)
{
	struct rsp *c = ctx;

	if (c->depth == 0 || ++c->depth > MAXDEPTH)
		return c->bad = 1, 0;
	return 1;
}

static int
cb_end(void *ctx)
{
	struct rsp *c = ctx;

	if (--c->depth == 0)
		c->values++;
	return 1;
}

static const yajl_callbacks rsp_callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end
};

static void *
rsp_open(void (*on_delta)(void *, const struct delta *), void *ctx)
{
	struct rsp *c = xcalloc(1, sizeof *c);

	c->on_delta = on_delta;
	c->ctx = ctx;
	c->index = -1;
	return c;
}

/* Forget everything: a new attempt starts a new stream. */
static void
rsp_reset(void *p)
{
	struct rsp *c = p;

	if (c->h)
		yajl_free(c->h);
	c->h = NULL;
	c->depth = c->bad = c->values = c->started = c->has_delta = 0;
	c->index = -1;
	buf_reset(&c->type);
	buf_reset(&c->delta);
	while (c->ncalls) {
		buf_free(&c->calls[--c->ncalls].id);
		buf_free(&c->calls[c->ncalls].name);
	}
	buf_reset(&c->final);
	buf_reset(&c->error);
	c->done = 0;
}

static void
rsp_close(void *p)
{
	struct rsp *c = p;

	if (!c)
		return;
	rsp_reset(c);
	free(c->calls);
	buf_free(&c->type);
	buf_free(&c->delta);
	buf_free(&c->frag);
	buf_free(&c->final);
	buf_free(&c->error);
	free(c);
}

/*
 * Bytes of the current event's data, as they arrive.  A payload that
 * does not start with '{' is not parsed; rsp_event() judges it whole.
 */
static int
rsp_data(void *p, const char *s, size_t n)
{
	struct rsp *c = p;

	if (c->bad)
		return 1;
	if (!c->started) {
		while (n && (*s == ' ' || *s == '\t' || *s == '\n'))
			s++, n--;
		if (!n)
			return 1;
		c->started = 1;
		if (*s != '{') {
			c->bad = 1;
			return 1;
		}
	}
	if (!c->h) {
		c->h = yajl_alloc(&rsp_callbacks, NULL, c);
		if (!c->h)
			err(2, "out of memory");
		yajl_config(c->h, yajl_allow_multiple_values, 1);
		c->depth = 0;
	}
	if (yajl_parse(c->h, (const unsigned char *)s, n) != yajl_status_ok) {
		yajl_free(c->h);
		c->h = NULL;
		c->bad = 1;
	}
	return 1;
}

/* Is the event type t[0..n) the string s? */
static int
is(const char *t, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(t, s, n) == 0;
}

/* The function call at output index i, or NULL. */
static struct call *
find_call(struct rsp *c, long i)
{
	size_t k;

	for (k = 0; k < c->ncalls; k++)
		if (c->calls[k].output == i)
			return &c->calls[k];
	return NULL;
}

/* response.output_item.added: remember a function call's id and name
 * for its first argument fragment. */
static void
item_added(struct rsp *c, const struct sse_event *ev, struct buf *msg)
{
	struct jpick pk[4] = {
		{ .path = "item.type" }, { .path = "item.call_id" },
		{ .path = "item.id" }, { .path = "item.name" }
	};
	struct call *t;
	const struct buf *id;

	if (json_compact(ev->data, ev->data_len, NULL, pk, 4, msg) == 0 &&
	    pk[0].val.len && strcmp(pk[0].val.p, "\"function_call\"") == 0 &&
	    c->index >= 0 && !find_call(c, c->index) &&
	    c->ncalls < MAXCALL) {
		t = realloc(c->calls, (c->ncalls + 1) * sizeof *t);
		if (!t)
			err(2, "out of memory");
		c->calls = t;
		t = &c->calls[c->ncalls++];
		memset(t, 0, sizeof *t);
		t->output = c->index;
		id = pk[1].val.len && pk[1].val.p[0] == '"' ? &pk[1].val :
		    &pk[2].val;
		if (id->len && id->p[0] == '"')
			buf_put(&t->id, id->p, id->len);
		if (pk[3].val.len && pk[3].val.p[0] == '"')
			buf_put(&t->name, pk[3].val.p, pk[3].val.len);
	}
	json_picks_free(pk, 4);
}

/* A function call's argument fragment in chat's tool_calls form: the
 * call's id, type and name with its first fragment only. */
static void
put_fragment(struct rsp *c, struct delta *d)
{
	struct call *t = find_call(c, c->index);
	struct buf *b = &c->frag;
	char num[24];

	buf_reset(b);
	snprintf(num, sizeof num, "%ld",
	    t ? (long)(t - c->calls) : (long)c->ncalls);
	buf_puts(b, "[{\"index\":");
	buf_puts(b, num);
	if (t && !t->told) {
		buf_puts(b, ",\"id\":");
		if (t->id.len)
			buf_put(b, t->id.p, t->id.len);
		else
			buf_puts(b, "null");
		buf_puts(b, ",\"type\":\"function\"");
	}
	buf_puts(b, ",\"function\":{");
	if (t && !t->told) {
		buf_puts(b, "\"name\":");
		if (t->name.len)
			buf_put(b, t->name.p, t->name.len);
		else
			buf_puts(b, "null");
		buf_putc(b, ',');
		t->told = 1;
	}
	buf_puts(b, "\"arguments\":");
	json_str(b, c->delta.p, c->delta.len);
	buf_puts(b, "}}]");
	delta_set(d, DK_TOOL_CALLS, b);
}

/* Put the error object fail_from_body() reads into c->error, from the
 * members picked as message, type and code (empty: absent). */
static void
put_error(struct rsp *c, const struct buf *m, const struct buf *t,
    const struct buf *code, const char *dflt, const struct sse_event *ev)
{
	buf_reset(&c->error);
	buf_puts(&c->error, "{\"error\":{\"message\":");
	if (m->len && m->p[0] == '"')
		buf_put(&c->error, m->p, m->len);
	else if (dflt)
		json_str(&c->error, dflt, strlen(dflt));
	else
		json_str(&c->error, ev->data, ev->data_len);
	if (t->len && t->p[0] == '"') {
		buf_puts(&c->error, ",\"type\":");
		buf_put(&c->error, t->p, t->len);
	}
	buf_puts(&c->error, ",\"code\":");
	if (code->len)
		buf_put(&c->error, code->p, code->len);
	else
		buf_puts(&c->error, "null");
	buf_puts(&c->error, "}}");
}

/* An error event ({"type":"error","code","message"}, or with an "error"
 * object): its message for the error record. */
static void
error_event(struct rsp *c, const struct sse_event *ev, struct buf *msg)
{
	struct jpick pk[5] = {
		{ .path = "message" }, { .path = "code" },
		{ .path = "error.message" }, { .path = "error.type" },
		{ .path = "error.code" }
	};

	json_compact(ev->data, ev->data_len, NULL, pk, 5, msg);
	if (pk[2].val.len)
		put_error(c, &pk[2].val, &pk[3].val,
		    pk[4].val.len ? &pk[4].val : &pk[1].val, NULL, ev);
	else
		put_error(c, &pk[0].val, &pk[3].val, &pk[1].val, NULL, ev);
	json_picks_free(pk, 5);
}

/* response.failed: the message of its response.error. */
static void
failed_event(struct rsp *c, const struct sse_event *ev, struct buf *msg)
{
	struct jpick pk[3] = {
		{ .path = "response.error.message" },
		{ .path = "response.error.type" },
		{ .path = "response.error.code" }
	};

	json_compact(ev->data, ev->data_len, NULL, pk, 3, msg);
	put_error(c, &pk[0].val, &pk[1].val, &pk[2].val, "response failed",
	    ev);
	json_picks_free(pk, 3);
}

/* response.completed or response.incomplete: keep its response. */
static int
final_event(struct rsp *c, const struct sse_event *ev, struct buf *msg)
{
	struct jpick pk[1] = { { .path = "response" } };
	int ok;

	ok = json_compact(ev->data, ev->data_len, NULL, pk, 1, msg) == 0 &&
	    pk[0].val.len && pk[0].val.p[0] == '{';
	buf_reset(&c->final);
	if (ok)
		buf_put(&c->final, pk[0].val.p, pk[0].val.len);
	json_picks_free(pk, 1);
	if (!ok) {
		buf_reset(msg);
		buf_puts(msg, "malformed data line in stream: ");
		buf_put(msg, ev->type, ev->type_len);
		buf_puts(msg, " without a response object");
		return CHAT_BAD;
	}
	c->done = 1;
	return CHAT_DONE;
}

/*
 * The event ev is complete.  CHAT_MORE to go on, CHAT_DONE at the
 * terminal response, CHAT_ERROR for response.failed or an error event
 * (its JSON in c->error), CHAT_BAD for data that is not one JSON object
 * (described in msg).
 */
static int
rsp_event(void *p, const struct sse_event *ev, struct buf *msg)
{
	struct rsp *c = p;
	int bad = c->bad, values = c->values, depth = c->depth;
	const char *t;
	size_t tn;
	struct delta d;
	int rc = CHAT_MORE;

	c->bad = c->values = c->started = 0;
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)
		return CHAT_MORE;	/* not this API's, but harmless */
	if (!bad && values == 0 && depth == 0)
		return CHAT_MORE;	/* empty data: nothing to read */
	if (bad || values != 1 || depth != 0) {
		struct buf why = { 0 };

		if (c->h) {
			yajl_free(c->h);
			c->h = NULL;
		}
		c->depth = 0;
		buf_reset(msg);
		buf_puts(msg, "malformed data line in stream: ");
		if (values > 1)
			buf_puts(msg, "more than one JSON value");
		else if (json_compact(ev->data, ev->data_len, NULL, NULL, 0,
		    &why) < 0)
			buf_put(msg, why.p, why.len);
		else
			buf_puts(msg, "not a JSON object");
		buf_free(&why);
		rc = CHAT_BAD;
		goto out;
	}
	/* The data's type, else the event's name. */
	t = c->type.p, tn = c->type.len;
	if (!tn)
		t = ev->type, tn = ev->type_len;

	memset(&d, 0, sizeof d);
	d.index = c->index < 0 ? 0 : c->index;
	if (is(t, tn, "response.output_text.delta")) {
		delta_set(&d, DK_CONTENT, &c->delta);
	} else if (is(t, tn, "response.reasoning_summary_text.delta") ||
	    is(t, tn, "response.reasoning_text.delta")) {
		delta_set(&d, DK_REASONING, &c->delta);
	} else if (is(t, tn, "response.function_call_arguments.delta")) {
		struct call *k = find_call(c, c->index);

		if (c->delta.len || (k && !k->told))
			put_fragment(c, &d);
	} else if (is(t, tn, "response.output_item.added"))
		item_added(c, ev, msg);
	else if (is(t, tn, "response.completed") ||
	    is(t, tn, "response.incomplete"))
		rc = final_event(c, ev, msg);
	else if (is(t, tn, "response.failed")) {
		failed_event(c, ev, msg);
		rc = CHAT_ERROR;
	} else if (is(t, tn, "error")) {
		error_event(c, ev, msg);
		rc = CHAT_ERROR;
	}
	if (c->has_delta && (d.len[DK_CONTENT] || d.len[DK_REASONING] ||
	    d.p[DK_TOOL_CALLS]))
		c->on_delta(c->ctx, &d);
out:
	buf_reset(&c->type);
	buf_reset(&c->delta);
	c->has_delta = 0;
	c->index = -1;
	return rc;
}

static const struct buf *
rsp_error(const void *p)
{
	const struct rsp *c = p;

	return &c->error;
}

/* Complete once response.completed or response.incomplete has come;
 * nothing else ends this stream. */
static int
rsp_state(const void *p, long *which)
{
	const struct rsp *c = p;

	(void)which;
	return c->done ? DEC_COMPLETE : DEC_OPEN;
}

/* ---------------------------------------------------------------- */
/* The answer's top-level fields */

static yajl_val
get(yajl_val o, const char *k)
{
	const char *path[2] = { k, NULL };

	return yajl_tree_get(o, path, yajl_t_any);
}

/* Is v the string s? */
static int
str_is(yajl_val v, const char *s)
{
	return YAJL_IS_STRING(v) && strcmp(v->u.string, s) == 0;
}

/* A usage member as its number was sent, or 0. */
static void
put_count(struct buf *b, const char *name, yajl_val v)
{
	buf_puts(b, name);
	if (YAJL_IS_NUMBER(v) && v->u.number.r)
		buf_puts(b, v->u.number.r);
	else
		buf_putc(b, '0');
}

/*
 * content, finish_reason and usage of a response object (compact JSON
 * in body) as the chat vocabulary has them.  content is the SDK's
 * output_text: the output_text parts of every message item, joined.
 * An object without an output array gets none of them.
 */
static void
fields(const struct buf *body, struct result *res)
{
	char ebuf[128];
	yajl_val root, out, it, parts, pt, st, u, why;
	struct buf text = { 0 };
	size_t i, j;
	int call = 0;

	buf_reset(&res->content);
	buf_reset(&res->finish);
	buf_reset(&res->usage);
	if (!body->len || !(root = yajl_tree_parse(body->p, ebuf,
	    sizeof ebuf)))
		return;
	if (!YAJL_IS_ARRAY(out = get(root, "output")))
		goto done;
	for (i = 0; i < out->u.array.len; i++) {
		it = out->u.array.values[i];
		if (str_is(get(it, "type"), "function_call"))
			call = 1;
		if (!str_is(get(it, "type"), "message") ||
		    !YAJL_IS_ARRAY(parts = get(it, "content")))
			continue;
		for (j = 0; j < parts->u.array.len; j++) {
			pt = parts->u.array.values[j];
			if (str_is(get(pt, "type"), "output_text") &&
			    YAJL_IS_STRING(get(pt, "text")))
				buf_puts(&text, get(pt, "text")->u.string);
		}
	}
	json_str(&res->content, text.p, text.len);
	st = get(root, "status");
	why = get(get(root, "incomplete_details"), "reason");
	if (str_is(st, "completed"))
		buf_puts(&res->finish, call ? "\"tool_calls\"" : "\"stop\"");
	else if (str_is(st, "incomplete") &&
	    str_is(why, "max_output_tokens"))
		buf_puts(&res->finish, "\"length\"");
	else if (str_is(st, "incomplete") && YAJL_IS_STRING(why))
		json_str(&res->finish, why->u.string, strlen(why->u.string));
	else
		buf_puts(&res->finish, "null");
	if (YAJL_IS_OBJECT(u = get(root, "usage"))) {
		put_count(&res->usage, "{\"prompt_tokens\":",
		    get(u, "input_tokens"));
		put_count(&res->usage, ",\"completion_tokens\":",
		    get(u, "output_tokens"));
		put_count(&res->usage, ",\"total_tokens\":",
		    get(u, "total_tokens"));
		buf_putc(&res->usage, '}');
	}
done:
	buf_free(&text);
	yajl_tree_free(root);
}

/* The answer: the terminal event's response object, and its fields. */
static void
rsp_result(const void *p, struct result *res)
{
	const struct rsp *c = p;

	buf_reset(&res->body);
	buf_put(&res->body, c->final.p, c->final.len);
	fields(&c->final, res);
}

/*
 * A non-streamed answer body[0..n): its compact JSON in res->body, and
 * content, finish_reason and usage as a stream's.  0, or -1 when body is
 * not JSON (why in msg).
 */
int
responses_body(const char *body, size_t n, struct result *res,
    struct buf *msg)
{
	if (json_compact(body, n, &res->body, NULL, 0, msg) < 0)
		return -1;
	fields(&res->body, res);
	return 0;
}

const struct dialect dialect_responses = {
	"responses", "response.completed", rsp_open, rsp_reset, rsp_close,
	rsp_data, rsp_event, rsp_error, rsp_state, rsp_result, responses_body
};
