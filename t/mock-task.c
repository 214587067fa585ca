/*
 * mock-task.c: the task table of t/mockvman: tasks made by submits,
 * moved on one step per poll through their family's statuses.
 * What it answers: t/mockvman.md.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/* Each family's id prefix and status values: npre first statuses, one
 * per poll, then run for mock.steps polls, then the end.  The reverse
 * Ideogram answer shows no status, only whether it has started and
 * ended: its row has the steps and no names. */
static const struct famdef {
	const char *prefix;
	int npre;
	const char *pre[3], *run, *done, *fail, *cancel;
} fams[FAM_N] = {
	{ "mjtask-", 2, { "NOT_START", "SUBMITTED" }, "IN_PROGRESS",
	    "SUCCESS", "FAILURE", "CANCEL" },
	{ "suno-", 1, { "pending" }, "processing", "completed", "failed",
	    NULL },
	{ "sunotask-", 3, { "NOT_START", "SUBMITTED", "QUEUED" },
	    "IN_PROGRESS", "SUCCESS", "FAILURE", NULL },
	{ "flux-", 1, { "Pending" }, "Pending", "Ready", "Error", NULL },
	{ "kling-", 1, { "submitted" }, "processing", "succeed", "failed",
	    NULL },
	{ "luma-", 1, { "pending" }, "processing", "completed", "failed",
	    NULL },
	{ "runway-", 2, { "PENDING", "THROTTLED" }, "RUNNING", "SUCCEEDED",
	    "FAILED", "CANCELLED" },
	{ "cogv-", 0, { NULL }, "PROCESSING", "SUCCESS", "FAIL", NULL },
	{ "viggle-", 1, { "queued" }, "processing", "done", "failed", NULL },
	{ "ideo-", 1, { NULL }, NULL, NULL, NULL, NULL },
	{ "task_", 3, { "NOT_START", "SUBMITTED", "QUEUED" }, "IN_PROGRESS",
	    "SUCCESS", "FAILURE", NULL },
	{ "video_", 1, { "queued" }, "in_progress", "completed", "failed",
	    NULL },
};

struct task *
task_new(int fam, int kind, const struct req *q, const char *prompt)
{
	struct task *t;
	char id[48];
	unsigned h;
	int n;

	n = snprintf(id, sizeof id, "%s%llu", fams[fam].prefix, ++g.ntasks);
	if ((t = calloc(1, sizeof *t + n + 1)) == NULL)
		errx(2, "out of memory");
	memcpy(t->id, id, n + 1);
	t->fam = fam;
	t->kind = kind;
	t->ord = g.ntasks;
	t->steps = q->tm.steps;
	t->nf = q->tm.nf;
	t->fail = q->tm.fail || util_has_word(prompt, "fail");
	t->cancel = q->tm.cancel;
	t->vendor = q->tm.vendor;
	t->legacy_url = q->tm.legacy_url;
	t->url_at = q->tm.url_at;
	t->image_urls = q->tm.image_urls;
	t->prompt = util_strdup(prompt ? prompt : "");
	t->submit_ms = util_wall_ms();
	h = util_hash(t->id) % ID_BUCKETS;
	t->hnext = g.tbucket[h];
	g.tbucket[h] = t;
	*g.tasks_tail = t;
	g.tasks_tail = &t->next;
	return t;
}

/* The task of family fam with this id, or NULL. */
struct task *
task_find(int fam, const char *id)
{
	struct task *t;

	for (t = g.tbucket[util_hash(id) % ID_BUCKETS]; t; t = t->hnext)
		if (strcmp(t->id, id) == 0)
			return t->fam == fam ? t : NULL;
	return NULL;
}

void
task_free_all(void)
{
	struct task *t, *next;

	for (t = g.tasks; t; t = next) {
		next = t->next;
		free(t->prompt);
		free(t->model);
		free(t->title);
		free(t->tags);
		free(t->hook);
		free(t->state);
		free(t->input);
		free(t->extra);
		free(t);
	}
}

/* Where t stands, by its step (a task never polled shows its first
 * status); *ix gets the pre index or the 1-based running step. */
int
task_phase(const struct task *t, long long *ix)
{
	const struct famdef *d = &fams[t->fam];
	long long s = t->step > 0 ? t->step : 1, np = d->npre, dummy;

	if (ix == NULL)
		ix = &dummy;
	*ix = 0;
	if (t->killed)
		return TP_CANCEL;
	if (t->modal)
		return TP_MODAL;
	if (s <= np) {
		*ix = s - 1;
		return TP_PRE;
	}
	if (s <= np + t->steps) {
		*ix = s - np;
		return TP_RUN;
	}
	if (t->cancel && d->cancel)
		return TP_CANCEL;
	return t->fail ? TP_FAIL : TP_DONE;
}

int
task_over(const struct task *t)
{
	int ph = task_phase(t, NULL);

	return ph == TP_DONE || ph == TP_FAIL || ph == TP_CANCEL;
}

const char *
task_status(const struct task *t)
{
	const struct famdef *d = &fams[t->fam];
	long long ix;

	switch (task_phase(t, &ix)) {
	case TP_PRE:
		return d->pre[ix];
	case TP_RUN:
		return d->run;
	case TP_DONE:
		return d->done;
	case TP_FAIL:
		return d->fail;
	case TP_CANCEL:
		return d->cancel ? d->cancel : d->fail;
	}
	return "MODAL";
}

/* The status in new-api's task envelope: the last of NOT_START,
 * SUBMITTED, QUEUED for the family's first statuses, IN_PROGRESS,
 * SUCCESS, FAILURE (a cancelled task too). */
const char *
task_env_status(const struct task *t)
{
	static const char *const pre[] = { "NOT_START", "SUBMITTED",
		"QUEUED" };
	long long ix, np = fams[t->fam].npre;

	switch (task_phase(t, &ix)) {
	case TP_PRE:
		return pre[3 - (np < 3 ? np : 3) + (ix < 3 ? ix : 2)];
	case TP_RUN:
		return "IN_PROGRESS";
	case TP_DONE:
		return "SUCCESS";
	case TP_FAIL:
	case TP_CANCEL:
		return "FAILURE";
	}
	return "UNKNOWN";
}

/* Percent done: 0 before running, 100 * i / (steps + 1) at running
 * step i, 100 when done; a failed or cancelled task keeps what it had
 * reached. */
int
task_pct(const struct task *t)
{
	long long ix, np = fams[t->fam].npre, r;

	switch (task_phase(t, &ix)) {
	case TP_RUN:
		return 100 * ix / (t->steps + 1);
	case TP_DONE:
		return 100;
	case TP_FAIL:
	case TP_CANCEL:
		r = (t->step < np + t->steps ? t->step : np + t->steps) - np;
		return r > 0 ? 100 * r / (t->steps + 1) : 0;
	}
	return 0;
}

/* Stamp the start and finish times the task has reached. */
void
task_times(struct task *t)
{
	int ph = task_phase(t, NULL);

	if (ph != TP_PRE && ph != TP_MODAL && t->start_ms == 0)
		t->start_ms = util_wall_ms();
	if ((ph == TP_DONE || ph == TP_FAIL || ph == TP_CANCEL) &&
	    t->finish_ms == 0)
		t->finish_ms = util_wall_ms();
}

/* One poll of t: counted in the stats; 0 while it is to answer "not
 * found" (mock.not_found_polls), else 1 after one step on. */
int
task_poll(struct task *t)
{
	t->polls++;
	if (t->nf > 0) {
		t->nf--;
		return 0;
	}
	if (!task_over(t) && !t->modal)
		t->step++;
	task_times(t);
	return 1;
}

/* The task of family fam with this id after one poll of it, or NULL
 * when there is none or it is to answer "not found". */
struct task *
task_poll_id(int fam, const char *id)
{
	struct task *t = task_find(fam, id);

	return t != NULL && task_poll(t) ? t : NULL;
}

/* One of the strings of names in v, as its index; def when v is none
 * of them. */
static int
mock_word(yajl_val v, const char *const *names, int n, int def)
{
	const char *s = json_str(v);
	int i;

	for (i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return def;
}

/* Read the task members of the "mock" object o. */
void
task_mock_parse(struct tmock *tm, yajl_val o)
{
	static const char *const shapes[] = { "relay", "vendor" };
	static const char *const at[] = { "metadata", "output", "top" };
	static const char *const iu[] = { "none", "strings", "objects" };

	tm->steps = util_clamp(json_int(json_get(o, "steps"), 2), 0, 1000);
	tm->nf = util_clamp(json_int(json_get(o, "not_found_polls"), 0), 0,
	    1000000);
	tm->fail = json_bool(json_get(o, "task_fail"));
	tm->cancel = json_bool(json_get(o, "cancel"));
	tm->mj_code = json_int(json_get(o, "mj_code"), 1);
	tm->kling_code = json_int(json_get(o, "kling_code"), 0);
	tm->vendor = mock_word(json_get(o, "shape"), shapes, 2, 0);
	tm->legacy_url = json_bool(json_get(o, "legacy_url"));
	tm->url_at = mock_word(json_get(o, "video_url_at"), at, 3,
	    UA_METADATA);
	tm->image_urls = mock_word(json_get(o, "image_urls"), iu, 3,
	    IU_NONE);
}

/* Forget the task faults of a request whose fail_first is used up;
 * steps and the shapes stay. */
void
task_mock_unfault(struct tmock *tm)
{
	struct tmock k = *tm;

	task_mock_parse(tm, NULL);
	tm->steps = k.steps;
	tm->vendor = k.vendor;
	tm->legacy_url = k.legacy_url;
	tm->url_at = k.url_at;
	tm->image_urls = k.image_urls;
}

/* Counted polls per task id for /mock/stats. */
void
task_stats(yajl_gen y)
{
	struct task *t;

	for (t = g.tasks; t; t = t->next)
		if (t->polls > 0)
			json_ki(y, t->id, t->polls);
}
