/*
 * buf.c: the one growable buffer type, and checked allocation.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "vmanjl.h"

/* Make room for n more bytes plus a NUL; 0 on success, -1 on overflow
 * or when memory is exhausted (the buffer is left as it was). */
int
buf_grow(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (n > SIZE_MAX - b->len - 1)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
	if (!(p = realloc(b->p, cap)))
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* The buf_put family appends or dies: for places where running out of
 * memory leaves nothing sensible to do but stop. */
void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (buf_add(b, p, n) < 0)
		err(2, "out of memory");
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void
buf_putc(struct buf *b, int c)
{
	char ch = (char)c;

	buf_put(b, &ch, 1);
}

/* Empty the buffer but keep its memory for reuse. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void *
xmalloc(size_t n)
{
	void *p;

	if (!(p = malloc(n ? n : 1)))
		err(2, "malloc");
	return p;
}

/* The array a of *n elements of sz bytes, grown (doubling, the new
 * elements zero) to hold index i; *n becomes its new length. */
void *
xgrow(void *a, size_t *n, size_t sz, size_t i)
{
	size_t m = *n ? *n : 4;
	char *p;

	if (i < *n)
		return a;
	while (m <= i)
		m *= 2;
	if (!(p = realloc(a, m * sz)))
		err(2, "out of memory");
	memset(p + *n * sz, 0, (m - *n) * sz);
	*n = m;
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void *p;

	if (!(p = calloc(n ? n : 1, m ? m : 1)))
		err(2, "calloc");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if (!(p = strdup(s)))
		err(2, "strdup");
	return p;
}

/*
 * FNV-1a over p[0..n), 64 bits, from offset basis seed; with mix, each
 * step also folds the high bits down (h ^= h >> 29).  For hash-table
 * slots and file names: 64 bits wide, not cryptographic.
 */
unsigned long long
buf_hash(const void *p, size_t n, unsigned long long seed, int mix)
{
	const unsigned char *s = p;
	unsigned long long h = seed;
	size_t i;

	for (i = 0; i < n; i++) {
		h = (h ^ s[i]) * 0x100000001b3ULL;
		if (mix)
			h ^= h >> 29;
	}
	return h;
}
