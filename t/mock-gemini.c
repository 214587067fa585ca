/*
 * mock-gemini.c: the Gemini routes of t/mockvman: generateContent and
 * streamGenerateContent (its event stream made lazily, one chunk per
 * token).  What it answers: t/mockvman.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/* The phases of a Gemini stream. */
enum { GP_THOUGHT, GP_TEXT, GP_END };

/* The usageMetadata of the answer: Gemini leaves out zero counts. */
static void
put_usage(yajl_gen y, const struct rstate *s)
{
	unsigned long long th = s->rcnt[0];

	json_put(y, "usageMetadata");
	yajl_gen_map_open(y);
	json_ki(y, "promptTokenCount", s->ptok);
	if (s->ctok)
		json_ki(y, "candidatesTokenCount", s->ctok);
	json_ki(y, "totalTokenCount", s->ptok + s->ctok + th);
	if (th)
		json_ki(y, "thoughtsTokenCount", th);
	yajl_gen_map_close(y);
}

/* A part of text (thought marks a thought part). */
static void
put_part(yajl_gen y, const char *t, size_t n, int thought)
{
	yajl_gen_map_open(y);
	json_put(y, "text");
	json_putn(y, t, n);
	if (thought)
		json_kb(y, "thought", 1);
	yajl_gen_map_close(y);
}

/* The candidate's end: its finishReason, index, and for SAFETY the
 * ratings that blocked it. */
static void
put_finish(yajl_gen y, const char *fin)
{
	if (fin)
		json_ks(y, "finishReason", fin);
	json_ki(y, "index", 0);
	if (fin && strcmp(fin, "SAFETY") == 0) {
		json_put(y, "safetyRatings");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		json_ks(y, "category", "HARM_CATEGORY_DANGEROUS_CONTENT");
		json_ks(y, "probability", "HIGH");
		json_kb(y, "blocked", 1);
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
	}
}

/* The members after the candidates: usage (in the last chunk only),
 * modelVersion, responseId; then the object is closed. */
static void
put_tail(yajl_gen y, const struct resp *r, int usage)
{
	if (usage)
		put_usage(y, &r->s);
	json_put(y, "modelVersion");
	json_putn(y, r->model.p, r->model.len);
	json_put(y, "responseId");
	json_putn(y, r->id.p, r->id.len);
	yajl_gen_map_close(y);
}

/* Append the stream's next chunk to b; 0 at the end.  A thought token
 * a chunk, then a text token a chunk, the last with finishReason and
 * usageMetadata (a final chunk of its own when there is no text). */
static int
gen_chunk(struct resp *r, struct buf *b)
{
	struct rstate *s = &r->s;
	yajl_gen y = r->y;
	struct buf *t;
	size_t e, *pos;
	int last = 0;

	if (s->ph == GP_THOUGHT && s->k >= s->rcnt[0]) {
		s->ph = GP_TEXT;
		s->k = 0;
	}
	if (s->ph == GP_END)
		return 0;
	yajl_gen_map_open(y);
	json_put(y, "candidates");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	if (s->ph == GP_THOUGHT || s->k < s->cnt[0]) {
		json_put(y, "content");
		yajl_gen_map_open(y);
		json_put(y, "parts");
		yajl_gen_array_open(y);
		t = s->ph == GP_THOUGHT ? &r->rtext : &r->text[0];
		pos = s->ph == GP_THOUGHT ? &s->rpos[0] : &s->pos[0];
		if (*pos >= t->len)
			*pos = 0;
		e = sse_tok_end(t->p, t->len, *pos);
		put_part(y, t->p + *pos, e - *pos, s->ph == GP_THOUGHT);
		*pos = e;
		yajl_gen_array_close(y);
		json_ks(y, "role", "model");
		yajl_gen_map_close(y);
		s->k++;
		last = s->ph == GP_TEXT && s->k >= s->cnt[0];
	} else
		last = 1;	/* no text: the end alone */
	put_finish(y, last ? s->fin[0] : NULL);
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	put_tail(y, r, last);
	json_take(y, b);
	if (last)
		s->ph = GP_END;
	return 1;
}

/* One chunk of a Gemini event stream into b, or the fault f (the mock
 * members of chat's streams, an error chunk in Gemini's shape); 0 at
 * the end. */
static int
gen_event(struct resp *r, struct buf *b, int f)
{
	yajl_gen y = r->y;

	buf_adds(b, "data: ");
	if (f == SF_BAD)
		buf_adds(b, "{\"broken json");
	else if (f == SF_ERR) {
		r->s.ph = GP_END;
		yajl_gen_map_open(y);
		json_put(y, "error");
		yajl_gen_map_open(y);
		json_ki(y, "code", 500);
		json_ks(y, "message", "mock stream error");
		json_ks(y, "status", "INTERNAL");
		yajl_gen_map_close(y);
		yajl_gen_map_close(y);
		json_take(y, b);
	} else
		return gen_chunk(r, b);
	return 1;
}

static int
gem_sse_next(struct conn *c)
{
	return sse_unit(c, 0, gen_event);
}

/* The answer of a generateContent that does not stream. */
static void
gem_whole(struct conn *c, const struct mock *m, int status)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	yajl_gen y = sse_gen(r);
	size_t len;

	yajl_gen_map_open(y);
	json_put(y, "candidates");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	if (s->rcnt[0] || s->cnt[0]) {
		json_put(y, "content");
		yajl_gen_map_open(y);
		json_put(y, "parts");
		yajl_gen_array_open(y);
		if (s->rcnt[0])
			put_part(y, r->rtext.p, r->rtext.len, 1);
		len = sse_tok_prefix(r->text[0].p, r->text[0].len, s->cnt[0]);
		if (s->cnt[0])
			put_part(y, r->text[0].p, len, 0);
		yajl_gen_array_close(y);
		json_ks(y, "role", "model");
		yajl_gen_map_close(y);
	}
	put_finish(y, s->fin[0]);
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	put_tail(y, r, 1);
	json_take(y, &r->head);
	http_fixed(c, status, "application/json", m);
}

/* POST /v1beta/models/{model}:generateContent and
 * :streamGenerateContent (see mockvman.md). */
void
gem_generate(struct req *q, int arg)
{
	struct conn *c = q->c;
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	const struct mock *m = &q->m;
	yajl_val root = q->root, cs, v, gc, parts;
	struct buf echo = { 0 };
	const char *role, *colon, *method;
	char model[256];
	long long maxtok;
	size_t i;
	int stream, thoughts;

	(void)arg;
	if (!route_cap(q, 0, model, sizeof model) ||
	    (colon = strrchr(model, ':')) == NULL) {
		http_error(c, 404, "Invalid URL (no :method after the model)",
		    "invalid_request_error", NULL, &nomock);
		return;
	}
	method = colon + 1;
	model[colon - model] = '\0';
	if (strcmp(method, "generateContent") == 0)
		stream = 0;
	else if (strcmp(method, "streamGenerateContent") == 0)
		stream = 1;
	else {
		http_error(c, 404, "Invalid URL (unknown model method)",
		    "invalid_request_error", NULL, &nomock);
		return;
	}
	/* The echo: the last user content's text parts; prompt tokens:
	 * the words of every content. */
	cs = json_get(root, "contents");
	for (i = 0; YAJL_IS_ARRAY(cs) && i < cs->u.array.len; i++) {
		v = cs->u.array.values[i];
		role = json_str(json_get(v, "role"));
		echo.len = 0;
		/* the text parts, joined by a space */
		if (YAJL_IS_ARRAY(parts = json_get(v, "parts")))
			sse_text(parts, &echo);
		s->ptok += echo.len ? util_words(echo.p) : 0;
		if (role == NULL || strcmp(role, "user") == 0) {
			r->text[0].len = 0;
			buf_add(&r->text[0], echo.p, echo.len);
		}
	}
	buf_free(&echo);
	if (m->content) {
		r->text[0].len = 0;
		buf_adds(&r->text[0], m->content);
	}
	gc = json_get(root, "generationConfig");
	thoughts = strstr(model, "thinking") != NULL || json_bool(json_get(
	    json_get(gc, "thinkingConfig"), "includeThoughts"));
	maxtok = json_int(json_get(gc, "maxOutputTokens"), -1);
	s->n = 1;
	s->fin[0] = "STOP";
	if (r->text[0].len && util_has_word(r->text[0].p, "unsafe")) {
		s->fin[0] = "SAFETY";
		thoughts = 0;
	} else {
		s->cnt[0] = sse_repeat(m, stream) *
		    sse_tok_count(r->text[0].p, r->text[0].len);
		if (sse_clip(&s->cnt[0], maxtok))
			s->fin[0] = "MAX_TOKENS";
		s->ctok = s->cnt[0];
	}
	if (thoughts)
		s->rcnt[0] = sse_think(r, r->text[0].p, r->text[0].len);
	sse_names(r, "gemini-mock-", q->seq, model);
	s->ph = GP_THOUGHT;
	if (!stream) {
		gem_whole(c, m, q->status);
		return;
	}
	http_sse(c, m);
	s->next = gem_sse_next;
}
