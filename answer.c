/*
 * answer.c: the answer to one attempt, as libcurl delivers it.  The
 * header callback keeps what the record and the retry rules need (type,
 * request id, Retry-After); the write callback routes body bytes to the
 * decoder the answer calls for (an event stream to sse.c and the
 * endpoint's dialect, chat.c or another, a
 * binary answer to save.c, anything else to memory); answer_end says
 * what the finished attempt was: a result, or a failure.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vmanjl.h"


static int
on_sse_data(void *ctx, const char *s, size_t n)
{
	struct req *r = ctx;

	return r->dec ? r->dialect->data(r->dec, s, n) : 1;
}

static int
on_sse_event(void *ctx, const struct sse_event *ev)
{
	struct req *r = ctx;
	struct pool *p = r->pool;
	int rc;

	if (r->stopped)
		return 0;
	if (!r->events++)
		buf_free(&r->resp);	/* no bare error body: events */
	if (!r->dec) {
		r->event_start = r->bytes;
		out_event(&p->out, &r->o, ev);
		r->o.nevents++;
		return 1;
	}
	rc = r->dialect->event(r->dec, ev, &p->msg);
	switch (rc) {
	case CHAT_MORE:
	case CHAT_DONE:
		r->event_start = r->bytes;
		out_commit(&p->out, &r->o);
		r->o.in_event = 1;
		return 1;
	case CHAT_ERROR: {
		const struct buf *e = r->dialect->error(r->dec);

		fail_from_body(&r->fail, r->status, e->p, e->len,
		    "stream_error", &p->msg);
		r->fail.retryable = 0;
		break;
	}
	default:
		fail_set(&r->fail, r->status, "stream_error", 0, "%s",
		    p->msg.p);
		break;
	}
	buf_reset(&r->o.evq);
	r->stopped = 1;
	return 0;
}

/* A delta of the stream: written, unless the answer it assembles has
 * grown past --max-response-size (the bound is on the whole answer held
 * in memory, not only on each event). */
static void
on_delta(void *ctx, const struct delta *d)
{
	struct req *r = ctx;
	size_t max = r->pool->conf->max_response;
	int k;

	if (r->stopped)
		return;
	for (k = 0; k < NDK; k++)
		r->assembled += d->len[k];
	if (r->assembled > max) {
		fail_set(&r->fail, r->status, "response_too_large", 0,
		    "answer larger than --max-response-size (%zu bytes) as "
		    "assembled from the stream", max);
		r->stopped = 1;
		return;
	}

	if (!r->o.t_first)
		r->o.t_first = r->pool->now;
	out_delta(&r->pool->out, &r->o, d);
}

static const struct sse_callbacks sse_cb = { on_sse_data, on_sse_event };

/* A file name extension for a content type. */
static int
body_start(struct req *r)
{
	const struct conf *c = r->pool->conf;
	int ok;

	/* The last status line's code, as libcurl's RESPONSE_CODE is. */
	r->status = r->head_status;
	if (!r->status && r->easy)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	ok = r->status >= 200 && r->status < 300;
	r->sse_mode = ok && r->ctype.len >= 17 &&
	    strncasecmp(r->ctype.p, "text/event-stream", 17) == 0;
	if (ok && !r->sse_mode && save_is_binary(&r->ctype)) {
		if (save_open(&r->save, r->output, c->out_dir, &r->o.cid,
		    r->o.line, r->ctype.p, &r->pool->msg) == 0)
			return 0;
		fail_set(&r->fail, r->status, "output_error", 0, "%s",
		    r->pool->msg.p);
		return -1;
	}
	if (!r->sse_mode)
		return 0;
	if (!r->sse && !(r->sse = sse_new(&sse_cb, r)))
		err(2, "out of memory");
	/* With --events, or from a path of no known dialect: events. */
	if (c->events || !r->dialect)
		r->o.nevents = 0;
	else {
		if (!r->dec)
			r->dec = r->dialect->open(on_delta, r);
		r->o.in_event = 1;
	}
	return 0;
}

/* CURLOPT_WRITEFUNCTION: a piece of the answer's body. */
size_t
answer_write(char *s, size_t size, size_t n, void *ctx)
{
	struct req *r = ctx;
	struct pool *p = r->pool;
	size_t len = size * n;

	r->last_rx = p->now;
	r->rx_started = 1;
	if (r->status == 0 && body_start(r) < 0) {
		r->stopped = 1;
		return 0;
	}
	r->bytes += len;
	if (r->save.fd >= 0) {
		/* Binary answers go to their file, unbounded. */
		if (save_write(&r->save, s, len, &p->msg) < 0) {
			fail_set(&r->fail, r->status, "output_error", 0, "%s",
			    p->msg.p);
			r->stopped = 1;
			return 0;
		}
		return len;
	}
	/* A stream keeps only its current event: that is what is bounded. */
	if (r->bytes - r->event_start > p->conf->max_response) {
		fail_set(&r->fail, r->status, "response_too_large", 0,
		    "response larger than --max-response-size (%zu bytes)",
		    p->conf->max_response);
		r->stopped = 1;
		return 0;
	}
	if (r->sse_mode) {
		/* Before the first event, keep the bytes: they may be a bare
		 * JSON error after keep-alive comments. */
		if (!r->events && buf_add(&r->resp, s, len) < 0)
			buf_free(&r->resp);
		if (sse_feed(r->sse, s, len) < 0 || r->stopped) {
			if (!r->stopped)
				fail_set(&r->fail, r->status, "out_of_memory",
				    0, "out of memory reading the stream");
			r->stopped = 1;
			return 0;
		}
		/* The deltas go out at the end of this turn of the loop,
		 * with whatever else arrived with them: one write. */
		return len;
	}
	if (buf_add(&r->resp, s, len) < 0) {
		fail_set(&r->fail, r->status, "out_of_memory", 0,
		    "out of memory reading the answer");
		r->stopped = 1;
		return 0;
	}
	return len;
}

/* A wait in milliseconds as a count: NaN is no wait given (-1), below
 * zero is none, and past WAIT_MAX (some 30,000 years) is WAIT_MAX, so
 * that adding it to a time cannot overflow. */
#define WAIT_MAX 1e15
static long long
wait_ms(double ms)
{
	if (ms != ms)
		return -1;
	return ms < 0 ? 0 : ms > WAIT_MAX ? (long long)WAIT_MAX :
	    (long long)ms;
}

/* OpenAI's reset durations ("6m0s", "1.5s", "20ms") in ms; -1 if bad. */
static long long
go_duration(const char *s)
{
	double total = 0, x;
	char *end;

	if (!*s)
		return -1;
	while (*s) {
		x = strtod(s, &end);
		if (end == s)
			return -1;
		s = end;
		if (strncmp(s, "ms", 2) == 0)
			total += x, s += 2;
		else if (*s == 'h')
			total += x * 3600000, s++;
		else if (*s == 'm')
			total += x * 60000, s++;
		else if (*s == 's')
			total += x * 1000, s++;
		else
			return -1;
	}
	return wait_ms(total + 0.5);
}

/* Seconds or an HTTP date, as milliseconds from now. */
static long long
retry_after(const char *v)
{
	char *end;
	double s;
	time_t t;

	s = strtod(v, &end);
	if (end != v && strspn(v, "+-0123456789") == (size_t)(end - v) &&
	    (*end == '\0' || *end == ' '))
		return wait_ms(s * 1000);
	if ((t = curl_getdate(v, NULL)) < 0)
		return -1;
	return wait_ms(difftime(t, time(NULL)) * 1000);
}

/* CURLOPT_HEADERFUNCTION: one header line of the answer. */
size_t
answer_header(char *s, size_t size, size_t n, void *ctx)
{
	struct req *r = ctx;
	size_t len = size * n, k;
	char val[256];
	const char *v;

	r->last_rx = r->pool->now;
	r->rx_started = 1;
	if (len >= 5 && memcmp(s, "HTTP/", 5) == 0) {
		/* A new answer (after a 100 Continue, say): "HTTP/1.1 200
		 * OK", "HTTP/2 200". */
		buf_reset(&r->ctype);
		buf_reset(&r->o.request_id);
		r->retry_after_ms = r->reset_ms = -1;
		v = memchr(s, ' ', len);
		r->head_status = 0;
		for (k = v ? (size_t)(v - s) + 1 : len; k < len &&
		    s[k] >= '0' && s[k] <= '9' && r->head_status < 1000; k++)
			r->head_status = r->head_status * 10 + (s[k] - '0');
		return len;
	}
	if (!(v = memchr(s, ':', len)))
		return len;
	k = (size_t)(v - s);
	for (v++; v < s + len && (*v == ' ' || *v == '\t'); v++)
		;
	n = (size_t)(s + len - v);
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
#define IS(name) (k == sizeof(name) - 1 && strncasecmp(s, name, k) == 0)
	if (IS("content-type")) {
		buf_reset(&r->ctype);
		buf_put(&r->ctype, v, n);
	} else if (IS("x-oneapi-request-id") || IS("x-request-id") ||
	    IS("request-id")) {
		buf_reset(&r->o.request_id);
		json_str(&r->o.request_id, v, n);
	} else if (IS("retry-after") && r->retry_after_ms < 0) {
		snprintf(val, sizeof val, "%.*s", (int)(n < 255 ? n : 255), v);
		r->retry_after_ms = retry_after(val);
	} else if (IS("x-ratelimit-reset-requests") ||
	    IS("x-ratelimit-reset-tokens")) {
		long long d;

		snprintf(val, sizeof val, "%.*s", (int)(n < 255 ? n : 255), v);
		if ((d = go_duration(val)) > r->reset_ms)
			r->reset_ms = d;
	} else if (IS("retry-after-ms")) {
		snprintf(val, sizeof val, "%.*s", (int)(n < 255 ? n : 255), v);
		r->retry_after_ms = wait_ms(strtod(val, NULL));
	}
#undef IS
	return len;
}


/* A new attempt of r begins: forget the last one's answer. */
void
answer_begin(struct req *r)
{
	r->status = r->head_status = 0;
	r->rx_started = 0;
	r->events = 0;
	r->assembled = 0;
	r->bytes = r->event_start = 0;
	r->sse_mode = r->stopped = 0;
	r->o.in_event = 0;
	r->o.nevents = -1;
	r->retry_after_ms = r->reset_ms = -1;
	buf_reset(&r->resp);
	buf_reset(&r->ctype);
	buf_reset(&r->o.request_id);
	buf_reset(&r->o.evq);
	r->errbuf[0] = '\0';
	if (r->sse)
		sse_reset(r->sse);
	if (r->dec)
		r->dialect->reset(r->dec);
}

static void
result_reset(struct result *res)
{
	buf_reset(&res->body);
	buf_reset(&res->content);
	buf_reset(&res->finish);
	buf_reset(&res->usage);
	buf_reset(&res->task);
	buf_reset(&res->file);
	buf_reset(&res->ctype);
	res->bytes = 0;
}

/*
 * The body of a stream that sent no event: keep-alive comments (": PING"
 * lines), then perhaps a bare JSON error object, as a relay writes one
 * once it has committed to a stream.  Returns 1 with r->fail set from
 * that object.
 */
static int
bare_error(struct req *r)
{
	const char *p = r->resp.p, *end, *nl;

	if (!r->resp.len)
		return 0;
	end = p + r->resp.len;
	while (p < end && (*p == ':' || *p == '\n' || *p == '\r')) {
		if (*p == ':' && (nl = memchr(p, '\n', (size_t)(end - p))))
			p = nl;
		else if (*p == ':')
			p = end;
		p++;
	}
	if (p >= end || *p != '{' ||
	    json_compact(p, (size_t)(end - p), NULL, NULL, 0,
	    &r->pool->msg) < 0)
		return 0;
	fail_from_stream(&r->fail, r->status, p, (size_t)(end - p),
	    &r->pool->msg);
	return 1;
}

/* An event stream ended: complete, truncated, or cut short. */
static int
stream_end(struct req *r, struct result *res)
{
	const struct dialect *d = r->dialect;
	int torn = sse_end(r->sse);
	long which = -1;

	if (!r->dec) {
		/* Event records: complete unless cut inside an event. */
		if (!torn) {
			buf_puts(&res->body, "null");
			return ANSWER_OK;
		}
		fail_set(&r->fail, r->status, "stream_error", 1,
		    "stream ended in the middle of an event");
		return ANSWER_FAIL;
	}
	switch (d->state(r->dec, &which)) {
	case DEC_OPEN:
		if (!r->events && bare_error(r))
			return ANSWER_FAIL;
		fail_set(&r->fail, r->status, "stream_error", 1,
		    "stream ended without %s", d->end);
		return ANSWER_FAIL;
	case DEC_TRUNCATED:
		fail_set(&r->fail, r->status, "stream_truncated", 1,
		    "stream truncated: choice %ld has no finish_reason at %s",
		    which, d->end);
		return ANSWER_FAIL;
	}
	out_commit(&r->pool->out, &r->o);
	d->result(r->dec, res);
	return ANSWER_OK;
}

/* Has r's stream reached its complete end (its terminal event, every
 * part finished)?  Such an answer is never sent again, whatever came
 * after. */
static int
stream_complete(const struct req *r)
{
	long which;

	return r->sse_mode && r->dec &&
	    r->dialect->state(r->dec, &which) == DEC_COMPLETE;
}

/*
 * A 2xx text/html answer is the relay's dashboard (a path it does not
 * serve), never an API answer: its message gives the page's title, or
 * its first bytes.
 */
static void
html_answer(struct req *r)
{
	const char *p = r->resp.len ? r->resp.p : "", *end = p + r->resp.len;
	const char *t, *e;
	char head[201];
	size_t i, n = 0;

	for (t = p; t && t + 7 <= end; t++)
		if (strncasecmp(t, "<title>", 7) == 0)
			break;
	if (t && t + 7 <= end && (e = strstr(t + 7, "</")) && e < end)
		p = t + 7, end = e;
	for (i = 0; p + i < end && n < sizeof head - 1; i++)
		if (!(n && head[n - 1] == ' ' && strchr(" \t\r\n",
		    p[i])))
			head[n++] = strchr("\t\r\n", p[i]) ? ' ' : p[i];
	head[n] = '\0';
	fail_set(&r->fail, r->status, "html_answer", 0, "HTTP %ld %s is a "
	    "web page, not an API answer (is the path served?): %s",
	    r->status, r->ctype.p, n ? head : "(empty)");
}

/* A whole 2xx answer in memory: JSON, plain text, or nothing. */
static int
body_end(struct req *r, struct result *res)
{
	const struct dialect *d = r->dialect ? r->dialect : &dialect_chat;
	struct buf *msg = &r->pool->msg;
	int rc = ANSWER_OK;

	if (r->ctype.len >= 9 &&
	    strncasecmp(r->ctype.p, "text/html", 9) == 0) {
		html_answer(r);
		rc = ANSWER_FAIL;
	} else if (r->resp.len == 0)
		buf_puts(&res->body, "null");
	else if (d->body(r->resp.p, r->resp.len, res, msg) == 0)
		;
	else if (r->ctype.len >= 5 &&
	    strncasecmp(r->ctype.p, "text/", 5) == 0) {
		/* Plain text (srt, vtt, text): a JSON string. */
		buf_reset(&res->body);
		json_str(&res->body, r->resp.p, r->resp.len);
	} else {
		fail_set(&r->fail, r->status, "parse_error", 0,
		    "invalid JSON in the answer: %s", msg->p);
		rc = ANSWER_FAIL;
	}
	return rc;
}

/*
 * The transfer of r has ended with rc: what was it?  ANSWER_OK with the
 * answer in res, or ANSWER_FAIL with r->fail saying why (and, for an
 * HTTP answer, how long the server asked us to wait).
 */
int
answer_end(struct req *r, CURLcode rc, struct result *res)
{
	struct failure *f = &r->fail;
	int ok = r->status >= 200 && r->status < 300, out;

	if (r->status == 0 && rc == CURLE_OK) {
		body_start(r);	/* an answer without a body */
		ok = r->status >= 200 && r->status < 300;
	}
	f->wait_ms = -1;
	result_reset(res);
	if (stream_complete(r)) {
		/* Complete: what came after does not matter. */
		out_commit(&r->pool->out, &r->o);
		r->dialect->result(r->dec, res);
		out = ANSWER_OK;
	} else if (r->stopped)
		out = ANSWER_FAIL;
	else if (rc != CURLE_OK) {
		fail_transfer(f, rc, r->easy, r->errbuf, r->bytes);
		out = ANSWER_FAIL;
	} else if (r->sse_mode)
		out = stream_end(r, res);
	else if (r->save.fd >= 0) {
		out = save_finish(&r->save, &r->pool->msg) == 0 ?
		    ANSWER_OK : ANSWER_FAIL;
		if (out == ANSWER_OK) {
			json_str(&res->file, r->save.outname.p,
			    r->save.outname.len);
			json_str(&res->ctype, r->ctype.p, r->ctype.len);
			res->bytes = (long long)r->bytes;
			buf_puts(&res->body, "null");
		} else
			fail_set(f, r->status, "output_error", 0, "%s",
			    r->pool->msg.p);
	} else if (ok)
		out = body_end(r, res);
	else {
		if (r->status > 0)
			fail_from_body(f, r->status, r->resp.p, r->resp.len,
			    "http_error", &r->pool->msg);
		else
			fail_set(f, 0, "network_error", 1, "no HTTP answer");
		out = ANSWER_FAIL;
	}
	if (out == ANSWER_OK) {
		if (r->status == 0)
			r->status = 200;
		return out;
	}
	/* Deltas of an event that never completed are dropped. */
	r->o.in_event = 0;
	buf_reset(&r->o.evq);
	if (r->status > 0 && !r->stopped)
		f->wait_ms = r->retry_after_ms >= 0 ? r->retry_after_ms :
		    r->status == 429 ? r->reset_ms : -1;
	/* A stream of no known dialect cannot be told complete: once an
	 * event has been written, it is not sent again. */
	if (r->sse_mode && !r->dialect && !r->pool->conf->events &&
	    r->events)
		f->retryable = 0;
	save_discard(&r->save);
	return out;
}
