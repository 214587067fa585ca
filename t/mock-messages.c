/*
 * mock-messages.c: the Anthropic Messages route of t/mockvman (POST
 * /v1/messages): a Message, or its event stream generated lazily one
 * event at a time, written after Anthropic's public streaming reference.
 * What it answers: t/mockvman.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define SIGNATURE	"EqQBCkYIBxgCKkBtb2NrIHNpZ25hdHVyZQ=="
#define TOOL_ID		"toolu_mock_1"

/* The phases of a stream, in order; each makes zero or more events. */
enum {
	MS_START, MS_PING, MS_THINK_START, MS_THINK, MS_SIG, MS_THINK_STOP,
	MS_TEXT_START, MS_TEXT, MS_TEXT_STOP, MS_TOOL_START, MS_TOOL,
	MS_TOOL_STOP, MS_DELTA, MS_STOP, MS_END
};

/* ------------------------------------------------------------------ */
/* The parts of a Message */

static void
put_usage(yajl_gen y, const struct rstate *s, unsigned long long out)
{
	json_put(y, "usage");
	yajl_gen_map_open(y);
	json_ki(y, "input_tokens", s->ptok);
	json_ki(y, "cache_creation_input_tokens", s->cwtok);
	json_ki(y, "cache_read_input_tokens", s->crtok);
	json_ki(y, "output_tokens", out);
	json_ks(y, "service_tier", "standard");
	yajl_gen_map_close(y);
}

/* The members of a Message up to its content, whose value follows. */
static void
put_head(yajl_gen y, const struct resp *r)
{
	yajl_gen_map_open(y);
	json_put(y, "id");
	json_putn(y, r->id.p, r->id.len);
	json_ks(y, "type", "message");
	json_ks(y, "role", "assistant");
	json_put(y, "model");
	json_putn(y, r->model.p, r->model.len);
	json_put(y, "content");
}

/* The members after the content; done: as the answer ends, else as
 * message_start has them. */
static void
put_tail(yajl_gen y, const struct resp *r, int done)
{
	const struct rstate *s = &r->s;

	json_ks(y, "stop_reason", done ? s->fin[0] : NULL);
	json_put(y, "stop_sequence");
	if (done && r->stopseq.len)
		json_putn(y, r->stopseq.p, r->stopseq.len);
	else
		yajl_gen_null(y);
	put_usage(y, s, done ? s->ctok : 1);
	yajl_gen_map_close(y);
}

/* The tool_use block's head; its input follows. */
static void
put_tool_head(yajl_gen y, const struct resp *r)
{
	yajl_gen_map_open(y);
	json_ks(y, "type", "tool_use");
	json_ks(y, "id", TOOL_ID);
	json_put(y, "name");
	json_putn(y, r->tname.p, r->tname.len);
	json_put(y, "input");
}

/* ------------------------------------------------------------------ */
/* Stream events: each maker writes one event's JSON to b and returns
 * its name, or NULL to move on to the next phase */

/* Open {"type":"content_block_...","index":K, and the member k. */
static void
ev_block(yajl_gen y, const char *type, int index, const char *k)
{
	yajl_gen_map_open(y);
	json_ks(y, "type", type);
	json_ki(y, "index", index);
	if (k)
		json_put(y, k);
}

/* A content_block_delta of type dt with member k = v[0..n). */
static void
ev_delta(yajl_gen y, int index, const char *dt, const char *k,
    const char *v, size_t n)
{
	ev_block(y, "content_block_delta", index, "delta");
	yajl_gen_map_open(y);
	json_ks(y, "type", dt);
	json_put(y, k);
	json_putn(y, v, n);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

/* message_delta: why the message stopped, and its output tokens. */
static void
put_message_delta(yajl_gen y, const struct resp *r)
{
	yajl_gen_map_open(y);
	json_ks(y, "type", "message_delta");
	json_put(y, "delta");
	yajl_gen_map_open(y);
	json_ks(y, "stop_reason", r->s.fin[0]);
	json_put(y, "stop_sequence");
	if (r->stopseq.len)
		json_putn(y, r->stopseq.p, r->stopseq.len);
	else
		yajl_gen_null(y);
	yajl_gen_map_close(y);
	json_put(y, "usage");
	yajl_gen_map_open(y);
	json_ki(y, "output_tokens", r->s.ctok);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

/* The next token of the text (with think, the thinking) as a delta,
 * from the start again once the text is used up. */
static void
put_text_delta(yajl_gen y, struct resp *r, int think)
{
	struct rstate *s = &r->s;
	const struct buf *t = think ? &r->rtext : &r->text[0];
	size_t e;

	if (s->pos[0] >= t->len)
		s->pos[0] = 0;
	e = sse_tok_end(t->p, t->len, s->pos[0]);
	ev_delta(y, s->blk, think ? "thinking_delta" : "text_delta",
	    think ? "thinking" : "text", t->p + s->pos[0], e - s->pos[0]);
	s->pos[0] = e;
}

/* The next piece of the tool's arguments as a delta; the first piece is
 * empty, as the API sends it. */
static void
put_tool_delta(yajl_gen y, struct resp *r)
{
	struct rstate *s = &r->s;
	const struct buf *t = &r->targs;
	size_t e = s->k ? sse_piece_end(t->p, t->len, s->tpos) : 0;

	ev_delta(y, s->blk, "input_json_delta", "partial_json",
	    t->p + s->tpos, e - s->tpos);
	s->tpos = e > s->tpos ? e : s->tpos;
}

/* The next event of the stream, its JSON made in y; NULL at the end. */
static const char *
gen_event(struct resp *r, yajl_gen y)
{
	struct rstate *s = &r->s;

	for (;; s->ph++, s->k = 0) {
		switch (s->ph) {
		case MS_START:
			yajl_gen_map_open(y);
			json_ks(y, "type", "message_start");
			json_put(y, "message");
			put_head(y, r);
			yajl_gen_array_open(y);	/* no content yet */
			yajl_gen_array_close(y);
			put_tail(y, r, 0);
			yajl_gen_map_close(y);
			s->ph++;
			return "message_start";
		case MS_PING:
			yajl_gen_map_open(y);
			json_ks(y, "type", "ping");
			yajl_gen_map_close(y);
			s->ph++;
			return "ping";
		case MS_THINK_START:
		case MS_TEXT_START:
			if (s->ph == MS_THINK_START && !s->reason)
				continue;
			ev_block(y, "content_block_start", s->blk,
			    "content_block");
			yajl_gen_map_open(y);
			json_ks(y, "type", s->reason && s->ph == MS_THINK_START
			    ? "thinking" : "text");
			json_ks(y, s->ph == MS_THINK_START ? "thinking" :
			    "text", "");
			yajl_gen_map_close(y);
			yajl_gen_map_close(y);
			s->ph++;
			return "content_block_start";
		case MS_THINK:
		case MS_TEXT:
			if (s->k >= (s->ph == MS_THINK ? s->rcnt[0] : s->cnt[0]))
				continue;
			put_text_delta(y, r, s->ph == MS_THINK);
			s->k++;
			return "content_block_delta";
		case MS_SIG:
			if (!s->reason)
				continue;
			ev_delta(y, s->blk, "signature_delta", "signature",
			    SIGNATURE, strlen(SIGNATURE));
			s->ph++;
			return "content_block_delta";
		case MS_THINK_STOP:
		case MS_TEXT_STOP:
		case MS_TOOL_STOP:
			if ((s->ph == MS_THINK_STOP && !s->reason) ||
			    (s->ph == MS_TOOL_STOP && !s->tools))
				continue;
			ev_block(y, "content_block_stop", s->blk++, NULL);
			yajl_gen_map_close(y);
			s->pos[0] = 0;
			s->ph++;
			return "content_block_stop";
		case MS_TOOL_START:
			if (!s->tools)
				continue;
			ev_block(y, "content_block_start", s->blk,
			    "content_block");
			put_tool_head(y, r);
			yajl_gen_map_open(y);
			yajl_gen_map_close(y);
			yajl_gen_map_close(y);
			yajl_gen_map_close(y);
			s->ph++;
			return "content_block_start";
		case MS_TOOL:
			if (!s->tools || s->k > s->npieces)
				continue;
			put_tool_delta(y, r);
			s->k++;
			return "content_block_delta";
		case MS_DELTA:
			put_message_delta(y, r);
			s->ph++;
			return "message_delta";
		case MS_STOP:
			s->ph++;
			if (s->no_done)
				continue;
			yajl_gen_map_open(y);
			json_ks(y, "type", "message_stop");
			yajl_gen_map_close(y);
			return "message_stop";
		default:
			return NULL;
		}
	}
}

/* One event of a Messages stream into b, or the fault f; 0 at the
 * end (see mockvman.md). */
static int
gen_fault(struct resp *r, struct buf *b, int f)
{
	static const char overloaded[] = "{\"type\":\"error\",\"error\":"
	    "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
	struct rstate *s = &r->s;
	const char *name;

	if (s->ph >= MS_END)
		return 0;
	if (f == SF_BAD) {
		sse_event(s, b, "content_block_delta");
		buf_adds(b, "{\"broken json");
	} else if (f == SF_ERR) {
		s->ph = MS_END;
		sse_event(s, b, "error");
		buf_adds(b, overloaded);
	} else if ((name = gen_event(r, r->y)) != NULL) {
		sse_event(s, b, name);
		json_take(r->y, b);
	} else
		return 0;
	return 1;
}

static int
anth_sse_next(struct conn *c)
{
	return sse_unit(c, SU_BOM, gen_fault);
}

/* ------------------------------------------------------------------ */
/* The request */

/* The words of a content (a string, or text blocks) into *plain, those
 * of blocks with cache_control into *cached; the text into b unless
 * NULL (text blocks joined by a space). */
static void
words(yajl_val v, unsigned long long *plain, unsigned long long *cached,
    struct buf *b)
{
	const char *t;
	yajl_val p;
	size_t i;
	int first = 1;

	if ((t = json_str(v)) != NULL) {
		*plain += util_words(t);
		if (b)
			buf_adds(b, t);
		return;
	}
	for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
		p = v->u.array.values[i];
		if ((t = json_str(json_get(p, "text"))) == NULL)
			continue;
		if (json_get(p, "cache_control"))
			*cached += util_words(t);
		else
			*plain += util_words(t);
		if (b && !first)
			buf_add(b, " ", 1);
		if (b)
			buf_adds(b, t);
		first = 0;
	}
}

/* Cut the text at the first of the request's stop_sequences it holds;
 * 1 when it did. */
static int
stop_at(struct resp *r, yajl_val seqs)
{
	struct buf *t = &r->text[0];
	const char *q, *best = NULL, *bs = NULL;
	size_t i;

	for (i = 0; YAJL_IS_ARRAY(seqs) && i < seqs->u.array.len; i++) {
		if ((q = json_str(seqs->u.array.values[i])) == NULL || !*q ||
		    t->len == 0)
			continue;
		if ((q = strstr(t->p, q)) != NULL && (!best || q < best)) {
			best = q;
			bs = json_str(seqs->u.array.values[i]);
		}
	}
	if (!best)
		return 0;
	t->len = best - t->p;
	t->p[t->len] = '\0';
	buf_adds(&r->stopseq, bs);
	return 1;
}

/* The non-streamed Message; mock.size pads the text with "x". */
static void
msg_body(struct conn *c, const struct mock *m, int status)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	yajl_gen y = sse_gen(r);
	size_t split;

	put_head(y, r);
	yajl_gen_array_open(y);
	if (s->reason) {
		yajl_gen_map_open(y);
		json_ks(y, "type", "thinking");
		json_put(y, "thinking");
		json_putn(y, r->rtext.p, r->rtext.len);
		json_ks(y, "signature", SIGNATURE);
		yajl_gen_map_close(y);
	}
	yajl_gen_map_open(y);
	json_ks(y, "type", "text");
	json_put(y, "text");
	json_putn(y, r->text[0].p, sse_tok_prefix(r->text[0].p,
	    r->text[0].len, s->cnt[0]));
	split = json_len(y) - 1;
	yajl_gen_map_close(y);
	if (s->tools) {
		put_tool_head(y, r);
		json_raw(y, r->targs.p, r->targs.len);
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
	put_tail(y, r, 1);
	json_take(y, &r->head);
	sse_pad(r, m, split);
	http_fixed(c, status, "application/json", m);
}

/* What the answer says, from the request (see mockvman.md). */
static void
gen_answer(struct req *q, yajl_val root, int stream)
{
	struct resp *r = &q->c->r;
	struct rstate *s = &r->s;
	unsigned long long none = 0;
	yajl_val msgs, v, th;
	const char *model = sse_model(root), *tt;
	size_t i, total;

	sse_names(r, "msg_mock_", q->seq, model);
	words(json_get(root, "system"), &s->ptok, &s->cwtok, NULL);
	msgs = json_get(root, "messages");
	for (i = 0; YAJL_IS_ARRAY(msgs) && i < msgs->u.array.len; i++)
		words(json_get(msgs->u.array.values[i], "content"), &s->ptok,
		    &s->crtok, NULL);
	if (q->m.content)
		buf_adds(&r->text[0], q->m.content);
	else if ((v = sse_last_user(msgs)) != NULL)
		words(json_get(v, "content"), &none, &none, &r->text[0]);
	th = json_get(root, "thinking");
	tt = json_str(json_get(th, "type"));
	s->reason = strstr(model, "reason") != NULL ||
	    (YAJL_IS_OBJECT(th) && !(tt && strcmp(tt, "disabled") == 0));
	s->tools = sse_tool(r, root, TN_TOP);
	s->fin[0] = s->tools ? "tool_use" : "end_turn";
	r->stopseq.len = 0;
	if (stop_at(r, json_get(root, "stop_sequences"))) {
		s->fin[0] = "stop_sequence";
		s->tools = 0;
	}
	total = sse_repeat(&q->m, stream) * sse_tok_count(r->text[0].p,
	    r->text[0].len);
	if (sse_clip(&total, json_int(json_get(root, "max_tokens"), -1))) {
		s->fin[0] = "max_tokens";
		s->tools = 0;
	}
	s->cnt[0] = total;
	if (s->reason)
		s->rcnt[0] = sse_think(r, r->text[0].p, r->text[0].len);
	if (s->tools)
		s->npieces = sse_args(r, r->text[0].p, r->text[0].len);
	s->ctok = s->rcnt[0] + s->cnt[0] + s->npieces;
}

/* POST /v1/messages: echo the last user message (see mockvman.md). */
void
anth_messages(struct req *q, int arg)
{
	int stream = YAJL_IS_TRUE(json_get(q->root, "stream"));

	(void)arg;
	gen_answer(q, q->root, stream);
	if (!stream) {
		msg_body(q->c, &q->m, q->status);
		return;
	}
	http_sse(q->c, &q->m);
	q->c->r.s.next = anth_sse_next;
}
