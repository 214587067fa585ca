/*
 * out.c: the record writer.
 *
 * Every record is built whole in memory and appended to one output
 * buffer, which is written out at the end of each batch of work (a
 * libcurl write callback, a turn of the transfer loop), so a record is
 * never split and a delta is on stdout as soon as its event is complete.
 * With -k, records of a request that is not at the head of the input
 * order wait in that request until every earlier request is written.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vmanjl.h"

#define OUT_HIGH (1 << 20)	/* write out early beyond this many bytes */

void
out_init(struct out *o, int format, int keep)
{
	memset(o, 0, sizeof *o);
	o->format = format;
	o->keep = keep;
	o->fd = 1;
}

void
out_free(struct out *o)
{
	buf_free(&o->buf);
	buf_free(&o->rec);
}

/*
 * Write everything buffered.  A reader that went away ends the program
 * the way it ends any filter, by SIGPIPE; any other failure is fatal.
 */
void
out_flush(struct out *o)
{
	if (io_write_all(o->fd, o->buf.p, o->buf.len) < 0) {
		if (errno == EPIPE) {
			signal(SIGPIPE, SIG_DFL);
			raise(SIGPIPE);
		}
		err(2, "cannot write to standard output");
	}
	buf_reset(&o->buf);
}

/* Take the record built in o->rec: out now, or held for -k order; and
 * into r's cache entry when r is being cached. */
static void
emit(struct out *o, struct outreq *r)
{
	struct buf *to = &o->buf;

	buf_putc(&o->rec, '\n');
	if (r->capture && o->rec_type && strcmp(o->rec_type, "retry") != 0) {
		/* Timing fields are this run's: not for the cache. */
		size_t end = o->cut ? o->cut : o->rec.len - 2;

		buf_puts(r->capture, o->rec_type);
		buf_putc(r->capture, '\t');
		buf_put(r->capture, o->rec.p + o->rec_body, end - o->rec_body);
		buf_puts(r->capture, "}\n");
	}
	o->cut = 0;
	if (o->format == FMT_BATCH && o->rec_type)
		return;		/* built for the cache only */
	if (r->in_event)
		to = &r->evq;
	else if (o->keep && o->head != r)
		to = &r->held;
	buf_put(to, o->rec.p, o->rec.len);
	if (o->buf.len >= OUT_HIGH)
		out_flush(o);
}

/* Append the decimal digits of v: records are built for every delta,
 * and printf is most of their cost. */
static void
put_digits(struct buf *b, long long v)
{
	char d[24], *p = d + sizeof d;
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v :
	    (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	buf_put(b, p, (size_t)(d + sizeof d - p));
}

/* Start a record of the given type for r: the fields every record has. */
static struct buf *
begin(struct out *o, struct outreq *r, const char *type)
{
	buf_reset(&o->rec);
	buf_puts(&o->rec, "{\"type\":\"");
	buf_puts(&o->rec, type);
	buf_puts(&o->rec, "\",\"line\":");
	put_digits(&o->rec, (long long)r->line);
	buf_puts(&o->rec, ",\"custom_id\":");
	if (r->cid.len)
		buf_put(&o->rec, r->cid.p, r->cid.len);
	else
		buf_puts(&o->rec, "null");
	o->rec_type = type;
	o->rec_body = o->rec.len;
	return &o->rec;
}

static void
put_num(struct buf *b, const char *key, long long v)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
	put_digits(b, v);
}

/* ,"key": */
static void
put_key(struct buf *b, const char *key)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
}

/* ,"key":value with value compact JSON, or null when empty */
static void
put_json(struct buf *b, const char *key, const struct buf *v)
{
	put_key(b, key);
	if (v->len)
		buf_put(b, v->p, v->len);
	else
		buf_puts(b, "null");
}

static void
put_status(struct buf *b, long status)
{
	if (status > 0)
		put_num(b, "status", status);
	else
		buf_puts(b, ",\"status\":null");
}

/* "error":{"message":...,"type":...,"code":...} */
static void
put_error(struct buf *b, const struct failure *f)
{
	put_key(b, "error");
	buf_puts(b, "{\"message\":");
	buf_put(b, f->message.p, f->message.len);
	put_json(b, "type", &f->type);
	put_json(b, "code", &f->code);
	buf_putc(b, '}');
}

/* --timing: latency of the whole request until now, and time to the
 * first token of a stream, at the end of a terminal record. */
static void
put_timing(struct out *o, struct outreq *r, long long now)
{
	if (!o->timing || !r->t_start)
		return;
	o->cut = o->rec.len;
	put_num(&o->rec, "latency_ms", now - r->t_start);
	if (r->t_first)
		put_num(&o->rec, "ttft_ms", r->t_first - r->t_start);
}

/* The members of a delta record, by DK_ kind. */
static const char *const delta_members[NDK] = {
	",\"content\":", ",\"reasoning\":", ",\"refusal\":",
	",\"tool_calls\":"
};

void
out_delta(struct out *o, struct outreq *r, const struct delta *d)
{
	struct buf *b;
	int k;

	if (o->format == FMT_BATCH && !r->capture)
		return;
	b = begin(o, r, "delta");
	put_num(b, "index", d->index);
	for (k = 0; k < NDK; k++) {
		if (!d->p[k])
			continue;
		buf_puts(b, delta_members[k]);
		if (k == DK_TOOL_CALLS)
			buf_put(b, d->p[k], d->len[k]);
		else
			json_str(b, d->p[k], d->len[k]);
	}
	buf_putc(b, '}');
	emit(o, r);
}

void
out_event(struct out *o, struct outreq *r, const struct sse_event *ev)
{
	struct buf *b;

	if (o->format == FMT_BATCH && !r->capture)
		return;
	b = begin(o, r, "event");
	buf_puts(b, ",\"event\":");
	json_str(b, ev->type, ev->type_len);
	buf_puts(b, ",\"data\":");
	json_str(b, ev->data, ev->data_len);
	buf_puts(b, ",\"id\":");
	if (ev->id_len)
		json_str(b, ev->id, ev->id_len);
	else
		buf_puts(b, "null");
	buf_putc(b, '}');
	emit(o, r);
}

void
out_retry(struct out *o, struct outreq *r, const struct failure *f,
    long long wait_ms)
{
	struct buf *b;

	/* What came before a retry belongs to the failed attempt. */
	if (r->capture)
		buf_reset(r->capture);
	if (o->format == FMT_BATCH)
		return;
	b = begin(o, r, "retry");
	put_status(b, f->status);
	put_error(b, f);
	put_num(b, "attempt", r->tries);
	put_num(b, "wait_ms", wait_ms);
	buf_putc(b, '}');
	emit(o, r);
}

/* --dry-run: what would be sent (req_describe()'s fields) and the
 * estimate of its prompt tokens. */
void
out_request(struct out *o, struct outreq *r, const struct buf *what,
    long long est)
{
	struct buf *b = begin(o, r, "request");

	buf_put(b, what->p, what->len);
	put_num(b, "est_prompt_tokens", est);
	buf_putc(b, '}');
	emit(o, r);
}

void
out_progress(struct out *o, struct outreq *r, const struct taskstate *t)
{
	struct buf *b;

	if (o->format == FMT_BATCH && !r->capture)
		return;
	b = begin(o, r, "progress");
	put_key(b, "task");
	task_json(t, 1, b);
	buf_putc(b, '}');
	emit(o, r);
}

/* The Batch API's record: {"id","custom_id","response","error"}. */
static void
batch(struct out *o, struct outreq *r, long status, const struct buf *body,
    const struct failure *f)
{
	struct buf *b = &o->rec;
	char num[64];

	buf_reset(b);
	o->rec_type = NULL;	/* not a record to cache */
	snprintf(num, sizeof num, "{\"id\":\"vmanjl_req_%lu\",\"custom_id\":",
	    r->line);
	buf_puts(b, num);
	if (r->cid.len)
		buf_put(b, r->cid.p, r->cid.len);
	else
		buf_puts(b, "null");
	if (!f || strcmp(f->kind, "http_error") == 0) {
		put_key(b, "response");
		snprintf(num, sizeof num, "{\"status_code\":%ld", status);
		buf_puts(b, num);
		put_json(b, "request_id", &r->request_id);
		put_json(b, "body", body);
		buf_puts(b, "},\"error\":null}");
	} else {
		buf_puts(b, ",\"response\":null");
		put_key(b, "error");
		buf_puts(b, "{\"code\":");
		if (f->code.len)
			buf_put(b, f->code.p, f->code.len);
		else
			json_str(b, f->kind, strlen(f->kind));
		put_json(b, "message", &f->message);
		buf_puts(b, "}}");
	}
	emit(o, r);
}

void
out_response(struct out *o, struct outreq *r, long status,
    const struct result *res, long long now)
{
	struct buf *b;

	if (o->format == FMT_BATCH) {
		batch(o, r, status, &res->body, NULL);
		if (!r->capture)
			return;
	}
	if (r->capture && r->request_id.len) {
		/* For the Batch format's request_id on a replay. */
		buf_puts(r->capture, "request_id\t");
		buf_put(r->capture, r->request_id.p, r->request_id.len);
		buf_putc(r->capture, '\n');
	}
	b = begin(o, r, "response");
	put_status(b, status);
	put_json(b, "body", &res->body);
	if (res->content.len) {
		put_json(b, "content", &res->content);
		put_json(b, "finish_reason", &res->finish);
	}
	if (res->usage.len)
		put_json(b, "usage", &res->usage);
	if (res->task.len)
		put_json(b, "task", &res->task);
	if (res->file.len) {
		put_json(b, "file", &res->file);
		put_num(b, "bytes", res->bytes);
		put_json(b, "content_type", &res->ctype);
	}
	if (r->nevents >= 0)
		put_num(b, "events", r->nevents);
	put_num(b, "attempts", r->attempts);
	put_timing(o, r, now);
	buf_putc(b, '}');
	emit(o, r);
}

void
out_error(struct out *o, struct outreq *r, const struct failure *f,
    long long now)
{
	struct buf *b;

	if (o->format == FMT_BATCH) {
		batch(o, r, f->status, &f->body, f);
		return;
	}
	b = begin(o, r, "error");
	put_status(b, f->status);
	put_error(b, f);
	put_num(b, "attempts", r->attempts);
	if (f->task.len)
		put_json(b, "task", &f->task);
	if (f->body.len)
		put_json(b, "body", &f->body);
	put_timing(o, r, now);
	buf_putc(b, '}');
	emit(o, r);
}

/*
 * Is every line of a cache entry one a replay can write: a known type, a
 * tab, and the rest of a JSON object (or, for the request id, a JSON
 * string)?  An entry edited by hand must not make invalid output.
 */
static int
replayable(const struct buf *recs, struct buf *t, struct buf *msg)
{
	static const char *types[] = {
		"delta", "event", "progress", "response", "error",
		"request_id", NULL
	};
	const char *p = recs->p, *end = p + recs->len, *tab, *nl;
	size_t i, n;

	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))) ||
		    !(tab = memchr(p, '\t', (size_t)(nl - p))))
			return 0;
		n = (size_t)(tab - p);
		for (i = 0; types[i]; i++)
			if (strlen(types[i]) == n && memcmp(types[i], p, n) == 0)
				break;
		if (!types[i])
			return 0;
		buf_reset(t);
		if (i == 5)
			buf_put(t, tab + 1, (size_t)(nl - tab - 1));
		else {
			buf_puts(t, "{\"_\":0");
			buf_put(t, tab + 1, (size_t)(nl - tab - 1));
		}
		if (json_compact(t->p, t->len, NULL, NULL, 0, msg) < 0 ||
		    t->p[0] != (i == 5 ? '"' : '{'))
			return 0;
	}
	return 1;
}

/*
 * Write a cached request's records (cache.c) as r's: each stored line is
 * a record's type, a tab, and the text after its custom_id.  Returns -1,
 * having written nothing, when the entry is not fit to replay.
 */
int
out_replay(struct out *o, struct outreq *r, const struct buf *recs)
{
	struct jpick pk[2] = { { .path = "status" }, { .path = "body" } };
	const char *p = recs->p, *end = p + recs->len, *tab, *nl;
	struct buf t = { 0 }, msg = { 0 };
	char type[32];

	if (!replayable(recs, &t, &msg)) {
		buf_free(&t);
		buf_free(&msg);
		return -1;
	}
	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			break;
		if (!(tab = memchr(p, '\t', (size_t)(nl - p))) ||
		    (size_t)(tab - p) >= sizeof type)
			continue;
		memcpy(type, p, (size_t)(tab - p));
		type[tab - p] = '\0';
		if (strcmp(type, "request_id") == 0) {
			buf_reset(&r->request_id);
			buf_put(&r->request_id, tab + 1, (size_t)(nl - tab - 1));
			continue;
		}
		if (o->format == FMT_BATCH) {
			if (strcmp(type, "response") != 0)
				continue;
			buf_reset(&t);
			buf_puts(&t, "{\"_\":0");
			buf_put(&t, tab + 1, (size_t)(nl - tab - 1));
			if (json_compact(t.p, t.len, NULL, pk, 2, &msg) == 0)
				batch(o, r, (long)json_int(&pk[0].val),
				    &pk[1].val, NULL);
			continue;
		}
		begin(o, r, type);
		buf_put(&o->rec, tab + 1, (size_t)(nl - tab - 1));
		emit(o, r);
	}
	json_picks_free(pk, 2);
	buf_free(&t);
	buf_free(&msg);
	return 0;
}

/* The event that r's pending deltas came from is complete: send them
 * where r's records go. */
void
out_commit(struct out *o, struct outreq *r)
{
	struct buf *to = &o->buf;

	r->in_event = 0;
	if (!r->evq.len)
		return;
	if (o->keep && o->head != r)
		to = &r->held;
	buf_put(to, r->evq.p, r->evq.len);
	buf_reset(&r->evq);
}

/* r is admitted: with -k it takes its place in the output order. */
void
out_admit(struct out *o, struct outreq *r)
{
	o->pending++;
	if (!o->keep)
		return;
	r->onext = NULL;
	if (o->tail)
		o->tail->onext = r;
	else
		o->head = r;
	o->tail = r;
}

/*
 * r has written its terminal record.  Returns the requests whose records
 * are now all out, linked by onext, for the caller to free: without -k
 * r itself; with -k every finished request at the head of the order,
 * after which the next unfinished one may write straight to stdout.
 */
struct outreq *
out_finish(struct out *o, struct outreq *r)
{
	struct outreq *h, *done = NULL, **tail = &done;

	r->finished = 1;
	if (!o->keep) {
		o->pending--;
		r->onext = NULL;
		return r;
	}
	while ((h = o->head) && h->finished) {
		buf_put(&o->buf, h->held.p, h->held.len);
		o->head = h->onext;
		if (!o->head)
			o->tail = NULL;
		o->pending--;
		h->onext = NULL;
		*tail = h;
		tail = &h->onext;
	}
	if ((h = o->head) && h->held.len) {
		buf_put(&o->buf, h->held.p, h->held.len);
		buf_free(&h->held);
	}
	if (o->buf.len >= OUT_HIGH)
		out_flush(o);
	return done;
}
