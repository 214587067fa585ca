/*
 * cache.c: answers kept on disk, so that the same request is paid for
 * once.
 *
 * An entry is named by a hash of the request (method, URL, the headers
 * that can change the answer, body) and holds that request in full, so
 * a hit is a hit only when the stored request equals the new one byte
 * for byte.  After it come the request's records, each as its type and
 * the text that follows its line and custom_id, to be replayed under
 * the new ones.  Entries are written to a temporary file and renamed,
 * so processes can share a directory and a crash leaves no torn entry.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vmanjl.h"

#define MAGIC "vmanjl-cache 1 "

/* The request as the cache knows it. */
void
cache_material(struct buf *m, const char *method, const char *url,
    const struct curl_slist *headers, const char *body, size_t len)
{
	buf_reset(m);
	buf_puts(m, method ? method : "POST");
	buf_putc(m, ' ');
	buf_puts(m, url);
	buf_putc(m, '\n');
	for (; headers; headers = headers->next)
		if (!io_secret_header(headers->data)) {	/* never stored */
			buf_puts(m, headers->data);
			buf_putc(m, '\n');
		}
	buf_putc(m, '\n');
	if (body)
		buf_put(m, body, len);
}

/* An entry's file: two 64-bit hashes of the request from other offsets,
 * 128 bits of name (though not two independent halves). */
static void
entry_path(const struct cache *c, const struct buf *m, struct buf *path)
{
	unsigned long long h1 = buf_hash(m->p, m->len, 0xcbf29ce484222325ULL,
	    0);
	unsigned long long h2 = buf_hash(m->p, m->len, 0x84222325cbf29ce4ULL,
	    1);
	char name[64];

	buf_reset(path);
	buf_puts(path, c->dir);
	snprintf(name, sizeof name, "/%02x/%016llx%016llx", (unsigned)(h1 >> 56),
	    h1, h2);
	buf_puts(path, name);
}

/* The bytes of an entry for request m with records recs. */
void
cache_entry(struct buf *f, const struct buf *m, const struct buf *recs)
{
	char head[64];

	snprintf(head, sizeof head, MAGIC "%zu %zu\n", m->len, recs->len);
	buf_reset(f);
	buf_puts(f, head);
	buf_put(f, m->p, m->len);
	buf_putc(f, '\n');
	buf_put(f, recs->p, recs->len);
}

/*
 * Is the entry f[0..n) one for request m?  Returns 1 with its records
 * in recs, else 0.  The entry is "vmanjl-cache 1 <request bytes>
 * <records bytes>\n", the request, a newline and the records: one of any
 * other length is not one.
 */
int
cache_match(const char *f, size_t n, const struct buf *m, struct buf *recs)
{
	size_t len, rl, hl, ml = strlen(MAGIC);
	const char *p = f + ml, *end = f + n;

	if (n < ml || memcmp(f, MAGIC, ml) != 0)
		return 0;
	/* Two unsigned numbers; every length checked before it is used. */
	for (len = 0; p < end && *p >= '0' && *p <= '9' && len < n; p++)
		len = len * 10 + (size_t)(*p - '0');
	if (p == f + ml || p == end || *p++ != ' ')
		return 0;
	for (rl = 0, hl = 0; p < end && *p >= '0' && *p <= '9' && rl < n;
	    p++, hl++)
		rl = rl * 10 + (size_t)(*p - '0');
	if (hl == 0 || p == end || *p++ != '\n')
		return 0;
	hl = (size_t)(p - f);
	if (len != m->len || len > n - hl || n - hl - len < 1 ||
	    rl != n - hl - len - 1 || memcmp(p, m->p, m->len) != 0 ||
	    p[len] != '\n')
		return 0;
	buf_reset(recs);
	buf_put(recs, p + len + 1, rl);
	return 1;
}

/*
 * Look the request m up.  Returns 1 with its records in recs on a hit,
 * 0 on a miss (an entry that is not this request's, or unreadable, is a
 * miss).
 */
int
cache_get(const struct cache *c, const struct buf *m, struct buf *recs)
{
	struct buf path = { 0 }, f = { 0 };
	ssize_t n = 0;
	int fd, hit = 0;

	entry_path(c, m, &path);
	if ((fd = open(path.p, O_RDONLY)) >= 0) {
		for (;;) {
			if (buf_grow(&f, 65536) < 0)
				break;
			if ((n = read(fd, f.p + f.len, 65536)) <= 0)
				break;
			f.len += (size_t)n;
		}
		close(fd);
		hit = n == 0 && cache_match(f.p, f.len, m, recs);
	}
	buf_free(&path);
	buf_free(&f);
	return hit;
}

/* Store the records of request m.  A failure to store only warns: the
 * answer itself has been written. */
void
cache_put(const struct cache *c, const struct buf *m, const struct buf *recs)
{
	struct buf path = { 0 }, tmp = { 0 }, f = { 0 };
	char head[64], *slash;
	int fd;

	entry_path(c, m, &path);
	slash = strrchr(path.p, '/');
	*slash = '\0';
	if (mkdir(c->dir, 0777) < 0 && errno != EEXIST)
		goto fail;
	if (mkdir(path.p, 0777) < 0 && errno != EEXIST)
		goto fail;
	*slash = '/';
	buf_put(&tmp, path.p, path.len);
	snprintf(head, sizeof head, ".%ld.tmp", (long)getpid());
	buf_puts(&tmp, head);
	if ((fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC, 0666)) < 0)
		goto fail;
	cache_entry(&f, m, recs);
	if (io_write_all(fd, f.p, f.len) < 0 || fsync(fd) < 0) {
		close(fd);
		unlink(tmp.p);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp.p, path.p) < 0) {
		unlink(tmp.p);
		goto fail;
	}
	buf_free(&path);
	buf_free(&tmp);
	buf_free(&f);
	return;
fail:
	warn("cannot write the cache entry '%s'", path.p);
	buf_free(&path);
	buf_free(&tmp);
	buf_free(&f);
}
