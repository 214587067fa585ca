/*
 * fuzz-resume.c: libFuzzer target for --resume (resume.c), which reads
 * an earlier output file back: records of both output formats, a torn
 * last line, or anything a user points it at.
 *
 * The input is that file, followed by one more line: a response record
 * of known custom_id.  Invariants: resume_load() reads any file without
 * a crash or a leak, and that last response is among the requests done.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../vmanjl.h"

#define SENTINEL "{\"type\":\"response\",\"line\":9,\"custom_id\":" \
	"\"fuzz-sentinel\",\"status\":200,\"body\":{},\"attempts\":1}\n"

static char path[512];	/* the file, as resume_load() opens it */
static int fd = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyset *k;
	off_t end = (off_t)size;

	if (fd < 0) {
		/* A file of no name, that resume_load() opens by path. */
		const char *tmp = getenv("TMPDIR");

		snprintf(path, sizeof path, "%s/vmanjl-fuzz-resume.XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		if ((fd = mkstemp(path)) < 0 || unlink(path) < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (size && data[size - 1] != '\n' && pwrite(fd, "\n", 1, end++) != 1)
		abort();
	if (pwrite(fd, SENTINEL, strlen(SENTINEL), end) !=
	    (ssize_t)strlen(SENTINEL))
		abort();
	k = resume_load(path);
	if (!resume_keyset_has(k, "c\"fuzz-sentinel\"")) {
		fprintf(stderr, "fuzz-resume: invariant broken: the last "
		    "response record is not among the requests done\n");
		abort();
	}
	resume_keyset_free(k);
	return 0;
}
