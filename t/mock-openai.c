/*
 * mock-openai.c: the OpenAI routes of t/mockvman: chat, completions
 * (with their generated event streams), embeddings, images, audio,
 * videos.
 * What it answers: t/mockvman.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/* ------------------------------------------------------------------ */
/* Generated streams */

/* Tokens of choice i's text: the first base bytes (its "[i] " prefix)
 * are a token of their own, the rest is cut as every dialect's. */
static size_t
tok_end(const struct resp *r, int i, size_t p)
{
	const struct buf *t = &r->text[i];
	size_t base = r->s.base[i];

	if (p < base)
		return base;
	return sse_tok_end(t->p, t->len, p);
}

static size_t
tok_count(const struct resp *r, int i)
{
	const struct buf *t = &r->text[i];
	size_t base = r->s.base[i];

	return (base > 0) + sse_tok_count(t->p + base, t->len - base);
}

/* Bytes taken by the first k tokens. */
static size_t
tok_prefix(const struct resp *r, int i, size_t k)
{
	size_t p = 0;

	while (k-- > 0 && p < r->text[i].len)
		p = tok_end(r, i, p);
	return p;
}

/* Next (choice, index) in round-robin order over per-choice counts. */
static int
rr_next(struct rstate *s, const size_t *cnt)
{
	while (s->k < s->kmax) {
		if (s->ci >= s->n) {
			s->ci = 0;
			s->k++;
			continue;
		}
		if (s->k < cnt[s->ci])
			return s->ci++;
		s->ci++;
	}
	return -1;
}

static void
rr_start(struct rstate *s, int ph, const size_t *cnt)
{
	int i;

	s->ph = ph;
	s->ci = 0;
	s->k = 0;
	s->kmax = 0;
	for (i = 0; i < s->n; i++)
		if (cnt[i] > s->kmax)
			s->kmax = cnt[i];
}

static void
put_usage(yajl_gen y, const struct rstate *s)
{
	json_put(y, "usage");
	yajl_gen_map_open(y);
	json_ki(y, "prompt_tokens", s->ptok);
	json_ki(y, "completion_tokens", s->ctok);
	json_ki(y, "total_tokens", s->ptok + s->ctok);
	yajl_gen_map_close(y);
}

/* The members every chat or completion answer starts with. */
static void
put_head(yajl_gen y, const struct resp *r, const char *object)
{
	yajl_gen_map_open(y);
	json_put(y, "id");
	json_putn(y, r->id.p, r->id.len);
	json_ks(y, "object", object);
	json_put(y, "created");
	json_raw(y, CREATED, strlen(CREATED));
	json_put(y, "model");
	json_putn(y, r->model.p, r->model.len);
}

/* Open one chunk event for choice i (its delta or text follows). */
static void
ev_choice(struct resp *r, int i)
{
	yajl_gen y = r->y;

	put_head(y, r, r->s.kind == K_CHAT ? "chat.completion.chunk" :
	    "text_completion");
	json_put(y, "choices");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	if (r->s.kind == K_CHAT) {
		json_ki(y, "index", i);
		json_put(y, "delta");
	} else
		json_put(y, "text");
}

/* Close a chunk event opened by ev_choice (fin NULL gives null) and
 * move it to b. */
static void
ev_close(struct buf *b, struct resp *r, const char *fin)
{
	yajl_gen y = r->y;

	if (r->s.kind == K_CMPL)
		json_ki(y, "index", 0);
	json_ks(y, "logprobs", NULL);
	json_ks(y, "finish_reason", fin);
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	json_take(y, b);
}

/* A tool call delta: the call's head (with an empty arguments
 * string) when name is given, else a piece of its arguments. */
static void
put_tool_call(yajl_gen y, const struct buf *name, const char *args,
    size_t n)
{
	yajl_gen_map_open(y);
	json_put(y, "tool_calls");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	json_ki(y, "index", 0);
	if (name) {
		json_ks(y, "id", "call_mock_1");
		json_ks(y, "type", "function");
	}
	json_put(y, "function");
	yajl_gen_map_open(y);
	if (name) {
		json_put(y, "name");
		json_putn(y, name->p, name->len);
	}
	json_put(y, "arguments");
	json_putn(y, args, n);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
}

/* A delta or text made of one token of t; key NULL gives a bare
 * string (completions). */
static void
put_token(yajl_gen y, const char *key, const char *t, size_t n)
{
	if (key) {
		yajl_gen_map_open(y);
		json_put(y, key);
	}
	json_putn(y, t, n);
	if (key)
		yajl_gen_map_close(y);
}

/* The event makers below append one event's JSON to b and return 1,
 * or move s->ph on and return PH_ON when their phase has no more. */
#define PH_ON	(-1)

/* The role chunk of each choice (chat only). */
static int
ev_role(struct resp *r, struct buf *b)
{
	struct rstate *s = &r->s;

	if (s->kind == K_CHAT && s->ci < s->n) {
		ev_choice(r, s->ci++);
		yajl_gen_map_open(r->y);
		json_ks(r->y, "role", "assistant");
		json_ks(r->y, "content", "");
		yajl_gen_map_close(r->y);
		ev_close(b, r, NULL);
		return 1;
	}
	rr_start(s, PH_REASON, s->rcnt);
	return PH_ON;
}

/* The next reasoning token, round-robin over the choices. */
static int
ev_reason(struct resp *r, struct buf *b)
{
	struct rstate *s = &r->s;
	struct buf *t = &r->rtext;
	size_t e;
	int i;

	if ((i = rr_next(s, s->rcnt)) < 0) {
		rr_start(s, PH_CONTENT, s->cnt);
		return PH_ON;
	}
	if (s->rpos[i] >= t->len)
		s->rpos[i] = 0;
	e = sse_tok_end(t->p, t->len, s->rpos[i]);
	ev_choice(r, i);
	put_token(r->y, "reasoning_content", t->p + s->rpos[i],
	    e - s->rpos[i]);
	ev_close(b, r, NULL);
	s->rpos[i] = e;
	return 1;
}

/* The next content token, round-robin over the choices; choice 0 of a
 * tool call gives the call's head, then its argument pieces. */
static int
ev_content(struct resp *r, struct buf *b)
{
	struct rstate *s = &r->s;
	struct buf *t;
	size_t e;
	int i;

	if ((i = rr_next(s, s->cnt)) < 0) {
		s->ph = PH_FINISH;
		s->ci = 0;
		return PH_ON;
	}
	ev_choice(r, i);
	if (s->tools && i == 0 && s->tpos == 0 && s->k == 0)
		put_tool_call(r->y, &r->tname, "", 0);
	else if (s->tools && i == 0) {
		t = &r->targs;
		e = sse_piece_end(t->p, t->len, s->tpos);
		put_tool_call(r->y, NULL, t->p + s->tpos, e - s->tpos);
		s->tpos = e;
	} else {
		t = &r->text[i];
		if (s->pos[i] >= t->len)
			s->pos[i] = 0;
		e = tok_end(r, i, s->pos[i]);
		put_token(r->y, s->kind == K_CHAT ? "content" : NULL,
		    t->p + s->pos[i], e - s->pos[i]);
		s->pos[i] = e;
	}
	ev_close(b, r, NULL);
	return 1;
}

/* The finish chunk of each choice: an empty delta (or text) with its
 * finish_reason. */
static int
ev_finish(struct resp *r, struct buf *b)
{
	struct rstate *s = &r->s;
	int i;

	if (s->ci >= s->n || s->cut_finish) {	/* cut: no finish chunks */
		s->ph = PH_USAGE;
		return PH_ON;
	}
	i = s->ci++;
	ev_choice(r, i);
	if (s->kind == K_CHAT) {
		yajl_gen_map_open(r->y);
		yajl_gen_map_close(r->y);
	} else
		json_put(r->y, "");
	ev_close(b, r, s->fin[i]);
	return 1;
}

/* The usage chunk ("choices":[]), when include_usage asked for it. */
static int
ev_usage(struct resp *r, struct buf *b)
{
	struct rstate *s = &r->s;
	yajl_gen y = r->y;

	s->ph = PH_DONE;
	if (!s->usage)
		return PH_ON;
	put_head(y, r, s->kind == K_CHAT ? "chat.completion.chunk" :
	    "text_completion");
	json_put(y, "choices");
	yajl_gen_array_open(y);
	yajl_gen_array_close(y);
	put_usage(y, s);
	yajl_gen_map_close(y);
	json_take(y, b);
	return 1;
}

/* The closing "[DONE]", unless mock.no_done leaves it out. */
static int
ev_done(struct resp *r, struct buf *b)
{
	r->s.ph = PH_END;
	if (r->s.no_done)
		return PH_ON;
	buf_adds(b, "[DONE]");
	return 1;
}

/* Append "data: " and the JSON of the stream's next event, or of the
 * fault f, to b; 0 at the end. */
static int
gen_event(struct resp *r, struct buf *b, int f)
{
	static int (*const make[])(struct resp *, struct buf *) = {
		[PH_ROLE] = ev_role, [PH_REASON] = ev_reason,
		[PH_CONTENT] = ev_content, [PH_FINISH] = ev_finish,
		[PH_USAGE] = ev_usage, [PH_DONE] = ev_done,
	};
	int k;

	buf_adds(b, "data: ");
	if (f == SF_BAD) {
		buf_adds(b, "{\"broken json");
		return 1;
	}
	if (f == SF_ERR) {
		r->s.ph = PH_END;
		json_error(r->y, "mock stream error", "server_error",
		    "mock_stream_error");
		json_take(r->y, b);
		return 1;
	}
	do {
		if (r->s.ph < PH_ROLE || r->s.ph >= PH_END)
			return 0;
		k = make[r->s.ph](r, b);
	} while (k == PH_ON);
	return k;
}

/* The relay's wait for upstream before a stream's first event: ": PING"
 * comment blocks (mock.pings, mock.ping_ms apart), then maybe a bare
 * JSON error body instead of events (mock.bare_error).  U_DATA or
 * U_BLOCK while that goes on, U_END after the bare error, -1 when the
 * events may start. */
static int
sse_prelude(struct conn *c, struct buf *b)
{
	struct rstate *s = &c->r.s;

	if (s->nev > 0)
		return -1;
	if (s->npings > 0 && g.now < s->ping_at) {
		http_wake(c, s->ping_at);
		return U_BLOCK;
	}
	if (s->npings < s->pings || s->bare == 1) {
		if (s->bom && !s->bom_done) {
			buf_add(b, "\xef\xbb\xbf", 3);
			s->bom_done = 1;
		}
		if (s->npings < s->pings) {
			buf_adds(b, ": PING");
			sse_blank(s, b);
			s->npings++;
			s->ping_at = g.now + s->ping_ms;
		} else {
			buf_add(b, c->r.bare.p, c->r.bare.len);
			s->bare = 2;
		}
		return U_DATA;
	}
	return s->bare ? U_END : -1;
}

/* Next unit of a chat or completion stream into r->stage: a ping, one
 * event with its comment and line ends, or a fault. */
int
oai_sse_next(struct conn *c)
{
	int k;

	if ((k = sse_prelude(c, &c->r.stage)) >= 0)
		return k;
	return sse_unit(c, SU_BOM | SU_FREEBAD, gen_event);
}

/* ------------------------------------------------------------------ */
/* Endpoints */

static unsigned long long
content_words(yajl_val v)
{
	unsigned long long n = 0;
	const char *t;
	size_t i;

	if ((t = json_str(v)) != NULL)
		return util_words(t);
	for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++)
		if ((t = json_str(json_get(v->u.array.values[i],
		    "text"))) != NULL)
			n += util_words(t);
	return n;
}

/* Insert FF FE after the first byte of b (mock.invalid_utf8). */
static void
put_bad_bytes(struct buf *b)
{
	buf_grow(b, 2);
	if (b->len > 0)
		memmove(b->p + 3, b->p + 1, b->len - 1);
	memcpy(b->p + (b->len > 0), "\xff\xfe", 2);
	b->len += 2;
	b->p[b->len] = '\0';
}

/* Choice texts, token counts and finish reasons from r->text[0] (the
 * echo); stream says whether repeat applies. */
static void
gen_choices(struct conn *c, const struct mock *m, long long maxtok,
    int stream)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	unsigned long long rep = sse_repeat(m, stream);
	size_t total, rtok = 0;
	int i;

	if (s->reason)
		rtok = sse_think(r, r->text[0].p, r->text[0].len);
	if (s->tools)
		s->npieces = sse_args(r, r->text[0].p, r->text[0].len);
	for (i = 1; i < s->n; i++) {
		buf_add(&r->text[i], "[", 1);
		buf_addu(&r->text[i], i);
		buf_add(&r->text[i], "] ", 2);
		s->base[i] = r->text[i].len;
		buf_add(&r->text[i], r->text[0].p, r->text[0].len);
	}
	if (m->invalid_utf8)
		put_bad_bytes(&r->text[0]);
	for (i = 0; i < s->n; i++) {
		s->rcnt[i] = rtok;
		s->ctok += rtok;
		if (s->tools && i == 0) {
			s->cnt[0] = 1 + s->npieces;
			s->fin[0] = "tool_calls";
			s->ctok += s->npieces;
			continue;
		}
		total = rep * tok_count(r, i);
		s->fin[i] = sse_clip(&total, maxtok) ? "length" : "stop";
		s->cnt[i] = total;
		s->ctok += total;
	}
}

/* Does the stream end with a usage chunk?  new-api asks upstream for
 * one when the request has no stream_options (since August 2025), else
 * as stream_options.include_usage says. */
static int
stream_usage(yajl_val root)
{
	yajl_val so = json_get(root, "stream_options");

	return so == NULL || YAJL_IS_NULL(so) ||
	    YAJL_IS_TRUE(json_get(so, "include_usage"));
}

/* Choice i's message in the answer of a chat that does not stream;
 * *split: where choice 0's text ends. */
static void
put_message(yajl_gen y, const struct resp *r, int i, size_t *split)
{
	const struct rstate *s = &r->s;

	json_ki(y, "index", i);
	json_put(y, "message");
	yajl_gen_map_open(y);
	json_ks(y, "role", "assistant");
	if (s->reason) {
		json_put(y, "reasoning_content");
		json_putn(y, r->rtext.p, r->rtext.len);
	}
	if (s->tools && i == 0) {
		json_ks(y, "content", NULL);
		json_put(y, "tool_calls");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		json_ks(y, "id", "call_mock_1");
		json_ks(y, "type", "function");
		json_put(y, "function");
		yajl_gen_map_open(y);
		json_put(y, "name");
		json_putn(y, r->tname.p, r->tname.len);
		json_put(y, "arguments");
		json_putn(y, r->targs.p, r->targs.len);
		yajl_gen_map_close(y);
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
	} else {
		json_put(y, "content");
		json_putn(y, r->text[i].p, tok_prefix(r, i, s->cnt[i]));
		if (i == 0)
			*split = json_len(y) - 1;
	}
	yajl_gen_map_close(y);
}

/* The answer of a chat or completion that does not stream; mock.size
 * pads choice 0's text. */
static void
whole(struct conn *c, const struct mock *m, int status)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	yajl_gen y = sse_gen(r);
	size_t split = 0;
	int i;

	put_head(y, r, s->kind == K_CHAT ? "chat.completion" :
	    "text_completion");
	json_put(y, "choices");
	yajl_gen_array_open(y);
	for (i = 0; i < s->n; i++) {
		yajl_gen_map_open(y);
		if (s->kind == K_CHAT)
			put_message(y, r, i, &split);
		else {
			json_put(y, "text");
			json_putn(y, r->text[0].p, tok_prefix(r, 0, s->cnt[0]));
			split = json_len(y) - 1;
			json_ki(y, "index", 0);
		}
		json_ks(y, "logprobs", NULL);
		json_ks(y, "finish_reason", s->fin[i]);
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
	put_usage(y, s);
	yajl_gen_map_close(y);
	json_take(y, &r->head);
	sse_pad(r, m, split);
	http_fixed(c, status, "application/json", m);
}

/* What a chat and a completion do once the echo is in r->text[0]: the
 * choices and names, then the stream or the whole answer. */
static void
answer(struct req *q, const char *id, long long maxtok)
{
	struct conn *c = q->c;
	int stream = YAJL_IS_TRUE(json_get(q->root, "stream"));

	c->r.s.usage = stream_usage(q->root);
	gen_choices(c, &q->m, maxtok, stream);
	sse_names(&c->r, id, q->seq, sse_model(q->root));
	if (stream)
		http_sse(c, &q->m);
	else
		whole(c, &q->m, q->status);
}

/* POST /v1/chat/completions: echo the last user message (see
 * mockvman.md). */
void
oai_chat(struct req *q, int arg)
{
	yajl_val root = q->root, msgs, v;
	struct resp *r = &q->c->r;
	struct rstate *s = &r->s;
	long long maxtok;
	size_t i;

	(void)arg;
	msgs = json_get(root, "messages");
	for (i = 0; YAJL_IS_ARRAY(msgs) && i < msgs->u.array.len; i++)
		s->ptok += content_words(json_get(msgs->u.array.values[i],
		    "content"));
	if (q->m.content)
		buf_adds(&r->text[0], q->m.content);
	else if ((v = sse_last_user(msgs)) != NULL)
		sse_text(json_get(v, "content"), &r->text[0]);
	s->kind = K_CHAT;
	s->n = util_clamp(json_int(json_get(root, "n"), 1), 1, MAX_CHOICES);
	s->reason = strstr(sse_model(root), "reason") != NULL;
	s->tools = sse_tool(r, root, TN_FUNC);
	maxtok = json_int(json_get(root, "max_tokens"), -1);
	if (maxtok < 0)
		maxtok = json_int(json_get(root, "max_completion_tokens"), -1);
	answer(q, "chatcmpl-mock-", maxtok);
}

/* POST /v1/completions: echo the prompt as one choice. */
void
oai_completion(struct req *q, int arg)
{
	struct rstate *s = &q->c->r.s;
	yajl_val pr = json_get(q->root, "prompt");
	const char *prompt = json_str(pr);
	size_t i;

	(void)arg;
	for (i = 0; !prompt && YAJL_IS_ARRAY(pr) && i < pr->u.array.len; i++)
		prompt = json_str(pr->u.array.values[i]);
	if (prompt == NULL)
		prompt = "";
	s->ptok = util_words(prompt);
	buf_adds(&q->c->r.text[0], q->m.content ? q->m.content : prompt);
	s->kind = K_CMPL;
	s->n = 1;
	answer(q, "cmpl-mock-", json_int(json_get(q->root, "max_tokens"), -1));
}

/* One embedding: 8 floats in [-1,1] hashed from the bytes of s. */
static void
put_embedding(yajl_gen y, const char *s, size_t k)
{
	uint64_t h = 1469598103934665603ULL;
	char num[32];
	int j, n;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	yajl_gen_map_open(y);
	json_ks(y, "object", "embedding");
	json_ki(y, "index", k);
	json_put(y, "embedding");
	yajl_gen_array_open(y);
	for (j = 0; j < 8; j++) {
		n = snprintf(num, sizeof num, "%.6f",
		    (double)(util_mix64(h + j) >> 11) / 9007199254740992.0 *
		    2 - 1);
		json_raw(y, num, n);
	}
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
}

/* POST /v1/embeddings: 8 hashed floats per input. */
void
oai_embeddings(struct req *q, int arg)
{
	yajl_val root = q->root, in;
	yajl_gen y = q->y;
	const char *model, *t;
	unsigned long long p = 0;
	size_t i;

	(void)arg;
	model = sse_model(root);
	in = json_get(root, "input");
	yajl_gen_map_open(y);
	json_ks(y, "object", "list");
	json_put(y, "data");
	yajl_gen_array_open(y);
	if ((t = json_str(in)) != NULL) {
		put_embedding(y, t, 0);
		p += util_words(t);
	}
	for (i = 0; YAJL_IS_ARRAY(in) && i < in->u.array.len; i++) {
		t = json_str(in->u.array.values[i]);
		put_embedding(y, t ? t : "", i);
		p += t ? util_words(t) : 0;
	}
	yajl_gen_array_close(y);
	json_ks(y, "model", model);
	json_put(y, "usage");
	yajl_gen_map_open(y);
	json_ki(y, "prompt_tokens", p);
	json_ki(y, "total_tokens", p);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* POST /v1/images/generations: n urls served by GET /files/. */
void
oai_images(struct req *q, int arg)
{
	yajl_gen y = q->y;
	const char *prompt;
	char name[64];
	long long n, k;

	(void)arg;
	if ((prompt = json_str(json_get(q->root, "prompt"))) == NULL)
		prompt = "";
	n = util_clamp(json_int(json_get(q->root, "n"), 1), 1, 10);
	yajl_gen_map_open(y);
	json_put(y, "created");
	json_raw(y, CREATED, strlen(CREATED));
	json_put(y, "data");
	yajl_gen_array_open(y);
	for (k = 0; k < n; k++) {
		snprintf(name, sizeof name, "img-%llu-%lld", q->seq, k);
		yajl_gen_map_open(y);
		files_kurl(y, "url", name, ".png");
		json_ks(y, "revised_prompt", prompt);
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Audio */

static const struct {
	const char *fmt, *ctype, *magic;
	size_t mlen;
} tts_fmts[] = {
	{ "mp3", "audio/mpeg", "ID3\x04\0\0\0\0\0\0", 10 },
	{ "opus", "audio/opus", "OggS\0\x02", 6 },
	{ "aac", "audio/aac", "\xff\xf1\x50\x80", 4 },
	{ "flac", "audio/flac", "fLaC", 4 },
	{ "wav", "audio/wav", "RIFF\0\0\0\0WAVEfmt ", 16 },
	{ "pcm", "audio/pcm", "", 0 },
};

static void
openai_400(struct req *q, const char *msg)
{
	http_error(q->c, 400, msg, "invalid_request_error", NULL, &q->m);
}

/* POST /v1/audio/speech: about 2 KB of made-up audio: the format's
 * magic bytes, a line naming the request, the input repeated. */
void
oai_tts(struct req *q, int arg)
{
	yajl_val r = q->root;
	const char *model = json_str(json_get(r, "model")), *voice, *in, *fmt;
	struct buf *b = &q->c->r.head;
	size_t i, n = sizeof tts_fmts / sizeof tts_fmts[0];
	char line[256];

	(void)arg;
	in = json_str(json_get(r, "input"));
	voice = json_str(json_get(r, "voice"));
	fmt = json_str(json_get(r, "response_format"));
	if (!util_nonempty(model)) {
		openai_400(q, "Missing required parameter: 'model'.");
		return;
	}
	if (!util_nonempty(in)) {
		openai_400(q, "Missing required parameter: 'input'.");
		return;
	}
	if (!util_nonempty(voice)) {
		openai_400(q, "Missing required parameter: 'voice'.");
		return;
	}
	for (i = 0; i < n && strcmp(tts_fmts[i].fmt, fmt ? fmt : "mp3"); i++)
		;
	if (i == n) {
		openai_400(q, "Invalid value for 'response_format': expected "
		    "one of mp3, opus, aac, flac, wav, pcm.");
		return;
	}
	buf_add(b, tts_fmts[i].magic, tts_fmts[i].mlen);
	snprintf(line, sizeof line, "MOCKTTS model=%s voice=%s format=%s\n",
	    model, voice, tts_fmts[i].fmt);
	buf_adds(b, line);
	while (b->len < 2048) {
		buf_adds(b, in);
		buf_add(b, "\n", 1);
	}
	http_fixed(q->c, q->status, tts_fmts[i].ctype, &q->m);
}

/* POST /v1/audio/transcriptions, /v1/audio/translations: multipart
 * file and model; the text names the file and its size. */
void
oai_stt(struct req *q, int translate)
{
	const struct part *f = form_file(&q->f, "file");
	const char *rf = form_text(&q->f, "response_format");
	struct buf *b = &q->c->r.head;
	yajl_gen y = q->y;
	char fn[128], text[256];

	if (!q->multipart) {
		openai_400(q, "Invalid Content-Type: expected "
		    "multipart/form-data (mock)");
		return;
	}
	if (f == NULL) {
		openai_400(q, "Missing required parameter: 'file'.");
		return;
	}
	if (!util_nonempty(form_text(&q->f, "model"))) {
		openai_400(q, "Missing required parameter: 'model'.");
		return;
	}
	form_fname(f, fn, sizeof fn);
	snprintf(text, sizeof text, "received %s %zu bytes%s", fn, f->len,
	    translate ? " (translated to English)" : "");
	if (rf == NULL || *rf == '\0' || strcmp(rf, "json") == 0) {
		yajl_gen_map_open(y);
		json_ks(y, "text", text);
		yajl_gen_map_close(y);
	} else if (strcmp(rf, "verbose_json") == 0) {
		yajl_gen_map_open(y);
		json_ks(y, "task", translate ? "translate" : "transcribe");
		json_ks(y, "language", "english");
		json_kd(y, "duration", 1);
		json_ks(y, "text", text);
		json_put(y, "segments");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		json_ki(y, "id", 0);
		json_ki(y, "seek", 0);
		json_kd(y, "start", 0);
		json_kd(y, "end", 1);
		json_ks(y, "text", text);
		json_put(y, "tokens");
		yajl_gen_array_open(y);
		yajl_gen_array_close(y);
		json_kd(y, "temperature", 0);
		json_kd(y, "avg_logprob", 0);
		json_kd(y, "compression_ratio", 1);
		json_kd(y, "no_speech_prob", 0);
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
		yajl_gen_map_close(y);
	} else {
		if (strcmp(rf, "srt") == 0)
			buf_adds(b, "1\n00:00:00,000 --> 00:00:01,000\n");
		else if (strcmp(rf, "vtt") == 0)
			buf_adds(b, "WEBVTT\n\n00:00:00.000 --> "
			    "00:00:01.000\n");
		else if (strcmp(rf, "text") != 0) {
			openai_400(q, "Invalid value for 'response_format': "
			    "expected one of json, text, srt, verbose_json, "
			    "vtt.");
			return;
		}
		buf_adds(b, text);
		buf_adds(b, strcmp(rf, "text") == 0 ? "\n" : "\n\n");
		http_fixed(q->c, q->status, "text/plain; charset=utf-8", &q->m);
		return;
	}
	route_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Videos (OpenAI's /v1/videos, as new-api relays it) */

/* A submit field: a JSON member or a multipart text field. */
static const char *
video_field(const struct req *q, const char *k)
{
	return q->multipart ? form_text(&q->f, k) :
	    json_str(json_get(q->root, k));
}

/* A video object: queued, in_progress, completed or failed, progress
 * 0..100; a failed one has error{message,code}, a completed one its
 * URL in metadata.url (model/task.go ToOpenAIVideo), or where
 * mock.video_url_at puts it as forks do: output.video_url, video_url. */
static void
video_object(yajl_gen y, const struct task *t)
{
	int ph = task_phase(t, NULL);
	char u[256];

	files_url(u, sizeof u, t->id, ".mp4");
	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "object", "video");
	json_ks(y, "model", t->model);
	json_ks(y, "status", task_status(t));
	json_ki(y, "progress", task_pct(t));
	json_ki(y, "created_at", t->submit_ms / 1000);
	json_put(y, "completed_at");
	if (t->finish_ms)
		yajl_gen_integer(y, t->finish_ms / 1000);
	else
		yajl_gen_null(y);
	json_ks(y, "seconds", t->title);
	json_ks(y, "size", t->tags);
	if (ph == TP_FAIL) {
		json_put(y, "error");
		yajl_gen_map_open(y);
		json_ks(y, "message", FAIL_REASON);
		json_ks(y, "code", "video_generation_failed");
		yajl_gen_map_close(y);
	}
	if (ph == TP_DONE && t->url_at == UA_TOP)
		json_ks(y, "video_url", u);
	else if (ph == TP_DONE) {
		json_put(y, t->url_at == UA_OUTPUT ? "output" : "metadata");
		yajl_gen_map_open(y);
		json_ks(y, t->url_at == UA_OUTPUT ? "video_url" : "url", u);
		yajl_gen_map_close(y);
	}
	yajl_gen_map_close(y);
}

/* POST /v1/videos (JSON or multipart) {prompt*, model, seconds, size}:
 * a queued video object. */
void
oai_video_submit(struct req *q, int arg)
{
	const char *prompt = video_field(q, "prompt"), *v;
	struct task *t;

	(void)arg;
	if (!util_nonempty(prompt)) {
		openai_400(q, "Missing required parameter: 'prompt'.");
		return;
	}
	t = task_new(FAM_OVIDEO, 0, q, prompt);
	v = video_field(q, "model");
	t->model = util_strdup(util_nonempty(v) ? v : "sora-2");
	v = video_field(q, "seconds");
	t->title = util_strdup(util_nonempty(v) ? v : "4");
	v = video_field(q, "size");
	t->tags = util_strdup(util_nonempty(v) ? v : "720x1280");
	video_object(q->y, t);
	route_json(q, q->status);
}

/* GET /v1/videos/{id} (a poll). */
void
oai_video_answer(struct req *q, const struct task *t)
{
	video_object(q->y, t);
}

/* An id new-api does not know: its task-style 400. */
void
oai_video_absent(struct req *q, const char *id)
{
	(void)id;
	yajl_gen_map_open(q->y);
	json_ks(q->y, "code", "task_not_exist");
	json_ks(q->y, "message", "task_not_exist");
	json_ks(q->y, "data", NULL);
	yajl_gen_map_close(q->y);
	route_json(q, 400);
}

/* GET /v1/videos/{id}/content: the mp4 once completed, else a 404
 * OpenAI error; not a poll (the task does not move). */
void
oai_video_content(struct req *q, int arg)
{
	const struct task *t;
	const char *ct;
	const void *p;
	char id[128], name[160], msg[128];
	size_t n;

	(void)arg;
	if (!route_cap(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_OVIDEO, id)) == NULL) {
		http_error(q->c, 404, "Task not found",
		    "invalid_request_error", "task_not_exist", &q->m);
		return;
	}
	if (task_phase(t, NULL) != TP_DONE) {
		snprintf(msg, sizeof msg, "Video is not ready yet (status %s)",
		    task_status(t));
		http_error(q->c, 404, msg, "invalid_request_error",
		    "video_not_ready", &q->m);
		return;
	}
	snprintf(name, sizeof name, "%s.mp4", t->id);
	p = files_bytes(name, strlen(name), &n, &ct);
	route_bytes(q, q->status, ct, p, n);
}
