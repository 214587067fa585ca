/*
 * fuzz-resume.c: libFuzzer target for --resume (resume.c), which reads
 * an earlier output file back: records of both output formats, a torn
 * last line, or anything a user points it at.
 *
 * The input is that file, followed by one more line: a response record
 * of known custom_id.  Each line goes through resume_done() in memory,
 * and the keys of the requests done into a key set.  For one input in
 * LOAD the whole file is also read by resume_load(), from a file in
 * memory (t/fuzz.h's memfd, no disk).
 *
 * Invariants (the shared checks are t/fuzz.h's): resume_done() says 0
 * or 1 of any line, without a crash or a leak; the key of a request done
 * is its custom_id's JSON after a 'c', or its line number after an 'l';
 * the key set has every key added; the last response is among the
 * requests done; resume_load() finds the requests done that the lines
 * one by one do.
 */
#define FUZZ_NAME "fuzz-resume"
#include "fuzz.h"

#define SENTINEL "{\"type\":\"response\",\"line\":9,\"custom_id\":" \
	"\"fuzz-sentinel\",\"status\":200,\"body\":{},\"attempts\":1}\n"
#define LOAD 16

static char path[64];	/* the file, as resume_load() opens it */
static int fd = -1;

/* A key is 'c' and JSON, or 'l' and a decimal number. */
static void
check_key(const struct buf *key, const char *rec, size_t n)
{
	size_t i;

	if (key->len >= 2 && key->p[0] == 'c' &&
	    fuzz_is_json(key->p + 1, key->len - 1, 0))
		return;
	for (i = 1; i < key->len && key->p[i] >= '0' && key->p[i] <= '9';
	    i++)
		;
	if (key->len < 2 || key->p[0] != 'l' || i != key->len)
		fuzz_fail("a request done with a malformed key", rec, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyset *k = resume_keyset_new(), *loaded;
	struct buf file = { 0 }, key = { 0 }, msg = { 0 }, keys = { 0 };
	const char *p, *end, *nl, *q;
	int rc;

	buf_put(&file, data, size);
	if (size && data[size - 1] != '\n')
		buf_putc(&file, '\n');
	buf_puts(&file, SENTINEL);
	for (p = file.p, end = p + file.len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		rc = resume_done(p, (size_t)(nl - p), &key, &msg);
		if (rc != 0 && rc != 1)
			fuzz_fail("resume_done said neither 0 nor 1", p,
			    (size_t)(nl - p));
		if (!rc)
			continue;
		check_key(&key, p, (size_t)(nl - p));
		resume_keyset_add(k, key.p, 1);
		if (!resume_keyset_has(k, key.p))
			fuzz_fail("a key added is not in the set", key.p,
			    key.len);
		buf_put(&keys, key.p, key.len + 1);	/* NUL-ended */
	}
	if (!resume_keyset_has(k, "c\"fuzz-sentinel\""))
		fuzz_fail("the last response record is not among the "
		    "requests done", NULL, 0);
	if (size % LOAD == 0) {
		if (fd < 0)
			fd = fuzz_file(path, sizeof path);
		fuzz_file_set(fd, file.p, file.len, "", 0);
		loaded = resume_load(path);
		for (q = keys.p; q && q < keys.p + keys.len;
		    q += strlen(q) + 1)
			if (!resume_keyset_has(loaded, q))
				fuzz_fail("resume_load missed a request done",
				    q, strlen(q));
		resume_keyset_free(loaded);
	}
	resume_keyset_free(k);
	buf_free(&file);
	buf_free(&key);
	buf_free(&msg);
	buf_free(&keys);
	return 0;
}
