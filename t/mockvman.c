/*
 * mockvman: the local VMAN (OpenAI-compatible) server used by vmanjl's
 * tests, `make demo` and the benchmarks.  One process, one thread, poll(2)
 * over non-blocking sockets; HTTP/1.1 with keep-alive and pipelining.
 *
 * USAGE
 *	t/mockvman [-f portfile] [-p port]
 *	Binds 127.0.0.1:port (default 0: the kernel picks), prints the port
 *	and a newline on stdout, writes it to portfile too (temp + rename),
 *	then serves until SIGTERM or SIGINT (exit 0).  If MOCK_KEY is set,
 *	every request but /mock/... and /files/... must carry
 *	"Authorization: Bearer $MOCK_KEY" or gets 401 invalid_api_key.
 *
 * HTTP
 *	Bodies by Content-Length or chunked (at most 256 MB, else 413);
 *	"Expect: 100-continue" is honoured; "Connection: close" closes after
 *	the answer; an HTTP/1.0 request gets an HTTP/1.0 close-delimited
 *	answer.  A body that is not a JSON object on a JSON endpoint: 400.
 *	Unknown method or path: 404 "Invalid URL (POST /x)".
 *
 * ENDPOINTS
 *	POST /v1/chat/completions  The echo text is the last "user" message
 *	  (a string, or its "text" parts joined by a space), or "".  Tokens:
 *	  the text cut before every space ("a b c" -> "a", " b", " c").
 *	  Choice i of n (1..8) says echo, or "[i] " + echo for i > 0 ("[i] "
 *	  is a token).  max_tokens (or max_completion_tokens) truncates each
 *	  choice: finish_reason "length".  A model whose name contains
 *	  "reason" adds reasoning_content "think: " + echo.  A non-empty
 *	  "tools" turns choice 0 into a call of tools[0].function.name, id
 *	  "call_mock_1", arguments {"text":"<echo>"}, streamed in pieces of
 *	  at most 8 characters; finish_reason "tool_calls".  usage:
 *	  prompt_tokens = words of all message texts, completion_tokens =
 *	  reasoning + content tokens (a tool call: its argument pieces).
 *	  "stream": true gives SSE: a role chunk per choice, token chunks
 *	  round-robin over the choices, a finish chunk per choice, a usage
 *	  chunk ("choices":[]) if stream_options.include_usage, data: [DONE].
 *	POST /v1/completions  The same over "prompt" (a string, or the first
 *	  string of an array), one choice, text_completion objects.
 *	POST /v1/embeddings  "input" string or array: 8 floats in [-1,1]
 *	  hashed from each input's bytes.
 *	POST /v1/images/generations  n (1..10) urls
 *	  http://127.0.0.1:PORT/files/img-SEQ-K.png, revised_prompt = prompt.
 *	GET /files/NAME  a tiny file of the type NAME's extension says:
 *	  .mp3 audio/mpeg, .mp4 video/mp4 (fake bytes), .svg image/svg+xml,
 *	  .jpg/.jpeg a 1x1 JPEG, .webp a 1x1 WebP, any other a 1x1 PNG.
 *	GET /mock/stats  {"requests":N,"ids":{"id":count},"last_headers":{..},
 *	  "last_body_bytes":N,"last_method":"POST","last_path":"/x",
 *	  "last_query":"a=b","last_form":F,"polls":{"task id":N},
 *	  "starts":[ms,...]} over every request but /mock/...; header
 *	  names lower-cased, repeated ones joined by ", ", authorization
 *	  given only as "present"; last_path without the query, last_query
 *	  raw ("" when none; the last_* null before any request).
 *	  last_form: null unless the last request was multipart:
 *	  {"name":"text value", "name":{"filename":"a.mp3","bytes":N,
 *	  "content_type":"t"|null}} (a part with a filename is a file; a
 *	  name sent twice gives an array).  polls: every poll of
 *	  each task since the last reset ("not found" answers count too),
 *	  in creation order, tasks not polled left out.  starts: the
 *	  request-start log, one entry per request (when its whole request
 *	  was read), in arrival order, as ms since the server started
 *	  (monotonic clock); only the last 10,000 are kept.  POST
 *	  /mock/reset clears them (and the id counter and the start log);
 *	  tasks live on, with their poll counts zeroed.
 *	SEQ, the number in "chatcmpl-mock-SEQ", "cmpl-mock-SEQ" and image
 *	urls, is the request's ordinal in the stats ("requests").
 *
 * SERVICES
 *	The other families of VMAN (../shared/vman-api.md), each in its
 *	vendor's shapes.  A route answers its own method only.  The "mock"
 *	member comes from a JSON body, or from a multipart text field
 *	"mock" holding JSON; status, body, raw, delay_ms and the other
 *	transport members act as on chat.  An empty body on a JSON route
 *	is {}.  A multipart body (boundary from Content-Type, by length or
 *	chunked) that does not parse: 400 OpenAI error; a multipart route
 *	sent another kind of body answers as if its parts were missing
 *	(Stability and audio say the content type).  "Task-style"
 *	below is new-api's {"code":"...","message":"...","data":null}.
 *	URLs in answers are http://127.0.0.1:PORT/files/<name>.
 *
 * TASKS
 *	A submit makes a task, id "<prefix>N" (N counts every task the
 *	server made).  Each poll (a request to its query route) moves it
 *	one step: the family's first statuses, one per poll, then "steps"
 *	running polls (progress i/(steps+1)), then its end: done, failed
 *	(mock task_fail, or a prompt with the word "fail", any case, not
 *	inside a longer word) or cancelled (mock cancel, where the family
 *	has such a status; else ignored).  An unpolled task shows its
 *	first status; after the end every poll repeats it.  Failure reason
 *	"mock: task failed"; a failed task keeps the progress it reached.
 *	Times: submit when made, start at the first running poll, finish
 *	at the end.  Submit members of "mock":
 *	steps: N            running polls, 0..1000 (default 2).
 *	task_fail: true     end in the failure status.
 *	cancel: true        end in the cancelled status.
 *	not_found_polls: K  the first K polls answer the family's "not
 *	                    found" (counted, the task does not move).
 *	mj_code: N          Midjourney submit code; kling_code: N Kling's.
 *	With id and fail_first these are faults like the rest (steps
 *	stays).
 *	Statuses: first ones; running; done|failed|cancelled.
 *	mjtask-    NOT_START SUBMITTED; IN_PROGRESS; SUCCESS|FAILURE|CANCEL
 *	suno-      pending; processing; completed|failed
 *	sunotask-  NOT_START SUBMITTED QUEUED; IN_PROGRESS; SUCCESS|FAILURE
 *	flux-      Pending; Pending; Ready|Error|"Content Moderated"
 *	kling-     submitted; processing; succeed|failed
 *	luma-      pending; processing; completed|failed
 *	runway-    PENDING THROTTLED; RUNNING; SUCCEEDED|FAILED|CANCELLED
 *	cogv-      (none); PROCESSING; SUCCESS|FAIL
 *	viggle-    queued; processing; done|failed
 *	ideo-      not started; started; completed (Ideogram reverse)
 *
 * MIDJOURNEY (also under a one-segment mode prefix: /mj-fast/mj/...)
 *	POST /mj/submit/imagine {prompt*}, shorten {prompt*}, blend
 *	  {base64Array* (2..5)}, describe {base64* or link}, action
 *	  {taskId*, customId*}, modal {taskId*, prompt}, POST
 *	  /mj/insight-face/swap {sourceBase64* or sourceUrl, targetBase64*
 *	  or targetUrl}; botType, notifyHook (kept in properties, never
 *	  called), state (echoed) are kept.  HTTP 200 {"code":1,
 *	  "description":"Submit success","result":"mjtask-N",
 *	  "properties":{}}.  Refused (result null, no task): a required
 *	  member missing: 4 "<name> is required"; base64Array of 1 or over
 *	  5: 4; unknown taskId: 3; action on a task not SUCCESS: 4; modal
 *	  of a task not waiting: 4; the word "banned" in the prompt or
 *	  mj_code 24: 24, properties {promptEn, bannedWord}; mj_code 23:
 *	  queue full, properties.numberOfQueues 10; mj_code 4, 9 or any
 *	  other but 1/21/22: that code.  mj_code 21 ("Task already
 *	  exists") and 22 ("In queue...", numberOfQueues 1) make the task.
 *	  action: customId upsample -> UPSCALE, reroll -> REROLL, Outpaint
 *	  or CustomZoom -> ZOOM, pan_ -> PAN, else VARIATION, on the
 *	  parent's prompt; one with "Inpaint" or "CustomZoom" answers 21
 *	  "Waiting for window confirm" and its task stays MODAL (polls do
 *	  not move it) until modal {taskId} (answer 1, same id; its prompt
 *	  replaces the task's).
 *	Task (new-api's MidjourneyDto): id, action, customId, botType
 *	  (MID_JOURNEY), prompt, promptEn, description ("/imagine p"),
 *	  state, submitTime, startTime, finishTime (ms, 0 until reached),
 *	  imageUrl (files/mj-<id>.png on SUCCESS but SHORTEN, else ""),
 *	  status, progress "NN%", failReason, buttons (on SUCCESS: U1..U4
 *	  "MJ::JOB::upsample::i::<hash>", reroll, V1..V4; after UPSCALE
 *	  Vary (Strong/Subtle/Region), Zoom Out, Custom Zoom, pans; after
 *	  DESCRIBE/SHORTEN 1..4 and retry; else []), maskBase64,
 *	  properties {finalPrompt, finalZhPrompt, notifyHook?,
 *	  discordInstanceId}.  DESCRIBE's prompt on SUCCESS: two made-up
 *	  descriptions.
 *	GET /mj/task/{id}/fetch  a poll.  POST /mj/task/list-by-condition
 *	  (or list-by-ids) {ids}: a poll of each, unknown and "not found"
 *	  ones left out.  Not polls: GET /mj/task/list (every MJ task),
 *	  GET /mj/task/queue (the unfinished), POST /mj/task/query
 *	  {pageNumber (from 0), pageSize (10), status, statusSet, action,
 *	  ids}: a Spring page {content, pageable, last, totalElements,
 *	  totalPages, size, number, sort, first, numberOfElements, empty},
 *	  newest first.  POST /mj/task/{id}/cancel: CANCEL now, {"code":1,
 *	  "result":id}; a finished task: code 4.  GET /mj/task/{id}/
 *	  image-seed: {"code":1,"result":"<seed>"} once SUCCESS, else 4.
 *	Not found (fetch, cancel, image-seed): new-api's HTTP 400
 *	  {"description":"task_no_found ","type":"upstream_error","code":4}.
 *
 * SUNO
 *	GoAPI: POST /suno/v1/music (mv chirp-v3-5), /suno/v1/v3.0/music
 *	  (chirp-v3-0), /suno/v1/v3.0/music/concat {clip_id*} (one clip)
 *	  -> {"code":200,"data":{"task_id":"suno-N"},"message":"success"};
 *	  no clip_id: HTTP 400 {"code":400,"data":null,"message":...}.
 *	  GET /suno/v1/music/{id}, /suno/v1/v3.0/music/{id} (a poll) ->
 *	  {"code":200,"message":"success","data":{"task_id","status",
 *	  "input":"<the submit body as JSON text, mock left out>","clips":
 *	  {"<id>-clip1":{id,title,status (submitted|queued|streaming|
 *	  complete|error),audio_url,video_url,image_url,image_large_url
 *	  ("" until done: files/<clip>.mp3 .mp4 .png -large.png),
 *	  model_name,created_at,metadata{tags,prompt,duration (null until
 *	  done),error_type,error_message}}, "<id>-clip2":...}}}.  The
 *	  prompt, title and tags come from "input" or the top level.
 *	new-api: POST /suno/submit/music, /suno/submit/lyrics (prompt*,
 *	  else HTTP 400 task-style prompt_empty) -> {"code":"success",
 *	  "message":"","data":"sunotask-N"}.  GET /suno/fetch/{id} (a
 *	  poll) -> {"code":"success","message":"","data":{task_id, action
 *	  MUSIC|LYRICS, status, fail_reason, submit_time, start_time,
 *	  finish_time (s), progress "NN%", data: [the two clips as above]
 *	  or for lyrics null, then {id,text,title,status}}}.  POST
 *	  /suno/fetch {ids*} -> data: [a poll of each known id].
 *	Not found (both): HTTP 404 task-style task_not_exist "task not
 *	  exist" (new-api's Suno fetch says 400 "task_not_exist").
 *
 * FLUX (BFL)
 *	POST /flux/v1/{model} {prompt*, output_format (jpeg), seed} ->
 *	  {"id":"flux-N","polling_url":".../flux/v1/get_result?id=..."};
 *	  no prompt: 422 {"detail":[{"loc":["body","prompt"],"msg":"field
 *	  required","type":"value_error.missing"}]}.  GET /flux/v1/
 *	  get_result?id= (a poll) -> {"id","status","result":null or
 *	  {sample (files/<id>.jpg or .png),seed,prompt,start_time,end_time,
 *	  duration (s)},"progress":0..1,"details":null or {"error"}}.  The
 *	  word "nsfw" in the prompt ends in "Content Moderated".  No id:
 *	  422 (loc query, id).  Not found: HTTP 200 status "Task not
 *	  found", result, progress and details null.
 *
 * KLING
 *	POST /kling/v1/images/generations {prompt*, n (1..9)},
 *	  /kling/v1/videos/text2video {prompt*, duration ("5")},
 *	  /kling/v1/videos/image2video {image*} -> {"code":0,"message":
 *	  "SUCCEED","request_id":"mock-req-SEQ","data":{task_id,
 *	  task_status,task_status_msg,task_info{external_task_id?},
 *	  created_at,updated_at (ms)}}.  Refused (data null): missing field
 *	  HTTP 400 code 1201; "banned" in the prompt 400 code 1301;
 *	  kling_code N (not 0): HTTP 200 code N "mock error N".  GET the
 *	  submit path + /{task_id} (a poll): the same envelope, data also
 *	  task_result on succeed: {images:[{index,url}]} or {videos:[{id,
 *	  url,duration}]}.  Not found (or another path's task): HTTP 404
 *	  code 1203 "task not found", data null.
 *
 * LUMA
 *	POST /luma/generations (or .../) {user_prompt*} -> {id,prompt,
 *	  state:"pending",created_at,video:null,liked,estimate_wait_seconds,
 *	  thumbnail,last_frame,failure_reason}; no user_prompt: 400
 *	  task-style invalid_request.  GET /luma/generations/{id} (a poll):
 *	  the same, on completed video {url,width,height,download_url,
 *	  thumbnail}, thumbnail and last_frame {url,width,height}; on
 *	  failed failure_reason.  Not found: 404 task-style task_not_exist.
 *
 * RUNWAY (every call needs X-Runway-Version: 2024-11-06, else 400
 *	{"error":"...X-Runway-Version..."})
 *	POST /runwayml/v1/image_to_video {promptImage*, model*} -> {"id"};
 *	  missing: 400 {"error":"Validation of body failed","issues":[{
 *	  "path":["promptImage"],"message":"Required"}]}.  GET
 *	  /runwayml/v1/tasks/{id} (a poll) -> {id,status,createdAt,
 *	  progress (0..1, RUNNING only),output [url] (SUCCEEDED),failure,
 *	  failureCode (FAILED)}.  DELETE it: cancel (CANCELLED), 204.  Not
 *	  found: 404 task-style task_not_exist.
 *
 * COGVIDEOX (any version segment: v4, v1)
 *	POST /cogvideox/v4/videos/generations {prompt or image_url} ->
 *	  {id,model (cogvideox),request_id,task_status:"PROCESSING"};
 *	  neither: 400 {"error":{"code":"1214","message":...}}.  GET
 *	  /cogvideox/v4/async-result/{id} (a poll) -> the same, on SUCCESS
 *	  video_result [{url,cover_image_url}], on FAIL error {code,
 *	  message}.  Not found: 404 task-style task_not_exist.
 *
 * VIGGLE (invented: VMAN's paths are unknown)
 *	POST /api/viggle/mix/upload-video, mix/upload-image, mix/generate,
 *	  multi/generate, move/generate: multipart, any fields, at least
 *	  one file (else 400 {"code":400,"message":"file is required",
 *	  "data":null}) -> {"code":0,"message":"success","data":
 *	  {"task_id"}}.  GET /api/viggle/task/{id} (a poll) -> data
 *	  {task_id,status,progress (0..100),result null or {video_url},
 *	  fail_reason}; not found: 404 {"code":404,"message":"task not
 *	  found","data":null}.  GET /api/viggle/mix/templates,
 *	  multi/templates -> data [{id,name}] x3; GET /api/viggle/credits
 *	  -> data {credits: 1000 less the Viggle tasks made}.
 *
 * IDEOGRAM
 *	POST /ideogram/generate {image_request:{prompt*, aspect_ratio,
 *	  resolution, num_images (1..8), seed, style_type}} -> {"created":
 *	  ISO time,"data":[{url (null when not safe),prompt,resolution
 *	  ("1024x1024", from aspect_ratio or RESOLUTION_W_H),seed,
 *	  is_image_safe (false for "nsfw"),style_type (GENERAL)}]}.  POST
 *	  /ideogram/remix, /ideogram/upscale: multipart image_request (a
 *	  JSON object as text; remix needs it with a prompt) and
 *	  image_file*; the same answer, an upscale without a prompt has
 *	  prompt "received <file> <N> bytes".  POST /ideogram/describe:
 *	  multipart image_file* -> {"descriptions":[{"text":"received
 *	  <file> <N> bytes"}]}.  Errors: 400 {"detail":"..."}.
 *	Reverse (invented beyond task-request): POST /api/ideogram/
 *	  generate {prompt*}, describe, blend, upscale (any JSON) ->
 *	  {"request_id":"ideo-N"}; no prompt: 400 task-style.  POST
 *	  /api/ideogram/task-request {request_id*} (a poll) ->
 *	  {"sampling_requests":[{request_id,is_completed,
 *	  completion_percentage (0..100),has_started,can_upscale,
 *	  aspect_ratio,width,height,resolution,seed,model_version,
 *	  request_type,user_prompt,user_hparams,responses ([] until done,
 *	  then 4 {response_id,url}),creation_time_float}]}; failed
 *	  (invented): is_completed true, is_errored true, error_message,
 *	  responses [].  Not found: 404 task-style task_not_exist.
 *
 * RECRAFT (errors: 400 {"code":"bad_request","message":"..."})
 *	POST /recraft/v1/styles: multipart style* and file(s)* -> {"id"}.
 *	POST /recraft/v1/images/generations {prompt*, n (1 or 2), style,
 *	  response_format} -> {"created":s,"data":[{image_id,url}]} (a
 *	  vector_* or icon style: .svg; b64_json: the bytes instead).
 *	POST /recraft/v1/images/{vectorize,removeBackground,clarityUpscale,
 *	  generativeUpscale}: multipart file*, response_format ->
 *	  {"image":{image_id,url or b64_json}} (vectorize: .svg).
 *
 * STABILITY
 *	POST /sd/v2beta/stable-image/generate/{ultra,core,sd3}: multipart
 *	  prompt*, output_format (png|jpeg|webp), seed.  Accept: image/...
 *	  gives the image bytes (image/png, image/jpeg, image/webp) with
 *	  headers finish-reason and seed; any other Accept, or none, gives
 *	  {"image":"<base64>","finish_reason","seed"} (departs from
 *	  Stability, whose default is the image).  finish_reason SUCCESS, or
 *	  CONTENT_FILTERED for "nsfw".  Errors: 400 {"errors":["prompt:
 *	  required"],"name":"bad_request","id":"<hex>"} (also a body not
 *	  multipart, a bad output_format).
 *	POST /sd/v1/generation/{engine}/text-to-image {text_prompts*:
 *	  [{text}], samples (1..10), seed}: Accept: image/png gives one
 *	  PNG (headers Finish-Reason, Seed), else {"artifacts":[{base64,
 *	  seed,finishReason}]}; no text: 400 {"id","name":"bad_request",
 *	  "message"}.
 *
 * AUDIO (errors: 400 OpenAI error)
 *	POST /v1/audio/speech {model*, input*, voice*, response_format
 *	  (mp3|opus|aac|flac|wav|pcm)}: about 2 KB: the format's magic
 *	  bytes, "MOCKTTS model=M voice=V format=F\n", the input and a
 *	  newline repeated; Content-Type audio/mpeg, audio/opus, audio/aac,
 *	  audio/flac, audio/wav, audio/pcm.
 *	POST /v1/audio/transcriptions, /v1/audio/translations: multipart
 *	  file* and model*, response_format json (default) {"text":T},
 *	  verbose_json {task,language,duration,text,segments}, or as
 *	  text/plain: text (T), srt, vtt.  T: "received <filename> <N>
 *	  bytes", plus " (translated to English)" for translations.
 *
 * THE "mock" MEMBER: a top-level object in the request body
 *	id: "X"             tag counted in the stats, key for fail_first.
 *	fail_first: K       with id: only the first K requests with this id
 *	                    get the faults (every member below except
 *	                    content, repeat, size, eol, comments and bom).
 *	status: S           HTTP status (200..599) with an OpenAI error body
 *	                    "mock error S"; a 2xx status gives the normal
 *	                    answer with that status (departs from the brief).
 *	body: V             this JSON value, compact, as the body (status 200
 *	                    unless given).
 *	raw: "s"            these bytes as the body; content_type: "t" sets
 *	                    its Content-Type (default application/json).
 *	retry_after: "s"    Retry-After header; retry_after_ms: N
 *	                    retry-after-ms header; headers: {"N":"v"} more.
 *	delay_ms: N         stall N ms before the response headers.
 *	reset: "before_headers"  RST (SO_LINGER 0) instead of an answer,
 *	                    after delay_ms.
 *	http10: true        HTTP/1.0 answer, close-delimited body.
 *	chunk: K            write the body K bytes per write(2) (and per HTTP
 *	                    chunk when chunked); chunk_delay_ms: N between.
 *	close_after: K      SSE: shutdown+close after K events (role chunks
 *	                    count; K = all events: no terminating chunk).
 *	                    Otherwise: the true Content-Length, K body bytes,
 *	                    close.
 *	stall_after: K      the same but the connection stays open, silent.
 *	Streams only:
 *	event_delay_ms: N   N ms between events.
 *	no_done: true       no data: [DONE] (the stream still ends cleanly).
 *	bad_data: K         after K events one line data: {"broken json.
 *	error_event: K      after K events an OpenAI error event, then the
 *	                    stream ends cleanly without [DONE].
 *	bad_chunked: K|true after K events (true: 1) an invalid chunk-size
 *	                    line, then close.
 *	eol: "lf"|"crlf"|"cr"  SSE line end (default lf).
 *	comments: true      a ": keep-alive" comment block before each event.
 *	bom: true           the stream starts with EF BB BF.
 *	repeat: N           repeat the content tokens N times (lazily made).
 *	Answers:
 *	content: "s"        use this text instead of the echo.
 *	size: N             non-streamed chat or completion: pad choice 0's
 *	                    text with "x" up to a body of about N bytes
 *	                    (lazily made; not counted in usage; not with
 *	                    tools).
 *	invalid_utf8: true  bytes FF FE inside choice 0's first token.
 *	Members that make no sense for an endpoint are ignored.  Strings
 *	are cut at a \u0000 (yajl_tree keeps no string lengths).
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define MAX_BODY	(256UL << 20)	/* largest request body */
#define MAX_HEAD	(64 << 10)	/* largest request head */
#define MAX_DEPTH	512		/* deepest JSON nesting accepted */
#define MAX_CHOICES	8
#define READ_SZ		8192		/* free room wanted before a read */
#define LOWAT		(128 << 10)	/* produce output only below this */
#define PAD_UNIT	(64 << 10)	/* "x" padding made per step */
#define IN_CAP		(1 << 20)	/* input buffered while answering */
#define TRIM_CAP	(256 << 10)	/* free idle buffers above this */
#define LINGER_MS	2000		/* wait this long for the FIN */
#define ID_BUCKETS	1024
#define STARTS_MAX	10000	/* request starts kept for /mock/stats */
#define CREATED		"1700000000"
#define BADCHUNK	"zz; not a chunk size\r\n"

/* ------------------------------------------------------------------ */
/* Types */

struct buf {
	char *p;
	size_t len, cap;
};

enum { CS_OPEN, CS_LINGER, CS_STALL };
enum { CL_NONE, CL_GRACEFUL, CL_ABRUPT, CL_RST, CL_STALL };
enum { RQ_HEAD, RQ_BODY, RQ_CSIZE, RQ_CDATA, RQ_CCRLF, RQ_TRAILER, RQ_NONE };
enum { FR_LENGTH, FR_CHUNKED, FR_CLOSE };
enum { SRC_FIXED, SRC_SSE };
enum { U_DATA, U_BLOCK, U_END, U_CLOSE, U_STALL, U_BADCHUNK };
enum { F_MORE, F_FLUSH, F_BLOCK, F_DONE };
enum { P_FULL, P_FLUSH, P_IDLE };
enum { K_CHAT, K_CMPL };
enum { PH_ROLE, PH_REASON, PH_CONTENT, PH_FINISH, PH_USAGE, PH_DONE, PH_END };
enum { FX_HEAD, FX_PAD, FX_TAIL, FX_END };

/* The steering members of a request; strings point into the parse tree,
 * so a struct mock lives only while its request is dispatched. */
struct mock {
	const char *id, *raw, *ctype, *retry_after, *content, *eol;
	yajl_val body, headers;
	long long fail_first, retry_after_ms, delay_ms, event_delay_ms;
	long long close_after, stall_after, bad_data, error_event;
	long long bad_chunked, chunk, chunk_delay_ms, repeat, size;
	int status, reset, no_done, comments, bom, http10, invalid_utf8;
};

/* Per-answer state, zeroed before each answer. */
struct rstate {
	int active, http10, close, framing, src, hdr_done, reset;
	int64_t hdr_at, pc_at, ev_at, ev_ms, piece_ms;
	size_t spos, piece;
	/* fixed body: head, pad "x" bytes, tail; limit: bytes before act */
	int fx, limit_act;
	size_t off, pad, sent;
	long long limit;
	/* generated stream */
	int kind, n, reason, tools, usage, no_done, comments, bom, bom_done;
	int bad_done, err_done, ph, ci;
	const char *eol;
	size_t eol_len;
	size_t base[MAX_CHOICES], cnt[MAX_CHOICES], pos[MAX_CHOICES];
	size_t rcnt[MAX_CHOICES], rpos[MAX_CHOICES];
	const char *fin[MAX_CHOICES];
	size_t k, kmax, tpos, npieces;
	unsigned long long ptok, ctok;
	long long nev, close_after, stall_after, bad_data, error_event;
	long long bad_chunked;
};

/* An answer in progress; the buffers are kept for reuse. */
struct resp {
	struct buf hdr, stage, head, tail, pfx, rtext, tname, targs, xhdr;
	struct buf text[MAX_CHOICES];
	struct rstate s;
};

/* One client connection.  Request offsets are relative to ipos, the
 * start of the request being read, so the input may be compacted. */
struct conn {
	int fd, state, closing, dead, rd_eof;
	int64_t wake;
	struct buf in, out;
	size_t ipos, opos;
	int rq, http10, conn_close, chunked, expect, authok;
	size_t lstart, scan, hlen, clen, bpos, blen, csize;
	size_t moff, mlen, toff, tlen, hoff;
	struct resp r;
};

struct idrec {
	struct idrec *next, *order;
	unsigned long long count;
	char name[];
};

/* An asynchronous task of a service family: its status moves one step
 * on per poll (see the top of the file). */
struct task {
	struct task *hnext, *next;
	int fam, kind, fail, cancel, modal, killed;
	long long steps, nf, step, polls, num;
	long long submit_ms, start_ms, finish_ms;
	unsigned long long ord;
	char *prompt, *model, *title, *tags, *hook, *state, *input, *extra;
	char id[];
};

static struct {
	int lfd, port, sigfd[2];
	const char *key;
	int64_t now, accept_at;
	struct conn **conns;
	struct pollfd *pfd;
	size_t nconns, capconns;
	unsigned long long requests;
	struct idrec *bucket[ID_BUCKETS], *ids, **ids_tail;
	struct buf last_head, last_meth, last_path, last_query, last_form;
	size_t last_body;
	int have_form;
	struct task *tbucket[ID_BUCKETS], *tasks, **tasks_tail;
	unsigned long long ntasks;
	int64_t t0, starts[STARTS_MAX];	/* the start log, a ring */
	unsigned long long nstarts;
	char xs[PAD_UNIT], scratch[65536];
} g;

static volatile sig_atomic_t quit;

/* The steering of a request without a "mock" member. */
static const struct mock nomock = { .fail_first = -1, .retry_after_ms = -1,
	.close_after = -1, .stall_after = -1, .bad_data = -1,
	.error_event = -1, .bad_chunked = -1, .repeat = 1 };

static const unsigned char png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89,
	0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63,
	0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4,
	0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
	0x82
};

/* A 1x1 baseline JPEG and a 1x1 lossless WebP (Stability, /files/). */
static const unsigned char jpeg_img[] = {
	0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00,
	0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb,
	0x00, 0x84, 0x00, 0x10, 0x0b, 0x0c, 0x0e, 0x0c, 0x0a, 0x10, 0x0e,
	0x0d, 0x0e, 0x12, 0x11, 0x10, 0x13, 0x18, 0x28, 0x1a, 0x18, 0x16,
	0x16, 0x18, 0x31, 0x23, 0x25, 0x1d, 0x28, 0x3a, 0x33, 0x3d, 0x3c,
	0x39, 0x33, 0x38, 0x37, 0x40, 0x48, 0x5c, 0x4e, 0x40, 0x44, 0x57,
	0x45, 0x37, 0x38, 0x50, 0x6d, 0x51, 0x57, 0x5f, 0x62, 0x67, 0x68,
	0x67, 0x3e, 0x4d, 0x71, 0x79, 0x70, 0x64, 0x78, 0x5c, 0x65, 0x67,
	0x63, 0x01, 0x11, 0x12, 0x12, 0x18, 0x15, 0x18, 0x2f, 0x1a, 0x1a,
	0x2f, 0x63, 0x42, 0x38, 0x42, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
	0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
	0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
	0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
	0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
	0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x01, 0x00, 0x01, 0x03, 0x01,
	0x11, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x01,
	0xa2, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03,
	0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x00, 0x02,
	0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00,
	0x00, 0x01, 0x7d, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12,
	0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14,
	0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52,
	0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35,
	0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
	0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
	0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76,
	0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
	0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2,
	0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
	0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6,
	0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
	0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9,
	0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
	0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04,
	0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x11, 0x00, 0x02, 0x01,
	0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01,
	0x02, 0x77, 0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31,
	0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81,
	0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52,
	0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25,
	0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35,
	0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
	0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
	0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76,
	0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
	0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
	0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3,
	0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
	0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
	0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9,
	0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff,
	0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00,
	0x3f, 0x00, 0xf4, 0x0a, 0x00, 0xff, 0x00, 0xff, 0xd9
};

static const unsigned char webp_img[] = {
	0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42,
	0x50, 0x56, 0x50, 0x38, 0x4c, 0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00,
	0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07,
	0x00
};

static void conn_wake(struct conn *, int64_t);
static int hdr_is(const char *, size_t, const char *);
static void stats_polls(struct buf *);
static void tasks_free(void);

/* ------------------------------------------------------------------ */
/* Buffers */

/* Make room for n more bytes plus a NUL; -1 when impossible, the buffer
 * left as it was. */
static int
buf_try(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (n > SIZE_MAX / 4 - b->len)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Output buffers belong to the server: running out of memory is fatal. */
static void
buf_grow(struct buf *b, size_t n)
{
	if (buf_try(b, n) < 0)
		errx(2, "out of memory");
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_addu(struct buf *b, unsigned long long v)
{
	char t[24], *p = t + sizeof t;

	do
		*--p = '0' + v % 10;
	while (v /= 10);
	buf_add(b, p, t + sizeof t - p);
}

static void
buf_addi(struct buf *b, long long v)
{
	if (v < 0) {
		buf_add(b, "-", 1);
		buf_addu(b, -(unsigned long long)v);
	} else
		buf_addu(b, v);
}

/* Append s as a JSON string.  Bytes >= 0x80 pass through raw, so valid
 * UTF-8 stays valid and the deliberate invalid bytes stay invalid. */
static void
buf_json(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run;
	unsigned char ch;
	char e[6];

	buf_grow(b, n + 2);
	b->p[b->len++] = '"';
	for (i = run = 0; i < n; i++) {
		ch = s[i];
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		e[0] = '\\';
		switch (ch) {
		case '"': case '\\': e[1] = ch; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hex[ch >> 4];
			e[5] = hex[ch & 15];
			buf_add(b, e, 6);
			continue;
		}
		buf_add(b, e, 2);
	}
	buf_add(b, s + run, n - run);
	buf_add(b, "\"", 1);
}

static void
buf_jsons(struct buf *b, const char *s)
{
	buf_json(b, s, strlen(s));
}

/* Empty a buffer; give its memory back when an answer made it big. */
static void
buf_trim(struct buf *b, size_t keep)
{
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ */
/* Small helpers */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static yajl_val
jget(yajl_val o, const char *key)
{
	size_t i;

	if (!YAJL_IS_OBJECT(o))
		return NULL;
	for (i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return o->u.object.values[i];
	return NULL;
}

static const char *
jstr(yajl_val v)
{
	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

/* An integer member: true counts as 1, anything else not a number as
 * def. */
static long long
jint(yajl_val v, long long def)
{
	double d;

	if (v == NULL)
		return def;
	if (YAJL_IS_INTEGER(v))
		return YAJL_GET_INTEGER(v);
	if (YAJL_IS_DOUBLE(v)) {
		d = YAJL_GET_DOUBLE(v);
		return d > -4e18 && d < 4e18 ? (long long)d : def;
	}
	if (YAJL_IS_TRUE(v))
		return 1;
	return def;
}

static int
jbool(yajl_val v)
{
	return jint(v, 0) != 0;
}

static long long
clampll(long long v, long long lo, long long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Number of space-separated words, the mock's idea of a token count. */
static unsigned long long
words(const char *s)
{
	unsigned long long n = 0;
	int in = 0;

	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			in = 0;
		else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

/* Deepest nesting of arrays and objects in a JSON text: yajl_tree_free
 * recurses, so a hostile body must not reach it. */
static size_t
json_depth(const char *p, size_t n)
{
	size_t i, d = 0, max = 0;
	int str = 0;

	for (i = 0; i < n; i++) {
		if (str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				str = 0;
		} else if (p[i] == '"')
			str = 1;
		else if (p[i] == '[' || p[i] == '{') {
			if (++d > max)
				max = d;
		} else if ((p[i] == ']' || p[i] == '}') && d > 0)
			d--;
	}
	return max;
}

static const char *
status_text(int s)
{
	switch (s) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Status";
}

/* ------------------------------------------------------------------ */
/* Statistics */

/* Count one more request tagged name; returns the new count. */
static unsigned long long
ids_bump(const char *name)
{
	struct idrec *r;
	unsigned h = 2166136261u;
	const char *p;
	size_t n;

	for (p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= ID_BUCKETS;
	for (r = g.bucket[h]; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			return ++r->count;
	n = strlen(name);
	if ((r = malloc(sizeof *r + n + 1)) == NULL)
		errx(2, "out of memory");
	memcpy(r->name, name, n + 1);
	r->count = 1;
	r->next = g.bucket[h];
	g.bucket[h] = r;
	r->order = NULL;
	*g.ids_tail = r;
	g.ids_tail = &r->order;
	return 1;
}

static void
stats_clear(void)
{
	struct idrec *r, *next;
	struct task *t;

	for (r = g.ids; r; r = next) {
		next = r->order;
		free(r);
	}
	memset(g.bucket, 0, sizeof g.bucket);
	g.ids = NULL;
	g.ids_tail = &g.ids;
	g.requests = 0;
	g.nstarts = 0;
	buf_free(&g.last_head);
	buf_free(&g.last_meth);
	buf_free(&g.last_path);
	buf_free(&g.last_query);
	buf_free(&g.last_form);
	g.last_body = 0;
	g.have_form = 0;
	for (t = g.tasks; t; t = t->next)
		t->polls = 0;
}

struct hpair {
	char *n, *v;
	size_t nl, vl;
};

/* The saved header lines as a JSON object, names lower-cased, repeated
 * names joined, the authorization value hidden. */
static void
stats_headers(struct buf *b)
{
	struct hpair *h;
	size_t nh = 0, i, j, k;
	char *p, *e, *end, *c;
	struct buf v = { 0 };
	int first = 1;

	if (g.last_head.len == 0)
		return;
	for (i = 0, k = 1; i < g.last_head.len; i++)
		k += g.last_head.p[i] == '\n';
	if ((h = calloc(k, sizeof *h)) == NULL)
		errx(2, "out of memory");
	p = g.last_head.p;
	end = p + g.last_head.len;
	for (; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if ((c = memchr(p, ':', e - p)) == NULL || c == p)
			continue;
		h[nh].n = p;
		h[nh].nl = c - p;
		for (j = 0; j < h[nh].nl; j++)
			if (p[j] >= 'A' && p[j] <= 'Z')
				p[j] += 'a' - 'A';
		for (c++; c < e && (*c == ' ' || *c == '\t'); c++)
			;
		h[nh].v = c;
		h[nh].vl = e - c;
		while (h[nh].vl > 0 && (c[h[nh].vl - 1] == '\r' ||
		    c[h[nh].vl - 1] == ' ' || c[h[nh].vl - 1] == '\t'))
			h[nh].vl--;
		nh++;
	}
	for (i = 0; i < nh; i++) {
		for (j = 0; j < i; j++)
			if (h[j].nl == h[i].nl &&
			    memcmp(h[j].n, h[i].n, h[i].nl) == 0)
				break;
		if (j < i)
			continue;
		if (!first)
			buf_add(b, ",", 1);
		first = 0;
		buf_json(b, h[i].n, h[i].nl);
		buf_add(b, ":", 1);
		if (h[i].nl == 13 && memcmp(h[i].n, "authorization", 13) == 0) {
			buf_adds(b, "\"present\"");
			continue;
		}
		v.len = 0;
		buf_add(&v, h[i].v, h[i].vl);
		for (j = i + 1; j < nh; j++)
			if (h[j].nl == h[i].nl &&
			    memcmp(h[j].n, h[i].n, h[i].nl) == 0) {
				buf_add(&v, ", ", 2);
				buf_add(&v, h[j].v, h[j].vl);
			}
		buf_json(b, v.p, v.len);
	}
	buf_free(&v);
	free(h);
}

/* GET /mock/stats. */
static void
stats_json(struct buf *b)
{
	struct idrec *r;
	unsigned long long i, n;

	buf_adds(b, "{\"requests\":");
	buf_addu(b, g.requests);
	buf_adds(b, ",\"ids\":{");
	for (r = g.ids; r; r = r->order) {
		if (r != g.ids)
			buf_add(b, ",", 1);
		buf_jsons(b, r->name);
		buf_add(b, ":", 1);
		buf_addu(b, r->count);
	}
	buf_adds(b, "},\"last_headers\":{");
	stats_headers(b);
	buf_adds(b, "},\"last_body_bytes\":");
	buf_addu(b, g.last_body);
	buf_adds(b, ",\"last_method\":");
	if (g.requests)
		buf_json(b, g.last_meth.p, g.last_meth.len);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\"last_path\":");
	if (g.requests)
		buf_json(b, g.last_path.p, g.last_path.len);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\"last_query\":");
	if (g.requests)
		buf_json(b, g.last_query.p, g.last_query.len);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\"last_form\":");
	if (g.have_form)
		buf_add(b, g.last_form.p, g.last_form.len);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\"polls\":{");
	stats_polls(b);
	buf_adds(b, "},\"starts\":[");
	n = g.nstarts < STARTS_MAX ? g.nstarts : STARTS_MAX;
	for (i = g.nstarts - n; i < g.nstarts; i++) {
		if (i > g.nstarts - n)
			buf_add(b, ",", 1);
		buf_addu(b, (unsigned long long)g.starts[i % STARTS_MAX]);
	}
	buf_adds(b, "]}");
}

/* ------------------------------------------------------------------ */
/* Answers: headers and sources */

static void
mock_init(struct mock *m)
{
	memset(m, 0, sizeof *m);
	m->fail_first = m->retry_after_ms = -1;
	m->close_after = m->stall_after = m->bad_data = -1;
	m->error_event = m->bad_chunked = -1;
}

/* Forget the faults of a request whose fail_first is used up. */
static void
mock_unfault(struct mock *m)
{
	struct mock k = *m;

	mock_init(m);
	m->id = k.id;
	m->content = k.content;
	m->repeat = k.repeat;
	m->size = k.size;
	m->eol = k.eol;
	m->comments = k.comments;
	m->bom = k.bom;
}

/* Read the "mock" object o into m; members of the wrong type are
 * ignored. */
static void
mock_parse(struct mock *m, yajl_val o)
{
	long long s;

	mock_init(m);
	if (!YAJL_IS_OBJECT(o))
		return;
	m->id = jstr(jget(o, "id"));
	m->fail_first = jint(jget(o, "fail_first"), -1);
	s = jint(jget(o, "status"), 0);
	m->status = s >= 200 && s <= 599 ? (int)s : 0;
	m->body = jget(o, "body");
	m->raw = jstr(jget(o, "raw"));
	m->ctype = jstr(jget(o, "content_type"));
	m->retry_after = jstr(jget(o, "retry_after"));
	m->retry_after_ms = jint(jget(o, "retry_after_ms"), -1);
	m->headers = jget(o, "headers");
	m->delay_ms = jint(jget(o, "delay_ms"), 0);
	m->event_delay_ms = jint(jget(o, "event_delay_ms"), 0);
	m->close_after = jint(jget(o, "close_after"), -1);
	m->stall_after = jint(jget(o, "stall_after"), -1);
	m->bad_data = jint(jget(o, "bad_data"), -1);
	m->error_event = jint(jget(o, "error_event"), -1);
	m->bad_chunked = jint(jget(o, "bad_chunked"), -1);
	m->chunk = jint(jget(o, "chunk"), 0);
	m->chunk_delay_ms = jint(jget(o, "chunk_delay_ms"), 0);
	m->repeat = jint(jget(o, "repeat"), 1);
	m->size = jint(jget(o, "size"), 0);
	m->content = jstr(jget(o, "content"));
	m->eol = jstr(jget(o, "eol"));
	m->reset = jstr(jget(o, "reset")) != NULL &&
	    strcmp(jstr(jget(o, "reset")), "before_headers") == 0;
	m->no_done = jbool(jget(o, "no_done"));
	m->comments = jbool(jget(o, "comments"));
	m->bom = jbool(jget(o, "bom"));
	m->http10 = jbool(jget(o, "http10"));
	m->invalid_utf8 = jbool(jget(o, "invalid_utf8"));
}

/* Start a new answer on c: state zeroed, buffers emptied. */
static void
resp_reset(struct conn *c)
{
	struct resp *r = &c->r;
	int i;

	memset(&r->s, 0, sizeof r->s);
	r->hdr.len = r->stage.len = r->head.len = r->tail.len = 0;
	r->pfx.len = r->rtext.len = r->tname.len = r->targs.len = 0;
	r->xhdr.len = 0;
	for (i = 0; i < MAX_CHOICES; i++)
		r->text[i].len = 0;
	r->s.active = 1;
	r->s.http10 = c->http10;
	r->s.close = c->conn_close || c->http10;
	r->s.limit = -1;
	r->s.close_after = r->s.stall_after = r->s.bad_data = -1;
	r->s.error_event = r->s.bad_chunked = -1;
}

/* Apply the transport members of m shared by every kind of answer. */
static void
resp_mock(struct conn *c, const struct mock *m)
{
	struct rstate *s = &c->r.s;

	if (m->http10) {
		s->http10 = 1;
		s->close = 1;
	}
	if (m->delay_ms > 0)
		s->hdr_at = g.now + m->delay_ms;
	s->reset = m->reset;
	if (m->chunk > 0) {
		s->piece = m->chunk;
		s->piece_ms = m->chunk_delay_ms > 0 ? m->chunk_delay_ms : 0;
	}
}

static int
hdr_ok(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

/* Build the response head into r->hdr and choose the body framing;
 * clen is the body length when it is known. */
static void
resp_head(struct conn *c, int status, const char *ctype, int sse,
    size_t clen, const struct mock *m)
{
	struct resp *r = &c->r;
	struct buf *b = &r->hdr;
	yajl_val h, v;
	const char *n, *s;
	size_t i;

	buf_adds(b, r->s.http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
	buf_addu(b, status);
	buf_add(b, " ", 1);
	buf_adds(b, status_text(status));
	buf_adds(b, "\r\nContent-Type: ");
	buf_adds(b, ctype);
	buf_adds(b, "\r\n");
	if (sse)
		buf_adds(b, "Cache-Control: no-cache\r\n"
		    "X-Accel-Buffering: no\r\n");
	if (r->s.http10)
		r->s.framing = FR_CLOSE;
	else if (sse) {
		r->s.framing = FR_CHUNKED;
		buf_adds(b, "Transfer-Encoding: chunked\r\n");
	} else {
		r->s.framing = FR_LENGTH;
		if (status != 204 && status != 304) {
			buf_adds(b, "Content-Length: ");
			buf_addu(b, clen);
			buf_adds(b, "\r\n");
		}
	}
	if (r->s.close)
		buf_adds(b, "Connection: close\r\n");
	if (m->retry_after && hdr_ok(m->retry_after)) {
		buf_adds(b, "Retry-After: ");
		buf_adds(b, m->retry_after);
		buf_adds(b, "\r\n");
	}
	if (m->retry_after_ms >= 0) {
		buf_adds(b, "retry-after-ms: ");
		buf_addi(b, m->retry_after_ms);
		buf_adds(b, "\r\n");
	}
	h = m->headers;
	for (i = 0; YAJL_IS_OBJECT(h) && i < h->u.object.len; i++) {
		n = h->u.object.keys[i];
		v = h->u.object.values[i];
		if (YAJL_IS_STRING(v))
			s = YAJL_GET_STRING(v);
		else if (YAJL_IS_NUMBER(v))
			s = YAJL_GET_NUMBER(v);
		else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
			s = YAJL_IS_TRUE(v) ? "true" : "false";
		else
			continue;
		if (!*n || !hdr_ok(n) || strchr(n, ':') || !hdr_ok(s))
			continue;
		buf_adds(b, n);
		buf_adds(b, ": ");
		buf_adds(b, s);
		buf_adds(b, "\r\n");
	}
	if (r->xhdr.len)
		buf_add(b, r->xhdr.p, r->xhdr.len);
	buf_adds(b, "\r\n");
}

/* Answer with the body in r->head (+ r->s.pad "x" bytes + r->tail). */
static void
resp_fixed(struct conn *c, int status, const char *ctype,
    const struct mock *m)
{
	struct resp *r = &c->r;

	resp_mock(c, m);
	if (status == 204 || status == 304) {
		r->head.len = r->tail.len = 0;
		r->s.pad = 0;
	}
	if (m->close_after >= 0) {
		r->s.limit = m->close_after;
		r->s.limit_act = U_CLOSE;
	} else if (m->stall_after >= 0) {
		r->s.limit = m->stall_after;
		r->s.limit_act = U_STALL;
	}
	r->s.src = SRC_FIXED;
	resp_head(c, status, ctype, 0, r->head.len + r->s.pad + r->tail.len,
	    m);
}

/* Answer with an event stream generated lazily by sse_next(). */
static void
resp_sse(struct conn *c, const struct mock *m)
{
	struct rstate *s = &c->r.s;

	resp_mock(c, m);
	s->src = SRC_SSE;
	s->ev_ms = m->event_delay_ms > 0 ? m->event_delay_ms : 0;
	s->close_after = m->close_after;
	s->stall_after = m->stall_after;
	s->bad_data = m->bad_data;
	s->error_event = m->error_event;
	s->bad_chunked = m->bad_chunked;
	s->no_done = m->no_done;
	s->comments = m->comments;
	s->bom = m->bom;
	s->eol = "\n";
	if (m->eol && strcmp(m->eol, "crlf") == 0)
		s->eol = "\r\n";
	else if (m->eol && strcmp(m->eol, "cr") == 0)
		s->eol = "\r";
	s->eol_len = strlen(s->eol);
	resp_head(c, 200, "text/event-stream", 1, 0, m);
}

/* An OpenAI-style error answer; code NULL gives "code":null. */
static void
answer_error(struct conn *c, int status, const char *msg, const char *type,
    const char *code, const struct mock *m)
{
	struct buf *b = &c->r.head;

	b->len = 0;
	buf_adds(b, "{\"error\":{\"message\":");
	buf_jsons(b, msg);
	buf_adds(b, ",\"type\":");
	buf_jsons(b, type);
	buf_adds(b, ",\"param\":null,\"code\":");
	if (code)
		buf_jsons(b, code);
	else
		buf_adds(b, "null");
	buf_adds(b, "}}");
	resp_fixed(c, status, "application/json", m);
}

/* Next piece of a fixed body into r->stage, honouring the byte limit of
 * close_after / stall_after. */
static int
fixed_next(struct conn *c)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *src;
	size_t n, left;

	for (;;) {
		left = SIZE_MAX;
		if (s->limit >= 0) {
			if (s->sent >= (unsigned long long)s->limit)
				return s->limit_act;
			left = s->limit - s->sent;
		}
		switch (s->fx) {
		case FX_HEAD:
		case FX_TAIL:
			src = s->fx == FX_HEAD ? &r->head : &r->tail;
			if ((n = src->len - s->off) == 0) {
				s->fx++;
				s->off = 0;
				continue;
			}
			if (n > left)
				n = left;
			buf_add(&r->stage, src->p + s->off, n);
			s->off += n;
			break;
		case FX_PAD:
			if (s->pad == 0) {
				s->fx++;
				continue;
			}
			n = s->pad < PAD_UNIT ? s->pad : PAD_UNIT;
			if (n > left)
				n = left;
			buf_add(&r->stage, g.xs, n);
			s->pad -= n;
			break;
		default:
			return U_END;
		}
		s->sent += n;
		return U_DATA;
	}
}

/* ------------------------------------------------------------------ */
/* Generated streams */

/* End of the token that starts at p in t (n bytes): tokens after the
 * first begin with a space, and the first base bytes (the "[i] " prefix)
 * are a token of their own. */
static size_t
tok_end(const char *t, size_t n, size_t base, size_t p)
{
	if (p < base)
		return base;
	for (p++; p < n && t[p] != ' '; p++)
		;
	return p;
}

static size_t
tok_count(const char *t, size_t n, size_t base)
{
	size_t c = (base > 0) + (n > base), i;

	for (i = base + 1; i < n; i++)
		c += t[i] == ' ';
	return c;
}

/* Bytes taken by the first k tokens. */
static size_t
tok_prefix(const char *t, size_t n, size_t base, size_t k)
{
	size_t p = 0;

	while (k-- > 0 && p < n)
		p = tok_end(t, n, base, p);
	return p;
}

/* End of the tool-argument piece at p: at most 8 UTF-8 characters. */
static size_t
piece_end(const char *t, size_t n, size_t p)
{
	int i;

	for (i = 0; i < 8 && p < n; i++)
		for (p++; p < n && ((unsigned char)t[p] & 0xc0) == 0x80; p++)
			;
	return p;
}

/* Next (choice, index) in round-robin order over per-choice counts. */
static int
rr_next(struct rstate *s, const size_t *cnt)
{
	while (s->k < s->kmax) {
		if (s->ci >= s->n) {
			s->ci = 0;
			s->k++;
			continue;
		}
		if (s->k < cnt[s->ci])
			return s->ci++;
		s->ci++;
	}
	return -1;
}

static void
rr_start(struct rstate *s, int ph, const size_t *cnt)
{
	int i;

	s->ph = ph;
	s->ci = 0;
	s->k = 0;
	s->kmax = 0;
	for (i = 0; i < s->n; i++)
		if (cnt[i] > s->kmax)
			s->kmax = cnt[i];
}

/* Open one chunk event for choice i (its delta or text follows). */
static void
ev_choice(struct buf *b, struct resp *r, int i)
{
	buf_add(b, r->pfx.p, r->pfx.len);
	if (r->s.kind == K_CHAT) {
		buf_adds(b, "{\"index\":");
		buf_addu(b, i);
		buf_adds(b, ",\"delta\":");
	} else
		buf_adds(b, "{\"text\":");
}

/* Close a chunk event opened by ev_choice; fin NULL gives null. */
static void
ev_close(struct buf *b, struct resp *r, const char *fin)
{
	if (r->s.kind == K_CMPL)
		buf_adds(b, ",\"index\":0");
	buf_adds(b, ",\"logprobs\":null,\"finish_reason\":");
	if (fin) {
		buf_add(b, "\"", 1);
		buf_adds(b, fin);
		buf_adds(b, "\"}]}");
	} else
		buf_adds(b, "null}]}");
}

/* Append the JSON of the stream's next event to b; 0 at the end. */
static int
gen_event(struct conn *c, struct buf *b)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *t;
	size_t e;
	int i;

	for (;;) {
		switch (s->ph) {
		case PH_ROLE:
			if (s->kind == K_CHAT && s->ci < s->n) {
				ev_choice(b, r, s->ci++);
				buf_adds(b, "{\"role\":\"assistant\","
				    "\"content\":\"\"}");
				ev_close(b, r, NULL);
				return 1;
			}
			rr_start(s, PH_REASON, s->rcnt);
			continue;
		case PH_REASON:
			if ((i = rr_next(s, s->rcnt)) < 0) {
				rr_start(s, PH_CONTENT, s->cnt);
				continue;
			}
			t = &r->rtext;
			if (s->rpos[i] >= t->len)
				s->rpos[i] = 0;
			e = tok_end(t->p, t->len, 0, s->rpos[i]);
			ev_choice(b, r, i);
			buf_adds(b, "{\"reasoning_content\":");
			buf_json(b, t->p + s->rpos[i], e - s->rpos[i]);
			buf_add(b, "}", 1);
			ev_close(b, r, NULL);
			s->rpos[i] = e;
			return 1;
		case PH_CONTENT:
			if ((i = rr_next(s, s->cnt)) < 0) {
				s->ph = PH_FINISH;
				s->ci = 0;
				continue;
			}
			ev_choice(b, r, i);
			if (s->tools && i == 0 && s->tpos == 0 &&
			    s->k == 0) {
				buf_adds(b, "{\"tool_calls\":[{\"index\":0,"
				    "\"id\":\"call_mock_1\",\"type\":"
				    "\"function\",\"function\":{\"name\":");
				buf_add(b, r->tname.p, r->tname.len);
				buf_adds(b, ",\"arguments\":\"\"}}]}");
			} else if (s->tools && i == 0) {
				t = &r->targs;
				e = piece_end(t->p, t->len, s->tpos);
				buf_adds(b, "{\"tool_calls\":[{\"index\":0,"
				    "\"function\":{\"arguments\":");
				buf_json(b, t->p + s->tpos, e - s->tpos);
				buf_adds(b, "}}]}");
				s->tpos = e;
			} else {
				t = &r->text[i];
				if (s->pos[i] >= t->len)
					s->pos[i] = 0;
				e = tok_end(t->p, t->len, s->base[i],
				    s->pos[i]);
				if (s->kind == K_CHAT)
					buf_adds(b, "{\"content\":");
				buf_json(b, t->p + s->pos[i], e - s->pos[i]);
				if (s->kind == K_CHAT)
					buf_add(b, "}", 1);
				s->pos[i] = e;
			}
			ev_close(b, r, NULL);
			return 1;
		case PH_FINISH:
			if (s->ci < s->n) {
				i = s->ci++;
				ev_choice(b, r, i);
				buf_adds(b, s->kind == K_CHAT ? "{}" : "\"\"");
				ev_close(b, r, s->fin[i]);
				return 1;
			}
			s->ph = PH_USAGE;
			continue;
		case PH_USAGE:
			s->ph = PH_DONE;
			if (!s->usage)
				continue;
			buf_add(b, r->pfx.p, r->pfx.len);
			buf_adds(b, "],\"usage\":{\"prompt_tokens\":");
			buf_addu(b, s->ptok);
			buf_adds(b, ",\"completion_tokens\":");
			buf_addu(b, s->ctok);
			buf_adds(b, ",\"total_tokens\":");
			buf_addu(b, s->ptok + s->ctok);
			buf_adds(b, "}}");
			return 1;
		case PH_DONE:
			s->ph = PH_END;
			if (s->no_done)
				continue;
			buf_adds(b, "[DONE]");
			return 1;
		default:
			return 0;
		}
	}
}

/* Next unit of an event stream into r->stage: one event with its
 * comment and line ends, or a fault. */
static int
sse_next(struct conn *c)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *b = &r->stage;
	size_t mark = b->len;
	int bom = 0;

	if (s->nev > 0 && s->ev_ms > 0 && g.now < s->ev_at) {
		conn_wake(c, s->ev_at);
		return U_BLOCK;
	}
	if (s->nev == s->close_after)
		return U_CLOSE;
	if (s->nev == s->stall_after)
		return U_STALL;
	if (s->nev == s->bad_chunked && s->framing == FR_CHUNKED)
		return U_BADCHUNK;
	if (s->bom && !s->bom_done) {
		buf_add(b, "\xef\xbb\xbf", 3);
		s->bom_done = bom = 1;
	}
	if (s->comments) {
		buf_adds(b, ": keep-alive");
		buf_add(b, s->eol, s->eol_len);
		buf_add(b, s->eol, s->eol_len);
	}
	buf_adds(b, "data: ");
	if (s->nev == s->bad_data && !s->bad_done) {
		s->bad_done = 1;
		buf_adds(b, "{\"broken json");
	} else if (s->nev == s->error_event && !s->err_done) {
		s->err_done = 1;
		s->ph = PH_END;
		buf_adds(b, "{\"error\":{\"message\":\"mock stream error\","
		    "\"type\":\"server_error\",\"param\":null,"
		    "\"code\":\"mock_stream_error\"}}");
		s->nev++;
	} else if (gen_event(c, b))
		s->nev++;
	else {
		b->len = mark;
		if (bom)
			s->bom_done = 0;
		return U_END;
	}
	buf_add(b, s->eol, s->eol_len);
	buf_add(b, s->eol, s->eol_len);
	s->ev_at = g.now + s->ev_ms;
	return U_DATA;
}

/* ------------------------------------------------------------------ */
/* Producing output */

/* Append n body bytes to the output, as one HTTP chunk if chunked. */
static void
frame(struct conn *c, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char t[24], *q = t + sizeof t;
	size_t v = n;

	if (c->r.s.framing == FR_CHUNKED) {
		*--q = '\n';
		*--q = '\r';
		do
			*--q = hex[v & 15];
		while (v >>= 4);
		buf_add(&c->out, q, t + sizeof t - q);
		buf_add(&c->out, p, n);
		buf_add(&c->out, "\r\n", 2);
	} else
		buf_add(&c->out, p, n);
}

/* Move the answer on by one step: headers, a framed unit or piece, or
 * its end.  F_FLUSH asks for the output to be written out first (each
 * piece is its own write), F_BLOCK means wait for a timer. */
static int
resp_fill(struct conn *c)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	size_t n;

	if (s->piece && c->opos < c->out.len)
		return F_FLUSH;
	if (!s->hdr_done) {
		if (g.now < s->hdr_at) {
			conn_wake(c, s->hdr_at);
			return F_BLOCK;
		}
		if (s->reset) {
			c->closing = CL_RST;
			return F_DONE;
		}
		buf_add(&c->out, r->hdr.p, r->hdr.len);
		s->hdr_done = 1;
		if (s->piece) {
			s->pc_at = g.now + s->piece_ms;
			return F_FLUSH;
		}
		return F_MORE;
	}
	if (s->spos == r->stage.len) {
		r->stage.len = 0;
		s->spos = 0;
		switch (s->src == SRC_SSE ? sse_next(c) : fixed_next(c)) {
		case U_DATA:
			break;
		case U_BLOCK:
			return F_BLOCK;
		case U_END:
			if (s->framing == FR_CHUNKED)
				buf_adds(&c->out, "0\r\n\r\n");
			return F_DONE;
		case U_CLOSE:
			c->closing = CL_ABRUPT;
			return F_DONE;
		case U_STALL:
			c->closing = CL_STALL;
			return F_DONE;
		case U_BADCHUNK:
			buf_adds(&c->out, BADCHUNK);
			c->closing = CL_ABRUPT;
			return F_DONE;
		}
	}
	n = r->stage.len - s->spos;
	if (s->piece) {
		if (g.now < s->pc_at) {
			conn_wake(c, s->pc_at);
			return F_BLOCK;
		}
		if (n > s->piece)
			n = s->piece;
	}
	frame(c, r->stage.p + s->spos, n);
	s->spos += n;
	if (s->piece) {
		s->pc_at = g.now + s->piece_ms;
		return F_FLUSH;
	}
	return F_MORE;
}

/* The answer has been produced: release big buffers, decide whether
 * the connection carries on. */
static void
resp_end(struct conn *c)
{
	struct resp *r = &c->r;
	int i;

	r->s.active = 0;
	if (r->s.close && c->closing == CL_NONE)
		c->closing = CL_GRACEFUL;
	buf_trim(&r->stage, TRIM_CAP);
	buf_trim(&r->head, TRIM_CAP);
	buf_trim(&r->tail, TRIM_CAP);
	buf_trim(&r->rtext, TRIM_CAP);
	buf_trim(&r->targs, TRIM_CAP);
	for (i = 0; i < MAX_CHOICES; i++)
		buf_trim(&r->text[i], TRIM_CAP);
}

/* ------------------------------------------------------------------ */
/* Endpoints */

/* Text of a message content: a string, or the "text" parts joined by a
 * space. */
static void
content_text(yajl_val v, struct buf *b)
{
	const char *t;
	size_t i;
	int first = 1;

	if ((t = jstr(v)) != NULL) {
		buf_adds(b, t);
		return;
	}
	for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
		if ((t = jstr(jget(v->u.array.values[i], "text"))) == NULL)
			continue;
		if (!first)
			buf_add(b, " ", 1);
		first = 0;
		buf_adds(b, t);
	}
}

static unsigned long long
content_words(yajl_val v)
{
	unsigned long long n = 0;
	const char *t;
	size_t i;

	if ((t = jstr(v)) != NULL)
		return words(t);
	for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++)
		if ((t = jstr(jget(v->u.array.values[i], "text"))) != NULL)
			n += words(t);
	return n;
}

/* Insert FF FE after the first byte of b (mock.invalid_utf8). */
static void
put_bad_bytes(struct buf *b)
{
	buf_grow(b, 2);
	if (b->len > 0)
		memmove(b->p + 3, b->p + 1, b->len - 1);
	memcpy(b->p + (b->len > 0), "\xff\xfe", 2);
	b->len += 2;
	b->p[b->len] = '\0';
}

/* Choice texts, token counts and finish reasons from r->text[0] (the
 * echo); stream says whether repeat applies. */
static void
gen_choices(struct conn *c, const struct mock *m, long long maxtok,
    int stream)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	unsigned long long total, rep;
	size_t p;
	int i;

	rep = stream ? (unsigned long long)clampll(m->repeat, 1, 1000000000)
	    : 1;
	if (s->reason) {
		buf_adds(&r->rtext, "think: ");
		buf_add(&r->rtext, r->text[0].p, r->text[0].len);
	}
	if (s->tools) {
		buf_adds(&r->targs, "{\"text\":");
		buf_json(&r->targs, r->text[0].p, r->text[0].len);
		buf_adds(&r->targs, "}");
		for (p = 0; p < r->targs.len; s->npieces++)
			p = piece_end(r->targs.p, r->targs.len, p);
	}
	for (i = 1; i < s->n; i++) {
		buf_add(&r->text[i], "[", 1);
		buf_addu(&r->text[i], i);
		buf_add(&r->text[i], "] ", 2);
		s->base[i] = r->text[i].len;
		buf_add(&r->text[i], r->text[0].p, r->text[0].len);
	}
	if (m->invalid_utf8)
		put_bad_bytes(&r->text[0]);
	for (i = 0; i < s->n; i++) {
		if (s->reason) {
			s->rcnt[i] = tok_count(r->rtext.p, r->rtext.len, 0);
			s->ctok += s->rcnt[i];
		}
		if (s->tools && i == 0) {
			s->cnt[0] = 1 + s->npieces;
			s->fin[0] = "tool_calls";
			s->ctok += s->npieces;
			continue;
		}
		total = rep * tok_count(r->text[i].p, r->text[i].len,
		    s->base[i]);
		s->fin[i] = "stop";
		if (maxtok >= 0 && (unsigned long long)maxtok < total) {
			total = maxtok;
			s->fin[i] = "length";
		}
		s->cnt[i] = total;
		s->ctok += total;
	}
}

static void
put_usage(struct buf *b, const struct rstate *s)
{
	buf_adds(b, ",\"usage\":{\"prompt_tokens\":");
	buf_addu(b, s->ptok);
	buf_adds(b, ",\"completion_tokens\":");
	buf_addu(b, s->ctok);
	buf_adds(b, ",\"total_tokens\":");
	buf_addu(b, s->ptok + s->ctok);
	buf_adds(b, "}}");
}

/* Split the fixed body at split, to be padded there up to m->size. */
static void
pad_body(struct resp *r, const struct mock *m, size_t split)
{
	size_t have;

	if (m->size <= 0 || split == 0)
		return;
	buf_add(&r->tail, r->head.p + split, r->head.len - split);
	r->head.len = split;
	have = r->head.len + r->tail.len;
	if ((unsigned long long)m->size > have)
		r->s.pad = m->size - have;
}

/* The common start of every chunk of a stream, up to "choices":[. */
static void
gen_prefix(struct resp *r, const char *id, unsigned long long seq,
    const char *object, const char *model)
{
	struct buf *b = &r->pfx;

	buf_adds(b, "{\"id\":\"");
	buf_adds(b, id);
	buf_addu(b, seq);
	buf_adds(b, "\",\"object\":\"");
	buf_adds(b, object);
	buf_adds(b, "\",\"created\":" CREATED ",\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"choices\":[");
}

/* POST /v1/chat/completions: echo the last user message (see the
 * top of the file). */
static void
do_chat(struct conn *c, yajl_val root, const struct mock *m, int status,
    unsigned long long seq)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *b = &r->head;
	yajl_val msgs, v, tools;
	const char *model, *name, *role;
	long long maxtok;
	size_t i, last, split = 0, len;
	int stream;

	if ((model = jstr(jget(root, "model"))) == NULL)
		model = "mock";
	msgs = jget(root, "messages");
	last = SIZE_MAX;
	for (i = 0; YAJL_IS_ARRAY(msgs) && i < msgs->u.array.len; i++) {
		v = msgs->u.array.values[i];
		s->ptok += content_words(jget(v, "content"));
		if ((role = jstr(jget(v, "role"))) != NULL &&
		    strcmp(role, "user") == 0)
			last = i;
	}
	if (m->content)
		buf_adds(&r->text[0], m->content);
	else if (last != SIZE_MAX)
		content_text(jget(msgs->u.array.values[last], "content"),
		    &r->text[0]);
	s->kind = K_CHAT;
	s->n = clampll(jint(jget(root, "n"), 1), 1, MAX_CHOICES);
	s->reason = strstr(model, "reason") != NULL;
	tools = jget(root, "tools");
	if (YAJL_IS_ARRAY(tools) && tools->u.array.len > 0) {
		s->tools = 1;
		name = jstr(jget(jget(tools->u.array.values[0], "function"),
		    "name"));
		buf_jsons(&r->tname, name ? name : "");
	}
	stream = YAJL_IS_TRUE(jget(root, "stream"));
	s->usage = YAJL_IS_TRUE(jget(jget(root, "stream_options"),
	    "include_usage"));
	maxtok = jint(jget(root, "max_tokens"), -1);
	if (maxtok < 0)
		maxtok = jint(jget(root, "max_completion_tokens"), -1);
	gen_choices(c, m, maxtok, stream);
	if (stream) {
		gen_prefix(r, "chatcmpl-mock-", seq, "chat.completion.chunk",
		    model);
		resp_sse(c, m);
		return;
	}
	buf_adds(b, "{\"id\":\"chatcmpl-mock-");
	buf_addu(b, seq);
	buf_adds(b, "\",\"object\":\"chat.completion\",\"created\":"
	    CREATED ",\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"choices\":[");
	for (i = 0; i < (size_t)s->n; i++) {
		if (i > 0)
			buf_add(b, ",", 1);
		buf_adds(b, "{\"index\":");
		buf_addu(b, i);
		buf_adds(b, ",\"message\":{\"role\":\"assistant\",");
		if (s->reason) {
			buf_adds(b, "\"reasoning_content\":");
			buf_json(b, r->rtext.p, r->rtext.len);
			buf_add(b, ",", 1);
		}
		if (s->tools && i == 0) {
			buf_adds(b, "\"content\":null,\"tool_calls\":[{\"id\":"
			    "\"call_mock_1\",\"type\":\"function\","
			    "\"function\":{\"name\":");
			buf_add(b, r->tname.p, r->tname.len);
			buf_adds(b, ",\"arguments\":");
			buf_json(b, r->targs.p, r->targs.len);
			buf_adds(b, "}}]");
		} else {
			buf_adds(b, "\"content\":");
			len = tok_prefix(r->text[i].p, r->text[i].len,
			    s->base[i], s->cnt[i]);
			buf_json(b, r->text[i].p, len);
			if (i == 0)
				split = b->len - 1;
		}
		buf_adds(b, "},\"logprobs\":null,\"finish_reason\":\"");
		buf_adds(b, s->fin[i]);
		buf_adds(b, "\"}");
	}
	buf_add(b, "]", 1);
	put_usage(b, s);
	pad_body(r, m, split);
	resp_fixed(c, status, "application/json", m);
}

/* POST /v1/completions: echo the prompt as one choice. */
static void
do_completion(struct conn *c, yajl_val root, const struct mock *m,
    int status, unsigned long long seq)
{
	struct resp *r = &c->r;
	struct rstate *s = &r->s;
	struct buf *b = &r->head;
	yajl_val pr;
	const char *model, *prompt;
	long long maxtok;
	size_t i, len, split;
	int stream;

	if ((model = jstr(jget(root, "model"))) == NULL)
		model = "mock";
	pr = jget(root, "prompt");
	prompt = jstr(pr);
	for (i = 0; !prompt && YAJL_IS_ARRAY(pr) && i < pr->u.array.len; i++)
		prompt = jstr(pr->u.array.values[i]);
	if (prompt == NULL)
		prompt = "";
	s->ptok = words(prompt);
	buf_adds(&r->text[0], m->content ? m->content : prompt);
	s->kind = K_CMPL;
	s->n = 1;
	stream = YAJL_IS_TRUE(jget(root, "stream"));
	s->usage = YAJL_IS_TRUE(jget(jget(root, "stream_options"),
	    "include_usage"));
	maxtok = jint(jget(root, "max_tokens"), -1);
	gen_choices(c, m, maxtok, stream);
	if (stream) {
		gen_prefix(r, "cmpl-mock-", seq, "text_completion", model);
		resp_sse(c, m);
		return;
	}
	buf_adds(b, "{\"id\":\"cmpl-mock-");
	buf_addu(b, seq);
	buf_adds(b, "\",\"object\":\"text_completion\",\"created\":"
	    CREATED ",\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"choices\":[{\"text\":");
	len = tok_prefix(r->text[0].p, r->text[0].len, 0, s->cnt[0]);
	buf_json(b, r->text[0].p, len);
	split = b->len - 1;
	buf_adds(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"");
	buf_adds(b, s->fin[0]);
	buf_adds(b, "\"}]");
	put_usage(b, s);
	pad_body(r, m, split);
	resp_fixed(c, status, "application/json", m);
}

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
put_embedding(struct buf *b, const char *s, size_t k)
{
	uint64_t h = 1469598103934665603ULL;
	char num[32];
	int j, n;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	if (k > 0)
		buf_add(b, ",", 1);
	buf_adds(b, "{\"object\":\"embedding\",\"index\":");
	buf_addu(b, k);
	buf_adds(b, ",\"embedding\":[");
	for (j = 0; j < 8; j++) {
		n = snprintf(num, sizeof num, "%s%.6f", j ? "," : "",
		    (double)(mix64(h + j) >> 11) / 9007199254740992.0 * 2 - 1);
		buf_add(b, num, n);
	}
	buf_adds(b, "]}");
}

/* POST /v1/embeddings: 8 hashed floats per input. */
static void
do_embeddings(struct conn *c, yajl_val root, const struct mock *m,
    int status)
{
	struct buf *b = &c->r.head;
	yajl_val in;
	const char *model, *t;
	unsigned long long p = 0;
	size_t i;

	if ((model = jstr(jget(root, "model"))) == NULL)
		model = "mock";
	in = jget(root, "input");
	buf_adds(b, "{\"object\":\"list\",\"data\":[");
	if ((t = jstr(in)) != NULL) {
		put_embedding(b, t, 0);
		p += words(t);
	}
	for (i = 0; YAJL_IS_ARRAY(in) && i < in->u.array.len; i++) {
		t = jstr(in->u.array.values[i]);
		put_embedding(b, t ? t : "", i);
		p += t ? words(t) : 0;
	}
	buf_adds(b, "],\"model\":");
	buf_jsons(b, model);
	buf_adds(b, ",\"usage\":{\"prompt_tokens\":");
	buf_addu(b, p);
	buf_adds(b, ",\"total_tokens\":");
	buf_addu(b, p);
	buf_adds(b, "}}");
	resp_fixed(c, status, "application/json", m);
}

/* POST /v1/images/generations: n urls served by GET /files/. */
static void
do_images(struct conn *c, yajl_val root, const struct mock *m, int status,
    unsigned long long seq)
{
	struct buf *b = &c->r.head;
	const char *prompt;
	long long n, k;

	if ((prompt = jstr(jget(root, "prompt"))) == NULL)
		prompt = "";
	n = clampll(jint(jget(root, "n"), 1), 1, 10);
	buf_adds(b, "{\"created\":" CREATED ",\"data\":[");
	for (k = 0; k < n; k++) {
		if (k > 0)
			buf_add(b, ",", 1);
		buf_adds(b, "{\"url\":\"http://127.0.0.1:");
		buf_addu(b, g.port);
		buf_adds(b, "/files/img-");
		buf_addu(b, seq);
		buf_add(b, "-", 1);
		buf_addu(b, k);
		buf_adds(b, ".png\",\"revised_prompt\":");
		buf_jsons(b, prompt);
		buf_add(b, "}", 1);
	}
	buf_adds(b, "]}");
	resp_fixed(c, status, "application/json", m);
}

/* Serialise a parse-tree value compactly (mock.body). */
static void
gen_value(yajl_gen gen, yajl_val v)
{
	const char *s;
	size_t i;

	if (YAJL_IS_STRING(v)) {
		s = YAJL_GET_STRING(v);
		yajl_gen_string(gen, (const unsigned char *)s, strlen(s));
	} else if (YAJL_IS_NUMBER(v)) {
		s = YAJL_GET_NUMBER(v);
		yajl_gen_number(gen, s, strlen(s));
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(gen);
		for (i = 0; i < v->u.object.len; i++) {
			s = v->u.object.keys[i];
			yajl_gen_string(gen, (const unsigned char *)s,
			    strlen(s));
			gen_value(gen, v->u.object.values[i]);
		}
		yajl_gen_map_close(gen);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(gen);
		for (i = 0; i < v->u.array.len; i++)
			gen_value(gen, v->u.array.values[i]);
		yajl_gen_array_close(gen);
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		yajl_gen_bool(gen, YAJL_IS_TRUE(v));
	else
		yajl_gen_null(gen);
}

/* The mock.body value, serialised, becomes the answer's body. */
static void
answer_body(struct conn *c, yajl_val v)
{
	const unsigned char *p;
	size_t n;
	yajl_gen gen;

	if ((gen = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	gen_value(gen, v);
	if (yajl_gen_get_buf(gen, &p, &n) == yajl_gen_status_ok)
		buf_add(&c->r.head, p, n);
	yajl_gen_free(gen);
}

static int
path_is(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* ------------------------------------------------------------------ */
/* Services: requests, forms and JSON output */

/* The JSON object in a body (n bytes at body), or NULL after answering
 * 400.  yajl_tree_parse wants a string: the byte after the body is
 * borrowed (the input buffer always has room for it). */
static yajl_val
json_body(struct conn *c, char *body, size_t n)
{
	char ebuf[256], msg[512], save;
	yajl_val root;

	if (json_depth(body, n) > MAX_DEPTH) {
		answer_error(c, 400, "We could not parse the JSON body of "
		    "your request. (mock: nested too deeply)",
		    "invalid_request_error", NULL, &nomock);
		return NULL;
	}
	save = body[n];
	body[n] = '\0';
	ebuf[0] = '\0';
	root = yajl_tree_parse(body, ebuf, sizeof ebuf);
	body[n] = save;
	ebuf[strcspn(ebuf, "\n")] = '\0';
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(msg, sizeof msg, "We could not parse the JSON body "
		    "of your request. (mock: %s)", root ? "not an object" :
		    ebuf[0] ? ebuf : "invalid JSON");
		answer_error(c, 400, msg, "invalid_request_error", NULL,
		    &nomock);
		yajl_tree_free(root);
		return NULL;
	}
	return root;
}

/* Count m.id and drop the faults once fail_first is used up (*unf set),
 * then answer from m alone when it asks for a raw, body or error
 * answer: 1 when it did.  *status is the status of a normal answer. */
static int
mock_answer(struct conn *c, struct mock *m, int *status, int *unf)
{
	char msg[64];

	*unf = 0;
	if (m->id && ids_bump(m->id) > (unsigned long long)m->fail_first &&
	    m->fail_first >= 0) {
		mock_unfault(m);
		*unf = 1;
	}
	*status = m->status ? m->status : 200;
	if (m->raw) {
		buf_adds(&c->r.head, m->raw);
		resp_fixed(c, *status, m->ctype ? m->ctype :
		    "application/json", m);
	} else if (m->body) {
		answer_body(c, m->body);
		resp_fixed(c, *status, m->ctype ? m->ctype :
		    "application/json", m);
	} else if (*status >= 300) {
		snprintf(msg, sizeof msg, "mock error %d", *status);
		answer_error(c, *status, msg, "mock_error", NULL, m);
	} else
		return 0;
	return 1;
}


enum { B_NONE, B_JSON, B_FORM };

/* One part of a multipart/form-data body.  name, fname and ctype point
 * into the part's head (not NUL-terminated); data is NUL-terminated in
 * place once the whole body is parsed. */
struct part {
	const char *name, *fname, *ctype;
	size_t nl, fl, cl, len;
	char *data;
	int file;
};

struct form {
	struct part *p;
	size_t n, cap;
	int bad;
};

/* The task steering members of a request (see the top of the file). */
struct tmock {
	long long steps, nf, mj_code, kling_code;
	int fail, cancel;
};

/* A request to a service route while it is dispatched; root, mtree
 * and the form point into the input buffer or are freed after. */
struct req {
	struct conn *c;
	const char *meth, *path, *query, *head;
	size_t mlen, plen, qlen, hlen, blen;
	char *body;
	yajl_val root, mtree;
	struct form f;
	int multipart, status;
	struct mock m;
	struct tmock tm;
	unsigned long long seq;
	const char *cap[2];
	size_t capn[2];
	yajl_gen y;
};

static char *
xstrdup(const char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	if ((p = malloc(n)) == NULL)
		errx(2, "out of memory");
	memcpy(p, s, n);
	return p;
}

static int
nonempty(const char *s)
{
	return s != NULL && *s != '\0';
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms since the epoch as 2024-01-02T03:04:05.678Z. */
static void
iso_time(char *out, size_t osz, long long ms)
{
	time_t t = ms / 1000;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, osz, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, osz - n, ".%03dZ", (int)(ms % 1000));
}

/* Does s hold the word w, case-insensitively, not inside a longer
 * word?  ("fail" in "please fail now", not in "failure".) */
static int
has_word(const char *s, const char *w)
{
	size_t n = strlen(w);
	const char *p;

	for (p = s; p && *p; p++)
		if (strncasecmp(p, w, n) == 0 &&
		    (p == s || !isalnum((unsigned char)p[-1])) &&
		    !isalnum((unsigned char)p[n]))
			return 1;
	return 0;
}

static unsigned
str_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A deterministic uuid-shaped string made from n. */
static void
fake_uuid(char *out, size_t osz, unsigned long long n)
{
	uint64_t a = mix64(n), b = mix64(n ^ 0x5bd1e995ULL);

	snprintf(out, osz, "%08x-%04x-4%03x-8%03x-%012llx",
	    (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xfff, (unsigned)(b >> 48) & 0xfff,
	    (unsigned long long)(b & 0xffffffffffffULL));
}

/* The value of request header name into out (cut to fit); 0 when the
 * request has none. */
static int
req_header(const struct req *q, const char *name, char *out, size_t osz)
{
	const char *p = q->head, *end = p + q->hlen, *e, *c, *v;
	size_t nl = strlen(name), vl;

	for (; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if ((c = memchr(p, ':', e - p)) == NULL ||
		    (size_t)(c - p) != nl || strncasecmp(p, name, nl) != 0)
			continue;
		for (v = c + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		for (vl = e - v; vl > 0 && (v[vl - 1] == '\r' ||
		    v[vl - 1] == ' ' || v[vl - 1] == '\t'); vl--)
			;
		if (vl >= osz)
			vl = osz - 1;
		memcpy(out, v, vl);
		out[vl] = '\0';
		return 1;
	}
	out[0] = '\0';
	return 0;
}

/* Does the path match pat, where '*' stands for one non-empty path
 * segment?  The first two segments so matched are captured. */
static int
route_match(struct req *q, const char *pat)
{
	const char *p = q->path, *e = p + q->plen, *s;
	int k = 0;

	for (; *pat; pat++) {
		if (*pat == '*') {
			for (s = p; p < e && *p != '/'; p++)
				;
			if (p == s)
				return 0;
			if (k < 2) {
				q->cap[k] = s;
				q->capn[k++] = p - s;
			}
			continue;
		}
		if (p == e || *p != *pat)
			return 0;
		p++;
	}
	return p == e;
}

/* Capture i as a string; 0 when it does not fit (no task id is that
 * long). */
static int
cap_str(const struct req *q, int i, char *out, size_t osz)
{
	if (q->capn[i] >= osz)
		return 0;
	memcpy(out, q->cap[i], q->capn[i]);
	out[q->capn[i]] = '\0';
	return 1;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 32;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The URL-decoded value of query parameter key; 0 when absent or too
 * long. */
static int
query_get(const struct req *q, const char *key, char *out, size_t osz)
{
	size_t kl = strlen(key), i = 0, j, amp, n;
	const char *s = q->query;
	int h, l;

	while (i < q->qlen) {
		for (amp = i; amp < q->qlen && s[amp] != '&'; amp++)
			;
		if (amp - i > kl && memcmp(s + i, key, kl) == 0 &&
		    s[i + kl] == '=') {
			for (n = 0, j = i + kl + 1; j < amp; j++) {
				if (n + 1 >= osz)
					return 0;
				if (s[j] == '+')
					out[n++] = ' ';
				else if (s[j] == '%' && j + 2 < amp &&
				    (h = hexval(s[j + 1])) >= 0 &&
				    (l = hexval(s[j + 2])) >= 0) {
					out[n++] = h * 16 + l;
					j += 2;
				} else
					out[n++] = s[j];
			}
			out[n] = '\0';
			return 1;
		}
		i = amp + 1;
	}
	return 0;
}

/* JSON output through yajl_gen: w_str writes a string or null, the
 * w_k* a key and its value. */
static void
w_str(yajl_gen y, const char *s)
{
	if (s)
		yajl_gen_string(y, (const unsigned char *)s, strlen(s));
	else
		yajl_gen_null(y);
}

static void
w_ks(yajl_gen y, const char *k, const char *v)
{
	w_str(y, k);
	w_str(y, v);
}

static void
w_ki(yajl_gen y, const char *k, long long v)
{
	w_str(y, k);
	yajl_gen_integer(y, v);
}

static void
w_kb(yajl_gen y, const char *k, int v)
{
	w_str(y, k);
	yajl_gen_bool(y, v);
}

/* A number with at most three decimals (yajl's own doubles show the
 * binary noise). */
static void
w_kd(yajl_gen y, const char *k, double v)
{
	char t[48];
	int n;

	w_str(y, k);
	n = snprintf(t, sizeof t, "%.3f", v);
	while (n > 2 && t[n - 1] == '0' && t[n - 2] != '.')
		n--;
	yajl_gen_number(y, t, n);
}

/* http://127.0.0.1:PORT/files/<name><ext>, served by GET /files/. */
static void
file_url(char *out, size_t osz, const char *name, const char *ext)
{
	snprintf(out, osz, "http://127.0.0.1:%d/files/%s%s", g.port, name,
	    ext);
}

static void
w_kurl(yajl_gen y, const char *k, const char *name, const char *ext)
{
	char u[256];

	file_url(u, sizeof u, name, ext);
	w_ks(y, k, u);
}

/* Answer with the JSON made in q->y. */
static void
q_json(struct req *q, int status)
{
	const unsigned char *p;
	size_t n;

	if (yajl_gen_get_buf(q->y, &p, &n) == yajl_gen_status_ok)
		buf_add(&q->c->r.head, p, n);
	resp_fixed(q->c, status, "application/json", &q->m);
}

/* Answer with these bytes. */
static void
q_bytes(struct req *q, int status, const char *ctype, const void *p,
    size_t n)
{
	buf_add(&q->c->r.head, p, n);
	resp_fixed(q->c, status, ctype, &q->m);
}

/* One more response header (before q_json or q_bytes). */
static void
q_header(struct req *q, const char *name, const char *value)
{
	struct buf *b = &q->c->r.xhdr;

	buf_adds(b, name);
	buf_adds(b, ": ");
	buf_adds(b, value);
	buf_adds(b, "\r\n");
}

/* new-api's task-style error: {"code":"...","message":"...","data":null}. */
static void
ans_taskerr(struct req *q, int status, const char *code, const char *msg)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	w_ks(y, "code", code);
	w_ks(y, "message", msg);
	w_ks(y, "data", NULL);
	yajl_gen_map_close(y);
	q_json(q, status);
}

static void
ans_task_not_exist(struct req *q)
{
	ans_taskerr(q, 404, "task_not_exist", "task not exist");
}

/* The parse tree v as compact JSON text, the top-level "mock" member
 * left out (Suno's "input"). */
static char *
json_text(yajl_val v)
{
	const unsigned char *p;
	yajl_gen y;
	size_t n, i;
	char *s;

	if ((y = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	yajl_gen_map_open(y);
	for (i = 0; YAJL_IS_OBJECT(v) && i < v->u.object.len; i++) {
		if (strcmp(v->u.object.keys[i], "mock") == 0)
			continue;
		w_str(y, v->u.object.keys[i]);
		gen_value(y, v->u.object.values[i]);
	}
	yajl_gen_map_close(y);
	yajl_gen_get_buf(y, &p, &n);
	if ((s = malloc(n + 1)) == NULL)
		errx(2, "out of memory");
	memcpy(s, p, n);
	s[n] = '\0';
	yajl_gen_free(y);
	return s;
}

/* ------------------------------------------------------------------ */
/* Services: multipart/form-data */

static const char *
mem_find(const char *h, size_t hn, const char *nd, size_t nn)
{
	const char *p, *last;

	if (nn == 0 || hn < nn)
		return NULL;
	last = h + (hn - nn);
	for (p = h; p <= last; p++) {
		if ((p = memchr(p, nd[0], last - p + 1)) == NULL)
			return NULL;
		if (memcmp(p, nd, nn) == 0)
			return p;
	}
	return NULL;
}

/* "--" + the boundary of a multipart/form-data Content-Type into out;
 * 0 when ct is not that. */
static int
form_delim(const char *ct, char *out, size_t osz)
{
	const char *p;
	size_t n;

	if (strncasecmp(ct, "multipart/form-data", 19) != 0)
		return 0;
	for (p = ct; (p = strchr(p, ';')) != NULL; ) {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"')
			n = strcspn(++p, "\"");
		else
			n = strcspn(p, "; \t");
		if (n == 0 || n + 3 > osz)
			return 0;
		memcpy(out, "--", 2);
		memcpy(out + 2, p, n);
		out[n + 2] = '\0';
		return 1;
	}
	return 0;
}

/* Parameter key of a Content-Disposition value (v, vl bytes): 1 and
 * the raw value (quotes removed, escapes kept) when present. */
static int
disp_param(const char *v, size_t vl, const char *key, const char **out,
    size_t *ol)
{
	const char *p = v, *e = v + vl, *k, *s;
	size_t kl = strlen(key), n, sl;

	for (;;) {
		while (p < e && (*p == ' ' || *p == '\t' || *p == ';'))
			p++;
		if (p >= e)
			return 0;
		for (k = p; p < e && *p != '=' && *p != ';'; p++)
			;
		for (n = p - k; n > 0 && (k[n - 1] == ' ' || k[n - 1] == '\t');
		    n--)
			;
		if (p >= e || *p != '=')
			continue;
		for (p++; p < e && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < e && *p == '"') {
			for (s = ++p; p < e && *p != '"'; p++)
				if (*p == '\\' && p + 1 < e)
					p++;
			sl = p - s;
			if (p < e)
				p++;
		} else {
			for (s = p; p < e && *p != ';'; p++)
				;
			for (sl = p - s; sl > 0 && s[sl - 1] == ' '; sl--)
				;
		}
		if (n == kl && strncasecmp(k, key, kl) == 0) {
			*out = s;
			*ol = sl;
			return 1;
		}
	}
}

static void
form_push(struct form *f, const struct part *pt)
{
	struct part *np;
	size_t cap;

	if (f->n == f->cap) {
		cap = f->cap ? f->cap * 2 : 8;
		if ((np = realloc(f->p, cap * sizeof *np)) == NULL)
			errx(2, "out of memory");
		f->p = np;
		f->cap = cap;
	}
	f->p[f->n++] = *pt;
}

/* Split a multipart body (n bytes at body) on delim ("--boundary");
 * sets f->bad when it is malformed. */
static void
form_parse(struct form *f, char *body, size_t n, const char *delim)
{
	char *p, *end = body + n, *le, *c, *v, *nx, cd[136];
	size_t dl = strlen(delim), ll, vl, i;
	struct part pt;

	snprintf(cd, sizeof cd, "\r\n%s", delim);
	if (n >= dl && memcmp(body, delim, dl) == 0)
		p = body + dl;
	else if ((p = (char *)mem_find(body, n, cd, dl + 2)) != NULL)
		p += dl + 2;
	else {
		f->bad = 1;
		return;
	}
	for (;;) {
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (p < end && *p == '\n')
			p++;
		else {
			f->bad = 1;
			return;
		}
		memset(&pt, 0, sizeof pt);
		for (;;) {
			if ((le = memchr(p, '\n', end - p)) == NULL) {
				f->bad = 1;
				return;
			}
			ll = le - p;
			if (ll > 0 && p[ll - 1] == '\r')
				ll--;
			c = memchr(p, ':', ll);
			if (ll == 0) {
				p = le + 1;
				break;
			}
			if (c != NULL) {
				for (v = c + 1; v < p + ll && *v == ' '; v++)
					;
				vl = p + ll - v;
				if (hdr_is(p, c - p, "content-disposition")) {
					disp_param(v, vl, "name", &pt.name,
					    &pt.nl);
					pt.file = disp_param(v, vl, "filename",
					    &pt.fname, &pt.fl);
				} else if (hdr_is(p, c - p, "content-type")) {
					pt.ctype = v;
					pt.cl = vl;
				}
			}
			p = le + 1;
		}
		if ((nx = (char *)mem_find(p, end - p, cd, dl + 2)) == NULL) {
			f->bad = 1;
			return;
		}
		pt.data = p;
		pt.len = nx - p;
		if (pt.name == NULL)
			pt.name = "";
		form_push(f, &pt);
		p = nx + dl + 2;
	}
	for (i = 0; i < f->n; i++)
		f->p[i].data[f->p[i].len] = '\0';
}

static int
part_is(const struct part *pt, const char *name)
{
	return strlen(name) == pt->nl && memcmp(pt->name, name, pt->nl) == 0;
}

/* The first file part called name (any name when NULL). */
static const struct part *
form_file(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->p[i].file && (name == NULL || part_is(&f->p[i], name)))
			return &f->p[i];
	return NULL;
}

/* The value of the first part called name, as a string. */
static const char *
form_text(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (part_is(&f->p[i], name))
			return f->p[i].data;
	return NULL;
}

/* "a.mp3" of a file part ("file" when it has no name). */
static void
part_fname(const struct part *pt, char *out, size_t osz)
{
	size_t n = pt->fl < osz - 1 ? pt->fl : osz - 1;

	memcpy(out, pt->fname, n);
	out[n] = '\0';
	if (n == 0)
		snprintf(out, osz, "file");
}

static void
stats_part(struct buf *b, const struct part *pt)
{
	if (!pt->file) {
		buf_json(b, pt->data, pt->len);
		return;
	}
	buf_adds(b, "{\"filename\":");
	buf_json(b, pt->fname, pt->fl);
	buf_adds(b, ",\"bytes\":");
	buf_addu(b, pt->len);
	buf_adds(b, ",\"content_type\":");
	if (pt->ctype)
		buf_json(b, pt->ctype, pt->cl);
	else
		buf_adds(b, "null");
	buf_add(b, "}", 1);
}

/* Remember the parts of this request for /mock/stats (last_form); a
 * name given more than once gets an array. */
static void
stats_form(const struct form *f)
{
	struct buf *b = &g.last_form;
	size_t i, j, k;
	int first = 1;

	b->len = 0;
	buf_add(b, "{", 1);
	for (i = 0; i < f->n; i++) {
		for (j = 0; j < i; j++)
			if (f->p[j].nl == f->p[i].nl &&
			    memcmp(f->p[j].name, f->p[i].name, f->p[i].nl) == 0)
				break;
		if (j < i)
			continue;
		for (k = 0, j = i; j < f->n; j++)
			k += f->p[j].nl == f->p[i].nl &&
			    memcmp(f->p[j].name, f->p[i].name, f->p[i].nl) == 0;
		if (!first)
			buf_add(b, ",", 1);
		first = 0;
		buf_json(b, f->p[i].name, f->p[i].nl);
		buf_add(b, ":", 1);
		if (k > 1)
			buf_add(b, "[", 1);
		for (j = i; j < f->n; j++) {
			if (f->p[j].nl != f->p[i].nl ||
			    memcmp(f->p[j].name, f->p[i].name, f->p[i].nl) != 0)
				continue;
			if (j > i)
				buf_add(b, ",", 1);
			stats_part(b, &f->p[j]);
		}
		if (k > 1)
			buf_add(b, "]", 1);
	}
	buf_add(b, "}", 1);
	g.have_form = 1;
}

/* ------------------------------------------------------------------ */
/* Services: the task table */

enum { FAM_MJ, FAM_SUNO, FAM_SUNONA, FAM_FLUX, FAM_KLING, FAM_LUMA,
	FAM_RUNWAY, FAM_COGV, FAM_VIGGLE, FAM_IDEO, FAM_N };
enum { TP_PRE, TP_RUN, TP_DONE, TP_FAIL, TP_CANCEL, TP_MODAL };

/* Each family's id prefix and status values: the pre statuses, one
 * per poll, then run for mock.steps polls, then the end. */
static const struct famdef {
	const char *prefix, *pre[4], *run, *done, *fail, *cancel;
} fams[FAM_N] = {
	{ "mjtask-", { "NOT_START", "SUBMITTED" }, "IN_PROGRESS", "SUCCESS",
	    "FAILURE", "CANCEL" },
	{ "suno-", { "pending" }, "processing", "completed", "failed", NULL },
	{ "sunotask-", { "NOT_START", "SUBMITTED", "QUEUED" },
	    "IN_PROGRESS", "SUCCESS", "FAILURE", NULL },
	{ "flux-", { "Pending" }, "Pending", "Ready", "Error", NULL },
	{ "kling-", { "submitted" }, "processing", "succeed", "failed",
	    NULL },
	{ "luma-", { "pending" }, "processing", "completed", "failed", NULL },
	{ "runway-", { "PENDING", "THROTTLED" }, "RUNNING", "SUCCEEDED",
	    "FAILED", "CANCELLED" },
	{ "cogv-", { NULL }, "PROCESSING", "SUCCESS", "FAIL", NULL },
	{ "viggle-", { "queued" }, "processing", "done", "failed", NULL },
	{ "ideo-", { "queued" }, "running", "done", "failed", NULL },
};

#define FAIL_REASON	"mock: task failed"

static struct task *
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
	t->fail = q->tm.fail || has_word(prompt, "fail");
	t->cancel = q->tm.cancel;
	t->prompt = xstrdup(prompt ? prompt : "");
	t->submit_ms = wall_ms();
	h = str_hash(t->id) % ID_BUCKETS;
	t->hnext = g.tbucket[h];
	g.tbucket[h] = t;
	*g.tasks_tail = t;
	g.tasks_tail = &t->next;
	return t;
}

/* The task of family fam with this id, or NULL. */
static struct task *
task_find(int fam, const char *id)
{
	struct task *t;

	for (t = g.tbucket[str_hash(id) % ID_BUCKETS]; t; t = t->hnext)
		if (strcmp(t->id, id) == 0)
			return t->fam == fam ? t : NULL;
	return NULL;
}

static void
tasks_free(void)
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
static int
task_phase(const struct task *t, long long *ix)
{
	const struct famdef *d = &fams[t->fam];
	long long s = t->step > 0 ? t->step : 1, np = 0, dummy;

	if (ix == NULL)
		ix = &dummy;
	*ix = 0;
	while (np < 4 && d->pre[np])
		np++;
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

static int
task_over(const struct task *t)
{
	int ph = task_phase(t, NULL);

	return ph == TP_DONE || ph == TP_FAIL || ph == TP_CANCEL;
}

static const char *
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

/* Percent done: 0 before running, 100 * i / (steps + 1) at running
 * step i, 100 when done; a failed or cancelled task keeps what it had
 * reached. */
static int
task_pct(const struct task *t)
{
	long long ix, np = 0, r;

	switch (task_phase(t, &ix)) {
	case TP_RUN:
		return 100 * ix / (t->steps + 1);
	case TP_DONE:
		return 100;
	case TP_FAIL:
	case TP_CANCEL:
		while (np < 4 && fams[t->fam].pre[np])
			np++;
		r = (t->step < np + t->steps ? t->step : np + t->steps) - np;
		return r > 0 ? 100 * r / (t->steps + 1) : 0;
	}
	return 0;
}

/* Stamp the start and finish times the task has reached. */
static void
task_times(struct task *t)
{
	int ph = task_phase(t, NULL);

	if (ph != TP_PRE && ph != TP_MODAL && t->start_ms == 0)
		t->start_ms = wall_ms();
	if ((ph == TP_DONE || ph == TP_FAIL || ph == TP_CANCEL) &&
	    t->finish_ms == 0)
		t->finish_ms = wall_ms();
}

/* One poll of t: counted in the stats; 0 while it is to answer "not
 * found" (mock.not_found_polls), else 1 after one step on. */
static int
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

/* Read the task members of the "mock" object o. */
static void
tmock_parse(struct tmock *tm, yajl_val o)
{
	tm->steps = clampll(jint(jget(o, "steps"), 2), 0, 1000);
	tm->nf = clampll(jint(jget(o, "not_found_polls"), 0), 0, 1000000);
	tm->fail = jbool(jget(o, "task_fail"));
	tm->cancel = jbool(jget(o, "cancel"));
	tm->mj_code = jint(jget(o, "mj_code"), 1);
	tm->kling_code = jint(jget(o, "kling_code"), 0);
}

/* Counted polls per task id for /mock/stats. */
static void
stats_polls(struct buf *b)
{
	struct task *t;
	int first = 1;

	for (t = g.tasks; t; t = t->next) {
		if (t->polls == 0)
			continue;
		if (!first)
			buf_add(b, ",", 1);
		first = 0;
		buf_jsons(b, t->id);
		buf_add(b, ":", 1);
		buf_addi(b, t->polls);
	}
}

/* ------------------------------------------------------------------ */
/* Midjourney (midjourney-proxy-plus, as relayed by new-api) */

enum { MJS_IMAGINE, MJS_BLEND, MJS_DESCRIBE, MJS_SHORTEN, MJS_MODAL,
	MJS_ACTION, MJS_SWAP };
enum { MJK_IMAGINE, MJK_BLEND, MJK_DESCRIBE, MJK_SHORTEN, MJK_SWAP,
	MJK_UPSCALE, MJK_VARIATION, MJK_REROLL, MJK_ZOOM, MJK_PAN };

static const char *const mj_actions[] = { "IMAGINE", "BLEND", "DESCRIBE",
	"SHORTEN", "SWAP_FACE", "UPSCALE", "VARIATION", "REROLL", "ZOOM",
	"PAN" };

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
	w_ks(y, "customId", cid);
	w_ks(y, "emoji", emoji);
	w_ks(y, "label", label);
	w_ki(y, "type", 2);
	w_ki(y, "style", 2);
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

	fake_uuid(h, sizeof h, t->ord);
	w_str(y, "buttons");
	yajl_gen_array_open(y);
	if (task_phase(t, NULL) != TP_DONE || t->kind == MJK_SWAP)
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
	w_ks(y, "id", t->id);
	w_ks(y, "action", mj_actions[t->kind]);
	w_ks(y, "customId", t->extra ? t->extra : "");
	w_ks(y, "botType", t->model ? t->model : "MID_JOURNEY");
	w_ks(y, "prompt", prompt);
	w_ks(y, "promptEn", prompt);
	w_ks(y, "description", t->title);
	w_ks(y, "state", t->state ? t->state : "");
	w_ki(y, "submitTime", t->submit_ms);
	w_ki(y, "startTime", t->start_ms);
	w_ki(y, "finishTime", t->finish_ms);
	w_ks(y, "imageUrl", u);
	w_ks(y, "status", task_status(t));
	snprintf(pct, sizeof pct, "%d%%", task_pct(t));
	w_ks(y, "progress", pct);
	w_ks(y, "failReason", ph == TP_FAIL ? FAIL_REASON : "");
	mj_buttons(y, t);
	w_ks(y, "maskBase64", "");
	w_str(y, "properties");
	yajl_gen_map_open(y);
	w_ks(y, "finalPrompt", prompt);
	w_ks(y, "finalZhPrompt", "");
	if (t->hook)
		w_ks(y, "notifyHook", t->hook);
	w_ks(y, "discordInstanceId", "mock");
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
	w_ki(y, "code", code);
	w_ks(y, "description", desc);
	w_ks(y, "result", result);
	w_str(y, "properties");
	yajl_gen_map_open(y);
}

static void
mj_result_end(struct req *q)
{
	yajl_gen_map_close(q->y);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
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
mj_not_found(struct req *q)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	w_ks(y, "description", "task_no_found ");
	w_ks(y, "type", "upstream_error");
	w_ki(y, "code", 4);
	yajl_gen_map_close(y);
	q_json(q, 400);
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

/* POST /mj/submit/..., /mj/insight-face/swap. */
static void
mj_submit(struct req *q, int arg)
{
	static const int kinds[] = { MJK_IMAGINE, MJK_BLEND, MJK_DESCRIBE,
		MJK_SHORTEN, 0, 0, MJK_SWAP };
	static const char *const cmd[] = { "/imagine ", "/blend", "/describe",
		"/shorten ", "", "", "/swap_face" };
	yajl_val r = q->root, a;
	const char *prompt = jstr(jget(r, "prompt")), *miss = NULL;
	const char *tid = jstr(jget(r, "taskId"));
	const char *cid = jstr(jget(r, "customId"));
	long long code = q->tm.mj_code;
	struct task *t, *parent = NULL;
	char desc[256];
	int modal = 0, kind = kinds[arg];

	switch (arg) {
	case MJS_IMAGINE:
	case MJS_SHORTEN:
		if (!nonempty(prompt))
			miss = "prompt";
		break;
	case MJS_BLEND:
		a = jget(r, "base64Array");
		if (!YAJL_IS_ARRAY(a) || a->u.array.len == 0)
			miss = "base64Array";
		else if (a->u.array.len < 2 || a->u.array.len > 5) {
			mj_refuse(q, 4, "base64Array must hold 2 to 5 images");
			return;
		}
		break;
	case MJS_DESCRIBE:
		if (!nonempty(jstr(jget(r, "base64"))) &&
		    !nonempty(jstr(jget(r, "link"))))
			miss = "base64";
		break;
	case MJS_SWAP:
		if (!nonempty(jstr(jget(r, "sourceBase64"))) &&
		    !nonempty(jstr(jget(r, "sourceUrl"))))
			miss = "sourceBase64";
		else if (!nonempty(jstr(jget(r, "targetBase64"))) &&
		    !nonempty(jstr(jget(r, "targetUrl"))))
			miss = "targetBase64";
		break;
	case MJS_ACTION:
		if (!nonempty(cid))
			miss = "customId";
		/* FALLTHROUGH */
	case MJS_MODAL:
		if (!nonempty(tid))
			miss = "taskId";
		break;
	}
	if (miss) {
		snprintf(desc, sizeof desc, "%s is required", miss);
		mj_refuse(q, 4, desc);
		return;
	}
	if (code != 1 && code != 21 && code != 22) {
		switch (code) {
		case 23:
			mj_result(q, 23, "Queue is full, please try again "
			    "later", NULL);
			w_ki(q->y, "numberOfQueues", 10);
			w_ks(q->y, "discordInstanceId", "mock");
			mj_result_end(q);
			return;
		case 24:
			break;
		case 4:
			mj_refuse(q, 4, "mock validation error");
			return;
		case 9:
			mj_refuse(q, 9, "mock system error");
			return;
		default:
			snprintf(desc, sizeof desc, "mock code %lld", code);
			mj_refuse(q, code, desc);
			return;
		}
	}
	if (code == 24 || has_word(prompt, "banned")) {
		mj_result(q, 24, "May contain sensitive words", NULL);
		w_ks(q->y, "promptEn", prompt ? prompt : "");
		w_ks(q->y, "bannedWord", "banned");
		mj_result_end(q);
		return;
	}
	if (tid && (arg == MJS_MODAL || arg == MJS_ACTION) &&
	    (parent = task_find(FAM_MJ, tid)) == NULL) {
		mj_refuse(q, 3, "related task not found or expired");
		return;
	}
	if (arg == MJS_MODAL) {
		if (!parent->modal) {
			mj_refuse(q, 4, "task is not waiting for a modal");
			return;
		}
		parent->modal = 0;
		if (nonempty(prompt)) {
			free(parent->prompt);
			parent->prompt = xstrdup(prompt);
			parent->fail |= has_word(prompt, "fail");
		}
		mj_result(q, 1, "Submit success", parent->id);
		mj_result_end(q);
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
	t->model = xstrdup(jstr(jget(r, "botType")));
	t->hook = xstrdup(jstr(jget(r, "notifyHook")));
	t->state = xstrdup(jstr(jget(r, "state")));
	if (arg == MJS_ACTION) {
		t->extra = xstrdup(cid);
		snprintf(desc, sizeof desc, "/%s %s", mj_actions[kind],
		    parent->id);
	} else
		snprintf(desc, sizeof desc, "%s%s", cmd[arg],
		    arg == MJS_IMAGINE || arg == MJS_SHORTEN ? prompt : "");
	t->title = xstrdup(desc);
	if (modal)
		mj_result(q, 21, "Waiting for window confirm", t->id);
	else if (code == 21)
		mj_result(q, 21, "Task already exists", t->id);
	else if (code == 22) {
		mj_result(q, 22, "In queue, there is 1 task ahead", t->id);
		w_ki(q->y, "numberOfQueues", 1);
		w_ks(q->y, "discordInstanceId", "mock");
	} else
		mj_result(q, 1, "Submit success", t->id);
	mj_result_end(q);
}

/* GET /mj/task/{id}/fetch: one poll. */
static void
mj_fetch(struct req *q, int arg)
{
	struct task *t;
	char id[128];

	(void)arg;
	if (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_MJ, id)) == NULL || !task_poll(t)) {
		mj_not_found(q);
		return;
	}
	mj_task(q->y, t);
	q_json(q, q->status);
}

/* POST /mj/task/list-by-condition {"ids":[...]}: a poll of each known
 * id; unknown ones (and those answering "not found") are left out. */
static void
mj_list_by(struct req *q, int arg)
{
	yajl_val ids = jget(q->root, "ids");
	struct task *t;
	const char *id;
	size_t i;

	(void)arg;
	yajl_gen_array_open(q->y);
	for (i = 0; YAJL_IS_ARRAY(ids) && i < ids->u.array.len; i++)
		if ((id = jstr(ids->u.array.values[i])) != NULL &&
		    (t = task_find(FAM_MJ, id)) != NULL && task_poll(t))
			mj_task(q->y, t);
	yajl_gen_array_close(q->y);
	q_json(q, q->status);
}

/* GET /mj/task/list (every task), /mj/task/queue (the unfinished):
 * views, not polls. */
static void
mj_list(struct req *q, int queue)
{
	struct task *t;

	yajl_gen_array_open(q->y);
	for (t = g.tasks; t; t = t->next)
		if (t->fam == FAM_MJ && (!queue || !task_over(t)))
			mj_task(q->y, t);
	yajl_gen_array_close(q->y);
	q_json(q, q->status);
}

static int
in_strings(yajl_val a, const char *s)
{
	size_t i;

	for (i = 0; YAJL_IS_ARRAY(a) && i < a->u.array.len; i++)
		if (jstr(a->u.array.values[i]) &&
		    strcmp(jstr(a->u.array.values[i]), s) == 0)
			return 1;
	return 0;
}

static void
spring_sort(yajl_gen y)
{
	w_str(y, "sort");
	yajl_gen_map_open(y);
	w_kb(y, "empty", 0);
	w_kb(y, "sorted", 1);
	w_kb(y, "unsorted", 0);
	yajl_gen_map_close(y);
}

/* POST /mj/task/query: a Spring page of the matching tasks, newest
 * first. */
static void
mj_query(struct req *q, int arg)
{
	yajl_val r = q->root, ids = jget(r, "ids"), set = jget(r, "statusSet");
	const char *st = jstr(jget(r, "status"));
	const char *act = jstr(jget(r, "action"));
	long long num = clampll(jint(jget(r, "pageNumber"), 0), 0, 1000000);
	long long size = clampll(jint(jget(r, "pageSize"), 10), 1, 1000);
	long long total = 0, k = 0, pages;
	yajl_gen y = q->y;
	struct task *t, **v = NULL, **nv;
	size_t cap = 0;

	(void)arg;
	for (t = g.tasks; t; t = t->next) {
		if (t->fam != FAM_MJ || (nonempty(st) &&
		    strcmp(st, task_status(t)) != 0) || (nonempty(act) &&
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
	w_str(y, "content");
	yajl_gen_array_open(y);
	for (k = num * size; k < total && k < (num + 1) * size; k++)
		mj_task(y, v[total - 1 - k]);
	yajl_gen_array_close(y);
	w_str(y, "pageable");
	yajl_gen_map_open(y);
	spring_sort(y);
	w_ki(y, "offset", num * size);
	w_ki(y, "pageNumber", num);
	w_ki(y, "pageSize", size);
	w_kb(y, "paged", 1);
	w_kb(y, "unpaged", 0);
	yajl_gen_map_close(y);
	w_kb(y, "last", num + 1 >= pages);
	w_ki(y, "totalElements", total);
	w_ki(y, "totalPages", pages);
	w_ki(y, "size", size);
	w_ki(y, "number", num);
	spring_sort(y);
	w_kb(y, "first", num == 0);
	k = total - num * size;
	w_ki(y, "numberOfElements", k < 0 ? 0 : k > size ? size : k);
	w_kb(y, "empty", k <= 0);
	yajl_gen_map_close(y);
	free(v);
	q_json(q, q->status);
}

/* POST /mj/task/{id}/cancel and GET /mj/task/{id}/image-seed. */
static void
mj_task_op(struct req *q, int seed)
{
	struct task *t;
	char id[128], s[24];

	if (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_MJ, id)) == NULL) {
		mj_not_found(q);
		return;
	}
	if (seed) {
		if (task_phase(t, NULL) != TP_DONE) {
			mj_refuse(q, 4, "task status error");
			return;
		}
		snprintf(s, sizeof s, "%llu",
		    (unsigned long long)(mix64(t->ord) % 4294967295ULL));
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

enum { SK_V35, SK_V30, SK_CONCAT, SK_MUSIC, SK_LYRICS };

/* A member of a Suno body: in "input" (GoAPI) or at the top. */
static const char *
suno_field(yajl_val r, const char *k)
{
	const char *s = jstr(jget(jget(r, "input"), k));

	return nonempty(s) ? s : jstr(jget(r, k));
}

static const char *
suno_prompt(yajl_val r)
{
	const char *s = suno_field(r, "prompt");

	return nonempty(s) ? s : suno_field(r, "gpt_description_prompt");
}

/* Fill the members every Suno task keeps. */
static struct task *
suno_task_new(struct req *q, int fam, int kind, const char *defmv)
{
	yajl_val r = q->root;
	const char *mv = jstr(jget(r, "mv")), *s;
	struct task *t;

	t = task_new(fam, kind, q, suno_prompt(r));
	t->num = kind == SK_CONCAT ? 1 : kind == SK_LYRICS ? 0 : 2;
	t->model = xstrdup(nonempty(mv) ? mv : defmv);
	s = suno_field(r, "title");
	t->title = xstrdup(nonempty(s) ? s : "Mock Song");
	s = suno_field(r, "tags");
	t->tags = xstrdup(nonempty(s) ? s : "pop");
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
	iso_time(iso, sizeof iso, t->submit_ms);
	yajl_gen_map_open(y);
	w_ks(y, "id", cid);
	w_ks(y, "title", t->title);
	w_ks(y, "status", suno_clip_status(t));
	if (done) {
		w_kurl(y, "audio_url", cid, ".mp3");
		w_kurl(y, "video_url", cid, ".mp4");
		w_kurl(y, "image_url", cid, ".png");
		w_kurl(y, "image_large_url", cid, "-large.png");
	} else {
		w_ks(y, "audio_url", "");
		w_ks(y, "video_url", "");
		w_ks(y, "image_url", "");
		w_ks(y, "image_large_url", "");
	}
	w_ks(y, "model_name", t->model);
	w_ks(y, "created_at", iso);
	w_str(y, "metadata");
	yajl_gen_map_open(y);
	w_ks(y, "tags", t->tags);
	w_ks(y, "prompt", t->prompt);
	if (done)
		w_kd(y, "duration", 120.5 + i);
	else
		w_ks(y, "duration", NULL);
	w_ks(y, "error_type", ph == TP_FAIL ? "mock" : NULL);
	w_ks(y, "error_message", ph == TP_FAIL ? FAIL_REASON : NULL);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

static void
goapi_error(struct req *q, int status, const char *msg)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	w_ki(y, "code", status);
	w_ks(y, "data", NULL);
	w_ks(y, "message", msg);
	yajl_gen_map_close(y);
	q_json(q, status);
}

/* POST /suno/v1/music, /suno/v1/v3.0/music, .../concat. */
static void
suno_submit(struct req *q, int arg)
{
	yajl_gen y = q->y;
	struct task *t;

	if (arg == SK_CONCAT && !nonempty(jstr(jget(q->root, "clip_id")))) {
		goapi_error(q, 400, "clip_id is required");
		return;
	}
	t = suno_task_new(q, FAM_SUNO, arg,
	    arg == SK_V35 ? "chirp-v3-5" : "chirp-v3-0");
	yajl_gen_map_open(y);
	w_ki(y, "code", 200);
	w_str(y, "data");
	yajl_gen_map_open(y);
	w_ks(y, "task_id", t->id);
	yajl_gen_map_close(y);
	w_ks(y, "message", "success");
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* GET /suno/v1/music/{id}, /suno/v1/v3.0/music/{id}: one poll. */
static void
suno_fetch(struct req *q, int arg)
{
	yajl_gen y = q->y;
	struct task *t;
	char id[128];
	int i;

	(void)arg;
	if (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_SUNO, id)) == NULL || !task_poll(t)) {
		ans_task_not_exist(q);
		return;
	}
	yajl_gen_map_open(y);
	w_ki(y, "code", 200);
	w_ks(y, "message", "success");
	w_str(y, "data");
	yajl_gen_map_open(y);
	w_ks(y, "task_id", t->id);
	w_ks(y, "status", task_status(t));
	w_ks(y, "input", t->input);
	w_str(y, "clips");
	yajl_gen_map_open(y);
	for (i = 1; i <= t->num; i++) {
		char cid[96];

		snprintf(cid, sizeof cid, "%s-clip%d", t->id, i);
		w_str(y, cid);
		suno_clip(y, t, i);
	}
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* new-api's TaskDto: times in seconds, progress "NN%", data the clips
 * (music) or the lyrics. */
static void
sunona_task(yajl_gen y, const struct task *t)
{
	int ph = task_phase(t, NULL), i;
	char pct[8], lyr[512];

	yajl_gen_map_open(y);
	w_ks(y, "task_id", t->id);
	w_ks(y, "action", t->kind == SK_LYRICS ? "LYRICS" : "MUSIC");
	w_ks(y, "status", task_status(t));
	w_ks(y, "fail_reason", ph == TP_FAIL ? FAIL_REASON : "");
	w_ki(y, "submit_time", t->submit_ms / 1000);
	w_ki(y, "start_time", t->start_ms / 1000);
	w_ki(y, "finish_time", t->finish_ms / 1000);
	snprintf(pct, sizeof pct, "%d%%", task_pct(t));
	w_ks(y, "progress", pct);
	w_str(y, "data");
	if (t->kind == SK_LYRICS) {
		if (ph != TP_DONE)
			yajl_gen_null(y);
		else {
			snprintf(lyr, sizeof lyr, "[Verse]\n%s\n[Chorus]\n%s",
			    t->prompt, t->prompt);
			yajl_gen_map_open(y);
			w_ks(y, "id", t->id);
			w_ks(y, "text", lyr);
			w_ks(y, "title", t->title);
			w_ks(y, "status", "complete");
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

/* POST /suno/submit/music, /suno/submit/lyrics. */
static void
sunona_submit(struct req *q, int arg)
{
	yajl_gen y = q->y;
	struct task *t;

	if (arg == SK_LYRICS && !nonempty(jstr(jget(q->root, "prompt")))) {
		ans_taskerr(q, 400, "prompt_empty", "prompt_empty");
		return;
	}
	t = suno_task_new(q, FAM_SUNONA, arg, "chirp-v3-0");
	yajl_gen_map_open(y);
	w_ks(y, "code", "success");
	w_ks(y, "message", "");
	w_ks(y, "data", t->id);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* GET /suno/fetch/{id} (one poll) and POST /suno/fetch {"ids"} (a
 * poll of each; unknown ids are left out). */
static void
sunona_fetch(struct req *q, int many)
{
	yajl_val ids = jget(q->root, "ids");
	yajl_gen y = q->y;
	struct task *t;
	const char *s;
	char id[128];
	size_t i;

	if (!many && (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_SUNONA, id)) == NULL || !task_poll(t))) {
		ans_task_not_exist(q);
		return;
	}
	if (many && !YAJL_IS_ARRAY(ids)) {
		ans_taskerr(q, 400, "invalid_request", "ids is required");
		return;
	}
	yajl_gen_map_open(y);
	w_ks(y, "code", "success");
	w_ks(y, "message", "");
	w_str(y, "data");
	if (!many)
		sunona_task(y, t);
	else {
		yajl_gen_array_open(y);
		for (i = 0; i < ids->u.array.len; i++)
			if ((s = jstr(ids->u.array.values[i])) != NULL &&
			    (t = task_find(FAM_SUNONA, s)) != NULL &&
			    task_poll(t))
				sunona_task(y, t);
		yajl_gen_array_close(y);
	}
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Flux (BFL) */

/* BFL's (FastAPI's) 422 for a missing field. */
static void
flux_missing(struct req *q, const char *loc, const char *field)
{
	yajl_gen y = q->y;

	yajl_gen_map_open(y);
	w_str(y, "detail");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	w_str(y, "loc");
	yajl_gen_array_open(y);
	w_str(y, loc);
	w_str(y, field);
	yajl_gen_array_close(y);
	w_ks(y, "msg", "field required");
	w_ks(y, "type", "value_error.missing");
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	q_json(q, 422);
}

/* POST /flux/v1/{model}. */
static void
flux_submit(struct req *q, int arg)
{
	const char *prompt = jstr(jget(q->root, "prompt"));
	const char *fmt = jstr(jget(q->root, "output_format"));
	yajl_gen y = q->y;
	struct task *t;
	char model[64], u[256];

	(void)arg;
	if (!nonempty(prompt)) {
		flux_missing(q, "body", "prompt");
		return;
	}
	t = task_new(FAM_FLUX, 0, q, prompt);
	if (has_word(prompt, "nsfw"))
		t->fail = 2;
	if (cap_str(q, 0, model, sizeof model))
		t->model = xstrdup(model);
	t->extra = xstrdup(fmt && strcmp(fmt, "png") == 0 ? ".png" : ".jpg");
	t->num = jint(jget(q->root, "seed"), (long long)(mix64(t->ord) %
	    4294967295ULL));
	snprintf(u, sizeof u, "http://127.0.0.1:%d/flux/v1/get_result?id=%s",
	    g.port, t->id);
	yajl_gen_map_open(y);
	w_ks(y, "id", t->id);
	w_ks(y, "polling_url", u);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* GET /flux/v1/get_result?id=: one poll; an unknown id is a task with
 * status "Task not found" (HTTP 200). */
static void
flux_result(struct req *q, int arg)
{
	yajl_gen y = q->y;
	struct task *t;
	char id[128];
	int ph;

	(void)arg;
	if (!query_get(q, "id", id, sizeof id)) {
		flux_missing(q, "query", "id");
		return;
	}
	yajl_gen_map_open(y);
	w_ks(y, "id", id);
	if ((t = task_find(FAM_FLUX, id)) == NULL || !task_poll(t)) {
		w_ks(y, "status", "Task not found");
		w_ks(y, "result", NULL);
		w_ks(y, "progress", NULL);
		w_ks(y, "details", NULL);
		yajl_gen_map_close(y);
		q_json(q, q->status);
		return;
	}
	ph = task_phase(t, NULL);
	w_ks(y, "status", ph == TP_FAIL && t->fail == 2 ?
	    "Content Moderated" : task_status(t));
	w_str(y, "result");
	if (ph == TP_DONE) {
		yajl_gen_map_open(y);
		w_kurl(y, "sample", t->id, t->extra);
		w_ki(y, "seed", t->num);
		w_ks(y, "prompt", t->prompt);
		w_kd(y, "start_time", t->start_ms / 1000.0);
		w_kd(y, "end_time", t->finish_ms / 1000.0);
		w_kd(y, "duration", (t->finish_ms - t->start_ms) / 1000.0);
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	w_kd(y, "progress", task_pct(t) / 100.0);
	w_str(y, "details");
	if (ph == TP_FAIL) {
		yajl_gen_map_open(y);
		w_ks(y, "error", t->fail == 2 ? "mock: moderated" :
		    FAIL_REASON);
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Kling */

enum { KL_IMG, KL_T2V, KL_I2V };

/* Open Kling's envelope up to "data":; kling_close ends it. */
static void
kling_open(struct req *q, long long code, const char *msg)
{
	yajl_gen y = q->y;
	char rid[48];

	snprintf(rid, sizeof rid, "mock-req-%llu", q->seq);
	yajl_gen_map_open(y);
	w_ki(y, "code", code);
	w_ks(y, "message", msg);
	w_ks(y, "request_id", rid);
	w_str(y, "data");
}

static void
kling_refuse(struct req *q, int status, long long code, const char *msg)
{
	kling_open(q, code, msg);
	yajl_gen_null(q->y);
	yajl_gen_map_close(q->y);
	q_json(q, status);
}

static void
kling_task(yajl_gen y, const struct task *t)
{
	int ph = task_phase(t, NULL), i;
	char u[96];

	yajl_gen_map_open(y);
	w_ks(y, "task_id", t->id);
	w_ks(y, "task_status", task_status(t));
	w_ks(y, "task_status_msg", ph == TP_FAIL ? FAIL_REASON : "");
	w_str(y, "task_info");
	yajl_gen_map_open(y);
	if (t->extra)
		w_ks(y, "external_task_id", t->extra);
	yajl_gen_map_close(y);
	w_ki(y, "created_at", t->submit_ms);
	w_ki(y, "updated_at", t->finish_ms ? t->finish_ms : t->start_ms ?
	    t->start_ms : t->submit_ms);
	if (ph == TP_DONE) {
		w_str(y, "task_result");
		yajl_gen_map_open(y);
		w_str(y, t->kind == KL_IMG ? "images" : "videos");
		yajl_gen_array_open(y);
		for (i = 0; i < (t->kind == KL_IMG ? t->num : 1); i++) {
			snprintf(u, sizeof u, "%s-%d", t->id, i);
			yajl_gen_map_open(y);
			if (t->kind == KL_IMG) {
				w_ki(y, "index", i);
				w_kurl(y, "url", u, ".png");
			} else {
				w_ks(y, "id", u);
				w_kurl(y, "url", u, ".mp4");
				w_ks(y, "duration", t->title);
			}
			yajl_gen_map_close(y);
		}
		yajl_gen_array_close(y);
		yajl_gen_map_close(y);
	}
	yajl_gen_map_close(y);
}

/* POST /kling/v1/images/generations, videos/text2video,
 * videos/image2video. */
static void
kling_submit(struct req *q, int arg)
{
	yajl_val r = q->root, d = jget(r, "duration");
	const char *prompt = jstr(jget(r, "prompt"));
	struct task *t;
	char dur[24];

	if (arg != KL_I2V && !nonempty(prompt)) {
		kling_refuse(q, 400, 1201, "prompt is required");
		return;
	}
	if (arg == KL_I2V && !nonempty(jstr(jget(r, "image")))) {
		kling_refuse(q, 400, 1201, "image is required");
		return;
	}
	if (q->tm.kling_code != 0) {
		snprintf(dur, sizeof dur, "mock error %lld",
		    q->tm.kling_code);
		kling_refuse(q, q->status, q->tm.kling_code, dur);
		return;
	}
	if (has_word(prompt, "banned")) {
		kling_refuse(q, 400, 1301, "Trigger the content security "
		    "policy of the platform");
		return;
	}
	t = task_new(FAM_KLING, arg, q, prompt);
	t->num = clampll(jint(jget(r, "n"), 1), 1, 9);
	if (jstr(d))
		snprintf(dur, sizeof dur, "%s", jstr(d));
	else
		snprintf(dur, sizeof dur, "%lld", jint(d, 5));
	t->title = xstrdup(dur);
	t->extra = xstrdup(jstr(jget(r, "external_task_id")));
	kling_open(q, 0, "SUCCEED");
	kling_task(q->y, t);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

/* GET /kling/v1/{the submit path}/{task_id}: one poll. */
static void
kling_fetch(struct req *q, int arg)
{
	struct task *t;
	char id[128];

	if (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_KLING, id)) == NULL || t->kind != arg ||
	    !task_poll(t)) {
		kling_refuse(q, 404, 1203, "task not found");
		return;
	}
	kling_open(q, 0, "SUCCEED");
	kling_task(q->y, t);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Luma */

static void
luma_media(yajl_gen y, const char *k, const struct task *t,
    const char *suffix, int video)
{
	char name[96];

	w_str(y, k);
	if (task_phase(t, NULL) != TP_DONE) {
		yajl_gen_null(y);
		return;
	}
	snprintf(name, sizeof name, "%s%s", t->id, suffix);
	yajl_gen_map_open(y);
	w_kurl(y, "url", name, video ? ".mp4" : ".jpg");
	w_ki(y, "width", 1360);
	w_ki(y, "height", 752);
	if (video) {
		snprintf(name, sizeof name, "%s-raw", t->id);
		w_kurl(y, "download_url", name, ".mp4");
		w_ks(y, "thumbnail", NULL);
	}
	yajl_gen_map_close(y);
}

static void
luma_obj(yajl_gen y, const struct task *t)
{
	char iso[40];

	iso_time(iso, sizeof iso, t->submit_ms);
	yajl_gen_map_open(y);
	w_ks(y, "id", t->id);
	w_ks(y, "prompt", t->prompt);
	w_ks(y, "state", task_status(t));
	w_ks(y, "created_at", iso);
	luma_media(y, "video", t, "", 1);
	w_ks(y, "liked", NULL);
	w_ks(y, "estimate_wait_seconds", NULL);
	luma_media(y, "thumbnail", t, "", 0);
	luma_media(y, "last_frame", t, "-last", 0);
	w_ks(y, "failure_reason", task_phase(t, NULL) == TP_FAIL ?
	    FAIL_REASON : NULL);
	yajl_gen_map_close(y);
}

/* POST /luma/generations (or .../). */
static void
luma_submit(struct req *q, int arg)
{
	const char *prompt = jstr(jget(q->root, "user_prompt"));
	struct task *t;

	(void)arg;
	if (!nonempty(prompt)) {
		ans_taskerr(q, 400, "invalid_request",
		    "user_prompt is required");
		return;
	}
	t = task_new(FAM_LUMA, 0, q, prompt);
	luma_obj(q->y, t);
	q_json(q, q->status);
}

/* GET /luma/generations/{id}: one poll. */
static void
luma_fetch(struct req *q, int arg)
{
	struct task *t;
	char id[128];

	(void)arg;
	if (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_LUMA, id)) == NULL || !task_poll(t)) {
		ans_task_not_exist(q);
		return;
	}
	luma_obj(q->y, t);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Runway */

#define RUNWAY_VERSION	"2024-11-06"

/* Every Runway call needs the version header; 0 after refusing. */
static int
runway_version(struct req *q)
{
	char v[64];

	if (req_header(q, "x-runway-version", v, sizeof v) &&
	    strcmp(v, RUNWAY_VERSION) == 0)
		return 1;
	yajl_gen_map_open(q->y);
	w_ks(q->y, "error", "The X-Runway-Version header is missing or "
	    "invalid: it must be " RUNWAY_VERSION);
	yajl_gen_map_close(q->y);
	q_json(q, 400);
	return 0;
}

/* POST /runwayml/v1/image_to_video. */
static void
runway_submit(struct req *q, int arg)
{
	const char *miss = NULL;
	yajl_gen y = q->y;
	struct task *t;

	(void)arg;
	if (!runway_version(q))
		return;
	if (!nonempty(jstr(jget(q->root, "promptImage"))))
		miss = "promptImage";
	else if (!nonempty(jstr(jget(q->root, "model"))))
		miss = "model";
	if (miss) {
		yajl_gen_map_open(y);
		w_ks(y, "error", "Validation of body failed");
		w_str(y, "issues");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		w_str(y, "path");
		yajl_gen_array_open(y);
		w_str(y, miss);
		yajl_gen_array_close(y);
		w_ks(y, "message", "Required");
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
		yajl_gen_map_close(y);
		q_json(q, 400);
		return;
	}
	t = task_new(FAM_RUNWAY, 0, q, jstr(jget(q->root, "promptText")));
	yajl_gen_map_open(y);
	w_ks(y, "id", t->id);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* GET /runwayml/v1/tasks/{id} (one poll), DELETE (cancel: 204). */
static void
runway_task(struct req *q, int del)
{
	yajl_gen y = q->y;
	struct task *t;
	char id[128], iso[40], u[256];
	int ph;

	if (!runway_version(q))
		return;
	if (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_RUNWAY, id)) == NULL ||
	    (!del && !task_poll(t))) {
		ans_task_not_exist(q);
		return;
	}
	if (del) {
		if (!task_over(t)) {
			t->killed = 1;
			task_times(t);
		}
		q_bytes(q, 204, "application/json", "", 0);
		return;
	}
	ph = task_phase(t, NULL);
	iso_time(iso, sizeof iso, t->submit_ms);
	yajl_gen_map_open(y);
	w_ks(y, "id", t->id);
	w_ks(y, "status", task_status(t));
	w_ks(y, "createdAt", iso);
	if (ph == TP_RUN)
		w_kd(y, "progress", task_pct(t) / 100.0);
	if (ph == TP_DONE) {
		w_str(y, "output");
		yajl_gen_array_open(y);
		file_url(u, sizeof u, t->id, ".mp4");
		w_str(y, u);
		yajl_gen_array_close(y);
	}
	if (ph == TP_FAIL) {
		w_ks(y, "failure", FAIL_REASON);
		w_ks(y, "failureCode", "INTERNAL.BAD_OUTPUT.CODE01");
	}
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* CogVideoX (Zhipu) */

static void
cogv_obj(yajl_gen y, const struct task *t, int submit)
{
	int ph = task_phase(t, NULL);
	char name[96];

	yajl_gen_map_open(y);
	w_ks(y, "id", t->id);
	w_ks(y, "model", t->model);
	w_ks(y, "request_id", t->extra);
	w_ks(y, "task_status", submit ? "PROCESSING" : task_status(t));
	if (!submit && ph == TP_DONE) {
		w_str(y, "video_result");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		w_kurl(y, "url", t->id, ".mp4");
		snprintf(name, sizeof name, "%s-cover", t->id);
		w_kurl(y, "cover_image_url", name, ".png");
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
	}
	if (!submit && ph == TP_FAIL) {
		w_str(y, "error");
		yajl_gen_map_open(y);
		w_ks(y, "code", "mock");
		w_ks(y, "message", FAIL_REASON);
		yajl_gen_map_close(y);
	}
	yajl_gen_map_close(y);
}

/* POST /cogvideox/{v4,v1}/videos/generations. */
static void
cogv_submit(struct req *q, int arg)
{
	const char *prompt = jstr(jget(q->root, "prompt"));
	const char *model = jstr(jget(q->root, "model"));
	yajl_gen y = q->y;
	struct task *t;
	char rid[48];

	(void)arg;
	if (!nonempty(prompt) &&
	    !nonempty(jstr(jget(q->root, "image_url")))) {
		yajl_gen_map_open(y);
		w_str(y, "error");
		yajl_gen_map_open(y);
		w_ks(y, "code", "1214");
		w_ks(y, "message", "prompt and image_url cannot both be "
		    "empty");
		yajl_gen_map_close(y);
		yajl_gen_map_close(y);
		q_json(q, 400);
		return;
	}
	t = task_new(FAM_COGV, 0, q, prompt);
	t->model = xstrdup(nonempty(model) ? model : "cogvideox");
	snprintf(rid, sizeof rid, "mock-req-%llu", q->seq);
	t->extra = xstrdup(rid);
	cogv_obj(y, t, 1);
	q_json(q, q->status);
}

/* GET /cogvideox/{v4,v1}/async-result/{id}: one poll. */
static void
cogv_fetch(struct req *q, int arg)
{
	struct task *t;
	char id[128];

	(void)arg;
	if (!cap_str(q, 1, id, sizeof id) ||
	    (t = task_find(FAM_COGV, id)) == NULL || !task_poll(t)) {
		ans_task_not_exist(q);
		return;
	}
	cogv_obj(q->y, t, 0);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Viggle (invented paths: /api/viggle/...) */

enum { VG_UPVIDEO, VG_UPIMAGE, VG_MIX, VG_MULTI, VG_MOVE };

static void
viggle_open(struct req *q)
{
	yajl_gen_map_open(q->y);
	w_ki(q->y, "code", 0);
	w_ks(q->y, "message", "success");
	w_str(q->y, "data");
}

static void
viggle_close(struct req *q)
{
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

static void
viggle_err(struct req *q, int status, const char *msg)
{
	yajl_gen_map_open(q->y);
	w_ki(q->y, "code", status);
	w_ks(q->y, "message", msg);
	w_ks(q->y, "data", NULL);
	yajl_gen_map_close(q->y);
	q_json(q, status);
}

/* POST /api/viggle/{mix,multi,move}/generate, mix/upload-{video,image}:
 * multipart with at least one file. */
static void
viggle_submit(struct req *q, int arg)
{
	struct task *t;

	if (form_file(&q->f, NULL) == NULL) {
		viggle_err(q, 400, "file is required");
		return;
	}
	t = task_new(FAM_VIGGLE, arg, q, form_text(&q->f, "prompt"));
	viggle_open(q);
	yajl_gen_map_open(q->y);
	w_ks(q->y, "task_id", t->id);
	yajl_gen_map_close(q->y);
	viggle_close(q);
}

/* GET /api/viggle/{mix,multi}/templates. */
static void
viggle_templates(struct req *q, int multi)
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
		w_ks(q->y, "id", id);
		w_ks(q->y, "name", name);
		yajl_gen_map_close(q->y);
	}
	yajl_gen_array_close(q->y);
	viggle_close(q);
}

/* GET /api/viggle/task/{id}: one poll. */
static void
viggle_task(struct req *q, int arg)
{
	yajl_gen y = q->y;
	struct task *t;
	char id[128];
	int ph;

	(void)arg;
	if (!cap_str(q, 0, id, sizeof id) ||
	    (t = task_find(FAM_VIGGLE, id)) == NULL || !task_poll(t)) {
		viggle_err(q, 404, "task not found");
		return;
	}
	ph = task_phase(t, NULL);
	viggle_open(q);
	yajl_gen_map_open(y);
	w_ks(y, "task_id", t->id);
	w_ks(y, "status", task_status(t));
	w_ki(y, "progress", task_pct(t));
	w_str(y, "result");
	if (ph == TP_DONE) {
		yajl_gen_map_open(y);
		w_kurl(y, "video_url", t->id, ".mp4");
		yajl_gen_map_close(y);
	} else
		yajl_gen_null(y);
	w_ks(y, "fail_reason", ph == TP_FAIL ? FAIL_REASON : NULL);
	yajl_gen_map_close(y);
	viggle_close(q);
}

/* GET /api/viggle/credits: 1000 less one per task made. */
static void
viggle_credits(struct req *q, int arg)
{
	struct task *t;
	long long n = 1000;

	(void)arg;
	for (t = g.tasks; t; t = t->next)
		n -= t->fam == FAM_VIGGLE;
	viggle_open(q);
	yajl_gen_map_open(q->y);
	w_ki(q->y, "credits", n > 0 ? n : 0);
	yajl_gen_map_close(q->y);
	viggle_close(q);
}

/* ------------------------------------------------------------------ */
/* Ideogram: official (/ideogram) and reverse (/api/ideogram, invented) */

static void
buf_b64(struct buf *b, const void *src, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = src;
	unsigned long v;
	char o[4];
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		o[0] = tab[v >> 18 & 63];
		o[1] = tab[v >> 12 & 63];
		o[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		o[3] = i + 2 < n ? tab[v & 63] : '=';
		buf_add(b, o, 4);
	}
}

/* Key k with the base64 of n bytes at p as its value. */
static void
w_kb64(yajl_gen y, const char *k, const void *p, size_t n)
{
	struct buf b = { 0 };

	buf_b64(&b, p, n);
	w_str(y, k);
	yajl_gen_string(y, (const unsigned char *)(b.p ? b.p : ""), b.len);
	buf_free(&b);
}

static void
ideo_detail(struct req *q, const char *msg)
{
	yajl_gen_map_open(q->y);
	w_ks(q->y, "detail", msg);
	yajl_gen_map_close(q->y);
	q_json(q, 400);
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
	const char *a = jstr(jget(ir, "aspect_ratio"));
	const char *r = jstr(jget(ir, "resolution"));
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
	const char *style = jstr(jget(ir, "style_type"));
	long long n = clampll(jint(jget(ir, "num_images"), 1), 1, 8), k;
	long long seed = jint(jget(ir, "seed"),
	    (long long)(mix64(q->seq) % 2147483647ULL));
	int safe = !has_word(prompt, "nsfw");
	yajl_gen y = q->y;
	char iso[40], res[32], name[64];

	iso_time(iso, sizeof iso, wall_ms());
	ideo_res(ir, res, sizeof res);
	yajl_gen_map_open(y);
	w_ks(y, "created", iso);
	w_str(y, "data");
	yajl_gen_array_open(y);
	for (k = 0; k < n; k++) {
		snprintf(name, sizeof name, "ideogram-%llu-%lld", q->seq, k);
		yajl_gen_map_open(y);
		if (safe)
			w_kurl(y, "url", name, ".png");
		else
			w_ks(y, "url", NULL);
		w_ks(y, "prompt", prompt);
		w_ks(y, "resolution", res);
		w_ki(y, "seed", seed + k);
		w_kb(y, "is_image_safe", safe);
		w_ks(y, "style_type", nonempty(style) ? style : "GENERAL");
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* POST /ideogram/generate. */
static void
ideo_generate(struct req *q, int arg)
{
	yajl_val ir = jget(q->root, "image_request");
	const char *prompt = jstr(jget(ir, "prompt"));

	(void)arg;
	if (!YAJL_IS_OBJECT(ir))
		ideo_detail(q, "image_request is required");
	else if (!nonempty(prompt))
		ideo_detail(q, "image_request.prompt is required");
	else
		ideo_images(q, ir, prompt);
}

/* POST /ideogram/remix, /ideogram/upscale: multipart image_request (a
 * JSON string) and image_file.  An upscale without a prompt reports
 * the file it got as the prompt. */
static void
ideo_form(struct req *q, int upscale)
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
	prompt = jstr(jget(ir, "prompt"));
	if (!upscale && !nonempty(prompt))
		ideo_detail(q, s ? "image_request.prompt is required" :
		    "image_request is required");
	else {
		if (!nonempty(prompt)) {
			part_fname(f, fn, sizeof fn);
			snprintf(got, sizeof got, "received %s %zu bytes", fn,
			    f->len);
			prompt = got;
		}
		ideo_images(q, ir, prompt);
	}
	yajl_tree_free(ir);
}

/* POST /ideogram/describe: multipart image_file. */
static void
ideo_describe(struct req *q, int arg)
{
	const struct part *f = form_file(&q->f, "image_file");
	char fn[128], got[256];

	(void)arg;
	if (f == NULL) {
		ideo_detail(q, "image_file is required");
		return;
	}
	part_fname(f, fn, sizeof fn);
	snprintf(got, sizeof got, "received %s %zu bytes", fn, f->len);
	yajl_gen_map_open(q->y);
	w_str(q->y, "descriptions");
	yajl_gen_array_open(q->y);
	yajl_gen_map_open(q->y);
	w_ks(q->y, "text", got);
	yajl_gen_map_close(q->y);
	yajl_gen_array_close(q->y);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

enum { IR_DESCRIBE, IR_GENERATE, IR_BLEND, IR_UPSCALE };

static const char *const ir_types[] = { "DESCRIBE", "GENERATE", "BLEND",
	"UPSCALE" };

/* POST /api/ideogram/{describe,generate,blend,upscale} (invented). */
static void
ideo_rev_submit(struct req *q, int arg)
{
	const char *prompt = jstr(jget(q->root, "prompt"));
	struct task *t;

	if (arg == IR_GENERATE && !nonempty(prompt)) {
		ans_taskerr(q, 400, "invalid_request", "prompt is required");
		return;
	}
	t = task_new(FAM_IDEO, arg, q, prompt);
	yajl_gen_map_open(q->y);
	w_ks(q->y, "request_id", t->id);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

/* POST /api/ideogram/task-request {"request_id"}: one poll. */
static void
ideo_rev_poll(struct req *q, int arg)
{
	const char *rid = jstr(jget(q->root, "request_id"));
	yajl_gen y = q->y;
	struct task *t;
	char name[96];
	int ph, i;

	(void)arg;
	if (!nonempty(rid)) {
		ans_taskerr(q, 400, "invalid_request",
		    "request_id is required");
		return;
	}
	if ((t = task_find(FAM_IDEO, rid)) == NULL || !task_poll(t)) {
		ans_task_not_exist(q);
		return;
	}
	ph = task_phase(t, NULL);
	yajl_gen_map_open(y);
	w_str(y, "sampling_requests");
	yajl_gen_array_open(y);
	yajl_gen_map_open(y);
	w_ks(y, "request_id", t->id);
	w_kb(y, "is_completed", ph == TP_DONE || ph == TP_FAIL);
	w_ki(y, "completion_percentage", task_pct(t));
	w_kb(y, "has_started", ph != TP_PRE);
	w_kb(y, "can_upscale", ph == TP_DONE);
	w_ks(y, "aspect_ratio", "1:1");
	w_ki(y, "width", 1024);
	w_ki(y, "height", 1024);
	w_ki(y, "resolution", 1024);
	w_ki(y, "seed", (long long)(mix64(t->ord) % 2147483647ULL));
	w_ks(y, "model_version", "V_2");
	w_ks(y, "request_type", ir_types[t->kind]);
	w_ks(y, "user_prompt", t->prompt);
	w_str(y, "user_hparams");
	yajl_gen_map_open(y);
	yajl_gen_map_close(y);
	w_str(y, "responses");
	yajl_gen_array_open(y);
	for (i = 0; ph == TP_DONE && i < 4; i++) {
		snprintf(name, sizeof name, "%s-r%d", t->id, i);
		yajl_gen_map_open(y);
		w_ks(y, "response_id", name);
		w_kurl(y, "url", name, ".png");
		if (t->kind == IR_DESCRIBE)
			w_ks(y, "description", "a mock description");
		yajl_gen_map_close(y);
	}
	yajl_gen_array_close(y);
	w_kd(y, "creation_time_float", t->submit_ms / 1000.0);
	if (ph == TP_FAIL) {
		w_kb(y, "is_errored", 1);
		w_ks(y, "error_message", FAIL_REASON);
	}
	yajl_gen_map_close(y);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Recraft */

static const char svg_img[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	"width=\"1\" height=\"1\"/>\n";

static void
recraft_err(struct req *q, const char *msg)
{
	yajl_gen_map_open(q->y);
	w_ks(q->y, "code", "bad_request");
	w_ks(q->y, "message", msg);
	yajl_gen_map_close(q->y);
	q_json(q, 400);
}

/* One image: its url under /files/, or its bytes as b64_json. */
static void
recraft_image(yajl_gen y, unsigned long long seq, long long k, int svg,
    int b64)
{
	char id[48], name[64];

	fake_uuid(id, sizeof id, seq * 16 + k);
	snprintf(name, sizeof name, "recraft-%llu-%lld", seq, k);
	yajl_gen_map_open(y);
	w_ks(y, "image_id", id);
	if (b64 && svg)
		w_kb64(y, "b64_json", svg_img, sizeof svg_img - 1);
	else if (b64)
		w_kb64(y, "b64_json", png, sizeof png);
	else
		w_kurl(y, "url", name, svg ? ".svg" : ".png");
	yajl_gen_map_close(y);
}

/* POST /recraft/v1/styles: multipart style and file(s). */
static void
recraft_style(struct req *q, int arg)
{
	char id[48];

	(void)arg;
	if (!nonempty(form_text(&q->f, "style")))
		recraft_err(q, "style is required");
	else if (form_file(&q->f, NULL) == NULL)
		recraft_err(q, "file is required");
	else {
		fake_uuid(id, sizeof id, q->seq);
		yajl_gen_map_open(q->y);
		w_ks(q->y, "id", id);
		yajl_gen_map_close(q->y);
		q_json(q, q->status);
	}
}

/* POST /recraft/v1/images/generations: n (1..2) images; vector styles
 * give .svg urls. */
static void
recraft_gen(struct req *q, int arg)
{
	yajl_val r = q->root;
	const char *style = jstr(jget(r, "style"));
	const char *rf = jstr(jget(r, "response_format"));
	long long n = jint(jget(r, "n"), 1), k;
	yajl_gen y = q->y;
	int svg;

	(void)arg;
	if (!nonempty(jstr(jget(r, "prompt")))) {
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
	w_ki(y, "created", wall_ms() / 1000);
	w_str(y, "data");
	yajl_gen_array_open(y);
	for (k = 0; k < n; k++)
		recraft_image(y, q->seq, k, svg,
		    rf && strcmp(rf, "b64_json") == 0);
	yajl_gen_array_close(y);
	yajl_gen_map_close(y);
	q_json(q, q->status);
}

/* POST /recraft/v1/images/{vectorize,removeBackground,clarityUpscale,
 * generativeUpscale}: multipart file. */
static void
recraft_op(struct req *q, int vectorize)
{
	const char *rf = form_text(&q->f, "response_format");

	if (form_file(&q->f, "file") == NULL) {
		recraft_err(q, "file is required");
		return;
	}
	yajl_gen_map_open(q->y);
	w_str(q->y, "image");
	recraft_image(q->y, q->seq, 0, vectorize,
	    rf && strcmp(rf, "b64_json") == 0);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Stability */

/* The image bytes for an output format, with their content type. */
static const unsigned char *
sd_image(const char *fmt, size_t *n, const char **ctype)
{
	if (strcmp(fmt, "jpeg") == 0) {
		*n = sizeof jpeg_img;
		*ctype = "image/jpeg";
		return jpeg_img;
	}
	if (strcmp(fmt, "webp") == 0) {
		*n = sizeof webp_img;
		*ctype = "image/webp";
		return webp_img;
	}
	*n = sizeof png;
	*ctype = "image/png";
	return png;
}

static void
sd_err(struct req *q, const char *msg)
{
	char id[40];

	snprintf(id, sizeof id, "%016llx%016llx",
	    (unsigned long long)mix64(q->seq),
	    (unsigned long long)mix64(~q->seq));
	yajl_gen_map_open(q->y);
	w_str(q->y, "errors");
	yajl_gen_array_open(q->y);
	w_str(q->y, msg);
	yajl_gen_array_close(q->y);
	w_ks(q->y, "name", "bad_request");
	w_ks(q->y, "id", id);
	yajl_gen_map_close(q->y);
	q_json(q, 400);
}

/* A seed given in s, else one made from the request. */
static long long
sd_seed(const struct req *q, const char *s)
{
	long long v = s ? atoll(s) : 0;

	return v > 0 ? v : (long long)(mix64(q->seq) % 4294967294ULL) + 1;
}

/* POST /sd/v2beta/stable-image/generate/{ultra,core,sd3}: multipart;
 * Accept: image/... gives the bytes, anything else JSON. */
static void
sd_v2(struct req *q, int arg)
{
	const char *prompt = form_text(&q->f, "prompt");
	const char *fmt = form_text(&q->f, "output_format"), *ct, *fin;
	const unsigned char *img;
	char acc[256], s[24];
	long long seed;
	size_t n;

	(void)arg;
	if (!q->multipart) {
		sd_err(q, "content-type: must be multipart/form-data");
		return;
	}
	if (!nonempty(prompt)) {
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
	img = sd_image(fmt, &n, &ct);
	seed = sd_seed(q, form_text(&q->f, "seed"));
	fin = has_word(prompt, "nsfw") ? "CONTENT_FILTERED" : "SUCCESS";
	req_header(q, "accept", acc, sizeof acc);
	if (strncasecmp(acc, "image/", 6) == 0) {
		snprintf(s, sizeof s, "%lld", seed);
		q_header(q, "finish-reason", fin);
		q_header(q, "seed", s);
		q_bytes(q, q->status, ct, img, n);
		return;
	}
	yajl_gen_map_open(q->y);
	w_kb64(q->y, "image", img, n);
	w_ks(q->y, "finish_reason", fin);
	w_ki(q->y, "seed", seed);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

/* POST /sd/v1/generation/{engine}/text-to-image: JSON; Accept:
 * image/png gives the PNG bytes, anything else the artifacts. */
static void
sd_v1(struct req *q, int arg)
{
	yajl_val tp = jget(q->root, "text_prompts");
	long long n = clampll(jint(jget(q->root, "samples"), 1), 1, 10), k;
	long long seed = jint(jget(q->root, "seed"), 0);
	const char *text = NULL, *fin;
	char acc[256], s[24], id[40];

	(void)arg;
	if (YAJL_IS_ARRAY(tp) && tp->u.array.len > 0)
		text = jstr(jget(tp->u.array.values[0], "text"));
	if (!nonempty(text)) {
		snprintf(id, sizeof id, "%016llx",
		    (unsigned long long)mix64(q->seq));
		yajl_gen_map_open(q->y);
		w_ks(q->y, "id", id);
		w_ks(q->y, "name", "bad_request");
		w_ks(q->y, "message", "text_prompts: is required");
		yajl_gen_map_close(q->y);
		q_json(q, 400);
		return;
	}
	if (seed <= 0)
		seed = sd_seed(q, NULL);
	fin = has_word(text, "nsfw") ? "CONTENT_FILTERED" : "SUCCESS";
	req_header(q, "accept", acc, sizeof acc);
	if (strncasecmp(acc, "image/png", 9) == 0) {
		snprintf(s, sizeof s, "%lld", seed);
		q_header(q, "Finish-Reason", fin);
		q_header(q, "Seed", s);
		q_bytes(q, q->status, "image/png", png, sizeof png);
		return;
	}
	yajl_gen_map_open(q->y);
	w_str(q->y, "artifacts");
	yajl_gen_array_open(q->y);
	for (k = 0; k < n; k++) {
		yajl_gen_map_open(q->y);
		w_kb64(q->y, "base64", png, sizeof png);
		w_ki(q->y, "seed", seed + k);
		w_ks(q->y, "finishReason", fin);
		yajl_gen_map_close(q->y);
	}
	yajl_gen_array_close(q->y);
	yajl_gen_map_close(q->y);
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Audio */

static const struct {
	const char *fmt, *ctype, *magic;
	size_t mlen;
} tts_fmts[] = {
	{ "mp3", "audio/mpeg", "ID3\x04\0\0\0\0\0\0", 10 },
	{ "opus", "audio/opus", "OggS\0\x02", 6 },
	{ "aac", "audio/aac", "\xff\xf1\x50\x80", 4 },
	{ "flac", "audio/flac", "fLaC", 4 },
	{ "wav", "audio/wav", "RIFF\0\0\0\0WAVEfmt ", 16 },
	{ "pcm", "audio/pcm", "", 0 },
};

static void
openai_400(struct req *q, const char *msg)
{
	answer_error(q->c, 400, msg, "invalid_request_error", NULL, &q->m);
}

/* POST /v1/audio/speech: about 2 KB of made-up audio: the format's
 * magic bytes, a line naming the request, the input repeated. */
static void
tts(struct req *q, int arg)
{
	yajl_val r = q->root;
	const char *model = jstr(jget(r, "model")), *voice, *in, *fmt;
	struct buf *b = &q->c->r.head;
	size_t i, n = sizeof tts_fmts / sizeof tts_fmts[0];
	char line[256];

	(void)arg;
	in = jstr(jget(r, "input"));
	voice = jstr(jget(r, "voice"));
	fmt = jstr(jget(r, "response_format"));
	if (!nonempty(model)) {
		openai_400(q, "Missing required parameter: 'model'.");
		return;
	}
	if (!nonempty(in)) {
		openai_400(q, "Missing required parameter: 'input'.");
		return;
	}
	if (!nonempty(voice)) {
		openai_400(q, "Missing required parameter: 'voice'.");
		return;
	}
	for (i = 0; i < n && strcmp(tts_fmts[i].fmt, fmt ? fmt : "mp3"); i++)
		;
	if (i == n) {
		openai_400(q, "Invalid value for 'response_format': expected "
		    "one of mp3, opus, aac, flac, wav, pcm.");
		return;
	}
	buf_add(b, tts_fmts[i].magic, tts_fmts[i].mlen);
	snprintf(line, sizeof line, "MOCKTTS model=%s voice=%s format=%s\n",
	    model, voice, tts_fmts[i].fmt);
	buf_adds(b, line);
	while (b->len < 2048) {
		buf_adds(b, in);
		buf_add(b, "\n", 1);
	}
	resp_fixed(q->c, q->status, tts_fmts[i].ctype, &q->m);
}

/* POST /v1/audio/transcriptions, /v1/audio/translations: multipart
 * file and model; the text names the file and its size. */
static void
stt(struct req *q, int translate)
{
	const struct part *f = form_file(&q->f, "file");
	const char *rf = form_text(&q->f, "response_format");
	struct buf *b = &q->c->r.head;
	yajl_gen y = q->y;
	char fn[128], text[256];

	if (!q->multipart) {
		openai_400(q, "Invalid Content-Type: expected "
		    "multipart/form-data (mock)");
		return;
	}
	if (f == NULL) {
		openai_400(q, "Missing required parameter: 'file'.");
		return;
	}
	if (!nonempty(form_text(&q->f, "model"))) {
		openai_400(q, "Missing required parameter: 'model'.");
		return;
	}
	part_fname(f, fn, sizeof fn);
	snprintf(text, sizeof text, "received %s %zu bytes%s", fn, f->len,
	    translate ? " (translated to English)" : "");
	if (rf == NULL || *rf == '\0' || strcmp(rf, "json") == 0) {
		yajl_gen_map_open(y);
		w_ks(y, "text", text);
		yajl_gen_map_close(y);
	} else if (strcmp(rf, "verbose_json") == 0) {
		yajl_gen_map_open(y);
		w_ks(y, "task", translate ? "translate" : "transcribe");
		w_ks(y, "language", "english");
		w_kd(y, "duration", 1);
		w_ks(y, "text", text);
		w_str(y, "segments");
		yajl_gen_array_open(y);
		yajl_gen_map_open(y);
		w_ki(y, "id", 0);
		w_ki(y, "seek", 0);
		w_kd(y, "start", 0);
		w_kd(y, "end", 1);
		w_ks(y, "text", text);
		w_str(y, "tokens");
		yajl_gen_array_open(y);
		yajl_gen_array_close(y);
		w_kd(y, "temperature", 0);
		w_kd(y, "avg_logprob", 0);
		w_kd(y, "compression_ratio", 1);
		w_kd(y, "no_speech_prob", 0);
		yajl_gen_map_close(y);
		yajl_gen_array_close(y);
		yajl_gen_map_close(y);
	} else {
		if (strcmp(rf, "srt") == 0)
			buf_adds(b, "1\n00:00:00,000 --> 00:00:01,000\n");
		else if (strcmp(rf, "vtt") == 0)
			buf_adds(b, "WEBVTT\n\n00:00:00.000 --> "
			    "00:00:01.000\n");
		else if (strcmp(rf, "text") != 0) {
			openai_400(q, "Invalid value for 'response_format': "
			    "expected one of json, text, srt, verbose_json, "
			    "vtt.");
			return;
		}
		buf_adds(b, text);
		buf_adds(b, strcmp(rf, "text") == 0 ? "\n" : "\n\n");
		resp_fixed(q->c, q->status, "text/plain; charset=utf-8", &q->m);
		return;
	}
	q_json(q, q->status);
}

/* ------------------------------------------------------------------ */
/* Services: routing */

typedef void svc_fn(struct req *, int);

/* First match wins.  B_JSON: the body is a JSON object (or empty),
 * B_FORM: multipart/form-data, B_NONE: no body. */
static const struct route {
	const char *meth, *pat;
	int body;
	svc_fn *fn;
	int arg;
} routes[] = {
	{ "POST", "/mj/submit/imagine", B_JSON, mj_submit, MJS_IMAGINE },
	{ "POST", "/mj/submit/blend", B_JSON, mj_submit, MJS_BLEND },
	{ "POST", "/mj/submit/describe", B_JSON, mj_submit, MJS_DESCRIBE },
	{ "POST", "/mj/submit/shorten", B_JSON, mj_submit, MJS_SHORTEN },
	{ "POST", "/mj/submit/modal", B_JSON, mj_submit, MJS_MODAL },
	{ "POST", "/mj/submit/action", B_JSON, mj_submit, MJS_ACTION },
	{ "POST", "/mj/insight-face/swap", B_JSON, mj_submit, MJS_SWAP },
	{ "GET", "/mj/task/list", B_NONE, mj_list, 0 },
	{ "GET", "/mj/task/queue", B_NONE, mj_list, 1 },
	{ "POST", "/mj/task/list-by-condition", B_JSON, mj_list_by, 0 },
	{ "POST", "/mj/task/list-by-ids", B_JSON, mj_list_by, 0 },
	{ "POST", "/mj/task/query", B_JSON, mj_query, 0 },
	{ "GET", "/mj/task/*/fetch", B_NONE, mj_fetch, 0 },
	{ "POST", "/mj/task/*/cancel", B_NONE, mj_task_op, 0 },
	{ "GET", "/mj/task/*/image-seed", B_NONE, mj_task_op, 1 },
	{ "POST", "/suno/v1/music", B_JSON, suno_submit, SK_V35 },
	{ "POST", "/suno/v1/v3.0/music", B_JSON, suno_submit, SK_V30 },
	{ "POST", "/suno/v1/v3.0/music/concat", B_JSON, suno_submit,
	    SK_CONCAT },
	{ "GET", "/suno/v1/music/*", B_NONE, suno_fetch, 0 },
	{ "GET", "/suno/v1/v3.0/music/*", B_NONE, suno_fetch, 0 },
	{ "POST", "/suno/submit/music", B_JSON, sunona_submit, SK_MUSIC },
	{ "POST", "/suno/submit/lyrics", B_JSON, sunona_submit, SK_LYRICS },
	{ "GET", "/suno/fetch/*", B_NONE, sunona_fetch, 0 },
	{ "POST", "/suno/fetch", B_JSON, sunona_fetch, 1 },
	{ "GET", "/flux/v1/get_result", B_NONE, flux_result, 0 },
	{ "POST", "/flux/v1/*", B_JSON, flux_submit, 0 },
	{ "POST", "/recraft/v1/styles", B_FORM, recraft_style, 0 },
	{ "POST", "/recraft/v1/images/generations", B_JSON, recraft_gen, 0 },
	{ "POST", "/recraft/v1/images/vectorize", B_FORM, recraft_op, 1 },
	{ "POST", "/recraft/v1/images/removeBackground", B_FORM, recraft_op,
	    0 },
	{ "POST", "/recraft/v1/images/clarityUpscale", B_FORM, recraft_op,
	    0 },
	{ "POST", "/recraft/v1/images/generativeUpscale", B_FORM, recraft_op,
	    0 },
	{ "POST", "/sd/v2beta/stable-image/generate/ultra", B_FORM, sd_v2,
	    0 },
	{ "POST", "/sd/v2beta/stable-image/generate/core", B_FORM, sd_v2, 0 },
	{ "POST", "/sd/v2beta/stable-image/generate/sd3", B_FORM, sd_v2, 0 },
	{ "POST", "/sd/v1/generation/*/text-to-image", B_JSON, sd_v1, 0 },
	{ "POST", "/ideogram/generate", B_JSON, ideo_generate, 0 },
	{ "POST", "/ideogram/remix", B_FORM, ideo_form, 0 },
	{ "POST", "/ideogram/upscale", B_FORM, ideo_form, 1 },
	{ "POST", "/ideogram/describe", B_FORM, ideo_describe, 0 },
	{ "POST", "/api/ideogram/task-request", B_JSON, ideo_rev_poll, 0 },
	{ "POST", "/api/ideogram/describe", B_JSON, ideo_rev_submit,
	    IR_DESCRIBE },
	{ "POST", "/api/ideogram/generate", B_JSON, ideo_rev_submit,
	    IR_GENERATE },
	{ "POST", "/api/ideogram/blend", B_JSON, ideo_rev_submit, IR_BLEND },
	{ "POST", "/api/ideogram/upscale", B_JSON, ideo_rev_submit,
	    IR_UPSCALE },
	{ "POST", "/kling/v1/images/generations", B_JSON, kling_submit,
	    KL_IMG },
	{ "POST", "/kling/v1/videos/text2video", B_JSON, kling_submit,
	    KL_T2V },
	{ "POST", "/kling/v1/videos/image2video", B_JSON, kling_submit,
	    KL_I2V },
	{ "GET", "/kling/v1/images/generations/*", B_NONE, kling_fetch,
	    KL_IMG },
	{ "GET", "/kling/v1/videos/text2video/*", B_NONE, kling_fetch,
	    KL_T2V },
	{ "GET", "/kling/v1/videos/image2video/*", B_NONE, kling_fetch,
	    KL_I2V },
	{ "POST", "/luma/generations", B_JSON, luma_submit, 0 },
	{ "POST", "/luma/generations/", B_JSON, luma_submit, 0 },
	{ "GET", "/luma/generations/*", B_NONE, luma_fetch, 0 },
	{ "POST", "/runwayml/v1/image_to_video", B_JSON, runway_submit, 0 },
	{ "GET", "/runwayml/v1/tasks/*", B_NONE, runway_task, 0 },
	{ "DELETE", "/runwayml/v1/tasks/*", B_NONE, runway_task, 1 },
	{ "POST", "/cogvideox/*/videos/generations", B_JSON, cogv_submit, 0 },
	{ "GET", "/cogvideox/*/async-result/*", B_NONE, cogv_fetch, 0 },
	{ "POST", "/api/viggle/mix/upload-video", B_FORM, viggle_submit,
	    VG_UPVIDEO },
	{ "POST", "/api/viggle/mix/upload-image", B_FORM, viggle_submit,
	    VG_UPIMAGE },
	{ "POST", "/api/viggle/mix/generate", B_FORM, viggle_submit, VG_MIX },
	{ "POST", "/api/viggle/multi/generate", B_FORM, viggle_submit,
	    VG_MULTI },
	{ "POST", "/api/viggle/move/generate", B_FORM, viggle_submit,
	    VG_MOVE },
	{ "GET", "/api/viggle/mix/templates", B_NONE, viggle_templates, 0 },
	{ "GET", "/api/viggle/multi/templates", B_NONE, viggle_templates, 1 },
	{ "GET", "/api/viggle/task/*", B_NONE, viggle_task, 0 },
	{ "GET", "/api/viggle/credits", B_NONE, viggle_credits, 0 },
	{ "POST", "/v1/audio/speech", B_JSON, tts, 0 },
	{ "POST", "/v1/audio/transcriptions", B_FORM, stt, 0 },
	{ "POST", "/v1/audio/translations", B_FORM, stt, 1 },
};

/* Answer a request to a service route: body parsed as the route says,
 * the generic mock members applied, then the route's function.  0 when
 * no route matches (the caller answers 404). */
static int
svc_dispatch(struct req *q)
{
	const struct route *rt = NULL;
	const char *s;
	char ct[512], delim[128], eb[128];
	long long steps;
	yajl_val mo;
	size_t i;
	int unf;

	/* Midjourney's mode prefix: /mj-fast/mj/..., /{mode}/mj/... */
	if (q->plen > 1 && (q->plen < 4 || memcmp(q->path, "/mj/", 4) != 0) &&
	    (s = memchr(q->path + 1, '/', q->plen - 1)) != NULL &&
	    (size_t)(q->path + q->plen - s) >= 4 && memcmp(s, "/mj/", 4) == 0) {
		q->plen -= s - q->path;
		q->path = s;
	}
	for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (path_is(q->meth, q->mlen, routes[i].meth) &&
		    route_match(q, routes[i].pat)) {
			rt = &routes[i];
			break;
		}
	if (rt == NULL)
		return 0;
	if (rt->body == B_JSON && q->blen > 0) {
		if ((q->root = json_body(q->c, q->body, q->blen)) == NULL)
			return 1;
	} else if (rt->body == B_FORM &&
	    req_header(q, "content-type", ct, sizeof ct) &&
	    form_delim(ct, delim, sizeof delim)) {
		q->multipart = 1;
		form_parse(&q->f, q->body, q->blen, delim);
		if (q->f.bad) {
			answer_error(q->c, 400, "We could not parse the "
			    "multipart/form-data body of your request. "
			    "(mock)", "invalid_request_error", NULL, &nomock);
			goto out;
		}
		stats_form(&q->f);
		if ((s = form_text(&q->f, "mock")) != NULL &&
		    json_depth(s, strlen(s)) <= MAX_DEPTH)
			q->mtree = yajl_tree_parse(s, eb, sizeof eb);
	}
	mo = q->mtree ? q->mtree : jget(q->root, "mock");
	mock_parse(&q->m, mo);
	tmock_parse(&q->tm, mo);
	if (mock_answer(q->c, &q->m, &q->status, &unf))
		goto out;
	if (unf) {
		steps = q->tm.steps;
		tmock_parse(&q->tm, NULL);
		q->tm.steps = steps;
	}
	if ((q->y = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	rt->fn(q, rt->arg);
out:
	yajl_tree_free(q->root);
	yajl_tree_free(q->mtree);
	free(q->f.p);
	if (q->y)
		yajl_gen_free(q->y);
	return 1;
}

static int
path_ends(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s);

	return n >= k && strncasecmp(p + n - k, s, k) == 0;
}

/* GET /files/...: a tiny file of the type the extension names, a PNG
 * for any other. */
static void
files_answer(struct conn *c, const char *path, size_t plen)
{
	static const char mp3[] = "ID3\x04\0\0\0\0\0\0" "MOCKMP3\n";
	static const char mp4[] = "\0\0\0\x18" "ftypmp42\0\0\0\0mp42isom"
	    "MOCKMP4\n";
	struct buf *b = &c->r.head;
	const char *ct = "image/png";

	if (path_ends(path, plen, ".svg")) {
		buf_add(b, svg_img, sizeof svg_img - 1);
		ct = "image/svg+xml";
	} else if (path_ends(path, plen, ".mp3")) {
		buf_add(b, mp3, sizeof mp3 - 1);
		ct = "audio/mpeg";
	} else if (path_ends(path, plen, ".mp4")) {
		buf_add(b, mp4, sizeof mp4 - 1);
		ct = "video/mp4";
	} else if (path_ends(path, plen, ".jpg") ||
	    path_ends(path, plen, ".jpeg")) {
		buf_add(b, jpeg_img, sizeof jpeg_img);
		ct = "image/jpeg";
	} else if (path_ends(path, plen, ".webp")) {
		buf_add(b, webp_img, sizeof webp_img);
		ct = "image/webp";
	} else
		buf_add(b, png, sizeof png);
	resp_fixed(c, 200, ct, &nomock);
}

/* Answer the complete request now in the input: head at p (hlen bytes),
 * body at p + hlen (blen bytes, NUL written after it for the parse). */
static void
dispatch(struct conn *c, char *p)
{
	char *meth = p + c->moff, *path = p + c->toff, *q;
	const char *query = "";
	char msg[512];
	size_t plen = c->tlen, mlen = c->mlen, qlen = 0;
	unsigned long long seq;
	struct req rq;
	yajl_val root;
	struct mock m;
	int ep, post, status, unf;

	resp_reset(c);
	if (plen > 7 && strncasecmp(path, "http://", 7) == 0 &&
	    (q = memchr(path + 7, '/', plen - 7)) != NULL) {
		plen -= q - path;
		path = q;
	}
	if ((q = memchr(path, '?', plen)) != NULL) {
		query = q + 1;
		qlen = plen - (q + 1 - path);
		plen = q - path;
	}
	post = path_is(meth, mlen, "POST");
	if (plen >= 6 && memcmp(path, "/mock/", 6) == 0) {
		if (path_is(path, plen, "/mock/stats") &&
		    path_is(meth, mlen, "GET")) {
			stats_json(&c->r.head);
			resp_fixed(c, 200, "application/json", &nomock);
			return;
		}
		if (path_is(path, plen, "/mock/reset") && post) {
			stats_clear();
			buf_adds(&c->r.head, "{\"reset\":true}");
			resp_fixed(c, 200, "application/json", &nomock);
			return;
		}
		goto notfound;
	}

	seq = ++g.requests;
	g.starts[g.nstarts++ % STARTS_MAX] = mono_ms() - g.t0;
	g.last_head.len = 0;
	buf_add(&g.last_head, p + c->hoff, c->lstart - c->hoff);
	g.last_body = c->blen;
	g.last_meth.len = g.last_path.len = g.last_query.len = 0;
	buf_add(&g.last_meth, meth, mlen);
	buf_add(&g.last_path, path, plen);
	buf_add(&g.last_query, query, qlen);
	g.have_form = 0;

	if (plen >= 7 && memcmp(path, "/files/", 7) == 0 &&
	    path_is(meth, mlen, "GET")) {
		files_answer(c, path, plen);
		return;
	}
	if (g.key && !c->authok) {
		answer_error(c, 401, "invalid api key",
		    "invalid_request_error", "invalid_api_key", &nomock);
		return;
	}
	ep = !post ? 0 :
	    path_is(path, plen, "/v1/chat/completions") ? 1 :
	    path_is(path, plen, "/v1/completions") ? 2 :
	    path_is(path, plen, "/v1/embeddings") ? 3 :
	    path_is(path, plen, "/v1/images/generations") ? 4 : 0;
	if (ep == 0) {
		memset(&rq, 0, sizeof rq);
		rq.c = c;
		rq.meth = meth;
		rq.mlen = mlen;
		rq.path = path;
		rq.plen = plen;
		rq.query = query;
		rq.qlen = qlen;
		rq.head = p + c->hoff;
		rq.hlen = c->lstart - c->hoff;
		rq.body = p + c->hlen;
		rq.blen = c->blen;
		rq.seq = seq;
		if (svc_dispatch(&rq))
			return;
		goto notfound;
	}

	if ((root = json_body(c, p + c->hlen, c->blen)) == NULL)
		return;
	mock_parse(&m, jget(root, "mock"));
	if (mock_answer(c, &m, &status, &unf))
		;
	else if (ep == 1)
		do_chat(c, root, &m, status, seq);
	else if (ep == 2)
		do_completion(c, root, &m, status, seq);
	else if (ep == 3)
		do_embeddings(c, root, &m, status);
	else
		do_images(c, root, &m, status, seq);
	yajl_tree_free(root);
	return;

notfound:
	snprintf(msg, sizeof msg, "Invalid URL (%.*s %.*s)",
	    (int)(mlen > 32 ? 32 : mlen), meth,
	    (int)(plen > 400 ? 400 : plen), path);
	answer_error(c, 404, msg, "invalid_request_error", NULL, &nomock);
}

/* ------------------------------------------------------------------ */
/* Requests */

/* A request the server cannot read: answer with an error and close. */
static int
req_fail(struct conn *c, int status, const char *msg)
{
	resp_reset(c);
	c->r.s.close = 1;
	answer_error(c, status, msg, "invalid_request_error", NULL, &nomock);
	c->rq = RQ_NONE;
	return 1;
}

static int
hdr_is(const char *n, size_t nl, const char *s)
{
	return strlen(s) == nl && strncasecmp(n, s, nl) == 0;
}

static int
has_token(const char *v, size_t vl, const char *tok)
{
	size_t n = strlen(tok), i;

	for (i = 0; i + n <= vl; i++)
		if (strncasecmp(v + i, tok, n) == 0)
			return 1;
	return 0;
}

/* Parse a complete request head (hlen bytes at p). */
static int
req_parse_head(struct conn *c, char *p)
{
	char *e, *line, *end = p + c->lstart, *colon, *v;
	size_t n, nl, vl, i, need;
	unsigned long long cl = 0;
	int have_cl = 0;

	e = memchr(p, '\n', c->hlen);
	n = e - p;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	for (i = 0; i < n && p[i] >= 'A' && p[i] <= 'Z'; i++)
		;
	if (i == 0 || i >= n || p[i] != ' ')
		return req_fail(c, 400, "malformed request line");
	c->moff = 0;
	c->mlen = i;
	c->toff = ++i;
	for (; i < n && p[i] != ' '; i++)
		;
	c->tlen = i - c->toff;
	if (c->tlen == 0 || i >= n || n - i != 9 ||
	    memcmp(p + i + 1, "HTTP/1.", 7) != 0 ||
	    (p[n - 1] != '0' && p[n - 1] != '1'))
		return req_fail(c, 400, "malformed request line");
	c->http10 = p[n - 1] == '0';
	c->conn_close = c->chunked = c->expect = 0;
	c->authok = g.key == NULL;
	c->hoff = e + 1 - p;
	for (line = e + 1; line < end; line = e + 1) {
		e = memchr(line, '\n', end - line);
		if ((colon = memchr(line, ':', e - line)) == NULL)
			continue;
		nl = colon - line;
		for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		for (vl = e - v; vl > 0 && (v[vl - 1] == '\r' ||
		    v[vl - 1] == ' ' || v[vl - 1] == '\t'); vl--)
			;
		if (hdr_is(line, nl, "content-length")) {
			for (i = 0, cl = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9')
					return req_fail(c, 400,
					    "bad Content-Length");
				cl = cl * 10 + (v[i] - '0');
				if (cl > MAX_BODY)
					cl = MAX_BODY + 1;	/* saturate */
			}
			if (vl == 0)
				return req_fail(c, 400, "bad Content-Length");
			have_cl = 1;
		} else if (hdr_is(line, nl, "transfer-encoding"))
			c->chunked = has_token(v, vl, "chunked");
		else if (hdr_is(line, nl, "connection"))
			c->conn_close |= has_token(v, vl, "close");
		else if (hdr_is(line, nl, "expect"))
			c->expect = has_token(v, vl, "100-continue");
		else if (hdr_is(line, nl, "authorization") && g.key)
			c->authok = vl == 7 + strlen(g.key) &&
			    strncasecmp(v, "Bearer ", 7) == 0 &&
			    memcmp(v + 7, g.key, vl - 7) == 0;
	}
	c->blen = 0;
	if (c->chunked) {
		c->rq = RQ_CSIZE;
		c->bpos = c->hlen;
	} else if (have_cl && cl > 0) {
		if (cl > MAX_BODY)
			return req_fail(c, 413, "request body too large");
		c->clen = cl;
		c->rq = RQ_BODY;
		/* room for the whole body at once: fewer reads, no copies */
		need = c->ipos + c->hlen + cl;
		if (need > c->in.len && buf_try(&c->in, need - c->in.len) < 0)
			return req_fail(c, 413, "request body too large");
	} else {
		c->clen = 0;
		c->rq = RQ_BODY;
	}
	if (c->expect && !c->http10 && (c->chunked ||
	    c->in.len - c->ipos - c->hlen < c->clen))
		buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

/* Dispatch the request whose raw bytes end at bpos, then get ready for
 * the next one. */
static void
req_done(struct conn *c)
{
	dispatch(c, c->in.p + c->ipos);
	c->ipos += c->bpos;
	c->rq = RQ_HEAD;
	c->lstart = c->scan = 0;
}

/* Parse what has arrived of the current request; 1 when an answer was
 * started (the request was dispatched or refused), 0 when more input
 * is needed. */
static int
req_step(struct conn *c)
{
	char *p, *q;
	size_t n, k;
	unsigned long long sz;

	for (;;) {
		p = c->in.p + c->ipos;
		n = c->in.len - c->ipos;
		switch (c->rq) {
		case RQ_HEAD:
			while (c->lstart == 0 && n > 0 &&
			    (p[0] == '\r' || p[0] == '\n')) {
				c->ipos++;
				p++;
				n--;
			}
			if (n == 0)
				return 0;
			q = memchr(p + c->scan, '\n', n - c->scan);
			if (q == NULL) {
				c->scan = n;
				if (n > MAX_HEAD)
					return req_fail(c, 431,
					    "request head too large");
				return 0;
			}
			k = q - p;
			if (k == c->lstart ||
			    (k == c->lstart + 1 && p[c->lstart] == '\r')) {
				c->hlen = k + 1;
				if (c->lstart == 0)
					return req_fail(c, 400, "no request");
				if (req_parse_head(c, p))
					return 1;
				continue;
			}
			c->lstart = c->scan = k + 1;
			if (c->lstart > MAX_HEAD)
				return req_fail(c, 431,
				    "request head too large");
			continue;
		case RQ_BODY:
			if (n - c->hlen < c->clen)
				return 0;
			c->blen = c->clen;
			c->bpos = c->hlen + c->clen;
			req_done(c);
			return 1;
		case RQ_CSIZE:
			q = memchr(p + c->bpos, '\n', n - c->bpos);
			if (q == NULL) {
				if (n - c->bpos > 1024)
					return req_fail(c, 400,
					    "bad chunk size");
				return 0;
			}
			for (k = c->bpos, sz = 0; p + k < q; k++) {
				if (p[k] >= '0' && p[k] <= '9')
					sz = sz * 16 + p[k] - '0';
				else if ((p[k] | 32) >= 'a' &&
				    (p[k] | 32) <= 'f')
					sz = sz * 16 + (p[k] | 32) - 'a' + 10;
				else
					break;
				if (sz > MAX_BODY)
					return req_fail(c, 413,
					    "request body too large");
			}
			if (k == c->bpos || (p + k < q && p[k] != ';' &&
			    p[k] != '\r' && p[k] != ' ' && p[k] != '\t'))
				return req_fail(c, 400, "bad chunk size");
			c->bpos = q - p + 1;
			if (sz > MAX_BODY - c->blen)
				return req_fail(c, 413,
				    "request body too large");
			c->csize = sz;
			c->rq = sz ? RQ_CDATA : RQ_TRAILER;
			continue;
		case RQ_CDATA:
			if ((k = n - c->bpos) == 0)
				return 0;
			if (k > c->csize)
				k = c->csize;
			/* decode in place: the body stays contiguous */
			if (c->hlen + c->blen != c->bpos)
				memmove(p + c->hlen + c->blen, p + c->bpos, k);
			c->blen += k;
			c->bpos += k;
			if ((c->csize -= k) == 0)
				c->rq = RQ_CCRLF;
			continue;
		case RQ_CCRLF:
			if (n - c->bpos < 1 || (p[c->bpos] == '\r' &&
			    n - c->bpos < 2))
				return 0;
			if (p[c->bpos] == '\n')
				c->bpos++;
			else if (p[c->bpos] == '\r' && p[c->bpos + 1] == '\n')
				c->bpos += 2;
			else
				return req_fail(c, 400, "bad chunk end");
			c->rq = RQ_CSIZE;
			continue;
		case RQ_TRAILER:
			q = memchr(p + c->bpos, '\n', n - c->bpos);
			if (q == NULL) {
				if (n - c->bpos > MAX_HEAD)
					return req_fail(c, 431,
					    "trailer too large");
				return 0;
			}
			k = q - p;
			if (k == c->bpos || (k == c->bpos + 1 &&
			    p[c->bpos] == '\r')) {
				c->bpos = k + 1;
				req_done(c);
				return 1;
			}
			c->bpos = k + 1;
			continue;
		default:
			return 0;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Connections */

static void
conn_wake(struct conn *c, int64_t t)
{
	if (c->wake == 0 || t < c->wake)
		c->wake = t;
}

/* Room for one more connection in the table and the poll set. */
static void
conns_reserve(void)
{
	struct conn **cs;
	struct pollfd *pfd;
	size_t cap;

	if (g.pfd == NULL || g.nconns == g.capconns) {
		cap = g.capconns ? g.capconns * 2 : 64;
		if ((cs = realloc(g.conns, cap * sizeof *cs)) == NULL)
			errx(2, "out of memory");
		g.conns = cs;
		if ((pfd = realloc(g.pfd, (cap + 2) * sizeof *pfd)) == NULL)
			errx(2, "out of memory");
		g.pfd = pfd;
		g.capconns = cap;
	}
}

/* Track a freshly accepted client socket. */
static void
conn_new(int fd)
{
	struct conn *c;

	conns_reserve();
	if ((c = calloc(1, sizeof *c)) == NULL)
		errx(2, "out of memory");
	c->fd = fd;
	g.conns[g.nconns++] = c;
}

static void
conn_free(struct conn *c)
{
	int i;

	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->r.hdr);
	buf_free(&c->r.stage);
	buf_free(&c->r.head);
	buf_free(&c->r.tail);
	buf_free(&c->r.pfx);
	buf_free(&c->r.rtext);
	buf_free(&c->r.tname);
	buf_free(&c->r.targs);
	buf_free(&c->r.xhdr);
	for (i = 0; i < MAX_CHOICES; i++)
		buf_free(&c->r.text[i]);
	free(c);
}

/* Read what the client sent; past the answers (linger, stall) it is
 * thrown away.  Sets rd_eof on EOF, dead on errors. */
static void
conn_read(struct conn *c)
{
	ssize_t n;
	size_t room;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		if (c->state != CS_OPEN) {
			room = sizeof g.scratch;
			n = read(c->fd, g.scratch, room);
		} else {
			if (c->ipos > 0) {
				memmove(c->in.p, c->in.p + c->ipos,
				    c->in.len - c->ipos);
				c->in.len -= c->ipos;
				c->ipos = 0;
			}
			if (c->in.len == 0 && c->in.cap > IN_CAP)
				buf_trim(&c->in, 0);
			if (buf_try(&c->in, READ_SZ) < 0) {
				c->dead = 1;
				return;
			}
			room = c->in.cap - c->in.len - 1;
			n = read(c->fd, c->in.p + c->in.len, room);
		}
		if (n > 0) {
			if (c->state == CS_OPEN) {
				c->in.len += n;
				c->in.p[c->in.len] = '\0';
			}
			if ((size_t)n < room)
				return;
			continue;
		}
		if (n == 0) {
			c->rd_eof = 1;
			if (c->state != CS_OPEN)
				c->dead = 1;
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = 1;
		return;
	}
}

/* Write pending output: 1 when all is out, 0 on EAGAIN, -1 on error. */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->opos < c->out.len) {
		n = write(c->fd, c->out.p + c->opos, c->out.len - c->opos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->opos += n;
	}
	c->opos = 0;
	buf_trim(&c->out, TRIM_CAP);
	return 1;
}

/* Produce output until there is enough to write, a piece must go out
 * on its own, or nothing more can be made now. */
static int
conn_produce(struct conn *c)
{
	for (;;) {
		if (c->closing != CL_NONE)
			return P_IDLE;
		if (!c->r.s.active) {
			if (!req_step(c)) {
				if (c->rd_eof)
					c->closing = CL_GRACEFUL;
				return P_IDLE;
			}
			continue;
		}
		if (c->out.len - c->opos >= LOWAT)
			return P_FULL;
		switch (resp_fill(c)) {
		case F_FLUSH:
			return P_FLUSH;
		case F_BLOCK:
			return P_IDLE;
		case F_DONE:
			resp_end(c);
			break;
		}
	}
}

/* All output is written and the connection is to end as c->closing
 * says. */
static void
conn_finish(struct conn *c)
{
	struct linger l = { 1, 0 };

	switch (c->closing) {
	case CL_GRACEFUL:
		if (c->rd_eof) {
			c->dead = 1;
			break;
		}
		shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		c->wake = g.now + LINGER_MS;
		break;
	case CL_ABRUPT:
		shutdown(c->fd, SHUT_RDWR);
		c->dead = 1;
		break;
	case CL_RST:
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		c->dead = 1;
		break;
	case CL_STALL:
		c->state = CS_STALL;
		c->wake = 0;
		break;
	}
}

/* Make all the progress possible on c without blocking. */
static void
conn_run(struct conn *c)
{
	int budget, why, rv;

	if (c->state != CS_OPEN || c->dead)
		return;
	for (budget = 64; budget > 0; budget--) {
		why = conn_produce(c);
		if (c->opos < c->out.len) {
			if ((rv = conn_flush(c)) < 0) {
				c->dead = 1;
				return;
			}
			if (rv == 0)
				return;
		}
		if (c->closing != CL_NONE) {
			conn_finish(c);
			return;
		}
		if (why == P_IDLE)
			return;
	}
	conn_wake(c, g.now);
}

/* What to poll c for: read unless it is done reading or has enough
 * pipelined input queued, write while output is pending. */
static short
conn_events(struct conn *c)
{
	short ev = 0;

	if (c->state != CS_OPEN)
		return c->rd_eof ? 0 : POLLIN;
	if (!c->rd_eof && c->closing == CL_NONE &&
	    (!c->r.s.active || c->in.len - c->ipos < IN_CAP))
		ev |= POLLIN;
	if (c->opos < c->out.len)
		ev |= POLLOUT;
	return ev;
}

/* Handle poll results and a due timer for c. */
static void
conn_event(struct conn *c, short re)
{
	if (c->wake && c->wake <= g.now) {
		c->wake = 0;
		if (c->state == CS_LINGER) {
			c->dead = 1;
			return;
		}
	}
	if (re & (POLLERR | POLLHUP | POLLNVAL)) {
		c->dead = 1;
		return;
	}
	if (re & POLLIN) {
		conn_read(c);
		if (c->dead)
			return;
	}
	conn_run(c);
}

/* ------------------------------------------------------------------ */
/* Main loop */

/* Accept what is queued; on fd exhaustion stop accepting for a while
 * rather than spin. */
static void
do_accept(void)
{
	int fd, i, one = 1;

	for (i = 0; i < 256; i++) {
		if ((fd = accept(g.lfd, NULL, NULL)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				warn("accept");
				g.accept_at = g.now + 100;
			}
			return;
		}
		if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			warn("fcntl");
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_new(fd);
	}
}

/* The event loop: poll every socket, timers as the poll timeout,
 * until SIGTERM or SIGINT. */
static void
serve(void)
{
	struct conn *c;
	size_t i, n;
	int64_t t;
	int timeout, rv;
	char junk[64];

	while (!quit) {
		g.now = mono_ms();
		timeout = -1;
		n = g.nconns;
		g.pfd[0].fd = g.lfd;
		g.pfd[0].events = g.now >= g.accept_at ? POLLIN : 0;
		if (g.now < g.accept_at)
			timeout = g.accept_at - g.now;
		g.pfd[1].fd = g.sigfd[0];
		g.pfd[1].events = POLLIN;
		for (i = 0; i < n; i++) {
			c = g.conns[i];
			g.pfd[i + 2].fd = c->fd;
			g.pfd[i + 2].events = conn_events(c);
			g.pfd[i + 2].revents = 0;
			if (c->wake) {
				t = c->wake - g.now;
				if (t < 0)
					t = 0;
				if (t > INT_MAX)
					t = INT_MAX;
				if (timeout < 0 || t < timeout)
					timeout = t;
			}
		}
		rv = poll(g.pfd, n + 2, timeout);
		if (rv < 0) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (g.pfd[1].revents) {
			while (read(g.sigfd[0], junk, sizeof junk) > 0)
				;
			continue;
		}
		g.now = mono_ms();
		for (i = 0; i < n; i++) {
			c = g.conns[i];
			if (g.pfd[i + 2].revents ||
			    (c->wake && c->wake <= g.now))
				conn_event(c, g.pfd[i + 2].revents);
		}
		for (i = 0; i < g.nconns; ) {
			if (g.conns[i]->dead) {
				conn_free(g.conns[i]);
				g.conns[i] = g.conns[--g.nconns];
			} else
				i++;
		}
		if (g.pfd[0].revents & POLLIN)
			do_accept();
	}
}

/* Wake the poll loop through the self-pipe. */
static void
on_signal(int sig)
{
	int e = errno;

	(void)sig;
	quit = 1;
	if (write(g.sigfd[1], "x", 1) < 0) {
		/* the pipe is full: a wake-up is pending anyway */
	}
	errno = e;
}

/* Write the port to path atomically (temp file + rename). */
static void
write_portfile(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof tmp)
		errx(1, "'%s': file name too long", path);
	if ((f = fopen(tmp, "w")) == NULL)
		err(1, "cannot open '%s'", tmp);
	fprintf(f, "%d\n", g.port);
	if (fflush(f) == EOF || ferror(f)) {
		fclose(f);
		unlink(tmp);
		err(1, "cannot write '%s'", tmp);
	}
	if (fclose(f) == EOF)
		err(1, "cannot write '%s'", tmp);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		err(1, "cannot rename '%s' to '%s'", tmp, path);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: mockvman [-f portfile] [-p port]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	struct sigaction sa;
	struct rlimit rl;
	const char *portfile = NULL;
	char *end;
	long port = 0;
	int ch, one = 1, i;
	size_t k;

	while ((ch = getopt(argc, argv, "f:p:")) != -1) {
		switch (ch) {
		case 'f':
			portfile = optarg;
			break;
		case 'p':
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || port < 0 ||
			    port > 65535)
				errx(1, "bad port '%s'", optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	g.key = getenv("MOCK_KEY");
	if (g.key && !*g.key)
		g.key = NULL;
	g.t0 = mono_ms();
	g.ids_tail = &g.ids;
	g.tasks_tail = &g.tasks;
	memset(g.xs, 'x', sizeof g.xs);
	conns_reserve();

	if ((g.lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		err(1, "socket");
	setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(g.lfd, (struct sockaddr *)&sin, sizeof sin) < 0)
		err(1, "cannot bind 127.0.0.1:%ld", port);
	if (listen(g.lfd, 4096) < 0)
		err(1, "listen");
	if (fcntl(g.lfd, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(g.lfd, F_SETFD, FD_CLOEXEC) < 0)
		err(1, "fcntl");
	if (getsockname(g.lfd, (struct sockaddr *)&sin, &sl) < 0)
		err(1, "getsockname");
	g.port = ntohs(sin.sin_port);

	if (pipe(g.sigfd) < 0)
		err(1, "pipe");
	for (i = 0; i < 2; i++)
		if (fcntl(g.sigfd[i], F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(g.sigfd[i], F_SETFD, FD_CLOEXEC) < 0)
			err(1, "fcntl");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (portfile)
		write_portfile(portfile);
	printf("%d\n", g.port);
	if (fflush(stdout) == EOF)
		err(1, "stdout");

	serve();

	for (k = 0; k < g.nconns; k++)
		conn_free(g.conns[k]);
	free(g.conns);
	free(g.pfd);
	stats_clear();
	tasks_free();
	close(g.lfd);
	close(g.sigfd[0]);
	close(g.sigfd[1]);
	return 0;
}
