/*
 * chat.c: reading a chat or completion stream, chunk by chunk.
 *
 * Each SSE data payload is walked as its bytes arrive (jevent.c: one
 * yajl parser taking the chunks one after another, a key stack, raw
 * captures).  The hooks here follow the few paths that matter, hand every
 * piece of content to the caller as a delta, and assemble the answer the
 * server would have given without streaming, as the official OpenAI SDK
 * accumulates the same chunks (refusal, logprobs arrays, surrogate pairs
 * split across chunks, the first non-empty id, model and created): a
 * struct chat_answer, which chatbody.c writes as that body.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "vmanjl.h"

#define MAXCHOICE 4096	/* a bound on a server's choice and tool indices */

enum {
	CK_OTHER, CK_ID, CK_OBJECT, CK_CREATED, CK_MODEL, CK_FP,
	CK_CHOICES, CK_USAGE, CK_ERROR, CK_INDEX, CK_DELTA, CK_TEXT,
	CK_FINISH, CK_ROLE, CK_CONTENT, CK_REASONING, CK_TOOL_CALLS,
	CK_TYPE, CK_FUNCTION, CK_NAME, CK_ARGS, CK_REFUSAL, CK_TIER,
	CK_LOGPROBS, CK_TOKENS, CK_TOKEN_LP, CK_TOP_LP, CK_OFFSET
};

#define K(s, k) JEV_NAME(s, k)

static const struct jev_name known_keys[] = {
	K("id", CK_ID), K("object", CK_OBJECT), K("created", CK_CREATED),
	K("model", CK_MODEL), K("system_fingerprint", CK_FP),
	K("choices", CK_CHOICES), K("usage", CK_USAGE),
	K("error", CK_ERROR), K("index", CK_INDEX), K("delta", CK_DELTA),
	K("text", CK_TEXT), K("finish_reason", CK_FINISH),
	K("role", CK_ROLE), K("content", CK_CONTENT),
	K("reasoning_content", CK_REASONING), K("reasoning", CK_REASONING),
	K("tool_calls", CK_TOOL_CALLS), K("type", CK_TYPE),
	K("function", CK_FUNCTION), K("name", CK_NAME),
	K("arguments", CK_ARGS), K("refusal", CK_REFUSAL),
	K("service_tier", CK_TIER), K("logprobs", CK_LOGPROBS),
	K("tokens", CK_TOKENS), K("token_logprobs", CK_TOKEN_LP),
	K("top_logprobs", CK_TOP_LP), K("text_offset", CK_OFFSET),
};

#undef K

/* The logprobs members of a choice, by name and key (vmanjl.h). */
const struct chat_lp chat_lp[CHAT_NLP] = {
	{ "content", CK_CONTENT }, { "refusal", CK_REFUSAL },
	{ "tokens", CK_TOKENS }, { "token_logprobs", CK_TOKEN_LP },
	{ "top_logprobs", CK_TOP_LP }, { "text_offset", CK_OFFSET },
};

struct chat {
	struct jev w;		/* the walk over the current chunk */
	void (*on_delta)(void *, const struct delta *);
	void *ctx;

	/* The bytes before the piece being parsed (c->w.in), for what
	 * yajl decodes a lone high surrogate escape to ('?'). */
	char tail[8];		/* the last bytes before it, this event */
	size_t ntail;

	/* The choice being read in the current chunk. */
	long cur_index;
	int cur_has_tools;
	struct buf cur_text[CHAT_NF], cur_tools, cur_finish;
	unsigned cur_hi[CHAT_NF];	/* its text ended in a lone high surrogate */
	int cur_lp;
	unsigned char cur_lps[CHAT_NLP];
	struct buf cur_lpv[CHAT_NLP];
	struct chat_tool *cur_tc;	/* tool-call fragments of this choice */
	size_t cur_ntc, cur_atc;

	struct chat_answer a;	/* the answer assembled so far */
	struct buf error;
	int done;
};

/* Where are we?  Helpers over the key stack. */
#define IN_CHOICE (c->w.depth >= 3 && c->w.key[1] == CK_CHOICES)
#define IN_DELTA (IN_CHOICE && c->w.depth >= 4 && c->w.key[3] == CK_DELTA)
#define IN_TOOL (IN_DELTA && c->w.depth >= 6 && c->w.key[4] == CK_TOOL_CALLS)
#define IN_LOGPROBS (IN_CHOICE && c->w.depth >= 4 && c->w.key[3] == CK_LOGPROBS)

/* Which logprobs member is key k, or -1. */
static int
lp_slot(int k)
{
	size_t i;

	for (i = 0; i < CHAT_NLP; i++)
		if (chat_lp[i].key == k)
			return (int)i;
	return -1;
}

static void
tool_free(struct chat_tool *t)
{
	buf_free(&t->id);
	buf_free(&t->type);
	buf_free(&t->name);
	buf_free(&t->args);
}

static void
choice_free(struct chat_choice *ch)
{
	size_t i;

	for (i = 0; i < CHAT_NF; i++)
		buf_free(&ch->text[i]);
	for (i = 0; i < CHAT_NLP; i++)
		buf_free(&ch->lpv[i]);
	buf_free(&ch->finish);
	for (i = 0; i < ch->ntools; i++)
		tool_free(&ch->tools[i]);
	free(ch->tools);
	memset(ch, 0, sizeof *ch);
}

/* The current tool-call fragment. */
static struct chat_tool *
cur_tool(struct chat *c)
{
	return c->cur_ntc ? &c->cur_tc[c->cur_ntc - 1] : NULL;
}

/* An index as sent: a small non-negative integer, or -1. */
static long
small_int(const char *s)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (*s - '0')) > MAXCHOICE)
			return -1;
	return *s ? -1 : v;
}

/*
 * Surrogate halves split across chunks.  A chunk's text may end with the
 * escape "\ud83d" and the next one's begin with "\ude00": each chunk
 * alone holds a lone surrogate escape, which yajl decodes to '?' (a high
 * one) or to the three bytes ED B8 80 (a low one).  The '?' of a lone
 * high escape is held back (its code unit kept) until the choice's next
 * text of the same kind: a low half there joins it into one character,
 * anything else, the choice's end or the stream's, makes it U+FFFD.
 */
/* The string just read decodes to end in '?': did its JSON text end in a
 * high surrogate escape?  Its code unit, or 0.  Called from the string
 * callback, where yajl has consumed the piece up to the closing quote. */
static unsigned
lone_high(const struct chat *c)
{
	size_t k = yajl_get_bytes_consumed(c->w.h), need;
	unsigned u = 0;
	char w[6];
	int i, x;

	if (k-- == 0)
		return 0;	/* k: the closing quote, in c->w.in */
	if (k >= 6)
		memcpy(w, c->w.in + k - 6, 6);
	else {
		need = 6 - k;
		if (c->ntail < need)
			return 0;
		memcpy(w, c->tail + c->ntail - need, need);
		memcpy(w + need, c->w.in, k);
	}
	if (w[0] != '\\' || w[1] != 'u')
		return 0;
	for (i = 2; i < 6; i++) {
		x = w[i] | 0x20;
		if (w[i] >= '0' && w[i] <= '9')
			u = u << 4 | (unsigned)(w[i] - '0');
		else if (x >= 'a' && x <= 'f')
			u = u << 4 | (unsigned)(x - 'a' + 10);
		else
			return 0;
	}
	return u >= 0xd800 && u <= 0xdbff ? u : 0;
}

/* The high surrogate hi meets b[at..]: a low half there (as yajl decodes
 * it) joins it into one character; else it becomes U+FFFD. */
static void
hi_fix(struct buf *b, size_t at, unsigned hi)
{
	size_t rest = b->len - at;
	unsigned long cp;
	unsigned char *q;

	q = rest ? (unsigned char *)b->p + at : NULL;
	if (rest >= 3 && q[0] == 0xed && (q[1] & 0xf0) == 0xb0 &&
	    (q[2] & 0xc0) == 0x80) {
		cp = 0x10000 + ((unsigned long)(hi - 0xd800) << 10) +
		    ((unsigned long)(q[1] & 0x0f) << 6 | (q[2] & 0x3f));
		buf_putc(b, 0);
		q = (unsigned char *)b->p + at;
		memmove(q + 4, q + 3, rest - 3);
		q[0] = (unsigned char)(0xf0 | cp >> 18);
		q[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		q[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		q[3] = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		buf_put(b, UTF8_FFFD, 3);
		q = (unsigned char *)b->p + at;
		memmove(q + 3, q, rest);
		memcpy(q, UTF8_FFFD, 3);
	}
}

/* A piece of text of kind f in the current choice of this chunk. */
static void
text_put(struct chat *c, int f, const char *s, size_t n)
{
	struct buf *b = &c->cur_text[f];
	size_t at = b->len;

	buf_put(b, s, n);
	if (c->cur_hi[f] && n) {	/* more text after a lone high */
		hi_fix(b, at, c->cur_hi[f]);
		c->cur_hi[f] = 0;
	}
	if (n && s[n - 1] == '?' && (c->cur_hi[f] = lone_high(c)))
		b->p[--b->len] = '\0';
}

/* A scalar at the current place; type 's' string, 'n' number, '0' null,
 * 'b' boolean, with its JSON text in json. */
static void
scalar(struct chat *c, int type, const char *s, size_t n,
    const char *json, size_t jn)
{
	struct chat_tool *t;
	struct buf *top = NULL;
	char num[32];

	if (type == 'n') {
		/* yajl's number text is not NUL-terminated. */
		if (jn > sizeof num - 1)
			jn = sizeof num - 1;
		memcpy(num, json, jn);
		num[jn] = '\0';
		s = num;
	}

	if (c->w.depth == 1) {
		switch (c->w.key[1]) {
		case CK_ID: top = &c->a.id; break;
		case CK_OBJECT: top = &c->a.object; break;
		case CK_CREATED: top = &c->a.created; break;
		case CK_MODEL: top = &c->a.model; break;
		case CK_FP: top = &c->a.fp; break;
		case CK_TIER: top = &c->a.tier; break;
		}
		/* The first non-empty value: not null, "" or a created 0
		 * (Azure's first chunk has them all). */
		if (top && !top->len && type != '0' && !(type == 's' && !n) &&
		    !(jn == 1 && json[0] == '0'))
			buf_put(top, json, jn);
		return;
	}
	if (c->w.depth == 3 && c->w.key[1] == CK_CHOICES) {
		if (c->w.key[3] == CK_INDEX && type == 'n') {
			c->cur_index = small_int(s);
		} else if (c->w.key[3] == CK_TEXT && type == 's') {
			text_put(c, DK_CONTENT, s, n);
		} else if (c->w.key[3] == CK_FINISH && type != '0') {
			buf_reset(&c->cur_finish);
			buf_put(&c->cur_finish, json, jn);
		}
		return;
	}
	if (c->w.depth == 4 && IN_DELTA) {
		if (type != 's')
			return;
		if (c->w.key[4] == CK_CONTENT)
			text_put(c, DK_CONTENT, s, n);
		else if (c->w.key[4] == CK_REASONING)
			text_put(c, DK_REASONING, s, n);
		else if (c->w.key[4] == CK_REFUSAL)
			text_put(c, DK_REFUSAL, s, n);
		return;
	}
	if (c->w.depth == 4 && IN_LOGPROBS) {
		int k = lp_slot(c->w.key[4]);

		if (k >= 0 && c->cur_lps[k] == LP_ABSENT)
			c->cur_lps[k] = LP_OTHER;
		return;
	}
	if (!IN_TOOL || !(t = cur_tool(c)))
		return;
	if (c->w.depth == 6) {
		if (c->w.key[6] == CK_INDEX && type == 'n')
			t->index = small_int(s);
		else if (c->w.key[6] == CK_ID && type == 's')
			buf_put(&t->id, s, n);
		else if (c->w.key[6] == CK_TYPE && type == 's')
			buf_put(&t->type, s, n);
	} else if (c->w.depth == 7 && c->w.key[6] == CK_FUNCTION &&
	    type == 's') {
		if (c->w.key[7] == CK_NAME)
			buf_put(&t->name, s, n);
		else if (c->w.key[7] == CK_ARGS)
			buf_put(&t->args, s, n);
	}
}

/* Is the top-level member being read one we keep and have not yet? */
static int
top_wanted(const struct chat *c)
{
	switch (c->w.key[1]) {
	case CK_ID: return !c->a.id.len;
	case CK_OBJECT: return !c->a.object.len;
	case CK_MODEL: return !c->a.model.len;
	case CK_FP: return !c->a.fp.len;
	case CK_TIER: return !c->a.tier.len;
	default: return 0;
	}
}

/* Where a value is about to begin: start the captures it needs. */
static void
value_start(struct chat *c)
{
	if (c->w.depth == 1 && c->w.key[1] == CK_USAGE)
		jev_cap_start(&c->w, &c->a.usage);
	else if (c->w.depth == 1 && c->w.key[1] == CK_ERROR)
		jev_cap_start(&c->w, &c->error);
	else if (c->w.depth == 4 && IN_DELTA && c->w.key[4] == CK_TOOL_CALLS) {
		jev_cap_start(&c->w, &c->cur_tools);
		c->cur_has_tools = 1;
	}
}

/* The walker's hook for a scalar: its JSON text for the few places
 * whose value is kept as sent. */
static void
on_scalar(void *ctx, int type, const char *s, size_t n)
{
	struct chat *c = ctx;
	struct buf j = { 0 };

	value_start(c);
	if (type != 's') {
		scalar(c, type, NULL, 0, s, n);
		/* "usage": null is no usage, "error": null no error. */
		if (type == '0' && c->w.depth == 1 &&
		    (c->w.key[1] == CK_USAGE || c->w.key[1] == CK_ERROR))
			jev_cap_drop(&c->w);
		return;
	}
	if ((c->w.depth == 1 && top_wanted(c)) ||
	    (c->w.depth == 3 && c->w.key[1] == CK_CHOICES &&
	    c->w.key[3] == CK_FINISH)) {
		json_str(&j, s, n);
		scalar(c, 's', s, n, j.p, j.len);
		buf_free(&j);
	} else
		scalar(c, 's', s, n, NULL, 0);
}

/* The walker's hook where a container begins (kind '{' or '['): a
 * choice's logprobs, a new choice, a new tool-call fragment. */
static void
on_begin(void *ctx, int kind)
{
	struct chat *c = ctx;
	struct chat_tool *t;
	int k;

	if (kind == '{' && c->w.depth == 3 && IN_CHOICE &&
	    c->w.key[3] == CK_LOGPROBS)
		c->cur_lp = 1;
	else if (kind == '[' && c->w.depth == 4 && IN_LOGPROBS &&
	    (k = lp_slot(c->w.key[4])) >= 0) {
		jev_cap_start(&c->w, &c->cur_lpv[k]);
		c->cur_lps[k] = LP_ARRAY;
	}
	value_start(c);
	if (c->w.depth == 2 && c->w.key[1] == CK_CHOICES) {
		/* A new choice in this chunk. */
		c->cur_index = 0;
		c->cur_has_tools = 0;
		for (k = 0; k < CHAT_NF; k++) {
			buf_reset(&c->cur_text[k]);
			c->cur_hi[k] = 0;
		}
		if (c->cur_lp) {
			c->cur_lp = 0;
			for (k = 0; k < (int)CHAT_NLP; k++) {
				buf_reset(&c->cur_lpv[k]);
				c->cur_lps[k] = LP_ABSENT;
			}
		}
		buf_reset(&c->cur_tools);
		buf_reset(&c->cur_finish);
		while (c->cur_ntc)
			tool_free(&c->cur_tc[--c->cur_ntc]);
	} else if (c->w.depth == 5 && IN_DELTA &&
	    c->w.key[4] == CK_TOOL_CALLS) {
		c->cur_tc = xgrow(c->cur_tc, &c->cur_atc, sizeof *t,
		    c->cur_ntc);
		t = &c->cur_tc[c->cur_ntc++];
		memset(t, 0, sizeof *t);
		t->index = (long)c->cur_ntc - 1;
	}
}

/* Fold one tool-call fragment into the choice's assembled calls. */
static int
tool_apply(struct chat_choice *ch, const struct chat_tool *f)
{
	struct chat_tool *t;
	size_t i;

	for (i = 0; i < ch->ntools; i++)
		if (ch->tools[i].index == f->index)
			break;
	if (i == ch->ntools) {
		if (ch->ntools >= MAXCHOICE)
			return -1;
		t = realloc(ch->tools, (ch->ntools + 1) * sizeof *t);
		if (!t)
			err(2, "out of memory");
		ch->tools = t;
		t = &ch->tools[ch->ntools++];
		memset(t, 0, sizeof *t);
		t->index = f->index;
	}
	t = &ch->tools[i];
	if (!t->id.len)
		buf_put(&t->id, f->id.p, f->id.len);
	if (!t->type.len)
		buf_put(&t->type, f->type.p, f->type.len);
	if (!t->name.len)
		buf_put(&t->name, f->name.p, f->name.len);
	buf_put(&t->args, f->args.p, f->args.len);
	return 0;
}

/* Fold this chunk's logprobs into the choice's: arrays concatenated. */
static void
lp_fold(struct chat_choice *ch, const struct chat *c)
{
	const struct buf *v;
	size_t i;

	ch->lp = 1;
	for (i = 0; i < CHAT_NLP; i++) {
		if (c->cur_lps[i] > ch->lps[i])
			ch->lps[i] = c->cur_lps[i];
		v = &c->cur_lpv[i];
		if (c->cur_lps[i] != LP_ARRAY || v->len <= 2)
			continue;	/* not an array, or [] */
		if (ch->lpv[i].len)
			buf_putc(&ch->lpv[i], ',');
		buf_put(&ch->lpv[i], v->p + 1, v->len - 2);
	}
}

/* The end of one choice of one chunk: report the delta, assemble. */
static int
choice_end(struct chat *c)
{
	struct chat_choice *ch;
	struct delta d;
	struct buf *b;
	size_t i;
	int f, any = 0;

	if (c->cur_index < 0 || c->cur_index >= MAXCHOICE)
		return 0;
	c->a.ch = xgrow(c->a.ch, &c->a.nch, sizeof *ch, (size_t)c->cur_index);
	ch = &c->a.ch[c->cur_index];
	ch->seen = 1;
	for (f = 0; f < CHAT_NF; f++) {
		b = &c->cur_text[f];
		/* A half held back meets this chunk's text. */
		if (ch->hi[f] && (b->len || c->cur_hi[f])) {
			hi_fix(b, 0, ch->hi[f]);
			ch->hi[f] = 0;
		}
		if (c->cur_hi[f])
			ch->hi[f] = c->cur_hi[f];
		if (ch->hi[f] && c->cur_finish.len) {
			buf_put(b, UTF8_FFFD, 3);	/* no partner to come */
			ch->hi[f] = 0;
		}
		buf_put(&ch->text[f], b->p, b->len);
	}
	if (c->cur_lp)
		lp_fold(ch, c);
	if (c->cur_finish.len) {
		buf_reset(&ch->finish);
		buf_put(&ch->finish, c->cur_finish.p, c->cur_finish.len);
	}
	for (i = 0; i < c->cur_ntc; i++)
		if (tool_apply(ch, &c->cur_tc[i]) < 0)
			return 0;
	memset(&d, 0, sizeof d);
	d.index = c->cur_index;
	for (f = 0; f < CHAT_NF; f++)
		if (c->cur_text[f].len)
			delta_set(&d, f, &c->cur_text[f]), any = 1;
	if (c->cur_has_tools && c->cur_ntc)
		delta_set(&d, DK_TOOL_CALLS, &c->cur_tools), any = 1;
	if (any)
		c->on_delta(c->ctx, &d);
	return 1;
}

/* The walker's hook where a container ended: a choice's end. */
static int
on_end(void *ctx)
{
	struct chat *c = ctx;

	if (c->w.depth == 2 && c->w.key[1] == CK_CHOICES)
		return choice_end(c);
	return 1;
}

/* No path we follow goes deeper than 7. */
static const struct jev_hooks chat_hooks = {
	.begin = on_begin, .scalar = on_scalar, .end = on_end,
	.begin_at = JEV_AT(1) | JEV_AT(2) | JEV_AT(3) | JEV_AT(4) | JEV_AT(5),
	.end_at = JEV_AT(2),
	.names = known_keys, .nnames = NKEYS(known_keys), .deep = 7
};

static void *
chat_open(void (*on_delta)(void *, const struct delta *), void *ctx)
{
	struct chat *c = xcalloc(1, sizeof *c);

	c->on_delta = on_delta;
	c->ctx = ctx;
	jev_init(&c->w, &chat_hooks, c);
	return c;
}

/* Forget everything: a new attempt starts a new stream. */
static void
chat_reset(void *p)
{
	struct chat *c = p;
	size_t i;

	jev_reset(&c->w);
	while (c->cur_ntc)
		tool_free(&c->cur_tc[--c->cur_ntc]);
	for (i = 0; i < CHAT_NF; i++) {
		buf_reset(&c->cur_text[i]);
		c->cur_hi[i] = 0;
	}
	for (i = 0; i < CHAT_NLP; i++) {
		buf_reset(&c->cur_lpv[i]);
		c->cur_lps[i] = LP_ABSENT;
	}
	c->cur_lp = 0;
	c->ntail = 0;
	buf_reset(&c->cur_tools);
	buf_reset(&c->cur_finish);
	buf_reset(&c->a.id);
	buf_reset(&c->a.object);
	buf_reset(&c->a.created);
	buf_reset(&c->a.model);
	buf_reset(&c->a.fp);
	buf_reset(&c->a.tier);
	buf_reset(&c->a.usage);
	buf_reset(&c->error);
	for (i = 0; i < c->a.nch; i++)
		choice_free(&c->a.ch[i]);
	c->done = 0;
}

static void
chat_close(void *p)
{
	struct chat *c = p;
	size_t i;

	if (!c)
		return;
	chat_reset(c);
	free(c->cur_tc);
	free(c->a.ch);
	for (i = 0; i < CHAT_NF; i++)
		buf_free(&c->cur_text[i]);
	for (i = 0; i < CHAT_NLP; i++)
		buf_free(&c->cur_lpv[i]);
	buf_free(&c->cur_tools);
	buf_free(&c->cur_finish);
	buf_free(&c->a.id);
	buf_free(&c->a.object);
	buf_free(&c->a.created);
	buf_free(&c->a.model);
	buf_free(&c->a.fp);
	buf_free(&c->a.tier);
	buf_free(&c->a.usage);
	buf_free(&c->error);
	jev_free(&c->w);
	free(c);
}

/*
 * Bytes of the current event's data payload, as they arrive.  A payload
 * that does not start with '{' is not fed to the parser; chat_event()
 * then judges it whole ([DONE] or malformed).
 */
static int
chat_data(void *cp, const char *p, size_t n)
{
	struct chat *c = cp;
	int fresh = !c->w.started;

	if (!jev_data(&c->w, p, n))
		return 1;
	if (fresh)
		c->ntail = 0;
	/* The last bytes of the event so far, for lone_high(). */
	n -= (size_t)(c->w.in - p);
	p = c->w.in;
	if (n >= sizeof c->tail) {
		memcpy(c->tail, p + n - sizeof c->tail, sizeof c->tail);
		c->ntail = sizeof c->tail;
	} else {
		size_t keep = sizeof c->tail - n;

		if (keep > c->ntail)
			keep = c->ntail;
		memmove(c->tail, c->tail + c->ntail - keep, keep);
		memcpy(c->tail + keep, p, n);
		c->ntail = keep + n;
	}
	return 1;
}

/* The stream's end: each half still held back becomes U+FFFD, in a
 * delta of its own and in the assembled text. */
static void
flush_held(struct chat *c)
{
	struct chat_choice *ch;
	struct delta d;
	size_t i;
	int f;

	for (i = 0; i < c->a.nch; i++) {
		ch = &c->a.ch[i];
		if (!(ch->hi[DK_CONTENT] | ch->hi[DK_REASONING] |
		    ch->hi[DK_REFUSAL]))
			continue;
		memset(&d, 0, sizeof d);
		d.index = (long)i;
		for (f = 0; f < CHAT_NF; f++) {
			if (!ch->hi[f])
				continue;
			ch->hi[f] = 0;
			d.p[f] = UTF8_FFFD, d.len[f] = 3;
			buf_put(&ch->text[f], UTF8_FFFD, 3);
		}
		c->on_delta(c->ctx, &d);
	}
}

/*
 * The event ev is complete.  Returns CHAT_MORE to go on, CHAT_DONE at
 * [DONE], CHAT_ERROR for an error object (its JSON in chat_error()), or
 * CHAT_BAD for a payload that is not one JSON object (described in msg).
 */
static int
chat_event(void *p, const struct sse_event *ev, struct buf *msg)
{
	struct chat *c = p;
	const char *data = ev->data;
	size_t n = ev->data_len;

	if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
		jev_next(&c->w);
		c->done = 1;
		flush_held(c);
		return CHAT_DONE;
	}
	switch (jev_end(&c->w, data, n, msg)) {
	case JEV_EMPTY:
		return CHAT_MORE;	/* an empty data line: nothing read */
	case JEV_BAD:
		return CHAT_BAD;
	}
	if (c->error.len)
		return CHAT_ERROR;
	return CHAT_MORE;
}

/* The JSON of a mid-stream error object. */
static const struct buf *
chat_error(const void *p)
{
	const struct chat *c = p;

	return &c->error;
}

/*
 * Open until [DONE]; then truncated when a choice got content and no
 * finish_reason (its index in *which), else complete.
 */
static int
chat_state(const void *p, long *which)
{
	const struct chat *c = p;

	if (!c->done)
		return DEC_OPEN;
	return (*which = chat_truncated(&c->a)) >= 0 ? DEC_TRUNCATED :
	    DEC_COMPLETE;
}

static void
chat_result(const void *p, struct result *r)
{
	const struct chat *c = p;

	chat_write(&c->a, r);
}

const struct dialect dialect_chat = {
	"chat", "[DONE]", chat_open, chat_reset, chat_close, chat_data,
	chat_event, chat_error, chat_state, chat_result, chat_body
};
