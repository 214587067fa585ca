/*
 * gemini.c: reading a Gemini stream (streamGenerateContent?alt=sse),
 * chunk by chunk.
 *
 * Each data line is one GenerateContentResponse.  Its bytes go to one
 * yajl parser as they arrive (jevent.c walks them); the hooks follow the
 * paths that matter (candidates[].content.parts[], finishReason,
 * usageMetadata, modelVersion, responseId, error), hand each
 * candidate's new text to the caller as a delta, and assemble the one
 * GenerateContentResponse the server would have sent without streaming.
 * The stream has no terminal event: it is complete once every candidate
 * it named has a finishReason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "vmanjl.h"

#define MAXCAND 4096	/* a bound on a server's candidate index */

enum {
	GK_OTHER, GK_CANDIDATES, GK_USAGE, GK_MODEL, GK_RID, GK_ERROR,
	GK_FEEDBACK, GK_BLOCK, GK_INDEX, GK_CONTENT, GK_FINISH, GK_SAFETY,
	GK_PARTS, GK_TEXT, GK_THOUGHT, GK_CALL, GK_SIG, GK_NAME, GK_ARGS,
	GK_ID
};

#define K(s, k) JEV_NAME(s, k)

static const struct jev_name known_keys[] = {
	K("text", GK_TEXT), K("thought", GK_THOUGHT),
	K("parts", GK_PARTS), K("content", GK_CONTENT),
	K("candidates", GK_CANDIDATES), K("index", GK_INDEX),
	K("finishReason", GK_FINISH), K("usageMetadata", GK_USAGE),
	K("modelVersion", GK_MODEL), K("responseId", GK_RID),
	K("error", GK_ERROR), K("promptFeedback", GK_FEEDBACK),
	K("blockReason", GK_BLOCK), K("safetyRatings", GK_SAFETY),
	K("functionCall", GK_CALL), K("thoughtSignature", GK_SIG),
	K("name", GK_NAME), K("args", GK_ARGS), K("id", GK_ID),
};

#undef K

/* One candidate as assembled over the whole stream. */
struct cand {
	int seen, has_text;
	struct buf text, thought, finish, safety, calls;
	struct buf sig, tsig;	/* the last thoughtSignature of each */
	long ncalls;
};

struct gem {
	struct jev w;		/* first, for jev_feed(): the walk */
	void (*on_delta)(void *, const struct delta *);
	void *ctx;
	struct buf tmp;

	/* The part being read. */
	int p_text, p_thought, p_call;
	struct buf p_str, p_sig, p_name, p_id, p_args;

	/* The candidate being read in the current chunk. */
	long cur_index;
	int cur_has_text;
	struct buf cur_text, cur_thought, cur_finish, cur_safety;
	struct buf cur_tools, cur_calls, cur_sig, cur_tsig;
	long cur_ncalls;

	/* The assembled answer. */
	struct buf model, rid, usage, feedback, error;
	int blocked;
	struct cand *cd;
	size_t ncd;
	int state;		/* DEC_*, as of the last complete event */
	long which;
};

/* Where are we?  Helpers over the key stack. */
#define IN_CAND (g->w.depth >= 3 && g->w.key[1] == GK_CANDIDATES)
#define IN_PART (IN_CAND && g->w.depth >= 6 && g->w.key[3] == GK_CONTENT && \
	g->w.key[4] == GK_PARTS)
#define IN_CALL (IN_PART && g->w.depth >= 7 && g->w.key[6] == GK_CALL)

static void
cand_free(struct cand *c)
{
	buf_free(&c->text);
	buf_free(&c->thought);
	buf_free(&c->finish);
	buf_free(&c->safety);
	buf_free(&c->calls);
	buf_free(&c->sig);
	buf_free(&c->tsig);
	memset(c, 0, sizeof *c);
}

/* The candidate of index i, the array grown to hold it. */
static struct cand *
cand_at(struct gem *g, size_t i)
{
	g->cd = xgrow(g->cd, &g->ncd, sizeof *g->cd, i);
	return &g->cd[i];
}

/* Where a value is about to begin: start the captures it needs. */
static void
value_start(struct gem *g)
{
	if (g->w.depth == 1) {
		if (g->w.key[1] == GK_USAGE)
			jev_cap_start(&g->w, &g->usage);
		else if (g->w.key[1] == GK_ERROR)
			jev_cap_start(&g->w, &g->error);
		else if (g->w.key[1] == GK_FEEDBACK)
			jev_cap_start(&g->w, &g->feedback);
	} else if (g->w.depth == 3 && IN_CAND && g->w.key[3] == GK_SAFETY)
		jev_cap_start(&g->w, &g->cur_safety);
	else if (g->w.depth == 7 && IN_CALL && g->w.key[7] == GK_ARGS)
		jev_cap_start(&g->w, &g->p_args);
}

/* A scalar that is not a string at the current place. */
static void
other_scalar(struct gem *g, const char *s, size_t n, int istrue)
{
	if (g->w.depth == 3 && IN_CAND && g->w.key[3] == GK_INDEX && s)
		g->cur_index = jev_index(s, n, MAXCAND);
	else if (g->w.depth == 6 && IN_PART && g->w.key[6] == GK_THOUGHT)
		g->p_thought = istrue;
}

/* The walker's hook for a scalar at the current place. */
static void
on_scalar(void *ctx, int type, const char *s, size_t n)
{
	struct gem *g = ctx;
	struct buf *to = NULL;

	value_start(g);
	if (type == 'n') {
		other_scalar(g, s, n, 0);
		return;
	}
	if (type == 'b') {
		other_scalar(g, NULL, 0, s[0] == 't');
		return;
	}
	if (type == '0') {
		/* A null member is an absent one. */
		if (g->w.depth == 1 && g->w.key[1] == GK_ERROR)
			jev_cap_drop(&g->w);
		return;
	}
	if (g->w.depth == 6 && IN_PART) {
		switch (g->w.key[6]) {
		case GK_TEXT:
			g->p_text = 1;
			to = &g->p_str;
			break;
		case GK_SIG: to = &g->p_sig; break;
		}
	} else if (g->w.depth == 7 && IN_CALL) {
		if (g->w.key[7] == GK_NAME)
			to = &g->p_name;
		else if (g->w.key[7] == GK_ID)
			to = &g->p_id;
	} else if (g->w.depth == 3 && IN_CAND && g->w.key[3] == GK_FINISH)
		to = &g->cur_finish;
	else if (g->w.depth == 1 && g->w.key[1] == GK_MODEL && !g->model.len)
		to = &g->model;
	else if (g->w.depth == 1 && g->w.key[1] == GK_RID && !g->rid.len)
		to = &g->rid;
	else if (g->w.depth == 2 && g->w.key[1] == GK_FEEDBACK &&
	    g->w.key[2] == GK_BLOCK)
		g->blocked = 1;
	if (to) {
		buf_reset(to);
		buf_put(to, s, n);
	}
}

/* The walker's hook where a container begins: a new candidate, a new
 * part, a functionCall. */
static void
on_begin(void *ctx, int kind)
{
	struct gem *g = ctx;

	(void)kind;
	value_start(g);
	if (g->w.depth == 2 && g->w.key[1] == GK_CANDIDATES) {
		/* A new candidate in this chunk. */
		g->cur_index = 0;
		g->cur_has_text = 0;
		g->cur_ncalls = 0;
		buf_reset(&g->cur_text);
		buf_reset(&g->cur_thought);
		buf_reset(&g->cur_finish);
		buf_reset(&g->cur_safety);
		buf_reset(&g->cur_tools);
		buf_reset(&g->cur_calls);
		buf_reset(&g->cur_sig);
		buf_reset(&g->cur_tsig);
	} else if (g->w.depth == 5 && IN_CAND &&
	    g->w.key[3] == GK_CONTENT && g->w.key[4] == GK_PARTS) {
		/* A new part. */
		g->p_text = g->p_thought = g->p_call = 0;
		buf_reset(&g->p_str);
		buf_reset(&g->p_sig);
		buf_reset(&g->p_name);
		buf_reset(&g->p_id);
		buf_reset(&g->p_args);
	} else if (g->w.depth == 6 && IN_PART && g->w.key[6] == GK_CALL)
		g->p_call = 1;
}

/* The end of one part: its text goes to the candidate's text or
 * thought; a functionCall becomes a tool-call fragment and a part. */
static void
part_end(struct gem *g)
{
	const struct buf *args = &g->p_args;
	char num[24];

	if (g->p_call) {
		if (!args->len)
			args = NULL;
		if (g->cur_ncalls++)
			buf_putc(&g->cur_tools, ',');
		else
			buf_putc(&g->cur_tools, '[');
		snprintf(num, sizeof num, "%ld", g->cur_index >= 0 &&
		    g->cur_index < MAXCAND ? cand_at(g, (size_t)g->cur_index)->
		    ncalls + g->cur_ncalls - 1 : 0);
		buf_puts(&g->cur_tools, "{\"index\":");
		buf_puts(&g->cur_tools, num);
		if (g->p_id.len) {
			buf_puts(&g->cur_tools, ",\"id\":");
			json_str(&g->cur_tools, g->p_id.p, g->p_id.len);
		}
		buf_puts(&g->cur_tools, ",\"type\":\"function\","
		    "\"function\":{\"name\":");
		json_str(&g->cur_tools, g->p_name.p, g->p_name.len);
		buf_puts(&g->cur_tools, ",\"arguments\":");
		if (args)
			json_str(&g->cur_tools, args->p, args->len);
		else
			buf_puts(&g->cur_tools, "\"{}\"");
		buf_puts(&g->cur_tools, "}}");

		if (g->cur_calls.len)
			buf_putc(&g->cur_calls, ',');
		buf_puts(&g->cur_calls, "{\"functionCall\":{");
		if (g->p_id.len) {
			buf_puts(&g->cur_calls, "\"id\":");
			json_str(&g->cur_calls, g->p_id.p, g->p_id.len);
			buf_putc(&g->cur_calls, ',');
		}
		buf_puts(&g->cur_calls, "\"name\":");
		json_str(&g->cur_calls, g->p_name.p, g->p_name.len);
		buf_puts(&g->cur_calls, ",\"args\":");
		if (args)
			buf_put(&g->cur_calls, args->p, args->len);
		else
			buf_puts(&g->cur_calls, "{}");
		buf_putc(&g->cur_calls, '}');
		if (g->p_sig.len) {
			buf_puts(&g->cur_calls, ",\"thoughtSignature\":");
			json_str(&g->cur_calls, g->p_sig.p, g->p_sig.len);
		}
		buf_putc(&g->cur_calls, '}');
		return;
	}
	if (g->p_thought) {
		buf_put(&g->cur_thought, g->p_str.p, g->p_str.len);
		if (g->p_sig.len) {
			buf_reset(&g->cur_tsig);
			buf_put(&g->cur_tsig, g->p_sig.p, g->p_sig.len);
		}
	} else if (g->p_text || g->p_sig.len) {
		g->cur_has_text |= g->p_text;
		buf_put(&g->cur_text, g->p_str.p, g->p_str.len);
		if (g->p_sig.len) {
			buf_reset(&g->cur_sig);
			buf_put(&g->cur_sig, g->p_sig.p, g->p_sig.len);
		}
	}
}

static void
replace(struct buf *to, const struct buf *from)
{
	if (from->len) {
		buf_reset(to);
		buf_put(to, from->p, from->len);
	}
}

/* The end of one candidate of one chunk: report the delta, assemble. */
static int
cand_end(struct gem *g)
{
	struct cand *c;
	struct delta d;

	if (g->cur_index < 0 || g->cur_index >= MAXCAND)
		return 0;
	c = cand_at(g, (size_t)g->cur_index);
	c->seen = 1;
	c->has_text |= g->cur_has_text;
	buf_put(&c->text, g->cur_text.p, g->cur_text.len);
	buf_put(&c->thought, g->cur_thought.p, g->cur_thought.len);
	replace(&c->finish, &g->cur_finish);
	replace(&c->safety, &g->cur_safety);
	replace(&c->sig, &g->cur_sig);
	replace(&c->tsig, &g->cur_tsig);
	if (g->cur_calls.len) {
		if (c->calls.len)
			buf_putc(&c->calls, ',');
		buf_put(&c->calls, g->cur_calls.p, g->cur_calls.len);
	}
	c->ncalls += g->cur_ncalls;
	if (!g->cur_text.len && !g->cur_thought.len && !g->cur_ncalls)
		return 1;
	memset(&d, 0, sizeof d);
	d.index = g->cur_index;
	if (g->cur_text.len)
		delta_set(&d, DK_CONTENT, &g->cur_text);
	if (g->cur_thought.len)
		delta_set(&d, DK_REASONING, &g->cur_thought);
	if (g->cur_ncalls) {
		buf_putc(&g->cur_tools, ']');
		delta_set(&d, DK_TOOL_CALLS, &g->cur_tools);
	}
	g->on_delta(g->ctx, &d);
	return 1;
}

/* The walker's hook where a container ended: a part's or a
 * candidate's end. */
static int
on_end(void *ctx)
{
	struct gem *g = ctx;

	if (g->w.depth == 5 && IN_CAND && g->w.key[3] == GK_CONTENT &&
	    g->w.key[4] == GK_PARTS)
		part_end(g);
	else if (g->w.depth == 2 && g->w.key[1] == GK_CANDIDATES)
		return cand_end(g);
	return 1;
}

/* No path we follow goes deeper than 7. */
static const struct jev_hooks gem_hooks = {
	.begin = on_begin, .scalar = on_scalar, .end = on_end,
	.begin_at = JEV_AT(1) | JEV_AT(2) | JEV_AT(3) | JEV_AT(5) | JEV_AT(6) |
	    JEV_AT(7),
	.end_at = JEV_AT(2) | JEV_AT(5),
	.names = known_keys, .nnames = NKEYS(known_keys), .deep = 7
};

/* ---------------------------------------------------------------- */
/* The decoder's life */

static void *
gem_open(void (*on_delta)(void *, const struct delta *), void *ctx)
{
	struct gem *g = xcalloc(1, sizeof *g);

	g->on_delta = on_delta;
	g->ctx = ctx;
	jev_init(&g->w, &gem_hooks, g);
	return g;
}

/* Forget everything: a new attempt starts a new stream. */
static void
gem_reset(void *v)
{
	struct gem *g = v;
	size_t i;

	jev_reset(&g->w);
	buf_reset(&g->model);
	buf_reset(&g->rid);
	buf_reset(&g->usage);
	buf_reset(&g->feedback);
	buf_reset(&g->error);
	g->blocked = 0;
	for (i = 0; i < g->ncd; i++)
		cand_free(&g->cd[i]);
	g->state = DEC_OPEN;
	g->which = -1;
}

static void
gem_close(void *v)
{
	struct gem *g = v;
	struct buf *b[] = {
		&g->tmp, &g->p_str, &g->p_sig, &g->p_name, &g->p_id,
		&g->p_args, &g->cur_text, &g->cur_thought, &g->cur_finish,
		&g->cur_safety, &g->cur_tools, &g->cur_calls, &g->cur_sig,
		&g->cur_tsig, &g->model, &g->rid, &g->usage, &g->feedback,
		&g->error
	};
	size_t i;

	if (!g)
		return;
	gem_reset(g);
	for (i = 0; i < sizeof b / sizeof b[0]; i++)
		buf_free(b[i]);
	free(g->cd);
	jev_free(&g->w);
	free(g);
}

/* Complete when every candidate named has a finishReason (or the
 * prompt was blocked); truncated when some have and one has not. */
static void
settle(struct gem *g)
{
	size_t i;
	int fin = 0;

	g->which = -1;
	for (i = 0; i < g->ncd; i++) {
		if (!g->cd[i].seen)
			continue;
		if (g->cd[i].finish.len)
			fin = 1;
		else if (g->which < 0)
			g->which = (long)i;
	}
	if (g->blocked || (fin && g->which < 0))
		g->state = DEC_COMPLETE;
	else
		g->state = fin ? DEC_TRUNCATED : DEC_OPEN;
}

/*
 * The event is complete: CHAT_MORE, CHAT_ERROR for an error object (the
 * whole {"error":...} in gem_error()), or CHAT_BAD for a payload that is
 * not one JSON object (described in msg).  A "[DONE]" some relays add is
 * let through: the stream's end is judged by its finishReasons.
 */
static int
gem_event(void *v, const struct sse_event *ev, struct buf *msg)
{
	struct gem *g = v;

	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		jev_next(&g->w);
		return CHAT_MORE;
	}
	switch (jev_end(&g->w, ev->data, ev->data_len, msg)) {
	case JEV_EMPTY:
		return CHAT_MORE;
	case JEV_BAD:
		return CHAT_BAD;
	}
	if (g->error.len)
		return CHAT_ERROR;
	settle(g);
	return CHAT_MORE;
}

/* The error object of the stream, as {"error":{...}}; fail.c reads
 * error.message and error.code from it. */
static const struct buf *
gem_error(const void *v)
{
	struct gem *g = (struct gem *)v;

	if (g->error.len && g->error.p[0] != '[' &&
	    strncmp(g->error.p, "{\"error\":", 9) != 0) {
		buf_reset(&g->tmp);
		buf_puts(&g->tmp, "{\"error\":");
		buf_put(&g->tmp, g->error.p, g->error.len);
		buf_putc(&g->tmp, '}');
		buf_reset(&g->error);
		buf_put(&g->error, g->tmp.p, g->tmp.len);
	}
	return &g->error;
}

static int
gem_state(const void *v, long *which)
{
	const struct gem *g = v;

	*which = g->which;
	return g->state;
}

/* ---------------------------------------------------------------- */
/* The answer, as the server would have sent it whole */

/* Gemini's finishReason (a bare string) in the chat vocabulary; other
 * values lower-cased. */
static void
put_finish(struct buf *b, const char *s, size_t n, int calls)
{
	static const char *const filtered[] = {
		"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT",
		"SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
		"IMAGE_RECITATION", NULL
	};
	const char *const *f;
	size_t i;

#define IS(w) (n == sizeof(w) - 1 && memcmp(s, w, n) == 0)
	if (IS("STOP") || IS("FINISH_REASON_STOP"))
		buf_puts(b, calls ? "\"tool_calls\"" : "\"stop\"");
	else if (IS("MAX_TOKENS"))
		buf_puts(b, "\"length\"");
	else {
		for (f = filtered; *f; f++)
			if (strlen(*f) == n && memcmp(*f, s, n) == 0)
				break;
		if (*f) {
			buf_puts(b, "\"content_filter\"");
			return;
		}
		buf_putc(b, '"');
		for (i = 0; i < n; i++)
			buf_putc(b, s[i] >= 'A' && s[i] <= 'Z' ?
			    s[i] - 'A' + 'a' : s[i] == '"' || s[i] == '\\' ||
			    (unsigned char)s[i] < 0x20 ? '_' : s[i]);
		buf_putc(b, '"');
	}
#undef IS
}

/* The chat usage of a usageMetadata object (absent counts are 0, as
 * Gemini leaves zeros out): completion tokens include the thoughts. */
static void
put_usage(struct buf *b, const char *u, size_t n, struct buf *scratch)
{
	struct jpick pk[4] = {
		{ .path = "promptTokenCount" },
		{ .path = "candidatesTokenCount" },
		{ .path = "thoughtsTokenCount" }, { .path = "totalTokenCount" }
	};
	long long v[4];
	char num[96];
	int i;

	if (!n || json_compact(u, n, NULL, pk, 4, scratch) < 0 || *u != '{') {
		json_picks_free(pk, 4);
		return;
	}
	for (i = 0; i < 4; i++)
		if ((v[i] = json_int(&pk[i].val)) < 0)
			v[i] = 0;
	if (!pk[3].val.len)
		v[3] = count_add(count_add(v[0], v[1]), v[2]);
	snprintf(num, sizeof num, "{\"prompt_tokens\":%lld,"
	    "\"completion_tokens\":%lld,\"total_tokens\":%lld}", v[0],
	    count_add(v[1], v[2]), v[3]);
	buf_puts(b, num);
	json_picks_free(pk, 4);
}

static void
put_part(struct buf *b, const struct buf *text, int thought,
    const struct buf *sig)
{
	buf_puts(b, "{\"text\":");
	json_str(b, text->p, text->len);
	if (thought)
		buf_puts(b, ",\"thought\":true");
	if (sig->len) {
		buf_puts(b, ",\"thoughtSignature\":");
		json_str(b, sig->p, sig->len);
	}
	buf_putc(b, '}');
}

/* One assembled candidate: thought, text and functionCall parts. */
static void
put_cand(struct buf *b, const struct cand *c, size_t i)
{
	char num[24];
	int np = 0;

	buf_putc(b, '{');
	if (c->thought.len || c->has_text || c->sig.len || c->calls.len) {
		buf_puts(b, "\"content\":{\"parts\":[");
		if (c->thought.len) {
			put_part(b, &c->thought, 1, &c->tsig);
			np++;
		}
		if (c->has_text || c->sig.len) {
			if (np++)
				buf_putc(b, ',');
			put_part(b, &c->text, 0, &c->sig);
		}
		if (c->calls.len) {
			if (np++)
				buf_putc(b, ',');
			buf_put(b, c->calls.p, c->calls.len);
		}
		buf_puts(b, "],\"role\":\"model\"},");
	}
	if (c->finish.len) {
		buf_puts(b, "\"finishReason\":");
		json_str(b, c->finish.p, c->finish.len);
		buf_putc(b, ',');
	}
	snprintf(num, sizeof num, "%zu", i);
	buf_puts(b, "\"index\":");
	buf_puts(b, num);
	if (c->safety.len) {
		buf_puts(b, ",\"safetyRatings\":");
		buf_put(b, c->safety.p, c->safety.len);
	}
	buf_putc(b, '}');
}

/*
 * Write the GenerateContentResponse the server would have sent without
 * streaming into r, with candidate 0's text (not its thoughts), its
 * finish_reason in chat's words, and the usage in chat's form.
 */
static void
gem_result(const void *v, struct result *r)
{
	const struct gem *g = v;
	const struct cand *c0 = g->ncd && g->cd[0].seen ? &g->cd[0] : NULL;
	struct buf scratch = { 0 };
	size_t i;
	int first = 1;

	buf_reset(&r->body);
	buf_putc(&r->body, '{');
	for (i = 0; i < g->ncd; i++) {
		if (!g->cd[i].seen)
			continue;
		buf_puts(&r->body, first ? "\"candidates\":[" : ",");
		first = 0;
		put_cand(&r->body, &g->cd[i], i);
	}
	if (!first)
		buf_putc(&r->body, ']');
#define MEMBER(name, val, str) do {					\
	if ((val)->len) {						\
		buf_puts(&r->body, first ? "\"" name "\":" :		\
		    ",\"" name "\":");					\
		first = 0;						\
		if (str)						\
			json_str(&r->body, (val)->p, (val)->len);	\
		else							\
			buf_put(&r->body, (val)->p, (val)->len);	\
	}								\
} while (0)
	MEMBER("promptFeedback", &g->feedback, 0);
	MEMBER("usageMetadata", &g->usage, 0);
	MEMBER("modelVersion", &g->model, 1);
	MEMBER("responseId", &g->rid, 1);
#undef MEMBER
	buf_putc(&r->body, '}');

	buf_reset(&r->content);
	buf_reset(&r->finish);
	buf_reset(&r->usage);
	if (c0)
		json_str(&r->content, c0->text.p, c0->text.len);
	else if (g->blocked)
		buf_puts(&r->content, "\"\"");
	if (c0 && c0->finish.len)
		put_finish(&r->finish, c0->finish.p, c0->finish.len,
		    c0->ncalls > 0);
	else if (g->blocked)
		buf_puts(&r->finish, "\"content_filter\"");
	else if (c0)
		buf_puts(&r->finish, "null");
	put_usage(&r->usage, g->usage.p, g->usage.len, &scratch);
	buf_free(&scratch);
}

/*
 * A non-streamed generateContent answer body[0..n): its compact JSON,
 * candidate 0's text parts but the thoughts, its finish_reason and the
 * usage.  0, or -1 when body is not JSON (why in msg).
 */
static int
gem_body(const char *body, size_t n, struct result *res, struct buf *msg)
{
	struct jpick pk[5] = {
		{ .path = "candidates.0.content.parts" },
		{ .path = "candidates.0.finishReason" },
		{ .path = "usageMetadata" },
		{ .path = "promptFeedback.blockReason" },
		{ .path = "candidates.0" }
	};
	yajl_val parts = NULL, p, t, th, fc;
	struct buf txt = { 0 };
	char e[128];
	size_t i;
	int calls = 0, rc;

	if ((rc = json_compact(body, n, &res->body, pk, 5, msg)) < 0) {
		json_picks_free(pk, 5);
		return rc;
	}
	/* Compact, so no deeper than yajl_gen writes: safe for a tree. */
	if (pk[0].val.len)
		parts = yajl_tree_parse(pk[0].val.p, e, sizeof e);
	for (i = 0; YAJL_IS_ARRAY(parts) && i < parts->u.array.len; i++) {
		const char *path_text[] = { "text", NULL };
		const char *path_thought[] = { "thought", NULL };
		const char *path_call[] = { "functionCall", NULL };

		p = parts->u.array.values[i];
		t = yajl_tree_get(p, path_text, yajl_t_string);
		th = yajl_tree_get(p, path_thought, yajl_t_any);
		fc = yajl_tree_get(p, path_call, yajl_t_object);
		calls |= fc != NULL;
		/* Strings from the tree stop at a NUL (a \u0000). */
		if (t && !YAJL_IS_TRUE(th))
			buf_puts(&txt, t->u.string);
	}
	if (pk[4].val.len)
		json_str(&res->content, txt.p, txt.len);
	buf_free(&txt);
	yajl_tree_free(parts);
	if (pk[1].val.len > 2)
		put_finish(&res->finish, pk[1].val.p + 1, pk[1].val.len - 2,
		    calls);
	else if (pk[3].val.len) {
		if (!res->content.len)
			buf_puts(&res->content, "\"\"");
		buf_puts(&res->finish, "\"content_filter\"");
	} else if (pk[4].val.len)
		buf_puts(&res->finish, "null");
	put_usage(&res->usage, pk[2].val.p, pk[2].val.len, msg);
	json_picks_free(pk, 5);
	return 0;
}

const struct dialect dialect_gemini = {
	"gemini", "a finishReason", gem_open, gem_reset, gem_close, jev_feed,
	gem_event, gem_error, gem_state, gem_result, gem_body
};
