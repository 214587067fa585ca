/*
 * pool.c: the transfer loop.  Input lines are admitted as requests while
 * there is room under -j (and the -k window); each runs on one libcurl
 * multi handle; a failed attempt that may be retried waits its backoff
 * in the wait queue, as do task polls and starts held back by --rpm and
 * --tpm; every request ends in exactly one terminal record, after which
 * out.c hands it back here to be freed.
 */
#include <sys/ioctl.h>

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "vmanjl.h"

#define MAX_LINE ((size_t)256 << 20)	/* longest input line we take */

static volatile sig_atomic_t interrupted;
static CURLM *wake;		/* for the SIGINT handler */

/* xorshift64: the jitter of backoffs, nothing secret. */
static unsigned long long
rnd(struct pool *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return p->rng;
}

static void
live_add(struct pool *p, struct req *r)
{
	r->lprev = NULL;
	r->lnext = p->live;
	if (p->live)
		p->live->lprev = r;
	p->live = r;
	p->active++;
}

static void
live_del(struct pool *p, struct req *r)
{
	if (r->lprev)
		r->lprev->lnext = r->lnext;
	else
		p->live = r->lnext;
	if (r->lnext)
		r->lnext->lprev = r->lprev;
	p->active--;
}

/* Add the usage numbers of an answer to the run's totals. */
static void
count_usage(struct pool *p, const struct buf *usage)
{
	struct jpick pk[2] = {
		{ .path = "prompt_tokens" }, { .path = "completion_tokens" }
	};
	long long v;

	if (!usage->len) {
		p->nunknown++;	/* no usage: its tokens are unknown, not 0 */
		return;
	}
	if (json_compact(usage->p, usage->len, NULL, pk, 2, &p->msg) == 0) {
		if ((v = json_int(&pk[0].val)) > 0)
			p->ptok = count_add(p->ptok, v);
		if ((v = json_int(&pk[1].val)) > 0)
			p->ctok = count_add(p->ctok, v);
	}
	json_picks_free(pk, 2);
}

/* The request has its terminal record: release it, and free what
 * out.c has written in full. */
static void
req_done(struct pool *p, struct req *r)
{
	struct outreq *o, *next;

	live_del(p, r);
	if (r->easy) {
		if (p->nspare < (size_t)p->conf->jobs)
			p->spare[p->nspare++] = r->easy;
		else
			curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	req_release(r);
	for (o = out_finish(&p->out, &r->o); o; o = next) {
		next = o->onext;
		req_free(o->owner);
	}
}

static void
req_error(struct pool *p, struct req *r, const struct failure *f)
{
	/* Deltas of an event that never completed are dropped. */
	r->o.in_event = 0;
	buf_reset(&r->o.evq);
	p->nerr++;
	out_error(&p->out, &r->o, f, io_now_ms());
	req_done(p, r);
}

/* How long to wait before the next attempt: the server's word, else
 * --backoff doubled for each try, at most 30 s, jittered. */
static long long
backoff(struct pool *p, struct req *r)
{
	long long d = p->conf->backoff_ms;
	int i;

	if (r->fail.wait_ms >= 0)
		return r->fail.wait_ms;
	for (i = 1; i < r->o.tries && d < 30000; i++)
		d *= 2;
	if (d > 30000)
		d = 30000;
	/* Full jitter over the upper half keeps clients apart. */
	return d / 2 + (long long)(rnd(p) % (unsigned long long)(d / 2 + 1));
}

static void
waitq_add(struct pool *p, struct req *r)
{
	struct req **q;

	for (q = &p->waitq; *q && (*q)->due <= r->due; q = &(*q)->next)
		;
	r->next = *q;
	*q = r;
}

/* Wait, then send the poll of r's task. */
static void
poll_later(struct pool *p, struct req *r)
{
	r->o.tries = 0;
	r->due = io_now_ms() + p->conf->poll_ms;
	waitq_add(p, r);
}

/* Start (or restart) the transfer of r. */
static void
attempt_start(struct pool *p, struct req *r)
{
	CURL *e;

	r->o.attempts++;
	r->o.tries++;
	r->running = 1;
	r->last_rx = p->now = io_now_ms();
	if (!r->o.t_start)
		r->o.t_start = p->now;
	answer_begin(r);
	if (!(e = r->easy)) {
		if (p->nspare)
			e = p->spare[--p->nspare];
		else if (!(e = curl_easy_init()))
			err(2, "cannot make a libcurl handle");
		r->easy = e;
	} else
		curl_easy_reset(e);
	req_setopt(r, e);
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK)
		err(2, "cannot add a transfer");
}

/* A failed attempt: send r again after its backoff, or end it. */
static void
attempt_failed(struct pool *p, struct req *r)
{
	struct failure *f = &r->fail;
	long long wait;

	if (f->status == 429)	/* every request slows down, retried or not */
		pace_cool(&p->pace, io_now_ms() + backoff(p, r));
	if (f->retryable && r->o.tries <= p->conf->retries && !interrupted) {
		wait = backoff(p, r);
		p->nretry++;
		out_retry(&p->out, &r->o, f, wait);
		r->due = io_now_ms() + wait;
		waitq_add(p, r);
		return;
	}
	req_error(p, r, f);
}

/* A task request's answer: r goes on polling, fails, or is answered. */
static int
task_answer(struct pool *p, struct req *r, struct result *res)
{
	int step = task_step(r, res, io_now_ms(), &p->msg);

	switch (step) {
	case TASK_STEP_DONE:
		return 1;
	case TASK_STEP_POLL:
	case TASK_STEP_FETCH:
		if (p->msg.len) {
			free(r->url);
			r->url = url_join(p->conf->base, p->msg.p);
		}
		if (step == TASK_STEP_POLL)
			poll_later(p, r);
		else {
			r->o.tries = 0;
			r->due = io_now_ms();
			waitq_add(p, r);
		}
		return 0;
	case TASK_STEP_FAILED:
		req_error(p, r, &r->fail);
		return 0;
	}
	attempt_failed(p, r);
	return 0;
}

/* The transfer of r has ended with rc: its response record, a retry, a
 * task's next poll, or its error record. */
static void
attempt_done(struct pool *p, struct req *r, CURLcode rc)
{
	struct result *res = &p->res;
	int ok;

	curl_multi_remove_handle(p->multi, r->easy);
	r->running = 0;
	ok = answer_end(r, rc, res) == ANSWER_OK;
	if (r->polling && !ok && !r->stopped && rc == CURLE_OK &&
	    r->status >= 400 && r->status < 500) {
		/* A poll's "not found" may only mean "not yet". */
		task_answer(p, r, res);
		return;
	}
	if (!ok) {
		attempt_failed(p, r);
		return;
	}
	if (r->task && !task_answer(p, r, res))
		return;
	count_usage(p, &res->usage);
	p->nok++;
	out_response(&p->out, &r->o, r->status, res, io_now_ms());
	/* A binary answer's file is not in the cache: nothing to store. */
	if (r->o.capture && !res->file.len)
		cache_put(&p->conf->cache, &r->material, r->o.capture);
	req_done(p, r);
}

/* An input line that cannot be sent: its error record. */
static void
input_error(struct pool *p, unsigned long line, const struct buf *cid,
    const char *msg)
{
	struct req *r = req_new(p, line);

	if (cid && cid->len)
		buf_put(&r->o.cid, cid->p, cid->len);
	fail_set(&r->fail, 0, "invalid_request", 0, "line %lu: %s", line, msg);
	out_admit(&p->out, &r->o);
	live_add(p, r);
	req_error(p, r, &r->fail);
}

/*
 * With --cache: answer r from the cache if it can be (1: r is done), or
 * mark it for storing once it succeeds (0: send it).  An upload is not
 * cached: its files are not part of the request's bytes.
 */
static int
from_cache(struct pool *p, struct req *r)
{
	const struct cache *c = &p->conf->cache;

	if (!r->form) {
		cache_material(&r->material, r->method, r->url,
		    r->headers ? r->headers : p->common, r->body, r->body_len);
		/* Options that change the records are part of the key. */
		if (p->conf->events)
			buf_puts(&r->material, "\n--events");
		if (p->conf->no_wait)
			buf_puts(&r->material, "\n--no-wait");
		/* An entry that cannot be replayed is a miss. */
		if (c->mode != CACHE_REFRESH &&
		    cache_get(c, &r->material, &r->capbuf) &&
		    out_replay(&p->out, &r->o, &r->capbuf) == 0) {
			p->nhit++;
			p->nok++;
			req_done(p, r);
			return 1;
		}
		p->nmiss++;
	}
	if (c->mode == CACHE_OFFLINE) {
		fail_set(&r->fail, 0, "cache_miss", 0, r->form ?
		    "--cache-mode offline: an upload is never cached" :
		    "--cache-mode offline: not in the cache");
		req_error(p, r, &r->fail);
		return 1;
	}
	if (c->mode != CACHE_RO && !r->form) {
		buf_reset(&r->capbuf);
		r->o.capture = &r->capbuf;
	}
	return 0;
}

/*
 * --resume: is the line done already (1: skip it)?  Also reports a
 * custom_id that an earlier line had: resuming by it is ambiguous.
 */
static int
resumed(struct pool *p, const struct spec *s, unsigned long lineno)
{
	unsigned long prev;

	resume_key(&p->key, &s->cid, lineno);
	if (s->cid.len &&
	    (prev = resume_keyset_add(p->seen, p->key.p, lineno)))
		warnx("line %lu: custom_id %s repeats line %lu", lineno,
		    s->cid.p, prev);
	if (!resume_keyset_has(p->done, p->key.p))
		return 0;
	p->nskip++;
	return 1;
}

/* --dry-run: the request that would be sent, as a record. */
static void
dry_run(struct pool *p, struct req *r)
{
	long long est = json_text_chars(r->body, r->body_len) / 4;
	struct buf what = { 0 };

	p->est_tokens = count_add(p->est_tokens, est);
	p->nok++;
	if (!ep_lookup(r->method, r->path) && !p->conf->quiet)
		warnx("line %lu: %s is not in the endpoint table: it would be "
		    "sent as it is, its answer read by its Content-Type",
		    r->o.line, r->path);
	req_describe(r, r->headers ? r->headers : p->common, &what, &p->msg);
	out_request(&p->out, &r->o, &what, est);
	buf_free(&what);
	req_done(p, r);
}

/* Start an attempt of r now if the pace allows, else when it will. */
static void
start(struct pool *p, struct req *r)
{
	long long now = io_now_ms(), tok = 0, at;

	/* Polls carry no prompt: they count as requests, not tokens. */
	if (p->conf->tpm && !r->polling)
		tok = pace_tokens(r->body, r->body_len);
	if ((at = pace_when(&p->pace, tok, now)) > now) {
		r->due = at;
		waitq_add(p, r);
		return;
	}
	pace_start(&p->pace, tok, now);
	attempt_start(p, r);
}

/* Is there room to admit one more line: a free slot under -j, and with
 * -k room in the reorder window? */
static int
room(const struct pool *p)
{
	return p->active < (size_t)p->conf->jobs &&
	    (!p->conf->keep || p->out.pending < p->conf->window);
}

/* Read and admit input lines while there is room.  Returns 0 at the end
 * of input, 1 when more may come, -1 after a read error. */
static int
admit(struct pool *p, struct input *in, struct spec *s)
{
	const struct conf *c = p->conf;
	const char *line;
	unsigned long lineno;
	size_t len;
	struct req *r;

	while (room(p)) {
		/* --max-errors: enough has gone wrong; the rest waits. */
		if (c->max_errors && p->nerr >= c->max_errors) {
			p->stopped = 1;
			return 0;
		}
		switch (in_next(in, MAX_LINE, &line, &len, &lineno)) {
		case IN_WAIT:
			return 1;
		case IN_END:
			return 0;
		case IN_ERROR:
			return -1;
		case IN_LONG:
			p->last_line = lineno;
			p->nreq++;
			input_error(p, lineno, NULL,
			    "line longer than 256 MiB");
			continue;
		case IN_LINE:
			break;
		}
		p->last_line = lineno;
		p->nreq++;
		if (in_parse(line, len, s, &p->msg) < 0) {
			input_error(p, lineno, &s->cid, p->msg.p);
			continue;
		}
		if (p->done && resumed(p, s, lineno))
			continue;
		if (!(r = req_from_spec(p, lineno, s, &p->msg))) {
			input_error(p, lineno, &s->cid, p->msg.p);
			continue;
		}
		out_admit(&p->out, &r->o);
		live_add(p, r);
		if (c->dry_run) {
			dry_run(p, r);
			continue;
		}
		if (!c->cache.dir || !from_cache(p, r))
			start(p, r);
	}
	return 1;
}

/* SIGINT or SIGTERM (timeout(1), CI cancellation, container stops):
 * every request in flight ends with an "interrupted" record. */
static void
on_signal(int sig)
{
	interrupted = sig;
	signal(sig, SIG_DFL);	/* a second one ends us at once */
	if (wake)
		curl_multi_wakeup(wake);
}

/* ^C: every live request ends with an error record. */
static void
interrupt_all(struct pool *p)
{
	struct req *r;

	while ((r = p->live)) {
		if (r->easy)
			curl_multi_remove_handle(p->multi, r->easy);
		fail_set(&r->fail, 0, "interrupted", 0,
		    "interrupted before the answer was complete");
		p->nintr++;
		req_error(p, r, &r->fail);
	}
	p->waitq = NULL;
}

/*
 * End the attempts whose answer has begun and then received nothing for
 * --idle-timeout.  Before the first byte only --timeout applies: a relay
 * sends nothing until a non-streamed answer is ready, and an attempt
 * abandoned then is still billed.  (The low-speed limit of libcurl
 * averages over several seconds, too coarse for a stall of one.)
 */
static void
check_idle(struct pool *p)
{
	struct req *r, *next;
	long idle = p->conf->idle_ms;

	if (idle <= 0 || p->now - p->last_idle_check < 100)
		return;
	p->last_idle_check = p->now;
	for (r = p->live; r; r = next) {
		next = r->lnext;
		if (!r->running || !r->rx_started ||
		    p->now - r->last_rx < idle)
			continue;
		fail_set(&r->fail, r->status, "timeout", 1,
		    "idle timeout: no data received for %.3g s%s",
		    idle / 1000.0, r->status ? " in the middle of the answer" :
		    " after the answer's headers began");
		r->stopped = 1;
		attempt_done(p, r, CURLE_OPERATION_TIMEDOUT);
	}
}

/* The terminal's width, read again after SIGWINCH. */
static volatile sig_atomic_t resized = 1;
static int cols = 80;

static void
on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

/* A duration for the progress line: "45 s", "3 m 20 s", "2 h 5 m". */
static void
eta(char *b, size_t n, double s)
{
	long t = (long)(s + 0.5);

	if (t < 60)
		snprintf(b, n, "ETA %ld s", t);
	else if (t < 3600)
		snprintf(b, n, "ETA %ld m %ld s", t / 60, t % 60);
	else
		snprintf(b, n, "ETA %ld h %ld m", t / 3600, t / 60 % 60);
}

/*
 * The progress line's fields, most telling first; only those that apply
 * and are not zero.  Returns how many.
 */
static int
progress_fields(const struct pool *p, double secs, char f[][48])
{
	unsigned long done = p->nok + p->nerr + p->nskip, all = p->total;
	double rate = secs > 0 ? done / secs : 0;
	int n = 0;

	if (all)
		snprintf(f[n++], 48, "%lu/%lu %.0f%%", done, all,
		    100.0 * done / (all > done ? all : done));
	else
		snprintf(f[n++], 48, "%lu done", done);
	if (rate > 0)
		snprintf(f[n++], 48, "%.1f req/s", rate);
	if (all && rate > 0)
		eta(f[n++], 48, all > done ? (all - done) / rate : 0);
	else if (all)
		snprintf(f[n++], 48, "ETA ?");
	if (p->active)
		snprintf(f[n++], 48, "%zu in flight", p->active);
	if (p->nerr)
		snprintf(f[n++], 48, "%lu error%s", p->nerr,
		    p->nerr == 1 ? "" : "s");
	if (p->nretry)
		snprintf(f[n++], 48, "%lu retr%s", p->nretry,
		    p->nretry == 1 ? "y" : "ies");
	if (p->conf->cache.dir && p->nhit)
		snprintf(f[n++], 48, "%lu cache hit%s", p->nhit,
		    p->nhit == 1 ? "" : "s");
	return n;
}

/*
 * The live progress line on stderr, at most four times a second, as
 * many fields as fit the terminal's width; cleared at the end, so that
 * the summary stands alone.
 */
void
pool_progress(struct pool *p, int final)
{
	char f[8][48], line[512];
	long long t = io_now_ms();
	struct winsize ws;
	size_t len, flen;
	int i, n;

	if (!p->conf->progress || (!final && t - p->last_progress < 250))
		return;
	p->last_progress = t;
	if (final) {
		if (p->shown_progress)
			fputs("\r\033[K", stderr);
		return;
	}
	p->shown_progress = 1;
	if (resized) {
		resized = 0;
		if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			cols = ws.ws_col < 400 ? ws.ws_col : 400;
	}
	n = progress_fields(p, (t - p->start_ms) / 1000.0, f);
	snprintf(line, sizeof line, "vmanjl: %s", f[0]);
	for (i = 1, len = strlen(line); i < n; i++, len += flen + 2) {
		flen = strlen(f[i]);
		if (len + 2 + flen > (size_t)cols - 1)
			break;
		memcpy(line + len, ", ", 2);
		memcpy(line + len + 2, f[i], flen + 1);
	}
	if (strlen(line) > (size_t)cols - 1 && cols > 1)
		line[cols - 1] = '\0';
	fprintf(stderr, "\r\033[K%s", line);
}

/* How long the loop may sleep: until the next waiting start, and often
 * enough for the progress line and the idle check. */
static int
sleep_ms(const struct pool *p)
{
	long long timeout = 1000, t;

	if (p->waitq) {
		t = p->waitq->due - io_now_ms();
		if (t < timeout)
			timeout = t < 0 ? 0 : t;
	}
	if (p->conf->progress && timeout > 250)
		timeout = 250;
	if (p->conf->idle_ms > 0 && timeout > p->conf->idle_ms / 4 + 1)
		timeout = p->conf->idle_ms / 4 + 1;
	return (int)timeout;
}

/* One turn of the transfer loop: move the transfers on, deal with those
 * that ended, write what they produced. */
static void
turn(struct pool *p)
{
	struct req *r;
	CURLMsg *m;
	long long t;
	int running, left;

	for (t = io_now_ms(); (r = p->waitq) && r->due <= t;) {
		p->waitq = r->next;
		start(p, r);
	}
	p->now = io_now_ms();
	curl_multi_perform(p->multi, &running);
	while ((m = curl_multi_info_read(p->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
		attempt_done(p, r, m->data.result);
	}
	p->now = io_now_ms();
	check_idle(p);
	out_flush(&p->out);
	pool_progress(p, 0);
}

/* Run every input line to its terminal record.  Returns nonzero after
 * an input read error. */
int
pool_run(struct pool *p, struct input *in)
{
	struct curl_waitfd wfd;
	struct spec spec;
	int state = 1, nw;

	memset(&spec, 0, sizeof spec);
	p->start_ms = io_now_ms();
	for (;;) {
		if (interrupted) {
			interrupt_all(p);
			break;
		}
		if (state == 1)
			state = admit(p, in, &spec);
		if (state != 1 && p->active == 0)
			break;
		turn(p);
		if (state != 1 && p->active == 0)
			break;
		/* Wake for input only when there is room to admit it. */
		nw = state == 1 && in_fd(in) >= 0 && room(p);
		if (nw) {
			wfd.fd = in_fd(in);
			wfd.events = CURL_WAIT_POLLIN;
			wfd.revents = 0;
		}
		curl_multi_poll(p->multi, nw ? &wfd : NULL, (unsigned)nw,
		    sleep_ms(p), NULL);
	}
	in_spec_free(&spec);
	out_flush(&p->out);
	return state < 0;
}

/* Make the pool of a run with settings c: the multi handle, the common
 * headers, the pace, --resume's sets, the handler that ends a run at
 * ^C. */
void
pool_init(struct pool *p, const struct conf *c)
{
	struct sigaction sa;

	memset(p, 0, sizeof *p);
	p->conf = c;
	p->rng = (unsigned long long)time(NULL) ^
	    ((unsigned long long)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	p->spare = xcalloc((size_t)c->jobs, sizeof *p->spare);
	if (!(p->multi = curl_multi_init()))
		errx(2, "cannot initialise libcurl");
	curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)c->jobs);
	out_init(&p->out, c->format, c->keep);
	p->out.timing = c->timing;
	p->common = req_common_headers(c, 1);
	p->common_form = req_common_headers(c, 0);
	pace_init(&p->pace, c->rpm, c->tpm);
	if (c->resume) {
		p->done = resume_load(c->resume);
		p->seen = resume_keyset_new();
	}
	wake = p->multi;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (c->progress) {
		sa.sa_handler = on_winch;
		sigaction(SIGWINCH, &sa, NULL);
	}
}

/* The signal that cut the run short (SIGINT, SIGTERM), or 0. */
int
pool_interrupted(void)
{
	return interrupted;
}

void
pool_free(struct pool *p)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	wake = NULL;
	while (p->nspare)
		curl_easy_cleanup(p->spare[--p->nspare]);
	free(p->spare);
	curl_multi_cleanup(p->multi);
	curl_slist_free_all(p->common);
	curl_slist_free_all(p->common_form);
	buf_free(&p->res.body);
	buf_free(&p->res.content);
	buf_free(&p->res.finish);
	buf_free(&p->res.usage);
	buf_free(&p->res.task);
	buf_free(&p->res.file);
	buf_free(&p->res.ctype);
	buf_free(&p->msg);
	buf_free(&p->key);
	resume_keyset_free(p->done);
	resume_keyset_free(p->seen);
	pace_free(&p->pace);
	out_free(&p->out);
}
