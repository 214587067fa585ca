/*
 * mock-sse.c: what the generated answers of t/mockvman share, whatever
 * their dialect (chat and completions, Responses, Messages, Gemini):
 * the text cut into tokens, the request's model, echo and tool, and the
 * driver that makes a stream one unit at a time with its faults.
 * What it answers: t/mockvman.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/* ------------------------------------------------------------------ */
/* Tokens: the text cut before every space */

/* End of the token that starts at p in t (n bytes): tokens after the
 * first begin with a space. */
size_t
sse_tok_end(const char *t, size_t n, size_t p)
{
	for (p++; p < n && t[p] != ' '; p++)
		;
	return p;
}

size_t
sse_tok_count(const char *t, size_t n)
{
	size_t c = n > 0, i;

	for (i = 1; i < n; i++)
		c += t[i] == ' ';
	return c;
}

/* Bytes taken by the first k tokens. */
size_t
sse_tok_prefix(const char *t, size_t n, size_t k)
{
	size_t p = 0;

	while (k-- > 0 && p < n)
		p = sse_tok_end(t, n, p);
	return p;
}

/* End of the tool-argument piece at p: at most 8 UTF-8 characters. */
size_t
sse_piece_end(const char *t, size_t n, size_t p)
{
	int i;

	for (i = 0; i < 8 && p < n; i++)
		for (p++; p < n && ((unsigned char)t[p] & 0xc0) == 0x80; p++)
			;
	return p;
}

/* ------------------------------------------------------------------ */
/* The request */

/* Text of a message content: a string, or the "text" parts joined by a
 * space. */
void
sse_text(yajl_val v, struct buf *b)
{
	const char *t;
	size_t i;
	int first = 1;

	if ((t = json_str(v)) != NULL) {
		buf_adds(b, t);
		return;
	}
	for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
		if ((t = json_str(json_get(v->u.array.values[i],
		    "text"))) == NULL)
			continue;
		if (!first)
			buf_add(b, " ", 1);
		first = 0;
		buf_adds(b, t);
	}
}

/* The last message of msgs that a user sent; NULL when there is
 * none. */
yajl_val
sse_last_user(yajl_val msgs)
{
	yajl_val last = NULL, v;
	const char *role;
	size_t i;

	for (i = 0; YAJL_IS_ARRAY(msgs) && i < msgs->u.array.len; i++) {
		v = msgs->u.array.values[i];
		if ((role = json_str(json_get(v, "role"))) != NULL &&
		    strcmp(role, "user") == 0)
			last = v;
	}
	return last;
}

/* The answer's JSON writer, made on first use and kept for the next. */
yajl_gen
sse_gen(struct resp *r)
{
	if (r->y == NULL)
		r->y = json_gen();
	return r->y;
}

/* The model the request names, "mock" when it names none. */
const char *
sse_model(yajl_val root)
{
	const char *model = json_str(json_get(root, "model"));

	return model ? model : "mock";
}

/* The id (prefix and request number) and model the answer names. */
void
sse_names(struct resp *r, const char *id, unsigned long long seq,
    const char *model)
{
	buf_adds(&r->id, id);
	buf_addu(&r->id, seq);
	buf_adds(&r->model, model);
}

/* How many times a stream repeats the echo (mock.repeat); once when
 * the answer does not stream. */
long long
sse_repeat(const struct mock *m, int stream)
{
	return stream ? util_clamp(m->repeat, 1, 1000000000) : 1;
}

/* The first of the request's tools, its name into r->tname: where says
 * where a dialect looks for it (TN_TOP "name", TN_FUNC
 * "function"."name").  0 when there are no tools. */
int
sse_tool(struct resp *r, yajl_val root, int where)
{
	yajl_val tools = json_get(root, "tools"), t0;
	const char *name = NULL;

	if (!YAJL_IS_ARRAY(tools) || tools->u.array.len == 0)
		return 0;
	t0 = tools->u.array.values[0];
	if (where & TN_TOP)
		name = json_str(json_get(t0, "name"));
	if (name == NULL && (where & TN_FUNC))
		name = json_str(json_get(json_get(t0, "function"), "name"));
	buf_adds(&r->tname, name ? name : "");
	return 1;
}

/* The tool call's arguments, {"text":echo}, into r->targs; the number
 * of pieces a stream sends them in. */
size_t
sse_args(struct resp *r, const char *t, size_t n)
{
	yajl_gen y = sse_gen(r);
	size_t p, k;

	yajl_gen_map_open(y);
	json_put(y, "text");
	json_putn(y, t, n);
	yajl_gen_map_close(y);
	json_take(y, &r->targs);
	for (p = 0, k = 0; p < r->targs.len; k++)
		p = sse_piece_end(r->targs.p, r->targs.len, p);
	return k;
}

/* The reasoning text, "think: " and the echo, into r->rtext; its
 * tokens. */
size_t
sse_think(struct resp *r, const char *t, size_t n)
{
	buf_adds(&r->rtext, "think: ");
	buf_add(&r->rtext, t, n);
	return sse_tok_count(r->rtext.p, r->rtext.len);
}

/* Cut *cnt tokens to maxtok (none when negative); 1 when it did. */
int
sse_clip(size_t *cnt, long long maxtok)
{
	if (maxtok < 0 || (unsigned long long)maxtok >= *cnt)
		return 0;
	*cnt = maxtok;
	return 1;
}

/* Split the fixed body at split, to be padded there up to m->size. */
void
sse_pad(struct resp *r, const struct mock *m, size_t split)
{
	size_t have;

	if (m->size <= 0 || split == 0)
		return;
	buf_add(&r->tail, r->head.p + split, r->head.len - split);
	r->head.len = split;
	have = r->head.len + r->tail.len;
	if ((unsigned long long)m->size > have)
		r->s.pad = m->size - have;
}

/* ------------------------------------------------------------------ */
/* The stream */

/* The blank line that ends an event. */
void
sse_blank(const struct rstate *s, struct buf *b)
{
	buf_add(b, s->eol, s->eol_len);
	buf_add(b, s->eol, s->eol_len);
}

/* An event's head, "event: name" and "data: "; its data follows. */
void
sse_event(const struct rstate *s, struct buf *b, const char *name)
{
	buf_adds(b, "event: ");
	buf_adds(b, name);
	buf_add(b, s->eol, s->eol_len);
	buf_adds(b, "data: ");
}

/* The fault the next event is (mock.bad_data, mock.error_event), each
 * made once; SU_ERRFIRST: the error wins when both fall on it. */
static int
fault(struct rstate *s, int how)
{
	int bad = s->nev == s->bad_data && !s->bad_done;
	int err = s->nev == s->error_event && !s->err_done;

	if (bad && !(err && (how & SU_ERRFIRST))) {
		s->bad_done = 1;
		return SF_BAD;
	}
	if (err) {
		s->err_done = 1;
		return SF_ERR;
	}
	return SF_NONE;
}

/* Next unit of a generated event stream into r->stage: a fault of the
 * connection (mock.close_after, stall_after, bad_chunked), or one event
 * made by the dialect's event() with its comment and line ends.  how:
 * SU_BOM the stream may start with a BOM (mock.bom), SU_ERRFIRST see
 * fault(), SU_FREEBAD a broken event does not count as one. */
int
sse_unit(struct conn *c, int how, sse_event_fn *event)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *b = &r->stage;
	size_t mark = b->len;
	int bom = 0, f;

	if (s->nev > 0 && s->ev_ms > 0 && g.now < s->ev_at) {
		http_wake(c, s->ev_at);
		return U_BLOCK;
	}
	if (s->nev == s->close_after)
		return U_CLOSE;
	if (s->nev == s->stall_after)
		return U_STALL;
	if (s->nev == s->bad_chunked && s->framing == FR_CHUNKED)
		return U_BADCHUNK;
	sse_gen(r);
	if ((how & SU_BOM) && s->bom && !s->bom_done) {
		buf_add(b, "\xef\xbb\xbf", 3);
		s->bom_done = bom = 1;
	}
	if (s->comments) {
		buf_adds(b, ": keep-alive");
		sse_blank(s, b);
	}
	f = fault(s, how);
	if (!event(r, b, f)) {
		b->len = mark;
		if (bom)
			s->bom_done = 0;
		return U_END;
	}
	sse_blank(s, b);
	if (f != SF_BAD || !(how & SU_FREEBAD))
		s->nev++;
	s->ev_at = g.now + s->ev_ms;
	return U_DATA;
}
