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
		if (!out_secret(headers->data)) {	/* never stored */
			buf_puts(m, headers->data);
			buf_putc(m, '\n');
		}
	buf_putc(m, '\n');
	if (body)
		buf_put(m, body, len);
}

/* FNV-1a, twice over with other offsets: 128 bits of name. */
static void
entry_path(const struct cache *c, const struct buf *m, struct buf *path)
{
	unsigned long long h1 = 0xcbf29ce484222325ULL;
	unsigned long long h2 = 0x84222325cbf29ce4ULL;
	char name[64];
	size_t i;

	for (i = 0; i < m->len; i++) {
		h1 = (h1 ^ (unsigned char)m->p[i]) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)m->p[i]) * 0x100000001b3ULL;
		h2 ^= h2 >> 29;
	}
	buf_reset(path);
	buf_puts(path, c->dir);
	snprintf(name, sizeof name, "/%02x/%016llx%016llx", (unsigned)(h1 >> 56),
	    h1, h2);
	buf_puts(path, name);
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
	char *end;
	ssize_t n = 0;
	size_t len, rl, hl;
	int fd, hit = 0;

	entry_path(c, m, &path);
	if ((fd = open(path.p, O_RDONLY)) < 0)
		goto out;
	for (;;) {
		if (buf_grow(&f, 65536) < 0)
			break;
		if ((n = read(fd, f.p + f.len, 65536)) <= 0)
			break;
		f.len += (size_t)n;
	}
	close(fd);
	/* "vmanjl-cache 1 <request bytes> <records bytes>\n": an entry
	 * of any other length is not one. */
	if (n < 0 || f.len < strlen(MAGIC) ||
	    memcmp(f.p, MAGIC, strlen(MAGIC)) != 0)
		goto out;
	/* Two unsigned numbers; every length checked before it is used. */
	if (f.p[strlen(MAGIC)] < '0' || f.p[strlen(MAGIC)] > '9')
		goto out;
	len = strtoul(f.p + strlen(MAGIC), &end, 10);
	if (*end != ' ' || end[1] < '0' || end[1] > '9')
		goto out;
	rl = strtoul(end + 1, &end, 10);
	if (*end != '\n')
		goto out;
	hl = (size_t)(end + 1 - f.p);
	if (hl + 1 > f.len || len != m->len || len > f.len - hl - 1 ||
	    rl != f.len - hl - len - 1 ||
	    memcmp(f.p + hl, m->p, m->len) != 0 || f.p[hl + len] != '\n')
		goto out;
	buf_reset(recs);
	buf_put(recs, f.p + hl + len + 1, rl);
	hit = 1;
out:
	buf_free(&path);
	buf_free(&f);
	return hit;
}

/* Store the records of request m.  A failure to store only warns: the
 * answer itself has been written. */
void
cache_put(const struct cache *c, const struct buf *m, const struct buf *recs)
{
	struct buf path = { 0 }, tmp = { 0 };
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
	snprintf(head, sizeof head, MAGIC "%zu %zu\n", m->len, recs->len);
	if (write_all(fd, head, strlen(head)) < 0 ||
	    write_all(fd, m->p, m->len) < 0 || write_all(fd, "\n", 1) < 0 ||
	    write_all(fd, recs->p, recs->len) < 0 || fsync(fd) < 0) {
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
	return;
fail:
	warn("cannot write the cache entry '%s'", path.p);
	buf_free(&path);
	buf_free(&tmp);
}
