/*
 * io.c: what every stage needs of the system: the clock, writes that
 * survive short counts and signals, and the rule for which header lines
 * carry a credential.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "vmanjl.h"

/* Milliseconds on the monotonic clock: for intervals, never dates. */
long long
io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of p[0..n) to fd, across short writes; 0 or -1. */
int
io_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n) {
		if ((w = write(fd, s, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Does header line h ("Name: value") carry a credential?  Such values
 * are never written: not in -v traces, dry runs or the cache. */
int
io_secret_header(const char *h)
{
	static const char *names[] = {
		"authorization", "proxy-authorization", "x-api-key",
		"api-key", "mj-api-secret", NULL
	};
	size_t i, n = strcspn(h, ":");

	for (i = 0; names[i]; i++)
		if (strlen(names[i]) == n && strncasecmp(h, names[i], n) == 0)
			return 1;
	return 0;
}
