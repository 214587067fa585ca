/*
 * mock-responses.c: the OpenAI Responses API route of t/mockvman,
 * POST /v1/responses: a response object, or its event stream generated
 * lazily, event by event.  What it answers: t/mockvman.md.
 *
 * A stream uses the answer state of mock.h thus: s->n output items
 * (a reasoning item first when s->reason, then a message, or a
 * function call when s->tools), s->ci the item being sent, s->ph the
 * step within it, s->pos[0] the bytes of its text sent as deltas;
 * s->fin[0] the response's final status, s->fin[1] its incomplete
 * reason; s->rcnt[0] the reasoning tokens.  Texts: r->text[0] the
 * message, r->rtext the reasoning summary, r->targs the call's
 * arguments, r->tname its name, r->id the response id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define TEXT_CAP	(64UL << 20)	/* a repeated text is cut here */

/* The steps of a stream. */
enum {
	RP_CREATED, RP_INPROG, RP_ADDED, RP_PART, RP_DELTA, RP_TEXTDONE,
	RP_PARTDONE, RP_ITEMDONE, RP_FINAL, RP_END
};
enum { IT_REASON, IT_MSG, IT_CALL };

static const char *const item_ids[] = { "rs_mock_1", "msg_mock_1",
	"fc_mock_1" };

/* The kind of output item i. */
static int
item_kind(const struct rstate *s, int i)
{
	if (s->reason && i == 0)
		return IT_REASON;
	return s->tools ? IT_CALL : IT_MSG;
}

/* The text item i streams. */
static const struct buf *
item_text(const struct resp *r, int kind)
{
	return kind == IT_REASON ? &r->rtext : kind == IT_CALL ? &r->targs :
	    &r->text[0];
}

/* ------------------------------------------------------------------ */
/* The response object */

/* A summary part (of the reasoning item) or a content part (of the
 * message) holding the first n bytes of its text. */
static void
put_text(yajl_gen y, const struct resp *r, int kind, size_t n)
{
	yajl_gen_map_open(y);
	if (kind == IT_REASON)
		json_ks(y, "type", "summary_text");
	else {
		json_ks(y, "type", "output_text");
		json_put(y, "annotations");
		yajl_gen_array_open(y);
		yajl_gen_array_close(y);
		json_put(y, "logprobs");
		yajl_gen_array_open(y);
		yajl_gen_array_close(y);
	}
	json_put(y, "text");
	json_putn(y, item_text(r, kind)->p, n);
	yajl_gen_map_close(y);
}

/* Output item i: in progress (empty) or done (whole). */
static void
put_item(yajl_gen y, const struct resp *r, int i, int done)
{
	const struct rstate *s = &r->s;
	int kind = item_kind(s, i);
	const struct buf *t = item_text(r, kind);

	yajl_gen_map_open(y);
	json_ks(y, "id", item_ids[kind]);
	if (kind == IT_REASON) {
		json_ks(y, "type", "reasoning");
		json_put(y, "summary");
		yajl_gen_array_open(y);
		if (done)
			put_text(y, r, kind, t->len);
		yajl_gen_array_close(y);
	} else if (kind == IT_CALL) {
		json_ks(y, "type", "function_call");
		json_ks(y, "status", done ? "completed" : "in_progress");
		json_put(y, "arguments");
		json_putn(y, t->p, done ? t->len : 0);
		json_ks(y, "call_id", "call_mock_1");
		json_put(y, "name");
		json_putn(y, r->tname.p, r->tname.len);
	} else {
		json_ks(y, "type", "message");
		json_ks(y, "status", !done ? "in_progress" :
		    strcmp(s->fin[0], "incomplete") == 0 ? "incomplete" :
		    "completed");
		json_put(y, "content");
		yajl_gen_array_open(y);
		if (done)
			put_text(y, r, kind, t->len);
		yajl_gen_array_close(y);
		json_ks(y, "role", "assistant");
	}
	yajl_gen_map_close(y);
}

/* The response object; a final one has its status, output and usage,
 * else it is in progress. */
static void
put_response(yajl_gen y, const struct resp *r, int final)
{
	const struct rstate *s = &r->s;
	const char *st = final ? s->fin[0] : "in_progress";
	int i;

	yajl_gen_map_open(y);
	json_put(y, "id");
	json_putn(y, r->id.p, r->id.len);
	json_ks(y, "object", "response");
	json_put(y, "created_at");
	json_raw(y, CREATED, strlen(CREATED));
	json_ks(y, "status", st);
	json_put(y, "error");
	if (strcmp(st, "failed") == 0) {
		yajl_gen_map_open(y);
		json_ks(y, "code", "server_error");
		json_ks(y, "message", "mock: response failed");
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	json_put(y, "incomplete_details");
	if (strcmp(st, "incomplete") == 0) {
		yajl_gen_map_open(y);
		json_ks(y, "reason", s->fin[1]);
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	json_ks(y, "instructions", NULL);
	json_put(y, "model");
	json_putn(y, r->model.p, r->model.len);
	json_put(y, "output");
	yajl_gen_array_open(y);
	for (i = 0; final && i < s->n; i++)
		put_item(y, r, i, 1);
	yajl_gen_array_close(y);
	json_kb(y, "parallel_tool_calls", 1);
	json_ks(y, "previous_response_id", NULL);
	json_put(y, "text");
	yajl_gen_map_open(y);
	json_put(y, "format");
	yajl_gen_map_open(y);
	json_ks(y, "type", "text");
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
	json_ks(y, "tool_choice", "auto");
	json_put(y, "usage");
	if (final) {
		yajl_gen_map_open(y);
		json_ki(y, "input_tokens", s->ptok);
		json_put(y, "input_tokens_details");
		yajl_gen_map_open(y);
		json_ki(y, "cached_tokens", 0);
		yajl_gen_map_close(y);
		json_ki(y, "output_tokens", s->ctok);
		json_put(y, "output_tokens_details");
		yajl_gen_map_open(y);
		json_ki(y, "reasoning_tokens", s->rcnt[0]);
		yajl_gen_map_close(y);
		json_ki(y, "total_tokens", s->ptok + s->ctok);
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	yajl_gen_map_close(y);
}

/* ------------------------------------------------------------------ */
/* The stream */

/* Open an event's object: its type, sequence number, and the item's
 * id and output index when item >= 0. */
static const char *
ev_open(struct resp *r, const char *type, int item)
{
	yajl_gen y = r->y;

	yajl_gen_map_open(y);
	json_ks(y, "type", type);
	json_ki(y, "sequence_number", r->s.nev);
	if (item >= 0) {
		json_ks(y, "item_id", item_ids[item_kind(&r->s, item)]);
		json_ki(y, "output_index", item);
	}
	return type;
}

/* A content or summary part, empty or whole. */
static void
put_part(yajl_gen y, const struct resp *r, int kind, int whole)
{
	const struct buf *t = item_text(r, kind);

	json_put(y, kind == IT_REASON ? "summary_index" : "content_index");
	yajl_gen_integer(y, 0);
	json_put(y, "part");
	put_text(y, r, kind, whole ? t->len : 0);
}

/* The event of the current step into r->y, the stream moved on; its
 * type, or NULL at the end. */
/* The event of the current item's text t, of kind: its next piece as a
 * delta, or with whole its whole text as the done event. */
static const char *
text_event(struct resp *r, int kind, const struct buf *t, int whole)
{
	static const char *const delta[] = {
		"response.reasoning_summary_text.delta",
		"response.output_text.delta",
		"response.function_call_arguments.delta" };
	static const char *const done[] = {
		"response.reasoning_summary_text.done",
		"response.output_text.done",
		"response.function_call_arguments.done" };
	struct rstate *s = &r->s;
	yajl_gen y = r->y;
	const char *type = ev_open(r, whole ? done[kind] : delta[kind], s->ci);
	size_t from = whole ? 0 : s->pos[0], e = t->len;

	if (!whole)
		e = kind == IT_CALL ? sse_piece_end(t->p, t->len, from) :
		    sse_tok_end(t->p, t->len, from);
	if (kind != IT_CALL)
		json_ki(y, kind == IT_REASON ? "summary_index" :
		    "content_index", 0);
	json_put(y, whole ? (kind == IT_CALL ? "arguments" : "text") :
	    "delta");
	json_putn(y, t->p + from, e - from);
	if (kind == IT_MSG && !whole) {
		json_put(y, "logprobs");
		yajl_gen_array_open(y);
		yajl_gen_array_close(y);
	}
	if (!whole)
		s->pos[0] = e;
	return type;
}

static const char *
gen_event(struct resp *r)
{
	struct rstate *s = &r->s;
	yajl_gen y = r->y;
	const struct buf *t;
	const char *type;
	int kind = s->ci < s->n ? item_kind(s, s->ci) : IT_MSG;

	t = item_text(r, kind);
	switch (s->ph) {
	case RP_CREATED:
	case RP_INPROG:
		type = ev_open(r, s->ph == RP_CREATED ? "response.created" :
		    "response.in_progress", -1);
		json_put(y, "response");
		put_response(y, r, 0);
		s->ph++;
		break;
	case RP_ADDED:
		if (s->ci >= s->n) {
			s->ph = RP_FINAL;
			return gen_event(r);
		}
		type = ev_open(r, "response.output_item.added", -1);
		json_ki(y, "output_index", s->ci);
		json_put(y, "item");
		put_item(y, r, s->ci, 0);
		s->ph = kind == IT_CALL ? RP_DELTA : RP_PART;
		s->pos[0] = 0;
		break;
	case RP_PART:
	case RP_PARTDONE:
		type = ev_open(r, kind == IT_REASON ? (s->ph == RP_PART ?
		    "response.reasoning_summary_part.added" :
		    "response.reasoning_summary_part.done") :
		    s->ph == RP_PART ? "response.content_part.added" :
		    "response.content_part.done", s->ci);
		put_part(y, r, kind, s->ph == RP_PARTDONE);
		s->ph = s->ph == RP_PART ? RP_DELTA : RP_ITEMDONE;
		break;
	case RP_DELTA:
		if (s->pos[0] >= t->len) {
			s->ph = RP_TEXTDONE;
			return gen_event(r);
		}
		type = text_event(r, kind, t, 0);
		break;
	case RP_TEXTDONE:
		type = text_event(r, kind, t, 1);
		s->ph = kind == IT_CALL ? RP_ITEMDONE : RP_PARTDONE;
		break;
	case RP_ITEMDONE:
		type = ev_open(r, "response.output_item.done", -1);
		json_ki(y, "output_index", s->ci);
		json_put(y, "item");
		put_item(y, r, s->ci, 1);
		s->ci++;
		s->ph = RP_ADDED;
		break;
	case RP_FINAL:
		if (s->no_done) {	/* mock.no_done: no terminal event */
			s->ph = RP_END;
			return NULL;
		}
		type = strcmp(s->fin[0], "completed") == 0 ?
		    "response.completed" : strcmp(s->fin[0], "failed") == 0 ?
		    "response.failed" : "response.incomplete";
		ev_open(r, type, -1);
		json_put(y, "response");
		put_response(y, r, 1);
		s->ph = RP_END;
		break;
	default:
		return NULL;
	}
	yajl_gen_map_close(y);
	return type;
}

/* One event of a Responses stream into b, its event and data lines,
 * or the fault f; 0 at the end. */
static int
gen_fault(struct resp *r, struct buf *b, int f)
{
	const char *type;

	if (f == SF_ERR) {
		r->s.ph = RP_END;
		type = ev_open(r, "error", -1);
		json_ks(r->y, "code", "mock_stream_error");
		json_ks(r->y, "message", "mock stream error");
		json_ks(r->y, "param", NULL);
		yajl_gen_map_close(r->y);
	} else if (f == SF_BAD) {
		yajl_gen_clear(r->y);
		sse_event(&r->s, b, "response.output_text.delta");
		buf_adds(b, "{\"broken json");
		return 1;
	} else if ((type = gen_event(r)) == NULL)
		return 0;
	sse_event(&r->s, b, type);
	json_take(r->y, b);
	return 1;
}

/* As oai_sse_next for chat, but an error event wins over bad_data. */
static int
resp_sse_next(struct conn *c)
{
	return sse_unit(c, SU_ERRFIRST, gen_fault);
}

/* ------------------------------------------------------------------ */
/* The route */

/* The echo of the input: a string, or the last user message of an
 * array of items; prompt tokens: words of every input text. */
static void
read_input(yajl_val in, struct buf *echo, unsigned long long *ptok)
{
	struct buf t = { 0 };
	const char *role;
	yajl_val v;
	size_t i;

	if (json_str(in)) {
		buf_adds(echo, json_str(in));
		*ptok = util_words(json_str(in));
		return;
	}
	for (i = 0; YAJL_IS_ARRAY(in) && i < in->u.array.len; i++) {
		v = in->u.array.values[i];
		t.len = 0;
		sse_text(json_get(v, "content"), &t);
		if (t.len)
			*ptok += util_words(t.p);
		if ((role = json_str(json_get(v, "role"))) != NULL &&
		    strcmp(role, "user") == 0) {
			echo->len = 0;
			buf_add(echo, t.p, t.len);
		}
	}
	buf_free(&t);
}

/* The message text: the echo, repeated (joined by a space) on a
 * stream, cut after maxtok tokens (then incomplete). */
static void
make_text(struct resp *r, const struct buf *echo, long long rep,
    long long maxtok)
{
	struct buf *t = &r->text[0];
	size_t p;
	long long k;

	if (echo->len && rep > (long long)(TEXT_CAP / (echo->len + 1)))
		rep = TEXT_CAP / (echo->len + 1);
	for (k = 0; k < rep && echo->len; k++) {
		if (k)
			buf_add(t, " ", 1);
		buf_add(t, echo->p, echo->len);
	}
	if (maxtok >= 0 && (p = sse_tok_prefix(t->p, t->len, maxtok)) <
	    t->len) {
		t->len = p;
		r->s.fin[0] = "incomplete";
		r->s.fin[1] = "max_output_tokens";
	}
}

/* POST /v1/responses: echo the input as a response (see mockvman.md). */
void
resp_create(struct req *q, int arg)
{
	struct conn *c = q->c;
	yajl_val root = q->root, mo;
	const struct mock *m = &q->m;
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf echo = { 0 };
	const char *model = sse_model(root), *why;
	int stream, faults;

	(void)arg;
	read_input(json_get(root, "input"), &echo, &s->ptok);
	if (m->content) {
		echo.len = 0;
		buf_adds(&echo, m->content);
	}
	stream = YAJL_IS_TRUE(json_get(root, "stream"));
	s->fin[0] = "completed";
	s->reason = strstr(model, "reason") != NULL;
	if ((s->tools = sse_tool(r, root, TN_TOP | TN_FUNC)))
		s->ctok += sse_args(r, echo.p, echo.len);
	else {
		make_text(r, &echo, sse_repeat(m, stream), json_int(json_get(
		    root, "max_output_tokens"), -1));
		s->ctok += sse_tok_count(r->text[0].p, r->text[0].len);
	}
	if (s->reason) {
		s->rcnt[0] = sse_think(r, echo.p, echo.len);
		s->ctok += s->rcnt[0];
	}
	s->n = 1 + s->reason;
	/* The faults of this route, dropped with the others once
	 * fail_first is used up. */
	mo = json_get(root, "mock");
	faults = !(json_int(json_get(mo, "fail_first"), -1) >= 0 &&
	    m->fail_first < 0);
	if (faults && (why = json_str(json_get(mo, "incomplete"))) != NULL) {
		/* A string of our own: the tree is gone when it is sent. */
		s->fin[0] = "incomplete";
		s->fin[1] = strcmp(why, "max_output_tokens") == 0 ?
		    "max_output_tokens" : "content_filter";
	}
	if (faults && json_bool(json_get(mo, "failed")))
		s->fin[0] = "failed";
	sse_names(r, "resp_mock_", q->seq, model);
	buf_free(&echo);
	if (stream) {
		http_sse(c, m);
		s->next = resp_sse_next;
		return;
	}
	put_response(sse_gen(r), r, 1);
	json_take(r->y, &r->head);
	http_fixed(c, q->status, "application/json", m);
}
