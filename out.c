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
	size_t off = 0;
	ssize_t w;

	while (off < o->buf.len) {
		w = write(o->fd, o->buf.p + off, o->buf.len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE) {
				signal(SIGPIPE, SIG_DFL);
				raise(SIGPIPE);
			}
			err(2, "cannot write to standard output");
		}
		off += (size_t)w;
	}
	buf_reset(&o->buf);
}

/* Take the record built in o->rec: out now, or held for -k order. */
static void
emit(struct out *o, struct req *r)
{
	struct buf *to = &o->buf;

	buf_putc(&o->rec, '\n');
	if (r->in_event)
		to = &r->evq;
	else if (o->keep && o->head != r)
		to = &r->held;
	buf_put(to, o->rec.p, o->rec.len);
	if (o->buf.len >= OUT_HIGH)
		out_flush(o);
}

/* Start a record of the given type for r: the fields every record has. */
static struct buf *
begin(struct out *o, struct req *r, const char *type)
{
	char num[32];

	buf_reset(&o->rec);
	buf_puts(&o->rec, "{\"type\":\"");
	buf_puts(&o->rec, type);
	snprintf(num, sizeof num, "\",\"line\":%lu,\"custom_id\":", r->line);
	buf_puts(&o->rec, num);
	if (r->cid.len)
		buf_put(&o->rec, r->cid.p, r->cid.len);
	else
		buf_puts(&o->rec, "null");
	return &o->rec;
}

static void
put_num(struct buf *b, const char *key, long long v)
{
	char num[64];

	snprintf(num, sizeof num, ",\"%s\":%lld", key, v);
	buf_puts(b, num);
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

void
out_delta(struct out *o, struct req *r, const struct delta *d)
{
	struct buf *b;

	if (o->format == FMT_BATCH)
		return;
	b = begin(o, r, "delta");
	put_num(b, "index", d->index);
	if (d->content) {
		buf_puts(b, ",\"content\":");
		json_str(b, d->content, d->content_len);
	}
	if (d->reasoning) {
		buf_puts(b, ",\"reasoning\":");
		json_str(b, d->reasoning, d->reasoning_len);
	}
	if (d->tool_calls) {
		buf_puts(b, ",\"tool_calls\":");
		buf_put(b, d->tool_calls, d->tool_calls_len);
	}
	buf_putc(b, '}');
	emit(o, r);
}

void
out_event(struct out *o, struct req *r, const struct sse_event *ev)
{
	struct buf *b;

	if (o->format == FMT_BATCH)
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
out_retry(struct out *o, struct req *r, const struct failure *f,
    long long wait_ms)
{
	struct buf *b;

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

void
out_progress(struct out *o, struct req *r, const struct taskstate *t)
{
	struct buf *b;

	if (o->format == FMT_BATCH)
		return;
	b = begin(o, r, "progress");
	put_key(b, "task");
	task_json(t, 1, b);
	buf_putc(b, '}');
	emit(o, r);
}

/* The Batch API's record: {"id","custom_id","response","error"}. */
static void
batch(struct out *o, struct req *r, long status, const struct buf *body,
    const struct failure *f)
{
	struct buf *b = &o->rec;
	char num[64];

	buf_reset(b);
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
out_response(struct out *o, struct req *r, long status,
    const struct result *res)
{
	struct buf *b;

	if (o->format == FMT_BATCH) {
		batch(o, r, status, &res->body, NULL);
		return;
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
	buf_putc(b, '}');
	emit(o, r);
}

void
out_error(struct out *o, struct req *r, const struct failure *f)
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
	buf_putc(b, '}');
	emit(o, r);
}

/* The event that r's pending deltas came from is complete: send them
 * where r's records go. */
void
out_commit(struct out *o, struct req *r)
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
out_admit(struct out *o, struct req *r)
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
 * r has written its terminal record.  Without -k it is freed now; with
 * -k every finished request at the head of the order is written out and
 * freed, and the next unfinished one may write straight to stdout.
 */
void
out_finish(struct out *o, struct req *r)
{
	struct req *h;

	r->finished = 1;
	if (!o->keep) {
		o->pending--;
		req_free(r);
		return;
	}
	while ((h = o->head) && h->finished) {
		buf_put(&o->buf, h->held.p, h->held.len);
		o->head = h->onext;
		if (!o->head)
			o->tail = NULL;
		o->pending--;
		req_free(h);
	}
	if ((h = o->head) && h->held.len) {
		buf_put(&o->buf, h->held.p, h->held.len);
		buf_free(&h->held);
	}
	if (o->buf.len >= OUT_HIGH)
		out_flush(o);
}
