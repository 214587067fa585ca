/*
 * mock-buf.c: the growable buffer of t/mockvman, for requests read,
 * answers made and the statistics kept.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/* Make room for n more bytes plus a NUL; -1 when impossible, the buffer
 * left as it was. */
int
buf_try(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (n > SIZE_MAX / 4 - b->len)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Output buffers belong to the server: running out of memory is fatal. */
void
buf_grow(struct buf *b, size_t n)
{
	if (buf_try(b, n) < 0)
		errx(2, "out of memory");
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addu(struct buf *b, unsigned long long v)
{
	char t[24], *p = t + sizeof t;

	do
		*--p = '0' + v % 10;
	while (v /= 10);
	buf_add(b, p, t + sizeof t - p);
}

void
buf_addi(struct buf *b, long long v)
{
	if (v < 0) {
		buf_add(b, "-", 1);
		buf_addu(b, -(unsigned long long)v);
	} else
		buf_addu(b, v);
}

/* Empty a buffer; give its memory back when an answer made it big. */
void
buf_trim(struct buf *b, size_t keep)
{
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
