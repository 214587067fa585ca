/*
 * messages.c: reading an Anthropic Messages stream (POST /v1/messages),
 * event by event.
 *
 * Each SSE data payload is fed to one yajl parser as its bytes arrive,
 * walked by jevent.c.  The hooks note what the event says (its type, the
 * block index, a delta's text) and keep the members of the objects the
 * answer is assembled from as compact JSON, in the order sent: the
 * message of message_start, each content_block_start's block, the delta
 * and usage of message_delta.  When the event is complete it is applied,
 * the way the official SDK's MessageStream accumulates a Message: text
 * and thinking joined, the last signature kept, a tool's input parsed
 * from its joined JSON fragments, message_delta's stop_reason,
 * stop_sequence and usage merged into the message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "vmanjl.h"

#define MAXBLOCK 4096	/* a bound on a message's content blocks */

/* The keys we follow. */
enum {
	MK_OTHER, MK_TYPE, MK_INDEX, MK_MESSAGE, MK_BLOCK, MK_DELTA,
	MK_USAGE, MK_ERROR, MK_TEXT, MK_THINKING, MK_PARTIAL, MK_SIGNATURE
};

#define K(s, k) JEV_NAME(s, k)

static const struct jev_name known_keys[] = {
	K("type", MK_TYPE), K("index", MK_INDEX), K("message", MK_MESSAGE),
	K("content_block", MK_BLOCK), K("delta", MK_DELTA),
	K("usage", MK_USAGE), K("error", MK_ERROR), K("text", MK_TEXT),
	K("thinking", MK_THINKING), K("partial_json", MK_PARTIAL),
	K("signature", MK_SIGNATURE),
};

#undef K

/* The kinds of content block whose deltas we apply. */
enum { BK_OTHER, BK_TEXT, BK_THINKING, BK_TOOL };

/* A member of an object: its key (raw bytes) and its value (compact
 * JSON; empty for one made when the answer is written). */
struct member {
	struct buf key, val;
};

/* An object's members in the order sent; entries past n are kept for
 * reuse. */
struct mlist {
	struct member *m;
	size_t n, cap;
};

/* One content block as assembled. */
struct block {
	int kind;
	struct mlist m;		/* as content_block_start sent it */
	struct buf text;	/* its text or thinking, joined */
	struct buf sig;		/* the last signature_delta */
	struct buf json;	/* input_json_delta fragments, joined */
	struct buf cites;	/* citations_delta values, comma-separated */
	int has_sig, has_json;
};

struct msgs {
	struct jev w;		/* first, for jev_feed(): the walk */
	void (*on_delta)(void *, const struct delta *);
	void *ctx;

	struct buf kbuf;	/* the current key at depth 2 or 3 */
	struct buf tmp;		/* a key made valid UTF-8 */

	/* What the current event says. */
	struct buf type;	/* its "type" */
	long index;		/* its "index"; -1: none */
	struct buf dtype;	/* delta.type */
	struct buf dstr;	/* delta.text, thinking, partial_json... */
	struct buf btext;	/* content_block.text or .thinking */
	struct buf err;		/* its "error" */
	struct mlist emsg;	/* message's members */
	struct mlist emusage;	/* message.usage's members */
	int emusage_obj;	/* message.usage is an object */
	struct mlist eblock;	/* content_block's members */
	struct mlist edelta;	/* delta's other members */
	struct mlist eusage;	/* usage's members */
	struct buf frag;	/* a tool-call delta's JSON */

	/* The assembled message. */
	int have_msg, usage_obj, done;
	struct mlist msg;	/* message_start's members, updated */
	struct mlist usage;	/* its usage, merged */
	struct block *b;
	size_t nb, ab;
	struct buf error;	/* an error event's object */
};

/* Is b the n bytes s? */
static int
is(const struct buf *b, const char *s)
{
	size_t n = strlen(s);

	return b->len == n && memcmp(b->p, s, n) == 0;
}

/* ---------------------------------------------------------------- */
/* Member lists */

static void
ml_free(struct mlist *l)
{
	size_t i;

	for (i = 0; i < l->cap; i++) {
		buf_free(&l->m[i].key);
		buf_free(&l->m[i].val);
	}
	free(l->m);
	memset(l, 0, sizeof *l);
}

/* A new last member with key k[0..n) and no value yet. */
static struct member *
ml_add(struct mlist *l, const char *k, size_t n)
{
	struct member *m;

	l->m = xgrow(l->m, &l->cap, sizeof *l->m, l->n);
	m = &l->m[l->n++];
	buf_reset(&m->key);
	buf_reset(&m->val);
	buf_put(&m->key, k, n);
	return m;
}

static struct member *
ml_find(const struct mlist *l, const char *k)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (is(&l->m[i].key, k))
			return &l->m[i];
	return NULL;
}

/* Set member k to v (added last when absent). */
static void
ml_set(struct mlist *l, const char *k, const struct buf *v)
{
	struct member *m = ml_find(l, k);

	if (!m)
		m = ml_add(l, k, strlen(k));
	buf_reset(&m->val);
	buf_put(&m->val, v->p, v->len);
}

static void
ml_swap(struct mlist *a, struct mlist *b)
{
	struct mlist t = *a;

	*a = *b;
	*b = t;
}

static void
block_free(struct block *b)
{
	ml_free(&b->m);
	buf_free(&b->text);
	buf_free(&b->sig);
	buf_free(&b->json);
	buf_free(&b->cites);
}

/* ---------------------------------------------------------------- */
/* The parser's callbacks */

/* A value is about to begin at the current place (open: it is an
 * object): start the capture of a member we keep. */
static void
value_start(struct msgs *c, int open)
{
	struct member *m = NULL;

	if (c->w.capdepth >= 0)
		return;
	if (c->w.depth == 1 && c->w.key[1] == MK_ERROR) {
		jev_cap_start(&c->w, &c->err);
		return;
	}
	if (c->w.depth == 3 && c->w.key[1] == MK_MESSAGE &&
	    c->w.key[2] == MK_USAGE && c->emusage_obj)
		m = ml_add(&c->emusage, c->kbuf.p, c->kbuf.len);
	if (c->w.depth == 2) {
		switch (c->w.key[1]) {
		case MK_MESSAGE:
			m = ml_add(&c->emsg, c->kbuf.p, c->kbuf.len);
			if (c->w.key[2] == MK_USAGE && open) {
				/* Its members are kept one by one. */
				c->emusage_obj = 1;
				c->emusage.n = 0;
				return;
			}
			break;
		case MK_BLOCK:
			m = ml_add(&c->eblock, c->kbuf.p, c->kbuf.len);
			break;
		case MK_USAGE:
			m = ml_add(&c->eusage, c->kbuf.p, c->kbuf.len);
			break;
		case MK_DELTA:
			if (c->w.key[2] == MK_OTHER)
				m = ml_add(&c->edelta, c->kbuf.p, c->kbuf.len);
			break;
		}
	}
	if (m)
		jev_cap_start(&c->w, &m->val);
}

/* The walker's hooks: a container begins (kind '{' or '['), a
 * scalar, a key. */
static void
on_begin(void *ctx, int kind)
{
	value_start(ctx, kind == '{');
}

static void
on_scalar(void *ctx, int type, const char *s, size_t n)
{
	struct msgs *c = ctx;

	value_start(c, 0);
	if (type == '0') {
		/* "error": null is no error. */
		if (c->w.depth == 1 && c->w.key[1] == MK_ERROR)
			jev_cap_drop(&c->w);
		return;
	}
	if (type == 'n') {
		if (c->w.depth == 1 && c->w.key[1] == MK_INDEX)
			c->index = jev_index(s, n, MAXBLOCK);
		return;
	}
	if (type != 's')
		return;
	if (c->w.depth == 1 && c->w.key[1] == MK_TYPE) {
		buf_reset(&c->type);
		buf_put(&c->type, s, n);
	} else if (c->w.depth == 2 && c->w.key[1] == MK_DELTA) {
		if (c->w.key[2] == MK_TYPE) {
			buf_reset(&c->dtype);
			buf_put(&c->dtype, s, n);
		} else if (c->w.key[2] == MK_TEXT ||
		    c->w.key[2] == MK_THINKING || c->w.key[2] == MK_PARTIAL ||
		    c->w.key[2] == MK_SIGNATURE)
			buf_put(&c->dstr, s, n);
	} else if (c->w.depth == 2 && c->w.key[1] == MK_BLOCK &&
	    (c->w.key[2] == MK_TEXT || c->w.key[2] == MK_THINKING))
		buf_put(&c->btext, s, n);
}

/* Keys are followed down to depth 2, and kept as sent at depth 2 and 3
 * (not inside a capture) for the members kept one by one. */
static void
on_key(void *ctx, const unsigned char *k, size_t n)
{
	struct msgs *c = ctx;

	if (c->w.capdepth < 0 && (c->w.depth == 2 || c->w.depth == 3)) {
		size_t cn = n;
		const unsigned char *cs = json_utf8_clean(k, &cn, &c->tmp);

		buf_reset(&c->kbuf);
		buf_put(&c->kbuf, cs, cn);
	}
}

static const struct jev_hooks msgs_hooks = {
	.begin = on_begin, .scalar = on_scalar, .key = on_key,
	.begin_at = JEV_AT(1) | JEV_AT(2) | JEV_AT(3),
	.key_at = JEV_AT(2) | JEV_AT(3),
	.names = known_keys, .nnames = NKEYS(known_keys), .deep = 2
};

/* ---------------------------------------------------------------- */
/* Applying a complete event */

/* Forget what the current event said. */
static void
event_clear(struct msgs *c)
{
	buf_reset(&c->type);
	buf_reset(&c->dtype);
	buf_reset(&c->dstr);
	buf_reset(&c->btext);
	buf_reset(&c->err);
	c->index = -1;
	c->emsg.n = c->emusage.n = c->eblock.n = c->edelta.n = 0;
	c->eusage.n = 0;
	c->emusage_obj = 0;
}

static void
message_start(struct msgs *c)
{
	size_t i;

	ml_swap(&c->msg, &c->emsg);
	ml_swap(&c->usage, &c->emusage);
	c->usage_obj = c->emusage_obj;
	for (i = 0; i < c->nb; i++)
		c->b[i].has_sig = c->b[i].has_json = 0;
	c->nb = 0;
	if (!ml_find(&c->msg, "content"))
		ml_add(&c->msg, "content", 7);
	c->have_msg = 1;
}

static void
block_start(struct msgs *c)
{
	const struct member *t;
	struct block *b;

	if (c->nb >= MAXBLOCK)
		return;
	c->b = xgrow(c->b, &c->ab, sizeof *c->b, c->nb);
	b = &c->b[c->nb++];
	ml_swap(&b->m, &c->eblock);
	b->kind = BK_OTHER;
	if ((t = ml_find(&b->m, "type")) != NULL) {
		if (is(&t->val, "\"text\""))
			b->kind = BK_TEXT;
		else if (is(&t->val, "\"thinking\""))
			b->kind = BK_THINKING;
		else if (is(&t->val, "\"tool_use\"") ||
		    is(&t->val, "\"server_tool_use\""))
			b->kind = BK_TOOL;
	}
	buf_reset(&b->text);
	buf_put(&b->text, c->btext.p, c->btext.len);
	buf_reset(&b->sig);
	buf_reset(&b->json);
	buf_reset(&b->cites);
	b->has_sig = b->has_json = 0;
}

/* A member's value, or null. */
static void
put_val(struct buf *out, const struct member *m)
{
	if (m && m->val.len)
		buf_put(out, m->val.p, m->val.len);
	else
		buf_puts(out, "null");
}

/* An input_json_delta as a chat tool-call fragment: the call's id,
 * type and name with its first fragment only. */
static void
tool_delta(struct msgs *c, struct delta *d, const struct block *b,
    int first)
{
	char num[24];

	buf_reset(&c->frag);
	snprintf(num, sizeof num, "%ld", c->index);
	buf_puts(&c->frag, "[{\"index\":");
	buf_puts(&c->frag, num);
	if (first) {
		buf_puts(&c->frag, ",\"id\":");
		put_val(&c->frag, ml_find(&b->m, "id"));
		buf_puts(&c->frag, ",\"type\":\"function\"");
	}
	buf_puts(&c->frag, ",\"function\":{");
	if (first) {
		buf_puts(&c->frag, "\"name\":");
		put_val(&c->frag, ml_find(&b->m, "name"));
		buf_putc(&c->frag, ',');
	}
	buf_puts(&c->frag, "\"arguments\":");
	json_str(&c->frag, c->dstr.p, c->dstr.len);
	buf_puts(&c->frag, "}}]");
	delta_set(d, DK_TOOL_CALLS, &c->frag);
}

/* A content_block_delta: fold it into its block, report the delta.  As
 * the SDK does, a delta that does not fit its block is dropped. */
static void
block_delta(struct msgs *c)
{
	struct block *b;
	struct delta d;
	const struct member *m;
	int first;

	if (c->index < 0 || (size_t)c->index >= c->nb)
		return;
	b = &c->b[c->index];
	memset(&d, 0, sizeof d);
	d.index = c->index;
	if (is(&c->dtype, "text_delta") && b->kind == BK_TEXT) {
		buf_put(&b->text, c->dstr.p, c->dstr.len);
		delta_set(&d, DK_CONTENT, &c->dstr);
	} else if (is(&c->dtype, "thinking_delta") &&
	    b->kind == BK_THINKING) {
		buf_put(&b->text, c->dstr.p, c->dstr.len);
		delta_set(&d, DK_REASONING, &c->dstr);
	} else if (is(&c->dtype, "signature_delta") &&
	    b->kind == BK_THINKING) {
		buf_reset(&b->sig);
		buf_put(&b->sig, c->dstr.p, c->dstr.len);
		b->has_sig = 1;
		return;
	} else if (is(&c->dtype, "input_json_delta") && b->kind == BK_TOOL) {
		first = !b->has_json;
		buf_put(&b->json, c->dstr.p, c->dstr.len);
		b->has_json = 1;
		if (!first && !c->dstr.len)
			return;
		tool_delta(c, &d, b, first);
		c->on_delta(c->ctx, &d);
		return;
	} else if (is(&c->dtype, "citations_delta") && b->kind == BK_TEXT &&
	    (m = ml_find(&c->edelta, "citation")) != NULL) {
		if (b->cites.len)
			buf_putc(&b->cites, ',');
		buf_put(&b->cites, m->val.p, m->val.len);
		return;
	} else
		return;
	if (c->dstr.len)
		c->on_delta(c->ctx, &d);
}

/* message_delta: stop_reason, stop_sequence and the usage into the
 * message, as the SDK merges them (output_tokens always, the other
 * counters when not null). */
static void
message_delta(struct msgs *c)
{
	static const char *const stop[] = {
		"stop_reason", "stop_sequence", "stop_details"
	};
	static const char *const counters[] = {
		"input_tokens", "cache_creation_input_tokens",
		"cache_read_input_tokens", "server_tool_use",
		"output_tokens_details"
	};
	const struct member *m;
	struct member *u;
	size_t i;

	for (i = 0; i < sizeof stop / sizeof stop[0]; i++)
		if ((m = ml_find(&c->edelta, stop[i])) != NULL)
			ml_set(&c->msg, stop[i], &m->val);
	if ((m = ml_find(&c->edelta, "container")) != NULL &&
	    !is(&m->val, "null"))
		ml_set(&c->msg, "container", &m->val);
	if (!c->eusage.n)
		return;
	if (!c->usage_obj) {
		u = ml_find(&c->msg, "usage");
		if (!u)
			u = ml_add(&c->msg, "usage", 5);
		buf_reset(&u->val);
		c->usage.n = 0;
		c->usage_obj = 1;
	}
	if ((m = ml_find(&c->eusage, "output_tokens")) != NULL)
		ml_set(&c->usage, "output_tokens", &m->val);
	for (i = 0; i < sizeof counters / sizeof counters[0]; i++)
		if ((m = ml_find(&c->eusage, counters[i])) != NULL &&
		    !is(&m->val, "null"))
			ml_set(&c->usage, counters[i], &m->val);
}

/* ---------------------------------------------------------------- */
/* The decoder */

static void *
msgs_new(void (*on_delta)(void *, const struct delta *), void *ctx)
{
	struct msgs *c = xcalloc(1, sizeof *c);

	c->on_delta = on_delta;
	c->ctx = ctx;
	jev_init(&c->w, &msgs_hooks, c);
	c->index = -1;
	return c;
}

/* Forget everything: a new attempt starts a new stream. */
static void
msgs_reset(void *dec)
{
	struct msgs *c = dec;

	jev_reset(&c->w);
	event_clear(c);
	c->have_msg = c->usage_obj = c->done = 0;
	c->msg.n = c->usage.n = 0;
	c->nb = 0;
	buf_reset(&c->error);
}

static void
msgs_free(void *dec)
{
	struct msgs *c = dec;
	size_t i;

	if (!c)
		return;
	msgs_reset(c);
	for (i = 0; i < c->ab; i++)
		block_free(&c->b[i]);
	free(c->b);
	ml_free(&c->emsg);
	ml_free(&c->emusage);
	ml_free(&c->eblock);
	ml_free(&c->edelta);
	ml_free(&c->eusage);
	ml_free(&c->msg);
	ml_free(&c->usage);
	buf_free(&c->kbuf);
	buf_free(&c->tmp);
	buf_free(&c->type);
	buf_free(&c->dtype);
	buf_free(&c->dstr);
	buf_free(&c->btext);
	buf_free(&c->err);
	buf_free(&c->frag);
	buf_free(&c->error);
	jev_free(&c->w);
	free(c);
}

/* Apply a complete event of the given type; returns CHAT_MORE,
 * CHAT_DONE at message_stop, CHAT_ERROR or CHAT_BAD. */
static int
apply(struct msgs *c, const struct buf *type, struct buf *msg)
{
	if (c->err.len || is(type, "error")) {
		buf_reset(&c->error);
		buf_puts(&c->error, "{\"type\":\"error\",\"error\":");
		if (c->err.len)
			buf_put(&c->error, c->err.p, c->err.len);
		else
			buf_puts(&c->error, "null");
		buf_putc(&c->error, '}');
		return CHAT_ERROR;
	}
	if (is(type, "message_start")) {
		message_start(c);
		return CHAT_MORE;
	}
	if (!is(type, "content_block_start") &&
	    !is(type, "content_block_delta") &&
	    !is(type, "content_block_stop") && !is(type, "message_delta") &&
	    !is(type, "message_stop"))
		return CHAT_MORE;	/* ping, and events of later versions */
	if (!c->have_msg) {
		buf_reset(msg);
		buf_puts(msg, "stream event '");
		buf_put(msg, type->p, type->len);
		buf_puts(msg, "' before message_start");
		return CHAT_BAD;
	}
	if (c->done)
		return CHAT_MORE;
	if (is(type, "content_block_start"))
		block_start(c);
	else if (is(type, "content_block_delta"))
		block_delta(c);
	else if (is(type, "message_delta"))
		message_delta(c);
	else if (is(type, "message_stop")) {
		c->done = 1;
		return CHAT_DONE;
	}
	return CHAT_MORE;
}

/*
 * The event ev is complete.  Its data's "type" says what it is (the
 * event field when the data has none).
 */
static int
msgs_event(void *dec, const struct sse_event *ev, struct buf *msg)
{
	struct msgs *c = dec;
	struct buf type;
	int rc;

	switch (jev_end(&c->w, ev->data, ev->data_len, msg)) {
	case JEV_EMPTY:
		event_clear(c);
		return CHAT_MORE;	/* no data: nothing to read */
	case JEV_BAD:
		event_clear(c);
		return CHAT_BAD;
	}
	type = c->type;
	if (!type.len) {
		type.p = (char *)ev->type;
		type.len = ev->type_len;
	}
	rc = apply(c, &type, msg);
	event_clear(c);
	return rc;
}

/* ---------------------------------------------------------------- */
/* The answer */

/* A tool's input: its fragments as one compact JSON value ({} when
 * there were none).  Fragments that do not make one JSON value are
 * kept as a string (the SDK would parse what it can). */
static void
put_input(struct buf *out, const struct block *b)
{
	struct buf v = { 0 }, why = { 0 };
	size_t i;

	for (i = 0; i < b->json.len && strchr(" \t\r\n", b->json.p[i]); i++)
		;
	if (i == b->json.len)
		buf_puts(out, "{}");
	else if (json_compact(b->json.p, b->json.len, &v, NULL, 0, &why) == 0)
		buf_put(out, v.p, v.len);
	else
		json_str(out, b->json.p, b->json.len);
	buf_free(&v);
	buf_free(&why);
}

/* One assembled content block: the members of its start, with what
 * its deltas made in their places (added last when the start had
 * none). */
static void
put_block(struct buf *out, const struct block *b)
{
	int text = 0, sig = 0, input = 0, cites = 0;
	const struct member *m;
	size_t i;

	buf_putc(out, '{');
	for (i = 0; i < b->m.n; i++) {
		m = &b->m.m[i];
		if (i)
			buf_putc(out, ',');
		json_str(out, m->key.p, m->key.len);
		buf_putc(out, ':');
		if ((b->kind == BK_TEXT && is(&m->key, "text")) ||
		    (b->kind == BK_THINKING && is(&m->key, "thinking"))) {
			json_str(out, b->text.p, b->text.len);
			text = 1;
		} else if (b->has_sig && is(&m->key, "signature")) {
			json_str(out, b->sig.p, b->sig.len);
			sig = 1;
		} else if (b->has_json && is(&m->key, "input")) {
			put_input(out, b);
			input = 1;
		} else if (b->cites.len && is(&m->key, "citations")) {
			buf_putc(out, '[');
			if (m->val.len > 2 && m->val.p[0] == '[') {
				buf_put(out, m->val.p + 1, m->val.len - 2);
				buf_putc(out, ',');
			}
			buf_put(out, b->cites.p, b->cites.len);
			buf_putc(out, ']');
			cites = 1;
		} else
			put_val(out, m);
	}
	if (!text && (b->kind == BK_TEXT || b->kind == BK_THINKING)) {
		buf_puts(out, b->m.n ? "," : "");
		buf_puts(out, b->kind == BK_TEXT ? "\"text\":" :
		    "\"thinking\":");
		json_str(out, b->text.p, b->text.len);
	}
	if (!sig && b->has_sig) {
		buf_puts(out, ",\"signature\":");
		json_str(out, b->sig.p, b->sig.len);
	}
	if (!input && b->has_json) {
		buf_puts(out, ",\"input\":");
		put_input(out, b);
	}
	if (!cites && b->cites.len) {
		buf_puts(out, ",\"citations\":[");
		buf_put(out, b->cites.p, b->cites.len);
		buf_putc(out, ']');
	}
	buf_putc(out, '}');
}

static void
put_members(struct buf *out, const struct mlist *l)
{
	size_t i;

	buf_putc(out, '{');
	for (i = 0; i < l->n; i++) {
		if (i)
			buf_putc(out, ',');
		json_str(out, l->m[i].key.p, l->m[i].key.len);
		buf_putc(out, ':');
		put_val(out, &l->m[i]);
	}
	buf_putc(out, '}');
}

/* A stop_reason (JSON) in the chat vocabulary; the raw value stays in
 * the body. */
static void
put_finish(struct buf *out, const char *v, size_t n)
{
	static const char *const map[][2] = {
		{ "\"end_turn\"", "\"stop\"" },
		{ "\"stop_sequence\"", "\"stop\"" },
		{ "\"max_tokens\"", "\"length\"" },
		{ "\"model_context_window_exceeded\"", "\"length\"" },
		{ "\"tool_use\"", "\"tool_calls\"" },
		{ "\"refusal\"", "\"content_filter\"" },
	};
	size_t i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strlen(map[i][0]) == n && memcmp(map[i][0], v, n) == 0) {
			buf_puts(out, map[i][1]);
			return;
		}
	buf_put(out, v, n);
}

/* The chat usage of Messages counters (-1: absent). */
static void
put_usage(struct buf *out, long long in, long long cw, long long cr,
    long long outt)
{
	char num[128];
	long long p = count_add(count_add(in > 0 ? in : 0, cw > 0 ? cw : 0),
	    cr > 0 ? cr : 0), o = outt > 0 ? outt : 0;

	snprintf(num, sizeof num, "{\"prompt_tokens\":%lld,"
	    "\"completion_tokens\":%lld,\"total_tokens\":%lld}", p, o,
	    count_add(p, o));
	buf_puts(out, num);
}

static long long
counter(const struct mlist *l, const char *k)
{
	const struct member *m = ml_find(l, k);

	return m ? json_int(&m->val) : -1;
}

/*
 * Write the Message the server would have sent without streaming into
 * res, with its text, finish_reason and usage in chat's terms.
 */
static void
msgs_result(const void *dec, struct result *res)
{
	const struct msgs *c = dec;
	const struct member *m;
	struct buf text = { 0 };
	size_t i, k;

	buf_reset(&res->body);
	buf_putc(&res->body, '{');
	for (i = 0; i < c->msg.n; i++) {
		m = &c->msg.m[i];
		if (i)
			buf_putc(&res->body, ',');
		json_str(&res->body, m->key.p, m->key.len);
		buf_putc(&res->body, ':');
		if (is(&m->key, "content")) {
			buf_putc(&res->body, '[');
			for (k = 0; k < c->nb; k++) {
				if (k)
					buf_putc(&res->body, ',');
				put_block(&res->body, &c->b[k]);
			}
			buf_putc(&res->body, ']');
		} else if (is(&m->key, "usage") && c->usage_obj)
			put_members(&res->body, &c->usage);
		else
			put_val(&res->body, m);
	}
	buf_putc(&res->body, '}');

	buf_reset(&res->content);
	buf_reset(&res->finish);
	buf_reset(&res->usage);
	for (k = 0; k < c->nb; k++)
		if (c->b[k].kind == BK_TEXT)
			buf_put(&text, c->b[k].text.p, c->b[k].text.len);
	json_str(&res->content, text.p, text.len);
	buf_free(&text);
	if ((m = ml_find(&c->msg, "stop_reason")) != NULL && m->val.len)
		put_finish(&res->finish, m->val.p, m->val.len);
	else
		buf_puts(&res->finish, "null");
	if (c->usage_obj)
		put_usage(&res->usage, counter(&c->usage, "input_tokens"),
		    counter(&c->usage, "cache_creation_input_tokens"),
		    counter(&c->usage, "cache_read_input_tokens"),
		    counter(&c->usage, "output_tokens"));
}

/* A yajl_tree integer member, or -1. */
static long long
tree_int(yajl_val o, const char *k)
{
	const char *path[2] = { k, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_number);

	return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
}

/*
 * A non-streamed Message body[0..n): its compact JSON in res->body, the
 * text blocks joined, the finish_reason and usage in chat's terms.  0,
 * or -1 when body is not JSON (why in msg).
 */
static int
msgs_body(const char *body, size_t n, struct result *res, struct buf *msg)
{
	const char *pc[] = { "content", NULL }, *ps[] = { "stop_reason", NULL },
	    *pu[] = { "usage", NULL }, *pt[] = { "text", NULL },
	    *pty[] = { "type", NULL };
	struct buf text = { 0 };
	yajl_val root, v, t, ty;
	size_t i;

	if (json_compact(body, n, &res->body, NULL, 0, msg) < 0)
		return -1;
	if (!(root = yajl_tree_parse(res->body.p, NULL, 0)))
		return 0;	/* deeper than yajl_tree goes: the body only */
	if (YAJL_IS_OBJECT(root) &&
	    (v = yajl_tree_get(root, pc, yajl_t_array)) != NULL) {
		for (i = 0; i < v->u.array.len; i++) {
			ty = yajl_tree_get(v->u.array.values[i], pty,
			    yajl_t_string);
			t = yajl_tree_get(v->u.array.values[i], pt,
			    yajl_t_string);
			if (ty && t && strcmp(ty->u.string, "text") == 0)
				buf_puts(&text, t->u.string);
		}
		json_str(&res->content, text.p, text.len);
		buf_free(&text);
	}
	if (YAJL_IS_OBJECT(root) &&
	    (v = yajl_tree_get(root, ps, yajl_t_any)) != NULL) {
		if (YAJL_IS_STRING(v)) {
			json_str(&text, v->u.string, strlen(v->u.string));
			put_finish(&res->finish, text.p, text.len);
			buf_free(&text);
		} else
			buf_puts(&res->finish, "null");
	}
	if (YAJL_IS_OBJECT(root) &&
	    (v = yajl_tree_get(root, pu, yajl_t_object)) != NULL)
		put_usage(&res->usage, tree_int(v, "input_tokens"),
		    tree_int(v, "cache_creation_input_tokens"),
		    tree_int(v, "cache_read_input_tokens"),
		    tree_int(v, "output_tokens"));
	yajl_tree_free(root);
	return 0;
}

/* ---------------------------------------------------------------- */
/* The Messages dialect, as answer.c sees every dialect */

static const struct buf *
msgs_error(const void *c)
{
	return &((const struct msgs *)c)->error;
}

/* Complete at message_stop; open until then. */
static int
msgs_state(const void *c, long *which)
{
	(void)which;
	return ((const struct msgs *)c)->done ? DEC_COMPLETE : DEC_OPEN;
}

const struct dialect dialect_messages = {
	"messages", "message_stop", msgs_new, msgs_reset, msgs_free,
	jev_feed, msgs_event, msgs_error, msgs_state, msgs_result, msgs_body
};
