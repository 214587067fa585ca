/*
 * mock-route.c: the router of t/mockvman: one table of method and path
 * pattern to handler, the "mock" member, /mock/stats.
 * What it answers: t/mockvman.md.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

/* The steering of a request without a "mock" member. */
const struct mock nomock = { .fail_first = -1, .retry_after_ms = -1,
	.close_after = -1, .stall_after = -1, .bad_data = -1,
	.error_event = -1, .bad_chunked = -1, .repeat = 1 };

/* ------------------------------------------------------------------ */
/* Statistics */

/* Count one more request tagged name; returns the new count. */
static unsigned long long
ids_bump(const char *name)
{
	struct idrec *r;
	unsigned h = 2166136261u;
	const char *p;
	size_t n;

	for (p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= ID_BUCKETS;
	for (r = g.bucket[h]; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			return ++r->count;
	n = strlen(name);
	if ((r = malloc(sizeof *r + n + 1)) == NULL)
		errx(2, "out of memory");
	memcpy(r->name, name, n + 1);
	r->count = 1;
	r->next = g.bucket[h];
	g.bucket[h] = r;
	r->order = NULL;
	*g.ids_tail = r;
	g.ids_tail = &r->order;
	return 1;
}

void
route_stats_clear(void)
{
	struct idrec *r, *next;
	struct task *t;

	for (r = g.ids; r; r = next) {
		next = r->order;
		free(r);
	}
	memset(g.bucket, 0, sizeof g.bucket);
	g.ids = NULL;
	g.ids_tail = &g.ids;
	g.requests = 0;
	g.nstarts = 0;
	buf_free(&g.last_head);
	buf_free(&g.last_meth);
	buf_free(&g.last_path);
	buf_free(&g.last_query);
	buf_free(&g.last_form);
	g.last_body = 0;
	g.have_form = 0;
	for (t = g.tasks; t; t = t->next)
		t->polls = 0;
}

struct hpair {
	char *n, *v;
	size_t nl, vl;
};

/* The saved header lines as a JSON object, names lower-cased, repeated
 * names joined, the authorization value hidden. */
static void
stats_headers(yajl_gen y)
{
	struct hpair *h;
	size_t nh = 0, i, j, k;
	char *p, *e, *end, *c;
	struct buf v = { 0 };

	if (g.last_head.len == 0)
		return;
	for (i = 0, k = 1; i < g.last_head.len; i++)
		k += g.last_head.p[i] == '\n';
	if ((h = calloc(k, sizeof *h)) == NULL)
		errx(2, "out of memory");
	p = g.last_head.p;
	end = p + g.last_head.len;
	for (; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if ((c = memchr(p, ':', e - p)) == NULL || c == p)
			continue;
		h[nh].n = p;
		h[nh].nl = c - p;
		for (j = 0; j < h[nh].nl; j++)
			if (p[j] >= 'A' && p[j] <= 'Z')
				p[j] += 'a' - 'A';
		for (c++; c < e && (*c == ' ' || *c == '\t'); c++)
			;
		h[nh].v = c;
		h[nh].vl = e - c;
		while (h[nh].vl > 0 && (c[h[nh].vl - 1] == '\r' ||
		    c[h[nh].vl - 1] == ' ' || c[h[nh].vl - 1] == '\t'))
			h[nh].vl--;
		nh++;
	}
	for (i = 0; i < nh; i++) {
		for (j = 0; j < i; j++)
			if (h[j].nl == h[i].nl &&
			    memcmp(h[j].n, h[i].n, h[i].nl) == 0)
				break;
		if (j < i)
			continue;
		json_putn(y, h[i].n, h[i].nl);
		if (h[i].nl == 13 && memcmp(h[i].n, "authorization", 13) == 0) {
			json_put(y, "present");
			continue;
		}
		v.len = 0;
		buf_add(&v, h[i].v, h[i].vl);
		for (j = i + 1; j < nh; j++)
			if (h[j].nl == h[i].nl &&
			    memcmp(h[j].n, h[i].n, h[i].nl) == 0) {
				buf_add(&v, ", ", 2);
				buf_add(&v, h[j].v, h[j].vl);
			}
		json_putn(y, v.p, v.len);
	}
	buf_free(&v);
	free(h);
}

/* A string kept for /mock/stats, or null before the first request. */
static void
stats_last(yajl_gen y, const char *k, const struct buf *v)
{
	json_put(y, k);
	if (g.requests)
		json_putn(y, v->p, v->len);
	else
		yajl_gen_null(y);
}

/* GET /mock/stats. */
static void
stats_json(struct buf *b)
{
	yajl_gen y = json_gen();
	struct idrec *r;
	unsigned long long i, n;

	yajl_gen_map_open(y);
	json_ki(y, "requests", g.requests);
	json_put(y, "ids");
	yajl_gen_map_open(y);
	for (r = g.ids; r; r = r->order)
		json_ki(y, r->name, r->count);
	yajl_gen_map_close(y);
	json_put(y, "last_headers");
	yajl_gen_map_open(y);
	stats_headers(y);
	yajl_gen_map_close(y);
	json_ki(y, "last_body_bytes", g.last_body);
	stats_last(y, "last_method", &g.last_meth);
	stats_last(y, "last_path", &g.last_path);
	stats_last(y, "last_query", &g.last_query);
	json_put(y, "last_form");
	if (g.have_form)
		json_raw(y, g.last_form.p, g.last_form.len);
	else
		yajl_gen_null(y);
	json_put(y, "polls");
	yajl_gen_map_open(y);
	task_stats(y);
	yajl_gen_map_close(y);
	json_put(y, "starts");
	yajl_gen_array_open(y);
	n = g.nstarts < STARTS_MAX ? g.nstarts : STARTS_MAX;
	for (i = g.nstarts - n; i < g.nstarts; i++)
		yajl_gen_integer(y, g.starts[i % STARTS_MAX]);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	json_take(y, b);
	yajl_gen_free(y);
}

/* ------------------------------------------------------------------ */
/* The "mock" member */

static void
mock_init(struct mock *m)
{
	memset(m, 0, sizeof *m);
	m->fail_first = m->retry_after_ms = -1;
	m->close_after = m->stall_after = m->bad_data = -1;
	m->error_event = m->bad_chunked = -1;
}

/* Forget the faults of a request whose fail_first is used up. */
static void
mock_unfault(struct mock *m)
{
	struct mock k = *m;

	mock_init(m);
	m->id = k.id;
	m->content = k.content;
	m->repeat = k.repeat;
	m->size = k.size;
	m->eol = k.eol;
	m->pings = k.pings;
	m->ping_ms = k.ping_ms;
	m->comments = k.comments;
	m->bom = k.bom;
}

/* Read the "mock" object o into m; members of the wrong type are
 * ignored. */
static void
mock_parse(struct mock *m, yajl_val o)
{
	long long s;

	mock_init(m);
	if (!YAJL_IS_OBJECT(o))
		return;
	m->id = json_str(json_get(o, "id"));
	m->fail_first = json_int(json_get(o, "fail_first"), -1);
	s = json_int(json_get(o, "status"), 0);
	m->status = s >= 200 && s <= 599 ? (int)s : 0;
	m->body = json_get(o, "body");
	m->raw = json_str(json_get(o, "raw"));
	m->ctype = json_str(json_get(o, "content_type"));
	m->retry_after = json_str(json_get(o, "retry_after"));
	m->retry_after_ms = json_int(json_get(o, "retry_after_ms"), -1);
	m->headers = json_get(o, "headers");
	m->delay_ms = json_int(json_get(o, "delay_ms"), 0);
	m->event_delay_ms = json_int(json_get(o, "event_delay_ms"), 0);
	m->close_after = json_int(json_get(o, "close_after"), -1);
	m->stall_after = json_int(json_get(o, "stall_after"), -1);
	m->bad_data = json_int(json_get(o, "bad_data"), -1);
	m->error_event = json_int(json_get(o, "error_event"), -1);
	m->bad_chunked = json_int(json_get(o, "bad_chunked"), -1);
	m->chunk = json_int(json_get(o, "chunk"), 0);
	m->chunk_delay_ms = json_int(json_get(o, "chunk_delay_ms"), 0);
	m->repeat = json_int(json_get(o, "repeat"), 1);
	m->size = json_int(json_get(o, "size"), 0);
	m->content = json_str(json_get(o, "content"));
	m->eol = json_str(json_get(o, "eol"));
	m->reset = json_str(json_get(o, "reset")) != NULL &&
	    strcmp(json_str(json_get(o, "reset")), "before_headers") == 0;
	m->no_done = json_bool(json_get(o, "no_done"));
	m->comments = json_bool(json_get(o, "comments"));
	m->bom = json_bool(json_get(o, "bom"));
	m->http10 = json_bool(json_get(o, "http10"));
	m->invalid_utf8 = json_bool(json_get(o, "invalid_utf8"));
	m->relay_error = json_str(json_get(o, "relay_error"));
	m->pings = json_int(json_get(o, "pings"), 0);
	m->ping_ms = json_int(json_get(o, "ping_ms"), 0);
	m->bare_error = json_get(o, "bare_error");
	m->cut_finish = json_bool(json_get(o, "cut_finish"));
}

/* One of new-api's own refusals (mock.relay_error): its quota and
 * channel errors, type new_api_error, the message ending in the request
 * id; its in-memory rate limiter's 429 with an empty body.  Another
 * name: HTTP 500 with that code. */
static void
relay_error(struct req *q)
{
	static const struct {
		const char *code, *msg;
		int status;
	} errs[] = {
		{ "insufficient_user_quota", "user quota is not enough, "
		    "remaining quota: $0.000000", 403 },
		{ "pre_consume_token_quota_failed", "token quota is not "
		    "enough, token remain quota: $0.000000, need quota: "
		    "$0.002000", 403 },
		{ "model_not_found", "no available channel for model %s "
		    "under group default (distributor)", 503 },
	};
	const char *which = q->m.relay_error, *model;
	char fmt[256], msg[512];
	size_t i, n = sizeof errs / sizeof errs[0];

	if (strcmp(which, "rate_limit") == 0) {
		http_fixed(q->c, 429, NULL, &q->m);
		return;
	}
	if ((model = json_str(json_get(q->root, "model"))) == NULL)
		model = "mock";
	for (i = 0; i < n && strcmp(errs[i].code, which) != 0; i++)
		;
	if (i < n)
		snprintf(fmt, sizeof fmt, errs[i].msg, model);
	else
		snprintf(fmt, sizeof fmt, "mock relay error %.64s", which);
	snprintf(msg, sizeof msg, "%s (request id: %s)", fmt, q->c->r.rid);
	http_error(q->c, i < n ? errs[i].status : 500, msg, "new_api_error",
	    which, &q->m);
}

/* Count m.id and drop the faults once fail_first is used up (*unf set),
 * then answer from m alone when it asks for a relay error, a raw, body
 * or error answer: 1 when it did.  *status is the status of a normal
 * answer. */
static int
mock_answer(struct req *q, int *status, int *unf)
{
	struct conn *c = q->c;
	struct mock *m = &q->m;
	char msg[64];

	*unf = 0;
	if (m->id && ids_bump(m->id) > (unsigned long long)m->fail_first &&
	    m->fail_first >= 0) {
		mock_unfault(m);
		*unf = 1;
	}
	*status = m->status ? m->status : 200;
	if (m->relay_error)
		relay_error(q);
	else if (m->raw) {
		buf_adds(&c->r.head, m->raw);
		http_fixed(c, *status, m->ctype ? m->ctype :
		    "application/json", m);
	} else if (m->body) {
		json_answer(c, m->body);
		http_fixed(c, *status, m->ctype ? m->ctype :
		    "application/json", m);
	} else if (*status >= 300) {
		snprintf(msg, sizeof msg, "mock error %d", *status);
		http_error(c, *status, msg, "mock_error", NULL, m);
	} else
		return 0;
	return 1;
}

/* The value of request header name into out (cut to fit); 0 when the
 * request has none. */
int
route_header(const struct req *q, const char *name, char *out, size_t osz)
{
	const char *p = q->head, *end = p + q->hlen, *e, *c, *v;
	size_t nl = strlen(name), vl;

	for (; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if ((c = memchr(p, ':', e - p)) == NULL ||
		    (size_t)(c - p) != nl || strncasecmp(p, name, nl) != 0)
			continue;
		for (v = c + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		for (vl = e - v; vl > 0 && (v[vl - 1] == '\r' ||
		    v[vl - 1] == ' ' || v[vl - 1] == '\t'); vl--)
			;
		if (vl >= osz)
			vl = osz - 1;
		memcpy(out, v, vl);
		out[vl] = '\0';
		return 1;
	}
	out[0] = '\0';
	return 0;
}

/* Does the path match pat, where '*' stands for one non-empty path
 * segment and a final "**" for the rest?  The first two segments
 * matched by '*' are captured. */
static int
route_match(struct req *q, const char *pat)
{
	const char *p = q->path, *e = p + q->plen, *s;
	int k = 0;

	for (; *pat; pat++) {
		if (pat[0] == '*' && pat[1] == '*')
			return 1;
		if (*pat == '*') {
			for (s = p; p < e && *p != '/'; p++)
				;
			if (p == s)
				return 0;
			if (k < 2) {
				q->cap[k] = s;
				q->capn[k++] = p - s;
			}
			continue;
		}
		if (p == e || *p != *pat)
			return 0;
		p++;
	}
	return p == e;
}

/* Capture i as a string; 0 when it does not fit (no task id is that
 * long). */
int
route_cap(const struct req *q, int i, char *out, size_t osz)
{
	if (q->capn[i] >= osz)
		return 0;
	memcpy(out, q->cap[i], q->capn[i]);
	out[q->capn[i]] = '\0';
	return 1;
}

/* The URL-decoded value of query parameter key; 0 when absent or too
 * long. */
int
route_query(const struct req *q, const char *key, char *out, size_t osz)
{
	size_t kl = strlen(key), i = 0, j, amp, n;
	const char *s = q->query;
	int h, l;

	while (i < q->qlen) {
		for (amp = i; amp < q->qlen && s[amp] != '&'; amp++)
			;
		if (amp - i > kl && memcmp(s + i, key, kl) == 0 &&
		    s[i + kl] == '=') {
			for (n = 0, j = i + kl + 1; j < amp; j++) {
				if (n + 1 >= osz)
					return 0;
				if (s[j] == '+')
					out[n++] = ' ';
				else if (s[j] == '%' && j + 2 < amp &&
				    (h = util_hexval(s[j + 1])) >= 0 &&
				    (l = util_hexval(s[j + 2])) >= 0) {
					out[n++] = h * 16 + l;
					j += 2;
				} else
					out[n++] = s[j];
			}
			out[n] = '\0';
			return 1;
		}
		i = amp + 1;
	}
	return 0;
}

/* Answer with the JSON made in q->y. */
void
route_json(struct req *q, int status)
{
	const unsigned char *p;
	size_t n;

	if (yajl_gen_get_buf(q->y, &p, &n) == yajl_gen_status_ok)
		buf_add(&q->c->r.head, p, n);
	http_fixed(q->c, status, "application/json", &q->m);
}

/* Answer with these bytes. */
void
route_bytes(struct req *q, int status, const char *ctype, const void *p,
    size_t n)
{
	buf_add(&q->c->r.head, p, n);
	http_fixed(q->c, status, ctype, &q->m);
}

/* One more response header (before route_json or route_bytes). */
void
route_add_header(struct req *q, const char *name, const char *value)
{
	struct buf *b = &q->c->r.xhdr;

	buf_adds(b, name);
	buf_adds(b, ": ");
	buf_adds(b, value);
	buf_adds(b, "\r\n");
}

/* GET /mock/stats. */
static void
mock_stats(struct req *q, int arg)
{
	(void)arg;
	stats_json(&q->c->r.head);
	http_fixed(q->c, 200, "application/json", &nomock);
}

/* POST /mock/reset. */
static void
mock_reset(struct req *q, int arg)
{
	(void)arg;
	route_stats_clear();
	yajl_gen_map_open(q->y);
	json_kb(q->y, "reset", 1);
	yajl_gen_map_close(q->y);
	json_take(q->y, &q->c->r.head);
	http_fixed(q->c, 200, "application/json", &nomock);
}

/* GET /files/... */
static void
files_get(struct req *q, int arg)
{
	(void)arg;
	files_answer(q->c, q->path, q->plen);
}

/* No route: OpenAI's 404 naming the method and path as sent. */
static void
not_found(struct req *q, int arg)
{
	char msg[512];

	(void)arg;
	snprintf(msg, sizeof msg, "Invalid URL (%.*s %.*s)",
	    (int)(q->mlen > 32 ? 32 : q->mlen), q->meth,
	    (int)(q->rawlen > 400 ? 400 : q->rawlen), q->raw);
	http_error(q->c, 404, msg, "invalid_request_error", NULL, &nomock);
}

/* The dashboard new-api serves (web-router.go) for any path outside
 * /v1, /api and /assets that no route serves: its index.html, status
 * 200, no key needed. */
static void
web_page(struct req *q)
{
	buf_adds(&q->c->r.head, "<!doctype html><html lang=\"zh\"><head>"
	    "<meta charset=\"utf-8\" /><link rel=\"icon\" "
	    "href=\"/logo.png\" /><meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\" />"
	    "<title>New API</title><script type=\"module\" crossorigin "
	    "src=\"/assets/index-mock.js\"></script></head><body><noscript>"
	    "You need to enable JavaScript to run this app.</noscript>"
	    "<div id=\"root\"></div></body></html>\n");
	route_add_header(q, "Cache-Control", "no-cache");
	http_fixed(q->c, 200, "text/html; charset=utf-8", &nomock);
}

/* How a route takes its body, and (or'ed in) who may call it. */
enum { B_NONE, B_JSON, B_OBJ, B_FORM, B_ANY, B_MASK = 7 };
#define R_QUIET	8	/* the server's own: not counted, no key needed */
#define R_OPEN	16	/* no key needed */

/* The routes, first match wins.  A pattern's '*' stands for one path
 * segment, a final "**" for the rest of the path (maybe empty).
 * B_NONE: no body; B_JSON: a JSON object or nothing; B_OBJ: a JSON
 * object; B_FORM: multipart/form-data (another body: no parts); B_ANY:
 * B_FORM for a multipart body, else B_JSON.  The
 * R_QUIET and R_OPEN rows see the path as sent, the others without
 * Midjourney's mode prefix (/mj-fast/mj/... is /mj/...). */
static const struct route {
	const char *meth, *pat;
	int how;
	svc_fn *fn;
	int arg;
} routes[] = {
	{ "GET", "/mock/stats", B_NONE | R_QUIET, mock_stats, 0 },
	{ "POST", "/mock/reset", B_NONE | R_QUIET, mock_reset, 0 },
	{ NULL, "/mock/**", B_NONE | R_QUIET, not_found, 0 },
	{ "GET", "/files/**", B_NONE | R_OPEN, files_get, 0 },
	{ "POST", "/v1/chat/completions", B_OBJ, oai_chat, 0 },
	{ "POST", "/v1/completions", B_OBJ, oai_completion, 0 },
	{ "POST", "/v1/responses", B_OBJ, resp_create, 0 },
	{ "POST", "/v1/messages", B_OBJ, anth_messages, 0 },
	{ "POST", "/v1/embeddings", B_OBJ, oai_embeddings, 0 },
	{ "POST", "/v1/images/generations", B_OBJ, oai_images, 0 },
	{ "POST", "/v1beta/models/*", B_OBJ, gem_generate, 0 },
	{ "POST", "/v1/video/generations", B_JSON, vend_video_submit, 0 },
	{ "GET", "/v1/video/generations/*", B_NONE, vend_poll, PF_VIDEO },
	{ "POST", "/v1/videos", B_ANY, oai_video_submit, 0 },
	{ "GET", "/v1/videos/*/content", B_NONE, oai_video_content, 0 },
	{ "GET", "/v1/videos/*", B_NONE, vend_poll, PF_OVIDEO },
	{ "POST", "/mj/submit/upload-discord-images", B_JSON, vend_mj_upload,
	    0 },
	{ "POST", "/mj/submit/video", B_JSON, vend_mj_submit, MJS_VIDEO },
	{ "POST", "/mj/submit/imagine", B_JSON, vend_mj_submit, MJS_IMAGINE },
	{ "POST", "/mj/submit/blend", B_JSON, vend_mj_submit, MJS_BLEND },
	{ "POST", "/mj/submit/describe", B_JSON, vend_mj_submit, MJS_DESCRIBE },
	{ "POST", "/mj/submit/shorten", B_JSON, vend_mj_submit, MJS_SHORTEN },
	{ "POST", "/mj/submit/modal", B_JSON, vend_mj_submit, MJS_MODAL },
	{ "POST", "/mj/submit/action", B_JSON, vend_mj_submit, MJS_ACTION },
	{ "POST", "/mj/insight-face/swap", B_JSON, vend_mj_submit, MJS_SWAP },
	{ "GET", "/mj/task/list", B_NONE, vend_mj_list, 0 },
	{ "GET", "/mj/task/queue", B_NONE, vend_mj_list, 1 },
	{ "POST", "/mj/task/list-by-condition", B_JSON, vend_mj_list_by, 0 },
	{ "POST", "/mj/task/list-by-ids", B_JSON, vend_mj_list_by, 0 },
	{ "POST", "/mj/task/query", B_JSON, vend_mj_query, 0 },
	{ "GET", "/mj/task/*/fetch", B_NONE, vend_poll, PF_MJ },
	{ "POST", "/mj/task/*/cancel", B_NONE, vend_mj_task_op, 0 },
	{ "GET", "/mj/task/*/image-seed", B_NONE, vend_mj_task_op, 1 },
	{ "POST", "/suno/v1/music", B_JSON, vend_suno_submit, SK_V35 },
	{ "POST", "/suno/v1/v3.0/music", B_JSON, vend_suno_submit, SK_V30 },
	{ "POST", "/suno/v1/v3.0/music/concat", B_JSON, vend_suno_submit,
	    SK_CONCAT },
	{ "GET", "/suno/v1/music/*", B_NONE, vend_poll, PF_SUNO },
	{ "GET", "/suno/v1/v3.0/music/*", B_NONE, vend_poll, PF_SUNO },
	{ "POST", "/suno/submit/music", B_JSON, vend_sunona_submit, SK_MUSIC },
	{ "POST", "/suno/submit/lyrics", B_JSON, vend_sunona_submit,
	    SK_LYRICS },
	{ "GET", "/suno/fetch/*", B_NONE, vend_poll, PF_SUNONA },
	{ "POST", "/suno/fetch", B_JSON, vend_sunona_fetch, 0 },
	{ "GET", "/flux/v1/get_result", B_NONE, vend_poll, PF_FLUX },
	{ "POST", "/flux/v1/*", B_JSON, vend_flux_submit, 0 },
	{ "POST", "/recraft/v1/styles", B_FORM, vend_recraft_style, 0 },
	{ "POST", "/recraft/v1/images/generations", B_JSON, vend_recraft_gen,
	    0 },
	{ "POST", "/recraft/v1/images/vectorize", B_FORM, vend_recraft_op, 1 },
	{ "POST", "/recraft/v1/images/removeBackground", B_FORM,
	    vend_recraft_op, 0 },
	{ "POST", "/recraft/v1/images/clarityUpscale", B_FORM, vend_recraft_op,
	    0 },
	{ "POST", "/recraft/v1/images/generativeUpscale", B_FORM,
	    vend_recraft_op, 0 },
	{ "POST", "/sd/v2beta/stable-image/generate/ultra", B_FORM, vend_sd_v2,
	    0 },
	{ "POST", "/sd/v2beta/stable-image/generate/core", B_FORM, vend_sd_v2,
	    0 },
	{ "POST", "/sd/v2beta/stable-image/generate/sd3", B_FORM, vend_sd_v2,
	    0 },
	{ "POST", "/sd/v1/generation/*/text-to-image", B_JSON, vend_sd_v1, 0 },
	{ "POST", "/ideogram/generate", B_JSON, vend_ideo_generate, 0 },
	{ "POST", "/ideogram/remix", B_FORM, vend_ideo_form, 0 },
	{ "POST", "/ideogram/upscale", B_FORM, vend_ideo_form, 1 },
	{ "POST", "/ideogram/describe", B_FORM, vend_ideo_describe, 0 },
	{ "POST", "/api/ideogram/task-request", B_JSON, vend_poll,
	    PF_IDEO },
	{ "POST", "/api/ideogram/describe", B_JSON, vend_ideo_rev_submit,
	    IR_DESCRIBE },
	{ "POST", "/api/ideogram/generate", B_JSON, vend_ideo_rev_submit,
	    IR_GENERATE },
	{ "POST", "/api/ideogram/blend", B_JSON, vend_ideo_rev_submit,
	    IR_BLEND },
	{ "POST", "/api/ideogram/upscale", B_JSON, vend_ideo_rev_submit,
	    IR_UPSCALE },
	{ "POST", "/kling/v1/images/generations", B_JSON, vend_kling_submit,
	    KL_IMG },
	{ "POST", "/kling/v1/videos/text2video", B_JSON, vend_kling_submit,
	    KL_T2V },
	{ "POST", "/kling/v1/videos/image2video", B_JSON, vend_kling_submit,
	    KL_I2V },
	{ "GET", "/kling/v1/images/generations/*", B_NONE, vend_poll,
	    PF_KLING_IMG },
	{ "GET", "/kling/v1/videos/text2video/*", B_NONE, vend_poll,
	    PF_KLING_T2V },
	{ "GET", "/kling/v1/videos/image2video/*", B_NONE, vend_poll,
	    PF_KLING_I2V },
	{ "POST", "/luma/generations", B_JSON, vend_luma_submit, 0 },
	{ "POST", "/luma/generations/", B_JSON, vend_luma_submit, 0 },
	{ "GET", "/luma/generations/*", B_NONE, vend_poll, PF_LUMA },
	{ "POST", "/runwayml/v1/image_to_video", B_JSON, vend_runway_submit,
	    0 },
	{ "GET", "/runwayml/v1/tasks/*", B_NONE, vend_poll, PF_RUNWAY },
	{ "DELETE", "/runwayml/v1/tasks/*", B_NONE, vend_runway_cancel, 0 },
	{ "POST", "/cogvideox/*/videos/generations", B_JSON, vend_cogv_submit,
	    0 },
	{ "GET", "/cogvideox/*/async-result/*", B_NONE, vend_poll, PF_COGV },
	{ "POST", "/api/viggle/mix/upload-video", B_FORM, vend_viggle_submit,
	    VG_UPVIDEO },
	{ "POST", "/api/viggle/mix/upload-image", B_FORM, vend_viggle_submit,
	    VG_UPIMAGE },
	{ "POST", "/api/viggle/mix/generate", B_FORM, vend_viggle_submit,
	    VG_MIX },
	{ "POST", "/api/viggle/multi/generate", B_FORM, vend_viggle_submit,
	    VG_MULTI },
	{ "POST", "/api/viggle/move/generate", B_FORM, vend_viggle_submit,
	    VG_MOVE },
	{ "GET", "/api/viggle/mix/templates", B_NONE, vend_viggle_templates,
	    0 },
	{ "GET", "/api/viggle/multi/templates", B_NONE, vend_viggle_templates,
	    1 },
	{ "GET", "/api/viggle/task/*", B_NONE, vend_poll, PF_VIGGLE },
	{ "GET", "/api/viggle/credits", B_NONE, vend_viggle_credits, 0 },
	{ "POST", "/v1/audio/speech", B_JSON, oai_tts, 0 },
	{ "POST", "/v1/audio/transcriptions", B_FORM, oai_stt, 0 },
	{ "POST", "/v1/audio/translations", B_FORM, oai_stt, 1 },
};

/* The route for q's method (any method if anymeth) and path, or NULL;
 * the path of q loses Midjourney's mode prefix (/mj-fast/mj/...,
 * /{mode}/mj/...) unless the route wants it as sent. */
static const struct route *
route_find(struct req *q, int anymeth)
{
	const char *path = q->path, *s;
	size_t plen = q->plen, i;
	int bare;

	if (plen > 1 && (plen < 4 || memcmp(path, "/mj/", 4) != 0) &&
	    (s = memchr(path + 1, '/', plen - 1)) != NULL &&
	    (size_t)(path + plen - s) >= 4 && memcmp(s, "/mj/", 4) == 0) {
		plen -= s - path;
		path = s;
	}
	for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		bare = routes[i].how & (R_QUIET | R_OPEN);
		q->path = bare ? q->raw : path;
		q->plen = bare ? q->rawlen : plen;
		if ((anymeth || routes[i].meth == NULL ||
		    util_path_is(q->meth, q->mlen, routes[i].meth)) &&
		    route_match(q, routes[i].pat))
			return &routes[i];
	}
	q->path = q->raw;
	q->plen = q->rawlen;
	return NULL;
}

/* Does an unrouted q get the dashboard page?  Not under the relay's
 * prefixes (/v1 covers /v1beta), nor the server's own, nor a path some
 * route serves with another method: those keep the JSON 404. */
static int
web_path(struct req *q)
{
	static const char *const api[] = { "/v1", "/api", "/assets",
		"/mock", "/files" };
	size_t i, n;

	for (i = 0; i < sizeof api / sizeof api[0]; i++) {
		n = strlen(api[i]);
		if (q->rawlen >= n && memcmp(q->raw, api[i], n) == 0 &&
		    (q->rawlen == n || q->raw[n] == '/' || i == 0))
			return 0;
	}
	return route_find(q, 1) == NULL;
}

/* Read the body of q as its route says; 0 after answering 400.
 * B_ANY: multipart when the Content-Type says so, else JSON. */
static int
req_body(struct req *q, int how)
{
	const char *s;
	char ct[512], delim[128], eb[128];
	int form;

	form = route_header(q, "content-type", ct, sizeof ct) &&
	    form_delim(ct, delim, sizeof delim);
	if (how == B_ANY)
		how = form ? B_FORM : B_JSON;
	if (how == B_OBJ || (how == B_JSON && q->blen > 0)) {
		q->root = json_body(q->c, q->body, q->blen);
		return q->root != NULL;
	}
	if (how != B_FORM || !form)
		return 1;
	q->multipart = 1;
	form_parse(&q->f, q->body, q->blen, delim);
	if (q->f.bad) {
		http_error(q->c, 400, "We could not parse the "
		    "multipart/form-data body of your request. (mock)",
		    "invalid_request_error", NULL, &nomock);
		return 0;
	}
	form_stats(&q->f);
	if ((s = form_text(&q->f, "mock")) != NULL &&
	    json_depth(s, strlen(s)) <= MAX_DEPTH)
		q->mtree = yajl_tree_parse(s, eb, sizeof eb);
	return 1;
}

/* Answer q by route rt: the body read, the mock members applied, then
 * the route's function. */
static void
route_call(struct req *q, const struct route *rt)
{
	yajl_val mo;
	int unf;

	if (!req_body(q, rt->how & B_MASK))
		goto out;
	mo = q->mtree ? q->mtree : json_get(q->root, "mock");
	mock_parse(&q->m, mo);
	task_mock_parse(&q->tm, mo);
	if (mock_answer(q, &q->status, &unf))
		goto out;
	if (unf)
		task_mock_unfault(&q->tm);
	if ((q->y = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	rt->fn(q, rt->arg);
out:
	yajl_tree_free(q->root);
	yajl_tree_free(q->mtree);
	free(q->f.p);
	if (q->y)
		yajl_gen_free(q->y);
}

/* Log a counted request for /mock/stats; returns its ordinal. */
static unsigned long long
stats_request(const struct req *q)
{
	g.starts[g.nstarts++ % STARTS_MAX] = util_mono_ms() - g.t0;
	g.last_head.len = 0;
	buf_add(&g.last_head, q->head, q->hlen);
	g.last_body = q->blen;
	g.last_meth.len = g.last_path.len = g.last_query.len = 0;
	buf_add(&g.last_meth, q->meth, q->mlen);
	buf_add(&g.last_path, q->raw, q->rawlen);
	buf_add(&g.last_query, q->query, q->qlen);
	g.have_form = 0;
	return ++g.requests;
}

/* Answer the complete request now in the input: head at p (hlen bytes),
 * body at p + hlen (blen bytes, NUL written after it for the parse). */
void
route_dispatch(struct conn *c, char *p)
{
	const struct route *rt;
	struct req q;
	char *s;

	http_reset(c);
	memset(&q, 0, sizeof q);
	q.c = c;
	q.meth = p + c->moff;
	q.mlen = c->mlen;
	q.raw = p + c->toff;
	q.rawlen = c->tlen;
	q.query = "";
	if (q.rawlen > 7 && strncasecmp(q.raw, "http://", 7) == 0 &&
	    (s = memchr(q.raw + 7, '/', q.rawlen - 7)) != NULL) {
		q.rawlen -= s - q.raw;
		q.raw = s;
	}
	if ((s = memchr(q.raw, '?', q.rawlen)) != NULL) {
		q.query = s + 1;
		q.qlen = q.rawlen - (s + 1 - q.raw);
		q.rawlen = s - q.raw;
	}
	q.head = p + c->hoff;
	q.hlen = c->lstart - c->hoff;
	q.body = p + c->hlen;
	q.blen = c->blen;
	q.path = q.raw;
	q.plen = q.rawlen;
	rt = route_find(&q, 0);
	if (rt == NULL || !(rt->how & R_QUIET))
		q.seq = stats_request(&q);
	if (rt == NULL && web_path(&q))
		web_page(&q);
	else if (g.key && !c->authok &&
	    !(rt && rt->how & (R_QUIET | R_OPEN)))
		http_error(c, 401, "invalid api key",
		    "invalid_request_error", "invalid_api_key", &nomock);
	else if (rt == NULL)
		not_found(&q, 0);
	else
		route_call(&q, rt);
}
