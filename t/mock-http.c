/*
 * mock-http.c: the HTTP engine of t/mockvman: one thread, poll(2) over
 * non-blocking sockets, requests read (by length or chunked), answers
 * written (fixed bodies, event streams, the transport faults), main().
 * What it answers: t/mockvman.md.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mock.h"

struct mockg g;

static volatile sig_atomic_t quit;

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

/* Start a new answer on c: state zeroed, buffers emptied. */
void
http_reset(struct conn *c)
{
	struct resp *r = &c->r;
	int i;

	memset(&r->s, 0, sizeof r->s);
	r->hdr.len = r->stage.len = r->head.len = r->tail.len = 0;
	r->id.len = r->model.len = 0;
	r->rtext.len = r->tname.len = r->targs.len = 0;
	r->xhdr.len = r->bare.len = 0;
	for (i = 0; i < MAX_CHOICES; i++)
		r->text[i].len = 0;
	/* new-api's request id: a time stamp and a counter here */
	snprintf(r->rid, sizeof r->rid, "20261205000000%010llu",
	    ++g.answers);
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
 * clen is the body length when it is known, ctype NULL sends no
 * Content-Type.  Every answer names its request id and the relay's
 * version, as new-api's middleware does. */
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
	buf_adds(b, "\r\n");
	if (ctype) {
		buf_adds(b, "Content-Type: ");
		buf_adds(b, ctype);
		buf_adds(b, "\r\n");
	}
	buf_adds(b, "X-Oneapi-Request-Id: ");
	buf_adds(b, r->rid);
	buf_adds(b, "\r\nX-New-Api-Version: " MOCK_RELAY_VERSION "\r\n");
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
	if (r->xhdr.len)
		buf_add(b, r->xhdr.p, r->xhdr.len);
	buf_adds(b, "\r\n");
}

/* Answer with the body in r->head (+ r->s.pad "x" bytes + r->tail). */
void
http_fixed(struct conn *c, int status, const char *ctype,
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

/* Answer with an event stream generated lazily by oai_sse_next(), or
 * the s->next the caller sets after. */
void
http_sse(struct conn *c, const struct mock *m)
{
	struct rstate *s = &c->r.s;
	size_t mark;

	resp_mock(c, m);
	s->src = SRC_SSE;
	s->next = oai_sse_next;
	s->ev_ms = m->event_delay_ms > 0 ? m->event_delay_ms : 0;
	s->close_after = m->close_after;
	s->stall_after = m->stall_after;
	s->bad_data = m->bad_data;
	s->error_event = m->error_event;
	s->bad_chunked = m->bad_chunked;
	s->no_done = m->no_done;
	s->cut_finish = m->cut_finish;
	s->pings = m->pings > 0 ? m->pings : 0;
	s->ping_ms = m->ping_ms > 0 ? m->ping_ms : 0;
	if (m->bare_error) {	/* made now: m dies with the request */
		mark = c->r.head.len;
		json_answer(c, m->bare_error);
		buf_add(&c->r.bare, c->r.head.p + mark, c->r.head.len - mark);
		c->r.head.len = mark;
		s->bare = 1;
	}
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
void
http_error(struct conn *c, int status, const char *msg, const char *type,
    const char *code, const struct mock *m)
{
	yajl_gen y = json_gen();

	json_error(y, msg, type, code);
	c->r.head.len = 0;
	json_take(y, &c->r.head);
	yajl_gen_free(y);
	http_fixed(c, status, "application/json", m);
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
			http_wake(c, s->hdr_at);
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
		switch (s->src == SRC_SSE ? s->next(c) : fixed_next(c)) {
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
			http_wake(c, s->pc_at);
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
	buf_trim(&r->bare, TRIM_CAP);
	for (i = 0; i < MAX_CHOICES; i++)
		buf_trim(&r->text[i], TRIM_CAP);
}

/* ------------------------------------------------------------------ */
/* Requests */

/* A request the server cannot read: answer with an error and close. */
static int
req_fail(struct conn *c, int status, const char *msg)
{
	http_reset(c);
	c->r.s.close = 1;
	http_error(c, status, msg, "invalid_request_error", NULL, &nomock);
	c->rq = RQ_NONE;
	return 1;
}

int
http_header_is(const char *n, size_t nl, const char *s)
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
		if (http_header_is(line, nl, "content-length")) {
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
		} else if (http_header_is(line, nl, "transfer-encoding"))
			c->chunked = has_token(v, vl, "chunked");
		else if (http_header_is(line, nl, "connection"))
			c->conn_close |= has_token(v, vl, "close");
		else if (http_header_is(line, nl, "expect"))
			c->expect = has_token(v, vl, "100-continue");
		else if (http_header_is(line, nl, "authorization") && g.key)
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
	route_dispatch(c, c->in.p + c->ipos);
	c->ipos += c->bpos;
	c->rq = RQ_HEAD;
	c->lstart = c->scan = 0;
}

/* The request-reading steps below return 1 when an answer was started
 * (the request was dispatched or refused), 0 when more input is
 * needed, STEP_ON when the next step may run now.  p and n: the input
 * from the start of the current request. */
#define STEP_ON	(-1)

/* Read the head up to its empty line, then parse it (a blank line
 * before a request is skipped). */
static int
req_step_head(struct conn *c, char *p, size_t n)
{
	char *q;
	size_t k;

	while (c->lstart == 0 && n > 0 && (p[0] == '\r' || p[0] == '\n')) {
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
			return req_fail(c, 431, "request head too large");
		return 0;
	}
	k = q - p;
	if (k == c->lstart || (k == c->lstart + 1 && p[c->lstart] == '\r')) {
		c->hlen = k + 1;
		if (c->lstart == 0)
			return req_fail(c, 400, "no request");
		return req_parse_head(c, p) ? 1 : STEP_ON;
	}
	c->lstart = c->scan = k + 1;
	if (c->lstart > MAX_HEAD)
		return req_fail(c, 431, "request head too large");
	return STEP_ON;
}

/* A body by length: the request is whole once all of it is here. */
static int
req_step_body(struct conn *c, char *p, size_t n)
{
	(void)p;
	if (n - c->hlen < c->clen)
		return 0;
	c->blen = c->clen;
	c->bpos = c->hlen + c->clen;
	req_done(c);
	return 1;
}

/* Read a chunk-size line (hex digits, maybe an extension). */
static int
req_step_csize(struct conn *c, char *p, size_t n)
{
	unsigned long long sz;
	char *q;
	size_t k;

	q = memchr(p + c->bpos, '\n', n - c->bpos);
	if (q == NULL) {
		if (n - c->bpos > 1024)
			return req_fail(c, 400, "bad chunk size");
		return 0;
	}
	for (k = c->bpos, sz = 0; p + k < q; k++) {
		if (p[k] >= '0' && p[k] <= '9')
			sz = sz * 16 + p[k] - '0';
		else if ((p[k] | 32) >= 'a' && (p[k] | 32) <= 'f')
			sz = sz * 16 + (p[k] | 32) - 'a' + 10;
		else
			break;
		if (sz > MAX_BODY)
			return req_fail(c, 413, "request body too large");
	}
	if (k == c->bpos || (p + k < q && p[k] != ';' && p[k] != '\r' &&
	    p[k] != ' ' && p[k] != '\t'))
		return req_fail(c, 400, "bad chunk size");
	c->bpos = q - p + 1;
	if (sz > MAX_BODY - c->blen)
		return req_fail(c, 413, "request body too large");
	c->csize = sz;
	c->rq = sz ? RQ_CDATA : RQ_TRAILER;
	return STEP_ON;
}

/* Take what has come of a chunk's data, decoded in place so that the
 * body stays contiguous after the head. */
static int
req_step_cdata(struct conn *c, char *p, size_t n)
{
	size_t k;

	if ((k = n - c->bpos) == 0)
		return 0;
	if (k > c->csize)
		k = c->csize;
	if (c->hlen + c->blen != c->bpos)
		memmove(p + c->hlen + c->blen, p + c->bpos, k);
	c->blen += k;
	c->bpos += k;
	if ((c->csize -= k) == 0)
		c->rq = RQ_CCRLF;
	return STEP_ON;
}

/* The line end after a chunk's data (LF or CRLF). */
static int
req_step_ccrlf(struct conn *c, char *p, size_t n)
{
	if (n - c->bpos < 1 || (p[c->bpos] == '\r' && n - c->bpos < 2))
		return 0;
	if (p[c->bpos] == '\n')
		c->bpos++;
	else if (p[c->bpos] == '\r' && p[c->bpos + 1] == '\n')
		c->bpos += 2;
	else
		return req_fail(c, 400, "bad chunk end");
	c->rq = RQ_CSIZE;
	return STEP_ON;
}

/* Skip the trailer lines after the last chunk; its empty line ends the
 * request. */
static int
req_step_trailer(struct conn *c, char *p, size_t n)
{
	char *q;
	size_t k;

	q = memchr(p + c->bpos, '\n', n - c->bpos);
	if (q == NULL) {
		if (n - c->bpos > MAX_HEAD)
			return req_fail(c, 431, "trailer too large");
		return 0;
	}
	k = q - p;
	if (k == c->bpos || (k == c->bpos + 1 && p[c->bpos] == '\r')) {
		c->bpos = k + 1;
		req_done(c);
		return 1;
	}
	c->bpos = k + 1;
	return STEP_ON;
}

/* Parse what has arrived of the current request, one step after
 * another while they can go on; 1 when an answer was started, 0 when
 * more input is needed. */
static int
req_step(struct conn *c)
{
	static int (*const step[])(struct conn *, char *, size_t) = {
		[RQ_HEAD] = req_step_head, [RQ_BODY] = req_step_body,
		[RQ_CSIZE] = req_step_csize, [RQ_CDATA] = req_step_cdata,
		[RQ_CCRLF] = req_step_ccrlf, [RQ_TRAILER] = req_step_trailer,
	};
	int r;

	do {
		if (c->rq < RQ_HEAD || c->rq >= RQ_NONE)
			return 0;
		r = step[c->rq](c, c->in.p + c->ipos, c->in.len - c->ipos);
	} while (r == STEP_ON);
	return r;
}

/* ------------------------------------------------------------------ */
/* Connections */

void
http_wake(struct conn *c, int64_t t)
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
	buf_free(&c->r.id);
	buf_free(&c->r.model);
	buf_free(&c->r.rtext);
	buf_free(&c->r.tname);
	buf_free(&c->r.targs);
	buf_free(&c->r.xhdr);
	buf_free(&c->r.bare);
	buf_free(&c->r.stopseq);
	for (i = 0; i < MAX_CHOICES; i++)
		buf_free(&c->r.text[i]);
	if (c->r.y)
		yajl_gen_free(c->r.y);
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
	http_wake(c, g.now);
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
		g.now = util_mono_ms();
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
		g.now = util_mono_ms();
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
	g.t0 = util_mono_ms();
	g.ids_tail = &g.ids;
	g.tasks_tail = &g.tasks;
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
	route_stats_clear();
	task_free_all();
	close(g.lfd);
	close(g.sigfd[0]);
	close(g.sigfd[1]);
	return 0;
}
