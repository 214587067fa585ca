/*
 * fuzz.h: the harness the libFuzzer targets t/fuzz-*.c share.  Each
 * target defines FUZZ_NAME and includes this file once; the program's
 * own code comes from the archive t/fuzz.sh builds, never from here.
 *
 * What it checks: a text is one JSON text (yajl, as a reader would
 * parse it); a buffer of records is whole lines, each a JSON object
 * (the output contract); a broken invariant aborts with the text, so
 * that libFuzzer keeps the input.  What it provides: a file of no name
 * in memory that the program can open by path (memfd), and a thread
 * with a small stack for code whose recursion grows with its input.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <sys/syscall.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "../vmanjl.h"

#ifndef FUZZ_NAME
#error "define FUZZ_NAME, the target's name, before including fuzz.h"
#endif

/* The checks are not the program: no coverage for them to count, and
 * none of the cost of counting it. */
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage")))

/* An invariant is broken: say which, show the text, and crash. */
FUZZ_NOCOV void
fuzz_fail(const char *what, const char *p, size_t n)
{
	fprintf(stderr, FUZZ_NAME ": invariant broken: %s\n", what);
	if (p)
		fprintf(stderr, "  the text: %.*s\n",
		    (int)(n > 4000 ? 4000 : n), p);
	abort();
}

/*
 * Is p[0..n) one JSON text, starting with first unless first is 0?
 * (yajl 2 takes a value followed by a string that never closes, "{}\"x",
 * as one: such a text ends inside a string.)
 */
FUZZ_NOCOV int
fuzz_is_json(const char *p, size_t n, int first)
{
	yajl_handle h;
	size_t i;
	int ok, in = 0;

	for (i = 0; i < n; i++)
		if (in && p[i] == '\\')
			i++;
		else if (p[i] == '"')
			in = !in;
	if (in)
		return 0;

	if (n == 0 || (first && p[0] != first))
		return 0;
	if (!(h = yajl_alloc(NULL, NULL, NULL)))
		abort();
	ok = yajl_parse(h, (const unsigned char *)p, n) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok;
}

/* b is empty or JSON. */
FUZZ_NOCOV void
fuzz_check_json(const struct buf *b, const char *what)
{
	if (b->len && !fuzz_is_json(b->p, b->len, 0))
		fuzz_fail(what, b->p, b->len);
}

/* Every record in b is one line of a JSON object; append them to all
 * (when not NULL) and empty b. */
FUZZ_NOCOV void
fuzz_check_records(struct buf *b, struct buf *all)
{
	const char *p = b->p, *end = p ? p + b->len : p, *nl;

	if (b->len && end[-1] != '\n')
		fuzz_fail("records do not end in a newline", b->p, b->len);
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!fuzz_is_json(p, (size_t)(nl - p), '{'))
			fuzz_fail("a record is not a JSON object", p,
			    (size_t)(nl - p));
	}
	if (all)
		buf_put(all, b->p, b->len);
	buf_reset(b);
}

/* Two runs that must agree made records a and b. */
FUZZ_NOCOV void
fuzz_same(const struct buf *a, const struct buf *b, const char *what)
{
	if (a->len != b->len || (a->len && memcmp(a->p, b->p, a->len) != 0)) {
		fprintf(stderr, FUZZ_NAME ": the other run: %.*s\n",
		    (int)(b->len > 4000 ? 4000 : b->len), b->p ? b->p : "");
		fuzz_fail(what, a->p, a->len);
	}
}

FUZZ_NOCOV void
fuzz_result_free(struct result *res)
{
	buf_free(&res->body);
	buf_free(&res->content);
	buf_free(&res->finish);
	buf_free(&res->usage);
	buf_free(&res->task);
	buf_free(&res->file);
	buf_free(&res->ctype);
}

/*
 * A file in memory, made once, that the program opens by its path
 * (/proc/self/fd/N) as it would a file on disk; fuzz_file_set() gives
 * it new contents for each input, with no disk write.  Returns the fd.
 */
FUZZ_NOCOV int
fuzz_file(char *path, size_t size)
{
	int fd = (int)syscall(SYS_memfd_create, FUZZ_NAME, 0);

	if (fd < 0) {
		perror(FUZZ_NAME ": memfd_create");
		abort();
	}
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return fd;
}

/* A new directory of the target's own under $TMPDIR, its path in dir. */
FUZZ_NOCOV void
fuzz_tmpdir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/vmanjl-" FUZZ_NAME ".XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror(FUZZ_NAME ": mkdtemp");
		abort();
	}
}

/* Remove the directory dir and all in it. */
FUZZ_NOCOV void
fuzz_rmdir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, FUZZ_NAME ": cannot remove %s\n", dir);
}

/* The memory file fd now holds a[0..an) then b[0..bn). */
FUZZ_NOCOV void
fuzz_file_set(int fd, const void *a, size_t an, const void *b, size_t bn)
{
	if (ftruncate(fd, 0) < 0 ||
	    pwrite(fd, a, an, 0) != (ssize_t)an ||
	    pwrite(fd, b, bn, (off_t)an) != (ssize_t)bn)
		abort();
}

/*
 * Run fn(arg) on a thread with a stack of stack bytes, so recursion that
 * grows with the input overflows within the input sizes libFuzzer tries,
 * as it would on a long line with the usual 8 MiB.
 */
FUZZ_NOCOV void
fuzz_on_stack(size_t stack, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	pthread_t t;

	if (pthread_attr_init(&a) != 0 ||
	    pthread_attr_setstacksize(&a, stack) != 0 ||
	    pthread_create(&t, &a, fn, arg) != 0 ||
	    pthread_join(t, NULL) != 0)
		abort();
	pthread_attr_destroy(&a);
}

#endif
