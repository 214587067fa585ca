/*
 * fuzz-sse.c: libFuzzer target for the SSE push parser (sse.c).
 *
 * The input is a byte stream from a server.  It is parsed three ways:
 * whole, one byte at a time, and in pieces whose sizes come from the
 * input's own bytes (with empty feeds among them).  Each piece is a
 * separate allocation of its exact size, so ASan sees a read past a feed.
 *
 * The shared checks are t/fuzz.h's.
 *
 * Invariants: every way gives the same events (type, data, id) and the
 * same sse_end() result; the bytes sse_data() gave for an event are its
 * data exactly; no data bytes are given outside an event with data; when
 * sse_end() says nothing was thrown away, no data bytes are pending.
 */
#define FUZZ_NAME "fuzz-sse"
#include "fuzz.h"

struct run {
	struct buf events;	/* every event, rendered length-prefixed */
	struct buf data;	/* sse_data bytes since the last dispatch */
	size_t nevents;
};

static void
fail(const char *what)
{
	fuzz_fail(what, NULL, 0);
}

static void
put_field(struct buf *b, const char *p, size_t n)
{
	char num[32];

	snprintf(num, sizeof num, "%zu:", n);
	buf_puts(b, num);
	buf_put(b, p, n);
}

static int
on_data(void *ctx, const char *p, size_t n)
{
	struct run *r = ctx;

	if (n == 0)
		fail("sse_data called with no bytes");
	buf_put(&r->data, p, n);
	return 1;
}

static int
on_event(void *ctx, const struct sse_event *ev)
{
	struct run *r = ctx;

	if (!ev->type || !ev->data || !ev->id)
		fail("an event with a NULL pointer");
	if (ev->type_len == 0)
		fail("an event with an empty type");
	if (ev->data_len != r->data.len ||
	    (ev->data_len && memcmp(ev->data, r->data.p, ev->data_len) != 0))
		fail("sse_data bytes differ from the event's data");
	if (memchr(ev->id, '\0', ev->id_len))
		fail("an event id with a NUL byte");
	put_field(&r->events, ev->type, ev->type_len);
	put_field(&r->events, ev->data, ev->data_len);
	put_field(&r->events, ev->id, ev->id_len);
	buf_putc(&r->events, '\n');
	buf_reset(&r->data);
	r->nevents++;
	return 1;
}

static const struct sse_callbacks callbacks = { on_data, on_event };

/* Feed p[0..n) as a copy of its own, so a read past it is caught. */
static void
feed(struct sse *p, const uint8_t *s, size_t n)
{
	char *copy = malloc(n ? n : 1);

	if (!copy)
		abort();
	memcpy(copy, s, n);
	if (sse_feed(p, copy, n) != 0)
		fail("sse_feed failed although no callback said stop");
	free(copy);
}

/* Parse the whole input in pieces; step(i) says how long piece i is
 * (0: an empty feed).  Leaves the events in r and returns sse_end(). */
static int
parse(const uint8_t *data, size_t size, struct run *r,
    size_t (*step)(const uint8_t *, size_t, size_t))
{
	struct sse *p = sse_new(&callbacks, r);
	size_t off = 0, i = 0, n;
	int end;

	if (!p)
		abort();
	while (off < size) {
		n = step(data, size, i++);
		if (n > size - off)
			n = size - off;
		feed(p, data + off, n);
		off += n;
	}
	end = sse_end(p);
	if (end != 0 && end != 1)
		fail("sse_end returned neither 0 nor 1");
	if (!end && r->data.len)
		fail("data bytes given to no event, yet sse_end says 0");
	/* The parser is reusable: after sse_reset, an empty stream. */
	sse_reset(p);
	if (sse_end(p) != 0)
		fail("sse_end after sse_reset is not 0");
	sse_free(p);
	return end;
}

static size_t
whole(const uint8_t *data, size_t size, size_t i)
{
	(void)data;
	(void)i;
	return size;
}

static size_t
bytewise(const uint8_t *data, size_t size, size_t i)
{
	(void)data;
	(void)size;
	(void)i;
	return 1;
}

/* Piece sizes read from the input itself: 0..31, so empty feeds, CRs
 * and BOMs at piece edges all happen. */
static size_t
own(const uint8_t *data, size_t size, size_t i)
{
	return size ? (size_t)(data[(i * 7) % size] & 0x1f) + (i % 5 == 0) :
	    1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a = { 0 }, b = { 0 }, c = { 0 };
	int ea, eb, ec;

	ea = parse(data, size, &a, whole);
	eb = parse(data, size, &b, bytewise);
	ec = parse(data, size, &c, own);
	if (ea != eb || ea != ec)
		fail("sse_end differs with the split");
	if (a.nevents != b.nevents || a.nevents != c.nevents)
		fail("the number of events differs with the split");
	fuzz_same(&a.events, &b.events, "the events differ fed bytewise");
	fuzz_same(&a.events, &c.events, "the events differ fed in pieces");
	buf_free(&a.events);
	buf_free(&a.data);
	buf_free(&b.events);
	buf_free(&b.data);
	buf_free(&c.events);
	buf_free(&c.data);
	return 0;
}
