/*
 * mockvman: the local VMAN (OpenAI-compatible) server used by vmanjl's
 * tests, `make demo` and the benchmarks.  One process, one thread, poll(2)
 * over non-blocking sockets; HTTP/1.1 with keep-alive and pipelining.
 *
 * USAGE
 *	t/mockvman [-f portfile] [-p port]
 *	Binds 127.0.0.1:port (default 0: the kernel picks), prints the port
 *	and a newline on stdout, writes it to portfile too (temp + rename),
 *	then serves until SIGTERM or SIGINT (exit 0).  If MOCK_KEY is set,
 *	every /v1/... request must carry "Authorization: Bearer $MOCK_KEY"
 *	or gets 401 invalid_api_key; /mock/... and /files/... never need it.
 *
 * HTTP
 *	Bodies by Content-Length or chunked (at most 256 MB, else 413);
 *	"Expect: 100-continue" is honoured; "Connection: close" closes after
 *	the answer; an HTTP/1.0 request gets an HTTP/1.0 close-delimited
 *	answer.  A body that is not a JSON object on a JSON endpoint: 400.
 *	Unknown method or path: 404 "Invalid URL (POST /x)".
 *
 * ENDPOINTS
 *	POST /v1/chat/completions  The echo text is the last "user" message
 *	  (a string, or its "text" parts joined by a space), or "".  Tokens:
 *	  the text cut before every space ("a b c" -> "a", " b", " c").
 *	  Choice i of n (1..8) says echo, or "[i] " + echo for i > 0 ("[i] "
 *	  is a token).  max_tokens (or max_completion_tokens) truncates each
 *	  choice: finish_reason "length".  A model whose name contains
 *	  "reason" adds reasoning_content "think: " + echo.  A non-empty
 *	  "tools" turns choice 0 into a call of tools[0].function.name, id
 *	  "call_mock_1", arguments {"text":"<echo>"}, streamed in pieces of
 *	  at most 8 characters; finish_reason "tool_calls".  usage:
 *	  prompt_tokens = words of all message texts, completion_tokens =
 *	  reasoning + content tokens (a tool call: its argument pieces).
 *	  "stream": true gives SSE: a role chunk per choice, token chunks
 *	  round-robin over the choices, a finish chunk per choice, a usage
 *	  chunk ("choices":[]) if stream_options.include_usage, data: [DONE].
 *	POST /v1/completions  The same over "prompt" (a string, or the first
 *	  string of an array), one choice, text_completion objects.
 *	POST /v1/embeddings  "input" string or array: 8 floats in [-1,1]
 *	  hashed from each input's bytes.
 *	POST /v1/images/generations  n (1..10) urls
 *	  http://127.0.0.1:PORT/files/img-SEQ-K.png, revised_prompt = prompt.
 *	GET /files/...  a 1x1 PNG (image/png).
 *	GET /mock/stats  {"requests":N,"ids":{"id":count},"last_headers":{..},
 *	  "last_body_bytes":N} over every request but /mock/...; header names
 *	  lower-cased, repeated ones joined by ", ", authorization given only
 *	  as "present".  POST /mock/reset clears them (and the id counter).
 *	SEQ, the number in "chatcmpl-mock-SEQ", "cmpl-mock-SEQ" and image
 *	urls, is the request's ordinal in the stats ("requests").
 *
 * THE "mock" MEMBER: a top-level object in the request body
 *	id: "X"             tag counted in the stats, key for fail_first.
 *	fail_first: K       with id: only the first K requests with this id
 *	                    get the faults (every member below except
 *	                    content, repeat, size, eol, comments and bom).
 *	status: S           HTTP status (200..599) with an OpenAI error body
 *	                    "mock error S"; a 2xx status gives the normal
 *	                    answer with that status (departs from the brief).
 *	body: V             this JSON value, compact, as the body (status 200
 *	                    unless given).
 *	raw: "s"            these bytes as the body; content_type: "t" sets
 *	                    its Content-Type (default application/json).
 *	retry_after: "s"    Retry-After header; retry_after_ms: N
 *	                    retry-after-ms header; headers: {"N":"v"} more.
 *	delay_ms: N         stall N ms before the response headers.
 *	reset: "before_headers"  RST (SO_LINGER 0) instead of an answer,
 *	                    after delay_ms.
 *	http10: true        HTTP/1.0 answer, close-delimited body.
 *	chunk: K            write the body K bytes per write(2) (and per HTTP
 *	                    chunk when chunked); chunk_delay_ms: N between.
 *	close_after: K      SSE: shutdown+close after K events (role chunks
 *	                    count; K = all events: no terminating chunk).
 *	                    Otherwise: the true Content-Length, K body bytes,
 *	                    close.
 *	stall_after: K      the same but the connection stays open, silent.
 *	Streams only:
 *	event_delay_ms: N   N ms between events.
 *	no_done: true       no data: [DONE] (the stream still ends cleanly).
 *	bad_data: K         after K events one line data: {"broken json.
 *	error_event: K      after K events an OpenAI error event, then the
 *	                    stream ends cleanly without [DONE].
 *	bad_chunked: K|true after K events (true: 1) an invalid chunk-size
 *	                    line, then close.
 *	eol: "lf"|"crlf"|"cr"  SSE line end (default lf).
 *	comments: true      a ": keep-alive" comment block before each event.
 *	bom: true           the stream starts with EF BB BF.
 *	repeat: N           repeat the content tokens N times (lazily made).
 *	Answers:
 *	content: "s"        use this text instead of the echo.
 *	size: N             non-streamed chat or completion: pad choice 0's
 *	                    text with "x" up to a body of about N bytes
 *	                    (lazily made; not counted in usage; not with
 *	                    tools).
 *	invalid_utf8: true  bytes FF FE inside choice 0's first token.
 *	Members that make no sense for an endpoint are ignored.  Strings
 *	are cut at a \u0000 (yajl_tree keeps no string lengths).
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define MAX_BODY	(256UL << 20)	/* largest request body */
#define MAX_HEAD	(64 << 10)	/* largest request head */
#define MAX_DEPTH	512		/* deepest JSON nesting accepted */
#define MAX_CHOICES	8
#define READ_SZ		8192		/* free room wanted before a read */
#define LOWAT		(128 << 10)	/* produce output only below this */
#define PAD_UNIT	(64 << 10)	/* "x" padding made per step */
#define IN_CAP		(1 << 20)	/* input buffered while answering */
#define TRIM_CAP	(256 << 10)	/* free idle buffers above this */
#define LINGER_MS	2000		/* wait this long for the FIN */
#define ID_BUCKETS	1024
#define CREATED		"1700000000"
#define BADCHUNK	"zz; not a chunk size\r\n"

/* ------------------------------------------------------------------ */
/* Types */

struct buf {
	char *p;
	size_t len, cap;
};

enum { CS_OPEN, CS_LINGER, CS_STALL };
enum { CL_NONE, CL_GRACEFUL, CL_ABRUPT, CL_RST, CL_STALL };
enum { RQ_HEAD, RQ_BODY, RQ_CSIZE, RQ_CDATA, RQ_CCRLF, RQ_TRAILER, RQ_NONE };
enum { FR_LENGTH, FR_CHUNKED, FR_CLOSE };
enum { SRC_FIXED, SRC_SSE };
enum { U_DATA, U_BLOCK, U_END, U_CLOSE, U_STALL, U_BADCHUNK };
enum { F_MORE, F_FLUSH, F_BLOCK, F_DONE };
enum { P_FULL, P_FLUSH, P_IDLE };
enum { K_CHAT, K_CMPL };
enum { PH_ROLE, PH_REASON, PH_CONTENT, PH_FINISH, PH_USAGE, PH_DONE, PH_END };
enum { FX_HEAD, FX_PAD, FX_TAIL, FX_END };

/* The steering members of a request; strings point into the parse tree,
 * so a struct mock lives only while its request is dispatched. */
struct mock {
	const char *id, *raw, *ctype, *retry_after, *content, *eol;
	yajl_val body, headers;
	long long fail_first, retry_after_ms, delay_ms, event_delay_ms;
	long long close_after, stall_after, bad_data, error_event;
	long long bad_chunked, chunk, chunk_delay_ms, repeat, size;
	int status, reset, no_done, comments, bom, http10, invalid_utf8;
};

/* Per-answer state, zeroed before each answer. */
struct rstate {
	int active, http10, close, framing, src, hdr_done, reset;
	int64_t hdr_at, pc_at, ev_at, ev_ms, piece_ms;
	size_t spos, piece;
	/* fixed body: head, pad "x" bytes, tail; limit: bytes before act */
	int fx, limit_act;
	size_t off, pad, sent;
	long long limit;
	/* generated stream */
	int kind, n, reason, tools, usage, no_done, comments, bom, bom_done;
	int bad_done, err_done, ph, ci;
	const char *eol;
	size_t eol_len;
	size_t base[MAX_CHOICES], cnt[MAX_CHOICES], pos[MAX_CHOICES];
	size_t rcnt[MAX_CHOICES], rpos[MAX_CHOICES];
	const char *fin[MAX_CHOICES];
	size_t k, kmax, tpos, npieces;
	unsigned long long ptok, ctok;
	long long nev, close_after, stall_after, bad_data, error_event;
	long long bad_chunked;
};

/* An answer in progress; the buffers are kept for reuse. */
struct resp {
	struct buf hdr, stage, head, tail, pfx, rtext, tname, targs;
	struct buf text[MAX_CHOICES];
	struct rstate s;
};

/* One client connection.  Request offsets are relative to ipos, the
 * start of the request being read, so the input may be compacted. */
struct conn {
	int fd, state, closing, dead, rd_eof;
	int64_t wake;
	struct buf in, out;
	size_t ipos, opos;
	int rq, http10, conn_close, chunked, expect, authok;
	size_t lstart, scan, hlen, clen, bpos, blen, csize;
	size_t moff, mlen, toff, tlen, hoff;
	struct resp r;
};

struct idrec {
	struct idrec *next, *order;
	unsigned long long count;
	char name[];
};

static struct {
	int lfd, port, sigfd[2];
	const char *key;
	int64_t now, accept_at;
	struct conn **conns;
	struct pollfd *pfd;
	size_t nconns, capconns;
	unsigned long long requests;
	struct idrec *bucket[ID_BUCKETS], *ids, **ids_tail;
	struct buf last_head;
	size_t last_body;
	char xs[PAD_UNIT], scratch[65536];
} g;

static volatile sig_atomic_t quit;

/* The steering of a request without a "mock" member. */
static const struct mock nomock = { .fail_first = -1, .retry_after_ms = -1,
	.close_after = -1, .stall_after = -1, .bad_data = -1,
	.error_event = -1, .bad_chunked = -1, .repeat = 1 };

static const unsigned char png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89,
	0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63,
	0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4,
	0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
	0x82
};

static void conn_wake(struct conn *, int64_t);

/* ------------------------------------------------------------------ */
/* Buffers */

/* Make room for n more bytes plus a NUL; -1 when impossible, the buffer
 * left as it was. */
static int
buf_try(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (n > SIZE_MAX / 4 - b->len)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Output buffers belong to the server: running out of memory is fatal. */
static void
buf_grow(struct buf *b, size_t n)
{
	if (buf_try(b, n) < 0)
		errx(2, "out of memory");
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_addu(struct buf *b, unsigned long long v)
{
	char t[24], *p = t + sizeof t;

	do
		*--p = '0' + v % 10;
	while (v /= 10);
	buf_add(b, p, t + sizeof t - p);
}

static void
buf_addi(struct buf *b, long long v)
{
	if (v < 0) {
		buf_add(b, "-", 1);
		buf_addu(b, -(unsigned long long)v);
	} else
		buf_addu(b, v);
}

/* Append s as a JSON string.  Bytes >= 0x80 pass through raw, so valid
 * UTF-8 stays valid and the deliberate invalid bytes stay invalid. */
static void
buf_json(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run;
	unsigned char ch;
	char e[6];

	buf_grow(b, n + 2);
	b->p[b->len++] = '"';
	for (i = run = 0; i < n; i++) {
		ch = s[i];
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		e[0] = '\\';
		switch (ch) {
		case '"': case '\\': e[1] = ch; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hex[ch >> 4];
			e[5] = hex[ch & 15];
			buf_add(b, e, 6);
			continue;
		}
		buf_add(b, e, 2);
	}
	buf_add(b, s + run, n - run);
	buf_add(b, "\"", 1);
}

static void
buf_jsons(struct buf *b, const char *s)
{
	buf_json(b, s, strlen(s));
}

/* Empty a buffer; give its memory back when an answer made it big. */
static void
buf_trim(struct buf *b, size_t keep)
{
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ */
/* Small helpers */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static yajl_val
jget(yajl_val o, const char *key)
{
	size_t i;

	if (!YAJL_IS_OBJECT(o))
		return NULL;
	for (i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return o->u.object.values[i];
	return NULL;
}

static const char *
jstr(yajl_val v)
{
	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

/* An integer member: true counts as 1, anything else not a number as
 * def. */
static long long
jint(yajl_val v, long long def)
{
	double d;

	if (v == NULL)
		return def;
	if (YAJL_IS_INTEGER(v))
		return YAJL_GET_INTEGER(v);
	if (YAJL_IS_DOUBLE(v)) {
		d = YAJL_GET_DOUBLE(v);
		return d > -4e18 && d < 4e18 ? (long long)d : def;
	}
	if (YAJL_IS_TRUE(v))
		return 1;
	return def;
}

static int
jbool(yajl_val v)
{
	return jint(v, 0) != 0;
}

static long long
clampll(long long v, long long lo, long long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Number of space-separated words, the mock's idea of a token count. */
static unsigned long long
words(const char *s)
{
	unsigned long long n = 0;
	int in = 0;

	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			in = 0;
		else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

/* Deepest nesting of arrays and objects in a JSON text: yajl_tree_free
 * recurses, so a hostile body must not reach it. */
static size_t
json_depth(const char *p, size_t n)
{
	size_t i, d = 0, max = 0;
	int str = 0;

	for (i = 0; i < n; i++) {
		if (str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				str = 0;
		} else if (p[i] == '"')
			str = 1;
		else if (p[i] == '[' || p[i] == '{') {
			if (++d > max)
				max = d;
		} else if ((p[i] == ']' || p[i] == '}') && d > 0)
			d--;
	}
	return max;
}

static const char *
status_text(int s)
{
	switch (s) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Status";
}

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

static void
stats_clear(void)
{
	struct idrec *r, *next;

	for (r = g.ids; r; r = next) {
		next = r->order;
		free(r);
	}
	memset(g.bucket, 0, sizeof g.bucket);
	g.ids = NULL;
	g.ids_tail = &g.ids;
	g.requests = 0;
	buf_free(&g.last_head);
	g.last_body = 0;
}

struct hpair {
	char *n, *v;
	size_t nl, vl;
};

/* The saved header lines as a JSON object, names lower-cased, repeated
 * names joined, the authorization value hidden. */
static void
stats_headers(struct buf *b)
{
	struct hpair *h;
	size_t nh = 0, i, j, k;
	char *p, *e, *end, *c;
	struct buf v = { 0 };
	int first = 1;

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
		if (!first)
			buf_add(b, ",", 1);
		first = 0;
		buf_json(b, h[i].n, h[i].nl);
		buf_add(b, ":", 1);
		if (h[i].nl == 13 && memcmp(h[i].n, "authorization", 13) == 0) {
			buf_adds(b, "\"present\"");
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
		buf_json(b, v.p, v.len);
	}
	buf_free(&v);
	free(h);
}

/* GET /mock/stats. */
static void
stats_json(struct buf *b)
{
	struct idrec *r;

	buf_adds(b, "{\"requests\":");
	buf_addu(b, g.requests);
	buf_adds(b, ",\"ids\":{");
	for (r = g.ids; r; r = r->order) {
		if (r != g.ids)
			buf_add(b, ",", 1);
		buf_jsons(b, r->name);
		buf_add(b, ":", 1);
		buf_addu(b, r->count);
	}
	buf_adds(b, "},\"last_headers\":{");
	stats_headers(b);
	buf_adds(b, "},\"last_body_bytes\":");
	buf_addu(b, g.last_body);
	buf_add(b, "}", 1);
}

/* ------------------------------------------------------------------ */
/* Answers: headers and sources */

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
	m->id = jstr(jget(o, "id"));
	m->fail_first = jint(jget(o, "fail_first"), -1);
	s = jint(jget(o, "status"), 0);
	m->status = s >= 200 && s <= 599 ? (int)s : 0;
	m->body = jget(o, "body");
	m->raw = jstr(jget(o, "raw"));
	m->ctype = jstr(jget(o, "content_type"));
	m->retry_after = jstr(jget(o, "retry_after"));
	m->retry_after_ms = jint(jget(o, "retry_after_ms"), -1);
	m->headers = jget(o, "headers");
	m->delay_ms = jint(jget(o, "delay_ms"), 0);
	m->event_delay_ms = jint(jget(o, "event_delay_ms"), 0);
	m->close_after = jint(jget(o, "close_after"), -1);
	m->stall_after = jint(jget(o, "stall_after"), -1);
	m->bad_data = jint(jget(o, "bad_data"), -1);
	m->error_event = jint(jget(o, "error_event"), -1);
	m->bad_chunked = jint(jget(o, "bad_chunked"), -1);
	m->chunk = jint(jget(o, "chunk"), 0);
	m->chunk_delay_ms = jint(jget(o, "chunk_delay_ms"), 0);
	m->repeat = jint(jget(o, "repeat"), 1);
	m->size = jint(jget(o, "size"), 0);
	m->content = jstr(jget(o, "content"));
	m->eol = jstr(jget(o, "eol"));
	m->reset = jstr(jget(o, "reset")) != NULL &&
	    strcmp(jstr(jget(o, "reset")), "before_headers") == 0;
	m->no_done = jbool(jget(o, "no_done"));
	m->comments = jbool(jget(o, "comments"));
	m->bom = jbool(jget(o, "bom"));
	m->http10 = jbool(jget(o, "http10"));
	m->invalid_utf8 = jbool(jget(o, "invalid_utf8"));
}

/* Start a new answer on c: state zeroed, buffers emptied. */
static void
resp_reset(struct conn *c)
{
	struct resp *r = &c->r;
	int i;

	memset(&r->s, 0, sizeof r->s);
	r->hdr.len = r->stage.len = r->head.len = r->tail.len = 0;
	r->pfx.len = r->rtext.len = r->tname.len = r->targs.len = 0;
	for (i = 0; i < MAX_CHOICES; i++)
		r->text[i].len = 0;
	r->s.active = 1;
	r->s.http10 = c->http10;
	r->s.close = c->conn_close || c->http10;
	r->s.limit = -1;
	r->s.close_after = r->s.stall_after = r->s.bad_data = -1;
	r->s.error_event = r->s.bad_chunked = -1;
}

/* Apply the transport members of m shared by every kind of answer. */
static void
resp_mock(struct conn *c, const struct mock *m)
{
	struct rstate *s = &c->r.s;

	if (m->http10) {
		s->http10 = 1;
		s->close = 1;
	}
	if (m->delay_ms > 0)
		s->hdr_at = g.now + m->delay_ms;
	s->reset = m->reset;
	if (m->chunk > 0) {
		s->piece = m->chunk;
		s->piece_ms = m->chunk_delay_ms > 0 ? m->chunk_delay_ms : 0;
	}
}

static int
hdr_ok(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

/* Build the response head into r->hdr and choose the body framing;
 * clen is the body length when it is known. */
static void
resp_head(struct conn *c, int status, const char *ctype, int sse,
    size_t clen, const struct mock *m)
{
	struct resp *r = &c->r;
	struct buf *b = &r->hdr;
	yajl_val h, v;
	const char *n, *s;
	size_t i;

	buf_adds(b, r->s.http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
	buf_addu(b, status);
	buf_add(b, " ", 1);
	buf_adds(b, status_text(status));
	buf_adds(b, "\r\nContent-Type: ");
	buf_adds(b, ctype);
	buf_adds(b, "\r\n");
	if (sse)
		buf_adds(b, "Cache-Control: no-cache\r\n"
		    "X-Accel-Buffering: no\r\n");
	if (r->s.http10)
		r->s.framing = FR_CLOSE;
	else if (sse) {
		r->s.framing = FR_CHUNKED;
		buf_adds(b, "Transfer-Encoding: chunked\r\n");
	} else {
		r->s.framing = FR_LENGTH;
		if (status != 204 && status != 304) {
			buf_adds(b, "Content-Length: ");
			buf_addu(b, clen);
			buf_adds(b, "\r\n");
		}
	}
	if (r->s.close)
		buf_adds(b, "Connection: close\r\n");
	if (m->retry_after && hdr_ok(m->retry_after)) {
		buf_adds(b, "Retry-After: ");
		buf_adds(b, m->retry_after);
		buf_adds(b, "\r\n");
	}
	if (m->retry_after_ms >= 0) {
		buf_adds(b, "retry-after-ms: ");
		buf_addi(b, m->retry_after_ms);
		buf_adds(b, "\r\n");
	}
	h = m->headers;
	for (i = 0; YAJL_IS_OBJECT(h) && i < h->u.object.len; i++) {
		n = h->u.object.keys[i];
		v = h->u.object.values[i];
		if (YAJL_IS_STRING(v))
			s = YAJL_GET_STRING(v);
		else if (YAJL_IS_NUMBER(v))
			s = YAJL_GET_NUMBER(v);
		else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
			s = YAJL_IS_TRUE(v) ? "true" : "false";
		else
			continue;
		if (!*n || !hdr_ok(n) || strchr(n, ':') || !hdr_ok(s))
			continue;
		buf_adds(b, n);
		buf_adds(b, ": ");
		buf_adds(b, s);
		buf_adds(b, "\r\n");
	}
	buf_adds(b, "\r\n");
}

/* Answer with the body in r->head (+ r->s.pad "x" bytes + r->tail). */
static void
resp_fixed(struct conn *c, int status, const char *ctype,
    const struct mock *m)
{
	struct resp *r = &c->r;

	resp_mock(c, m);
	if (status == 204 || status == 304) {
		r->head.len = r->tail.len = 0;
		r->s.pad = 0;
	}
	if (m->close_after >= 0) {
		r->s.limit = m->close_after;
		r->s.limit_act = U_CLOSE;
	} else if (m->stall_after >= 0) {
		r->s.limit = m->stall_after;
		r->s.limit_act = U_STALL;
	}
	r->s.src = SRC_FIXED;
	resp_head(c, status, ctype, 0, r->head.len + r->s.pad + r->tail.len,
	    m);
}

/* Answer with an event stream generated lazily by sse_next(). */
static void
resp_sse(struct conn *c, const struct mock *m)
{
	struct rstate *s = &c->r.s;

	resp_mock(c, m);
	s->src = SRC_SSE;
	s->ev_ms = m->event_delay_ms > 0 ? m->event_delay_ms : 0;
	s->close_after = m->close_after;
	s->stall_after = m->stall_after;
	s->bad_data = m->bad_data;
	s->error_event = m->error_event;
	s->bad_chunked = m->bad_chunked;
	s->no_done = m->no_done;
	s->comments = m->comments;
	s->bom = m->bom;
	s->eol = "\n";
	if (m->eol && strcmp(m->eol, "crlf") == 0)
		s->eol = "\r\n";
	else if (m->eol && strcmp(m->eol, "cr") == 0)
		s->eol = "\r";
	s->eol_len = strlen(s->eol);
	resp_head(c, 200, "text/event-stream", 1, 0, m);
}

/* An OpenAI-style error answer; code NULL gives "code":null. */
static void
answer_error(struct conn *c, int status, const char *msg, const char *type,
    const char *code, const struct mock *m)
{
	struct buf *b = &c->r.head;

	b->len = 0;
	buf_adds(b, "{\"error\":{\"message\":");
	buf_jsons(b, msg);
	buf_adds(b, ",\"type\":");
	buf_jsons(b, type);
	buf_adds(b, ",\"param\":null,\"code\":");
	if (code)
		buf_jsons(b, code);
	else
		buf_adds(b, "null");
	buf_adds(b, "}}");
	resp_fixed(c, status, "application/json", m);
}

/* Next piece of a fixed body into r->stage, honouring the byte limit of
 * close_after / stall_after. */
static int
fixed_next(struct conn *c)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *src;
	size_t n, left;

	for (;;) {
		left = SIZE_MAX;
		if (s->limit >= 0) {
			if (s->sent >= (unsigned long long)s->limit)
				return s->limit_act;
			left = s->limit - s->sent;
		}
		switch (s->fx) {
		case FX_HEAD:
		case FX_TAIL:
			src = s->fx == FX_HEAD ? &r->head : &r->tail;
			if ((n = src->len - s->off) == 0) {
				s->fx++;
				s->off = 0;
				continue;
			}
			if (n > left)
				n = left;
			buf_add(&r->stage, src->p + s->off, n);
			s->off += n;
			break;
		case FX_PAD:
			if (s->pad == 0) {
				s->fx++;
				continue;
			}
			n = s->pad < PAD_UNIT ? s->pad : PAD_UNIT;
			if (n > left)
				n = left;
			buf_add(&r->stage, g.xs, n);
			s->pad -= n;
			break;
		default:
			return U_END;
		}
		s->sent += n;
		return U_DATA;
	}
}

/* ------------------------------------------------------------------ */
/* Generated streams */

/* End of the token that starts at p in t (n bytes): tokens after the
 * first begin with a space, and the first base bytes (the "[i] " prefix)
 * are a token of their own. */
static size_t
tok_end(const char *t, size_t n, size_t base, size_t p)
{
	if (p < base)
		return base;
	for (p++; p < n && t[p] != ' '; p++)
		;
	return p;
}

static size_t
tok_count(const char *t, size_t n, size_t base)
{
	size_t c = (base > 0) + (n > base), i;

	for (i = base + 1; i < n; i++)
		c += t[i] == ' ';
	return c;
}

/* Bytes taken by the first k tokens. */
static size_t
tok_prefix(const char *t, size_t n, size_t base, size_t k)
{
	size_t p = 0;

	while (k-- > 0 && p < n)
		p = tok_end(t, n, base, p);
	return p;
}

/* End of the tool-argument piece at p: at most 8 UTF-8 characters. */
static size_t
piece_end(const char *t, size_t n, size_t p)
{
	int i;

	for (i = 0; i < 8 && p < n; i++)
		for (p++; p < n && ((unsigned char)t[p] & 0xc0) == 0x80; p++)
			;
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

/* Open one chunk event for choice i (its delta or text follows). */
static void
ev_choice(struct buf *b, struct resp *r, int i)
{
	buf_add(b, r->pfx.p, r->pfx.len);
	if (r->s.kind == K_CHAT) {
		buf_adds(b, "{\"index\":");
		buf_addu(b, i);
		buf_adds(b, ",\"delta\":");
	} else
		buf_adds(b, "{\"text\":");
}

/* Close a chunk event opened by ev_choice; fin NULL gives null. */
static void
ev_close(struct buf *b, struct resp *r, const char *fin)
{
	if (r->s.kind == K_CMPL)
		buf_adds(b, ",\"index\":0");
	buf_adds(b, ",\"logprobs\":null,\"finish_reason\":");
	if (fin) {
		buf_add(b, "\"", 1);
		buf_adds(b, fin);
		buf_adds(b, "\"}]}");
	} else
		buf_adds(b, "null}]}");
}

/* Append the JSON of the stream's next event to b; 0 at the end. */
static int
gen_event(struct conn *c, struct buf *b)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *t;
	size_t e;
	int i;

	for (;;) {
		switch (s->ph) {
		case PH_ROLE:
			if (s->kind == K_CHAT && s->ci < s->n) {
				ev_choice(b, r, s->ci++);
				buf_adds(b, "{\"role\":\"assistant\","
				    "\"content\":\"\"}");
				ev_close(b, r, NULL);
				return 1;
			}
			rr_start(s, PH_REASON, s->rcnt);
			continue;
		case PH_REASON:
			if ((i = rr_next(s, s->rcnt)) < 0) {
				rr_start(s, PH_CONTENT, s->cnt);
				continue;
			}
			t = &r->rtext;
			if (s->rpos[i] >= t->len)
				s->rpos[i] = 0;
			e = tok_end(t->p, t->len, 0, s->rpos[i]);
			ev_choice(b, r, i);
			buf_adds(b, "{\"reasoning_content\":");
			buf_json(b, t->p + s->rpos[i], e - s->rpos[i]);
			buf_add(b, "}", 1);
			ev_close(b, r, NULL);
			s->rpos[i] = e;
			return 1;
		case PH_CONTENT:
			if ((i = rr_next(s, s->cnt)) < 0) {
				s->ph = PH_FINISH;
				s->ci = 0;
				continue;
			}
			ev_choice(b, r, i);
			if (s->tools && i == 0 && s->tpos == 0 &&
			    s->k == 0) {
				buf_adds(b, "{\"tool_calls\":[{\"index\":0,"
				    "\"id\":\"call_mock_1\",\"type\":"
				    "\"function\",\"function\":{\"name\":");
				buf_add(b, r->tname.p, r->tname.len);
				buf_adds(b, ",\"arguments\":\"\"}}]}");
			} else if (s->tools && i == 0) {
				t = &r->targs;
				e = piece_end(t->p, t->len, s->tpos);
				buf_adds(b, "{\"tool_calls\":[{\"index\":0,"
				    "\"function\":{\"arguments\":");
				buf_json(b, t->p + s->tpos, e - s->tpos);
				buf_adds(b, "}}]}");
				s->tpos = e;
			} else {
				t = &r->text[i];
				if (s->pos[i] >= t->len)
					s->pos[i] = 0;
				e = tok_end(t->p, t->len, s->base[i],
				    s->pos[i]);
				if (s->kind == K_CHAT)
					buf_adds(b, "{\"content\":");
				buf_json(b, t->p + s->pos[i], e - s->pos[i]);
				if (s->kind == K_CHAT)
					buf_add(b, "}", 1);
				s->pos[i] = e;
			}
			ev_close(b, r, NULL);
			return 1;
		case PH_FINISH:
			if (s->ci < s->n) {
				i = s->ci++;
				ev_choice(b, r, i);
				buf_adds(b, s->kind == K_CHAT ? "{}" : "\"\"");
				ev_close(b, r, s->fin[i]);
				return 1;
			}
			s->ph = PH_USAGE;
			continue;
		case PH_USAGE:
			s->ph = PH_DONE;
			if (!s->usage)
				continue;
			buf_add(b, r->pfx.p, r->pfx.len);
			buf_adds(b, "],\"usage\":{\"prompt_tokens\":");
			buf_addu(b, s->ptok);
			buf_adds(b, ",\"completion_tokens\":");
			buf_addu(b, s->ctok);
			buf_adds(b, ",\"total_tokens\":");
			buf_addu(b, s->ptok + s->ctok);
			buf_adds(b, "}}");
			return 1;
		case PH_DONE:
			s->ph = PH_END;
			if (s->no_done)
				continue;
			buf_adds(b, "[DONE]");
			return 1;
		default:
			return 0;
		}
	}
}

/* Next unit of an event stream into r->stage: one event with its
 * comment and line ends, or a fault. */
static int
sse_next(struct conn *c)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *b = &r->stage;
	size_t mark = b->len;
	int bom = 0;

	if (s->nev > 0 && s->ev_ms > 0 && g.now < s->ev_at) {
		conn_wake(c, s->ev_at);
		return U_BLOCK;
	}
	if (s->nev == s->close_after)
		return U_CLOSE;
	if (s->nev == s->stall_after)
		return U_STALL;
	if (s->nev == s->bad_chunked && s->framing == FR_CHUNKED)
		return U_BADCHUNK;
	if (s->bom && !s->bom_done) {
		buf_add(b, "\xef\xbb\xbf", 3);
		s->bom_done = bom = 1;
	}
	if (s->comments) {
		buf_adds(b, ": keep-alive");
		buf_add(b, s->eol, s->eol_len);
		buf_add(b, s->eol, s->eol_len);
	}
	buf_adds(b, "data: ");
	if (s->nev == s->bad_data && !s->bad_done) {
		s->bad_done = 1;
		buf_adds(b, "{\"broken json");
	} else if (s->nev == s->error_event && !s->err_done) {
		s->err_done = 1;
		s->ph = PH_END;
		buf_adds(b, "{\"error\":{\"message\":\"mock stream error\","
		    "\"type\":\"server_error\",\"param\":null,"
		    "\"code\":\"mock_stream_error\"}}");
		s->nev++;
	} else if (gen_event(c, b))
		s->nev++;
	else {
		b->len = mark;
		if (bom)
			s->bom_done = 0;
		return U_END;
	}
	buf_add(b, s->eol, s->eol_len);
	buf_add(b, s->eol, s->eol_len);
	s->ev_at = g.now + s->ev_ms;
	return U_DATA;
}

/* ------------------------------------------------------------------ */
/* Producing output */

/* Append n body bytes to the output, as one HTTP chunk if chunked. */
static void
frame(struct conn *c, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char t[24], *q = t + sizeof t;
	size_t v = n;

	if (c->r.s.framing == FR_CHUNKED) {
		*--q = '\n';
		*--q = '\r';
		do
			*--q = hex[v & 15];
		while (v >>= 4);
		buf_add(&c->out, q, t + sizeof t - q);
		buf_add(&c->out, p, n);
		buf_add(&c->out, "\r\n", 2);
	} else
		buf_add(&c->out, p, n);
}

/* Move the answer on by one step: headers, a framed unit or piece, or
 * its end.  F_FLUSH asks for the output to be written out first (each
 * piece is its own write), F_BLOCK means wait for a timer. */
static int
resp_fill(struct conn *c)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	size_t n;

	if (s->piece && c->opos < c->out.len)
		return F_FLUSH;
	if (!s->hdr_done) {
		if (g.now < s->hdr_at) {
			conn_wake(c, s->hdr_at);
			return F_BLOCK;
		}
		if (s->reset) {
			c->closing = CL_RST;
			return F_DONE;
		}
		buf_add(&c->out, r->hdr.p, r->hdr.len);
		s->hdr_done = 1;
		if (s->piece) {
			s->pc_at = g.now + s->piece_ms;
			return F_FLUSH;
		}
		return F_MORE;
	}
	if (s->spos == r->stage.len) {
		r->stage.len = 0;
		s->spos = 0;
		switch (s->src == SRC_SSE ? sse_next(c) : fixed_next(c)) {
		case U_DATA:
			break;
		case U_BLOCK:
			return F_BLOCK;
		case U_END:
			if (s->framing == FR_CHUNKED)
				buf_adds(&c->out, "0\r\n\r\n");
			return F_DONE;
		case U_CLOSE:
			c->closing = CL_ABRUPT;
			return F_DONE;
		case U_STALL:
			c->closing = CL_STALL;
			return F_DONE;
		case U_BADCHUNK:
			buf_adds(&c->out, BADCHUNK);
			c->closing = CL_ABRUPT;
			return F_DONE;
		}
	}
	n = r->stage.len - s->spos;
	if (s->piece) {
		if (g.now < s->pc_at) {
			conn_wake(c, s->pc_at);
			return F_BLOCK;
		}
		if (n > s->piece)
			n = s->piece;
	}
	frame(c, r->stage.p + s->spos, n);
	s->spos += n;
	if (s->piece) {
		s->pc_at = g.now + s->piece_ms;
		return F_FLUSH;
	}
	return F_MORE;
}

/* The answer has been produced: release big buffers, decide whether
 * the connection carries on. */
static void
resp_end(struct conn *c)
{
	struct resp *r = &c->r;
	int i;

	r->s.active = 0;
	if (r->s.close && c->closing == CL_NONE)
		c->closing = CL_GRACEFUL;
	buf_trim(&r->stage, TRIM_CAP);
	buf_trim(&r->head, TRIM_CAP);
	buf_trim(&r->tail, TRIM_CAP);
	buf_trim(&r->rtext, TRIM_CAP);
	buf_trim(&r->targs, TRIM_CAP);
	for (i = 0; i < MAX_CHOICES; i++)
		buf_trim(&r->text[i], TRIM_CAP);
}

/* ------------------------------------------------------------------ */
/* Endpoints */

/* Text of a message content: a string, or the "text" parts joined by a
 * space. */
static void
content_text(yajl_val v, struct buf *b)
{
	const char *t;
	size_t i;
	int first = 1;

	if ((t = jstr(v)) != NULL) {
		buf_adds(b, t);
		return;
	}
	for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
		if ((t = jstr(jget(v->u.array.values[i], "text"))) == NULL)
			continue;
		if (!first)
			buf_add(b, " ", 1);
		first = 0;
		buf_adds(b, t);
	}
}

static unsigned long long
content_words(yajl_val v)
{
	unsigned long long n = 0;
	const char *t;
	size_t i;

	if ((t = jstr(v)) != NULL)
		return words(t);
	for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++)
		if ((t = jstr(jget(v->u.array.values[i], "text"))) != NULL)
			n += words(t);
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
	unsigned long long total, rep;
	size_t p;
	int i;

	rep = stream ? (unsigned long long)clampll(m->repeat, 1, 1000000000)
	    : 1;
	if (s->reason) {
		buf_adds(&r->rtext, "think: ");
		buf_add(&r->rtext, r->text[0].p, r->text[0].len);
	}
	if (s->tools) {
		buf_adds(&r->targs, "{\"text\":");
		buf_json(&r->targs, r->text[0].p, r->text[0].len);
		buf_adds(&r->targs, "}");
		for (p = 0; p < r->targs.len; s->npieces++)
			p = piece_end(r->targs.p, r->targs.len, p);
	}
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
		if (s->reason) {
			s->rcnt[i] = tok_count(r->rtext.p, r->rtext.len, 0);
			s->ctok += s->rcnt[i];
		}
		if (s->tools && i == 0) {
			s->cnt[0] = 1 + s->npieces;
			s->fin[0] = "tool_calls";
			s->ctok += s->npieces;
			continue;
		}
		total = rep * tok_count(r->text[i].p, r->text[i].len,
		    s->base[i]);
		s->fin[i] = "stop";
		if (maxtok >= 0 && (unsigned long long)maxtok < total) {
			total = maxtok;
			s->fin[i] = "length";
		}
		s->cnt[i] = total;
		s->ctok += total;
	}
}

static void
put_usage(struct buf *b, const struct rstate *s)
{
	buf_adds(b, ",\"usage\":{\"prompt_tokens\":");
	buf_addu(b, s->ptok);
	buf_adds(b, ",\"completion_tokens\":");
	buf_addu(b, s->ctok);
	buf_adds(b, ",\"total_tokens\":");
	buf_addu(b, s->ptok + s->ctok);
	buf_adds(b, "}}");
}

/* Split the fixed body at split, to be padded there up to m->size. */
static void
pad_body(struct resp *r, const struct mock *m, size_t split)
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

/* The common start of every chunk of a stream, up to "choices":[. */
static void
gen_prefix(struct resp *r, const char *id, unsigned long long seq,
    const char *object, const char *model)
{
	struct buf *b = &r->pfx;

	buf_adds(b, "{\"id\":\"");
	buf_adds(b, id);
	buf_addu(b, seq);
	buf_adds(b, "\",\"object\":\"");
	buf_adds(b, object);
	buf_adds(b, "\",\"created\":" CREATED ",\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"choices\":[");
}

/* POST /v1/chat/completions: echo the last user message (see the
 * top of the file). */
static void
do_chat(struct conn *c, yajl_val root, const struct mock *m, int status,
    unsigned long long seq)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *b = &r->head;
	yajl_val msgs, v, tools;
	const char *model, *name, *role;
	long long maxtok;
	size_t i, last, split = 0, len;
	int stream;

	if ((model = jstr(jget(root, "model"))) == NULL)
		model = "mock";
	msgs = jget(root, "messages");
	last = SIZE_MAX;
	for (i = 0; YAJL_IS_ARRAY(msgs) && i < msgs->u.array.len; i++) {
		v = msgs->u.array.values[i];
		s->ptok += content_words(jget(v, "content"));
		if ((role = jstr(jget(v, "role"))) != NULL &&
		    strcmp(role, "user") == 0)
			last = i;
	}
	if (m->content)
		buf_adds(&r->text[0], m->content);
	else if (last != SIZE_MAX)
		content_text(jget(msgs->u.array.values[last], "content"),
		    &r->text[0]);
	s->kind = K_CHAT;
	s->n = clampll(jint(jget(root, "n"), 1), 1, MAX_CHOICES);
	s->reason = strstr(model, "reason") != NULL;
	tools = jget(root, "tools");
	if (YAJL_IS_ARRAY(tools) && tools->u.array.len > 0) {
		s->tools = 1;
		name = jstr(jget(jget(tools->u.array.values[0], "function"),
		    "name"));
		buf_jsons(&r->tname, name ? name : "");
	}
	stream = YAJL_IS_TRUE(jget(root, "stream"));
	s->usage = YAJL_IS_TRUE(jget(jget(root, "stream_options"),
	    "include_usage"));
	maxtok = jint(jget(root, "max_tokens"), -1);
	if (maxtok < 0)
		maxtok = jint(jget(root, "max_completion_tokens"), -1);
	gen_choices(c, m, maxtok, stream);
	if (stream) {
		gen_prefix(r, "chatcmpl-mock-", seq, "chat.completion.chunk",
		    model);
		resp_sse(c, m);
		return;
	}
	buf_adds(b, "{\"id\":\"chatcmpl-mock-");
	buf_addu(b, seq);
	buf_adds(b, "\",\"object\":\"chat.completion\",\"created\":"
	    CREATED ",\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"choices\":[");
	for (i = 0; i < (size_t)s->n; i++) {
		if (i > 0)
			buf_add(b, ",", 1);
		buf_adds(b, "{\"index\":");
		buf_addu(b, i);
		buf_adds(b, ",\"message\":{\"role\":\"assistant\",");
		if (s->reason) {
			buf_adds(b, "\"reasoning_content\":");
			buf_json(b, r->rtext.p, r->rtext.len);
			buf_add(b, ",", 1);
		}
		if (s->tools && i == 0) {
			buf_adds(b, "\"content\":null,\"tool_calls\":[{\"id\":"
			    "\"call_mock_1\",\"type\":\"function\","
			    "\"function\":{\"name\":");
			buf_add(b, r->tname.p, r->tname.len);
			buf_adds(b, ",\"arguments\":");
			buf_json(b, r->targs.p, r->targs.len);
			buf_adds(b, "}}]");
		} else {
			buf_adds(b, "\"content\":");
			len = tok_prefix(r->text[i].p, r->text[i].len,
			    s->base[i], s->cnt[i]);
			buf_json(b, r->text[i].p, len);
			if (i == 0)
				split = b->len - 1;
		}
		buf_adds(b, "},\"logprobs\":null,\"finish_reason\":\"");
		buf_adds(b, s->fin[i]);
		buf_adds(b, "\"}");
	}
	buf_add(b, "]", 1);
	put_usage(b, s);
	pad_body(r, m, split);
	resp_fixed(c, status, "application/json", m);
}

/* POST /v1/completions: echo the prompt as one choice. */
static void
do_completion(struct conn *c, yajl_val root, const struct mock *m,
    int status, unsigned long long seq)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *b = &r->head;
	yajl_val pr;
	const char *model, *prompt;
	long long maxtok;
	size_t i, len, split;
	int stream;

	if ((model = jstr(jget(root, "model"))) == NULL)
		model = "mock";
	pr = jget(root, "prompt");
	prompt = jstr(pr);
	for (i = 0; !prompt && YAJL_IS_ARRAY(pr) && i < pr->u.array.len; i++)
		prompt = jstr(pr->u.array.values[i]);
	if (prompt == NULL)
		prompt = "";
	s->ptok = words(prompt);
	buf_adds(&r->text[0], m->content ? m->content : prompt);
	s->kind = K_CMPL;
	s->n = 1;
	stream = YAJL_IS_TRUE(jget(root, "stream"));
	s->usage = YAJL_IS_TRUE(jget(jget(root, "stream_options"),
	    "include_usage"));
	maxtok = jint(jget(root, "max_tokens"), -1);
	gen_choices(c, m, maxtok, stream);
	if (stream) {
		gen_prefix(r, "cmpl-mock-", seq, "text_completion", model);
		resp_sse(c, m);
		return;
	}
	buf_adds(b, "{\"id\":\"cmpl-mock-");
	buf_addu(b, seq);
	buf_adds(b, "\",\"object\":\"text_completion\",\"created\":"
	    CREATED ",\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"choices\":[{\"text\":");
	len = tok_prefix(r->text[0].p, r->text[0].len, 0, s->cnt[0]);
	buf_json(b, r->text[0].p, len);
	split = b->len - 1;
	buf_adds(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"");
	buf_adds(b, s->fin[0]);
	buf_adds(b, "\"}]");
	put_usage(b, s);
	pad_body(r, m, split);
	resp_fixed(c, status, "application/json", m);
}

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
put_embedding(struct buf *b, const char *s, size_t k)
{
	uint64_t h = 1469598103934665603ULL;
	char num[32];
	int j, n;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	if (k > 0)
		buf_add(b, ",", 1);
	buf_adds(b, "{\"object\":\"embedding\",\"index\":");
	buf_addu(b, k);
	buf_adds(b, ",\"embedding\":[");
	for (j = 0; j < 8; j++) {
		n = snprintf(num, sizeof num, "%s%.6f", j ? "," : "",
		    (double)(mix64(h + j) >> 11) / 9007199254740992.0 * 2 - 1);
		buf_add(b, num, n);
	}
	buf_adds(b, "]}");
}

/* POST /v1/embeddings: 8 hashed floats per input. */
static void
do_embeddings(struct conn *c, yajl_val root, const struct mock *m,
    int status)
{
	struct buf *b = &c->r.head;
	yajl_val in;
	const char *model, *t;
	unsigned long long p = 0;
	size_t i;

	if ((model = jstr(jget(root, "model"))) == NULL)
		model = "mock";
	in = jget(root, "input");
	buf_adds(b, "{\"object\":\"list\",\"data\":[");
	if ((t = jstr(in)) != NULL) {
		put_embedding(b, t, 0);
		p += words(t);
	}
	for (i = 0; YAJL_IS_ARRAY(in) && i < in->u.array.len; i++) {
		t = jstr(in->u.array.values[i]);
		put_embedding(b, t ? t : "", i);
		p += t ? words(t) : 0;
	}
	buf_adds(b, "],\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"usage\":{\"prompt_tokens\":");
	buf_addu(b, p);
	buf_adds(b, ",\"total_tokens\":");
	buf_addu(b, p);
	buf_adds(b, "}}");
	resp_fixed(c, status, "application/json", m);
}

/* POST /v1/images/generations: n urls served by GET /files/. */
static void
do_images(struct conn *c, yajl_val root, const struct mock *m, int status,
    unsigned long long seq)
{
	struct buf *b = &c->r.head;
	const char *prompt;
	long long n, k;

	if ((prompt = jstr(jget(root, "prompt"))) == NULL)
		prompt = "";
	n = clampll(jint(jget(root, "n"), 1), 1, 10);
	buf_adds(b, "{\"created\":" CREATED ",\"data\":[");
	for (k = 0; k < n; k++) {
		if (k > 0)
			buf_add(b, ",", 1);
		buf_adds(b, "{\"url\":\"http://127.0.0.1:");
		buf_addu(b, g.port);
		buf_adds(b, "/files/img-");
		buf_addu(b, seq);
		buf_add(b, "-", 1);
		buf_addu(b, k);
		buf_adds(b, ".png\",\"revised_prompt\":");
		buf_jsons(b, prompt);
		buf_add(b, "}", 1);
	}
	buf_adds(b, "]}");
	resp_fixed(c, status, "application/json", m);
}

/* Serialise a parse-tree value compactly (mock.body). */
static void
gen_value(yajl_gen gen, yajl_val v)
{
	const char *s;
	size_t i;

	if (YAJL_IS_STRING(v)) {
		s = YAJL_GET_STRING(v);
		yajl_gen_string(gen, (const unsigned char *)s, strlen(s));
	} else if (YAJL_IS_NUMBER(v)) {
		s = YAJL_GET_NUMBER(v);
		yajl_gen_number(gen, s, strlen(s));
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(gen);
		for (i = 0; i < v->u.object.len; i++) {
			s = v->u.object.keys[i];
			yajl_gen_string(gen, (const unsigned char *)s,
			    strlen(s));
			gen_value(gen, v->u.object.values[i]);
		}
		yajl_gen_map_close(gen);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(gen);
		for (i = 0; i < v->u.array.len; i++)
			gen_value(gen, v->u.array.values[i]);
		yajl_gen_array_close(gen);
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		yajl_gen_bool(gen, YAJL_IS_TRUE(v));
	else
		yajl_gen_null(gen);
}

/* The mock.body value, serialised, becomes the answer's body. */
static void
answer_body(struct conn *c, yajl_val v)
{
	const unsigned char *p;
	size_t n;
	yajl_gen gen;

	if ((gen = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	gen_value(gen, v);
	if (yajl_gen_get_buf(gen, &p, &n) == yajl_gen_status_ok)
		buf_add(&c->r.head, p, n);
	yajl_gen_free(gen);
}

static int
path_is(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Answer the complete request now in the input: head at p (hlen bytes),
 * body at p + hlen (blen bytes, NUL written after it for the parse). */
static void
dispatch(struct conn *c, char *p)
{
	char *meth = p + c->moff, *path = p + c->toff, *q, *body, save;
	char ebuf[256], msg[512];
	size_t plen = c->tlen, mlen = c->mlen;
	unsigned long long seq;
	yajl_val root;
	struct mock m;
	int ep, post, status;

	resp_reset(c);
	if (plen > 7 && strncasecmp(path, "http://", 7) == 0 &&
	    (q = memchr(path + 7, '/', plen - 7)) != NULL) {
		plen -= q - path;
		path = q;
	}
	if ((q = memchr(path, '?', plen)) != NULL)
		plen = q - path;
	post = path_is(meth, mlen, "POST");
	if (plen >= 6 && memcmp(path, "/mock/", 6) == 0) {
		if (path_is(path, plen, "/mock/stats") &&
		    path_is(meth, mlen, "GET")) {
			stats_json(&c->r.head);
			resp_fixed(c, 200, "application/json", &nomock);
			return;
		}
		if (path_is(path, plen, "/mock/reset") && post) {
			stats_clear();
			buf_adds(&c->r.head, "{\"reset\":true}");
			resp_fixed(c, 200, "application/json", &nomock);
			return;
		}
		goto notfound;
	}

	seq = ++g.requests;
	g.last_head.len = 0;
	buf_add(&g.last_head, p + c->hoff, c->lstart - c->hoff);
	g.last_body = c->blen;

	if (plen >= 7 && memcmp(path, "/files/", 7) == 0 &&
	    path_is(meth, mlen, "GET")) {
		buf_add(&c->r.head, png, sizeof png);
		resp_fixed(c, 200, "image/png", &nomock);
		return;
	}
	if (g.key && !c->authok) {
		answer_error(c, 401, "invalid api key",
		    "invalid_request_error", "invalid_api_key", &nomock);
		return;
	}
	ep = !post ? 0 :
	    path_is(path, plen, "/v1/chat/completions") ? 1 :
	    path_is(path, plen, "/v1/completions") ? 2 :
	    path_is(path, plen, "/v1/embeddings") ? 3 :
	    path_is(path, plen, "/v1/images/generations") ? 4 : 0;
	if (ep == 0)
		goto notfound;

	body = p + c->hlen;
	if (json_depth(body, c->blen) > MAX_DEPTH) {
		answer_error(c, 400, "We could not parse the JSON body of "
		    "your request. (mock: nested too deeply)",
		    "invalid_request_error", NULL, &nomock);
		return;
	}
	/* yajl_tree_parse wants a string: borrow the byte after the body
	 * (the input buffer always has room for it). */
	save = body[c->blen];
	body[c->blen] = '\0';
	ebuf[0] = '\0';
	root = yajl_tree_parse(body, ebuf, sizeof ebuf);
	body[c->blen] = save;
	ebuf[strcspn(ebuf, "\n")] = '\0';
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(msg, sizeof msg, "We could not parse the JSON body "
		    "of your request. (mock: %s)", root ? "not an object" :
		    ebuf[0] ? ebuf : "invalid JSON");
		answer_error(c, 400, msg, "invalid_request_error", NULL,
		    &nomock);
		yajl_tree_free(root);
		return;
	}
	mock_parse(&m, jget(root, "mock"));
	if (m.id && ids_bump(m.id) > (unsigned long long)m.fail_first &&
	    m.fail_first >= 0)
		mock_unfault(&m);
	status = m.status ? m.status : 200;
	if (m.raw) {
		buf_adds(&c->r.head, m.raw);
		resp_fixed(c, status, m.ctype ? m.ctype : "application/json",
		    &m);
	} else if (m.body) {
		answer_body(c, m.body);
		resp_fixed(c, status, m.ctype ? m.ctype : "application/json",
		    &m);
	} else if (status >= 300) {
		snprintf(msg, sizeof msg, "mock error %d", status);
		answer_error(c, status, msg, "mock_error", NULL, &m);
	} else if (ep == 1)
		do_chat(c, root, &m, status, seq);
	else if (ep == 2)
		do_completion(c, root, &m, status, seq);
	else if (ep == 3)
		do_embeddings(c, root, &m, status);
	else
		do_images(c, root, &m, status, seq);
	yajl_tree_free(root);
	return;

notfound:
	snprintf(msg, sizeof msg, "Invalid URL (%.*s %.*s)",
	    (int)(mlen > 32 ? 32 : mlen), meth,
	    (int)(plen > 400 ? 400 : plen), path);
	answer_error(c, 404, msg, "invalid_request_error", NULL, &nomock);
}

/* ------------------------------------------------------------------ */
/* Requests */

/* A request the server cannot read: answer with an error and close. */
static int
req_fail(struct conn *c, int status, const char *msg)
{
	resp_reset(c);
	c->r.s.close = 1;
	answer_error(c, status, msg, "invalid_request_error", NULL, &nomock);
	c->rq = RQ_NONE;
	return 1;
}

static int
hdr_is(const char *n, size_t nl, const char *s)
{
	return strlen(s) == nl && strncasecmp(n, s, nl) == 0;
}

static int
has_token(const char *v, size_t vl, const char *tok)
{
	size_t n = strlen(tok), i;

	for (i = 0; i + n <= vl; i++)
		if (strncasecmp(v + i, tok, n) == 0)
			return 1;
	return 0;
}

/* Parse a complete request head (hlen bytes at p). */
static int
req_parse_head(struct conn *c, char *p)
{
	char *e, *line, *end = p + c->lstart, *colon, *v;
	size_t n, nl, vl, i, need;
	unsigned long long cl = 0;
	int have_cl = 0;

	e = memchr(p, '\n', c->hlen);
	n = e - p;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	for (i = 0; i < n && p[i] >= 'A' && p[i] <= 'Z'; i++)
		;
	if (i == 0 || i >= n || p[i] != ' ')
		return req_fail(c, 400, "malformed request line");
	c->moff = 0;
	c->mlen = i;
	c->toff = ++i;
	for (; i < n && p[i] != ' '; i++)
		;
	c->tlen = i - c->toff;
	if (c->tlen == 0 || i >= n || n - i != 9 ||
	    memcmp(p + i + 1, "HTTP/1.", 7) != 0 ||
	    (p[n - 1] != '0' && p[n - 1] != '1'))
		return req_fail(c, 400, "malformed request line");
	c->http10 = p[n - 1] == '0';
	c->conn_close = c->chunked = c->expect = 0;
	c->authok = g.key == NULL;
	c->hoff = e + 1 - p;
	for (line = e + 1; line < end; line = e + 1) {
		e = memchr(line, '\n', end - line);
		if ((colon = memchr(line, ':', e - line)) == NULL)
			continue;
		nl = colon - line;
		for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		for (vl = e - v; vl > 0 && (v[vl - 1] == '\r' ||
		    v[vl - 1] == ' ' || v[vl - 1] == '\t'); vl--)
			;
		if (hdr_is(line, nl, "content-length")) {
			for (i = 0, cl = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9')
					return req_fail(c, 400,
					    "bad Content-Length");
				cl = cl * 10 + (v[i] - '0');
				if (cl > MAX_BODY)
					cl = MAX_BODY + 1;	/* saturate */
			}
			if (vl == 0)
				return req_fail(c, 400, "bad Content-Length");
			have_cl = 1;
		} else if (hdr_is(line, nl, "transfer-encoding"))
			c->chunked = has_token(v, vl, "chunked");
		else if (hdr_is(line, nl, "connection"))
			c->conn_close |= has_token(v, vl, "close");
		else if (hdr_is(line, nl, "expect"))
			c->expect = has_token(v, vl, "100-continue");
		else if (hdr_is(line, nl, "authorization") && g.key)
			c->authok = vl == 7 + strlen(g.key) &&
			    strncasecmp(v, "Bearer ", 7) == 0 &&
			    memcmp(v + 7, g.key, vl - 7) == 0;
	}
	c->blen = 0;
	if (c->chunked) {
		c->rq = RQ_CSIZE;
		c->bpos = c->hlen;
	} else if (have_cl && cl > 0) {
		if (cl > MAX_BODY)
			return req_fail(c, 413, "request body too large");
		c->clen = cl;
		c->rq = RQ_BODY;
		/* room for the whole body at once: fewer reads, no copies */
		need = c->ipos + c->hlen + cl;
		if (need > c->in.len && buf_try(&c->in, need - c->in.len) < 0)
			return req_fail(c, 413, "request body too large");
	} else {
		c->clen = 0;
		c->rq = RQ_BODY;
	}
	if (c->expect && !c->http10 && (c->chunked ||
	    c->in.len - c->ipos - c->hlen < c->clen))
		buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

/* Dispatch the request whose raw bytes end at bpos, then get ready for
 * the next one. */
static void
req_done(struct conn *c)
{
	dispatch(c, c->in.p + c->ipos);
	c->ipos += c->bpos;
	c->rq = RQ_HEAD;
	c->lstart = c->scan = 0;
}

/* Parse what has arrived of the current request; 1 when an answer was
 * started (the request was dispatched or refused), 0 when more input
 * is needed. */
static int
req_step(struct conn *c)
{
	char *p, *q;
	size_t n, k;
	unsigned long long sz;

	for (;;) {
		p = c->in.p + c->ipos;
		n = c->in.len - c->ipos;
		switch (c->rq) {
		case RQ_HEAD:
			while (c->lstart == 0 && n > 0 &&
			    (p[0] == '\r' || p[0] == '\n')) {
				c->ipos++;
				p++;
				n--;
			}
			if (n == 0)
				return 0;
			q = memchr(p + c->scan, '\n', n - c->scan);
			if (q == NULL) {
				c->scan = n;
				if (n > MAX_HEAD)
					return req_fail(c, 431,
					    "request head too large");
				return 0;
			}
			k = q - p;
			if (k == c->lstart ||
			    (k == c->lstart + 1 && p[c->lstart] == '\r')) {
				c->hlen = k + 1;
				if (c->lstart == 0)
					return req_fail(c, 400, "no request");
				if (req_parse_head(c, p))
					return 1;
				continue;
			}
			c->lstart = c->scan = k + 1;
			if (c->lstart > MAX_HEAD)
				return req_fail(c, 431,
				    "request head too large");
			continue;
		case RQ_BODY:
			if (n - c->hlen < c->clen)
				return 0;
			c->blen = c->clen;
			c->bpos = c->hlen + c->clen;
			req_done(c);
			return 1;
		case RQ_CSIZE:
			q = memchr(p + c->bpos, '\n', n - c->bpos);
			if (q == NULL) {
				if (n - c->bpos > 1024)
					return req_fail(c, 400,
					    "bad chunk size");
				return 0;
			}
			for (k = c->bpos, sz = 0; p + k < q; k++) {
				if (p[k] >= '0' && p[k] <= '9')
					sz = sz * 16 + p[k] - '0';
				else if ((p[k] | 32) >= 'a' &&
				    (p[k] | 32) <= 'f')
					sz = sz * 16 + (p[k] | 32) - 'a' + 10;
				else
					break;
				if (sz > MAX_BODY)
					return req_fail(c, 413,
					    "request body too large");
			}
			if (k == c->bpos || (p + k < q && p[k] != ';' &&
			    p[k] != '\r' && p[k] != ' ' && p[k] != '\t'))
				return req_fail(c, 400, "bad chunk size");
			c->bpos = q - p + 1;
			if (sz > MAX_BODY - c->blen)
				return req_fail(c, 413,
				    "request body too large");
			c->csize = sz;
			c->rq = sz ? RQ_CDATA : RQ_TRAILER;
			continue;
		case RQ_CDATA:
			if ((k = n - c->bpos) == 0)
				return 0;
			if (k > c->csize)
				k = c->csize;
			/* decode in place: the body stays contiguous */
			if (c->hlen + c->blen != c->bpos)
				memmove(p + c->hlen + c->blen, p + c->bpos, k);
			c->blen += k;
			c->bpos += k;
			if ((c->csize -= k) == 0)
				c->rq = RQ_CCRLF;
			continue;
		case RQ_CCRLF:
			if (n - c->bpos < 1 || (p[c->bpos] == '\r' &&
			    n - c->bpos < 2))
				return 0;
			if (p[c->bpos] == '\n')
				c->bpos++;
			else if (p[c->bpos] == '\r' && p[c->bpos + 1] == '\n')
				c->bpos += 2;
			else
				return req_fail(c, 400, "bad chunk end");
			c->rq = RQ_CSIZE;
			continue;
		case RQ_TRAILER:
			q = memchr(p + c->bpos, '\n', n - c->bpos);
			if (q == NULL) {
				if (n - c->bpos > MAX_HEAD)
					return req_fail(c, 431,
					    "trailer too large");
				return 0;
			}
			k = q - p;
			if (k == c->bpos || (k == c->bpos + 1 &&
			    p[c->bpos] == '\r')) {
				c->bpos = k + 1;
				req_done(c);
				return 1;
			}
			c->bpos = k + 1;
			continue;
		default:
			return 0;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Connections */

static void
conn_wake(struct conn *c, int64_t t)
{
	if (c->wake == 0 || t < c->wake)
		c->wake = t;
}

/* Room for one more connection in the table and the poll set. */
static void
conns_reserve(void)
{
	struct conn **cs;
	struct pollfd *pfd;
	size_t cap;

	if (g.pfd == NULL || g.nconns == g.capconns) {
		cap = g.capconns ? g.capconns * 2 : 64;
		if ((cs = realloc(g.conns, cap * sizeof *cs)) == NULL)
			errx(2, "out of memory");
		g.conns = cs;
		if ((pfd = realloc(g.pfd, (cap + 2) * sizeof *pfd)) == NULL)
			errx(2, "out of memory");
		g.pfd = pfd;
		g.capconns = cap;
	}
}

/* Track a freshly accepted client socket. */
static void
conn_new(int fd)
{
	struct conn *c;

	conns_reserve();
	if ((c = calloc(1, sizeof *c)) == NULL)
		errx(2, "out of memory");
	c->fd = fd;
	g.conns[g.nconns++] = c;
}

static void
conn_free(struct conn *c)
{
	int i;

	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->r.hdr);
	buf_free(&c->r.stage);
	buf_free(&c->r.head);
	buf_free(&c->r.tail);
	buf_free(&c->r.pfx);
	buf_free(&c->r.rtext);
	buf_free(&c->r.tname);
	buf_free(&c->r.targs);
	for (i = 0; i < MAX_CHOICES; i++)
		buf_free(&c->r.text[i]);
	free(c);
}

/* Read what the client sent; past the answers (linger, stall) it is
 * thrown away.  Sets rd_eof on EOF, dead on errors. */
static void
conn_read(struct conn *c)
{
	ssize_t n;
	size_t room;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		if (c->state != CS_OPEN) {
			room = sizeof g.scratch;
			n = read(c->fd, g.scratch, room);
		} else {
			if (c->ipos > 0) {
				memmove(c->in.p, c->in.p + c->ipos,
				    c->in.len - c->ipos);
				c->in.len -= c->ipos;
				c->ipos = 0;
			}
			if (c->in.len == 0 && c->in.cap > IN_CAP)
				buf_trim(&c->in, 0);
			if (buf_try(&c->in, READ_SZ) < 0) {
				c->dead = 1;
				return;
			}
			room = c->in.cap - c->in.len - 1;
			n = read(c->fd, c->in.p + c->in.len, room);
		}
		if (n > 0) {
			if (c->state == CS_OPEN) {
				c->in.len += n;
				c->in.p[c->in.len] = '\0';
			}
			if ((size_t)n < room)
				return;
			continue;
		}
		if (n == 0) {
			c->rd_eof = 1;
			if (c->state != CS_OPEN)
				c->dead = 1;
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = 1;
		return;
	}
}

/* Write pending output: 1 when all is out, 0 on EAGAIN, -1 on error. */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->opos < c->out.len) {
		n = write(c->fd, c->out.p + c->opos, c->out.len - c->opos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->opos += n;
	}
	c->opos = 0;
	buf_trim(&c->out, TRIM_CAP);
	return 1;
}

/* Produce output until there is enough to write, a piece must go out
 * on its own, or nothing more can be made now. */
static int
conn_produce(struct conn *c)
{
	for (;;) {
		if (c->closing != CL_NONE)
			return P_IDLE;
		if (!c->r.s.active) {
			if (!req_step(c)) {
				if (c->rd_eof)
					c->closing = CL_GRACEFUL;
				return P_IDLE;
			}
			continue;
		}
		if (c->out.len - c->opos >= LOWAT)
			return P_FULL;
		switch (resp_fill(c)) {
		case F_FLUSH:
			return P_FLUSH;
		case F_BLOCK:
			return P_IDLE;
		case F_DONE:
			resp_end(c);
			break;
		}
	}
}

/* All output is written and the connection is to end as c->closing
 * says. */
static void
conn_finish(struct conn *c)
{
	struct linger l = { 1, 0 };

	switch (c->closing) {
	case CL_GRACEFUL:
		if (c->rd_eof) {
			c->dead = 1;
			break;
		}
		shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		c->wake = g.now + LINGER_MS;
		break;
	case CL_ABRUPT:
		shutdown(c->fd, SHUT_RDWR);
		c->dead = 1;
		break;
	case CL_RST:
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		c->dead = 1;
		break;
	case CL_STALL:
		c->state = CS_STALL;
		c->wake = 0;
		break;
	}
}

/* Make all the progress possible on c without blocking. */
static void
conn_run(struct conn *c)
{
	int budget, why, rv;

	if (c->state != CS_OPEN || c->dead)
		return;
	for (budget = 64; budget > 0; budget--) {
		why = conn_produce(c);
		if (c->opos < c->out.len) {
			if ((rv = conn_flush(c)) < 0) {
				c->dead = 1;
				return;
			}
			if (rv == 0)
				return;
		}
		if (c->closing != CL_NONE) {
			conn_finish(c);
			return;
		}
		if (why == P_IDLE)
			return;
	}
	conn_wake(c, g.now);
}

/* What to poll c for: read unless it is done reading or has enough
 * pipelined input queued, write while output is pending. */
static short
conn_events(struct conn *c)
{
	short ev = 0;

	if (c->state != CS_OPEN)
		return c->rd_eof ? 0 : POLLIN;
	if (!c->rd_eof && c->closing == CL_NONE &&
	    (!c->r.s.active || c->in.len - c->ipos < IN_CAP))
		ev |= POLLIN;
	if (c->opos < c->out.len)
		ev |= POLLOUT;
	return ev;
}

/* Handle poll results and a due timer for c. */
static void
conn_event(struct conn *c, short re)
{
	if (c->wake && c->wake <= g.now) {
		c->wake = 0;
		if (c->state == CS_LINGER) {
			c->dead = 1;
			return;
		}
	}
	if (re & (POLLERR | POLLHUP | POLLNVAL)) {
		c->dead = 1;
		return;
	}
	if (re & POLLIN) {
		conn_read(c);
		if (c->dead)
			return;
	}
	conn_run(c);
}

/* ------------------------------------------------------------------ */
/* Main loop */

/* Accept what is queued; on fd exhaustion stop accepting for a while
 * rather than spin. */
static void
do_accept(void)
{
	int fd, i, one = 1;

	for (i = 0; i < 256; i++) {
		if ((fd = accept(g.lfd, NULL, NULL)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				warn("accept");
				g.accept_at = g.now + 100;
			}
			return;
		}
		if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			warn("fcntl");
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_new(fd);
	}
}

/* The event loop: poll every socket, timers as the poll timeout,
 * until SIGTERM or SIGINT. */
static void
serve(void)
{
	struct conn *c;
	size_t i, n;
	int64_t t;
	int timeout, rv;
	char junk[64];

	while (!quit) {
		g.now = mono_ms();
		timeout = -1;
		n = g.nconns;
		g.pfd[0].fd = g.lfd;
		g.pfd[0].events = g.now >= g.accept_at ? POLLIN : 0;
		if (g.now < g.accept_at)
			timeout = g.accept_at - g.now;
		g.pfd[1].fd = g.sigfd[0];
		g.pfd[1].events = POLLIN;
		for (i = 0; i < n; i++) {
			c = g.conns[i];
			g.pfd[i + 2].fd = c->fd;
			g.pfd[i + 2].events = conn_events(c);
			g.pfd[i + 2].revents = 0;
			if (c->wake) {
				t = c->wake - g.now;
				if (t < 0)
					t = 0;
				if (t > INT_MAX)
					t = INT_MAX;
				if (timeout < 0 || t < timeout)
					timeout = t;
			}
		}
		rv = poll(g.pfd, n + 2, timeout);
		if (rv < 0) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (g.pfd[1].revents) {
			while (read(g.sigfd[0], junk, sizeof junk) > 0)
				;
			continue;
		}
		g.now = mono_ms();
		for (i = 0; i < n; i++) {
			c = g.conns[i];
			if (g.pfd[i + 2].revents ||
			    (c->wake && c->wake <= g.now))
				conn_event(c, g.pfd[i + 2].revents);
		}
		for (i = 0; i < g.nconns; ) {
			if (g.conns[i]->dead) {
				conn_free(g.conns[i]);
				g.conns[i] = g.conns[--g.nconns];
			} else
				i++;
		}
		if (g.pfd[0].revents & POLLIN)
			do_accept();
	}
}

/* Wake the poll loop through the self-pipe. */
static void
on_signal(int sig)
{
	int e = errno;

	(void)sig;
	quit = 1;
	if (write(g.sigfd[1], "x", 1) < 0) {
		/* the pipe is full: a wake-up is pending anyway */
	}
	errno = e;
}

/* Write the port to path atomically (temp file + rename). */
static void
write_portfile(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof tmp)
		errx(1, "'%s': file name too long", path);
	if ((f = fopen(tmp, "w")) == NULL)
		err(1, "cannot open '%s'", tmp);
	fprintf(f, "%d\n", g.port);
	if (fflush(f) == EOF || ferror(f)) {
		fclose(f);
		unlink(tmp);
		err(1, "cannot write '%s'", tmp);
	}
	if (fclose(f) == EOF)
		err(1, "cannot write '%s'", tmp);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		err(1, "cannot rename '%s' to '%s'", tmp, path);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: mockvman [-f portfile] [-p port]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	struct sigaction sa;
	struct rlimit rl;
	const char *portfile = NULL;
	char *end;
	long port = 0;
	int ch, one = 1, i;
	size_t k;

	while ((ch = getopt(argc, argv, "f:p:")) != -1) {
		switch (ch) {
		case 'f':
			portfile = optarg;
			break;
		case 'p':
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || port < 0 ||
			    port > 65535)
				errx(1, "bad port '%s'", optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	g.key = getenv("MOCK_KEY");
	if (g.key && !*g.key)
		g.key = NULL;
	g.ids_tail = &g.ids;
	memset(g.xs, 'x', sizeof g.xs);
	conns_reserve();

	if ((g.lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		err(1, "socket");
	setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(g.lfd, (struct sockaddr *)&sin, sizeof sin) < 0)
		err(1, "cannot bind 127.0.0.1:%ld", port);
	if (listen(g.lfd, 4096) < 0)
		err(1, "listen");
	if (fcntl(g.lfd, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(g.lfd, F_SETFD, FD_CLOEXEC) < 0)
		err(1, "fcntl");
	if (getsockname(g.lfd, (struct sockaddr *)&sin, &sl) < 0)
		err(1, "getsockname");
	g.port = ntohs(sin.sin_port);

	if (pipe(g.sigfd) < 0)
		err(1, "pipe");
	for (i = 0; i < 2; i++)
		if (fcntl(g.sigfd[i], F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(g.sigfd[i], F_SETFD, FD_CLOEXEC) < 0)
			err(1, "fcntl");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (portfile)
		write_portfile(portfile);
	printf("%d\n", g.port);
	if (fflush(stdout) == EOF)
		err(1, "stdout");

	serve();

	for (k = 0; k < g.nconns; k++)
		conn_free(g.conns[k]);
	free(g.conns);
	free(g.pfd);
	stats_clear();
	close(g.lfd);
	close(g.sigfd[0]);
	close(g.sigfd[1]);
	return 0;
}
