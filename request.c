/*
 * request.c: from a parsed input line to a configured libcurl handle:
 * the endpoint table's verdict (mode, task, required header), the URL,
 * the header list, a JSON body or a multipart form streamed from disk,
 * and the -v trace.  It also makes and frees the struct req that the
 * pool carries from admission to the terminal record.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "vmanjl.h"


struct req *
req_new(struct pool *p, unsigned long line)
{
	struct req *r = xcalloc(1, sizeof *r);

	r->pool = p;
	r->o.owner = r;
	r->o.line = line;
	r->save.fd = -1;
	r->o.nevents = -1;
	r->reset_ms = -1;
	r->retry_after_ms = -1;
	return r;
}

/* Give back what a request needs only while it runs: with -k a finished
 * request may wait a while for its turn, holding just its records.
 * (Its easy handle is the pool's to take back first.) */
void
req_release(struct req *r)
{
	if (r->headers)
		curl_slist_free_all(r->headers);
	r->headers = NULL;
	free(r->url);
	free(r->method);
	free(r->body);
	r->url = r->method = r->body = NULL;
	buf_free(&r->resp);
	buf_free(&r->ctype);
	buf_free(&r->o.evq);
	save_free(&r->save);
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
	if (r->dec)
		r->dialect->close(r->dec);
	r->dec = NULL;
	fail_free(&r->fail);
	buf_free(&r->material);
	buf_free(&r->capbuf);
	r->o.capture = NULL;
}

/* r is written and done with: all of it goes. */
void
req_free(struct req *r)
{
	if (!r)
		return;
	req_release(r);
	buf_free(&r->o.cid);
	buf_free(&r->o.request_id);
	buf_free(&r->o.held);
	free(r);
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
struct req *
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
	r->dialect = ep ? ep->dialect : NULL;
	r->own_task = s->task && !s->notask;
	buf_put(&r->o.cid, s->cid.p, s->cid.len);
	r->url = url_join(c->base, url);
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
		if (io_secret_header(line))
			fprintf(stderr, "vmanjl: line %lu: %s %.*s: [redacted]\n",
			    r->o.line, mark, (int)strcspn(line, ":"), line);
		else
			fprintf(stderr, "vmanjl: line %lu: %s %.*s\n", r->o.line,
			    mark, (int)k, s);
		if (nl == end)
			break;
	}
	return 0;
}

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

/*
 * Set easy handle e up for the next attempt of r: the URL, the callbacks
 * of answer.c, the options of the run, the method and the body.
 */
void
req_setopt(struct req *r, CURL *e)
{
	const struct pool *p = r->pool;
	const struct conf *c = p->conf;

	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, answer_header);
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
}


/* The headers every request sends: the -H ones, then the defaults they
 * do not replace. */
struct curl_slist *
req_common_headers(const struct conf *c, int json)
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

/* ,"key": */
static void
put_key(struct buf *b, const char *key)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
}

/*
 * --dry-run: append what r would send with headers h, as the fields of
 * a request record (method, url, headers with credentials redacted,
 * body, files, task); scratch is for json_compact.
 */
void
req_describe(const struct req *r, const struct curl_slist *h,
    struct buf *b, struct buf *scratch)
{
	char num[32];
	const char *name, *path, *colon;
	struct stat st;
	int first = 1;
	size_t i;

	put_key(b, "method");
	json_str(b, r->method ? r->method : "POST",
	    strlen(r->method ? r->method : "POST"));
	put_key(b, "url");
	json_str(b, r->url, strlen(r->url));
	put_key(b, "headers");
	buf_putc(b, '{');
	for (; h; h = h->next) {
		if (!(colon = strchr(h->data, ':')) || !colon[1])
			continue;	/* "Expect:" removes a header */
		if (!first)
			buf_putc(b, ',');
		first = 0;
		json_str(b, h->data, (size_t)(colon - h->data));
		buf_putc(b, ':');
		if (io_secret_header(h->data))
			buf_puts(b, "\"[redacted]\"");
		else {
			for (colon++; *colon == ' '; colon++)
				;
			json_str(b, colon, strlen(colon));
		}
	}
	buf_putc(b, '}');
	put_key(b, "body");
	if (!r->body || json_compact(r->body, r->body_len, b, NULL, 0,
	    scratch) < 0)
		buf_puts(b, "null");
	if (r->nfiles) {
		put_key(b, "files");
		buf_putc(b, '{');
		for (name = r->files.p, i = 0; i < r->nfiles; i++) {
			path = name + strlen(name) + 1;
			if (i)
				buf_putc(b, ',');
			json_str(b, name, strlen(name));
			buf_puts(b, ":{\"path\":");
			json_str(b, path, strlen(path));
			snprintf(num, sizeof num, ",\"bytes\":%lld",
			    stat(path, &st) == 0 ? (long long)st.st_size : -1);
			buf_puts(b, num);
			buf_putc(b, '}');
			name = path + strlen(path) + 1;
		}
		buf_putc(b, '}');
	}
	if (r->task) {
		put_key(b, "task");
		json_str(b, r->task->name, strlen(r->task->name));
	}
}
