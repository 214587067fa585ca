/*
 * vmanjl: send JSON Lines requests to the VMAN API, many at once, and
 * write one JSON record per line for what comes back.
 *
 * main() reads the options; the pool loop admits input lines as
 * requests while there is room, runs them on one libcurl multi handle,
 * retries what may be retried, and hands every outcome to out.c.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "vmanjl.h"

#define MAX_LINE ((size_t)256 << 20)	/* longest input line we take */

struct conf {
	const char *base;	/* base URL, no trailing slash */
	char *key;
	const char *endpoint;
	struct curl_slist *user_headers;
	const char *cacert;
	int insecure;
	int jobs;
	int keep;
	size_t window;
	int format;
	int events;
	int retries;
	long backoff_ms;
	long connect_ms, timeout_ms, idle_ms;
	size_t max_response;
	int quiet, verbose, progress;
	int no_wait;
	long poll_ms, task_timeout_ms;
	const char *out_dir;
	struct cache cache;	/* dir NULL: no cache */
	const char *resume;	/* --resume FILE */
	int dry_run, timing;
	long rpm, tpm;		/* 0: no limit */
};

struct pool {
	const struct conf *conf;
	CURLM *multi;
	struct out out;
	struct curl_slist *common;	/* headers every request sends */
	struct curl_slist *common_form;	/* the same without Content-Type */
	struct req *waitq;		/* retries, soonest first */
	struct req *live;		/* every admitted, unfinished request */
	size_t active;			/* requests in live */
	CURL **spare;			/* easy handles for reuse */
	size_t nspare;
	struct result res;
	struct buf msg;
	unsigned long long rng;
	unsigned long nreq, nok, nerr, nretry, nhit, nmiss, nskip;
	struct pace pace;		/* --rpm, --tpm, the 429 cool-down */
	unsigned long total;		/* input lines, when known */
	long long est_tokens;		/* --dry-run */
	struct keyset *done;		/* --resume: requests done before */
	struct keyset *seen;		/* --resume: custom_ids of the input */
	struct buf key;
	long long ptok, ctok;
	long long now;			/* ms, as of this turn of the loop */
	long long start_ms, last_progress, last_idle_check;
	int shown_progress;
};

static volatile sig_atomic_t interrupted;
static CURLM *wake;		/* for the SIGINT handler */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vmanjl [-hkqVv] [-e path] [-H 'name: value'] [-j jobs]\n"
"              [--backoff ms] [--base-url url] [--cacert file]\n"
"              [--cache dir] [--cache-mode mode] [--connect-timeout s]\n"
"              [--dry-run] [--endpoints] [--events]\n"
"              [--format vmanjl|batch] [--idle-timeout s] [--insecure]\n"
"              [--key-file file] [--max-response-size bytes]\n"
"              [--no-progress] [--no-wait] [--out-dir dir]\n"
"              [--poll-interval s] [--progress] [--resume file]\n"
"              [--retries n] [--rpm n] [--task-timeout s] [--timeout s]\n"
"              [--timing] [--tpm n] [--window n] [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf(
"\nRead one API request per line (an envelope {\"custom_id\",\"method\",\"url\",\n"
"\"body\",\"headers\"} or a bare request body), send them to $VMAN_BASE_URL,\n"
"and write one JSON record per line: delta, event, progress, retry,\n"
"response, error (request with --dry-run).\n"
"\n"
"  -e, --endpoint path      endpoint for bare bodies (/v1/chat/completions)\n"
"  -H, --header 'n: v'      add a header to every request\n"
"  -h, --help               show this help\n"
"  -j, --jobs n             requests in flight at once (8)\n"
"  -k, --keep-order         write records in input order\n"
"  -q, --quiet              no summary or progress on stderr\n"
"  -V, --version            show the version\n"
"  -v, --verbose            trace HTTP headers on stderr (key redacted)\n"
"      --backoff ms         first retry wait, doubled each retry (500)\n"
"      --base-url url       the API's base URL ($VMAN_BASE_URL)\n"
"      --cacert file        trust the CA certificates in file\n"
"      --cache dir          answer repeated requests from dir ($VMANJL_CACHE)\n"
"      --cache-mode mode    read-write (default), read-only, refresh, or\n"
"                           offline (a miss is an error, nothing is sent)\n"
"      --connect-timeout s  limit on connecting (10)\n"
"      --dry-run            check every line and write the request it\n"
"                           would send, with a token estimate; send nothing\n"
"      --endpoints          list the built-in endpoint table and exit\n"
"      --events             write raw SSE events instead of deltas\n"
"      --format fmt         vmanjl (default) or batch (OpenAI Batch output)\n"
"      --idle-timeout s     give up when no byte arrives for s seconds (120)\n"
"      --insecure           do not verify the server's certificate\n"
"      --key-file file      read the API key from file ($VMAN_API_KEY)\n"
"      --max-response-size bytes  largest answer (or stream event)\n"
"                           taken, k/M/G suffixes (64M)\n"
"      --no-progress        no live progress line\n"
"      --no-wait            tasks: write the submit answer, do not poll\n"
"      --out-dir dir        where binary answers are saved (.)\n"
"      --poll-interval s    tasks: wait between polls (5)\n"
"      --progress           a live progress line even when not a terminal\n"
"      --resume file        skip the lines that have a response in file\n"
"      --retries n          retries after the first attempt (3)\n"
"      --rpm n              at most n request starts in any minute\n"
"      --task-timeout s     tasks: give up after s seconds (600)\n"
"      --timeout s          limit on one whole attempt (600; 0: none)\n"
"      --timing             add latency_ms and ttft_ms to terminal records\n"
"      --tpm n              at most n estimated tokens in any minute\n"
"      --window n           -k: most requests admitted but not yet\n"
"                           written (4 x jobs, at least 16)\n"
"\nSee vmanjl(1).\n");
}

/* ---------------------------------------------------------------- */
/* Time, randomness, numbers */

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long long
rnd(struct pool *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return p->rng;
}

/* A duration in seconds (decimals allowed) as milliseconds; -1 if bad. */
static long
parse_secs(const char *s)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || d < 0 || d > 1e9)
		return -1;
	return (long)(d * 1000 + 0.5);
}

static long long
parse_num(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		errx(2, "invalid %s '%s' (want %lld to %lld)", what, s, min,
		    max);
	return v;
}

static size_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!errno && end != s) {
		switch (*end) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		}
		if (!*end && v > 0 && v <= (SIZE_MAX >> 1) >> shift)
			return (size_t)(v << shift);
	}
	errx(2, "invalid size '%s' (a number of bytes, k/M/G suffixes)", s);
}

/* ---------------------------------------------------------------- */
/* Failures */

/* ---------------------------------------------------------------- */
/* Requests */

static struct req *
req_new(struct pool *p, unsigned long line)
{
	struct req *r = xcalloc(1, sizeof *r);

	r->pool = p;
	r->line = line;
	r->binfd = -1;
	r->nevents = -1;
	r->reset_ms = -1;
	r->retry_after_ms = -1;
	return r;
}

/* Drop a binary answer's temporary file. */
static void
binary_discard(struct req *r)
{
	if (r->binfd < 0)
		return;
	close(r->binfd);
	unlink(r->tmpname.p);
	r->binfd = -1;
}

/* Give back what a request needs only while it runs: with -k a finished
 * request may wait a while for its turn, holding just its records. */
static void
req_release(struct req *r)
{
	struct pool *p = r->pool;

	if (r->easy) {
		if (p->nspare < (size_t)p->conf->jobs)
			p->spare[p->nspare++] = r->easy;
		else
			curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	if (r->headers)
		curl_slist_free_all(r->headers);
	r->headers = NULL;
	free(r->url);
	free(r->method);
	free(r->body);
	r->url = r->method = r->body = NULL;
	buf_free(&r->resp);
	buf_free(&r->ctype);
	buf_free(&r->evq);
	binary_discard(r);
	buf_free(&r->tmpname);
	buf_free(&r->outname);
	buf_free(&r->files);
	if (r->mime)
		curl_mime_free(r->mime);
	r->mime = NULL;
	free(r->output);
	free(r->path);
	r->output = r->path = NULL;
	if (r->own_task)
		task_free(r->task);
	r->task = NULL;
	task_state_free(&r->ts);
	if (r->sse)
		sse_free(r->sse);
	r->sse = NULL;
	chat_free(r->chat);
	r->chat = NULL;
	fail_free(&r->fail);
	buf_free(&r->material);
	buf_free(&r->capbuf);
	r->capture = NULL;
}

void
req_free(struct req *r)
{
	if (!r)
		return;
	req_release(r);
	buf_free(&r->cid);
	buf_free(&r->request_id);
	buf_free(&r->held);
	free(r);
}

/* The full URL for a path or URL u. */
static char *
make_url(const char *base, const char *u)
{
	struct buf b = { 0 };
	size_t n = strlen(base);

	if (strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0)
		return xstrdup(u);
	/* A base URL ending in /v1 and a path starting with /v1/: once. */
	if (n >= 3 && strcmp(base + n - 3, "/v1") == 0 &&
	    (strncmp(u, "/v1/", 4) == 0 || strcmp(u, "/v1") == 0))
		n -= 3;
	buf_put(&b, base, n);
	buf_puts(&b, u);
	return b.p;
}

static int
same_header(const char *a, const char *b)
{
	size_t n = strcspn(a, ":");

	return strncasecmp(a, b, n) == 0 && b[n] == ':';
}

/* The header list of a request that cannot use the common one: the
 * envelope's headers, then the service's, then the common ones that
 * neither replaces. */
static struct curl_slist *
req_headers(struct pool *p, const struct spec *s, const char *svc,
    int form)
{
	struct curl_slist *l = NULL, *h;
	const char *hv;
	size_t i;

	for (hv = s->headers.p, i = 0; i < s->nheaders;
	    i++, hv += strlen(hv) + 1)
		if (!(l = curl_slist_append(l, hv)))
			err(2, "out of memory");
	if (svc) {
		for (h = l; h && !same_header(svc, h->data); h = h->next)
			;
		if (!h)
			for (h = p->common; h && !same_header(svc, h->data);
			    h = h->next)
				;
		if (!h && !(l = curl_slist_append(l, svc)))
			err(2, "out of memory");
	}
	for (h = form ? p->common_form : p->common; h; h = h->next) {
		for (hv = s->headers.p, i = 0; i < s->nheaders;
		    i++, hv += strlen(hv) + 1)
			if (same_header(hv, h->data))
				break;
		if (i == s->nheaders && !(l = curl_slist_append(l, h->data)))
			err(2, "out of memory");
	}
	return l;
}

/* Every file of an upload must be readable before anything is sent. */
static int
check_files(const struct spec *s, struct buf *msg)
{
	const char *name = s->files.p, *path;
	struct stat st;
	char m[PATH_MAX + 256];
	size_t i;
	int fd;

	memset(&st, 0, sizeof st);
	errno = 0;
	for (i = 0; i < s->nfiles; i++, name = path + strlen(path) + 1) {
		path = name + strlen(name) + 1;
		/* stat first: opening a FIFO would block. */
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (fd = open(path, O_RDONLY | O_NONBLOCK)) < 0) {
			snprintf(m, sizeof m, "cannot read file '%s' for form "
			    "field '%s': %s", path, name, errno == 0 ||
			    (st.st_mode && !S_ISREG(st.st_mode)) ?
			    "not a regular file" : strerror(errno));
			buf_reset(msg);
			buf_puts(msg, m);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Build the request for an input line that parsed; NULL with the
 * reason in msg when it cannot be sent. */
static struct req *
req_from_spec(struct pool *p, unsigned long line, const struct spec *s,
    struct buf *msg)
{
	const struct conf *c = p->conf;
	const struct endpoint *ep;
	const struct taskdesc *task = NULL;
	const char *url = s->url.len ? s->url.p : c->endpoint;
	struct req *r;

	ep = ep_lookup(s->method.len ? s->method.p : NULL, url);
	if (s->task && !s->notask) {
		if (!(task = task_desc(ep ? ep->task : NULL, s->task,
		    s->task_len, msg)))
			return NULL;
	} else if (ep && !s->notask)
		task = ep->task;
	if (s->nfiles && check_files(s, msg) < 0) {
		if (s->task && !s->notask)
			task_free(task);
		return NULL;
	}
	r = req_new(p, line);
	r->task = task;
	r->own_task = s->task && !s->notask;
	buf_put(&r->cid, s->cid.p, s->cid.len);
	r->url = make_url(c->base, url);
	r->path = xstrdup(url);
	if (s->method.len)
		r->method = xstrdup(s->method.p);
	if (s->body) {
		r->body = xmalloc(s->body_len + 1);
		memcpy(r->body, s->body, s->body_len);
		r->body[s->body_len] = '\0';
		r->body_len = s->body_len;
	}
	if (s->nfiles) {
		buf_put(&r->files, s->files.p, s->files.len);
		r->nfiles = s->nfiles;
	}
	if (s->output.len)
		r->output = xstrdup(s->output.p);
	/* An upload: the envelope has files, or the service takes forms. */
	r->form = s->form || (ep && ep->mode == EP_MULTIPART);
	if (s->nheaders || r->form || (ep && ep->header))
		r->headers = req_headers(p, s, ep ? ep->header : NULL,
		    r->form);
	return r;
}

static void
live_add(struct pool *p, struct req *r)
{
	r->lprev = NULL;
	r->lnext = p->live;
	if (p->live)
		p->live->lprev = r;
	p->live = r;
	p->active++;
}

static void
live_del(struct pool *p, struct req *r)
{
	if (r->lprev)
		r->lprev->lnext = r->lnext;
	else
		p->live = r->lnext;
	if (r->lnext)
		r->lnext->lprev = r->lprev;
	p->active--;
}

/* Add the usage numbers of an answer to the run's totals. */
static void
count_usage(struct pool *p, const struct buf *usage)
{
	struct jpick pk[2] = {
		{ .path = "prompt_tokens" }, { .path = "completion_tokens" }
	};
	long long v;

	if (!usage->len)
		return;
	if (json_compact(usage->p, usage->len, NULL, pk, 2, &p->msg) == 0) {
		if ((v = json_int(&pk[0].val)) > 0)
			p->ptok += v;
		if ((v = json_int(&pk[1].val)) > 0)
			p->ctok += v;
	}
	json_picks_free(pk, 2);
}

/* The request has its terminal record: release it. */
static void
req_done(struct pool *p, struct req *r)
{
	live_del(p, r);
	req_release(r);
	out_finish(&p->out, r);
}

static void
req_error(struct pool *p, struct req *r, const struct failure *f)
{
	/* Deltas of an event that never completed are dropped. */
	r->in_event = 0;
	buf_reset(&r->evq);
	p->nerr++;
	out_error(&p->out, r, f);
	req_done(p, r);
}

/* ---------------------------------------------------------------- */
/* libcurl callbacks */

static int
on_sse_data(void *ctx, const char *s, size_t n)
{
	struct req *r = ctx;

	return r->chat ? chat_data(r->chat, s, n) : 1;
}

static int
on_sse_event(void *ctx, const struct sse_event *ev)
{
	struct req *r = ctx;
	struct pool *p = r->pool;
	int rc;

	if (p->conf->events) {
		r->event_start = r->bytes;
		out_event(&p->out, r, ev);
		r->nevents++;
		return 1;
	}
	rc = chat_event(r->chat, ev->data, ev->data_len, &p->msg);
	switch (rc) {
	case CHAT_MORE:
	case CHAT_DONE:
		r->event_start = r->bytes;
		out_commit(&p->out, r);
		r->in_event = 1;
		return 1;
	case CHAT_ERROR:
		fail_from_body(&r->fail, r->status, chat_error(r->chat)->p,
		    chat_error(r->chat)->len, "stream_error", &p->msg);
		r->fail.retryable = 0;
		break;
	default:
		fail_set(&r->fail, r->status, "stream_error", 0, "%s",
		    p->msg.p);
		break;
	}
	buf_reset(&r->evq);
	r->stopped = 1;
	return 0;
}

static void
on_delta(void *ctx, const struct delta *d)
{
	struct req *r = ctx;

	out_delta(&r->pool->out, r, d);
}

static const struct sse_callbacks sse_cb = { on_sse_data, on_sse_event };

/* A file name extension for a content type. */
static const char *
extension(const char *ctype)
{
	static const char *map[][2] = {
		{ "audio/mpeg", "mp3" }, { "audio/mp3", "mp3" },
		{ "audio/wav", "wav" }, { "audio/x-wav", "wav" },
		{ "audio/wave", "wav" }, { "audio/ogg", "ogg" },
		{ "audio/opus", "opus" }, { "audio/aac", "aac" },
		{ "audio/flac", "flac" }, { "audio/pcm", "pcm" },
		{ "audio/L16", "pcm" }, { "image/png", "png" },
		{ "image/jpeg", "jpg" }, { "image/webp", "webp" },
		{ "image/gif", "gif" }, { "image/svg+xml", "svg" },
		{ "video/mp4", "mp4" }, { "video/webm", "webm" },
		{ "application/pdf", "pdf" }, { "application/zip", "zip" },
	};
	size_t i, n = strcspn(ctype, "; ");

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strlen(map[i][0]) == n &&
		    strncasecmp(ctype, map[i][0], n) == 0)
			return map[i][1];
	return "bin";
}

/* Is an answer of this type binary: not JSON, not text, not events? */
static int
is_binary(const struct buf *ctype)
{
	if (!ctype->len || strstr(ctype->p, "json"))
		return 0;
	return strncasecmp(ctype->p, "text/", 5) != 0;
}

/*
 * Append the custom_id (JSON text) as a file name: its characters other
 * than ASCII letters, digits, '-' and a '.' that is not the first each
 * become one '_' (an escape or a UTF-8 sequence is one character).
 * Returns 0 when there is no custom_id.
 */
static int
safe_name(struct buf *b, const struct buf *cid)
{
	const unsigned char *p = (const unsigned char *)cid->p;
	size_t n = cid->len, i, start = b->len;

	if (n >= 2 && p[0] == '"')
		p++, n -= 2;
	for (i = 0; i < n; i++) {
		unsigned char ch = p[i];

		if (ch == '\\') {
			i += p[i + 1] == 'u' ? 5 : 1;
			ch = '_';
		} else if (ch >= 0x80) {
			while (i + 1 < n && (p[i + 1] & 0xc0) == 0x80)
				i++;
			ch = '_';
		} else if (!((ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || (ch == '.' && b->len > start)))
			ch = '_';
		buf_putc(b, ch);
	}
	return b->len > start;
}

/* Make the directories a file's path names, as mkdir -p does. */
static int
make_parents(const char *path)
{
	char *p = xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return rc;
}

/* A binary answer starts: open a temporary file beside its final name
 * (the envelope's "output", else --out-dir/<custom_id or line>.<ext>),
 * so that only a complete answer ever has that name.  0, or -1 with
 * r->fail set. */
static int
binary_open(struct req *r)
{
	const struct conf *c = r->pool->conf;
	char name[64];

	buf_reset(&r->outname);
	if (r->output)
		buf_puts(&r->outname, r->output);
	else {
		/* --out-dir/<custom_id made safe for a file name>.<ext> */
		buf_puts(&r->outname, c->out_dir);
		buf_putc(&r->outname, '/');
		if (!safe_name(&r->outname, &r->cid)) {
			snprintf(name, sizeof name, "line-%lu", r->line);
			buf_puts(&r->outname, name);
		}
		buf_putc(&r->outname, '.');
		buf_puts(&r->outname, extension(r->ctype.p));
	}
	buf_reset(&r->tmpname);
	buf_put(&r->tmpname, r->outname.p, r->outname.len);
	snprintf(name, sizeof name, ".vmanjl-%ld-%lu.tmp", (long)getpid(),
	    r->line);
	buf_puts(&r->tmpname, name);
	if (make_parents(r->tmpname.p) < 0) {
		fail_set(&r->fail, r->status, "output_error", 0,
		    "cannot make the directories of '%s': %s", r->outname.p,
		    strerror(errno));
		return -1;
	}
	r->binfd = open(r->tmpname.p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (r->binfd < 0) {
		fail_set(&r->fail, r->status, "output_error", 0,
		    "cannot create '%s': %s", r->tmpname.p, strerror(errno));
		return -1;
	}
	return 0;
}

/* The binary answer is complete: give it its name. */
static int
binary_finish(struct req *r, struct result *res)
{
	int fd = r->binfd;

	r->binfd = -1;
	if (fsync(fd) < 0 || close(fd) < 0 ||
	    rename(r->tmpname.p, r->outname.p) < 0) {
		fail_set(&r->fail, r->status, "output_error", 0,
		    "cannot write '%s': %s", r->outname.p, strerror(errno));
		unlink(r->tmpname.p);
		return -1;
	}
	json_str(&res->file, r->outname.p, r->outname.len);
	json_str(&res->ctype, r->ctype.p, r->ctype.len);
	res->bytes = (long long)r->bytes;
	buf_puts(&res->body, "null");
	return 0;
}

/* The first body byte of an attempt: now status and type are known. */
static int
body_start(struct req *r)
{
	const struct conf *c = r->pool->conf;
	int ok;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	ok = r->status >= 200 && r->status < 300;
	r->sse_mode = ok && r->ctype.len >= 17 &&
	    strncasecmp(r->ctype.p, "text/event-stream", 17) == 0;
	if (ok && !r->sse_mode && is_binary(&r->ctype))
		return binary_open(r);
	if (!r->sse_mode)
		return 0;
	if (!r->sse && !(r->sse = sse_new(&sse_cb, r)))
		err(2, "out of memory");
	if (c->events)
		r->nevents = 0;
	else {
		if (!r->chat)
			r->chat = chat_new(on_delta, r);
		r->in_event = 1;
	}
	return 0;
}

static size_t
on_write(char *s, size_t size, size_t n, void *ctx)
{
	struct req *r = ctx;
	struct pool *p = r->pool;
	size_t len = size * n;

	r->last_rx = p->now;
	if (r->status == 0 && body_start(r) < 0) {
		r->stopped = 1;
		return 0;
	}
	r->bytes += len;
	if (r->binfd >= 0) {
		/* Binary answers go to their file, unbounded. */
		if (write_all(r->binfd, s, len) < 0) {
			fail_set(&r->fail, r->status, "output_error", 0,
			    "cannot write '%s': %s", r->tmpname.p,
			    strerror(errno));
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
		if (sse_feed(r->sse, s, len) < 0) {
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
	return (long long)(total + 0.5);
}

/* Seconds or an HTTP date, as milliseconds from now. */
static long long
retry_after(const char *v)
{
	char *end;
	long long s;
	time_t t;

	s = strtoll(v, &end, 10);
	if (end != v && (*end == '\0' || *end == ' '))
		return s < 0 ? 0 : s * 1000;
	if ((t = curl_getdate(v, NULL)) < 0)
		return -1;
	t -= time(NULL);
	return t < 0 ? 0 : (long long)t * 1000;
}

static size_t
on_header(char *s, size_t size, size_t n, void *ctx)
{
	struct req *r = ctx;
	size_t len = size * n, k;
	char val[256];
	const char *v;

	r->last_rx = r->pool->now;
	if (len >= 5 && memcmp(s, "HTTP/", 5) == 0) {
		/* A new answer (after a 100 Continue, say). */
		buf_reset(&r->ctype);
		buf_reset(&r->request_id);
		r->retry_after_ms = r->reset_ms = -1;
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
	} else if (IS("x-request-id") || IS("request-id")) {
		buf_reset(&r->request_id);
		json_str(&r->request_id, v, n);
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
		r->retry_after_ms = (long long)strtod(val, NULL);
		if (r->retry_after_ms < 0)
			r->retry_after_ms = 0;
	}
#undef IS
	return len;
}

/* -v: the HTTP conversation on stderr, credentials redacted. */
static int
on_debug(CURL *e, curl_infotype type, char *data, size_t n, void *ctx)
{
	struct req *r = ctx;
	const char *mark, *s = data, *end, *nl;
	char line[1024];
	size_t k;

	(void)e;
	switch (type) {
	case CURLINFO_TEXT: mark = "*"; break;
	case CURLINFO_HEADER_IN: mark = "<"; break;
	case CURLINFO_HEADER_OUT: mark = ">"; break;
	default: return 0;
	}
	for (end = s + n; s < end; s = nl + 1) {
		if (!(nl = memchr(s, '\n', (size_t)(end - s))))
			nl = end;
		k = (size_t)(nl - s);
		if (k && s[k - 1] == '\r')
			k--;
		if (k == 0 && type != CURLINFO_TEXT)
			continue;
		snprintf(line, sizeof line, "%.*s", (int)k, s);
		if (out_secret(line))
			fprintf(stderr, "vmanjl: line %lu: %s %.*s: [redacted]\n",
			    r->line, mark, (int)strcspn(line, ":"), line);
		else
			fprintf(stderr, "vmanjl: line %lu: %s %.*s\n", r->line,
			    mark, (int)k, s);
		if (nl == end)
			break;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Attempts */

static void
add_field(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	curl_mimepart *part;
	char *name = xmalloc(kn + 1);

	memcpy(name, k, kn);
	name[kn] = '\0';
	if (!(part = curl_mime_addpart(ctx)) ||
	    curl_mime_name(part, name) != CURLE_OK ||
	    curl_mime_data(part, v, vn) != CURLE_OK)
		err(2, "out of memory");
	free(name);
}

/* The multipart form of an upload: each body member a field (strings
 * as they are, other values as their JSON), each file streamed from
 * disk. */
static curl_mime *
form(struct req *r, CURL *e)
{
	curl_mime *m;
	curl_mimepart *part;
	const char *name, *path;
	size_t i;

	if (!(m = curl_mime_init(e)))
		err(2, "out of memory");
	if (r->body)
		json_members(r->body, r->body_len, add_field, m);
	for (name = r->files.p, i = 0; i < r->nfiles; i++) {
		path = name + strlen(name) + 1;
		if (!(part = curl_mime_addpart(m)) ||
		    curl_mime_name(part, name) != CURLE_OK ||
		    curl_mime_filedata(part, path) != CURLE_OK)
			err(2, "out of memory");
		name = path + strlen(path) + 1;
	}
	return m;
}

/* Start (or restart) the transfer of r. */
static void
attempt_start(struct pool *p, struct req *r)
{
	const struct conf *c = p->conf;
	CURL *e;

	r->attempts++;
	r->tries++;
	r->running = 1;
	r->last_rx = p->now = now_ms();
	r->status = 0;
	r->bytes = r->event_start = 0;
	r->sse_mode = r->stopped = 0;
	r->in_event = 0;
	r->nevents = -1;
	r->retry_after_ms = r->reset_ms = -1;
	if (!r->t_start)
		r->t_start = p->now;
	buf_reset(&r->resp);
	buf_reset(&r->ctype);
	buf_reset(&r->request_id);
	buf_reset(&r->evq);
	r->errbuf[0] = '\0';
	if (r->sse)
		sse_reset(r->sse);
	if (r->chat)
		chat_reset(r->chat);
	if (!(e = r->easy)) {
		if (p->nspare)
			e = p->spare[--p->nspare];
		else if (!(e = curl_easy_init()))
			err(2, "cannot make a libcurl handle");
		r->easy = e;
	} else
		curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER,
	    r->headers ? r->headers : p->common);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "vmanjl/" VMANJL_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	if (c->cacert)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->cacert);
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->verbose) {
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, r);
	}
	if (r->form && !r->polling) {
		if (r->mime)
			curl_mime_free(r->mime);
		r->mime = form(r, e);
		curl_easy_setopt(e, CURLOPT_MIMEPOST, r->mime);
	} else if (r->method && strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (r->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->body_len);
	} else if (!r->method || strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)0);
	} else
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (r->method && strcmp(r->method, "POST") != 0 &&
	    strcmp(r->method, "HEAD") != 0 && strcmp(r->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	else if (r->method && strcmp(r->method, "GET") == 0 && r->body)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK)
		err(2, "cannot add a transfer");
}

enum { STEP_DONE, STEP_WAIT, STEP_FAIL };

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

/* Describe a failed transfer in r->fail. */
static void
fail_transfer(struct req *r, CURLcode rc)
{
	const char *what = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
	long status = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		fail_set(&r->fail, status, "timeout", 1, "timeout: %s", what);
	else if (status > 0)
		fail_set(&r->fail, status, "network_error", retryable_curl(rc),
		    "transfer broken after %zu bytes of the answer: %s",
		    r->bytes, what);
	else
		fail_set(&r->fail, status, "network_error", retryable_curl(rc),
		    "%s", what);
}

/* How long to wait before the next attempt. */
static long long
backoff(struct pool *p, struct req *r)
{
	long long d = p->conf->backoff_ms;
	int i;

	if (r->fail.wait_ms >= 0)
		return r->fail.wait_ms;
	for (i = 1; i < r->tries && d < 30000; i++)
		d *= 2;
	if (d > 30000)
		d = 30000;
	/* Full jitter over the upper half keeps clients apart. */
	return d / 2 + (long long)(rnd(p) % (unsigned long long)(d / 2 + 1));
}

static void
waitq_add(struct pool *p, struct req *r)
{
	struct req **q;

	for (q = &p->waitq; *q && (*q)->due <= r->due; q = &(*q)->next)
		;
	r->next = *q;
	*q = r;
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

/* Wait, then send the poll of r's task. */
static void
poll_later(struct pool *p, struct req *r)
{
	r->tries = 0;
	r->due = now_ms() + p->conf->poll_ms;
	waitq_add(p, r);
}

/* A failure of the task itself: the error record carries the task. */
static void
task_fail(struct pool *p, struct req *r, const char *kind, const char *what)
{
	struct failure *f = &r->fail;

	fail_set(f, r->status, kind, 0, "%s", what);
	if (r->ts.status.len)
		json_str(&f->code, r->ts.status.p, r->ts.status.len);
	buf_reset(&f->task);
	task_json(&r->ts, 0, &f->task);
	req_error(p, r, f);
}

/*
 * An answer for a task request: the submit's, or a poll's.  Returns
 * STEP_DONE when r's answer is the final one (res holds it, with the
 * task), STEP_WAIT when r has been dealt with (a poll is on its way, or
 * its error record is written), and STEP_FAIL when the answer is an
 * ordinary failure to report as such.
 */
static int
task_step(struct pool *p, struct req *r, struct result *res)
{
	struct taskstate *t = &r->ts;
	char what[512];
	int rc;

	if (!r->polling) {
		rc = task_submit(r->task, r->resp.p, r->resp.len, t, &p->msg);
		if (rc == TASK_REFUSED || rc == TASK_BAD) {
			/* No task came of it: the error has no task. */
			fail_set(&r->fail, r->status, rc == TASK_REFUSED ?
			    "task_refused" : "task_error", 0, "%s", p->msg.p);
			buf_put(&r->fail.code, t->status.p, t->status.len);
			json_compact(r->resp.p, r->resp.len, &r->fail.body,
			    NULL, 0, &p->msg);
			req_error(p, r, &r->fail);
			return STEP_WAIT;
		}
		t->submitted = 1;
		if (p->conf->no_wait) {
			task_json(t, 0, &res->task);
			return STEP_DONE;
		}
		out_progress(&p->out, r, t);
		/* From now on the request is the poll. */
		r->polling = 1;
		task_poll(r->task, r->path, t, &p->msg, &r->resp);
		free(r->url);
		r->url = make_url(p->conf->base, p->msg.p);
		free(r->method);
		r->method = xstrdup(r->task->poll_method ?
		    r->task->poll_method : "GET");
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		if (r->resp.len) {
			r->body = xstrdup(r->resp.p);
			r->body_len = r->resp.len;
		}
		r->deadline = now_ms() + p->conf->task_timeout_ms;
		r->notfound_until = now_ms() + 30000;
		poll_later(p, r);
		return STEP_WAIT;
	}
	rc = task_update(r->task, r->status, r->resp.p, r->resp.len, t,
	    &p->msg);
	if (r->status >= 400 && rc != TASK_NOTFOUND)
		return STEP_FAIL;	/* an error answer to a poll */
	t->submitted = 0;
	t->polls++;
	if (rc == TASK_NOTFOUND && now_ms() >= r->notfound_until) {
		snprintf(what, sizeof what, "task %s not found after %.0f s",
		    t->id.p, (now_ms() - r->notfound_until + 30000) / 1000.0);
		task_fail(p, r, "task_not_found", what);
		return STEP_WAIT;
	}
	if (rc == TASK_BAD)
		snprintf(what, sizeof what, "%s", p->msg.p);
	switch (rc) {
	case TASK_DONE:
		task_json(t, 0, &res->task);
		return STEP_DONE;
	case TASK_FAILED:
	case TASK_CANCELLED:
		snprintf(what, sizeof what, "task %s %s: %s", t->id.p,
		    rc == TASK_FAILED ? "failed" : "was cancelled",
		    t->reason.len ? t->reason.p : t->status.p);
		task_fail(p, r, rc == TASK_FAILED ? "task_failed" :
		    "task_cancelled", what);
		return STEP_WAIT;
	case TASK_BAD:
		task_fail(p, r, "task_error", what);
		return STEP_WAIT;
	}
	if (rc == TASK_RUNNING && t->changed)
		out_progress(&p->out, r, t);
	if (p->conf->task_timeout_ms > 0 &&
	    now_ms() + p->conf->poll_ms > r->deadline) {
		snprintf(what, sizeof what, "task %s did not finish within "
		    "--task-timeout (%.3g s); last status %s", t->id.p,
		    p->conf->task_timeout_ms / 1000.0,
		    t->status.len ? t->status.p : "unknown");
		task_fail(p, r, "task_timeout", what);
		return STEP_WAIT;
	}
	poll_later(p, r);
	return STEP_WAIT;
}

/* The transfer of r has ended with rc: decide what it was. */
static void
attempt_done(struct pool *p, struct req *r, CURLcode rc)
{
	struct jpick pk[4] = {
		{ .path = "choices.0.message.content" },
		{ .path = "choices.0.text" },
		{ .path = "choices.0.finish_reason" }, { .path = "usage" }
	};
	struct result *res = &p->res;
	struct failure *f = &r->fail;
	long long wait;

	curl_multi_remove_handle(p->multi, r->easy);
	r->running = 0;
	if (r->status == 0 && rc == CURLE_OK)
		body_start(r);	/* an answer without a body */
	f->wait_ms = -1;
	if (r->stopped)
		;
	else if (rc != CURLE_OK)
		fail_transfer(r, rc);
	else if (r->sse_mode) {
		int torn = sse_end(r->sse);

		if (p->conf->events && torn)
			fail_set(f, r->status, "stream_error", 1,
			    "stream ended in the middle of an event");
		else if (p->conf->events || chat_done(r->chat)) {
			result_reset(res);
			if (!p->conf->events) {
				out_commit(&p->out, r);
				chat_result(r->chat, res);
			} else
				buf_puts(&res->body, "null");
			goto success;
		} else
			fail_set(f, r->status, "stream_error", 1,
			    "stream ended without [DONE]");
	} else if (r->binfd >= 0) {
		result_reset(res);
		if (binary_finish(r, res) == 0)
			goto success;
	} else if (r->polling && r->status >= 400 && r->status < 500 &&
	    task_step(p, r, res) != STEP_FAIL) {
		return;
	} else if (r->status >= 200 && r->status < 300) {
		result_reset(res);
		if (r->resp.len == 0) {
			buf_puts(&res->body, "null");
			goto success;
		}
		if (json_compact(r->resp.p, r->resp.len, &res->body, pk, 4,
		    &p->msg) == 0) {
			if (pk[0].val.len)
				buf_put(&res->content, pk[0].val.p,
				    pk[0].val.len);
			else if (pk[1].val.len)
				buf_put(&res->content, pk[1].val.p,
				    pk[1].val.len);
			buf_put(&res->finish, pk[2].val.p, pk[2].val.len);
			buf_put(&res->usage, pk[3].val.p, pk[3].val.len);
			json_picks_free(pk, 4);
			goto success;
		}
		json_picks_free(pk, 4);
		if (r->ctype.len >= 5 && strncasecmp(r->ctype.p, "text/", 5) ==
		    0) {
			/* Plain text (srt, vtt, text): a JSON string. */
			buf_reset(&res->body);
			json_str(&res->body, r->resp.p, r->resp.len);
			goto success;
		}
		fail_set(f, r->status, "parse_error", 0,
		    "invalid JSON in the answer: %s", p->msg.p);
	} else if (r->status > 0)
		fail_from_body(f, r->status, r->resp.p, r->resp.len,
		    "http_error", &p->msg);
	else
		fail_set(f, 0, "network_error", 1, "no HTTP answer");

	r->in_event = 0;
	buf_reset(&r->evq);
	if (r->status > 0 && !r->stopped)
		f->wait_ms = r->retry_after_ms >= 0 ? r->retry_after_ms :
		    r->status == 429 ? r->reset_ms : -1;
	binary_discard(r);
	if (f->status == 429)	/* every request slows down, retried or not */
		pace_cool(&p->pace, now_ms() + backoff(p, r));
	if (f->retryable && r->tries <= p->conf->retries && !interrupted) {
		wait = backoff(p, r);
		p->nretry++;
		out_retry(&p->out, r, f, wait);
		r->due = now_ms() + wait;
		waitq_add(p, r);
		return;
	}
	req_error(p, r, f);
	return;

success:
	if (r->status == 0)
		r->status = 200;
	if (r->task && task_step(p, r, res) != STEP_DONE)
		return;
	count_usage(p, &res->usage);
	p->nok++;
	out_response(&p->out, r, r->status, res);
	/* A binary answer's file is not in the cache: nothing to store. */
	if (r->capture && !res->file.len)
		cache_put(&p->conf->cache, &r->material, r->capture);
	req_done(p, r);
}

/* ---------------------------------------------------------------- */
/* The loop */

/* An input line that cannot be sent: its error record. */
static void
input_error(struct pool *p, unsigned long line, const struct buf *cid,
    const char *msg)
{
	struct req *r = req_new(p, line);

	if (cid && cid->len)
		buf_put(&r->cid, cid->p, cid->len);
	fail_set(&r->fail, 0, "invalid_request", 0, "line %lu: %s", line, msg);
	out_admit(&p->out, r);
	live_add(p, r);
	req_error(p, r, &r->fail);
}

/*
 * With --cache: answer r from the cache if it can be (1: r is done), or
 * mark it for storing once it succeeds (0: send it).  An upload is not
 * cached: its files are not part of the request's bytes.
 */
static int
from_cache(struct pool *p, struct req *r)
{
	const struct cache *c = &p->conf->cache;

	if (!r->form) {
		cache_material(&r->material, r->method, r->url,
		    r->headers ? r->headers : p->common, r->body, r->body_len);
		/* Options that change the records are part of the key. */
		if (p->conf->events)
			buf_puts(&r->material, "\n--events");
		if (p->conf->no_wait)
			buf_puts(&r->material, "\n--no-wait");
		if (c->mode != CACHE_REFRESH &&
		    cache_get(c, &r->material, &r->capbuf)) {
			p->nhit++;
			p->nok++;
			out_replay(&p->out, r, &r->capbuf);
			req_done(p, r);
			return 1;
		}
		p->nmiss++;
	}
	if (c->mode == CACHE_OFFLINE) {
		fail_set(&r->fail, 0, "cache_miss", 0, r->form ?
		    "--cache-mode offline: an upload is never cached" :
		    "--cache-mode offline: not in the cache");
		req_error(p, r, &r->fail);
		return 1;
	}
	if (c->mode != CACHE_RO && !r->form) {
		buf_reset(&r->capbuf);
		r->capture = &r->capbuf;
	}
	return 0;
}

/*
 * --resume: is the line done already (1: skip it)?  Also reports a
 * custom_id that an earlier line had: resuming by it is ambiguous.
 */
static int
resumed(struct pool *p, const struct spec *s, unsigned long lineno)
{
	unsigned long prev;

	resume_key(&p->key, &s->cid, lineno);
	if (s->cid.len && (prev = keyset_add(p->seen, p->key.p, lineno)))
		warnx("line %lu: custom_id %s repeats line %lu", lineno,
		    s->cid.p, prev);
	if (!keyset_has(p->done, p->key.p))
		return 0;
	p->nskip++;
	return 1;
}

/* --dry-run: the request that would be sent, as a record. */
static void
dry_run(struct pool *p, struct req *r)
{
	long long est = json_text_chars(r->body, r->body_len) / 4;

	p->est_tokens += est;
	p->nok++;
	out_request(&p->out, r, r->headers ? r->headers : p->common, est);
	req_done(p, r);
}

/* Start an attempt of r now if the pace allows, else when it will. */
static void
start(struct pool *p, struct req *r)
{
	long long now = now_ms(), tok = 0, at;

	/* Polls carry no prompt: they count as requests, not tokens. */
	if (p->conf->tpm && !r->polling)
		tok = pace_tokens(r->body, r->body_len);
	if ((at = pace_when(&p->pace, tok, now)) > now) {
		r->due = at;
		waitq_add(p, r);
		return;
	}
	pace_start(&p->pace, tok, now);
	attempt_start(p, r);
}

/* Read and admit input lines while there is room.  Returns 0 at the end
 * of input, 1 when more may come, -1 after a read error. */
static int
admit(struct pool *p, struct input *in, struct spec *s)
{
	const struct conf *c = p->conf;
	const char *line;
	unsigned long lineno;
	size_t len, i;
	struct req *r;
	int rc;

	while (p->active < (size_t)c->jobs &&
	    (!c->keep || p->out.pending < c->window)) {
		rc = in_next(in, MAX_LINE, &line, &len, &lineno);
		if (rc == 3)
			return 1;
		if (rc <= 0)
			return rc;
		if (rc == 2) {
			p->nreq++;
			input_error(p, lineno, NULL,
			    "line longer than 256 MiB");
			continue;
		}
		for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' ||
		    line[i] == '\r'); i++)
			;
		if (i == len)
			continue;	/* blank */
		p->nreq++;
		if (in_parse(line, len, s, &p->msg) < 0) {
			input_error(p, lineno, &s->cid, p->msg.p);
			continue;
		}
		if (p->done && resumed(p, s, lineno))
			continue;
		if (!(r = req_from_spec(p, lineno, s, &p->msg))) {
			input_error(p, lineno, &s->cid, p->msg.p);
			continue;
		}
		out_admit(&p->out, r);
		live_add(p, r);
		if (c->dry_run) {
			dry_run(p, r);
			continue;
		}
		if (!c->cache.dir || !from_cache(p, r))
			start(p, r);
	}
	return 1;
}

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
	signal(SIGINT, SIG_DFL);	/* a second ^C ends us at once */
	if (wake)
		curl_multi_wakeup(wake);
}

/* ^C: every live request ends with an error record. */
static void
interrupt_all(struct pool *p)
{
	struct req *r;

	while ((r = p->live)) {
		if (r->easy)
			curl_multi_remove_handle(p->multi, r->easy);
		fail_set(&r->fail, 0, "interrupted", 0,
		    "interrupted before the answer was complete");
		req_error(p, r, &r->fail);
	}
	p->waitq = NULL;
}

/* End the attempts that have received nothing for --idle-timeout.  (The
 * low-speed limit of libcurl averages over several seconds, too coarse
 * for a stall of one.) */
static void
check_idle(struct pool *p)
{
	struct req *r, *next;
	long idle = p->conf->idle_ms;

	if (idle <= 0 || p->now - p->last_idle_check < 100)
		return;
	p->last_idle_check = p->now;
	for (r = p->live; r; r = next) {
		next = r->lnext;
		if (!r->running || p->now - r->last_rx < idle)
			continue;
		fail_set(&r->fail, r->status, "timeout", 1,
		    "idle timeout: no data received for %.3g s%s",
		    idle / 1000.0, r->status ? " in the middle of the answer" :
		    " waiting for the answer");
		r->stopped = 1;
		attempt_done(p, r, CURLE_OPERATION_TIMEDOUT);
	}
}

/* The non-blank lines of the inputs, when all are regular files (for
 * the progress line's total); 0 when unknown. */
static unsigned long
count_lines(char **files, int n)
{
	char buf[65536];
	unsigned long lines = 0;
	struct stat st;
	off_t off;
	ssize_t r, i;
	int k, fd, blank;

	for (k = 0; k < (n ? n : 1); k++) {
		fd = n && strcmp(files[k], "-") != 0 ?
		    open(files[k], O_RDONLY) : 0;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (fd > 0)
				close(fd);
			return 0;
		}
		off = fd ? 0 : lseek(0, 0, SEEK_CUR);
		blank = 1;
		while ((r = pread(fd, buf, sizeof buf, off)) > 0) {
			for (i = 0; i < r; i++)
				if (buf[i] == '\n') {
					lines += !blank;
					blank = 1;
				} else if (buf[i] != ' ' && buf[i] != '\t' &&
				    buf[i] != '\r')
					blank = 0;
			off += r;
		}
		lines += !blank;
		if (fd > 0)
			close(fd);
	}
	return lines;
}

static void
progress(struct pool *p, int final)
{
	long long t = now_ms();
	double secs = (t - p->start_ms) / 1000.0, rate;
	unsigned long done = p->nok + p->nerr + p->nskip;

	if (!p->conf->progress || (!final && t - p->last_progress < 250))
		return;
	p->last_progress = t;
	if (final && !p->shown_progress)
		return;
	p->shown_progress = 1;
	rate = secs > 0 ? done / secs : 0.0;
	if (p->total) {
		unsigned long all = p->total;	/* lines done before count */
		double eta = rate > 0 && all > done ? (all - done) / rate : 0;

		fprintf(stderr, "\r\033[Kvmanjl: %lu/%lu %.0f%%, %.1f req/s, "
		    "ETA %.0f s, %zu in flight, %lu errors, %lu retries, "
		    "%lu cache hits", done, all, all ? 100.0 * done / all : 100,
		    rate, eta, p->active, p->nerr, p->nretry, p->nhit);
	} else
		fprintf(stderr, "\r\033[Kvmanjl: %lu done, %.1f req/s, %zu "
		    "in flight, %lu errors, %lu retries, %lu cache hits", done,
		    rate, p->active, p->nerr, p->nretry, p->nhit);
	if (final)
		fputc('\n', stderr);	/* the last state stays, above the summary */
}

/* Run every input line to its terminal record.  Returns nonzero after
 * an input read error. */
static int
run(struct pool *p, struct input *in)
{
	struct curl_waitfd wfd;
	struct spec spec;
	struct req *r;
	CURLMsg *m;
	long long t, timeout;
	int state = 1, running, left, nw;

	memset(&spec, 0, sizeof spec);
	for (;;) {
		if (interrupted) {
			interrupt_all(p);
			break;
		}
		if (state == 1)
			state = admit(p, in, &spec);
		for (t = now_ms(); (r = p->waitq) && r->due <= t;) {
			p->waitq = r->next;
			start(p, r);
		}
		if (state != 1 && p->active == 0)
			break;
		p->now = now_ms();
		curl_multi_perform(p->multi, &running);
		while ((m = curl_multi_info_read(p->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
			attempt_done(p, r, m->data.result);
		}
		p->now = now_ms();
		check_idle(p);
		out_flush(&p->out);
		progress(p, 0);
		if (state != 1 && p->active == 0)
			break;
		timeout = 1000;
		/* Wake for input only when there is room to admit it. */
		nw = 0;
		if (state == 1 && in_fd(in) >= 0 &&
		    p->active < (size_t)p->conf->jobs &&
		    (!p->conf->keep || p->out.pending < p->conf->window)) {
			wfd.fd = in_fd(in);
			wfd.events = CURL_WAIT_POLLIN;
			wfd.revents = 0;
			nw = 1;
		}
		if (p->waitq) {
			t = p->waitq->due - now_ms();
			if (t < timeout)
				timeout = t < 0 ? 0 : t;
		}
		if (p->conf->progress && timeout > 250)
			timeout = 250;
		if (p->conf->idle_ms > 0 && timeout > p->conf->idle_ms / 4 + 1)
			timeout = p->conf->idle_ms / 4 + 1;
		curl_multi_poll(p->multi, nw ? &wfd : NULL, (unsigned)nw,
		    (int)timeout, NULL);
	}
	in_spec_free(&spec);
	out_flush(&p->out);
	return state < 0;
}

/* ---------------------------------------------------------------- */
/* Set-up */

static char *
read_key(const char *file)
{
	struct stat st;
	char buf[4096];
	ssize_t n;
	size_t len;
	int fd;

	if ((fd = open(file, O_RDONLY)) < 0)
		err(2, "cannot open '%s'", file);
	/* As ssh does with keys: a secret others can read is refused. */
	if (fstat(fd, &st) < 0)
		err(2, "cannot read '%s'", file);
	if (st.st_mode & 077)
		errx(2, "key file '%s' can be read by others: chmod 600 '%s'",
		    file, file);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		err(2, "cannot read '%s'", file);
	len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	    buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0)
		errx(2, "key file '%s' is empty", file);
	return xstrdup(buf);
}

/* A -H header: "Name: value", no line breaks. */
static void
check_header(const char *h)
{
	const char *colon = strchr(h, ':');
	const char *s;

	/* Checked first: a message must not carry the line break. */
	if (strpbrk(h, "\r\n"))
		errx(2, "a -H header contains a line break");
	if (!colon || colon == h)
		errx(2, "invalid header '%s' (want 'Name: value')", h);
	for (s = h; s < colon; s++)
		if (*s <= ' ' || *s == 0x7f)
			errx(2, "invalid header name in '%s'", h);
}

/* The headers every request sends: the -H ones, then the defaults they
 * do not replace. */
static struct curl_slist *
common_headers(const struct conf *c, int json)
{
	struct curl_slist *l = NULL, *h;
	struct buf a = { 0 };
	const char *dflt[3];
	size_t i;

	for (h = c->user_headers; h; h = h->next)
		if (!(l = curl_slist_append(l, h->data)))
			err(2, "out of memory");
	if (c->key) {
		buf_puts(&a, "Authorization: Bearer ");
		buf_puts(&a, c->key);
	}
	dflt[0] = a.p;
	dflt[1] = json ? "Content-Type: application/json" : NULL;
	dflt[2] = "Expect:";
	for (i = 0; i < 3; i++) {
		if (!dflt[i])
			continue;
		for (h = c->user_headers; h; h = h->next)
			if (same_header(h->data, dflt[i]))
				break;
		if (!h && !(l = curl_slist_append(l, dflt[i])))
			err(2, "out of memory");
	}
	if (a.p)
		memset(a.p, 0, a.len);
	buf_free(&a);
	return l;
}

enum {
	O_BACKOFF = 256, O_BASE_URL, O_CACERT, O_CACHE, O_CACHE_MODE,
	O_CONNECT_TIMEOUT, O_DRY_RUN,
	O_ENDPOINTS, O_EVENTS, O_FORMAT, O_IDLE_TIMEOUT, O_INSECURE,
	O_KEY_FILE, O_MAX_RESPONSE, O_NO_PROGRESS, O_NO_WAIT, O_OUT_DIR,
	O_POLL_INTERVAL, O_PROGRESS, O_RESUME, O_RETRIES, O_TASK_TIMEOUT,
	O_TIMEOUT, O_TIMING, O_RPM, O_TPM,
	O_WINDOW
};

static const struct option longopts[] = {
	{ "backoff", required_argument, NULL, O_BACKOFF },
	{ "base-url", required_argument, NULL, O_BASE_URL },
	{ "cache", required_argument, NULL, O_CACHE },
	{ "cache-mode", required_argument, NULL, O_CACHE_MODE },
	{ "cacert", required_argument, NULL, O_CACERT },
	{ "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
	{ "dry-run", no_argument, NULL, O_DRY_RUN },
	{ "endpoint", required_argument, NULL, 'e' },
	{ "endpoints", no_argument, NULL, O_ENDPOINTS },
	{ "events", no_argument, NULL, O_EVENTS },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "header", required_argument, NULL, 'H' },
	{ "help", no_argument, NULL, 'h' },
	{ "idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "jobs", required_argument, NULL, 'j' },
	{ "keep-order", no_argument, NULL, 'k' },
	{ "key-file", required_argument, NULL, O_KEY_FILE },
	{ "max-response-size", required_argument, NULL, O_MAX_RESPONSE },
	{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
	{ "no-wait", no_argument, NULL, O_NO_WAIT },
	{ "out-dir", required_argument, NULL, O_OUT_DIR },
	{ "poll-interval", required_argument, NULL, O_POLL_INTERVAL },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "resume", required_argument, NULL, O_RESUME },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "rpm", required_argument, NULL, O_RPM },
	{ "task-timeout", required_argument, NULL, O_TASK_TIMEOUT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "timing", no_argument, NULL, O_TIMING },
	{ "tpm", required_argument, NULL, O_TPM },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "window", required_argument, NULL, O_WINDOW },
	{ NULL, 0, NULL, 0 }
};

static const char *cache_modes[] = {
	[CACHE_RW] = "read-write", [CACHE_RO] = "read-only",
	[CACHE_REFRESH] = "refresh", [CACHE_OFFLINE] = "offline", NULL
};

static long
secs_opt(const char *s, const char *name)
{
	long v = parse_secs(s);

	if (v < 0)
		errx(2, "invalid %s '%s' (want seconds)", name, s);
	return v;
}

int
main(int argc, char *argv[])
{
	struct conf c;
	struct pool p;
	struct input *in;
	const char *why, *env, *key_file = NULL, *base = NULL;
	char *b;
	struct curl_slist *h;
	int ch, progress_opt = -1, i, fd, input_failed;
	size_t n;

	memset(&c, 0, sizeof c);
	c.endpoint = "/v1/chat/completions";
	c.jobs = 8;
	c.retries = 3;
	c.backoff_ms = 500;
	c.connect_ms = 10000;
	c.timeout_ms = 600000;
	c.idle_ms = 120000;
	c.max_response = (size_t)64 << 20;
	c.poll_ms = 5000;
	c.task_timeout_ms = 600000;
	c.out_dir = ".";
	c.format = FMT_VMANJL;

	while ((ch = getopt_long(argc, argv, "e:H:hj:kqVv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'e':
			if ((why = in_url_problem(optarg)))
				errx(2, "invalid endpoint '%s': it %s", optarg,
				    why);
			c.endpoint = optarg;
			break;
		case 'H':
			check_header(optarg);
			if (!(h = curl_slist_append(c.user_headers, optarg)))
				err(2, "out of memory");
			c.user_headers = h;
			break;
		case 'h':
			help();
			return 0;
		case 'j':
			c.jobs = (int)parse_num(optarg, 1, 10000, "job count");
			break;
		case 'k':
			c.keep = 1;
			break;
		case 'q':
			c.quiet = 1;
			break;
		case 'V':
			printf("vmanjl %s (%s)\n", VMANJL_VERSION,
			    curl_version());
			return 0;
		case 'v':
			c.verbose = 1;
			break;
		case O_BACKOFF:
			c.backoff_ms = (long)parse_num(optarg, 1, 3600000,
			    "backoff");
			break;
		case O_BASE_URL:
			base = optarg;
			break;
		case O_CACHE:
			c.cache.dir = optarg;
			break;
		case O_CACHE_MODE:
			for (i = 0; cache_modes[i]; i++)
				if (strcmp(optarg, cache_modes[i]) == 0)
					break;
			if (!cache_modes[i])
				errx(2, "invalid cache mode '%s' (want "
				    "read-write, read-only, refresh or "
				    "offline)", optarg);
			c.cache.mode = i;
			break;
		case O_CACERT:
			c.cacert = optarg;
			break;
		case O_CONNECT_TIMEOUT:
			c.connect_ms = secs_opt(optarg, "connect timeout");
			break;
		case O_ENDPOINTS:
			ep_print(stdout);
			return 0;
		case O_EVENTS:
			c.events = 1;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "vmanjl") == 0)
				c.format = FMT_VMANJL;
			else if (strcmp(optarg, "batch") == 0)
				c.format = FMT_BATCH;
			else
				errx(2, "invalid format '%s' (want vmanjl or "
				    "batch)", optarg);
			break;
		case O_IDLE_TIMEOUT:
			c.idle_ms = secs_opt(optarg, "idle timeout");
			break;
		case O_INSECURE:
			c.insecure = 1;
			break;
		case O_KEY_FILE:
			key_file = optarg;
			break;
		case O_MAX_RESPONSE:
			c.max_response = parse_size(optarg);
			break;
		case O_NO_PROGRESS:
			progress_opt = 0;
			break;
		case O_NO_WAIT:
			c.no_wait = 1;
			break;
		case O_OUT_DIR:
			c.out_dir = optarg;
			break;
		case O_POLL_INTERVAL:
			c.poll_ms = secs_opt(optarg, "poll interval");
			if (c.poll_ms < 10)
				errx(2, "invalid poll interval '%s' (want at "
				    "least 0.01 s)", optarg);
			break;
		case O_PROGRESS:
			progress_opt = 1;
			break;
		case O_TASK_TIMEOUT:
			c.task_timeout_ms = secs_opt(optarg, "task timeout");
			break;
		case O_DRY_RUN:
			c.dry_run = 1;
			break;
		case O_RPM:
			c.rpm = (long)parse_num(optarg, 1, 100000000, "rpm");
			break;
		case O_TIMING:
			c.timing = 1;
			break;
		case O_TPM:
			c.tpm = (long)parse_num(optarg, 1, 1000000000000LL,
			    "tpm");
			break;
		case O_RESUME:
			c.resume = optarg;
			break;
		case O_RETRIES:
			c.retries = (int)parse_num(optarg, 0, 1000, "retries");
			break;
		case O_TIMEOUT:
			c.timeout_ms = secs_opt(optarg, "timeout");
			break;
		case O_WINDOW:
			c.window = (size_t)parse_num(optarg, 1, 10000000,
			    "window");
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;

	if (!c.cache.dir && (env = getenv("VMANJL_CACHE")) && *env)
		c.cache.dir = env;
	if (!base && (env = getenv("VMAN_BASE_URL")) && *env)
		base = env;
	if (!base)
		errx(2, "no base URL: set VMAN_BASE_URL or use --base-url");
	if (strncasecmp(base, "http://", 7) != 0 &&
	    strncasecmp(base, "https://", 8) != 0)
		errx(2, "invalid base URL '%s' (want http:// or https://)",
		    base);
	if (strpbrk(base, " \t\r\n"))
		errx(2, "invalid base URL '%s'", base);
	b = xstrdup(base);
	for (n = strlen(b); n && b[n - 1] == '/'; n--)
		b[n - 1] = '\0';
	c.base = b;
	if (key_file)
		c.key = read_key(key_file);
	else if ((env = getenv("VMAN_API_KEY")) && *env)
		c.key = xstrdup(env);
	if (c.key && strpbrk(c.key, "\r\n"))
		errx(2, "the API key contains a line break");
	if (c.dry_run)
		c.format = FMT_VMANJL;	/* request records have no Batch form */
	if (c.window == 0)
		c.window = c.jobs * 4 > 16 ? (size_t)c.jobs * 4 : 16;
	if (c.window < (size_t)c.jobs)
		c.window = (size_t)c.jobs;
	c.progress = progress_opt >= 0 ? progress_opt :
	    !c.quiet && isatty(2);
	if (c.quiet && progress_opt != 1)
		c.progress = 0;
	if (c.cacert && access(c.cacert, R_OK) < 0)
		err(2, "cannot read '%s'", c.cacert);
	if (c.insecure && !c.quiet)
		warnx("--insecure: the server's certificate is not checked");
	/* Every named input must open before anything is sent. */
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			continue;
		if ((fd = open(argv[i], O_RDONLY)) < 0)
			err(2, "cannot open '%s'", argv[i]);
		close(fd);
	}

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		errx(2, "cannot initialise libcurl");

	memset(&p, 0, sizeof p);
	p.conf = &c;
	p.rng = (unsigned long long)time(NULL) ^
	    ((unsigned long long)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	p.spare = xcalloc((size_t)c.jobs, sizeof *p.spare);
	if (!(p.multi = curl_multi_init()))
		errx(2, "cannot initialise libcurl");
	curl_multi_setopt(p.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)c.jobs);
	out_init(&p.out, c.format, c.keep);
	p.common = common_headers(&c, 1);
	p.common_form = common_headers(&c, 0);

	wake = p.multi;
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sigint;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
	}

	pace_init(&p.pace, c.rpm, c.tpm);
	p.out.timing = c.timing;
	if (c.progress)
		p.total = count_lines(argv, argc);
	if (c.resume) {
		p.done = resume_load(c.resume);
		p.seen = keyset_new();
	}
	p.start_ms = now_ms();
	in = in_open(argv, argc);
	input_failed = run(&p, in);
	in_close(in);
	progress(&p, 1);

	if (!c.quiet) {
		char hits[160] = "";

		if (c.cache.dir)
			snprintf(hits, sizeof hits, "%lu cache hits, %lu "
			    "misses, ", p.nhit, p.nmiss);
		if (c.resume)
			snprintf(hits + strlen(hits), sizeof hits -
			    strlen(hits), "%lu done before, ", p.nskip);
		if (c.dry_run)
			fprintf(stderr, "vmanjl: dry run: %lu requests, %lu "
			    "valid, %lu invalid, about %lld prompt tokens "
			    "(chars/4)\n", p.nreq, p.nok, p.nerr,
			    p.est_tokens);
		else
		fprintf(stderr, "vmanjl: %lu requests, %lu ok, %lu errors, "
		    "%lu retries, %s%lld prompt + %lld completion tokens, "
		    "%.2f s\n", p.nreq, p.nok, p.nerr, p.nretry, hits, p.ptok,
		    p.ctok, (now_ms() - p.start_ms) / 1000.0);
	}

	signal(SIGINT, SIG_IGN);
	wake = NULL;
	while (p.nspare)
		curl_easy_cleanup(p.spare[--p.nspare]);
	free(p.spare);
	curl_multi_cleanup(p.multi);
	curl_slist_free_all(p.common);
	curl_slist_free_all(p.common_form);
	curl_slist_free_all(c.user_headers);
	buf_free(&p.res.body);
	buf_free(&p.res.content);
	buf_free(&p.res.finish);
	buf_free(&p.res.usage);
	buf_free(&p.res.task);
	buf_free(&p.res.file);
	buf_free(&p.res.ctype);
	buf_free(&p.msg);
	buf_free(&p.key);
	keyset_free(p.done);
	pace_free(&p.pace);
	keyset_free(p.seen);
	out_free(&p.out);
	if (c.key) {
		memset(c.key, 0, strlen(c.key));
		free(c.key);
	}
	free(b);
	curl_global_cleanup();
	if (interrupted)
		return 130;
	if (input_failed)
		return 2;
	return p.nerr ? 1 : 0;
}
