/*
 * input.c: reading request lines and telling what each one asks for.
 *
 * Lines are read incrementally from the named files (or stdin) through
 * one buffer that holds at most a line and a read's worth of bytes, so
 * an input of any length streams.  in_parse() recognises the envelope
 * and bare-body forms and validates an envelope's members; the body is
 * never re-encoded: the request carries the bytes the user wrote.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "vmanjl.h"

#define READ_SIZE 65536

struct input {
	char **files;
	int nfiles, next;
	int fd;			/* -1 between files */
	const char *name;
	struct buf b;		/* b.p[off..len) is unread */
	size_t off, scan;	/* scan: where the newline search resumes */
	unsigned long lineno;
	int first;		/* at the first line of a file: strip a BOM */
	int skipping;		/* discarding the rest of an overlong line */
};

struct input *
in_open(char **files, int nfiles)
{
	struct input *in = xcalloc(1, sizeof *in);

	in->files = files;
	in->nfiles = nfiles;
	in->fd = -1;
	return in;
}

/* The descriptor to wait on when in_next() says IN_WAIT. */
int
in_fd(const struct input *in)
{
	return in->fd;
}

void
in_close(struct input *in)
{
	if (!in)
		return;
	if (in->fd > 0)
		close(in->fd);
	buf_free(&in->b);
	free(in);
}

/* Open the next input file; 0 when there is none left, -1 on error. */
static int
in_nextfile(struct input *in)
{
	const char *f;

	if (in->nfiles == 0 && in->next == 0) {
		in->next = 1;
		in->fd = 0;
		in->name = "<stdin>";
		in->first = 1;
		return 1;
	}
	if (in->next >= in->nfiles)
		return 0;
	f = in->files[in->next++];
	in->first = 1;
	if (strcmp(f, "-") == 0) {
		in->fd = 0;
		in->name = "<stdin>";
		return 1;
	}
	in->name = f;
	if ((in->fd = open(f, O_RDONLY)) < 0) {
		warn("cannot open '%s'", f);
		return -1;
	}
	return 1;
}

/* Hand out b.p[off..off+n) as a line, dropping a CR before the LF and a
 * BOM at the start of a file. */
static void
in_take(struct input *in, size_t n, size_t adv, const char **line,
    size_t *len)
{
	char *p = in->b.p + in->off;

	in->lineno++;
	if (n && p[n - 1] == '\r')
		n--;
	if (in->first && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3, n -= 3;
	in->first = 0;
	*line = p;
	*len = n;
	in->off += adv;
	in->scan = in->off;
}

/*
 * Read the next line without blocking: IN_LINE with the line (valid
 * until the next call, without its line end), IN_LONG for a line longer
 * than max (consumed), IN_WAIT when no whole line is available yet (wait
 * for in_fd() to become readable), IN_END at the end of all input,
 * IN_ERROR after a read error (reported).  *lineno is the line's 1-based
 * number, counted across all files as if they were concatenated.
 */
static enum in_status
next_line(struct input *in, size_t max, const char **line, size_t *len,
    unsigned long *lineno)
{
	struct buf *b = &in->b;
	struct pollfd pfd;
	char *nl;
	ssize_t r;
	int rc;

	for (;;) {
		if (in->fd < 0) {
			if ((rc = in_nextfile(in)) <= 0)
				return rc < 0 ? IN_ERROR : IN_END;
			in->off = b->len = in->scan = 0;
		}
		nl = b->len > in->scan ?
		    memchr(b->p + in->scan, '\n', b->len - in->scan) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - (b->p + in->off));

			if (in->skipping) {
				in->skipping = 0;
				in_take(in, 0, n + 1, line, len);
				*len = max + 1;
				*lineno = in->lineno;
				return IN_LONG;
			}
			in_take(in, n, n + 1, line, len);
			*lineno = in->lineno;
			return IN_LINE;
		}
		if (b->len - in->off > max) {
			/* Too long: keep counting, stop storing. */
			in->skipping = 1;
			in->off = b->len = in->scan = 0;
		}
		/* Move the partial line to the front and read more. */
		if (in->off) {
			memmove(b->p, b->p + in->off, b->len - in->off);
			b->len -= in->off;
			in->off = 0;
		}
		in->scan = b->len;
		if (buf_grow(b, READ_SIZE) < 0)
			err(2, "out of memory");
		pfd.fd = in->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) == 0)
			return IN_WAIT;
		r = read(in->fd, b->p + b->len, READ_SIZE);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return IN_WAIT;
			warn("cannot read '%s'", in->name);
			return IN_ERROR;
		}
		if (r == 0) {
			if (in->fd > 0)
				close(in->fd);
			in->fd = -1;
			if (b->len > 0 || in->skipping) {
				/* A last line without a newline. */
				size_t n = b->len;

				if (in->skipping) {
					in->skipping = 0;
					in_take(in, 0, 0, line, len);
					*len = max + 1;
					*lineno = in->lineno;
					b->len = 0;
					return IN_LONG;
				}
				in_take(in, n, n, line, len);
				*lineno = in->lineno;
				return IN_LINE;
			}
			continue;
		}
		b->len += (size_t)r;
		b->p[b->len] = '\0';
	}
}

/* Is the line made of blanks only (space, tab, CR)? */
static int
blank(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++, n--;
	return n == 0;
}

/* The next line that is not blank, as next_line() says it. */
enum in_status
in_next(struct input *in, size_t max, const char **line, size_t *len,
    unsigned long *lineno)
{
	enum in_status rc;

	while ((rc = next_line(in, max, line, len, lineno)) == IN_LINE &&
	    blank(*line, *len))
		;
	return rc;
}

/*
 * The non-blank lines of the inputs, when all are regular files (for
 * the progress line's total); 0 when unknown.
 */
unsigned long
in_count_lines(char **files, int n)
{
	char buf[65536];
	unsigned long lines = 0;
	struct stat st;
	off_t off;
	ssize_t r, i;
	int k, fd, empty;

	for (k = 0; k < (n ? n : 1); k++) {
		fd = n && strcmp(files[k], "-") != 0 ?
		    open(files[k], O_RDONLY) : 0;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (fd > 0)
				close(fd);
			return 0;
		}
		off = fd ? 0 : lseek(0, 0, SEEK_CUR);
		empty = 1;
		while ((r = pread(fd, buf, sizeof buf, off)) > 0) {
			for (i = 0; i < r; i++)
				if (buf[i] == '\n') {
					lines += !empty;
					empty = 1;
				} else if (buf[i] != ' ' && buf[i] != '\t' &&
				    buf[i] != '\r')
					empty = 0;
			off += r;
		}
		lines += !empty;
		if (fd > 0)
			close(fd);
	}
	return lines;
}

/* ---------------------------------------------------------------- */
/* Recognising and validating one request line */

enum {
	K_NONE, K_CID, K_METHOD, K_URL, K_BODY, K_HEADERS, K_FILES, K_OUTPUT,
	K_TASK, K_OTHER
};

struct lp {
	yajl_handle h;
	struct spec *s;
	const char *line;
	int depth;
	int key;		/* the top-level member being read */
	int nonobject;		/* the line is not an object: its type */
	const char *badtype;	/* first envelope member of a wrong type */
	struct buf other;	/* first unknown top-level key */
	struct buf hname;	/* header name waiting for its value */
	size_t raw_start;	/* where the body or task object began */
	unsigned seen;		/* envelope members met, a bit each */
	const char *twice;	/* the first member met twice */
};

static const char *key_names[] = {
	NULL, "custom_id", "method", "url", "body", "headers", "files",
	"output", "task", NULL
};

static int
is_token(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (n == 0)
		return 0;
	for (; n; s++, n--)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || (*s && strchr(extra, *s))))
			return 0;
	return 1;
}

/* A wrong type for an envelope member: remember the first. */
static int
lp_wrong(struct lp *l)
{
	if (!l->badtype)
		l->badtype = key_names[l->key];
	return 1;
}

/* A scalar value: where it sits decides what it means. */
static int
lp_scalar(struct lp *l, int type, const char *s, size_t n)
{
	struct spec *sp = l->s;

	if (l->depth == 0) {
		l->nonobject = type;
		return 0;
	}
	if (l->depth == 2 && l->key == K_HEADERS) {
		if (type != 's') {
			if (!l->badtype)
				l->badtype = "headers";
			return 1;
		}
		if (memchr(s, '\r', n) || memchr(s, '\n', n) ||
		    memchr(s, '\0', n)) {
			if (!l->badtype)
				l->badtype = "header value";
			return 1;
		}
		buf_put(&sp->headers, l->hname.p, l->hname.len);
		buf_put(&sp->headers, ": ", 2);
		buf_put(&sp->headers, s, n);
		buf_put(&sp->headers, "", 1);
		sp->nheaders++;
		return 1;
	}
	if (l->depth == 2 && l->key == K_FILES) {
		if (type != 's' || n == 0 || memchr(s, '\0', n) ||
		    !l->hname.len) {
			if (!l->badtype)
				l->badtype = "files";
			return 1;
		}
		buf_put(&sp->files, l->hname.p, l->hname.len);
		buf_put(&sp->files, "", 1);
		buf_put(&sp->files, s, n);
		buf_put(&sp->files, "", 1);
		sp->nfiles++;
		return 1;
	}
	if (l->depth != 1)
		return 1;
	switch (l->key) {
	case K_CID:
		if (sp->cid.len)
			break;		/* given twice: refused, keep the first */
		if (type == 's')
			json_str(&sp->cid, s, n);
		else if (type == 'n')
			buf_put(&sp->cid, s, n);
		else if (type != '0')
			lp_wrong(l);
		break;
	case K_METHOD:
		if (type != 's' || !is_token(s, n))
			lp_wrong(l);
		else
			buf_put(&sp->method, s, n);
		break;
	case K_URL:
		if (type != 's')
			lp_wrong(l);
		else
			buf_put(&sp->url, s, n);
		break;
	case K_OUTPUT:
		if (type != 's' || n == 0 || memchr(s, '\0', n))
			lp_wrong(l);
		else
			buf_put(&sp->output, s, n);
		break;
	case K_TASK:
		if (type == 'f')
			sp->notask = 1;
		else
			lp_wrong(l);
		break;
	case K_BODY:
	case K_HEADERS:
	case K_FILES:
		lp_wrong(l);
		break;
	}
	return 1;
}

static int
lp_null(void *ctx)
{
	return lp_scalar(ctx, '0', NULL, 0);
}

static int
lp_bool(void *ctx, int v)
{
	return lp_scalar(ctx, v ? 't' : 'f', NULL, 0);
}

static int
lp_number(void *ctx, const char *s, size_t n)
{
	return lp_scalar(ctx, 'n', s, n);
}

static int
lp_string(void *ctx, const unsigned char *s, size_t n)
{
	return lp_scalar(ctx, 's', (const char *)s, n);
}

static int
lp_open(struct lp *l, int type)
{
	if (l->depth == 0 && type != '{') {
		l->nonobject = type;
		return 0;
	}
	if (l->depth == 1) {
		if ((l->key == K_BODY || l->key == K_TASK) && type == '{')
			l->raw_start = yajl_get_bytes_consumed(l->h) - 1;
		else if ((l->key == K_HEADERS || l->key == K_FILES) &&
		    type == '{')
			l->s->form |= l->key == K_FILES;
		else if (l->key != K_OTHER)
			lp_wrong(l);
	} else if (l->depth == 2 &&
	    (l->key == K_HEADERS || l->key == K_FILES)) {
		if (!l->badtype)
			l->badtype = key_names[l->key];
	}
	l->depth++;
	return 1;
}

static int
lp_start_map(void *ctx)
{
	return lp_open(ctx, '{');
}

static int
lp_start_array(void *ctx)
{
	return lp_open(ctx, '[');
}

static int
lp_close(void *ctx)
{
	struct lp *l = ctx;

	size_t end = yajl_get_bytes_consumed(l->h);

	l->depth--;
	if (l->depth != 1)
		return 1;
	/* The object's own bytes, exactly as written. */
	if (l->key == K_BODY && l->line[l->raw_start] == '{') {
		l->s->body = l->s->line + l->raw_start;
		l->s->body_len = end - l->raw_start;
	} else if (l->key == K_TASK && l->line[l->raw_start] == '{') {
		l->s->task = l->s->line + l->raw_start;
		l->s->task_len = end - l->raw_start;
	}
	return 1;
}

static int
lp_map_key(void *ctx, const unsigned char *k, size_t n)
{
	struct lp *l = ctx;
	int i;

	if (l->depth == 1) {
		l->key = K_OTHER;
		for (i = K_CID; i < K_OTHER; i++)
			if (strlen(key_names[i]) == n &&
			    memcmp(key_names[i], k, n) == 0)
				l->key = i;
		if (l->key != K_OTHER) {
			if (l->seen & 1u << l->key && !l->twice)
				l->twice = key_names[l->key];
			l->seen |= 1u << l->key;
		}
		if (l->key == K_BODY || l->key == K_URL)
			l->s->envelope = 1;
		if (l->key == K_OTHER && !l->other.len)
			json_str(&l->other, (const char *)k, n);
	} else if (l->depth == 2 && l->key == K_HEADERS) {
		buf_reset(&l->hname);
		if (!is_token((const char *)k, n)) {
			if (!l->badtype)
				l->badtype = "header name";
		} else
			buf_put(&l->hname, k, n);
	} else if (l->depth == 2 && l->key == K_FILES) {
		buf_reset(&l->hname);
		if (n && !memchr(k, '\0', n) && !memchr(k, '"', n))
			buf_put(&l->hname, k, n);
	}
	return 1;
}

static const yajl_callbacks lp_callbacks = {
	lp_null, lp_bool, NULL, NULL, lp_number, lp_string,
	lp_start_map, lp_map_key, lp_close, lp_start_array, lp_close
};

/* Is u a URL the envelope may name: an http(s) URL, or a path that
 * stays on the base URL's host? */
static const char *
url_problem(const char *u, size_t n)
{
	size_t i;

	if (n == 0)
		return "is empty";
	for (i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return "contains a space or control character";
	if ((n > 7 && strncasecmp(u, "http://", 7) == 0) ||
	    (n > 8 && strncasecmp(u, "https://", 8) == 0))
		return NULL;
	if (u[0] != '/')
		return "must be a path starting with '/' or an http(s) URL";
	if (n > 1 && (u[1] == '/' || u[1] == '\\'))
		return "must not start with '//' (it would name another host)";
	if (memchr(u, '\\', n))
		return "contains a backslash";
	return NULL;
}

static void
in_spec_reset(struct spec *s)
{
	buf_reset(&s->cid);
	buf_reset(&s->method);
	buf_reset(&s->url);
	buf_reset(&s->headers);
	buf_reset(&s->files);
	buf_reset(&s->output);
	s->nheaders = s->nfiles = 0;
	s->line = s->body = s->task = NULL;
	s->body_len = s->task_len = 0;
	s->envelope = s->notask = s->form = 0;
}

void
in_spec_free(struct spec *s)
{
	buf_free(&s->cid);
	buf_free(&s->method);
	buf_free(&s->url);
	buf_free(&s->headers);
	buf_free(&s->files);
	buf_free(&s->output);
}

/*
 * Tell what the line asks for.  Returns 0 with s filled in (s->body
 * points into line), or -1 with the reason in msg; s->cid is set even
 * then when the line got that far.
 */
int
in_parse(const char *line, size_t len, struct spec *s, struct buf *msg)
{
	static const char *types[128] = {
		['['] = "an array", ['s'] = "a string", ['n'] = "a number",
		['t'] = "a boolean", ['f'] = "a boolean", ['0'] = "null"
	};
	struct lp l;
	yajl_status st;
	const char *why;
	size_t bad;
	int rc = -1, eof = 0;

	in_spec_reset(s);
	buf_reset(msg);
	/* yajl lets overlong forms and surrogates through: not us. */
	if ((bad = json_utf8_check(line, len)) < len) {
		char m[80];

		snprintf(m, sizeof m, "invalid JSON at column %zu: invalid UTF-8",
		    bad + 1);
		buf_puts(msg, m);
		return -1;
	}
	memset(&l, 0, sizeof l);
	s->line = l.line = line;
	l.s = s;
	l.h = yajl_alloc(&lp_callbacks, NULL, &l);
	st = yajl_parse(l.h, (const unsigned char *)line, len);
	if (st == yajl_status_ok &&
	    (st = yajl_complete_parse(l.h)) != yajl_status_ok)
		eof = 1;
	buf_reset(msg);
	if (l.nonobject) {
		buf_puts(msg, "line is not a JSON object: it is ");
		buf_puts(msg, types[l.nonobject]);
	} else if (st != yajl_status_ok) {
		json_error(l.h, line, len, eof, "invalid JSON", msg);
	} else if (json_ends_in_string(line, len)) {
		buf_puts(msg, "invalid JSON: trailing garbage");
	} else if (!s->envelope) {
		in_spec_reset(s);
		s->line = s->body = line;
		s->body_len = len;
		rc = 0;
	} else if (l.badtype) {
		buf_puts(msg, "envelope member '");
		buf_puts(msg, l.badtype);
		buf_puts(msg, strncmp(l.badtype, "header", 6) == 0 ?
		    "' is invalid (headers must map header names to string "
		    "values without CR, LF or NUL)" :
		    strcmp(l.badtype, "files") == 0 ?
		    "' is invalid (want an object mapping form field names "
		    "to file paths)" :
		    strcmp(l.badtype, "task") == 0 ?
		    "' has the wrong type (want an object or false)" :
		    strcmp(l.badtype, "custom_id") == 0 ?
		    "' has the wrong type (want a string or number)" :
		    strcmp(l.badtype, "method") == 0 ?
		    "' is invalid (want an HTTP method name)" :
		    strcmp(l.badtype, "body") == 0 ?
		    "' has the wrong type (want an object)" :
		    "' has the wrong type (want a string)");
	} else if (l.twice) {
		buf_puts(msg, "envelope member '");
		buf_puts(msg, l.twice);
		buf_puts(msg, "' is given twice");
	} else if (l.other.len) {
		buf_puts(msg, "unknown envelope member ");
		buf_put(msg, l.other.p, l.other.len);
	} else if (l.seen & 1u << K_URL && (why = url_problem(s->url.len ?
	    s->url.p : "", s->url.len)) != NULL) {
		buf_puts(msg, "envelope url ");
		buf_puts(msg, why);
	} else {
		rc = 0;
	}
	yajl_free(l.h);
	buf_free(&l.other);
	buf_free(&l.hname);
	return rc;
}

/* Check a URL given as the default endpoint (-e). */
const char *
in_url_problem(const char *u)
{
	return url_problem(u, strlen(u));
}
