/*
 * chat.c: reading a chat or completion stream, chunk by chunk.
 *
 * Each SSE data payload is walked as its bytes arrive (jevent.c: one
 * yajl parser taking the chunks one after another, a key stack, raw
 * captures).  The hooks here follow the few paths that matter, hand every
 * piece of content to the caller as a delta, and assemble the answer the
 * server would have given without streaming, as the official OpenAI SDK
 * accumulates the same chunks (refusal, logprobs arrays, surrogate pairs
 * split across chunks, the first non-empty id, model and created).
 */
#include <err.h>
#include <stdio.h>
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

/* The texts of a choice, the delta kinds before DK_TOOL_CALLS: what a
 * delta carries, joined over the stream. */
#define NF DK_TOOL_CALLS

/*
 * The array members of a choice's logprobs, each concatenated over the
 * stream as the official SDK does: content and refusal of a chat, the
 * four parallel arrays of a completion.
 */
static const struct {
	const char *name;
	int key;
} lp_members[] = {
	{ "content", CK_CONTENT }, { "refusal", CK_REFUSAL },
	{ "tokens", CK_TOKENS }, { "token_logprobs", CK_TOKEN_LP },
	{ "top_logprobs", CK_TOP_LP }, { "text_offset", CK_OFFSET },
};

#define NLP (sizeof lp_members / sizeof lp_members[0])

/* A logprobs member: absent, present but not an array, an array. */
enum { LP_ABSENT, LP_OTHER, LP_ARRAY };

#undef K

struct tool {
	long index;
	struct buf id, type, name, args;
};

/* One choice as assembled over the whole stream. */
struct choice {
	int seen;
	struct buf text[NF], finish;
	unsigned hi[NF];	/* a high surrogate held back, or 0 */
	int lp;			/* a chunk had a logprobs object */
	unsigned char lps[NLP];	/* LP_... of each member */
	struct buf lpv[NLP];	/* the arrays' elements, joined */
	struct tool *tools;
	size_t ntools;
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
	struct buf cur_text[NF], cur_tools, cur_finish;
	unsigned cur_hi[NF];	/* its text ended in a lone high surrogate */
	int cur_lp;
	unsigned char cur_lps[NLP];
	struct buf cur_lpv[NLP];
	struct tool *cur_tc;	/* tool-call fragments of this choice */
	size_t cur_ntc, cur_atc;

	/* The assembled answer. */
	struct buf id, object, created, model, fp, tier, usage, error;
	struct choice *ch;
	size_t nch;
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

	for (i = 0; i < NLP; i++)
		if (lp_members[i].key == k)
			return (int)i;
	return -1;
}

static void
tool_free(struct tool *t)
{
	buf_free(&t->id);
	buf_free(&t->type);
	buf_free(&t->name);
	buf_free(&t->args);
}

static void
choice_free(struct choice *ch)
{
	size_t i;

	for (i = 0; i < NF; i++)
		buf_free(&ch->text[i]);
	for (i = 0; i < NLP; i++)
		buf_free(&ch->lpv[i]);
	buf_free(&ch->finish);
	for (i = 0; i < ch->ntools; i++)
		tool_free(&ch->tools[i]);
	free(ch->tools);
	memset(ch, 0, sizeof *ch);
}

/* Grow an array of n elements of size sz to hold index i; returns the
 * new array or NULL (the old one untouched) when it cannot. */
static void *
grow_to(void *a, size_t *n, size_t sz, size_t i)
{
	size_t m = *n ? *n : 1;
	char *p;

	if (i < *n)
		return a;
	while (m <= i)
		m *= 2;
	if (!(p = realloc(a, m * sz)))
		return NULL;
	memset(p + *n * sz, 0, (m - *n) * sz);
	*n = m;
	return p;
}

/* The current tool-call fragment. */
static struct tool *
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
#define FFFD "\xef\xbf\xbd"

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
		buf_put(b, FFFD, 3);
		q = (unsigned char *)b->p + at;
		memmove(q + 3, q, rest);
		memcpy(q, FFFD, 3);
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
	struct tool *t;
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
		case CK_ID: top = &c->id; break;
		case CK_OBJECT: top = &c->object; break;
		case CK_CREATED: top = &c->created; break;
		case CK_MODEL: top = &c->model; break;
		case CK_FP: top = &c->fp; break;
		case CK_TIER: top = &c->tier; break;
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
	case CK_ID: return !c->id.len;
	case CK_OBJECT: return !c->object.len;
	case CK_MODEL: return !c->model.len;
	case CK_FP: return !c->fp.len;
	case CK_TIER: return !c->tier.len;
	default: return 0;
	}
}

/* Where a value is about to begin: start the captures it needs. */
static void
value_start(struct chat *c)
{
	if (c->w.depth == 1 && c->w.key[1] == CK_USAGE)
		jev_cap_start(&c->w, &c->usage);
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
	struct tool *t;
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
		for (k = 0; k < NF; k++) {
			buf_reset(&c->cur_text[k]);
			c->cur_hi[k] = 0;
		}
		if (c->cur_lp) {
			c->cur_lp = 0;
			for (k = 0; k < (int)NLP; k++) {
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
		t = grow_to(c->cur_tc, &c->cur_atc, sizeof *t, c->cur_ntc);
		if (!t)
			err(2, "out of memory");
		c->cur_tc = t;
		t = &c->cur_tc[c->cur_ntc++];
		memset(t, 0, sizeof *t);
		t->index = (long)c->cur_ntc - 1;
	}
}

/* Fold one tool-call fragment into the choice's assembled calls. */
static int
tool_apply(struct choice *ch, const struct tool *f)
{
	struct tool *t;
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
lp_fold(struct choice *ch, const struct chat *c)
{
	const struct buf *v;
	size_t i;

	ch->lp = 1;
	for (i = 0; i < NLP; i++) {
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
	struct choice *ch;
	struct delta d;
	struct buf *b;
	size_t i;
	int f, any = 0;

	if (c->cur_index < 0 || c->cur_index >= MAXCHOICE)
		return 0;
	ch = grow_to(c->ch, &c->nch, sizeof *ch, (size_t)c->cur_index);
	if (!ch)
		err(2, "out of memory");
	c->ch = ch;
	ch = &c->ch[c->cur_index];
	ch->seen = 1;
	for (f = 0; f < NF; f++) {
		b = &c->cur_text[f];
		/* A half held back meets this chunk's text. */
		if (ch->hi[f] && (b->len || c->cur_hi[f])) {
			hi_fix(b, 0, ch->hi[f]);
			ch->hi[f] = 0;
		}
		if (c->cur_hi[f])
			ch->hi[f] = c->cur_hi[f];
		if (ch->hi[f] && c->cur_finish.len) {
			buf_put(b, FFFD, 3);	/* no partner to come */
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
	for (f = 0; f < NF; f++)
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
	for (i = 0; i < NF; i++) {
		buf_reset(&c->cur_text[i]);
		c->cur_hi[i] = 0;
	}
	for (i = 0; i < NLP; i++) {
		buf_reset(&c->cur_lpv[i]);
		c->cur_lps[i] = LP_ABSENT;
	}
	c->cur_lp = 0;
	c->ntail = 0;
	buf_reset(&c->cur_tools);
	buf_reset(&c->cur_finish);
	buf_reset(&c->id);
	buf_reset(&c->object);
	buf_reset(&c->created);
	buf_reset(&c->model);
	buf_reset(&c->fp);
	buf_reset(&c->tier);
	buf_reset(&c->usage);
	buf_reset(&c->error);
	for (i = 0; i < c->nch; i++)
		choice_free(&c->ch[i]);
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
	free(c->ch);
	for (i = 0; i < NF; i++)
		buf_free(&c->cur_text[i]);
	for (i = 0; i < NLP; i++)
		buf_free(&c->cur_lpv[i]);
	buf_free(&c->cur_tools);
	buf_free(&c->cur_finish);
	buf_free(&c->id);
	buf_free(&c->object);
	buf_free(&c->created);
	buf_free(&c->model);
	buf_free(&c->fp);
	buf_free(&c->tier);
	buf_free(&c->usage);
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
	struct choice *ch;
	struct delta d;
	size_t i;
	int f;

	for (i = 0; i < c->nch; i++) {
		ch = &c->ch[i];
		if (!(ch->hi[DK_CONTENT] | ch->hi[DK_REASONING] |
		    ch->hi[DK_REFUSAL]))
			continue;
		memset(&d, 0, sizeof d);
		d.index = (long)i;
		for (f = 0; f < NF; f++) {
			if (!ch->hi[f])
				continue;
			ch->hi[f] = 0;
			d.p[f] = FFFD, d.len[f] = 3;
			buf_put(&ch->text[f], FFFD, 3);
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

/* Has the choice any text of kind f, held-back half included? */
static int
has_text(const struct choice *ch, int f)
{
	return ch->text[f].len || ch->hi[f];
}

/* The choice's text of kind f as a JSON string; a half still held back
 * (the stream cut short) as U+FFFD. */
static void
put_text(struct buf *b, const struct choice *ch, int f)
{
	json_str(b, ch->text[f].p, ch->text[f].len);
	if (ch->hi[f]) {
		b->len--;	/* the closing quote */
		buf_put(b, FFFD "\"", 4);
	}
}

/*
 * Open until [DONE].  A relay appends [DONE] even after an upstream
 * cut-off: a choice that received content and has no finish_reason was
 * truncated (its index in *which); else the stream is complete.
 */
static int
chat_state(const void *p, long *which)
{
	const struct chat *c = p;
	const struct choice *ch;
	size_t i;

	if (!c->done)
		return DEC_OPEN;
	for (i = 0; i < c->nch; i++) {
		ch = &c->ch[i];
		if (ch->seen && !ch->finish.len &&
		    (has_text(ch, DK_CONTENT) || has_text(ch, DK_REASONING) ||
		    has_text(ch, DK_REFUSAL) || ch->ntools)) {
			*which = (long)i;
			return DEC_TRUNCATED;
		}
	}
	return DEC_COMPLETE;
}

static void
put_or(struct buf *b, const struct buf *v, const char *dflt)
{
	if (v->len)
		buf_put(b, v->p, v->len);
	else
		buf_puts(b, dflt);
}

/* "tool_calls":[...] of one assembled choice */
static void
put_tools(struct buf *b, const struct choice *ch)
{
	const struct tool *t;
	size_t k;

	buf_puts(b, ",\"tool_calls\":[");
	for (k = 0; k < ch->ntools; k++) {
		t = &ch->tools[k];
		if (k)
			buf_putc(b, ',');
		buf_puts(b, "{\"id\":");
		json_str(b, t->id.p, t->id.len);
		buf_puts(b, ",\"type\":");
		if (t->type.len)
			json_str(b, t->type.p, t->type.len);
		else
			buf_puts(b, "\"function\"");
		buf_puts(b, ",\"function\":{\"name\":");
		json_str(b, t->name.p, t->name.len);
		buf_puts(b, ",\"arguments\":");
		json_str(b, t->args.p, t->args.len);
		buf_puts(b, "}}");
	}
	buf_putc(b, ']');
}

/* The choice's logprobs: null when no chunk had them, else each member
 * a chunk had, its arrays' elements concatenated. */
static void
put_logprobs(struct buf *b, const struct choice *ch)
{
	size_t i;
	int first = 1;

	if (!ch->lp) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '{');
	for (i = 0; i < NLP; i++) {
		if (ch->lps[i] == LP_ABSENT)
			continue;
		if (!first)
			buf_putc(b, ',');
		first = 0;
		buf_putc(b, '"');
		buf_puts(b, lp_members[i].name);
		buf_puts(b, "\":");
		if (ch->lps[i] == LP_ARRAY) {
			buf_putc(b, '[');
			buf_put(b, ch->lpv[i].p, ch->lpv[i].len);
			buf_putc(b, ']');
		} else
			buf_puts(b, "null");
	}
	buf_putc(b, '}');
}

/* One assembled choice, as a non-streamed answer has it. */
static void
put_choice(struct buf *b, const struct choice *ch, size_t i, int completion)
{
	char num[24];

	buf_puts(b, "{\"index\":");
	snprintf(num, sizeof num, "%zu", i);
	buf_puts(b, num);
	if (completion) {
		buf_puts(b, ",\"text\":");
		put_text(b, ch, DK_CONTENT);
	} else {
		buf_puts(b, ",\"message\":{\"role\":\"assistant\","
		    "\"content\":");
		/* null beside tool calls or a refusal, as the SDK has it */
		if (has_text(ch, DK_CONTENT) ||
		    !(ch->ntools || has_text(ch, DK_REFUSAL)))
			put_text(b, ch, DK_CONTENT);
		else
			buf_puts(b, "null");
		if (has_text(ch, DK_REFUSAL)) {
			buf_puts(b, ",\"refusal\":");
			put_text(b, ch, DK_REFUSAL);
		}
		if (has_text(ch, DK_REASONING)) {
			buf_puts(b, ",\"reasoning_content\":");
			put_text(b, ch, DK_REASONING);
		}
		if (ch->ntools)
			put_tools(b, ch);
		buf_putc(b, '}');
	}
	buf_puts(b, ",\"logprobs\":");
	put_logprobs(b, ch);
	buf_puts(b, ",\"finish_reason\":");
	put_or(b, &ch->finish, "null");
	buf_putc(b, '}');
}

/*
 * Write the answer the server would have sent without streaming into r:
 * a chat.completion (or text_completion) body, choice 0's content and
 * finish_reason, and the usage if the stream carried it.
 */
static void
chat_result(const void *p, struct result *r)
{
	const struct chat *c = p;
	int completion = c->object.len &&
	    strstr(c->object.p, "text_completion") != NULL;
	const struct choice *ch;
	size_t i;
	int first = 1;

	buf_reset(&r->body);
	buf_puts(&r->body, "{\"id\":");
	put_or(&r->body, &c->id, "null");
	buf_puts(&r->body, completion ? ",\"object\":\"text_completion\"" :
	    ",\"object\":\"chat.completion\"");
	buf_puts(&r->body, ",\"created\":");
	put_or(&r->body, &c->created, "null");
	buf_puts(&r->body, ",\"model\":");
	put_or(&r->body, &c->model, "null");
	if (c->fp.len) {
		buf_puts(&r->body, ",\"system_fingerprint\":");
		buf_put(&r->body, c->fp.p, c->fp.len);
	}
	if (c->tier.len) {
		buf_puts(&r->body, ",\"service_tier\":");
		buf_put(&r->body, c->tier.p, c->tier.len);
	}
	buf_puts(&r->body, ",\"choices\":[");
	for (i = 0; i < c->nch; i++) {
		ch = &c->ch[i];
		if (!ch->seen)
			continue;
		if (!first)
			buf_putc(&r->body, ',');
		first = 0;
		put_choice(&r->body, ch, i, completion);
	}
	buf_putc(&r->body, ']');
	if (c->usage.len) {
		buf_puts(&r->body, ",\"usage\":");
		buf_put(&r->body, c->usage.p, c->usage.len);
	}
	buf_putc(&r->body, '}');

	buf_reset(&r->content);
	buf_reset(&r->finish);
	buf_reset(&r->usage);
	if (c->nch && c->ch[0].seen) {
		ch = &c->ch[0];
		if (has_text(ch, DK_CONTENT) || !ch->ntools)
			put_text(&r->content, ch, DK_CONTENT);
		else
			buf_puts(&r->content, "null");
		put_or(&r->finish, &ch->finish, "null");
	}
	if (c->usage.len)
		buf_put(&r->usage, c->usage.p, c->usage.len);
}

/*
 * A non-streamed chat or completions answer body[0..n): its compact JSON
 * in res->body, choice 0's text, finish_reason and the usage.  0, or -1
 * when body is not JSON (why in msg).
 */
static int
chat_body(const char *body, size_t n, struct result *res, struct buf *msg)
{
	struct jpick pk[4] = {
		{ .path = "choices.0.message.content" },
		{ .path = "choices.0.text" },
		{ .path = "choices.0.finish_reason" }, { .path = "usage" }
	};
	struct jpick *c = &pk[0];
	int rc;

	if ((rc = json_compact(body, n, &res->body, pk, 4, msg)) == 0) {
		if (!c->val.len)
			c = &pk[1];
		buf_put(&res->content, c->val.p, c->val.len);
		buf_put(&res->finish, pk[2].val.p, pk[2].val.len);
		buf_put(&res->usage, pk[3].val.p, pk[3].val.len);
	}
	json_picks_free(pk, 4);
	return rc;
}

const struct dialect dialect_chat = {
	"chat", "[DONE]", chat_open, chat_reset, chat_close, chat_data,
	chat_event, chat_error, chat_state, chat_result, chat_body
};
