/*
 * pace.c: when the next request may start, so that no 60-second window
 * holds more than --rpm starts or more than --tpm estimated tokens, no
 * second more than a second's share of either (relays enforce their
 * per-minute limits over shorter slices, so a burst draws 429s), and
 * nothing starts while the server's 429 says to wait.
 */
#include <stdlib.h>
#include <string.h>

#include "vmanjl.h"

#define WINDOW 60000		/* ms */
#define SLICE 1000		/* ms: the window of a second's share */

void
pace_init(struct pace *p, long rpm, long tpm)
{
	memset(p, 0, sizeof *p);
	p->rpm = rpm;
	p->tpm = tpm;
	if (rpm)
		p->starts = xcalloc((size_t)rpm, sizeof *p->starts);
}

void
pace_free(struct pace *p)
{
	free(p->starts);
	free(p->tok_t);
	free(p->tok_n);
}

/* The tokens a request may use: its text as chars/4, plus the
 * completion it asks for at most. */
long long
pace_tokens(const char *body, size_t len)
{
	struct jpick pk[2] = {
		{ .path = "max_tokens" }, { .path = "max_completion_tokens" }
	};
	struct buf msg = { 0 };
	long long n = 0, m;

	if (!body)
		return 0;
	if (json_compact(body, len, NULL, pk, 2, &msg) == 0 &&
	    ((m = json_int(&pk[0].val)) > 0 || (m = json_int(&pk[1].val)) > 0))
		n = m;
	json_picks_free(pk, 2);
	buf_free(&msg);
	return count_add(n, json_text_chars(body, len) / 4);
}

/* The k-th start before the next one (k >= 1), or -1 when fewer. */
static long long
start_back(const struct pace *p, size_t k)
{
	if (k > p->nstart || k > (size_t)p->rpm)
		return -1;
	return p->starts[(p->nstart - k) % p->rpm];
}

/*
 * When may tok more tokens start at t or later, so that the starts of
 * the last `window` ms hold at most limit tokens (a request larger than
 * limit starts once the window is empty of others)?
 */
static long long
tokens_fit(const struct pace *p, long long tok, long long t,
    long long window, long long limit)
{
	long long sum = 0;
	size_t i, k;

	for (i = 0; i < p->len; i++) {
		k = (p->head + i) % p->cap;
		if (p->tok_t[k] + window > t)
			sum += p->tok_n[k];
	}
	/* Drop the oldest starts in the window until these tokens fit. */
	for (i = 0; i < p->len && sum > 0 && sum + tok > limit; i++) {
		k = (p->head + i) % p->cap;
		if (p->tok_t[k] + window <= t)
			continue;
		t = p->tok_t[k] + window;
		sum -= p->tok_n[k];
	}
	return t;
}

/* When may a request of tok tokens start: now, or later. */
long long
pace_when(const struct pace *p, long long tok, long long now)
{
	long long t = now > p->cool_until ? now : p->cool_until, s;
	size_t share;

	/* Larger than the limit waits as long as the limit would. */
	if (p->tpm && tok > p->tpm)
		tok = p->tpm;
	if (p->rpm) {
		/* The rpm-th start before this one must be a minute old,
		 * the share-th a second old. */
		share = p->rpm / 60 > 1 ? (size_t)p->rpm / 60 : 1;
		if ((s = start_back(p, (size_t)p->rpm)) >= 0 &&
		    s + WINDOW > t)
			t = s + WINDOW;
		if ((s = start_back(p, share)) >= 0 && s + SLICE > t)
			t = s + SLICE;
	}
	if (!p->tpm)
		return t;
	t = tokens_fit(p, tok, t, WINDOW, p->tpm);
	return tokens_fit(p, tok, t, SLICE, p->tpm / 60 > 1 ? p->tpm / 60 : 1);
}

/* A request of tok tokens starts at now. */
void
pace_start(struct pace *p, long long tok, long long now)
{
	size_t k, i, cap;
	long long *t, *n;

	if (p->rpm)
		p->starts[p->nstart++ % p->rpm] = now;
	if (!p->tpm)
		return;
	if (tok > p->tpm)
		tok = p->tpm;
	while (p->len && p->tok_t[p->head] + WINDOW <= now) {
		p->sum -= p->tok_n[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
	}
	if (p->len == p->cap) {
		cap = p->cap ? 2 * p->cap : 64;
		t = xcalloc(cap, sizeof *t);
		n = xcalloc(cap, sizeof *n);
		for (i = 0; i < p->len; i++) {
			t[i] = p->tok_t[(p->head + i) % p->cap];
			n[i] = p->tok_n[(p->head + i) % p->cap];
		}
		free(p->tok_t);
		free(p->tok_n);
		p->tok_t = t;
		p->tok_n = n;
		p->cap = cap;
		p->head = 0;
	}
	k = (p->head + p->len++) % p->cap;
	p->tok_t[k] = now;
	p->tok_n[k] = tok;
	p->sum += tok;
}

/* A 429 says: nobody starts before until. */
void
pace_cool(struct pace *p, long long until)
{
	if (until > p->cool_until)
		p->cool_until = until;
}
