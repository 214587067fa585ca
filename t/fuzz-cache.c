/*
 * fuzz-cache.c: libFuzzer target for reading cache entries (cache.c).
 *
 * The input is the file that cache_get() finds under the name of one
 * request: a whole entry, a torn or foreign one, or garbage.  Its size
 * modulo 3 picks the request (a chat, a poll, a request larger than a
 * read), so that entries of the others are seen too.
 *
 * Invariants: cache_get() never crashes, leaks or exits; on a hit the
 * records it gives are the file's tail, after the request's own bytes;
 * an entry cache_put() wrote is a hit with the records that were put.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../vmanjl.h"

#define N 3
#define BIG 140000		/* more than cache_get()'s first buffer */

static char dir[N][512];	/* a cache of one entry per request */
static struct cache cache[N];
static struct buf material[N];
static struct buf entry[N];	/* the path of that entry */

/* vmanjl.c's, which out.c (for out_secret) needs. */
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
fail(const char *what)
{
	fprintf(stderr, "fuzz-cache: invariant broken: %s\n", what);
	abort();
}

/* The one file under d, or in a directory under d. */
static int
only_file(const char *d, struct buf *path)
{
	struct dirent *e;
	struct stat st;
	DIR *dp;
	size_t n = path->len;
	int found = 0;

	if (!(dp = opendir(d)))
		return 0;
	while (!found && (e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		path->len = n;
		buf_putc(path, '/');
		buf_puts(path, e->d_name);
		if (stat(path->p, &st) < 0)
			continue;
		found = S_ISREG(st.st_mode) ||
		    (S_ISDIR(st.st_mode) && only_file(path->p, path));
	}
	closedir(dp);
	return found;
}

static void
cleanup(void)
{
	char cmd[600];
	int i;

	for (i = 0; i < N; i++) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir[i]);
		if (dir[i][0] && system(cmd) != 0)
			fprintf(stderr, "fuzz-cache: cannot remove %s\n",
			    dir[i]);
	}
}

/* Put an entry for each request, and learn where it went. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct buf recs = { 0 }, got = { 0 }, big = { 0 };
	const char *tmp = getenv("TMPDIR");
	int i;

	(void)argc;
	(void)argv;
	buf_puts(&big, "{\"input\":\"");
	while (big.len < BIG)
		buf_puts(&big, "xxxxxxxxxxxxxxxx");
	buf_puts(&big, "\"}");
	cache_material(&material[0], NULL, "http://127.0.0.1:9/v1/chat/"
	    "completions", NULL, "{\"model\":\"m\"}", 13);
	cache_material(&material[1], "GET", "http://127.0.0.1:9/mj/task/"
	    "x/fetch", NULL, NULL, 0);
	cache_material(&material[2], NULL, "http://127.0.0.1:9/v1/embeddings",
	    NULL, big.p, big.len);
	buf_puts(&recs, "response\t,\"status\":200,\"body\":{}\n");
	atexit(cleanup);
	for (i = 0; i < N; i++) {
		/* A crash leaves it behind: fuzz.sh sets TMPDIR. */
		snprintf(dir[i], sizeof dir[i], "%s/vmanjl-fuzz-cache.XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir[i]))
			abort();
		cache[i].dir = dir[i];
		cache[i].mode = CACHE_RW;
		cache_put(&cache[i], &material[i], &recs);
		if (!cache_get(&cache[i], &material[i], &got) ||
		    got.len != recs.len || memcmp(got.p, recs.p, recs.len))
			fail("an entry put is not got back");
		buf_puts(&entry[i], dir[i]);
		if (!only_file(dir[i], &entry[i]))
			fail("cache_put wrote no file");
	}
	buf_free(&recs);
	buf_free(&got);
	buf_free(&big);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int i = (int)(size % N);
	const struct buf *m = &material[i];
	struct buf recs = { 0 };
	FILE *f;
	size_t off;

	if (!(f = fopen(entry[i].p, "w")) ||
	    fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	if (cache_get(&cache[i], m, &recs)) {
		/* The records are the file's tail, after the request. */
		if (recs.len > size || recs.len + m->len + 1 > size)
			fail("a hit with more bytes than the file has");
		off = size - recs.len;
		if (recs.len && memcmp(recs.p, data + off, recs.len) != 0)
			fail("a hit's records are not the file's tail");
		if (memcmp(data + off - 1 - m->len, m->p, m->len) != 0)
			fail("a hit whose request is not this one");
	}
	buf_free(&recs);
	return 0;
}
