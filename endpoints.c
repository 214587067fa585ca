/*
 * endpoints.c: what vmanjl knows about each VMAN service, in one table.
 *
 * A row names a path pattern (fnmatch(3), where '*' stays within one
 * path segment), the method, how the answer comes back, and for the
 * asynchronous services the task descriptor that says how to follow a
 * task to its end.  Paths marked [INF] in vman-api.md are guesses: a
 * request can override any member of a descriptor, or describe a task
 * service of its own, with the envelope's "task" object (task.c).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vmanjl.h"

#define L(...) ((const char *const []){ __VA_ARGS__, NULL })

/*
 * Midjourney (midjourney-proxy-plus): the id is the submit "result".
 * Code 23 is "queue full": sent again later.  Video actions have
 * videoUrl and videoUrls[].url; forks give imageUrls as strings or as
 * objects with a url.
 */
static const struct taskdesc mj = {
	.name = "midjourney",
	.id = "result",
	.code = "code", .code_ok = L("1", "21", "22"), .code_busy = L("23"),
	.message = "description",
	.poll = "{prefix}/mj/task/{id}/fetch",
	.status = "status",
	.done = L("SUCCESS"), .failed = L("FAILURE"), .cancelled = L("CANCEL"),
	.progress = "progress",
	.urls = L("imageUrl", "imageUrls.*|imageUrls.*.url", "videoUrl",
	    "videoUrls.*.url|videoUrls.*"),
	.error = "failReason",
};

/* Suno in the GoAPI format: clips is a map keyed by clip id. */
static const struct taskdesc suno = {
	.name = "suno",
	.id = "data.task_id",
	.code = "code", .code_ok = L("200"),
	.message = "message",
	.poll = "{path}/{id}",
	.object = "data",
	.status = "status",
	.done = L("completed"), .failed = L("failed"),
	.urls = L("clips.*.audio_url", "clips.*.video_url"),
	.error = "clips.*.metadata.error_message",
};

static const struct taskdesc suno_concat = {
	.name = "suno",
	.id = "data.task_id",
	.code = "code", .code_ok = L("200"),
	.message = "message",
	.poll = "{path}/../{id}",
	.object = "data",
	.status = "status",
	.done = L("completed"), .failed = L("failed"),
	.urls = L("clips.*.audio_url", "clips.*.video_url"),
	.error = "clips.*.metadata.error_message",
};

/* Suno through new-api's own task routes. */
static const struct taskdesc suno_newapi = {
	.name = "suno",
	.id = "data",
	.code = "code", .code_ok = L("success"),
	.message = "message",
	.poll = "/suno/fetch/{id}",
	.object = "data",
	.status = "status",
	.done = L("SUCCESS"), .failed = L("FAILURE"),
	.progress = "progress",
	.urls = L("data.*.audio_url", "data.*.video_url"),
	.error = "fail_reason",
};

static const struct taskdesc flux = {
	.name = "flux",
	.id = "id",
	.poll = "/flux/v1/get_result?id={id}",
	.status = "status",
	.done = L("Ready"),
	.failed = L("Error", "Request Moderated", "Content Moderated",
	    "Task not found"),
	.progress = "progress",
	.urls = L("result.sample"),
};

/*
 * The task envelope of new-api's task routes: {"code":"success",
 * "data":{"task_id","status","progress":"30%","result_url",
 * "fail_reason","data":{the vendor's body}}}.
 */
#define ENVELOPE_STATUS "status"
#define ENVELOPE_DONE "SUCCESS"
#define ENVELOPE_FAILED "FAILURE"

/*
 * Kling: new-api answers the submit with a video object at the top
 * ({"id","task_id","status":"queued"}) and polls with its task
 * envelope; older relays and forks with Kling's own {"code":0,"data":
 * {"task_id","task_status",...}}.  Both are followed.
 */
static const struct taskdesc kling = {
	.name = "kling",
	.id = "task_id|data.task_id|id",
	.code = "code", .code_ok = L("0", "success"),
	.message = "message",
	.poll = "{path}/{id}",
	.object = "data",
	.status = ENVELOPE_STATUS "|task_status",
	.done = L(ENVELOPE_DONE, "succeed"),
	.failed = L(ENVELOPE_FAILED, "failed"),
	.progress = "progress",
	.urls = L("result_url", "task_result.images.*.url",
	    "task_result.videos.*.url", "data.data.task_result.videos.*.url"),
	.error = "fail_reason|task_status_msg",
};

/* new-api's generic video tasks (Kling, Jimeng, Vidu, Sora, Hailuo,
 * Doubao, Veo channels): {"task_id"} on submit, then the envelope. */
static const struct taskdesc video = {
	.name = "video",
	.id = "task_id|data.task_id|id",
	.code = "code", .code_ok = L("0", "success"),
	.message = "message",
	.poll = "{path}/{id}",
	.object = "data",
	.status = ENVELOPE_STATUS,
	.done = L(ENVELOPE_DONE), .failed = L(ENVELOPE_FAILED),
	.progress = "progress",
	.urls = L("result_url"),
	.error = "fail_reason",
};

/*
 * OpenAI-style videos: a video object, polled at /v1/videos/{id}; its
 * URL in metadata.url (output.video_url or video_url on forks); with an
 * envelope "output" the mp4 itself is fetched from .../content.
 */
static const struct taskdesc openai_video = {
	.name = "video",
	.id = "id|task_id",
	.poll = "/v1/videos/{id}",
	.content = "/v1/videos/{id}/content",
	.status = "status",
	.done = L("completed"), .failed = L("failed"),
	.cancelled = L("cancelled"),
	.progress = "progress", .progress_max = 100,
	.urls = L("metadata.url", "output.video_url", "video_url"),
	.error = "error.message",
};

static const struct taskdesc luma = {
	.name = "luma",
	.id = "id",
	.poll = "/luma/generations/{id}",
	.status = "state",
	.done = L("completed"), .failed = L("failed"),
	.urls = L("video.url", "video.download_url"),
	.error = "failure_reason",
};

static const struct taskdesc runway = {
	.name = "runway",
	.id = "id",
	.poll = "/runwayml/v1/tasks/{id}",
	.status = "status",
	.done = L("SUCCEEDED"), .failed = L("FAILED"),
	.cancelled = L("CANCELLED"),
	.progress = "progress",
	.urls = L("output.*"),
	.error = "failure",
};

static const struct taskdesc cogvideox = {
	.name = "cogvideox",
	.id = "id",
	.poll = "{path}/../../async-result/{id}",
	.status = "task_status",
	.done = L("SUCCESS"), .failed = L("FAIL"),
	.urls = L("video_result.*.url"),
	.error = "error.message",
};

/* Ideogram reverse: marked "in development" by VMAN. [INF] */
static const struct taskdesc ideogram_rev = {
	.name = "ideogram",
	.id = "request_id",
	.poll = "/api/ideogram/task-request",
	.poll_method = "POST",
	.poll_body = "{\"request_id\":\"{id}\"}",
	.object = "sampling_requests.0",
	.status = "is_completed",
	.done = L("true"),
	.progress = "completion_percentage",
	.progress_max = 100,
	.urls = L("responses.*.url"),
	.error = "error_message",
};

#define RUNWAY_VERSION "X-Runway-Version: 2024-11-06"

/* A row whose streams, if any, are written as event records. */
#define ROW(pattern, method, mode, group, task, header, source) \
	{ pattern, method, mode, group, task, header, source, NULL }

/* First match wins: more specific rows come first. */
static const struct endpoint table[] = {
	{ "/v1/chat/completions", "POST", EP_JSON,
	    "chat", NULL, NULL, "relay", &dialect_chat },
	{ "/v1/completions", "POST", EP_JSON,
	    "completions", NULL, NULL, "relay", &dialect_chat },
	{ "/v1/responses", "POST", EP_JSON,
	    "responses", NULL, NULL, "relay", &dialect_responses },
	{ "/v1beta/models/*:generateContent", "POST", EP_JSON,
	    "gemini", NULL, NULL, "relay", &dialect_gemini },
	{ "/v1beta/models/*:streamGenerate*", "POST", EP_JSON,
	    "gemini", NULL, NULL, "relay", &dialect_gemini },
	{ "/v1/messages", "POST", EP_JSON, "messages", NULL, NULL, "relay",
	    &dialect_messages },
	ROW("/v1/embeddings", "POST", EP_JSON,
	    "embeddings", NULL, NULL, "relay"),
	ROW("/v1/images/generations", "POST", EP_JSON,
	    "images", NULL, NULL, "relay"),
	ROW("/v1/audio/transcriptions", "POST", EP_MULTIPART, "audio", NULL,
	    NULL, "relay"),
	ROW("/v1/audio/translations", "POST", EP_MULTIPART, "audio", NULL,
	    NULL, "relay"),
	ROW("/v1/video/generations", "POST", EP_TASK, "video", &video, NULL,
	    "relay"),
	ROW("/v1/video/generations/*", "GET", EP_JSON, "video", NULL, NULL,
	    "relay"),
	ROW("/v1/videos", "POST", EP_TASK, "video", &openai_video, NULL,
	    "relay"),
	ROW("/v1/videos/*/content", "GET", EP_BINARY, "video", NULL, NULL,
	    "relay"),
	ROW("/v1/videos/*", "GET", EP_JSON, "video", NULL, NULL, "relay"),
	ROW("/v1/audio/speech", "POST", EP_BINARY, "audio", NULL, NULL,
	    "relay"),
	ROW("/mj/submit/upload-discord-images", "POST", EP_JSON, "midjourney",
	    NULL, NULL, "relay"),
	ROW("/*/mj/submit/upload-discord-images", "POST", EP_JSON,
	    "midjourney", NULL, NULL, "relay"),
	ROW("/mj/submit/*", "POST", EP_TASK, "midjourney", &mj, NULL, "relay"),
	ROW("/*/mj/submit/*", "POST", EP_TASK, "midjourney", &mj, NULL,
	    "relay"),
	ROW("/mj/insight-face/swap", "POST", EP_TASK, "midjourney", &mj,
	    NULL, "relay"),
	ROW("/*/mj/insight-face/swap", "POST", EP_TASK, "midjourney", &mj,
	    NULL, "relay"),
	ROW("/mj/task/*", NULL, EP_JSON, "midjourney", NULL, NULL, "relay"),
	ROW("/mj/task/*/*", NULL, EP_JSON, "midjourney", NULL, NULL, "relay"),
	ROW("/suno/v1/v3.0/music/concat", "POST", EP_TASK, "suno",
	    &suno_concat, NULL, "guess"),
	ROW("/suno/v1/v3.0/music", "POST", EP_TASK,
	    "suno", &suno, NULL, "guess"),
	ROW("/suno/v1/music", "POST", EP_TASK, "suno", &suno, NULL, "fork"),
	ROW("/suno/v1/*", "GET", EP_JSON, "suno", NULL, NULL, "fork"),
	ROW("/suno/submit/*", "POST", EP_TASK,
	    "suno", &suno_newapi, NULL, "relay"),
	ROW("/suno/fetch*", NULL, EP_JSON, "suno", NULL, NULL, "relay"),
	ROW("/flux/v1/get_result", "GET", EP_JSON, "flux", NULL, NULL, "fork"),
	ROW("/flux/v1/*", "POST", EP_TASK, "flux", &flux, NULL, "fork"),
	ROW("/recraft/v1/images/generations", "POST", EP_JSON, "recraft", NULL,
	    NULL, "fork"),
	ROW("/recraft/v1/styles", "POST", EP_MULTIPART, "recraft", NULL,
	    NULL, "fork"),
	ROW("/recraft/v1/images/*", "POST", EP_MULTIPART, "recraft", NULL,
	    NULL, "guess"),
	ROW("/sd/v2beta/stable-image/generate/*", "POST", EP_MULTIPART,
	    "stability", NULL, NULL, "fork"),
	ROW("/sd/v1/generation/*/text-to-image", "POST", EP_JSON, "stability",
	    NULL, NULL, "fork"),
	ROW("/ideogram/generate", "POST", EP_JSON,
	    "ideogram", NULL, NULL, "fork"),
	ROW("/ideogram/*", "POST", EP_MULTIPART,
	    "ideogram", NULL, NULL, "guess"),
	ROW("/api/ideogram/task-request", "POST", EP_JSON, "ideogram", NULL,
	    NULL, "fork"),
	ROW("/api/ideogram/*", "POST", EP_TASK, "ideogram", &ideogram_rev,
	    NULL, "guess"),
	ROW("/kling/v1/images/generations", "POST", EP_TASK, "kling", &kling,
	    NULL, "fork"),
	ROW("/kling/v1/videos/text2video", "POST", EP_TASK, "kling", &kling,
	    NULL, "relay"),
	ROW("/kling/v1/videos/image2video", "POST", EP_TASK, "kling", &kling,
	    NULL, "relay"),
	ROW("/kling/v1/*/*/*", "GET", EP_JSON, "kling", NULL, NULL, "relay"),
	ROW("/luma/generations", "POST", EP_TASK, "luma", &luma, NULL, "fork"),
	ROW("/luma/generations/", "POST", EP_TASK, "luma", &luma, NULL, "fork"),
	ROW("/luma/generations/*", "GET", EP_JSON, "luma", NULL, NULL, "fork"),
	ROW("/runwayml/v1/image_to_video", "POST", EP_TASK, "runway", &runway,
	    RUNWAY_VERSION, "fork"),
	ROW("/runwayml/v1/*", NULL, EP_JSON,
	    "runway", NULL, RUNWAY_VERSION, "fork"),
	ROW("/runwayml/v1/*/*", NULL, EP_JSON,
	    "runway", NULL, RUNWAY_VERSION, "fork"),
	ROW("/cogvideox/*/videos/generations", "POST", EP_TASK, "cogvideox",
	    &cogvideox, NULL, "fork"),
	ROW("/cogvideox/*/async-result/*", "GET", EP_JSON, "cogvideox", NULL,
	    NULL, "fork"),
};

/*
 * The row for a request: method and the path of its URL (a full URL's
 * path, without the query).  NULL when no row matches.
 */
const struct endpoint *
ep_lookup(const char *method, const char *url)
{
	char path[2048];
	const char *p = url, *q;
	size_t i, n;

	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strchr(p, ':') + 3;
		if (!(p = strchr(p, '/')))
			p = "/";
	}
	n = strcspn(p, "?#");
	if (n >= sizeof path)
		return NULL;
	memcpy(path, p, n);
	path[n] = '\0';
	if (!method)
		method = "POST";
	for (i = 0; i < sizeof table / sizeof table[0]; i++) {
		q = table[i].method;
		if (q && strcasecmp(q, method) != 0)
			continue;
		if (fnmatch(table[i].pattern, path, FNM_PATHNAME) == 0)
			return &table[i];
	}
	return NULL;
}

static const char *modes[] = {
	[EP_JSON] = "json", [EP_BINARY] = "binary",
	[EP_MULTIPART] = "multipart", [EP_TASK] = "task"
};

/* --endpoints: the table, one row a line.  SOURCE says what a row
 * rests on: the relay's own source, a fork's docs, or a guess. */
void
ep_print(FILE *f)
{
	const struct endpoint *e;
	size_t i;

	fprintf(f, "%-6s %-36s %-9s %-11s %-6s %s\n", "METHOD", "PATH",
	    "MODE", "GROUP", "SOURCE", "POLL");
	for (i = 0; i < sizeof table / sizeof table[0]; i++) {
		e = &table[i];
		fprintf(f, "%-6s %-36s %-9s %-11s %-6s %s%s%s\n",
		    e->method ? e->method : "*", e->pattern, modes[e->mode],
		    e->group, e->source, e->task ? e->task->poll : "-",
		    e->header ? "  +" : "", e->header ? e->header : "");
	}
}
