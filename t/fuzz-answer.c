/*
 * fuzz-answer.c: libFuzzer target for answers and the records made of
 * them: answer.c's libcurl callbacks, with json.c, the stream dialects
 * (chat.c, responses.c, messages.c, gemini.c), sse.c, fail.c and out.c
 * behind them, as pool.c drives them.
 *
 * A request from request.c's req_new() gets one attempt: answer_begin(),
 * the head through answer_header() (a status line, a content type), the
 * body through answer_write(), then answer_end() (with no easy handle:
 * the status comes from the status line), and the records pool.c writes
 * for the outcome: the response record, or a retry record when the
 * failure may be retried, and the error record.  A response's cache
 * capture is replayed (out_replay) in both output formats.
 *
 * An input that starts with "HTTP/" is a whole answer: header lines up
 * to an empty line, then the body; it is fed whole and a byte at a
 * time (piece()), and once more with --events.  Any other input is a
 * body, taken the ways a server sends one like it: with a data field,
 * a 200 event stream (whole, a byte at a time, and in
 * pieces with --events); else a 200 JSON answer (now and then over a
 * small --max-response-size), a 200 plain-text answer, and a 400 error
 * or a 429 with Retry-After.  The input's size picks the output format
 * and which of the rarer ways it takes, so the fuzzer varies them.  A
 * binary content type (which save.c would write to a file and fsync)
 * is taken for 1 whole answer in 64, else replaced by a JSON one.
 * The input's words pick the dialect it is read with, as its path
 * would: "response." or "object":"response" the Responses API,
 * "message_start", "content_block" or "type":"message" Anthropic
 * Messages, "candidates" Gemini, else chat.
 *
 * Invariants (the shared checks are t/fuzz.h's): the callbacks take
 * every byte or stop the transfer with the reason; every record is one
 * line of a JSON object, and so is every record replayed; a capture
 * vmanjl made replays; each part of a result is JSON and its usage
 * parses again; a failure has a JSON message, type, code and body; no
 * delta of an unfinished event is left waiting; an answer gives the same
 * records whether it arrives whole or in pieces.  No crash, no leak.
 */
#define _GNU_SOURCE		/* memmem */
#include <fcntl.h>
#include <strings.h>

#define FUZZ_NAME "fuzz-answer"
#include "fuzz.h"

#define TIGHT 100		/* a small --max-response-size */
#define BYTEWISE 256		/* see piece() */

enum { PLAIN, SMALL, EVENTS, NCONF };

/* The dialect of this input (dialect_of()). */
static const struct dialect *dialect;

static struct conf conf[NCONF];
static struct pool pool[NCONF][2];	/* by conf and output format */
static char out_dir[512];

static void
cleanup(void)
{
	fuzz_rmdir(out_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int c, f, devnull;

	(void)argc;
	(void)argv;
	/* Records are checked in memory; whatever reaches a flush goes
	 * here.  Binary answers go to a directory of their own. */
	if ((devnull = open("/dev/null", O_WRONLY)) < 0)
		abort();
	fuzz_tmpdir(out_dir, sizeof out_dir);
	atexit(cleanup);
	for (c = 0; c < NCONF; c++) {
		conf[c].jobs = 1;
		conf[c].events = c == EVENTS;
		conf[c].max_response = c == SMALL ? TIGHT : (size_t)1 << 24;
		conf[c].out_dir = out_dir;
		for (f = FMT_VMANJL; f <= FMT_BATCH; f++) {
			struct pool *p = &pool[c][f];

			p->conf = &conf[c];
			out_init(&p->out, f, 0);
			p->out.fd = devnull;
			p->out.timing = 1;
			p->now = 1000;
		}
	}
	return 0;
}

/* The usage of a result parses again, with JSON picks (pool.c's
 * count_usage() takes its token counts so). */
static void
check_usage(const struct buf *usage)
{
	struct jpick pk[2] = {
		{ .path = "prompt_tokens" }, { .path = "completion_tokens" }
	};
	struct buf msg = { 0 };

	if (!usage->len)
		return;
	if (json_compact(usage->p, usage->len, NULL, pk, 2, &msg) < 0)
		fuzz_fail("the usage does not parse again", usage->p,
		    usage->len);
	fuzz_check_json(&pk[0].val, "prompt_tokens is not JSON");
	fuzz_check_json(&pk[1].val, "completion_tokens is not JSON");
	(void)json_int(&pk[0].val);
	(void)json_int(&pk[1].val);
	json_picks_free(pk, 2);
	buf_free(&msg);
}

static void
check_result(const struct result *res)
{
	if (!fuzz_is_json(res->body.p, res->body.len, 0))
		fuzz_fail("the result body is not JSON", res->body.p,
		    res->body.len);
	fuzz_check_json(&res->content, "the result content is not JSON");
	fuzz_check_json(&res->finish, "the finish_reason is not JSON");
	fuzz_check_json(&res->usage, "the result usage is not JSON");
	fuzz_check_json(&res->file, "the result file is not JSON");
	fuzz_check_json(&res->ctype, "the result content type is not JSON");
	check_usage(&res->usage);
}

static void
check_failure(const struct failure *f)
{
	if (!f->kind || !fuzz_is_json(f->message.p, f->message.len, '"'))
		fuzz_fail("a failure without a message", f->message.p,
		    f->message.len);
	fuzz_check_json(&f->type, "the failure type is not JSON");
	fuzz_check_json(&f->code, "the failure code is not JSON");
	fuzz_check_json(&f->body, "the failure body is not JSON");
}

/* Replay a capture in both formats, as a cache hit would: it must be
 * fit to replay, and its records JSON. */
static void
replay(const struct buf *cap)
{
	struct outreq o;
	int f;

	for (f = FMT_VMANJL; f <= FMT_BATCH; f++) {
		struct out *out = &pool[PLAIN][f].out;

		memset(&o, 0, sizeof o);
		o.line = 8;
		o.nevents = -1;
		buf_puts(&o.cid, "12");
		if (out_replay(out, &o, cap) < 0)
			fuzz_fail("a capture vmanjl made does not replay",
			    cap->p, cap->len);
		fuzz_check_records(&out->buf, NULL);
		buf_free(&o.cid);
		buf_free(&o.request_id);
	}
}

/* How long the piece of the body at off is, of left bytes: pieces of
 * step bytes (0: the whole body).  Step BYTEWISE is a byte at a time for
 * the first BYTEWISE bytes, then pieces of 1 to 11 bytes: every split
 * of a short answer, and a long one at a cost that does not dwarf the
 * rest. */
static size_t
piece(size_t step, size_t off, size_t left)
{
	if (step == BYTEWISE && off >= BYTEWISE)
		step = 1 + off % 11;
	else if (step == BYTEWISE)
		step = 1;
	return step && step < left ? step : left;
}

/*
 * One attempt of a request on pool p: head lines head[0..nhead) (each
 * with its line end), then the body fed in pieces (piece()).  The
 * records it makes are appended to all.
 */
static void
attempt(struct pool *p, const char *const *head, size_t nhead,
    const char *body, size_t size, size_t step, struct buf *all)
{
	struct req *r = req_new(p, 7);
	struct result *res = &p->res;
	size_t i, off, n, took;

	r->dialect = dialect;
	buf_puts(&r->o.cid, "\"cid\"");
	r->o.attempts = r->o.tries = 1;
	r->o.t_start = 1;
	r->o.capture = &r->capbuf;
	answer_begin(r);
	for (i = 0; i < nhead; i++) {
		n = strlen(head[i]);
		if (answer_header((char *)head[i], 1, n, r) != n)
			fuzz_fail("answer_header did not take a line",
			    head[i], n);
	}
	for (off = 0; off < size; off += n) {
		n = piece(step, off, size - off);
		took = answer_write((char *)body + off, 1, n, r);
		fuzz_check_records(&p->out.buf, all);
		if (took == n)
			continue;
		if (took != 0 || !r->stopped)
			fuzz_fail("answer_write took part of a piece, or "
			    "stopped without a reason", body, size);
		break;
	}
	if (answer_end(r, CURLE_OK, res) == ANSWER_OK) {
		check_result(res);
		out_response(&p->out, &r->o, r->status, res, 1000);
		fuzz_check_records(&p->out.buf, all);
		if (r->capbuf.len && !res->file.len)
			replay(&r->capbuf);
	} else {
		check_failure(&r->fail);
		if (r->fail.retryable) {
			out_retry(&p->out, &r->o, &r->fail, 1500);
			if (r->capbuf.len)
				fuzz_fail("a retry left records to cache",
				    r->capbuf.p, r->capbuf.len);
		}
		out_error(&p->out, &r->o, &r->fail, 1000);
	}
	if (r->o.in_event || r->o.evq.len || r->o.held.len)
		fuzz_fail("records are left waiting", r->o.evq.p,
		    r->o.evq.len);
	fuzz_check_records(&p->out.buf, all);
	req_free(r);
}

/* An answer with a head of its own ("HTTP/1.1 200 OK\r\n..."): the head
 * lines go to answer_header() as they are. */
static void
whole_answer(const char *data, size_t size)
{
	struct buf a = { 0 }, b = { 0 }, lines = { 0 }, probe = { 0 };
	const char **head = NULL;
	const char *p = data, *end = data + size, *nl, *q;
	size_t nhead = 0, i;
	int binary = 0;

	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			nl = end - 1;
		if (nl == p || (nl == p + 1 && *p == '\r')) {
			p = nl + 1;
			break;		/* the end of the head */
		}
		buf_put(&lines, p, (size_t)(nl + 1 - p));
		buf_putc(&lines, '\0');
		nhead++;
		/* A binary content type writes a file: rarely. */
		if (nl - p > 13 && strncasecmp(p, "content-type:", 13) == 0) {
			for (q = p + 13; q < nl && (*q == ' ' || *q == '\t');
			    q++)
				;
			buf_reset(&probe);
			buf_put(&probe, q, (size_t)(nl - q));
			binary |= save_is_binary(&probe);
		}
	}
	if (binary && size % 64 != 0) {
		buf_puts(&lines, "Content-Type: application/json\r\n");
		buf_putc(&lines, '\0');
		nhead++;
		binary = 0;
	}
	head = calloc(nhead ? nhead : 1, sizeof *head);
	if (!head)
		abort();
	for (q = lines.p, i = 0; i < nhead; i++, q += strlen(q) + 1)
		head[i] = q;
	size = (size_t)(end - p);
	attempt(&pool[PLAIN][FMT_VMANJL], head, nhead, p, size, 0, &a);
	if (!binary) {
		attempt(&pool[PLAIN][FMT_VMANJL], head, nhead, p, size,
		    BYTEWISE, &b);
		fuzz_same(&a, &b, "the records differ fed bytewise");
		attempt(&pool[EVENTS][FMT_BATCH], head, nhead, p, size, 0,
		    NULL);
	}
	free(head);
	buf_free(&lines);
	buf_free(&probe);
	buf_free(&a);
	buf_free(&b);
}

static const char *const sse_head[] = {
	"HTTP/1.1 200 OK\r\n", "Content-Type: text/event-stream\r\n",
	"x-request-id: req-1\r\n"
};
static const char *const json_head[] = {
	"HTTP/2 200\r\n", "content-type: application/json\r\n",
	"request-id: \"r\\2\"\r\n"
};
static const char *const text_head[] = {
	"HTTP/1.1 200 OK\r\n", "Content-Type: text/vtt; charset=utf-8\r\n"
};
static const char *const bad_head[] = {
	"HTTP/1.1 100 Continue\r\n", "\r\n", "HTTP/1.1 400 Bad Request\r\n",
	"Content-Type: application/json\r\n", "X-Request-Id: req-2\r\n"
};
static const char *const busy_head[] = {
	"HTTP/1.1 429 Too Many Requests\r\n", "Retry-After: 2\r\n",
	"x-ratelimit-reset-requests: 1m2.5s\r\n",
	"x-ratelimit-reset-tokens: 20ms\r\n"
};

#define N(a) (sizeof (a) / sizeof (a)[0])

/* A body alone, the ways a server sends one like it: a stream when it
 * has a data field, else a JSON or text answer, or an error; the size
 * picks the output format and the error's status. */
static void
body_only(const char *data, size_t size)
{
	struct buf a = { 0 }, b = { 0 };
	int fmt = size & 1 ? FMT_BATCH : FMT_VMANJL;

	if ((size >= 5 && memcmp(data, "data:", 5) == 0) ||
	    memmem(data, size, "\ndata:", 6)) {
		attempt(&pool[PLAIN][FMT_VMANJL], sse_head, N(sse_head), data,
		    size, 0, &a);
		attempt(&pool[PLAIN][FMT_VMANJL], sse_head, N(sse_head), data,
		    size, BYTEWISE, &b);
		fuzz_same(&a, &b, "the stream's records differ fed bytewise");
		attempt(&pool[EVENTS][fmt], sse_head, N(sse_head), data, size,
		    size % 5 + 1, NULL);
	} else {
		attempt(&pool[size > TIGHT && size % 8 == 2 ? SMALL : PLAIN]
		    [fmt], json_head, N(json_head), data, size, 0, NULL);
		if (size % 4 == 1)
			attempt(&pool[PLAIN][FMT_VMANJL], text_head,
			    N(text_head), data, size, 0, NULL);
		if (size & 2)
			attempt(&pool[PLAIN][fmt], busy_head, N(busy_head),
			    data, size, 0, NULL);
		else
			attempt(&pool[PLAIN][fmt], bad_head, N(bad_head),
			    data, size, 0, NULL);
	}
	buf_free(&a);
	buf_free(&b);
}

/* The dialect an answer is read with, as request.c sets it from the
 * path: the one whose words the input has, else chat. */
static const struct dialect *
dialect_of(const char *p, size_t n)
{
	const char *path = "/v1/chat/completions";

	if (memmem(p, n, "response.", 9) ||
	    memmem(p, n, "\"object\":\"response\"", 19))
		path = "/v1/responses";
	else if (memmem(p, n, "message_start", 13) ||
	    memmem(p, n, "content_block", 13) ||
	    memmem(p, n, "\"type\":\"message\"", 16))
		path = "/v1/messages";
	else if (memmem(p, n, "candidates", 10))
		path = "/v1beta/models/m:streamGenerateContent";
	return ep_lookup("POST", path)->dialect;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dialect = dialect_of((const char *)data, size);
	if (size >= 5 && memcmp(data, "HTTP/", 5) == 0)
		whole_answer((const char *)data, size);
	else
		body_only((const char *)data, size);
	return 0;
}
