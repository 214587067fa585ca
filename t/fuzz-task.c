/*
 * fuzz-task.c: libFuzzer target for following a task (task.c).
 *
 * The input is an answer from a task service.  For each built-in task
 * descriptor (looked up in endpoints.c by its submit path) it goes
 * through task_submit() as a submit answer, task_poll() builds the poll
 * for the id found (or a made-up one), and it goes through task_update()
 * as a poll answer, twice, then once more as a 404.
 *
 * The shared checks are t/fuzz.h's.
 *
 * Invariants: return values are in their enums and a failure has a
 * message; the normalised task (task_json, brief and full), its urls and
 * raw parse back as JSON with yajl; the phase is one of the enum values
 * and the progress is in [0,1] or -1; the same answer twice does not
 * count as a change; the poll URL is a path vmanjl accepts and a poll
 * body is JSON.
 *
 * Each input runs on a thread with a small stack (STACK), so recursion
 * that grows with the input's nesting overflows within the input sizes
 * libFuzzer tries, as it would on a long answer with the usual 8 MiB.
 * Code that bounds its nesting (json.c stops at 512) fits easily.
 */
#include <math.h>

#define FUZZ_NAME "fuzz-task"
#include "fuzz.h"

#define STACK (128 << 10)

struct answer {
	const uint8_t *data;
	size_t size;
};

static const char *const submits[] = {
	"/mj/submit/imagine", "/suno/v1/music", "/suno/submit/music",
	"/flux/v1/flux-dev", "/kling/v1/videos/text2video",
	"/luma/generations", "/runwayml/v1/image_to_video",
	"/cogvideox/v4/videos/generations", "/api/ideogram/generate",
	"/mj-fast/mj/submit/imagine", "/suno/v1/v3.0/music/concat",
};

static void
fail(const char *what, const char *path, const char *p, size_t n)
{
	fprintf(stderr, "fuzz-task: for %s:\n", path);
	fuzz_fail(what, p, n);
}

static void
check_json(const struct buf *b, int first, const char *what,
    const char *path)
{
	if (!fuzz_is_json(b->p, b->len, first))
		fail(what, path, b->p, b->len);
}

/* The normalised task, brief and full, parses back. */
static void
check_task(const struct taskstate *t, const char *path)
{
	struct buf b = { 0 };

	task_json(t, 1, &b);
	check_json(&b, '{', "brief task_json is not JSON", path);
	buf_reset(&b);
	task_json(t, 0, &b);
	check_json(&b, '{', "task_json is not JSON", path);
	buf_free(&b);
	if (t->phase < TASK_RUNNING || t->phase > TASK_CANCELLED)
		fail("phase out of range", path, NULL, 0);
	if (!(t->progress == -1 || (t->progress >= 0 && t->progress <= 1)))
		fail(isnan(t->progress) ? "progress is NaN" :
		    "progress out of [0,1] and not -1", path, NULL, 0);
}

static void
one(const char *path, const uint8_t *data, size_t size)
{
	const struct endpoint *ep = ep_lookup("POST", path);
	const struct taskdesc *d = NULL;
	struct taskstate t;
	struct buf msg = { 0 }, url = { 0 }, body = { 0 };
	const char *why;
	int rc;

	if (!ep || !(d = ep->task))
		fail("no task descriptor", path, NULL, 0);
	memset(&t, 0, sizeof t);

	/* As a submit answer. */
	rc = task_submit(d, (const char *)data, size, &t, &msg);
	if (rc != TASK_RUNNING && rc != TASK_REFUSED && rc != TASK_BAD)
		fail("task_submit returned an unknown value", path, NULL, 0);
	if (rc != TASK_RUNNING && !msg.len)
		fail("task_submit failed without a message", path, NULL, 0);
	if (rc == TASK_REFUSED)
		/* The refusing code goes into the error record as is. */
		check_json(&t.status, 0, "the refusing code is not JSON",
		    path);
	if (rc == TASK_RUNNING) {
		if (!t.id.len)
			fail("a running task without an id", path, NULL, 0);
		check_json(&t.raw, 0, "the submit answer's raw is not JSON",
		    path);
		t.submitted = 1;
		check_task(&t, path);
		t.submitted = 0;
	} else {
		/* Poll a made-up task, as after another submit. */
		task_state_free(&t);
		buf_puts(&t.id, "mj/../x y\"%");
		t.progress = -1;
	}

	/* The poll request for it. */
	task_poll(d, path, &t, &url, &body);
	if ((why = in_url_problem(url.p ? url.p : "")) != NULL)
		fail(why, path, url.p, url.len);
	if (d->poll_body)
		check_json(&body, 0, "the poll body is not JSON", path);
	else if (body.len)
		fail("a poll body without a template", path, body.p, body.len);

	/* As a poll answer, twice: the second changes nothing. */
	t.polls = 1;
	rc = task_update(d, 200, (const char *)data, size, &t, &msg);
	if (rc < TASK_RUNNING || rc > TASK_BAD || rc == TASK_REFUSED)
		fail("task_update returned an unknown value", path, NULL, 0);
	if (rc == TASK_BAD && !msg.len)
		fail("task_update failed without a message", path, NULL, 0);
	if (rc <= TASK_CANCELLED) {
		if (rc != t.phase)
			fail("task_update's value is not the phase", path,
			    NULL, 0);
		check_json(&t.urls, '[', "urls are not a JSON array", path);
		check_json(&t.raw, 0, "raw is not JSON", path);
		check_task(&t, path);
		rc = task_update(d, 200, (const char *)data, size, &t, &msg);
		if (t.changed)
			fail("the same answer twice counts as a change", path,
			    NULL, 0);
		check_task(&t, path);
	}
	rc = task_update(d, 404, (const char *)data, size, &t, &msg);
	if (rc < TASK_RUNNING || rc > TASK_BAD || rc == TASK_REFUSED)
		fail("task_update (404) returned an unknown value", path,
		    NULL, 0);
	check_task(&t, path);

	task_state_free(&t);
	buf_free(&msg);
	buf_free(&url);
	buf_free(&body);
}

static void *
run(void *arg)
{
	const struct answer *in = arg;
	size_t i;

	for (i = 0; i < sizeof submits / sizeof submits[0]; i++)
		one(submits[i], in->data, in->size);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answer in = { data, size };

	fuzz_on_stack(STACK, run, &in);
	return 0;
}
