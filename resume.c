/*
 * resume.c: --resume FILE, finishing an interrupted run.
 *
 * FILE is an earlier output.  Every request that has a terminal response
 * there, by its custom_id or, without one, by its line number, is done;
 * the others (no record, or an error) are sent again.  A torn last line,
 * from a run killed in the middle of a write, is not a record and is
 * ignored.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmanjl.h"

/* A set of keys ("c" + custom_id JSON, or "l" + line), each with the
 * line that put it there; open addressing. */
struct keyset {
	char **keys;
	unsigned long *lines;
	size_t n, cap;
};

static unsigned long long
hash(const char *s)
{
	return buf_hash(s, strlen(s), 0xcbf29ce484222325ULL, 0);
}

/* Add key; returns 0 when it was new, else the line it came with. */
unsigned long
resume_keyset_add(struct keyset *k, const char *key,
    unsigned long line)
{
	size_t i, cap;
	char **keys;
	unsigned long *lines;

	if (2 * (k->n + 1) > k->cap) {
		cap = k->cap ? 2 * k->cap : 1024;
		keys = xcalloc(cap, sizeof *keys);
		lines = xcalloc(cap, sizeof *lines);
		for (i = 0; i < k->cap; i++) {
			size_t j;

			if (!k->keys[i])
				continue;
			for (j = hash(k->keys[i]) & (cap - 1); keys[j];
			    j = (j + 1) & (cap - 1))
				;
			keys[j] = k->keys[i];
			lines[j] = k->lines[i];
		}
		free(k->keys);
		free(k->lines);
		k->keys = keys;
		k->lines = lines;
		k->cap = cap;
	}
	for (i = hash(key) & (k->cap - 1); k->keys[i];
	    i = (i + 1) & (k->cap - 1))
		if (strcmp(k->keys[i], key) == 0)
			return k->lines[i] ? k->lines[i] : 1;
	k->keys[i] = xstrdup(key);
	k->lines[i] = line;
	k->n++;
	return 0;
}

int
resume_keyset_has(const struct keyset *k, const char *key)
{
	size_t i;

	if (!k || !k->cap)
		return 0;
	for (i = hash(key) & (k->cap - 1); k->keys[i];
	    i = (i + 1) & (k->cap - 1))
		if (strcmp(k->keys[i], key) == 0)
			return 1;
	return 0;
}

struct keyset *
resume_keyset_new(void)
{
	return xcalloc(1, sizeof(struct keyset));
}

void
resume_keyset_free(struct keyset *k)
{
	size_t i;

	if (!k)
		return;
	for (i = 0; i < k->cap; i++)
		free(k->keys[i]);
	free(k->keys);
	free(k->lines);
	free(k);
}

/* The key of a request: its custom_id (JSON), else its line number. */
void
resume_key(struct buf *key, const struct buf *cid, unsigned long line)
{
	char num[32];

	buf_reset(key);
	if (cid->len) {
		buf_putc(key, 'c');
		buf_put(key, cid->p, cid->len);
	} else {
		snprintf(num, sizeof num, "l%lu", line);
		buf_puts(key, num);
	}
}

/* Is the record rec[0..n) a terminal success?  Returns 1 with its key
 * in key when it is.  Reads both the vmanjl records and the Batch API's. */
int
resume_done(const char *rec, size_t n, struct buf *key, struct buf *msg)
{
	enum { TYPE, CID, LINE, ID, STATUS, ERROR, NPICK };
	struct jpick pk[NPICK] = {
		{ .path = "type" }, { .path = "custom_id" }, { .path = "line" },
		{ .path = "id" }, { .path = "response.status_code" },
		{ .path = "error" }
	};
	struct buf cid = { 0 };
	long long line = -1, st;
	int done = 0;

	if (json_compact(rec, n, NULL, pk, NPICK, msg) < 0)
		goto out;
	if (pk[TYPE].val.len) {
		done = strcmp(pk[TYPE].val.p, "\"response\"") == 0;
		line = json_int(&pk[LINE].val);
	} else if (pk[ID].val.len > 13 &&
	    strncmp(pk[ID].val.p, "\"vmanjl_req_", 12) == 0) {
		st = json_int(&pk[STATUS].val);
		done = st >= 200 && st < 300 && (!pk[ERROR].val.len ||
		    strcmp(pk[ERROR].val.p, "null") == 0);
		line = strtoll(pk[ID].val.p + 12, NULL, 10);
	}
	if (done && pk[CID].val.len && strcmp(pk[CID].val.p, "null") != 0)
		buf_put(&cid, pk[CID].val.p, pk[CID].val.len);
	if (done)
		resume_key(key, &cid, line > 0 ? (unsigned long)line : 0);
out:
	json_picks_free(pk, NPICK);
	buf_free(&cid);
	return done;
}

/*
 * Read the earlier output file: the set of requests done.  When the
 * standard output is that very file (vmanjl --resume out >> out) and it
 * ends in a torn line, the torn part is cut off so that new records
 * start on a line of their own.
 */
struct keyset *
resume_load(const char *file)
{
	struct keyset *k = resume_keyset_new();
	struct buf b = { 0 }, key = { 0 }, msg = { 0 };
	struct stat a, o;
	size_t off = 0, whole = 0;
	char *nl;
	ssize_t n;
	int fd;

	if ((fd = open(file, O_RDONLY)) < 0) {
		if (errno == ENOENT)
			return k;	/* nothing done yet */
		err(2, "cannot open '%s'", file);
	}
	for (;;) {
		if (buf_grow(&b, 65536) < 0)
			err(2, "out of memory");
		if ((n = read(fd, b.p + b.len, 65536)) < 0)
			err(2, "cannot read '%s'", file);
		if (n == 0)
			break;
		b.len += (size_t)n;
		while ((nl = memchr(b.p + off, '\n', b.len - off))) {
			if (resume_done(b.p + off, (size_t)(nl - b.p) - off,
			    &key, &msg))
				resume_keyset_add(k, key.p, 1);
			off = (size_t)(nl - b.p) + 1;
		}
		/* Keep only the partial line. */
		whole += off;
		memmove(b.p, b.p + off, b.len - off);
		b.len -= off;
		off = 0;
	}
	if (b.len && fstat(fd, &a) == 0 && fstat(1, &o) == 0 &&
	    a.st_dev == o.st_dev && a.st_ino == o.st_ino) {
		warnx("'%s' ends in a torn line: cutting it off", file);
		if (ftruncate(1, (off_t)whole) < 0)
			err(2, "cannot cut the torn line off '%s'", file);
	}
	close(fd);
	buf_free(&b);
	buf_free(&key);
	buf_free(&msg);
	return k;
}
