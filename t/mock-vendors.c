/*
 * mock-vendors.c: the vendor routes of t/mockvman: Midjourney, Suno,
 * Flux, Kling, Luma, Runway, CogVideoX, Viggle, Ideogram, Recraft,
 * Stability, each in its vendor's shapes; new-api's task envelope and
 * its generic video tasks.
 * What it answers: t/mockvman.md.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

/* new-api's task-style error: {"code":"...","message":"...","data":null}. */
static void
ans_taskerr(struct req *q, int status, const char *code, const char *msg)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	json_ks(y, "code", code);
	json_ks(y, "message", msg);
	json_ks(y, "data", NULL);
	yajl_gen_map_close(y);
	route_json(q, status);
}

/* new-api's answer for a task id it does not know. */
static void
ans_task_not_exist(struct req *q, const char *id)
{
	(void)id;
	ans_taskerr(q, 404, "task_not_exist", "task not exist");
}

/* ------------------------------------------------------------------ */
/* Midjourney (midjourney-proxy-plus, as relayed by new-api) */

enum { MJK_IMAGINE, MJK_BLEND, MJK_DESCRIBE, MJK_SHORTEN, MJK_SWAP,
	MJK_UPSCALE, MJK_VARIATION, MJK_REROLL, MJK_ZOOM, MJK_PAN, MJK_VIDEO };

static const char *const mj_actions[] = { "IMAGINE", "BLEND", "DESCRIBE",
	"SHORTEN", "SWAP_FACE", "UPSCALE", "VARIATION", "REROLL", "ZOOM",
	"PAN", "VIDEO" };

#define E_REROLL	"\xf0\x9f\x94\x84"
#define E_WAND		"\xf0\x9f\xaa\x84"
#define E_BRUSH		"\xf0\x9f\x96\x8c\xef\xb8\x8f"
#define E_ZOOM		"\xf0\x9f\x94\x8d"
#define MJ_DESCRIBED	"1\xef\xb8\x8f\xe2\x83\xa3 a mock description of " \
	"the image --ar 1:1\n\n2\xef\xb8\x8f\xe2\x83\xa3 another mock " \
	"description --ar 1:1"

static void
mj_button(yajl_gen y, const char *cid, const char *emoji, const char *label)
{
	yajl_gen_map_open(y);
	json_ks(y, "customId", cid);
	json_ks(y, "emoji", emoji);
	json_ks(y, "label", label);
	json_ki(y, "type", 2);
	json_ki(y, "style", 2);
	yajl_gen_map_close(y);
}

/* The buttons Discord shows under a finished task. */
static void
mj_buttons(yajl_gen y, const struct task *t)
{
	static const struct {
		const char *fmt, *emoji, *label;
	} up[] = {
		{ "MJ::JOB::high_variation::1::%s::SOLO", E_WAND,
		    "Vary (Strong)" },
		{ "MJ::JOB::low_variation::1::%s::SOLO", E_WAND,
		    "Vary (Subtle)" },
		{ "MJ::Inpaint::1::%s::SOLO", E_BRUSH, "Vary (Region)" },
		{ "MJ::Outpaint::50::1::%s::SOLO", E_ZOOM, "Zoom Out 2x" },
		{ "MJ::Outpaint::75::1::%s::SOLO", E_ZOOM, "Zoom Out 1.5x" },
		{ "MJ::CustomZoom::%s", E_ZOOM, "Custom Zoom" },
		{ "MJ::JOB::pan_left::1::%s::SOLO", "\xe2\xac\x85\xef\xb8\x8f",
		    "" },
		{ "MJ::JOB::pan_right::1::%s::SOLO",
		    "\xe2\x9e\xa1\xef\xb8\x8f", "" },
	};
	char h[48], cid[160], lab[8];
	size_t i;

	util_uuid(h, sizeof h, t->ord);
	json_put(y, "buttons");
	yajl_gen_array_open(y);
	if (task_phase(t, NULL) != TP_DONE || t->kind == MJK_SWAP ||
	    t->kind == MJK_VIDEO)
		;
	else if (t->kind == MJK_UPSCALE)
		for (i = 0; i < sizeof up / sizeof up[0]; i++) {
			snprintf(cid, sizeof cid, up[i].fmt, h);
			mj_button(y, cid, up[i].emoji, up[i].label);
		}
	else if (t->kind == MJK_DESCRIBE || t->kind == MJK_SHORTEN) {
		for (i = 1; i <= 4; i++) {
			if (t->kind == MJK_DESCRIBE)
				snprintf(cid, sizeof cid,
				    "MJ::Job::PicReader::%zu", i);
			else
				snprintf(cid, sizeof cid, "MJ::Job::"
				    "PromptAnalyzer::%s::SOLO::%zu", h, i);
			snprintf(lab, sizeof lab, "%zu", i);
			mj_button(y, cid, "", lab);
		}
		mj_button(y, t->kind == MJK_DESCRIBE ? "MJ::Picread::Retry" :
		    "MJ::Job::PromptAnalyzer::Retry", E_REROLL, "");
	} else {
		for (i = 1; i <= 4; i++) {
			snprintf(cid, sizeof cid, "MJ::JOB::upsample::%zu::%s",
			    i, h);
			snprintf(lab, sizeof lab, "U%zu", i);
			mj_button(y, cid, "", lab);
		}
		snprintf(cid, sizeof cid, "MJ::JOB::reroll::0::%s::SOLO", h);
		mj_button(y, cid, E_REROLL, "");
		for (i = 1; i <= 4; i++) {
			snprintf(cid, sizeof cid,
			    "MJ::JOB::variation::%zu::%s", i, h);
			snprintf(lab, sizeof lab, "V%zu", i);
			mj_button(y, cid, "", lab);
		}
	}
	yajl_gen_array_close(y);
}

/* The media of a finished task besides imageUrl: a video's videoUrl
 * and videoUrls [{url}] (new-api's MidjourneyDto), and with
 * mock.image_urls a fork's imageUrls, as strings or {url,thumbnail}. */
static void
mj_media(yajl_gen y, const struct task *t)
{
	char name[96], u[256];
	int i;

	if (t->kind == MJK_VIDEO) {
		snprintf(name, sizeof name, "mj-%s-1", t->id);
		files_kurl(y, "videoUrl", name, ".mp4");
		json_put(y, "videoUrls");
		yajl_gen_array_open(y);
		for (i = 1; i <= 2; i++) {
			snprintf(name, sizeof name, "mj-%s-%d", t->id, i);
			yajl_gen_map_open(y);
			files_kurl(y, "url", name, ".mp4");
			yajl_gen_map_close(y);
		}
		yajl_gen_array_close(y);
	}
	if (t->image_urls == IU_NONE || t->kind == MJK_SHORTEN)
		return;
	json_put(y, "imageUrls");
	yajl_gen_array_open(y);
	for (i = 1; i <= 4; i++) {
		snprintf(name, sizeof name, "mj-%s-%d", t->id, i);
		if (t->image_urls == IU_STRINGS) {
			files_url(u, sizeof u, name, ".png");
			json_put(y, u);
			continue;
		}
		yajl_gen_map_open(y);
		files_kurl(y, "url", name, ".png");
		snprintf(name, sizeof name, "mj-%s-%d-thumb", t->id, i);
		files_kurl(y, "thumbnail", name, ".webp");
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
}

/* A task as new-api's MidjourneyDto shows it: strings are "" and times
 * 0 until they have a value. */
static void
mj_task(yajl_gen y, const struct task *t)
{
	int ph = task_phase(t, NULL), done = ph == TP_DONE;
	const char *prompt = t->prompt;
	char pct[8], u[256];

	if (done && t->kind == MJK_DESCRIBE)
		prompt = MJ_DESCRIBED;
	u[0] = '\0';
	if (done && t->kind != MJK_SHORTEN)
		snprintf(u, sizeof u, "http://127.0.0.1:%d/files/mj-%s.png",
		    g.port, t->id);
	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "action", mj_actions[t->kind]);
	json_ks(y, "customId", t->extra ? t->extra : "");
	json_ks(y, "botType", t->model ? t->model : "MID_JOURNEY");
	json_ks(y, "prompt", prompt);
	json_ks(y, "promptEn", prompt);
	json_ks(y, "description", t->title);
	json_ks(y, "state", t->state ? t->state : "");
	json_ki(y, "submitTime", t->submit_ms);
	json_ki(y, "startTime", t->start_ms);
	json_ki(y, "finishTime", t->finish_ms);
	json_ks(y, "imageUrl", u);
	if (done)
		mj_media(y, t);
	json_ks(y, "status", task_status(t));
	snprintf(pct, sizeof pct, "%d%%", task_pct(t));
	json_ks(y, "progress", pct);
	json_ks(y, "failReason", ph == TP_FAIL ? FAIL_REASON : "");
	mj_buttons(y, t);
	json_ks(y, "maskBase64", "");
	json_put(y, "properties");
	yajl_gen_map_open(y);
	json_ks(y, "finalPrompt", prompt);
	json_ks(y, "finalZhPrompt", "");
	if (t->hook)
		json_ks(y, "notifyHook", t->hook);
	json_ks(y, "discordInstanceId", "mock");
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

/* Open a submit result; the caller adds properties, then
 * mj_result_end. */
static void
mj_result(struct req *q, long long code, const char *desc,
    const char *result)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	json_ki(y, "code", code);
	json_ks(y, "description", desc);
	json_ks(y, "result", result);
	json_put(y, "properties");
	yajl_gen_map_open(y);
}

static void
mj_result_end(struct req *q)
{
	yajl_gen_map_close(q->y);
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

static void
mj_refuse(struct req *q, long long code, const char *desc)
{
	mj_result(q, code, desc, NULL);
	mj_result_end(q);
}

/* new-api's answer for an id it does not know (HTTP 400; the space
 * after the description is new-api's, which appends an empty result). */
static void
mj_not_found(struct req *q, const char *id)
{
	yajl_gen y = q->y;

	(void)id;
	yajl_gen_map_open(y);
	json_ks(y, "description", "task_no_found ");
	json_ks(y, "type", "upstream_error");
	json_ki(y, "code", 4);
	yajl_gen_map_close(y);
	route_json(q, 400);
}

static int
mj_kind(const char *cid)
{
	if (strstr(cid, "upsample"))
		return MJK_UPSCALE;
	if (strstr(cid, "reroll") || strstr(cid, "Picread::Retry"))
		return strstr(cid, "Picread") ? MJK_DESCRIBE : MJK_REROLL;
	if (strstr(cid, "Outpaint") || strstr(cid, "CustomZoom"))
		return MJK_ZOOM;
	if (strstr(cid, "pan_"))
		return MJK_PAN;
	if (strstr(cid, "PicReader"))
		return MJK_IMAGINE;
	return MJK_VARIATION;
}

/* Does body r have a non-empty string member k? */
static int
mj_has(yajl_val r, const char *k)
{
	return util_nonempty(json_str(json_get(r, k)));
}

/* Refuse a submit that lacks what its kind needs (code 4): 0 after
 * refusing, 1 when it may go on. */
static int
mj_check(struct req *q, int arg)
{
	yajl_val r = q->root, a;
	const char *miss = NULL;
	char desc[64];

	switch (arg) {
	case MJS_IMAGINE:
	case MJS_SHORTEN:
	case MJS_VIDEO:
		if (!mj_has(r, "prompt"))
			miss = "prompt";
		break;
	case MJS_BLEND:
		a = json_get(r, "base64Array");
		if (!YAJL_IS_ARRAY(a) || a->u.array.len == 0)
			miss = "base64Array";
		else if (a->u.array.len < 2 || a->u.array.len > 5) {
			mj_refuse(q, 4, "base64Array must hold 2 to 5 images");
			return 0;
		}
		break;
	case MJS_DESCRIBE:
		if (!mj_has(r, "base64") && !mj_has(r, "link"))
			miss = "base64";
		break;
	case MJS_SWAP:
		if (!mj_has(r, "sourceBase64") && !mj_has(r, "sourceUrl"))
			miss = "sourceBase64";
		else if (!mj_has(r, "targetBase64") && !mj_has(r, "targetUrl"))
			miss = "targetBase64";
		break;
	case MJS_ACTION:
		if (!mj_has(r, "customId"))
			miss = "customId";
		/* FALLTHROUGH */
	case MJS_MODAL:
		if (!mj_has(r, "taskId"))
			miss = "taskId";
		break;
	}
	if (miss == NULL)
		return 1;
	snprintf(desc, sizeof desc, "%s is required", miss);
	mj_refuse(q, 4, desc);
	return 0;
}

/* Answer the refusals mock.mj_code asks for (and a "banned" prompt's):
 * 1 after answering, 0 when the submit goes on. */
static int
mj_code_refuse(struct req *q, long long code, const char *prompt)
{
	char desc[64];

	switch (code) {
	case 1:
	case 21:
	case 22:
	case 24:
		break;
	case 23:
		mj_result(q, 23, "Queue is full, please try again later",
		    NULL);
		json_ki(q->y, "numberOfQueues", 10);
		json_ks(q->y, "discordInstanceId", "mock");
		mj_result_end(q);
		return 1;
	case 4:
		mj_refuse(q, 4, "mock validation error");
		return 1;
	case 9:
		mj_refuse(q, 9, "mock system error");
		return 1;
	default:
		snprintf(desc, sizeof desc, "mock code %lld", code);
		mj_refuse(q, code, desc);
		return 1;
	}
	if (code != 24 && !util_has_word(prompt, "banned"))
		return 0;
	mj_result(q, 24, "May contain sensitive words", NULL);
	json_ks(q->y, "promptEn", prompt ? prompt : "");
	json_ks(q->y, "bannedWord", "banned");
	mj_result_end(q);
	return 1;
}

/* POST /mj/submit/modal: the parent waiting for its window goes on,
 * with the prompt given if any. */
static void
mj_modal(struct req *q, struct task *parent, const char *prompt)
{
	if (!parent->modal) {
		mj_refuse(q, 4, "task is not waiting for a modal");
		return;
	}
	parent->modal = 0;
	if (util_nonempty(prompt)) {
		free(parent->prompt);
		parent->prompt = util_strdup(prompt);
		parent->fail |= util_has_word(prompt, "fail");
	}
	mj_result(q, 1, "Submit success", parent->id);
	mj_result_end(q);
}

/* A new task's submit result: its code says how it was taken. */
static void
mj_accepted(struct req *q, const struct task *t, long long code)
{
	if (t->modal)
		mj_result(q, 21, "Waiting for window confirm", t->id);
	else if (code == 21)
		mj_result(q, 21, "Task already exists", t->id);
	else if (code == 22) {
		mj_result(q, 22, "In queue, there is 1 task ahead", t->id);
		json_ki(q->y, "numberOfQueues", 1);
		json_ks(q->y, "discordInstanceId", "mock");
	} else
		mj_result(q, 1, "Submit success", t->id);
	mj_result_end(q);
}

/* POST /mj/submit/..., /mj/insight-face/swap: a new task, or (modal)
 * the parent's go-ahead; an action acts on a finished parent. */
void
vend_mj_submit(struct req *q, int arg)
{
	static const int kinds[] = { MJK_IMAGINE, MJK_BLEND, MJK_DESCRIBE,
		MJK_SHORTEN, 0, 0, MJK_SWAP, MJK_VIDEO };
	static const char *const cmd[] = { "/imagine ", "/blend", "/describe",
		"/shorten ", "", "", "/swap_face", "/video " };
	yajl_val r = q->root;
	const char *prompt = json_str(json_get(r, "prompt"));
	const char *tid = json_str(json_get(r, "taskId"));
	const char *cid = json_str(json_get(r, "customId"));
	struct task *t, *parent = NULL;
	char desc[256];
	int modal = 0, kind = kinds[arg];

	if (!mj_check(q, arg) || mj_code_refuse(q, q->tm.mj_code, prompt))
		return;
	if (tid && (arg == MJS_MODAL || arg == MJS_ACTION) &&
	    (parent = task_find(FAM_MJ, tid)) == NULL) {
		mj_refuse(q, 3, "related task not found or expired");
		return;
	}
	if (arg == MJS_MODAL) {
		mj_modal(q, parent, prompt);
		return;
	}
	if (arg == MJS_ACTION) {
		if (task_phase(parent, NULL) != TP_DONE) {
			mj_refuse(q, 4, "related task status error");
			return;
		}
		kind = mj_kind(cid);
		modal = strstr(cid, "Inpaint") != NULL ||
		    strstr(cid, "CustomZoom") != NULL;
		prompt = parent->prompt;
	}
	t = task_new(FAM_MJ, kind, q, prompt);
	t->modal = modal;
	t->model = util_strdup(json_str(json_get(r, "botType")));
	t->hook = util_strdup(json_str(json_get(r, "notifyHook")));
	t->state = util_strdup(json_str(json_get(r, "state")));
	if (arg == MJS_ACTION) {
		t->extra = util_strdup(cid);
		snprintf(desc, sizeof desc, "/%s %s", mj_actions[kind],
		    parent->id);
	} else
		snprintf(desc, sizeof desc, "%s%s", cmd[arg],
		    arg == MJS_IMAGINE || arg == MJS_SHORTEN ||
		    arg == MJS_VIDEO ? prompt : "");
	t->title = util_strdup(desc);
	mj_accepted(q, t, q->tm.mj_code);
}

/* POST /mj/submit/upload-discord-images {base64Array}: an upload, not
 * a task: {"code":1,"description":"success","result":[url per image]}. */
void
vend_mj_upload(struct req *q, int arg)
{
	yajl_val a = json_get(q->root, "base64Array");
	yajl_gen y = q->y;
	char u[128];
	size_t i;

	(void)arg;
	if (!YAJL_IS_ARRAY(a) || a->u.array.len == 0) {
		mj_refuse(q, 4, "base64Array is required");
		return;
	}
	if (mj_code_refuse(q, q->tm.mj_code, NULL))
		return;
	yajl_gen_map_open(y);
	json_ki(y, "code", 1);
	json_ks(y, "description", "success");
	json_put(y, "result");
	yajl_gen_array_open(y);
	for (i = 0; i < a->u.array.len; i++) {
		snprintf(u, sizeof u, "https://cdn.discordapp.com/attachments/"
		    "mock/%llu/upload-%zu.png", q->seq, i);
		json_put(y, u);
	}
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* GET /mj/task/{id}/fetch: the task. */
static void
mj_answer(struct req *q, const struct task *t)
{
	mj_task(q->y, t);
}

/* POST /mj/task/list-by-condition {"ids":[...]}: a poll of each known
 * id; unknown ones (and those answering "not found") are left out. */
void
vend_mj_list_by(struct req *q, int arg)
{
	yajl_val ids = json_get(q->root, "ids");
	struct task *t;
	const char *id;
	size_t i;

	(void)arg;
	yajl_gen_array_open(q->y);
	for (i = 0; YAJL_IS_ARRAY(ids) && i < ids->u.array.len; i++)
		if ((id = json_str(ids->u.array.values[i])) != NULL &&
		    (t = task_poll_id(FAM_MJ, id)) != NULL)
			mj_task(q->y, t);
	yajl_gen_array_close(q->y);
	route_json(q, q->status);
}

/* GET /mj/task/list (every task), /mj/task/queue (the unfinished):
 * views, not polls. */
void
vend_mj_list(struct req *q, int queue)
{
	struct task *t;

	yajl_gen_array_open(q->y);
	for (t = g.tasks; t; t = t->next)
		if (t->fam == FAM_MJ && (!queue || !task_over(t)))
			mj_task(q->y, t);
	yajl_gen_array_close(q->y);
	route_json(q, q->status);
}

static int
in_strings(yajl_val a, const char *s)
{
	size_t i;

	for (i = 0; YAJL_IS_ARRAY(a) && i < a->u.array.len; i++)
		if (json_str(a->u.array.values[i]) &&
		    strcmp(json_str(a->u.array.values[i]), s) == 0)
			return 1;
	return 0;
}

static void
spring_sort(yajl_gen y)
{
	json_put(y, "sort");
	yajl_gen_map_open(y);
	json_kb(y, "empty", 0);
	json_kb(y, "sorted", 1);
	json_kb(y, "unsorted", 0);
	yajl_gen_map_close(y);
}

/* POST /mj/task/query: a Spring page of the matching tasks, newest
 * first. */
void
vend_mj_query(struct req *q, int arg)
{
	yajl_val r = q->root, ids = json_get(r, "ids");
	yajl_val set = json_get(r, "statusSet");
	const char *st = json_str(json_get(r, "status"));
	const char *act = json_str(json_get(r, "action"));
	long long num = util_clamp(json_int(json_get(r, "pageNumber"), 0), 0,
	    1000000);
	long long size = util_clamp(json_int(json_get(r, "pageSize"), 10), 1,
	    1000);
	long long total = 0, k = 0, pages;
	yajl_gen y = q->y;
	struct task *t, **v = NULL, **nv;
	size_t cap = 0;

	(void)arg;
	for (t = g.tasks; t; t = t->next) {
		if (t->fam != FAM_MJ || (util_nonempty(st) &&
		    strcmp(st, task_status(t)) != 0) || (util_nonempty(act) &&
		    strcmp(act, mj_actions[t->kind]) != 0) ||
		    (YAJL_IS_ARRAY(ids) && ids->u.array.len > 0 &&
		    !in_strings(ids, t->id)) || (YAJL_IS_ARRAY(set) &&
		    set->u.array.len > 0 && !in_strings(set, task_status(t))))
			continue;
		if ((size_t)total == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL)
				errx(2, "out of memory");
			v = nv;
		}
		v[total++] = t;
	}
	pages = (total + size - 1) / size;
	yajl_gen_map_open(y);
	json_put(y, "content");
	yajl_gen_array_open(y);
	for (k = num * size; k < total && k < (num + 1) * size; k++)
		mj_task(y, v[total - 1 - k]);
	yajl_gen_array_close(y);
	json_put(y, "pageable");
	yajl_gen_map_open(y);
	spring_sort(y);
	json_ki(y, "offset", num * size);
	json_ki(y, "pageNumber", num);
	json_ki(y, "pageSize", size);
	json_kb(y, "paged", 1);
	json_kb(y, "unpaged", 0);
	yajl_gen_map_close(y);
	json_kb(y, "last", num + 1 >= pages);
	json_ki(y, "totalElements", total);
	json_ki(y, "totalPages", pages);
	json_ki(y, "size", size);
	json_ki(y, "number", num);
	spring_sort(y);
	json_kb(y, "first", num == 0);
	k = total - num * size;
	json_ki(y, "numberOfElements", k < 0 ? 0 : k > size ? size : k);
	json_kb(y, "empty", k <= 0);
	yajl_gen_map_close(y);
	free(v);
	route_json(q, q->status);
}

/* POST /mj/task/{id}/cancel and GET /mj/task/{id}/image-seed. */
void
vend_mj_task_op(struct req *q, int seed)
{
	struct task *t;
	char id[128], s[24];

	if (!route_cap(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_MJ, id)) == NULL) {
		mj_not_found(q, id);
		return;
	}
	if (seed) {
		if (task_phase(t, NULL) != TP_DONE) {
			mj_refuse(q, 4, "task status error");
			return;
		}
		snprintf(s, sizeof s, "%llu",
		    (unsigned long long)(util_mix64(t->ord) % 4294967295ULL));
		mj_result(q, 1, "Success", s);
	} else {
		if (task_over(t)) {
			mj_refuse(q, 4, "task is already finished");
			return;
		}
		t->killed = 1;
		t->modal = 0;
		task_times(t);
		mj_result(q, 1, "Success", t->id);
	}
	mj_result_end(q);
}

/* ------------------------------------------------------------------ */
/* Suno: the GoAPI format (/suno/v1) and new-api's (/suno/submit) */

/* A member of a Suno body: in "input" (GoAPI) or at the top. */
static const char *
suno_field(yajl_val r, const char *k)
{
	const char *s = json_str(json_get(json_get(r, "input"), k));

	return util_nonempty(s) ? s : json_str(json_get(r, k));
}

static const char *
suno_prompt(yajl_val r)
{
	const char *s = suno_field(r, "prompt");

	return util_nonempty(s) ? s : suno_field(r, "gpt_description_prompt");
}

/* Fill the members every Suno task keeps. */
static struct task *
suno_task_new(struct req *q, int fam, int kind, const char *defmv)
{
	yajl_val r = q->root;
	const char *mv = json_str(json_get(r, "mv")), *s;
	struct task *t;

	t = task_new(fam, kind, q, suno_prompt(r));
	t->num = kind == SK_CONCAT ? 1 : kind == SK_LYRICS ? 0 : 2;
	t->model = util_strdup(util_nonempty(mv) ? mv : defmv);
	s = suno_field(r, "title");
	t->title = util_strdup(util_nonempty(s) ? s : "Mock Song");
	s = suno_field(r, "tags");
	t->tags = util_strdup(util_nonempty(s) ? s : "pop");
	t->input = json_text(r);
	return t;
}

static const char *
suno_clip_status(const struct task *t)
{
	long long ix;

	switch (task_phase(t, &ix)) {
	case TP_PRE:
		return ix >= 2 ? "queued" : "submitted";
	case TP_RUN:
		return "streaming";
	case TP_DONE:
		return "complete";
	}
	return "error";
}

/* Clip i (1-based) of t; its urls are filled once the task is done. */
static void
suno_clip(yajl_gen y, const struct task *t, int i)
{
	int ph = task_phase(t, NULL), done = ph == TP_DONE;
	char cid[96], iso[40];

	snprintf(cid, sizeof cid, "%s-clip%d", t->id, i);
	util_iso_time(iso, sizeof iso, t->submit_ms);
	yajl_gen_map_open(y);
	json_ks(y, "id", cid);
	json_ks(y, "title", t->title);
	json_ks(y, "status", suno_clip_status(t));
	if (done) {
		files_kurl(y, "audio_url", cid, ".mp3");
		files_kurl(y, "video_url", cid, ".mp4");
		files_kurl(y, "image_url", cid, ".png");
		files_kurl(y, "image_large_url", cid, "-large.png");
	} else {
		json_ks(y, "audio_url", "");
		json_ks(y, "video_url", "");
		json_ks(y, "image_url", "");
		json_ks(y, "image_large_url", "");
	}
	json_ks(y, "model_name", t->model);
	json_ks(y, "created_at", iso);
	json_put(y, "metadata");
	yajl_gen_map_open(y);
	json_ks(y, "tags", t->tags);
	json_ks(y, "prompt", t->prompt);
	if (done)
		json_kd(y, "duration", 120.5 + i);
	else
		json_ks(y, "duration", NULL);
	json_ks(y, "error_type", ph == TP_FAIL ? "mock" : NULL);
	json_ks(y, "error_message", ph == TP_FAIL ? FAIL_REASON : NULL);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

static void
goapi_error(struct req *q, int status, const char *msg)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	json_ki(y, "code", status);
	json_ks(y, "data", NULL);
	json_ks(y, "message", msg);
	yajl_gen_map_close(y);
	route_json(q, status);
}

/* POST /suno/v1/music, /suno/v1/v3.0/music, .../concat. */
void
vend_suno_submit(struct req *q, int arg)
{
	yajl_gen y = q->y;
	struct task *t;

	if (arg == SK_CONCAT &&
	    !util_nonempty(json_str(json_get(q->root, "clip_id")))) {
		goapi_error(q, 400, "clip_id is required");
		return;
	}
	t = suno_task_new(q, FAM_SUNO, arg,
	    arg == SK_V35 ? "chirp-v3-5" : "chirp-v3-0");
	yajl_gen_map_open(y);
	json_ki(y, "code", 200);
	json_put(y, "data");
	yajl_gen_map_open(y);
	json_ks(y, "task_id", t->id);
	yajl_gen_map_close(y);
	json_ks(y, "message", "success");
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* GET /suno/v1/music/{id}, /suno/v1/v3.0/music/{id}: GoAPI's
 * envelope around the task and its clips by id. */
static void
suno_answer(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;
	int i;

	yajl_gen_map_open(y);
	json_ki(y, "code", 200);
	json_ks(y, "message", "success");
	json_put(y, "data");
	yajl_gen_map_open(y);
	json_ks(y, "task_id", t->id);
	json_ks(y, "status", task_status(t));
	json_ks(y, "input", t->input);
	json_put(y, "clips");
	yajl_gen_map_open(y);
	for (i = 1; i <= t->num; i++) {
		char cid[96];

		snprintf(cid, sizeof cid, "%s-clip%d", t->id, i);
		json_put(y, cid);
		suno_clip(y, t, i);
	}
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

/* The times (in seconds) and progress ("NN%") of new-api's TaskDto. */
static void
put_dto_times(yajl_gen y, const struct task *t)
{
	char pct[8];

	json_ki(y, "submit_time", t->submit_ms / 1000);
	json_ki(y, "start_time", t->start_ms / 1000);
	json_ki(y, "finish_time", t->finish_ms / 1000);
	snprintf(pct, sizeof pct, "%d%%", task_pct(t));
	json_ks(y, "progress", pct);
}

/* new-api's TaskDto: times in seconds, progress "NN%", data the clips
 * (music) or the lyrics. */
static void
sunona_task(yajl_gen y, const struct task *t)
{
	int ph = task_phase(t, NULL), i;
	char lyr[512];

	yajl_gen_map_open(y);
	json_ks(y, "task_id", t->id);
	json_ks(y, "action", t->kind == SK_LYRICS ? "LYRICS" : "MUSIC");
	json_ks(y, "status", task_status(t));
	json_ks(y, "fail_reason", ph == TP_FAIL ? FAIL_REASON : "");
	put_dto_times(y, t);
	json_put(y, "data");
	if (t->kind == SK_LYRICS) {
		if (ph != TP_DONE)
			yajl_gen_null(y);
		else {
			snprintf(lyr, sizeof lyr, "[Verse]\n%s\n[Chorus]\n%s",
			    t->prompt, t->prompt);
			yajl_gen_map_open(y);
			json_ks(y, "id", t->id);
			json_ks(y, "text", lyr);
			json_ks(y, "title", t->title);
			json_ks(y, "status", "complete");
			yajl_gen_map_close(y);
		}
	} else {
		yajl_gen_array_open(y);
		for (i = 1; i <= t->num; i++)
			suno_clip(y, t, i);
		yajl_gen_array_close(y);
	}
	yajl_gen_map_close(y);
}

/* new-api's envelope up to "data":; the caller closes it. */
static void
sunona_open(yajl_gen y)
{
	yajl_gen_map_open(y);
	json_ks(y, "code", "success");
	json_ks(y, "message", "");
	json_put(y, "data");
}

/* POST /suno/submit/music, /suno/submit/lyrics. */
void
vend_sunona_submit(struct req *q, int arg)
{
	yajl_gen y = q->y;
	struct task *t;

	if (arg == SK_LYRICS &&
	    !util_nonempty(json_str(json_get(q->root, "prompt")))) {
		ans_taskerr(q, 400, "prompt_empty", "prompt_empty");
		return;
	}
	t = suno_task_new(q, FAM_SUNONA, arg, "chirp-v3-0");
	sunona_open(y);
	json_put(y, t->id);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* GET /suno/fetch/{id}: the task in new-api's envelope. */
static void
sunona_answer(struct req *q, const struct task *t)
{
	sunona_open(q->y);
	sunona_task(q->y, t);
	yajl_gen_map_close(q->y);
}

/* POST /suno/fetch {"ids"}: a poll of each; unknown ids are left
 * out. */
void
vend_sunona_fetch(struct req *q, int arg)
{
	yajl_val ids = json_get(q->root, "ids");
	yajl_gen y = q->y;
	struct task *t;
	const char *s;
	size_t i;

	(void)arg;
	if (!YAJL_IS_ARRAY(ids)) {
		ans_taskerr(q, 400, "invalid_request", "ids is required");
		return;
	}
	sunona_open(y);
	yajl_gen_array_open(y);
	for (i = 0; i < ids->u.array.len; i++)
		if ((s = json_str(ids->u.array.values[i])) != NULL &&
		    (t = task_poll_id(FAM_SUNONA, s)) != NULL)
			sunona_task(y, t);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Flux (BFL) */

/* BFL's (FastAPI's) 422 for a missing field. */
static void
flux_missing(struct req *q, const char *loc, const char *field)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	json_put(y, "detail");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	json_put(y, "loc");
	yajl_gen_array_open(y);
	json_put(y, loc);
	json_put(y, field);
	yajl_gen_array_close(y);
	json_ks(y, "msg", "field required");
	json_ks(y, "type", "value_error.missing");
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	route_json(q, 422);
}

/* POST /flux/v1/{model}. */
void
vend_flux_submit(struct req *q, int arg)
{
	const char *prompt = json_str(json_get(q->root, "prompt"));
	const char *fmt = json_str(json_get(q->root, "output_format"));
	yajl_gen y = q->y;
	struct task *t;
	char model[64], u[256];

	(void)arg;
	if (!util_nonempty(prompt)) {
		flux_missing(q, "body", "prompt");
		return;
	}
	t = task_new(FAM_FLUX, 0, q, prompt);
	if (util_has_word(prompt, "nsfw"))
		t->fail = 2;
	if (route_cap(q, 0, model, sizeof model))
		t->model = util_strdup(model);
	t->extra = util_strdup(fmt && strcmp(fmt, "png") == 0 ? ".png" :
	    ".jpg");
	t->num = json_int(json_get(q->root, "seed"),
	    (long long)(util_mix64(t->ord) % 4294967295ULL));
	snprintf(u, sizeof u, "http://127.0.0.1:%d/flux/v1/get_result?id=%s",
	    g.port, t->id);
	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "polling_url", u);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* GET /flux/v1/get_result without an id. */
static void
flux_no_id(struct req *q)
{
	flux_missing(q, "query", "id");
}

/* An unknown id is a task with status "Task not found" (HTTP 200). */
static void
flux_absent(struct req *q, const char *id)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	json_ks(y, "id", id);
	json_ks(y, "status", "Task not found");
	json_ks(y, "result", NULL);
	json_ks(y, "progress", NULL);
	json_ks(y, "details", NULL);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* GET /flux/v1/get_result?id=: BFL's result, filled once done. */
static void
flux_answer(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;
	int ph = task_phase(t, NULL);

	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "status", ph == TP_FAIL && t->fail == 2 ?
	    "Content Moderated" : task_status(t));
	json_put(y, "result");
	if (ph == TP_DONE) {
		yajl_gen_map_open(y);
		files_kurl(y, "sample", t->id, t->extra);
		json_ki(y, "seed", t->num);
		json_ks(y, "prompt", t->prompt);
		json_kd(y, "start_time", t->start_ms / 1000.0);
		json_kd(y, "end_time", t->finish_ms / 1000.0);
		json_kd(y, "duration", (t->finish_ms - t->start_ms) / 1000.0);
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	json_kd(y, "progress", task_pct(t) / 100.0);
	json_put(y, "details");
	if (ph == TP_FAIL) {
		yajl_gen_map_open(y);
		json_ks(y, "error", t->fail == 2 ? "mock: moderated" :
		    FAIL_REASON);
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	yajl_gen_map_close(y);
}

/* ------------------------------------------------------------------ */
/* Kling */

/* Open Kling's envelope up to "data":; kling_close ends it. */
static void
kling_open(struct req *q, long long code, const char *msg)
{
	yajl_gen y = q->y;
	char rid[48];

	snprintf(rid, sizeof rid, "mock-req-%llu", q->seq);
	yajl_gen_map_open(y);
	json_ki(y, "code", code);
	json_ks(y, "message", msg);
	json_ks(y, "request_id", rid);
	json_put(y, "data");
}

static void
kling_refuse(struct req *q, int status, long long code, const char *msg)
{
	kling_open(q, code, msg);
	yajl_gen_null(q->y);
	yajl_gen_map_close(q->y);
	route_json(q, status);
}

static void
kling_task(yajl_gen y, const struct task *t)
{
	int ph = task_phase(t, NULL), i;
	char u[96];

	yajl_gen_map_open(y);
	json_ks(y, "task_id", t->id);
	json_ks(y, "task_status", task_status(t));
	json_ks(y, "task_status_msg", ph == TP_FAIL ? FAIL_REASON : "");
	json_put(y, "task_info");
	yajl_gen_map_open(y);
	if (t->extra)
		json_ks(y, "external_task_id", t->extra);
	yajl_gen_map_close(y);
	json_ki(y, "created_at", t->submit_ms);
	json_ki(y, "updated_at", t->finish_ms ? t->finish_ms : t->start_ms ?
	    t->start_ms : t->submit_ms);
	if (ph == TP_DONE) {
		json_put(y, "task_result");
		yajl_gen_map_open(y);
		json_put(y, t->kind == KL_IMG ? "images" : "videos");
		yajl_gen_array_open(y);
		for (i = 0; i < (t->kind == KL_IMG ? t->num : 1); i++) {
			snprintf(u, sizeof u, "%s-%d", t->id, i);
			yajl_gen_map_open(y);
			if (t->kind == KL_IMG) {
				json_ki(y, "index", i);
				files_kurl(y, "url", u, ".png");
			} else {
				json_ks(y, "id", u);
				files_kurl(y, "url", u, ".mp4");
				json_ks(y, "duration", t->title);
			}
			yajl_gen_map_close(y);
		}
		yajl_gen_array_close(y);
		yajl_gen_map_close(y);
	}
	yajl_gen_map_close(y);
}

/* The task in Kling's own envelope: a submit's answer and a poll's
 * (mock.shape "vendor"; inside new-api's envelope otherwise). */
static void
kling_answer(struct req *q, const struct task *t)
{
	kling_open(q, 0, "SUCCEED");
	kling_task(q->y, t);
	yajl_gen_map_close(q->y);
}

/* ------------------------------------------------------------------ */
/* new-api's task routes: its envelope, Kling through it, the generic
 * video tasks */

/* The envelope of new-api's task polls (relay/relay_task.go) around t,
 * inner writing the vendor's own body as data.data.  A finished task's
 * url is in result_url, or with mock.legacy_url in fail_reason (new-api
 * before February 2026). */
static void
env_answer(struct req *q, const struct task *t, const char *platform,
    const char *url, void (*inner)(struct req *, const struct task *))
{
	yajl_gen y = q->y;
	int ph = task_phase(t, NULL);

	yajl_gen_map_open(y);
	json_ks(y, "code", "success");
	json_ks(y, "message", "");
	json_put(y, "data");
	yajl_gen_map_open(y);
	json_ks(y, "task_id", t->id);
	json_ks(y, "platform", platform);
	json_ks(y, "action", "generate");
	json_ks(y, "status", task_env_status(t));
	json_ks(y, "fail_reason", ph == TP_FAIL || ph == TP_CANCEL ?
	    FAIL_REASON : ph == TP_DONE && t->legacy_url ? url : "");
	if (ph == TP_DONE && !t->legacy_url)
		json_ks(y, "result_url", url);
	put_dto_times(y, t);
	json_put(y, "data");
	inner(q, t);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

/* new-api's answer for a task id it does not know. */
static void
env_not_exist(struct req *q, const char *id)
{
	(void)id;
	ans_taskerr(q, 400, "task_not_exist", "task_not_exist");
}

/* A Kling poll: Kling's body, inside the envelope unless the task was
 * made with mock.shape "vendor". */
static void
kling_poll_answer(struct req *q, const struct task *t)
{
	char name[96], u[256];

	if (t->vendor) {
		kling_answer(q, t);
		return;
	}
	snprintf(name, sizeof name, "%s-0", t->id);
	files_url(u, sizeof u, name, ".mp4");
	env_answer(q, t, "kling", u, kling_answer);
}

/* new-api's answer to a Kling video submit (since October 2025): an
 * OpenAI-style video object at the top level. */
static void
kling_video_object(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "task_id", t->id);
	json_ks(y, "object", "video");
	json_ks(y, "model", t->model ? t->model : "kling-v1");
	json_ks(y, "status", "queued");
	json_ki(y, "progress", 0);
	json_ki(y, "created_at", t->submit_ms / 1000);
	yajl_gen_map_close(y);
}

/* POST /kling/v1/images/generations, videos/text2video,
 * videos/image2video.  Images have no new-api route: always Kling's
 * shape. */
void
vend_kling_submit(struct req *q, int arg)
{
	yajl_val r = q->root, d = json_get(r, "duration");
	const char *prompt = json_str(json_get(r, "prompt")), *model;
	struct task *t;
	char dur[24];

	if (arg != KL_I2V && !util_nonempty(prompt)) {
		kling_refuse(q, 400, 1201, "prompt is required");
		return;
	}
	if (arg == KL_I2V && !util_nonempty(json_str(json_get(r, "image")))) {
		kling_refuse(q, 400, 1201, "image is required");
		return;
	}
	if (q->tm.kling_code != 0) {
		snprintf(dur, sizeof dur, "mock error %lld",
		    q->tm.kling_code);
		kling_refuse(q, q->status, q->tm.kling_code, dur);
		return;
	}
	if (util_has_word(prompt, "banned")) {
		kling_refuse(q, 400, 1301, "Trigger the content security "
		    "policy of the platform");
		return;
	}
	t = task_new(FAM_KLING, arg, q, prompt);
	t->vendor |= arg == KL_IMG;
	t->num = util_clamp(json_int(json_get(r, "n"), 1), 1, 9);
	if (json_str(d))
		snprintf(dur, sizeof dur, "%s", json_str(d));
	else
		snprintf(dur, sizeof dur, "%lld", json_int(d, 5));
	t->title = util_strdup(dur);
	t->extra = util_strdup(json_str(json_get(r, "external_task_id")));
	if ((model = json_str(json_get(r, "model_name"))) == NULL)
		model = json_str(json_get(r, "model"));
	t->model = util_strdup(model);
	if (t->vendor)
		kling_answer(q, t);
	else
		kling_video_object(q, t);
	route_json(q, q->status);
}

/* Not found: Kling's 404 for a task made in its shape, else new-api's
 * 400. */
static void
kling_absent(struct req *q, const char *id)
{
	struct task *t = task_find(FAM_KLING, id);

	if (t == NULL || !t->vendor)
		env_not_exist(q, id);
	else
		kling_refuse(q, 404, 1203, "task not found");
}

/* The vendor's body inside a generic video task's envelope. */
static void
video_inner(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "model", t->model);
	json_ks(y, "status", task_status(t));
	yajl_gen_map_close(y);
}

/* GET /v1/video/generations/{id}: the envelope. */
static void
video_answer(struct req *q, const struct task *t)
{
	char u[256];

	files_url(u, sizeof u, t->id, ".mp4");
	env_answer(q, t, t->model ? t->model : "video", u, video_inner);
}

/* POST /v1/video/generations {model, prompt or image}: new-api's
 * generic video task (Kling, Jimeng, Vidu, Sora, Hailuo, Doubao, Veo
 * channels) -> {"task_id"}. */
void
vend_video_submit(struct req *q, int arg)
{
	yajl_val r = q->root;
	const char *prompt = json_str(json_get(r, "prompt"));
	struct task *t;

	(void)arg;
	if (!util_nonempty(prompt) &&
	    !util_nonempty(json_str(json_get(r, "image")))) {
		ans_taskerr(q, 400, "invalid_request", "prompt is required");
		return;
	}
	t = task_new(FAM_VIDEO, 0, q, prompt);
	t->model = util_strdup(json_str(json_get(r, "model")));
	yajl_gen_map_open(q->y);
	json_ks(q->y, "task_id", t->id);
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Luma */

static void
luma_media(yajl_gen y, const char *k, const struct task *t,
    const char *suffix, int video)
{
	char name[96];

	json_put(y, k);
	if (task_phase(t, NULL) != TP_DONE) {
		yajl_gen_null(y);
		return;
	}
	snprintf(name, sizeof name, "%s%s", t->id, suffix);
	yajl_gen_map_open(y);
	files_kurl(y, "url", name, video ? ".mp4" : ".jpg");
	json_ki(y, "width", 1360);
	json_ki(y, "height", 752);
	if (video) {
		snprintf(name, sizeof name, "%s-raw", t->id);
		files_kurl(y, "download_url", name, ".mp4");
		json_ks(y, "thumbnail", NULL);
	}
	yajl_gen_map_close(y);
}

/* A Luma generation: a submit's answer and a poll's. */
static void
luma_answer(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;
	char iso[40];

	util_iso_time(iso, sizeof iso, t->submit_ms);
	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "prompt", t->prompt);
	json_ks(y, "state", task_status(t));
	json_ks(y, "created_at", iso);
	luma_media(y, "video", t, "", 1);
	json_ks(y, "liked", NULL);
	json_ks(y, "estimate_wait_seconds", NULL);
	luma_media(y, "thumbnail", t, "", 0);
	luma_media(y, "last_frame", t, "-last", 0);
	json_ks(y, "failure_reason", task_phase(t, NULL) == TP_FAIL ?
	    FAIL_REASON : NULL);
	yajl_gen_map_close(y);
}

/* POST /luma/generations (or .../). */
void
vend_luma_submit(struct req *q, int arg)
{
	const char *prompt = json_str(json_get(q->root, "user_prompt"));
	struct task *t;

	(void)arg;
	if (!util_nonempty(prompt)) {
		ans_taskerr(q, 400, "invalid_request",
		    "user_prompt is required");
		return;
	}
	t = task_new(FAM_LUMA, 0, q, prompt);
	luma_answer(q, t);
	route_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Runway */

#define RUNWAY_VERSION	"2024-11-06"

/* Every Runway call needs the version header; 0 after refusing. */
static int
runway_version(struct req *q)
{
	char v[64];

	if (route_header(q, "x-runway-version", v, sizeof v) &&
	    strcmp(v, RUNWAY_VERSION) == 0)
		return 1;
	yajl_gen_map_open(q->y);
	json_ks(q->y, "error", "The X-Runway-Version header is missing or "
	    "invalid: it must be " RUNWAY_VERSION);
	yajl_gen_map_close(q->y);
	route_json(q, 400);
	return 0;
}

/* POST /runwayml/v1/image_to_video. */
void
vend_runway_submit(struct req *q, int arg)
{
	const char *miss = NULL;
	yajl_gen y = q->y;
	struct task *t;

	(void)arg;
	if (!runway_version(q))
		return;
	if (!util_nonempty(json_str(json_get(q->root, "promptImage"))))
		miss = "promptImage";
	else if (!util_nonempty(json_str(json_get(q->root, "model"))))
		miss = "model";
	if (miss) {
		yajl_gen_map_open(y);
		json_ks(y, "error", "Validation of body failed");
		json_put(y, "issues");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		json_put(y, "path");
		yajl_gen_array_open(y);
		json_put(y, miss);
		yajl_gen_array_close(y);
		json_ks(y, "message", "Required");
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
		yajl_gen_map_close(y);
		route_json(q, 400);
		return;
	}
	t = task_new(FAM_RUNWAY, 0, q,
	    json_str(json_get(q->root, "promptText")));
	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* DELETE /runwayml/v1/tasks/{id}: cancel (204), not a poll. */
void
vend_runway_cancel(struct req *q, int arg)
{
	struct task *t;
	char id[128];

	(void)arg;
	if (!runway_version(q))
		return;
	if (!route_cap(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_RUNWAY, id)) == NULL) {
		ans_task_not_exist(q, id);
		return;
	}
	if (!task_over(t)) {
		t->killed = 1;
		task_times(t);
	}
	route_bytes(q, 204, "application/json", "", 0);
}

/* GET /runwayml/v1/tasks/{id}: the task; progress only while it
 * runs. */
static void
runway_answer(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;
	int ph = task_phase(t, NULL);
	char iso[40], u[256];

	util_iso_time(iso, sizeof iso, t->submit_ms);
	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "status", task_status(t));
	json_ks(y, "createdAt", iso);
	if (ph == TP_RUN)
		json_kd(y, "progress", task_pct(t) / 100.0);
	if (ph == TP_DONE) {
		json_put(y, "output");
		yajl_gen_array_open(y);
		files_url(u, sizeof u, t->id, ".mp4");
		json_put(y, u);
		yajl_gen_array_close(y);
	}
	if (ph == TP_FAIL) {
		json_ks(y, "failure", FAIL_REASON);
		json_ks(y, "failureCode", "INTERNAL.BAD_OUTPUT.CODE01");
	}
	yajl_gen_map_close(y);
}

/* ------------------------------------------------------------------ */
/* CogVideoX (Zhipu) */

static void
cogv_obj(yajl_gen y, const struct task *t, int submit)
{
	int ph = task_phase(t, NULL);
	char name[96];

	yajl_gen_map_open(y);
	json_ks(y, "id", t->id);
	json_ks(y, "model", t->model);
	json_ks(y, "request_id", t->extra);
	json_ks(y, "task_status", submit ? "PROCESSING" : task_status(t));
	if (!submit && ph == TP_DONE) {
		json_put(y, "video_result");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		files_kurl(y, "url", t->id, ".mp4");
		snprintf(name, sizeof name, "%s-cover", t->id);
		files_kurl(y, "cover_image_url", name, ".png");
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
	}
	if (!submit && ph == TP_FAIL) {
		json_put(y, "error");
		yajl_gen_map_open(y);
		json_ks(y, "code", "mock");
		json_ks(y, "message", FAIL_REASON);
		yajl_gen_map_close(y);
	}
	yajl_gen_map_close(y);
}

/* POST /cogvideox/{v4,v1}/videos/generations. */
void
vend_cogv_submit(struct req *q, int arg)
{
	const char *prompt = json_str(json_get(q->root, "prompt"));
	const char *model = json_str(json_get(q->root, "model"));
	yajl_gen y = q->y;
	struct task *t;
	char rid[48];

	(void)arg;
	if (!util_nonempty(prompt) &&
	    !util_nonempty(json_str(json_get(q->root, "image_url")))) {
		yajl_gen_map_open(y);
		json_put(y, "error");
		yajl_gen_map_open(y);
		json_ks(y, "code", "1214");
		json_ks(y, "message", "prompt and image_url cannot both be "
		    "empty");
		yajl_gen_map_close(y);
		yajl_gen_map_close(y);
		route_json(q, 400);
		return;
	}
	t = task_new(FAM_COGV, 0, q, prompt);
	t->model = util_strdup(util_nonempty(model) ? model : "cogvideox");
	snprintf(rid, sizeof rid, "mock-req-%llu", q->seq);
	t->extra = util_strdup(rid);
	cogv_obj(y, t, 1);
	route_json(q, q->status);
}

/* GET /cogvideox/{v4,v1}/async-result/{id}: the task. */
static void
cogv_answer(struct req *q, const struct task *t)
{
	cogv_obj(q->y, t, 0);
}

/* ------------------------------------------------------------------ */
/* Viggle (invented paths: /api/viggle/...) */

static void
viggle_open(struct req *q)
{
	yajl_gen_map_open(q->y);
	json_ki(q->y, "code", 0);
	json_ks(q->y, "message", "success");
	json_put(q->y, "data");
}

static void
viggle_close(struct req *q)
{
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

static void
viggle_err(struct req *q, int status, const char *msg)
{
	yajl_gen_map_open(q->y);
	json_ki(q->y, "code", status);
	json_ks(q->y, "message", msg);
	json_ks(q->y, "data", NULL);
	yajl_gen_map_close(q->y);
	route_json(q, status);
}

/* POST /api/viggle/{mix,multi,move}/generate, mix/upload-{video,image}:
 * multipart with at least one file. */
void
vend_viggle_submit(struct req *q, int arg)
{
	struct task *t;

	if (form_file(&q->f, NULL) == NULL) {
		viggle_err(q, 400, "file is required");
		return;
	}
	t = task_new(FAM_VIGGLE, arg, q, form_text(&q->f, "prompt"));
	viggle_open(q);
	yajl_gen_map_open(q->y);
	json_ks(q->y, "task_id", t->id);
	yajl_gen_map_close(q->y);
	viggle_close(q);
}

/* GET /api/viggle/{mix,multi}/templates. */
void
vend_viggle_templates(struct req *q, int multi)
{
	char id[32], name[32];
	int i;

	viggle_open(q);
	yajl_gen_array_open(q->y);
	for (i = 1; i <= 3; i++) {
		snprintf(id, sizeof id, "%s-tpl-%d", multi ? "multi" : "mix",
		    i);
		snprintf(name, sizeof name, "Mock dance %d", i);
		yajl_gen_map_open(q->y);
		json_ks(q->y, "id", id);
		json_ks(q->y, "name", name);
		yajl_gen_map_close(q->y);
	}
	yajl_gen_array_close(q->y);
	viggle_close(q);
}

static void
viggle_absent(struct req *q, const char *id)
{
	(void)id;
	viggle_err(q, 404, "task not found");
}

/* GET /api/viggle/task/{id}: the task in Viggle's envelope. */
static void
viggle_answer(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;
	int ph = task_phase(t, NULL);

	viggle_open(q);
	yajl_gen_map_open(y);
	json_ks(y, "task_id", t->id);
	json_ks(y, "status", task_status(t));
	json_ki(y, "progress", task_pct(t));
	json_put(y, "result");
	if (ph == TP_DONE) {
		yajl_gen_map_open(y);
		files_kurl(y, "video_url", t->id, ".mp4");
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	json_ks(y, "fail_reason", ph == TP_FAIL ? FAIL_REASON : NULL);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

/* GET /api/viggle/credits: 1000 less one per task made. */
void
vend_viggle_credits(struct req *q, int arg)
{
	struct task *t;
	long long n = 1000;

	(void)arg;
	for (t = g.tasks; t; t = t->next)
		n -= t->fam == FAM_VIGGLE;
	viggle_open(q);
	yajl_gen_map_open(q->y);
	json_ki(q->y, "credits", n > 0 ? n : 0);
	yajl_gen_map_close(q->y);
	viggle_close(q);
}

/* ------------------------------------------------------------------ */
/* Ideogram: official (/ideogram) and reverse (/api/ideogram, invented) */

static void
ideo_detail(struct req *q, const char *msg)
{
	yajl_gen_map_open(q->y);
	json_ks(q->y, "detail", msg);
	yajl_gen_map_close(q->y);
	route_json(q, 400);
}

/* "1312x736" for an image_request's aspect_ratio or resolution. */
static void
ideo_res(yajl_val ir, char *out, size_t osz)
{
	static const char *const ar[][2] = {
		{ "ASPECT_16_9", "1312x736" }, { "ASPECT_9_16", "736x1312" },
		{ "ASPECT_4_3", "1152x864" }, { "ASPECT_3_4", "864x1152" },
		{ "ASPECT_3_2", "1248x832" }, { "ASPECT_2_3", "832x1248" },
		{ "ASPECT_16_10", "1280x800" }, { "ASPECT_10_16", "800x1280" },
		{ "ASPECT_3_1", "1728x576" }, { "ASPECT_1_3", "576x1728" },
	};
	const char *a = json_str(json_get(ir, "aspect_ratio"));
	const char *r = json_str(json_get(ir, "resolution"));
	char *p;
	size_t i;

	snprintf(out, osz, "1024x1024");
	if (r && strncmp(r, "RESOLUTION_", 11) == 0) {
		snprintf(out, osz, "%s", r + 11);
		if ((p = strchr(out, '_')) != NULL)
			*p = 'x';
		return;
	}
	for (i = 0; a && i < sizeof ar / sizeof ar[0]; i++)
		if (strcmp(a, ar[i][0]) == 0)
			snprintf(out, osz, "%s", ar[i][1]);
}

/* Ideogram's answer: num_images (1..8) images of image_request ir. */
static void
ideo_images(struct req *q, yajl_val ir, const char *prompt)
{
	const char *style = json_str(json_get(ir, "style_type"));
	long long n = util_clamp(json_int(json_get(ir, "num_images"), 1), 1,
	    8), k;
	long long seed = json_int(json_get(ir, "seed"),
	    (long long)(util_mix64(q->seq) % 2147483647ULL));
	int safe = !util_has_word(prompt, "nsfw");
	yajl_gen y = q->y;
	char iso[40], res[32], name[64];

	util_iso_time(iso, sizeof iso, util_wall_ms());
	ideo_res(ir, res, sizeof res);
	yajl_gen_map_open(y);
	json_ks(y, "created", iso);
	json_put(y, "data");
	yajl_gen_array_open(y);
	for (k = 0; k < n; k++) {
		snprintf(name, sizeof name, "ideogram-%llu-%lld", q->seq, k);
		yajl_gen_map_open(y);
		if (safe)
			files_kurl(y, "url", name, ".png");
		else
			json_ks(y, "url", NULL);
		json_ks(y, "prompt", prompt);
		json_ks(y, "resolution", res);
		json_ki(y, "seed", seed + k);
		json_kb(y, "is_image_safe", safe);
		json_ks(y, "style_type", util_nonempty(style) ? style :
		    "GENERAL");
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* POST /ideogram/generate. */
void
vend_ideo_generate(struct req *q, int arg)
{
	yajl_val ir = json_get(q->root, "image_request");
	const char *prompt = json_str(json_get(ir, "prompt"));

	(void)arg;
	if (!YAJL_IS_OBJECT(ir))
		ideo_detail(q, "image_request is required");
	else if (!util_nonempty(prompt))
		ideo_detail(q, "image_request.prompt is required");
	else
		ideo_images(q, ir, prompt);
}

/* POST /ideogram/remix, /ideogram/upscale: multipart image_request (a
 * JSON string) and image_file.  An upscale without a prompt reports
 * the file it got as the prompt. */
void
vend_ideo_form(struct req *q, int upscale)
{
	const struct part *f = form_file(&q->f, "image_file");
	const char *s = form_text(&q->f, "image_request"), *prompt;
	char fn[128], got[256], eb[128];
	yajl_val ir = NULL;

	if (f == NULL) {
		ideo_detail(q, "image_file is required");
		return;
	}
	if (s && json_depth(s, strlen(s)) <= MAX_DEPTH)
		ir = yajl_tree_parse(s, eb, sizeof eb);
	if (s && !YAJL_IS_OBJECT(ir)) {
		yajl_tree_free(ir);
		ideo_detail(q, "image_request must be a JSON object");
		return;
	}
	prompt = json_str(json_get(ir, "prompt"));
	if (!upscale && !util_nonempty(prompt))
		ideo_detail(q, s ? "image_request.prompt is required" :
		    "image_request is required");
	else {
		if (!util_nonempty(prompt)) {
			form_fname(f, fn, sizeof fn);
			snprintf(got, sizeof got, "received %s %zu bytes", fn,
			    f->len);
			prompt = got;
		}
		ideo_images(q, ir, prompt);
	}
	yajl_tree_free(ir);
}

/* POST /ideogram/describe: multipart image_file. */
void
vend_ideo_describe(struct req *q, int arg)
{
	const struct part *f = form_file(&q->f, "image_file");
	char fn[128], got[256];

	(void)arg;
	if (f == NULL) {
		ideo_detail(q, "image_file is required");
		return;
	}
	form_fname(f, fn, sizeof fn);
	snprintf(got, sizeof got, "received %s %zu bytes", fn, f->len);
	yajl_gen_map_open(q->y);
	json_put(q->y, "descriptions");
	yajl_gen_array_open(q->y);
	yajl_gen_map_open(q->y);
	json_ks(q->y, "text", got);
	yajl_gen_map_close(q->y);
	yajl_gen_array_close(q->y);
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

static const char *const ir_types[] = { "DESCRIBE", "GENERATE", "BLEND",
	"UPSCALE" };

/* POST /api/ideogram/{describe,generate,blend,upscale} (invented). */
void
vend_ideo_rev_submit(struct req *q, int arg)
{
	const char *prompt = json_str(json_get(q->root, "prompt"));
	struct task *t;

	if (arg == IR_GENERATE && !util_nonempty(prompt)) {
		ans_taskerr(q, 400, "invalid_request", "prompt is required");
		return;
	}
	t = task_new(FAM_IDEO, arg, q, prompt);
	yajl_gen_map_open(q->y);
	json_ks(q->y, "request_id", t->id);
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

static void
ideo_no_id(struct req *q)
{
	ans_taskerr(q, 400, "invalid_request", "request_id is required");
}

/* POST /api/ideogram/task-request {"request_id"}: the sampling request
 * (invented), its images once done. */
static void
ideo_answer(struct req *q, const struct task *t)
{
	yajl_gen y = q->y;
	int ph = task_phase(t, NULL), i;
	char name[96];

	yajl_gen_map_open(y);
	json_put(y, "sampling_requests");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	json_ks(y, "request_id", t->id);
	json_kb(y, "is_completed", ph == TP_DONE || ph == TP_FAIL);
	json_ki(y, "completion_percentage", task_pct(t));
	json_kb(y, "has_started", ph != TP_PRE);
	json_kb(y, "can_upscale", ph == TP_DONE);
	json_ks(y, "aspect_ratio", "1:1");
	json_ki(y, "width", 1024);
	json_ki(y, "height", 1024);
	json_ki(y, "resolution", 1024);
	json_ki(y, "seed", (long long)(util_mix64(t->ord) % 2147483647ULL));
	json_ks(y, "model_version", "V_2");
	json_ks(y, "request_type", ir_types[t->kind]);
	json_ks(y, "user_prompt", t->prompt);
	json_put(y, "user_hparams");
	yajl_gen_map_open(y);
	yajl_gen_map_close(y);
	json_put(y, "responses");
	yajl_gen_array_open(y);
	for (i = 0; ph == TP_DONE && i < 4; i++) {
		snprintf(name, sizeof name, "%s-r%d", t->id, i);
		yajl_gen_map_open(y);
		json_ks(y, "response_id", name);
		files_kurl(y, "url", name, ".png");
		if (t->kind == IR_DESCRIBE)
			json_ks(y, "description", "a mock description");
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
	json_kd(y, "creation_time_float", t->submit_ms / 1000.0);
	if (ph == TP_FAIL) {
		json_kb(y, "is_errored", 1);
		json_ks(y, "error_message", FAIL_REASON);
	}
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
}

/* ------------------------------------------------------------------ */
/* Recraft */

static void
recraft_err(struct req *q, const char *msg)
{
	yajl_gen_map_open(q->y);
	json_ks(q->y, "code", "bad_request");
	json_ks(q->y, "message", msg);
	yajl_gen_map_close(q->y);
	route_json(q, 400);
}

/* One image: its url under /files/, or its bytes as b64_json. */
static void
recraft_image(yajl_gen y, unsigned long long seq, long long k, int svg,
    int b64)
{
	const char *ext = svg ? ".svg" : ".png", *ct;
	char id[48], name[64];
	const void *img;
	size_t n;

	util_uuid(id, sizeof id, seq * 16 + k);
	snprintf(name, sizeof name, "recraft-%llu-%lld", seq, k);
	yajl_gen_map_open(y);
	json_ks(y, "image_id", id);
	if (b64) {
		img = files_bytes(ext, strlen(ext), &n, &ct);
		json_kb64(y, "b64_json", img, n);
	} else
		files_kurl(y, "url", name, ext);
	yajl_gen_map_close(y);
}

/* POST /recraft/v1/styles: multipart style and file(s). */
void
vend_recraft_style(struct req *q, int arg)
{
	char id[48];

	(void)arg;
	if (!util_nonempty(form_text(&q->f, "style")))
		recraft_err(q, "style is required");
	else if (form_file(&q->f, NULL) == NULL)
		recraft_err(q, "file is required");
	else {
		util_uuid(id, sizeof id, q->seq);
		yajl_gen_map_open(q->y);
		json_ks(q->y, "id", id);
		yajl_gen_map_close(q->y);
		route_json(q, q->status);
	}
}

/* POST /recraft/v1/images/generations: n (1..2) images; vector styles
 * give .svg urls. */
void
vend_recraft_gen(struct req *q, int arg)
{
	yajl_val r = q->root;
	const char *style = json_str(json_get(r, "style"));
	const char *rf = json_str(json_get(r, "response_format"));
	long long n = json_int(json_get(r, "n"), 1), k;
	yajl_gen y = q->y;
	int svg;

	(void)arg;
	if (!util_nonempty(json_str(json_get(r, "prompt")))) {
		recraft_err(q, "prompt is required");
		return;
	}
	if (n < 1 || n > 2) {
		recraft_err(q, "n must be 1 or 2");
		return;
	}
	svg = style && (strncmp(style, "vector", 6) == 0 ||
	    strcmp(style, "icon") == 0);
	yajl_gen_map_open(y);
	json_ki(y, "created", util_wall_ms() / 1000);
	json_put(y, "data");
	yajl_gen_array_open(y);
	for (k = 0; k < n; k++)
		recraft_image(y, q->seq, k, svg,
		    rf && strcmp(rf, "b64_json") == 0);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	route_json(q, q->status);
}

/* POST /recraft/v1/images/{vectorize,removeBackground,clarityUpscale,
 * generativeUpscale}: multipart file. */
void
vend_recraft_op(struct req *q, int vectorize)
{
	const char *rf = form_text(&q->f, "response_format");

	if (form_file(&q->f, "file") == NULL) {
		recraft_err(q, "file is required");
		return;
	}
	yajl_gen_map_open(q->y);
	json_put(q->y, "image");
	recraft_image(q->y, q->seq, 0, vectorize,
	    rf && strcmp(rf, "b64_json") == 0);
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Stability */

static void
sd_err(struct req *q, const char *msg)
{
	char id[40];

	snprintf(id, sizeof id, "%016llx%016llx",
	    (unsigned long long)util_mix64(q->seq),
	    (unsigned long long)util_mix64(~q->seq));
	yajl_gen_map_open(q->y);
	json_put(q->y, "errors");
	yajl_gen_array_open(q->y);
	json_put(q->y, msg);
	yajl_gen_array_close(q->y);
	json_ks(q->y, "name", "bad_request");
	json_ks(q->y, "id", id);
	yajl_gen_map_close(q->y);
	route_json(q, 400);
}

/* A seed given in s, else one made from the request. */
static long long
sd_seed(const struct req *q, const char *s)
{
	long long v = s ? atoll(s) : 0;

	return v > 0 ? v : (long long)(util_mix64(q->seq) % 4294967294ULL) + 1;
}

/* A Stability image as answered: its bytes and type, its finish reason
 * and seed. */
struct sdimg {
	const void *p;
	size_t n;
	const char *ct, *fin;
	long long seed;
};

/* The image of prompt in the format its file name (name, n bytes) ends
 * with. */
static void
sd_image(struct sdimg *im, const char *prompt, const char *name, size_t n,
    long long seed)
{
	im->p = files_bytes(name, n, &im->n, &im->ct);
	im->fin = util_has_word(prompt, "nsfw") ? "CONTENT_FILTERED" :
	    "SUCCESS";
	im->seed = seed;
}

/* When the Accept header starts with want: the image itself, its finish
 * reason and seed in headers (v1 capitalises their names), and 1; else
 * 0, for a JSON answer. */
static int
sd_raw(struct req *q, const char *want, int v1, const struct sdimg *im)
{
	static const char *const hn[2][2] = {
		{ "finish-reason", "seed" }, { "Finish-Reason", "Seed" } };
	char acc[256], s[24];

	route_header(q, "accept", acc, sizeof acc);
	if (strncasecmp(acc, want, strlen(want)) != 0)
		return 0;
	snprintf(s, sizeof s, "%lld", im->seed);
	route_add_header(q, hn[v1][0], im->fin);
	route_add_header(q, hn[v1][1], s);
	route_bytes(q, q->status, im->ct, im->p, im->n);
	return 1;
}

/* POST /sd/v2beta/stable-image/generate/{ultra,core,sd3}: multipart;
 * Accept: image/... gives the bytes, anything else JSON. */
void
vend_sd_v2(struct req *q, int arg)
{
	const char *prompt = form_text(&q->f, "prompt");
	const char *fmt = form_text(&q->f, "output_format");
	struct sdimg im;
	char name[16];

	(void)arg;
	if (!q->multipart) {
		sd_err(q, "content-type: must be multipart/form-data");
		return;
	}
	if (!util_nonempty(prompt)) {
		sd_err(q, "prompt: required");
		return;
	}
	if (fmt == NULL || *fmt == '\0')
		fmt = "png";
	if (strcmp(fmt, "png") != 0 && strcmp(fmt, "jpeg") != 0 &&
	    strcmp(fmt, "webp") != 0) {
		sd_err(q, "output_format: must be one of png, jpeg, webp");
		return;
	}
	snprintf(name, sizeof name, "image.%s", fmt);
	sd_image(&im, prompt, name, strlen(name), sd_seed(q,
	    form_text(&q->f, "seed")));
	if (sd_raw(q, "image/", 0, &im))
		return;
	yajl_gen_map_open(q->y);
	json_kb64(q->y, "image", im.p, im.n);
	json_ks(q->y, "finish_reason", im.fin);
	json_ki(q->y, "seed", im.seed);
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

/* POST /sd/v1/generation/{engine}/text-to-image: JSON; Accept:
 * image/png gives the PNG bytes, anything else the artifacts. */
void
vend_sd_v1(struct req *q, int arg)
{
	yajl_val tp = json_get(q->root, "text_prompts");
	long long n = util_clamp(json_int(json_get(q->root, "samples"), 1), 1,
	    10), k;
	long long seed = json_int(json_get(q->root, "seed"), 0);
	const char *text = NULL;
	struct sdimg im;
	char id[40];

	(void)arg;
	if (YAJL_IS_ARRAY(tp) && tp->u.array.len > 0)
		text = json_str(json_get(tp->u.array.values[0], "text"));
	if (!util_nonempty(text)) {
		snprintf(id, sizeof id, "%016llx",
		    (unsigned long long)util_mix64(q->seq));
		yajl_gen_map_open(q->y);
		json_ks(q->y, "id", id);
		json_ks(q->y, "name", "bad_request");
		json_ks(q->y, "message", "text_prompts: is required");
		yajl_gen_map_close(q->y);
		route_json(q, 400);
		return;
	}
	if (seed <= 0)
		seed = sd_seed(q, NULL);
	sd_image(&im, text, ".png", 4, seed);
	if (sd_raw(q, "image/png", 1, &im))
		return;
	yajl_gen_map_open(q->y);
	json_put(q->y, "artifacts");
	yajl_gen_array_open(q->y);
	for (k = 0; k < n; k++) {
		yajl_gen_map_open(q->y);
		json_kb64(q->y, "base64", im.p, im.n);
		json_ki(q->y, "seed", seed + k);
		json_ks(q->y, "finishReason", im.fin);
		yajl_gen_map_close(q->y);
	}
	yajl_gen_array_close(q->y);
	yajl_gen_map_close(q->y);
	route_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Polls: the steps every family's poll by id shares, a row a family
 * for where its id is and what its answers look like. */

static const struct pollrow {
	int fam, kind;		/* kind: only tasks of this kind, or -1 */
	int cap;		/* the path capture holding the id ... */
	const char *qkey, *bkey; /* ... or this query key, or body member */
	int (*check)(struct req *q);	/* NULL, or 0 after refusing */
	void (*no_id)(struct req *q);	/* qkey or bkey absent */
	void (*absent)(struct req *q, const char *id);	/* not found */
	void (*answer)(struct req *q, const struct task *t);
} pollrows[] = {
	[PF_MJ] = { FAM_MJ, -1, 0, NULL, NULL, NULL, NULL, mj_not_found,
	    mj_answer },
	[PF_SUNO] = { FAM_SUNO, -1, 0, NULL, NULL, NULL, NULL,
	    ans_task_not_exist, suno_answer },
	[PF_SUNONA] = { FAM_SUNONA, -1, 0, NULL, NULL, NULL, NULL,
	    ans_task_not_exist, sunona_answer },
	[PF_FLUX] = { FAM_FLUX, -1, 0, "id", NULL, NULL, flux_no_id,
	    flux_absent, flux_answer },
	[PF_KLING_IMG] = { FAM_KLING, KL_IMG, 0, NULL, NULL, NULL, NULL,
	    kling_absent, kling_poll_answer },
	[PF_KLING_T2V] = { FAM_KLING, KL_T2V, 0, NULL, NULL, NULL, NULL,
	    kling_absent, kling_poll_answer },
	[PF_KLING_I2V] = { FAM_KLING, KL_I2V, 0, NULL, NULL, NULL, NULL,
	    kling_absent, kling_poll_answer },
	[PF_LUMA] = { FAM_LUMA, -1, 0, NULL, NULL, NULL, NULL,
	    ans_task_not_exist, luma_answer },
	[PF_RUNWAY] = { FAM_RUNWAY, -1, 0, NULL, NULL, runway_version, NULL,
	    ans_task_not_exist, runway_answer },
	[PF_COGV] = { FAM_COGV, -1, 1, NULL, NULL, NULL, NULL,
	    ans_task_not_exist, cogv_answer },
	[PF_VIGGLE] = { FAM_VIGGLE, -1, 0, NULL, NULL, NULL, NULL,
	    viggle_absent, viggle_answer },
	[PF_IDEO] = { FAM_IDEO, -1, 0, NULL, "request_id", NULL, ideo_no_id,
	    ans_task_not_exist, ideo_answer },
	[PF_VIDEO] = { FAM_VIDEO, -1, 0, NULL, NULL, NULL, NULL,
	    env_not_exist, video_answer },
	[PF_OVIDEO] = { FAM_OVIDEO, -1, 0, NULL, NULL, NULL, NULL,
	    oai_video_absent, oai_video_answer },
};

/* The id a poll names into id: 1; 0 when it names none that could be
 * a task's (too long); -1 when it names none at all. */
static int
poll_id(struct req *q, const struct pollrow *pr, char *id, size_t osz)
{
	const char *s;

	if (pr->qkey)
		return route_query(q, pr->qkey, id, osz) ? 1 : -1;
	if (pr->bkey == NULL)
		return route_cap(q, pr->cap, id, osz);
	if (!util_nonempty(s = json_str(json_get(q->root, pr->bkey))))
		return -1;
	if (strlen(s) >= osz)
		return 0;
	memcpy(id, s, strlen(s) + 1);
	return 1;
}

/* GET (or POST) a task by id, arg a PF_ row: one poll of it, answered
 * in its family's shape; "not found" for an unknown id, for a task of
 * another kind and while mock.not_found_polls lasts. */
void
vend_poll(struct req *q, int arg)
{
	const struct pollrow *pr = &pollrows[arg];
	struct task *t = NULL;
	char id[128];
	int k;

	if (pr->check && !pr->check(q))
		return;
	if ((k = poll_id(q, pr, id, sizeof id)) < 0) {
		pr->no_id(q);
		return;
	}
	if (k > 0 && (t = task_find(pr->fam, id)) != NULL &&
	    pr->kind >= 0 && t->kind != pr->kind)
		t = NULL;
	if (t == NULL || !task_poll(t)) {
		pr->absent(q, k > 0 ? id : "");
		return;
	}
	pr->answer(q, t);
	route_json(q, q->status);
}
