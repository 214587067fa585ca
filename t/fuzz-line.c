/*
 * fuzz-line.c: libFuzzer target for input lines (input.c) and the
 * checks a request goes through before libcurl sees it.
 *
 * The input is an input file, in memory (t/fuzz.h's memfd), that
 * in_open() opens by its path.  in_next() splits it into lines (twice:
 * with a generous and with a tiny line limit); each line goes through
 * in_parse() and, when it parses, request.c's req_from_spec() (the
 * endpoint, the task descriptor, the headers), req_setopt() on one easy
 * handle, the poll request of its task (task_poll()), the cache's name
 * for it (cache_material()) and its --dry-run record (req_describe(),
 * out_request()).  A line that is refused gets its error record, as
 * pool.c writes it, in the output format its line number picks.
 *
 * Invariants (the shared checks are t/fuzz.h's): in_next() hands out
 * exactly the bytes between line ends (less a CR before the LF and a
 * BOM at the start), skipping only blank lines, numbered by their place
 * in the file, and as many whatever the limit; in_parse() returns 0 or
 * -1, and -1 comes with a
 * message; on 0 the body and the task object lie inside the line and
 * parse as JSON objects, the url passes in_url_problem(), the headers
 * are "Name: value" with a token name and no CR, LF or NUL; task_desc()
 * gives a complete descriptor or a message; every record written (error
 * records in either output format, dry-run records) parses back as JSON;
 * the API key is in no record and not in the cache's name.  No crash,
 * no leak.
 *
 * Each input runs on a thread with a small stack (STACK), so recursion
 * that grows with the line's nesting overflows within the input sizes
 * libFuzzer tries, as it would on a long line with the usual 8 MiB.
 */
#define _GNU_SOURCE		/* memmem */
#include <fcntl.h>
#include <strings.h>

#define FUZZ_NAME "fuzz-line"
#include "fuzz.h"

#define STACK		(128 << 10)
#define BIG_MAX		(1 << 20)
#define SMALL_MAX	16
#define KEY		"sk-fuzz-secret"

struct fuzz_in {
	const uint8_t *data;
	size_t size;
};

static char path[64];	/* the input file, as in_open() opens it */
static int fd = -1;
static struct conf conf;
static struct pool pool[2];	/* by output format */
static CURL *easy;
static const char *cur;		/* the line being read */
static size_t cur_len;

/* A run's settings and pools, as pool_init() makes them, without the
 * multi handle; and the file in memory. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int f, devnull;

	(void)argc;
	(void)argv;
	if ((devnull = open("/dev/null", O_WRONLY)) < 0 ||
	    !(easy = curl_easy_init()))
		abort();
	fd = fuzz_file(path, sizeof path);
	conf.base = "http://127.0.0.1:9/v1";
	conf.key = KEY;
	conf.endpoint = "/v1/chat/completions";	/* vmanjl's default -e */
	conf.jobs = 1;
	conf.max_response = 1 << 20;
	for (f = FMT_VMANJL; f <= FMT_BATCH; f++) {
		struct pool *p = &pool[f];

		p->conf = &conf;
		out_init(&p->out, f, 0);
		p->out.fd = devnull;	/* records are checked before */
		p->common = req_common_headers(&conf, 1);
		p->common_form = req_common_headers(&conf, 0);
	}
	return 0;
}

static void
fail(const char *what, const char *p, size_t n)
{
	fuzz_fail(what, p, n);
}

/* Does the line being read have the key itself? */
static int
line_has_key(void)
{
	return memmem(cur, cur_len, KEY, strlen(KEY)) != NULL;
}

/* The records in o's buffer are JSON and tell no secret (that the line
 * does not have itself). */
static void
check_records(struct out *o)
{
	if (o->buf.len && memmem(o->buf.p, o->buf.len, KEY, strlen(KEY)) &&
	    !line_has_key())
		fail("a record tells the API key", o->buf.p, o->buf.len);
	fuzz_check_records(&o->buf, NULL);
}

/* pool.c's input_error(): the error record of a refused line, in the
 * output format its line number picks. */
static void
refused(unsigned long line, const struct buf *cid, const char *msg)
{
	struct req *r;
	int f = line & 1 ? FMT_VMANJL : FMT_BATCH;

	r = req_new(&pool[f], line);
	if (cid->len)
		buf_put(&r->o.cid, cid->p, cid->len);
	fail_set(&r->fail, 0, "invalid_request", 0, "line %lu: %s",
	    line, msg);
	out_admit(&pool[f].out, &r->o);
	out_error(&pool[f].out, &r->o, &r->fail, 1000);
	if (out_finish(&pool[f].out, &r->o) != &r->o)
		fail("out_finish did not give the request back",
		    NULL, 0);
	check_records(&pool[f].out);
	req_free(r);
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
	if (i == n || p[i] != '{' || !fuzz_is_json(p, n, 0))
		fail(what, p, n);
}

/* A descriptor the request can follow: every path it needs is set. */
static void
check_desc(const struct taskdesc *d)
{
	if (!d->name || !d->id || !d->poll || !d->status || !d->done)
		fail("task_desc gave an incomplete descriptor", NULL, 0);
}

/* A line that parsed: its request, as pool.c admits it. */
static void
request(unsigned long line, const struct spec *s)
{
	struct pool *p = &pool[FMT_VMANJL];
	const struct curl_slist *h;
	struct buf msg = { 0 }, purl = { 0 }, pbody = { 0 }, what = { 0 };
	struct taskstate ts;
	struct req *r;
	const char *why, *hv, *colon;
	size_t i, k;

	if (s->url.len && strlen(s->url.p) != s->url.len)
		fail("the url has a NUL byte", s->url.p, s->url.len);
	if ((why = in_url_problem(s->url.len ? s->url.p : conf.endpoint)))
		fail(why, s->url.p, s->url.len);

	/* Headers: "Name: value", NUL-ended. */
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
	}
	if (s->nheaders && hv != s->headers.p + s->headers.len)
		fail("more header bytes than nheaders", NULL, 0);

	if (!(r = req_from_spec(p, line, s, &msg))) {
		if (!msg.len)
			fail("req_from_spec failed without a message",
			    s->line, strlen(s->line));
		refused(line, &s->cid, msg.p);
		buf_free(&msg);
		return;
	}
	if (r->own_task)
		check_desc(r->task);
	h = r->headers ? r->headers : p->common;

	/* The --dry-run record. */
	out_admit(&p->out, &r->o);
	req_describe(r, h, &what, &p->msg);
	out_request(&p->out, &r->o, &what,
	    json_text_chars(r->body, r->body_len) / 4);
	check_records(&p->out);
	if (out_finish(&p->out, &r->o) != &r->o)
		fail("out_finish did not give the request back", NULL, 0);

	/* The cache's name for it tells no secret. */
	cache_material(&msg, r->method, r->url, h, r->body, r->body_len);
	if (memmem(msg.p, msg.len, KEY, strlen(KEY)) && !line_has_key())
		fail("the cache's name has the API key", msg.p, msg.len);

	/* Its transfer, set up (never performed). */
	curl_easy_reset(easy);
	req_setopt(r, easy);

	/* The first poll of its task, for an id that needs escaping. */
	if (r->task) {
		memset(&ts, 0, sizeof ts);
		buf_puts(&ts.id, "a b/../\"c\"%");
		task_poll(r->task, r->path, &ts, &purl, &pbody);
		if (!r->own_task && (why = in_url_problem(purl.p)) != NULL)
			fail(why, purl.p, purl.len);
		if (!r->own_task && r->task->poll_body &&
		    !fuzz_is_json(pbody.p, pbody.len, 0))
			fail("a built-in poll body is not JSON", pbody.p,
			    pbody.len);
		task_state_free(&ts);
	}
	req_free(r);
	buf_free(&msg);
	buf_free(&what);
	buf_free(&purl);
	buf_free(&pbody);
}

/* One line that in_next() gave, as pool.c's admit() takes it. */
static void
one(struct spec *s, unsigned long lineno, const char *line, size_t len)
{
	struct buf msg = { 0 };
	int rc;

	cur = line;
	cur_len = len;
	rc = in_parse(line, len, s, &msg);
	if (rc != 0 && rc != -1)
		fail("in_parse returned neither 0 nor -1", line, len);
	if (rc < 0) {
		if (!msg.len || !msg.p[0])
			fail("in_parse failed without a message", line, len);
		refused(lineno, &s->cid, msg.p);
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
		if (s->cid.len && !fuzz_is_json(s->cid.p, s->cid.len, 0))
			fail("custom_id is not JSON", s->cid.p, s->cid.len);
		request(lineno, s);
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

/* Spaces, tabs and CRs only: a line in_next() skips. */
static int
blank(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++, n--;
	return n == 0;
}

/* Read the whole file with line limit max; parse its lines if told.
 * Returns how many lines that are not blank it gave. */
static unsigned long
read_all(const struct fuzz_in *in, size_t max, int parse)
{
	char *files[] = { path };
	struct input *x;
	struct spec s;
	const char *line, *want;
	size_t len, wlen, raw, off = 0;
	unsigned long lineno, n = 0, count = 0;
	int rc;

	memset(&s, 0, sizeof s);
	x = in_open(files, 1);
	while ((rc = in_next(x, max, &line, &len, &lineno)) != IN_END) {
		if (rc == IN_ERROR || rc == IN_WAIT)
			fail("in_next could not read a regular file", NULL, 0);
		if (lineno <= n)
			fail("line numbers do not go up", NULL, 0);
		/* What it skipped is blank. */
		for (; n + 1 < lineno; n++) {
			if (off >= in->size)
				fail("a line number past the input", NULL, 0);
			expect(in, &off, n == 0, &want, &wlen, &raw);
			if (!blank(want, wlen))
				fail("in_next skipped a line", want, wlen);
		}
		if (off >= in->size)
			fail("more lines than the input has", NULL, 0);
		expect(in, &off, n == 0, &want, &wlen, &raw);
		n++;
		count += !blank(want, wlen);
		if (rc == IN_LONG) {
			if (raw <= max || len != max + 1)
				fail("a line under the limit said too long",
				    want, wlen);
			continue;
		}
		if (len != wlen || (len && memcmp(line, want, len) != 0))
			fail("in_next's line is not the input's", want, wlen);
		if (blank(line, len))
			fail("in_next gave a blank line", line, len);
		if (parse)
			one(&s, lineno, line, len);
	}
	for (; off < in->size; n++) {
		expect(in, &off, n == 0, &want, &wlen, &raw);
		if (!blank(want, wlen))
			fail("in_next ended before the input did", want,
			    wlen);
	}
	in_close(x);
	in_spec_free(&s);
	return count;
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

	fuzz_file_set(fd, data, size, "", 0);
	fuzz_on_stack(STACK, run, &in);
	return 0;
}
