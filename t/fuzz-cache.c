/*
 * fuzz-cache.c: libFuzzer target for cache entries (cache.c) and their
 * replay (out.c), in memory.
 *
 * An input that starts as an entry does ("vmanjl-cache ") is the file
 * that cache_get() would read under the name of one request; its size
 * modulo 3 picks the request (a chat, a poll, a request larger than a
 * read), so that entries of the others are seen too.  cache_match()
 * judges it.  Any other input is the records part of an entry: it is
 * put into one with cache_entry(), which must match.  The records of a
 * hit are replayed with out_replay() in both output formats, as a
 * cache hit is.  LLVMFuzzerInitialize() puts and gets one entry on disk
 * (cache_put(), cache_get()), once.
 *
 * Invariants (the shared checks are t/fuzz.h's): a hit's records are
 * the entry's tail, after the request's own bytes; the entry
 * cache_entry() makes of a request and records is a hit with those
 * records; out_replay() either returns -1 having written nothing, or
 * writes records each of which is one line of a JSON object that starts
 * as vmanjl starts a record of a known type (with the new line and
 * custom_id), or in the Batch format as a Batch record.  No crash, no
 * leak, no exit.
 */
#include <sys/stat.h>

#define FUZZ_NAME "fuzz-cache"
#include "fuzz.h"

#define N 3
#define BIG 140000		/* more than cache_get()'s first buffer */
#define MAGIC "vmanjl-cache "

static struct buf material[N];

/* The requests; and one entry put and got on disk. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct buf recs = { 0 }, got = { 0 }, big = { 0 };
	struct cache c;
	char dir[512];
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
	buf_puts(&recs, "response\t,\"status\":200,\"body\":{}}\n");
	fuzz_tmpdir(dir, sizeof dir);
	c.dir = dir;
	c.mode = CACHE_RW;
	for (i = 0; i < N; i++) {
		cache_put(&c, &material[i], &recs);
		if (!cache_get(&c, &material[i], &got))
			fuzz_fail("an entry put is not got back", NULL, 0);
		fuzz_same(&got, &recs, "an entry got is not the one put");
	}
	fuzz_rmdir(dir);
	buf_free(&recs);
	buf_free(&got);
	buf_free(&big);
	return 0;
}

/* Every record in b starts as out.c starts one of a known type for
 * line 8 and custom_id 12, in format fmt. */
static void
check_starts(const struct buf *b, int fmt)
{
	static const char *types[] = {
		"delta", "event", "progress", "response", "error", NULL
	};
	static const char batch[] =
	    "{\"id\":\"vmanjl_req_8\",\"custom_id\":12,";
	const char *p = b->p, *end = p ? p + b->len : p, *nl;
	char head[64];
	size_t i, n;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (fmt == FMT_BATCH) {
			n = sizeof batch - 1;
			if ((size_t)(nl - p) < n || memcmp(p, batch, n))
				fuzz_fail("a replayed Batch record does not "
				    "start as one", p, (size_t)(nl - p));
			continue;
		}
		for (i = 0; types[i]; i++) {
			n = (size_t)snprintf(head, sizeof head, "{\"type\":"
			    "\"%s\",\"line\":8,\"custom_id\":12", types[i]);
			if ((size_t)(nl - p) >= n && memcmp(p, head, n) == 0)
				break;
		}
		if (!types[i])
			fuzz_fail("a replayed record is not of a known type",
			    p, (size_t)(nl - p));
	}
}

/* Replay recs in both formats, as a cache hit does. */
static void
replay(const struct buf *recs)
{
	struct outreq o;
	struct out out;
	int fmt, rc;

	for (fmt = FMT_VMANJL; fmt <= FMT_BATCH; fmt++) {
		out_init(&out, fmt, 0);
		out.fd = -1;		/* records are checked, never written */
		memset(&o, 0, sizeof o);
		o.line = 8;
		o.nevents = -1;
		buf_puts(&o.cid, "12");
		buf_puts(&o.request_id, "\"before\"");
		rc = out_replay(&out, &o, recs);
		if (rc != 0 && rc != -1)
			fuzz_fail("out_replay returned neither 0 nor -1",
			    recs->p, recs->len);
		if (rc < 0 && (out.buf.len || o.held.len || o.evq.len ||
		    strcmp(o.request_id.p, "\"before\"") != 0))
			fuzz_fail("out_replay refused an entry but wrote",
			    out.buf.p, out.buf.len);
		if (o.held.len || o.evq.len)
			fuzz_fail("a replay left records waiting", recs->p,
			    recs->len);
		fuzz_check_json(&o.request_id, "a replayed request id is not "
		    "JSON");
		check_starts(&out.buf, fmt);
		fuzz_check_records(&out.buf, NULL);
		buf_free(&o.cid);
		buf_free(&o.request_id);
		out_free(&out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f = (const char *)data;
	const struct buf *m = &material[size % N];
	struct buf recs = { 0 }, entry = { 0 }, again = { 0 };
	size_t off;

	if (size >= strlen(MAGIC) && memcmp(f, MAGIC, strlen(MAGIC)) == 0) {
		/* An entry as read from the disk. */
		if (!cache_match(f, size, m, &recs))
			goto out;
		/* The records are the file's tail, after the request. */
		if (recs.len > size || recs.len + m->len + 1 > size)
			fuzz_fail("a hit with more bytes than the file has",
			    f, size);
		off = size - recs.len;
		if (recs.len && memcmp(recs.p, f + off, recs.len) != 0)
			fuzz_fail("a hit's records are not the file's tail",
			    f, size);
		if (memcmp(f + off - 1 - m->len, m->p, m->len) != 0)
			fuzz_fail("a hit whose request is not this one", f,
			    size);
	} else
		buf_put(&recs, f, size);

	/* The entry vmanjl would write for them is a hit with them. */
	cache_entry(&entry, m, &recs);
	if (!cache_match(entry.p, entry.len, m, &again))
		fuzz_fail("an entry cache_entry made is not a hit", entry.p,
		    entry.len);
	fuzz_same(&again, &recs, "an entry's records are not the ones put");
	replay(&recs);
out:
	buf_free(&recs);
	buf_free(&entry);
	buf_free(&again);
	return 0;
}
