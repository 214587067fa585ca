/*
 * fuzz-line.c: libFuzzer target for input lines (input.c) and the
 * checks a request goes through before libcurl sees it.
 *
 * The input is an input file.  in_next() splits it into lines (twice:
 * with a generous and with a tiny line limit); each line that is not
 * blank goes through in_parse() and, when it parses, through what
 * vmanjl.c's req_from_spec() does: the url check, ep_lookup(), the task
 * descriptor (task_desc() over the envelope's "task" object), the poll
 * request of the task (task_poll()), and the dry-run record
 * (out_request()).  A line that is refused gets its error record.
 *
 * Invariants: in_next() hands out exactly the bytes between line ends
 * (less a CR before the LF and a BOM at the start), numbered 1, 2, ...
 * whatever the limit; in_parse() returns 0 or -1, and -1 comes with a
 * message; on 0 the body and the task object lie inside the line and
 * parse as JSON objects, the url passes in_url_problem(), the headers
 * are "Name: value" with a token name and no CR, LF or NUL; task_desc()
 * gives a complete descriptor or a message; every record written (error
 * records in both output formats, dry-run records) parses back as JSON.
 * No crash, no leak.
 *
 * Each input runs on a thread with a small stack (STACK), so recursion
 * that grows with the line's nesting overflows within the input sizes
 * libFuzzer tries, as it would on a long line with the usual 8 MiB.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "../vmanjl.h"

#define STACK		(128 << 10)
#define BIG_MAX		(1 << 20)
#define SMALL_MAX	16
#define ENDPOINT	"/v1/chat/completions"	/* vmanjl's default -e */
#define BASE		"http://127.0.0.1:9/v1"

struct fuzz_in {
	const uint8_t *data;
	size_t size;
};

static char path[512];	/* the input file, as in_open() opens it */
static int fd = -1;

/* vmanjl.c's, which out.c calls: fixed time, and nothing to free. */
long long
now_ms(void)
{
	return 1000;
}

void
req_free(struct req *r)
{
	(void)r;
}

static void
fail(const char *what, const char *p, size_t n)
{
	fprintf(stderr, "fuzz-line: invariant broken: %s\n", what);
	if (p)
		fprintf(stderr, "  the text: %.*s\n",
		    (int)(n > 4000 ? 4000 : n), p);
	abort();
}

/* Is p[0..n) one JSON text, starting with first unless first is 0? */
static int
is_json(const char *p, size_t n, int first)
{
	yajl_handle h = yajl_alloc(NULL, NULL, NULL);
	int ok;

	if (!h)
		abort();
	ok = n > 0 && (!first || p[0] == first) &&
	    yajl_parse(h, (const unsigned char *)p, n) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok;
}

/* Every record in o's buffer is one line of a JSON object. */
static void
check_records(struct out *o)
{
	const char *p = o->buf.p, *end = p ? p + o->buf.len : p, *nl;

	if (o->buf.len && end[-1] != '\n')
		fail("output does not end in a newline", p, o->buf.len);
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!is_json(p, (size_t)(nl - p), '{'))
			fail("a record is not a JSON object", p,
			    (size_t)(nl - p));
	}
	buf_reset(&o->buf);
}

/* vmanjl.c's input_error(): the error record of a refused line, in
 * both output formats. */
static void
refused(struct out *o, unsigned long line, const struct buf *cid,
    const char *msg)
{
	struct failure f;
	struct req r;

	memset(&f, 0, sizeof f);
	memset(&r, 0, sizeof r);
	f.kind = "invalid_request";
	json_str(&f.message, msg, strlen(msg));
	json_str(&f.type, f.kind, strlen(f.kind));
	f.wait_ms = -1;
	r.line = line;
	r.nevents = -1;
	if (cid)
		buf_put(&r.cid, cid->p, cid->len);
	o->format = FMT_VMANJL;
	out_error(o, &r, &f);
	o->format = FMT_BATCH;
	out_error(o, &r, &f);
	o->format = FMT_VMANJL;
	check_records(o);
	buf_free(&f.message);
	buf_free(&f.type);
	buf_free(&r.cid);
}

/* The object p[0..n) lies inside line[0..len) and is JSON. */
static void
check_inside(const char *what, const char *p, size_t n, const char *line,
    size_t len)
{
	size_t i;

	if (p < line || p > line + len || n > (size_t)(line + len - p))
		fail(what, line, len);
	/* A bare body is the whole line, white space and all (yajl's,
	 * which has VT and FF too). */
	for (i = 0; i < n && strchr(" \t\n\r\v\f", p[i]) && p[i]; i++)
		;
	if (i == n || p[i] != '{' || !is_json(p, n, 0))
		fail(what, p, n);
}

/* A descriptor the request can follow: every path it needs is set. */
static void
check_desc(const struct taskdesc *d)
{
	if (!d->name || !d->id || !d->poll || !d->status || !d->done)
		fail("task_desc gave an incomplete descriptor", NULL, 0);
}

/* The rest of req_from_spec() for a line that parsed. */
static void
request(struct out *o, unsigned long line, const struct spec *s)
{
	const char *url = s->url.len ? s->url.p : ENDPOINT;
	const struct endpoint *ep;
	const struct taskdesc *task = NULL;
	struct curl_slist *hl = NULL;
	struct buf msg = { 0 }, purl = { 0 }, pbody = { 0 }, m = { 0 };
	struct taskstate ts;
	struct req r;
	const char *hv, *colon, *why;
	size_t i, k;
	int own = 0;

	if (s->url.len && strlen(s->url.p) != s->url.len)
		fail("the url has a NUL byte", s->url.p, s->url.len);
	if ((why = in_url_problem(url)) != NULL)
		fail(why, url, strlen(url));
	ep = ep_lookup(s->method.len ? s->method.p : NULL, url);
	if (s->task && !s->notask) {
		if (!(task = task_desc(ep ? ep->task : NULL, s->task,
		    s->task_len, &msg))) {
			if (!msg.len)
				fail("task_desc failed without a message",
				    s->task, s->task_len);
			refused(o, line, &s->cid, msg.p);
			buf_free(&msg);
			return;
		}
		own = 1;
	} else if (ep && !s->notask)
		task = ep->task;

	/* Headers: "Name: value", NUL-ended; the list libcurl would get. */
	hl = calloc(s->nheaders ? s->nheaders : 1, sizeof *hl);
	if (!hl)
		abort();
	for (hv = s->headers.p, i = 0; i < s->nheaders;
	    i++, hv += strlen(hv) + 1) {
		if (hv < s->headers.p || hv >= s->headers.p + s->headers.len)
			fail("fewer headers than nheaders", NULL, 0);
		if (!(colon = strstr(hv, ": ")) || colon == hv ||
		    strpbrk(hv, "\r\n"))
			fail("a malformed header", hv, strlen(hv));
		for (k = 0; hv + k < colon; k++)
			if ((unsigned char)hv[k] <= ' ' || hv[k] == ':' ||
			    (unsigned char)hv[k] >= 0x7f)
				fail("a header name that is no token", hv,
				    strlen(hv));
		hl[i].data = (char *)hv;
		hl[i].next = i + 1 < s->nheaders ? &hl[i + 1] : NULL;
	}
	if (s->nheaders && hv != s->headers.p + s->headers.len)
		fail("more header bytes than nheaders", NULL, 0);

	/* The dry-run record, as vmanjl --dry-run writes it. */
	memset(&r, 0, sizeof r);
	r.line = line;
	r.nevents = -1;
	buf_put(&r.cid, s->cid.p, s->cid.len);
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		buf_puts(&m, BASE);	/* make_url(), roughly */
	buf_puts(&m, url);
	r.url = m.p;
	r.method = s->method.len ? (char *)s->method.p : NULL;
	if (s->body) {
		r.body = malloc(s->body_len + 1);
		if (!r.body)
			abort();
		memcpy(r.body, s->body, s->body_len);
		r.body[s->body_len] = '\0';
		r.body_len = s->body_len;
	}
	r.files = s->files;	/* borrowed */
	r.nfiles = s->nfiles;
	r.task = task;
	out_request(o, &r, s->nheaders ? hl : NULL,
	    pace_tokens(r.body, r.body_len));
	check_records(o);

	/* The cache's name for it and the resume key. */
	cache_material(&msg, r.method, r.url, s->nheaders ? hl : NULL,
	    r.body, r.body_len);
	resume_key(&msg, &r.cid, line);

	/* The first poll of its task, for an id that needs escaping. */
	if (task) {
		memset(&ts, 0, sizeof ts);
		buf_puts(&ts.id, "a b/../\"c\"%");
		task_poll(task, url, &ts, &purl, &pbody);
		if (!own && (why = in_url_problem(purl.p)) != NULL)
			fail(why, purl.p, purl.len);
		if (!own && task->poll_body && !is_json(pbody.p, pbody.len, 0))
			fail("a built-in poll body is not JSON", pbody.p,
			    pbody.len);
		task_state_free(&ts);
	}
	if (own) {
		check_desc(task);
		task_free(task);
	}
	free(r.body);
	free(hl);
	buf_free(&r.cid);
	buf_free(&m);
	buf_free(&msg);
	buf_free(&purl);
	buf_free(&pbody);
}

/* One line, as vmanjl.c's run() takes it. */
static void
one(struct out *o, struct spec *s, unsigned long lineno, const char *line,
    size_t len)
{
	struct buf msg = { 0 };
	size_t i;
	int rc;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' ||
	    line[i] == '\r'); i++)
		;
	if (i == len)
		return;		/* blank */
	rc = in_parse(line, len, s, &msg);
	if (rc != 0 && rc != -1)
		fail("in_parse returned neither 0 nor -1", line, len);
	if (rc < 0) {
		if (!msg.len || !msg.p[0])
			fail("in_parse failed without a message", line, len);
		refused(o, lineno, &s->cid, msg.p);
	} else {
		if (s->line != line)
			fail("spec.line is not the line", line, len);
		if (s->body)
			check_inside("the body is not an object in the line",
			    s->body, s->body_len, line, len);
		if (s->task)
			check_inside("the task is not an object in the line",
			    s->task, s->task_len, line, len);
		if (!s->envelope && s->body != line)
			fail("a bare body is not the line", line, len);
		if (s->cid.len && !is_json(s->cid.p, s->cid.len, 0))
			fail("custom_id is not JSON", s->cid.p, s->cid.len);
		request(o, lineno, s);
	}
	buf_free(&msg);
}

/* The line in_next() must give at *off of the input, and where the next
 * one starts; *raw is its length before a CR or BOM is taken off. */
static void
expect(const struct fuzz_in *in, size_t *off, int first, const char **p,
    size_t *n, size_t *raw)
{
	const char *s = (const char *)in->data + *off;
	size_t left = in->size - *off;
	const char *nl = memchr(s, '\n', left);

	*raw = *n = nl ? (size_t)(nl - s) : left;
	*off += *n + (nl != NULL);
	*p = s;
	if (*n && s[*n - 1] == '\r')
		(*n)--;
	if (first && *n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		*p += 3, *n -= 3;
}

/* Read the whole file with line limit max; parse its lines if told. */
static unsigned long
read_all(const struct fuzz_in *in, size_t max, int parse)
{
	char *files[] = { path };
	struct input *x;
	struct out o;
	struct spec s;
	const char *line, *want;
	size_t len, wlen, raw, off = 0;
	unsigned long lineno, n = 0;
	int rc;

	memset(&s, 0, sizeof s);
	out_init(&o, FMT_VMANJL, 0);
	o.fd = -1;		/* records are checked, never written */
	x = in_open(files, 1);
	while ((rc = in_next(x, max, &line, &len, &lineno)) != 0) {
		if (rc < 0 || rc == 3)
			fail("in_next could not read a regular file", NULL, 0);
		if (lineno != ++n)
			fail("line numbers do not count 1, 2, ...", NULL, 0);
		if (off >= in->size)
			fail("more lines than the input has", NULL, 0);
		expect(in, &off, n == 1, &want, &wlen, &raw);
		if (rc == 2) {
			if (raw <= max || len != max + 1)
				fail("a line under the limit said too long",
				    want, wlen);
			continue;
		}
		if (len != wlen || (len && memcmp(line, want, len) != 0))
			fail("in_next's line is not the input's", want, wlen);
		if (parse)
			one(&o, &s, lineno, line, len);
	}
	if (off != in->size)
		fail("in_next ended before the input did", NULL, 0);
	in_close(x);
	in_spec_free(&s);
	out_free(&o);
	return n;
}

static void *
run(void *arg)
{
	const struct fuzz_in *in = arg;

	if (read_all(in, BIG_MAX, 1) != read_all(in, SMALL_MAX, 0))
		fail("the line limit changes the line count", NULL, 0);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	pthread_attr_t a;
	pthread_t t;

	if (fd < 0) {
		/* A file of no name, that in_open() opens again by path. */
		const char *tmp = getenv("TMPDIR");

		snprintf(path, sizeof path, "%s/vmanjl-fuzz-line.XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		if ((fd = mkstemp(path)) < 0 || unlink(path) < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	if (pthread_attr_init(&a) != 0 ||
	    pthread_attr_setstacksize(&a, STACK) != 0 ||
	    pthread_create(&t, &a, run, &in) != 0 ||
	    pthread_join(t, NULL) != 0)
		abort();
	pthread_attr_destroy(&a);
	return 0;
}
