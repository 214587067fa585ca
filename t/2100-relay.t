#!/bin/sh
# The relay's real shapes: what new-api (the relay VMAN runs) sends, as
# ../shared/relay-facts.md has it from its source, and vmanjl following
# it.  Tasks: Kling in new-api's shape and in its own, a result URL left
# in fail_reason, the generic /v1/video/generations, the OpenAI-style
# /v1/videos (three places for the URL, the mp4 itself fetched), the
# Midjourney video URLs, image objects, upload row and queue-full code.
# Answers: the request id header, the relay's own refusals, its 429 with
# no body, the dashboard page on a path it does not serve.  Streams:
# pings before the first event, a bare JSON error after them, [DONE]
# after an upstream cut-off, a stream complete at [DONE] kept whatever
# breaks after it, the usage chunk the relay adds.  And
# --endpoints saying what each row rests on.
. "$(dirname "$0")/lib.sh"
start_mock

# "vendor_status progress" of every progress record after the submit of
# file $1, one a line.
progress_of () {
	jq -r "select(.type==\"progress\" and .task.polls > 0) |
	    \"\(.task.vendor_status) \(.task.progress)\"" "$1"
}

URL_RE="^http://127\\\\.0\\\\.0\\\\.1:$PORT/files/"

# ---------------------------------------------------------------------
# Kling: new-api's video object and task envelope, and Kling's own shape

test_expect_success 'Kling through new-api: video object, envelope polls, the video URL' '
	echo "{\"custom_id\":\"k\",\"url\":\"/kling/v1/videos/text2video\",\"body\":{\"model_name\":\"kling-v1\",\"prompt\":\"a dog\",\"mock\":{\"steps\":3}}}" >in &&
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	id=$(jq -r "select(.type==\"response\") | .task.id" out) &&
	test -n "$id" &&
	printf "%s\n" "QUEUED 0" "IN_PROGRESS 0.25" "IN_PROGRESS 0.5" \
	    "IN_PROGRESS 0.75" >expect &&
	progress_of out >actual &&
	test_cmp expect actual &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .task.vendor_status==\"SUCCESS\" and .task.progress==1 and
	    .body.code==\"success\" and .body.data.status==\"SUCCESS\" and
	    .body.data.progress==\"100%\" and
	    .task.urls==[.body.data.result_url] and
	    (.task.urls[0] | test(\"$URL_RE\" + \"$id-0\\\\.mp4\$\")) and
	    .attempts==.task.polls + 1" out &&
	test $(polls_of "$id") -eq 5
'

test_expect_success 'Kling in its own shape (older relays, forks): the same result' '
	echo "{\"custom_id\":\"kv\",\"url\":\"/kling/v1/videos/text2video\",\"body\":{\"prompt\":\"a dog\",\"mock\":{\"steps\":1,\"shape\":\"vendor\"}}}" >in &&
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .task.vendor_status==\"succeed\" and .body.code==0 and
	    .body.data.task_status==\"succeed\" and
	    .task.urls==[.body.data.task_result.videos[].url] and
	    (.task.urls[0] | endswith(\"-0.mp4\"))" out &&
	progress_of out >actual &&
	printf "%s\n" "submitted null" "processing null" >expect &&
	test_cmp expect actual
'

test_expect_success 'a descriptor of its own with alternatives follows both Kling shapes' '
	d="\"task\":{\"id\":[\"data.task_id\",\"id\"],\"status\":[\"task_status\",\"status\"],\"done\":[\"succeed\",\"SUCCESS\"],\"failed\":[\"failed\",\"FAILURE\"],\"urls\":[\"task_result.videos.*.url\",\"result_url\"],\"error\":\"task_status_msg|fail_reason\"}" &&
	u="\"url\":\"/kling/v1/videos/text2video\"" &&
	cat >in <<-EOF &&
	{"custom_id":"relay",$u,"body":{"prompt":"a dog","mock":{"steps":1}},$d}
	{"custom_id":"vendor",$u,"body":{"prompt":"a dog","mock":{"steps":1,"shape":"vendor"}},$d}
	{"custom_id":"failed",$u,"body":{"prompt":"a dog","mock":{"steps":1,"task_fail":true}},$d}
	EOF
	exits 1 -q --poll-interval 0.02 in >out &&
	has ".custom_id==\"relay\" and .type==\"response\" and
	    .task.vendor_status==\"SUCCESS\" and
	    .task.urls==[.body.data.result_url]" out &&
	has ".custom_id==\"vendor\" and .type==\"response\" and
	    .task.vendor_status==\"succeed\" and
	    .task.urls==[.body.data.task_result.videos[].url]" out &&
	has ".custom_id==\"failed\" and .type==\"error\" and
	    .error.type==\"task_failed\" and .task.vendor_status==\"FAILURE\" and
	    (.error.message | endswith(\": mock: task failed\"))" out
'

test_expect_success 'a result URL left in fail_reason (new-api before 2026) is a result' '
	cat >in <<-\EOF &&
	{"custom_id":"k","url":"/kling/v1/videos/text2video","body":{"prompt":"a dog","mock":{"steps":1,"legacy_url":true}}}
	{"custom_id":"v","url":"/v1/video/generations","body":{"model":"vidu","prompt":"a dog","mock":{"steps":1,"legacy_url":true}}}
	EOF
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	test $(count ".type==\"response\"" out) -eq 2 &&
	all ".type==\"response\"" ".task.status==\"succeeded\" and
	    (.body.data | has(\"result_url\") | not) and
	    .task.urls==[.body.data.fail_reason] and
	    (.task.urls[0] | test(\"$URL_RE\"))" out
'

test_expect_success 'a Kling task the relay does not know: task_not_exist, polled again' '
	echo "{\"custom_id\":\"nf\",\"url\":\"/kling/v1/videos/text2video\",\"body\":{\"prompt\":\"a dog\",\"mock\":{\"steps\":1,\"not_found_polls\":1}}}" >in &&
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	has ".type==\"response\" and .task.status==\"succeeded\"" out &&
	curl -s "$VMAN_BASE_URL/kling/v1/videos/text2video/kling-0" >nx &&
	jq -e ". == {code: \"task_not_exist\", message: \"task_not_exist\",
	    data: null}" nx
'

# ---------------------------------------------------------------------
# new-api's generic video tasks

test_expect_success '/v1/video/generations: the envelope from NOT_START to the result_url' '
	echo "{\"custom_id\":\"vg\",\"url\":\"/v1/video/generations\",\"body\":{\"model\":\"vidu\",\"prompt\":\"a dog\",\"mock\":{\"steps\":3}}}" >in &&
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	id=$(jq -r "select(.type==\"response\") | .task.id" out) &&
	case $id in task_*) ;; *) false ;; esac &&
	printf "%s\n" "NOT_START 0" "SUBMITTED 0" "QUEUED 0" \
	    "IN_PROGRESS 0.25" "IN_PROGRESS 0.5" "IN_PROGRESS 0.75" >expect &&
	progress_of out >actual &&
	test_cmp expect actual &&
	has ".type==\"response\" and .task.vendor_status==\"SUCCESS\" and
	    .task.progress==1 and .task.urls==[.body.data.result_url] and
	    (.task.urls[0] | test(\"$URL_RE\" + \"$id\\\\.mp4\$\")) and
	    .task.polls==7 and .attempts==8" out
'

test_expect_success '/v1/video/generations: a failed task is task_failed with its reason' '
	echo "{\"custom_id\":\"vf\",\"url\":\"/v1/video/generations\",\"body\":{\"model\":\"vidu\",\"prompt\":\"a dog\",\"mock\":{\"steps\":1,\"task_fail\":true}}}" >in &&
	exits 1 -q --poll-interval 0.02 in >out &&
	has ".type==\"error\" and .error.type==\"task_failed\" and
	    .error.code==\"FAILURE\" and
	    (.error.message | endswith(\": mock: task failed\")) and
	    .task.status==\"failed\" and .task.urls==[]" out
'

# ---------------------------------------------------------------------
# OpenAI-style videos

test_expect_success '/v1/videos: the video URL in metadata, output or at the top' '
	for at in metadata output top; do
		echo "{\"custom_id\":\"$at\",\"url\":\"/v1/videos\",\"body\":{\"model\":\"sora-2\",\"prompt\":\"a dog\",\"mock\":{\"steps\":2,\"video_url_at\":\"$at\"}}}" ||
		return 1
	done >in &&
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	test $(count ".type==\"response\"" out) -eq 3 &&
	all ".type==\"response\"" ".task.status==\"succeeded\" and
	    .task.vendor_status==\"completed\" and .task.progress==1 and
	    (.task.urls | length)==1 and .task.id as \$i |
	    (.task.urls[0] | test(\"$URL_RE\" + \$i + \"\\\\.mp4\$\"))" out &&
	has ".custom_id==\"metadata\" and .task.urls==[.task.raw.metadata.url]" out &&
	has ".custom_id==\"output\" and .task.urls==[.task.raw.output.video_url]" out &&
	has ".custom_id==\"top\" and .task.urls==[.task.raw.video_url]" out &&
	progress_of out | sort -u >actual &&
	printf "%s\n" "in_progress 0.33" "in_progress 0.66" "queued 0" >expect &&
	test_cmp expect actual
'

test_expect_success '/v1/videos with an output file: the mp4 fetched from .../content' '
	cat >in <<-\EOF &&
	{"custom_id":"f","url":"/v1/videos","body":{"prompt":"a dog","mock":{"steps":1}},"output":"vids/dog.mp4"}
	EOF
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	id=$(jq -r "select(.type==\"response\") | .task.id" out) &&
	curl -s "$VMAN_BASE_URL/v1/videos/$id/content" >expect.mp4 &&
	test -s expect.mp4 &&
	cmp expect.mp4 vids/dog.mp4 &&
	has ".type==\"response\" and .file==\"vids/dog.mp4\" and
	    .bytes==$(wc -c <expect.mp4) and .content_type==\"video/mp4\" and
	    .task.status==\"succeeded\" and .task.id==\"$id\" and
	    (.task.urls | length)==1" out &&
	mock_stats >stats &&
	jq -e ".polls[\"$id\"]==3" stats
'

test_expect_success '/v1/videos: a multipart submit; a failure carries error.message' '
	printf "PNG" >ref.png &&
	cat >in <<-\EOF &&
	{"custom_id":"mf","url":"/v1/videos","files":{"input_reference":"ref.png"},"body":{"prompt":"a dog","model":"sora-2-pro","mock":{"steps":1,"task_fail":true}}}
	EOF
	exits 1 -q --poll-interval 0.02 in >out &&
	has ".type==\"error\" and .error.type==\"task_failed\" and
	    .error.code==\"failed\" and
	    (.error.message | endswith(\": mock: task failed\")) and
	    .task.raw.model==\"sora-2-pro\" and
	    .task.raw.error.code==\"video_generation_failed\"" out
'

# ---------------------------------------------------------------------
# Midjourney

test_expect_success 'Midjourney video: videoUrl and videoUrls in the task URLs' '
	echo "{\"custom_id\":\"mv\",\"url\":\"/mj/submit/video\",\"body\":{\"prompt\":\"a cat\",\"mock\":{\"steps\":1}}}" >in &&
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	has ".type==\"response\" and .body.action==\"VIDEO\" and
	    (.task.urls | length)==3 and
	    (.task.urls[0] | endswith(\".png\")) and
	    .task.urls[1:]==[.body.videoUrls[].url] and
	    .task.urls[1]==.body.videoUrl and
	    (.task.urls[1:] | map(endswith(\".mp4\")) | all)" out
'

test_expect_success 'Midjourney imageUrls as objects (forks) or strings: every image' '
	cat >in <<-\EOF &&
	{"custom_id":"o","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1,"image_urls":"objects"}}}
	{"custom_id":"s","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1,"image_urls":"strings"}}}
	EOF
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	has ".custom_id==\"o\" and .type==\"response\" and
	    (.body.imageUrls[0] | has(\"thumbnail\")) and
	    .task.urls==[.body.imageUrl] + [.body.imageUrls[].url]" out &&
	has ".custom_id==\"s\" and .type==\"response\" and
	    (.body.imageUrls[0] | type)==\"string\" and
	    .task.urls==[.body.imageUrl] + .body.imageUrls" out &&
	all ".type==\"response\"" "(.task.urls | length)==5" out
'

test_expect_success 'the Midjourney upload is a plain answer: one request, no polls' '
	echo "{\"custom_id\":\"up\",\"url\":\"/mj/submit/upload-discord-images\",\"body\":{\"base64Array\":[\"data:image/png;base64,AAAA\",\"data:image/png;base64,BBBB\"]}}" >in &&
	r0=$(requests) &&
	"$VMANJL" -q --poll-interval 0.02 in >out &&
	test $(($(requests) - r0)) -eq 1 &&
	test $(wc -l <out) -eq 1 &&
	has ".type==\"response\" and .attempts==1 and (has(\"task\") | not) and
	    .body.code==1 and (.body.result | length)==2" out
'

test_expect_success 'Midjourney code 23 (queue full) once: a retry, then accepted and followed' '
	echo "{\"custom_id\":\"q\",\"url\":\"/mj/submit/imagine\",\"body\":{\"prompt\":\"a cat\",\"mock\":{\"id\":\"q23\",\"fail_first\":1,\"mj_code\":23,\"steps\":1}}}" >in &&
	"$VMANJL" -q --backoff 1 --poll-interval 0.02 in >out &&
	test $(seen q23) -eq 2 &&
	test $(count ".type==\"retry\"" out) -eq 1 &&
	has ".type==\"retry\" and .attempt==1 and .status==200 and
	    .error.type==\"task_refused\" and .error.code==23" out &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .attempts==.task.polls + 2" out
'

# ---------------------------------------------------------------------
# The relay's headers and its own errors

test_expect_success 'request_id is the X-Oneapi-Request-Id of each answer (batch, and on replay)' '
	cat >in <<-\EOF &&
	{"custom_id":"a","body":{"model":"m","messages":[{"role":"user","content":"a"}]}}
	{"custom_id":"b","body":{"model":"m","messages":[{"role":"user","content":"b"}]}}
	{"custom_id":"q","body":{"model":"m","messages":[],"mock":{"relay_error":"insufficient_user_quota"}}}
	EOF
	exits 1 -q -k --format batch --cache rc in >out &&
	all "true" "(.response.request_id | test(\"^[0-9]{24}\$\"))" out &&
	test $(jq -r .response.request_id out | sort -u | wc -l) -eq 3 &&
	has ".custom_id==\"q\" and .response.request_id as \$r |
	    (.response.body.error.message |
	    endswith(\" (request id: \" + \$r + \")\"))" out &&
	head -n 2 in >ab &&
	jq -c "select(.custom_id != \"q\")" out >first &&
	r0=$(requests) &&
	exits 0 -q -k --format batch --cache rc ab >again &&
	test $(($(requests) - r0)) -eq 0 &&
	test_cmp first again
'

test_expect_success 'quota and channel refusals are not retried and keep their code' '
	cat >in <<-\EOF &&
	{"custom_id":"u","body":{"model":"m","messages":[],"mock":{"id":"ru","relay_error":"insufficient_user_quota"}}}
	{"custom_id":"t","body":{"model":"m","messages":[],"mock":{"id":"rt","relay_error":"pre_consume_token_quota_failed"}}}
	{"custom_id":"n","body":{"model":"gpt-x","messages":[],"mock":{"id":"rn","relay_error":"model_not_found"}}}
	{"custom_id":"s","body":{"model":"m","stream":true,"messages":[],"mock":{"id":"rs","relay_error":"model_not_found"}}}
	EOF
	exits 1 -q --retries 3 --backoff 1 in >out &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	all ".type==\"error\"" ".attempts==1 and .error.type==\"new_api_error\" and
	    (.error.message | test(\" [(]request id: [0-9]{24}[)]\$\"))" out &&
	has ".custom_id==\"u\" and .status==403 and
	    .error.code==\"insufficient_user_quota\"" out &&
	has ".custom_id==\"t\" and .status==403 and
	    .error.code==\"pre_consume_token_quota_failed\"" out &&
	has ".custom_id==\"n\" and .status==503 and
	    .error.code==\"model_not_found\" and
	    (.error.message | test(\"model gpt-x \"))" out &&
	has ".custom_id==\"s\" and .status==503 and
	    .error.code==\"model_not_found\"" out &&
	seen_times ru 1 rt 1 rn 1 rs 1
'

test_expect_success 'a 429 with an empty body is retried; once, then the answer' '
	cat >in <<-\EOF &&
	{"custom_id":"a","body":{"model":"m","messages":[],"mock":{"id":"l1","relay_error":"rate_limit"}}}
	{"custom_id":"b","body":{"model":"m","messages":[{"role":"user","content":"hi"}],"mock":{"id":"l2","relay_error":"rate_limit","fail_first":1}}}
	EOF
	exits 1 -q --retries 2 --backoff 1 in >out &&
	has ".custom_id==\"a\" and .type==\"error\" and .status==429 and
	    .attempts==3 and (.error.message | test(\"empty body\"))" out &&
	has ".custom_id==\"b\" and .type==\"response\" and .attempts==2 and
	    .content==\"hi\"" out &&
	seen_times l1 3 l2 2
'

test_expect_success 'a path the relay does not serve: its dashboard page, html_answer, once, not cached' '
	cat >in <<-\EOF &&
	{"custom_id":"h","url":"/kling/v2/nothing","body":{"prompt":"a dog"}}
	EOF
	curl -s -D hdr -o page "$VMAN_BASE_URL/kling/v2/nothing" &&
	grep -i "^content-type: text/html; charset=utf-8" hdr &&
	grep "<title>New API</title>" page &&
	for i in 1 2; do
		r0=$(requests) &&
		exits 1 -q --retries 3 --cache hc in >out &&
		test $(($(requests) - r0)) -eq 1 || return 1
	done &&
	has ".type==\"error\" and .status==200 and .attempts==1 and
	    .error.type==\"html_answer\" and
	    (.error.message | test(\"text/html; charset=utf-8\")) and
	    (.error.message | endswith(\": New API\"))" out &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	curl -s -o /dev/null -w "%{http_code}" "$VMAN_BASE_URL/v1/nothing" >code &&
	test "$(cat code)" = 404
'

# ---------------------------------------------------------------------
# Streams

test_expect_success 'pings before the first event keep a stream alive past the idle limit' '
	echo "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"a b\"}],\"mock\":{\"id\":\"pg\",\"pings\":3,\"ping_ms\":600}}" >in &&
	t0=$(now_ms) &&
	"$VMANJL" -q --idle-timeout 1 in >out &&
	t1=$(now_ms) &&
	echo "took $((t1 - t0)) ms" &&
	test $((t1 - t0)) -ge 1800 &&
	has ".type==\"response\" and .attempts==1 and .content==\"a b\" and
	    .finish_reason==\"stop\"" out &&
	test $(seen pg) -eq 1
'

test_expect_success 'pings, then a bare JSON error: its message, type and code; retried by its kind' '
	cat >in <<-\EOF &&
	{"custom_id":"up","body":{"model":"m","stream":true,"messages":[],"mock":{"id":"b1","pings":2,"bare_error":{"error":{"message":"upstream boom","type":"upstream_error","code":"bad_response_status_code"}}}}}
	{"custom_id":"bad","body":{"model":"m","stream":true,"messages":[],"mock":{"id":"b2","pings":2,"bare_error":{"error":{"message":"bad param","type":"invalid_request_error","code":"invalid_request"}}}}}
	{"custom_id":"once","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"x y"}],"mock":{"id":"b3","pings":2,"fail_first":1,"bare_error":{"error":{"message":"upstream boom","type":"upstream_error","code":"bad_response_status_code"}}}}}
	EOF
	exits 1 -q --retries 2 --backoff 1 in >out &&
	has ".custom_id==\"up\" and .type==\"error\" and .status==200 and
	    .attempts==3 and .error.message==\"upstream boom\" and
	    .error.type==\"upstream_error\" and
	    .error.code==\"bad_response_status_code\"" out &&
	has ".custom_id==\"bad\" and .type==\"error\" and .attempts==1 and
	    .error.message==\"bad param\" and
	    .error.type==\"invalid_request_error\" and
	    .error.code==\"invalid_request\"" out &&
	has ".custom_id==\"once\" and .type==\"response\" and .attempts==2 and
	    .content==\"x y\"" out &&
	seen_times b1 3 b2 1
'

test_expect_success '[DONE] after an upstream cut-off: stream_truncated after the retries' '
	cat >in <<-\EOF &&
	{"custom_id":"cut","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}],"mock":{"id":"c1","cut_finish":true}}}
	{"custom_id":"cmpl","url":"/v1/completions","body":{"model":"m","stream":true,"prompt":"a b","mock":{"id":"c2","cut_finish":true}}}
	{"custom_id":"once","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}],"mock":{"id":"c3","cut_finish":true,"fail_first":1}}}
	EOF
	exits 1 -q --retries 2 --backoff 1 in >out &&
	all ".type==\"error\"" ".status==200 and .attempts==3 and
	    .error.type==\"stream_truncated\" and
	    .error.message==\"stream truncated: choice 0 has no finish_reason at [DONE]\"" out &&
	test $(count ".type==\"error\"" out) -eq 2 &&
	test $(count ".type==\"retry\" and .error.type==\"stream_truncated\"" out) -eq 5 &&
	has ".custom_id==\"once\" and .type==\"response\" and .attempts==2 and
	    .content==\"a b\" and .finish_reason==\"stop\"" out &&
	test $(seen c1) -eq 3 &&
	test $(seen c3) -eq 2
'

test_expect_success 'a stream complete at [DONE] is never sent again, whatever follows' '
	for f in close_after stall_after bad_chunked; do
		echo "{\"custom_id\":\"$f\",\"body\":{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"a b\"}],\"mock\":{\"id\":\"d$f\",\"$f\":6}}}" ||
		return 1
	done >in &&
	"$VMANJL" -q --idle-timeout 1 --retries 2 --backoff 1 in >out &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	test $(count ".type==\"response\"" out) -eq 3 &&
	all ".type==\"response\"" ".attempts==1 and .content==\"a b\" and
	    .finish_reason==\"stop\" and .usage.total_tokens==4" out &&
	for f in close_after stall_after bad_chunked; do
		test $(seen d$f) -eq 1 || return 1
	done
'

test_expect_success 'the usage chunk the relay adds counts in the response and the summary' '
	cat >in <<-\EOF &&
	{"model":"m","stream":true,"messages":[{"role":"user","content":"one two three"}]}
	{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"four five"}]}
	EOF
	"$VMANJL" -q -k in >out 2>/dev/null &&
	"$VMANJL" -k in >/dev/null 2>err &&
	has ".line==1 and .type==\"response\" and
	    .usage=={\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6}" out &&
	has ".line==2 and .type==\"response\" and (has(\"usage\") | not)" out &&
	grep "vmanjl: 2 requests, 2 ok, .* 3 prompt + 3 completion tokens" err
'

# ---------------------------------------------------------------------
# What each built-in row rests on

test_expect_success '--endpoints: every row says relay, fork or guess; the new rows relay' '
	"$VMANJL" --endpoints >ep &&
	head -n 1 ep | grep "^METHOD  *PATH  *MODE  *GROUP  *SOURCE  *POLL" &&
	awk "NR > 1 && \$5 != \"relay\" && \$5 != \"fork\" && \$5 != \"guess\"" \
	    ep >bad &&
	test ! -s bad &&
	for p in /v1/video/generations /v1/video/generations/\* /v1/videos \
	    /v1/videos/\*/content /v1/videos/\* \
	    /mj/submit/upload-discord-images \
	    /kling/v1/videos/text2video /kling/v1/videos/image2video; do
		awk -v p="$p" "\$2 == p { print \$5 }" ep >src &&
		test "$(cat src)" = relay ||
		{ echo "$p: $(cat src)"; return 1; }
	done
'

test_done
