/*
 * fail.c: what went wrong with a request, as its error record says it:
 * our own description, or the server's message, type and code found in
 * the error shapes of the VMAN relays (vman-api.md section 2).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmanjl.h"

/* Set f to a failure of our own description. */
void
fail_set(struct failure *f, long status, const char *kind, int retryable,
    const char *fmt, ...)
{
	char msg[CURL_ERROR_SIZE + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	f->status = status;
	f->kind = kind;
	f->retryable = retryable;
	buf_reset(&f->message);
	json_str(&f->message, msg, strlen(msg));
	buf_reset(&f->type);
	json_str(&f->type, kind, strlen(kind));
	buf_reset(&f->code);
	buf_reset(&f->body);
	buf_reset(&f->task);
}

void
fail_free(struct failure *f)
{
	buf_free(&f->message);
	buf_free(&f->type);
	buf_free(&f->code);
	buf_free(&f->body);
	buf_free(&f->task);
}

/* Can an answer of HTTP status s come out otherwise if sent again? */
static int
retryable_status(long s)
{
	return s == 408 || s == 409 || s == 429 || s == 500 || s == 502 ||
	    s == 503 || s == 504;
}

/* Can a transfer that libcurl ended with rc succeed if sent again? */
static int
retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* Describe in f a transfer of easy handle e that libcurl ended with rc,
 * errbuf its error buffer, after bytes of the answer's body. */
void
fail_transfer(struct failure *f, CURLcode rc, CURL *e, const char *errbuf,
    size_t bytes)
{
	const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	long status = 0;

	if (e)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		fail_set(f, status, "timeout", 1, "timeout: %s", what);
	else if (status > 0)
		fail_set(f, status, "network_error", retryable_curl(rc),
		    "transfer broken after %zu bytes of the answer: %s",
		    bytes, what);
	else
		fail_set(f, status, "network_error", retryable_curl(rc),
		    "%s", what);
}

/*
 * Error codes and types that no retry can fix: an exhausted quota does
 * not come back by waiting, and a model no channel serves stays so.
 */
static const char *const never_retry[] = {
	"insufficient_quota", "insufficient_user_quota",
	"pre_consume_token_quota_failed", "model_not_found", NULL
};

/* Does f's code or type contain one of words? */
static int
said(const struct failure *f, const char *const *words)
{
	for (; *words; words++)
		if ((f->code.len && strstr(f->code.p, *words)) ||
		    (f->type.len && strstr(f->type.p, *words)))
			return 1;
	return 0;
}

/* The picks that find a server's message in the error shapes of
 * vman-api.md section 2. */
enum {
	E_ERROR, E_ERROR_MESSAGE, E_ERROR_TYPE, E_ERROR_CODE, E_MESSAGE,
	E_DESCRIPTION, E_DETAIL, E_ERRORS0, E_TYPE, E_CODE, E_N
};

/*
 * Describe a non-2xx answer (or a mid-stream error object) in f: the
 * server's own message, type and code where its body has them, else the
 * body itself.
 */
void
fail_from_body(struct failure *f, long status, const char *body,
    size_t len, const char *kind, struct buf *scratch)
{
	struct jpick pk[E_N] = {
		{ .path = "error" }, { .path = "error.message" },
		{ .path = "error.type" }, { .path = "error.code" },
		{ .path = "message" }, { .path = "description" },
		{ .path = "detail" }, { .path = "errors.0" },
		{ .path = "type" }, { .path = "code" }
	};
	static const int msgs[] = {
		E_ERROR_MESSAGE, E_ERROR, E_MESSAGE, E_DESCRIPTION, E_DETAIL,
		E_ERRORS0
	};
	const struct buf *m = NULL;
	size_t i, n;

	fail_set(f, status, kind, retryable_status(status),
	    "HTTP %ld", status);
	buf_reset(&f->body);
	if (json_compact(body, len, &f->body, pk, E_N, scratch) < 0 ||
	    f->body.p[0] != '{') {
		/* Not JSON: the body itself is the message. */
		buf_reset(&f->body);
		n = len;
		while (n && (body[n - 1] == '\n' || body[n - 1] == '\r' ||
		    body[n - 1] == ' '))
			n--;
		if (n > 2000)
			n = 2000;
		buf_reset(&f->message);
		if (n) {
			char pre[64];

			buf_reset(scratch);
			snprintf(pre, sizeof pre, "HTTP %ld: ", status);
			buf_puts(scratch, pre);
			buf_put(scratch, body, n);
			json_str(&f->message, scratch->p, scratch->len);
		} else {
			char m0[64];

			snprintf(m0, sizeof m0, "HTTP %ld with an empty body",
			    status);
			json_str(&f->message, m0, strlen(m0));
		}
		json_picks_free(pk, E_N);
		return;
	}
	for (i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
		if (pk[msgs[i]].val.len && pk[msgs[i]].val.p[0] == '"') {
			m = &pk[msgs[i]].val;
			break;
		}
	buf_reset(&f->message);
	if (m)
		buf_put(&f->message, m->p, m->len);
	else
		json_str(&f->message, f->body.p, f->body.len);
	if (pk[E_ERROR_TYPE].val.len || pk[E_TYPE].val.len) {
		buf_reset(&f->type);
		m = pk[E_ERROR_TYPE].val.len ? &pk[E_ERROR_TYPE].val :
		    &pk[E_TYPE].val;
		buf_put(&f->type, m->p, m->len);
	}
	m = pk[E_ERROR_CODE].val.len ? &pk[E_ERROR_CODE].val : &pk[E_CODE].val;
	buf_put(&f->code, m->p, m->len);
	if (said(f, never_retry))
		f->retryable = 0;
	json_picks_free(pk, E_N);
}

/*
 * A bare JSON error object where a stream's events should have been: a
 * relay that has committed to a stream (status 200, keep-alive comments
 * sent) writes its failure so.  The status it would have had is lost;
 * the object's code and type say whether waiting can help.
 */
void
fail_from_stream(struct failure *f, long status, const char *body,
    size_t len, struct buf *scratch)
{
	static const char *const client[] = {
		"invalid_request", "invalid_api_key", "authentication",
		"permission", "not_found", "unauthorized", "forbidden",
		"context_length", NULL
	};

	fail_from_body(f, status, body, len, "stream_error", scratch);
	f->retryable = !said(f, never_retry) && !said(f, client);
}
