/*
 * sse.c: a push parser for server-sent events, after the WHATWG "event
 * stream interpretation" (html.spec.whatwg.org, server-sent-events).  It is
 * fed raw bytes in chunks of any size and does no I/O: a CR ending one chunk
 * and an LF starting the next are one line end, and a BOM may be split.
 *
 * Data values are streamed to the sse_data callback as their bytes arrive
 * and also collected, so sse_event gets the whole data of each event.
 *
 * Deliberate departures from the spec:
 * - bytes are not decoded as UTF-8: values pass through byte-exact (no
 *   U+FFFD for invalid sequences) and the BOM is matched as EF BB BF;
 * - the retry field is ignored: reconnecting is the caller's business;
 * - a field name longer than NAME_LEN bytes is taken for an unknown field
 *   and its line is skipped (no known field name is anywhere near that).
 */
#include <stdlib.h>
#include <string.h>

#include "vmanjl.h"

#define NAME_LEN	32
#define BOM_DONE	3	/* p->bom once the stream start is past */

enum line_state {
	L_NAME,		/* in the field name; name_len 0 at a line start */
	L_SPACE,	/* just after the colon: a space here is dropped */
	L_VALUE,	/* in the value of a data, event or id field */
	L_SKIP		/* comment, unknown or ignored field: skip the line */
};

enum field {
	F_UNKNOWN,
	F_DATA,
	F_EVENT,
	F_ID,
	F_RETRY
};

struct sse {
	struct sse_callbacks cb;
	void *ctx;
	struct buf data;	/* data lines of this event, joined by LF */
	struct buf type;	/* the event type buffer */
	struct buf id;		/* the last event id buffer */
	struct buf val;		/* value of the current event or id line */
	char name[NAME_LEN];	/* field name of the current line */
	size_t name_len;
	enum line_state state;
	enum field field;	/* of the current line, once its name ended */
	int bom;		/* BOM bytes matched so far, or BOM_DONE */
	int cr;			/* the last line ended in CR: skip one LF */
	int have_data;		/* this event has had a data line */
	int stopped;		/* a callback said stop, or memory ran out */
};

static const char bom[] = "\xEF\xBB\xBF";

/* Latch the parser in the stopped state; returns -1 for the caller. */
static int
fail(struct sse *p)
{
	p->stopped = 1;
	return -1;
}

/* Pass bytes of data to the caller as they arrive; -1 if told to stop. */
static int
emit(struct sse *p, const char *s, size_t n)
{
	if (p->cb.sse_data && !p->cb.sse_data(p->ctx, s, n))
		return fail(p);
	return 0;
}

static void
swap(struct buf *a, struct buf *b)
{
	struct buf t;

	t = *a;
	*a = *b;
	*b = t;
}

/* Forget the current line, keeping buffer memory for the next one. */
static void
line_reset(struct sse *p)
{
	p->name_len = 0;
	p->state = L_NAME;
	p->field = F_UNKNOWN;
	buf_reset(&p->val);
}

/* Forget the event being collected; the last event id stays. */
static void
event_reset(struct sse *p)
{
	buf_reset(&p->type);
	buf_reset(&p->data);
	p->have_data = 0;
}

/*
 * The field name is complete (at its colon, or at the end of a line
 * without one): decide what the rest of the line is.  A data line after
 * the first one of an event starts with the LF that joins it to the
 * previous line, sent to sse_data right away.
 */
static int
field_start(struct sse *p)
{
	static const struct {
		const char *name;
		size_t len;
		enum field field;
	} fields[] = {
		{ "data", 4, F_DATA },
		{ "event", 5, F_EVENT },
		{ "id", 2, F_ID },
		{ "retry", 5, F_RETRY },
	};
	size_t i;

	p->field = F_UNKNOWN;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (p->name_len == fields[i].len &&
		    memcmp(p->name, fields[i].name, fields[i].len) == 0)
			p->field = fields[i].field;
	switch (p->field) {
	case F_DATA:
		if (p->have_data) {
			if (buf_add(&p->data, "\n", 1) < 0)
				return fail(p);
			if (emit(p, "\n", 1) < 0)
				return -1;
		}
		p->have_data = 1;
		/* FALLTHROUGH */
	case F_EVENT:
	case F_ID:
		p->state = L_SPACE;
		break;
	default:
		/* Unknown fields are ignored; so is retry (see the top). */
		p->state = L_SKIP;
		break;
	}
	return 0;
}

/*
 * Consume n bytes of the current line, none of them CR or LF.  The line
 * may arrive in any number of pieces; data values go out as they come.
 */
static int
line_bytes(struct sse *p, const char *s, size_t n)
{
	const char *c;
	size_t k, lim;

	while (n > 0) {
		switch (p->state) {
		case L_NAME:
			/* Look no further than a name may be long. */
			lim = NAME_LEN - p->name_len;
			c = memchr(s, ':', n < lim + 1 ? n : lim + 1);
			k = c ? (size_t)(c - s) : n;
			if (k > lim) {
				p->state = L_SKIP;
				return 0;
			}
			memcpy(p->name + p->name_len, s, k);
			p->name_len += k;
			if (!c)
				return 0;
			s += k + 1;
			n -= k + 1;
			if (p->name_len == 0)	/* ":" starts a comment */
				p->state = L_SKIP;
			else if (field_start(p) < 0)
				return -1;
			break;
		case L_SPACE:
			if (*s == ' ') {
				s++;
				n--;
			}
			p->state = L_VALUE;
			break;
		case L_VALUE:
			if (p->field != F_DATA)
				return buf_add(&p->val, s, n) < 0 ? fail(p) : 0;
			if (buf_add(&p->data, s, n) < 0)
				return fail(p);
			return emit(p, s, n);
		case L_SKIP:
			return 0;
		}
	}
	return 0;
}

/*
 * A blank line: hand a collected event to the caller, unless it had no
 * data line, and start a new one.  The data buffer never holds the
 * spec's final LF, so there is none to remove.
 */
static int
dispatch(struct sse *p)
{
	struct sse_event ev;
	int go = 1;

	if (p->have_data && p->cb.sse_event) {
		ev.type = p->type.len ? p->type.p : "message";
		ev.type_len = p->type.len ? p->type.len : strlen("message");
		ev.data = p->data.len ? p->data.p : "";
		ev.data_len = p->data.len;
		ev.id = p->id.len ? p->id.p : "";
		ev.id_len = p->id.len;
		go = p->cb.sse_event(p->ctx, &ev);
	}
	event_reset(p);
	return go ? 0 : fail(p);
}

/* A line ended: act on what it was, then ready for the next line. */
static int
line_end(struct sse *p)
{
	if (p->state == L_NAME) {
		if (p->name_len == 0)
			return dispatch(p);
		/* A field name alone: the value is empty. */
		if (field_start(p) < 0)
			return -1;
	}
	switch (p->field) {
	case F_EVENT:
		swap(&p->type, &p->val);
		break;
	case F_ID:
		/* An id containing NUL is ignored, as the spec says. */
		if (!memchr(p->val.p ? p->val.p : "", '\0', p->val.len))
			swap(&p->id, &p->val);
		break;
	default:
		break;
	}
	line_reset(p);
	return 0;
}

/* Return a parser with the callbacks cb (may be NULL), or NULL when out
 * of memory.  ctx is passed to every callback. */
struct sse *
sse_new(const struct sse_callbacks *cb, void *ctx)
{
	struct sse *p;

	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	if (cb)
		p->cb = *cb;
	p->ctx = ctx;
	sse_reset(p);
	return p;
}

/*
 * Parse the next n bytes of the stream.  Returns 0, or -1 when a callback
 * returned 0 or memory ran out; from then on every feed returns -1 until
 * sse_reset.  Line ends are found with memchr, remembering where the next
 * LF and CR are, so a chunk is scanned about twice whatever its lines.
 */
int
sse_feed(struct sse *p, const char *s, size_t n)
{
	const char *end, *lf = NULL, *cr = NULL, *e;
	int k;

	if (p->stopped)
		return -1;
	if (n == 0)
		return 0;
	end = s + n;

	/* Skip a BOM at the stream start, even split across feeds; the
	 * bytes of a partial one are ordinary line bytes after all. */
	while (p->bom != BOM_DONE && s < end) {
		if (*s == bom[p->bom]) {
			p->bom++;
			s++;
			continue;
		}
		k = p->bom;
		p->bom = BOM_DONE;
		if (line_bytes(p, bom, k) < 0)
			return -1;
	}

	while (s < end) {
		if (p->cr) {
			p->cr = 0;
			if (*s == '\n') {
				s++;
				continue;
			}
		}
		if (!lf || lf < s)
			if (!(lf = memchr(s, '\n', end - s)))
				lf = end;
		if (!cr || cr < s)
			if (!(cr = memchr(s, '\r', end - s)))
				cr = end;
		e = lf < cr ? lf : cr;
		if (line_bytes(p, s, e - s) < 0)
			return -1;
		if (e == end)
			break;
		p->cr = *e == '\r';
		if (line_end(p) < 0)
			return -1;
		s = e + 1;
	}
	return 0;
}

/*
 * The stream ended.  An event not closed by a blank line is discarded,
 * and so is a last line without a line end, as the spec says.  Returns 1
 * if that threw away an event with data (a data line, even unterminated,
 * even just "data" or "data:"), so the bytes already given to sse_data
 * belong to no event; 0 otherwise.  Call sse_reset before the parser
 * reads another stream.
 */
int
sse_end(struct sse *p)
{
	int pending;

	pending = p->have_data || (p->state == L_NAME &&
	    p->name_len == 4 && memcmp(p->name, "data", 4) == 0);
	event_reset(p);
	line_reset(p);
	p->cr = 0;
	return pending;
}

/* Make the parser as new, for a fresh stream (a retry): no last event
 * id, a BOM may come again, not stopped.  Buffers keep their memory. */
void
sse_reset(struct sse *p)
{
	event_reset(p);
	line_reset(p);
	buf_reset(&p->id);
	p->bom = 0;
	p->cr = 0;
	p->stopped = 0;
}

void
sse_free(struct sse *p)
{
	if (!p)
		return;
	buf_free(&p->data);
	buf_free(&p->type);
	buf_free(&p->id);
	buf_free(&p->val);
	free(p);
}
