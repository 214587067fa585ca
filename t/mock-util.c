/*
 * mock-util.c: the small helpers (clocks, hashes, strings) of
 * t/mockvman.
 * What it answers: t/mockvman.md.
 */
#include <ctype.h>
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mock.h"

int64_t
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
util_clamp(long long v, long long lo, long long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Number of space-separated words, the mock's idea of a token count. */
unsigned long long
util_words(const char *s)
{
	unsigned long long n = 0;
	int in = 0;

	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			in = 0;
		else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

uint64_t
util_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

int
util_path_is(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

char *
util_strdup(const char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	if ((p = malloc(n)) == NULL)
		errx(2, "out of memory");
	memcpy(p, s, n);
	return p;
}

int
util_nonempty(const char *s)
{
	return s != NULL && *s != '\0';
}

long long
util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms since the epoch as 2024-01-02T03:04:05.678Z. */
void
util_iso_time(char *out, size_t osz, long long ms)
{
	time_t t = ms / 1000;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, osz, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, osz - n, ".%03dZ", (int)(ms % 1000));
}

/* Does s hold the word w, case-insensitively, not inside a longer
 * word?  ("fail" in "please fail now", not in "failure".) */
int
util_has_word(const char *s, const char *w)
{
	size_t n = strlen(w);
	const char *p;

	for (p = s; p && *p; p++)
		if (strncasecmp(p, w, n) == 0 &&
		    (p == s || !isalnum((unsigned char)p[-1])) &&
		    !isalnum((unsigned char)p[n]))
			return 1;
	return 0;
}

unsigned
util_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A deterministic uuid-shaped string made from n. */
void
util_uuid(char *out, size_t osz, unsigned long long n)
{
	uint64_t a = util_mix64(n), b = util_mix64(n ^ 0x5bd1e995ULL);

	snprintf(out, osz, "%08x-%04x-4%03x-8%03x-%012llx",
	    (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xfff, (unsigned)(b >> 48) & 0xfff,
	    (unsigned long long)(b & 0xffffffffffffULL));
}

int
util_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 32;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}
