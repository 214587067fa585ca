#!/bin/sh
# Asynchronous tasks: the submit, progress records on change and the
# normalised task of the final answer (a table, one task per vendor),
# failures, refusals in the submit answer, --no-wait, poll pacing and
# the -j pool, retries of a poll, the envelope's task descriptors, batch
# output and SIGINT.
. "$(dirname "$0")/lib.sh"
start_mock

# The id of the task in the terminal record of line $1 of file $2.
task_id () {
	jq -r "select(.line==$1 and (.type==\"response\" or .type==\"error\"))
	    | .task.id" "$2"
}

# The lines on stdin into in, then vmanjl -q --poll-interval 0.02 with
# the arguments after $1 on them, into out; succeed when it exits $1.
run_tasks () {
	want=$1
	shift
	cat >in &&
	exits "$want" -q --poll-interval 0.02 "$@" in >out
}

# The last request the server saw was method $1 on path $2, and its
# stats satisfy the jq condition $3 too (default true).
last_request () {
	mock_stats >stats &&
	jq -e ".last_method==\"$1\" and .last_path==\"$2\" and
	    (${3:-true})" stats
}

# "status vendor_status progress polls" of every progress record of line
# $1 in file $2, one a line.
progress_of () {
	jq -r "select(.type==\"progress\" and .line==$1) |
	    \"\(.task.status) \(.task.vendor_status) \(.task.progress) \(.task.polls)\"" "$2"
}

# The CPU seconds (user + system) of the children, from the output of
# the times builtin in file $1.
child_cpu () {
	awk 'NR == 2 { split($1, u, "m"); split($2, s, "m");
	    print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"
}

# Is the number $1 less than the number $2?
less () {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# ---------------------------------------------------------------------
# Lifecycle
#
# One task per vendor, from the submit to the answer.  A task starts
# with a "submitted" progress record (no vendor status, progress or poll
# yet), then writes a progress record for each poll that changes its
# status, vendor status or progress (a poll that changes nothing writes
# none: Kling; the same status with a new progress writes one: Flux),
# and ends in one response: the task succeeded with progress 1, its
# polls those the server answered, attempts the submit and those polls,
# raw the vendor's own task object and urls every result (Suno: each
# clip's audio and video).

# The tasks: vendor (also the custom_id) | url | body | the polls the
# server answers | the vendor status at the end | what task.raw is and
# what task.urls is, as jq over the response | what else the response
# must satisfy (jq; $id is the task id).
cat >"$TMP/lifecycle" <<\EOF
Midjourney   | /mj/submit/imagine          | {"prompt":"a cat","mock":{"steps":3}}  | 6 | SUCCESS   | .body      | [.body.imageUrl]                      | .body.id == $id and .body.status == "SUCCESS" and (.task.urls[0] | endswith("/files/mj-" + $id + ".png"))
Kling        | /kling/v1/videos/text2video | {"prompt":"a dog","mock":{"steps":4}}  | 6 | SUCCESS   | .body.data | [.body.data.result_url]               | .body.code == "success" and .body.data.data.data.task_status == "succeed" and (.task.urls[0] | endswith("/files/" + $id + "-0.mp4"))
Kling vendor | /kling/v1/videos/text2video | {"prompt":"a dog","mock":{"steps":4,"shape":"vendor"}} | 6 | succeed | .body.data | [.body.data.task_result.videos[].url] | .body.code == 0 and .body.data.task_status == "succeed" and (.task.urls | length) == 1
Suno (GoAPI) | /suno/v1/music              | {"prompt":"a song","mock":{"steps":2}} | 4 | completed | .body.data | [.body.data.clips[].audio_url] + [.body.data.clips[].video_url] | .body.code == 200 and .body.data.status == "completed" and (.task.urls | length) == 4
Flux         | /flux/v1/flux-pro-1.1       | {"prompt":"a cat","mock":{"steps":2}}  | 4 | Ready     | .body      | [.body.result.sample]                 | true
EOF

# The progress records of each task, in order: vendor | status | vendor
# status | progress | polls.
cat >"$TMP/progress" <<\EOF
Midjourney   | submitted | null        | null | 0
Midjourney   | running   | NOT_START   | 0    | 1
Midjourney   | running   | SUBMITTED   | 0    | 2
Midjourney   | running   | IN_PROGRESS | 0.25 | 3
Midjourney   | running   | IN_PROGRESS | 0.5  | 4
Midjourney   | running   | IN_PROGRESS | 0.75 | 5
Kling        | submitted | null        | null | 0
Kling        | running   | QUEUED      | 0    | 1
Kling        | running   | IN_PROGRESS | 0.2  | 2
Kling        | running   | IN_PROGRESS | 0.4  | 3
Kling        | running   | IN_PROGRESS | 0.6  | 4
Kling        | running   | IN_PROGRESS | 0.8  | 5
Kling vendor | submitted | null        | null | 0
Kling vendor | running   | submitted   | null | 1
Kling vendor | running   | processing  | null | 2
Suno (GoAPI) | submitted | null        | null | 0
Suno (GoAPI) | running   | pending     | null | 1
Suno (GoAPI) | running   | processing  | null | 2
Flux         | submitted | null        | null | 0
Flux         | running   | Pending     | 0    | 1
Flux         | running   | Pending     | 0.33 | 2
Flux         | running   | Pending     | 0.66 | 3
EOF

# One test per task; the last column may hold jq's " | ".
awk -F ' *[|] *' '{ m = $8; for (i = 9; i <= NF; i++) m = m " | " $i
	print $1 "\t" $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 "\t" $7 "\t" m }' \
    "$TMP/lifecycle" >"$TMP/lifecycle.tsv"
while IFS='	' read -r vendor url body polls vstatus raw urls more <&3; do
	test_expect_success "$vendor: submitted, a progress record per change, the result" '
		jq -n -c --arg v "$vendor" --arg u "$url" --argjson b "$body" \
		    "{custom_id: \$v, url: \$u, body: \$b}" >in &&
		"$VMANJL" -q --poll-interval 0.02 in >out &&
		id=$(task_id 1 out) &&
		echo "task $id" &&
		test -n "$id" &&
		test "$(polls_of "$id")" -eq "$polls" &&
		head -n 1 out >first &&
		has ".type==\"progress\" and .line==1 and .custom_id==\"$vendor\" and
		    .task=={\"id\":\"$id\",\"status\":\"submitted\",
		    \"vendor_status\":null,\"progress\":null,\"polls\":0}" first &&
		all ".type==\"progress\"" ".line==1 and .custom_id==\"$vendor\" and
		    .task.id==\"$id\" and (.task | has(\"urls\") | not) and
		    (.task | has(\"raw\") | not)" out &&
		progress_of 1 out >actual &&
		awk -F " *[|] *" -v v="$vendor" "\$1 == v { print \$2, \$3, \$4, \$5 }" \
		    "$TMP/progress" >expect &&
		test_cmp expect actual &&
		test $(count ".type==\"response\" or .type==\"error\"" out) -eq 1 &&
		tail -n 1 out >last &&
		jq -e --arg id "$id" --argjson polls "$polls" "
		    .type==\"response\" and .line==1 and
		    .custom_id==\"$vendor\" and .status==200 and
		    .task.id==\$id and .task.status==\"succeeded\" and
		    .task.vendor_status==\"$vstatus\" and .task.progress==1 and
		    .task.polls==\$polls and .attempts==\$polls + 1 and
		    .task.raw==$raw and .task.urls==$urls and ($more)" last ||
		{ echo "not the response the table says:"; cat last; false; }
	'
done 3<"$TMP/lifecycle.tsv"

# ---------------------------------------------------------------------
# Failures

test_expect_success 'a failed task: task_failed, the vendor status and reason' '
	run_tasks 1 <<-\EOF &&
	{"custom_id":"mf","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1,"task_fail":true}}}
	{"custom_id":"kf","url":"/kling/v1/videos/text2video","body":{"prompt":"a dog","mock":{"steps":1,"task_fail":true,"shape":"vendor"}}}
	{"custom_id":"rf","url":"/runwayml/v1/image_to_video","body":{"promptImage":"https://example.com/a.png","model":"gen3a_turbo","mock":{"steps":1,"task_fail":true}}}
	EOF
	test $(count ".type==\"response\"" out) -eq 0 &&
	test $(count ".type==\"error\"" out) -eq 3 &&
	for l in 1 2 3; do
		id=$(task_id $l out) &&
		polls=$(polls_of "$id") &&
		has ".type==\"error\" and .line==$l and .status==200 and
		    .error.type==\"task_failed\" and
		    .error.message==\"task $id failed: mock: task failed\" and
		    .task.id==\"$id\" and .task.status==\"failed\" and
		    .task.polls==$polls and .task.urls==[] and
		    .attempts==$((polls + 1))" out || exit 1
	done &&
	has ".line==1 and .type==\"error\" and .error.code==\"FAILURE\" and
	    .task.vendor_status==\"FAILURE\" and
	    .task.raw.failReason==\"mock: task failed\"" out &&
	has ".line==2 and .type==\"error\" and .error.code==\"failed\" and
	    .task.vendor_status==\"failed\" and
	    .task.raw.task_status==\"failed\"" out &&
	has ".line==3 and .type==\"error\" and .error.code==\"FAILED\" and
	    .task.vendor_status==\"FAILED\" and
	    .task.raw.failure==\"mock: task failed\"" out
'

test_expect_success 'a cancelled task: task_cancelled (MJ CANCEL, Runway CANCELLED)' '
	run_tasks 1 <<-\EOF &&
	{"custom_id":"mc","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1,"cancel":true}}}
	{"custom_id":"rc","url":"/runwayml/v1/image_to_video","body":{"promptImage":"https://example.com/a.png","model":"gen3a_turbo","mock":{"steps":1,"cancel":true}}}
	EOF
	test $(count ".type==\"error\"" out) -eq 2 &&
	id1=$(task_id 1 out) &&
	id2=$(task_id 2 out) &&
	has ".type==\"error\" and .line==1 and
	    .error.type==\"task_cancelled\" and .error.code==\"CANCEL\" and
	    (.error.message | startswith(\"task $id1 was cancelled\")) and
	    .task.status==\"cancelled\" and .task.vendor_status==\"CANCEL\"" out &&
	has ".type==\"error\" and .line==2 and
	    .error.type==\"task_cancelled\" and .error.code==\"CANCELLED\" and
	    (.error.message | startswith(\"task $id2 was cancelled\")) and
	    .task.status==\"cancelled\" and .task.vendor_status==\"CANCELLED\"" out
'

test_expect_success 'a failed Ideogram reverse task is an error, not a success' '
	run_tasks 1 <<-\EOF &&
	{"custom_id":"irf","url":"/api/ideogram/generate","body":{"prompt":"a cat","mock":{"steps":1,"task_fail":true}}}
	EOF
	test $(count ".type==\"response\"" out) -eq 0 &&
	id=$(task_id 1 out) &&
	has ".type==\"error\" and .error.type==\"task_failed\" and
	    (.error.message | startswith(\"task $id failed: \")) and
	    .task.status==\"failed\"" out
'

test_expect_success 'a task not found at first is polled again, then succeeds' '
	run_tasks 0 <<-\EOF &&
	{"custom_id":"nf","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1,"not_found_polls":2}}}
	{"custom_id":"nl","url":"/luma/generations","body":{"user_prompt":"a cat","mock":{"steps":1,"not_found_polls":2}}}
	EOF
	test $(count ".type==\"error\" or .type==\"retry\"" out) -eq 0 &&
	id1=$(task_id 1 out) &&
	id2=$(task_id 2 out) &&
	test $(polls_of "$id1") -eq 6 &&
	test $(polls_of "$id2") -eq 5 &&
	has ".type==\"response\" and .line==1 and
	    .task.status==\"succeeded\" and .task.polls==6 and
	    .attempts==7" out &&
	has ".type==\"response\" and .line==2 and
	    .task.status==\"succeeded\" and .task.polls==5 and
	    .attempts==6" out &&
	progress_of 1 out >actual &&
	cat >expect <<-\EOF &&
	submitted null null 0
	running NOT_START 0 3
	running SUBMITTED 0 4
	running IN_PROGRESS 0.5 5
	EOF
	test_cmp expect actual
'

test_expect_success '--task-timeout: task_timeout with the last status' '
	cat >in <<-\EOF &&
	{"custom_id":"slow","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1000}}}
	EOF
	t0=$(now_ms) &&
	exits 1 -q --poll-interval 0.02 --task-timeout 0.3 in >out &&
	t1=$(now_ms) &&
	echo "$((t1 - t0)) ms" &&
	test $((t1 - t0)) -lt 1500 &&
	test $(count ".type==\"response\" or .type==\"error\"" out) -eq 1 &&
	id=$(task_id 1 out) &&
	has ".type==\"error\" and .error.type==\"task_timeout\" and
	    (.error.message | contains(\"IN_PROGRESS\")) and
	    .task.id==\"$id\" and .task.status==\"running\" and
	    .task.vendor_status==\"IN_PROGRESS\" and
	    .task.polls==$(polls_of "$id") and .task.polls > 2" out
'

test_expect_success '--task-timeout 0 means no limit' '
	run_tasks 1 --task-timeout 0.2 <<-\EOF &&
	{"custom_id":"long","url":"/cogvideox/v4/videos/generations","body":{"prompt":"a cat","mock":{"steps":25}}}
	EOF
	has ".type==\"error\" and .error.type==\"task_timeout\"" out &&
	"$VMANJL" -q --poll-interval 0.02 --task-timeout 0 in >out &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .task.polls==26" out
'

# ---------------------------------------------------------------------
# Refusals in the submit answer

test_expect_success 'Midjourney codes 24, 4 and 9: task_refused, no polls' '
	for c in 24 4 9; do
		echo "{\"custom_id\":\"mj$c\",\"url\":\"/mj/submit/imagine\",\"body\":{\"prompt\":\"a cat\",\"mock\":{\"mj_code\":$c}}}" || exit 1
	done >in &&
	r0=$(requests) &&
	exits 1 -q --poll-interval 0.02 in >out &&
	test $(($(requests) - r0)) -eq 3 &&
	test $(count ".type==\"progress\" or .type==\"response\" or
	    .type==\"retry\"" out) -eq 0 &&
	all ".type==\"error\"" ".error.type==\"task_refused\" and
	    .status==200 and .attempts==1 and (has(\"task\") | not) and
	    (.error.message | startswith(\"task refused: \")) and
	    ((.error.code | tostring) as \$c |
	        .error.message | endswith(\" (code \" + \$c + \")\"))" out &&
	has ".line==1 and .error.code==24" out &&
	has ".line==2 and .error.code==4" out &&
	has ".line==3 and .error.code==9" out
'

test_expect_success 'Midjourney code 23 (queue full): retried with backoff, then task_refused' '
	echo "{\"custom_id\":\"mj23\",\"url\":\"/mj/submit/imagine\",\"body\":{\"prompt\":\"a cat\",\"mock\":{\"mj_code\":23}}}" >in &&
	r0=$(requests) &&
	exits 1 -q --retries 2 --backoff 1 --poll-interval 0.02 in >out &&
	test $(($(requests) - r0)) -eq 3 &&
	test $(count ".type==\"retry\" and .status==200 and
	    .error.type==\"task_refused\" and .error.code==23" out) -eq 2 &&
	has ".type==\"error\" and .error.type==\"task_refused\" and
	    .attempts==3 and .error.code==23 and
	    (.error.message | startswith(\"task refused for now: \"))" out
'

test_expect_success 'Midjourney codes 21 and 22 are accepted and followed' '
	run_tasks 0 <<-\EOF &&
	{"custom_id":"mj21","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"mj_code":21,"steps":0}}}
	{"custom_id":"mj22","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"mj_code":22,"steps":0}}}
	EOF
	for l in 1 2; do
		id=$(task_id $l out) &&
		test $(polls_of "$id") -eq 3 &&
		has ".type==\"response\" and .line==$l and
		    .task.status==\"succeeded\" and .attempts==4" out || exit 1
	done
'

test_expect_success 'Kling code 1201 with HTTP 200: task_refused' '
	cat >in <<-\EOF &&
	{"custom_id":"k","url":"/kling/v1/images/generations","body":{"prompt":"a cat","mock":{"kling_code":1201}}}
	EOF
	r0=$(requests) &&
	exits 1 -q --poll-interval 0.02 in >out &&
	test $(($(requests) - r0)) -eq 1 &&
	test $(count ".type==\"progress\"" out) -eq 0 &&
	has ".type==\"error\" and .status==200 and
	    .error.type==\"task_refused\" and .error.code==1201 and
	    (.error.message | contains(\"mock error 1201\")) and
	    (has(\"task\") | not) and .attempts==1" out
'

test_expect_success 'Suno concat without clip_id (HTTP 400): an http_error' '
	run_tasks 1 <<-\EOF &&
	{"custom_id":"cc","url":"/suno/v1/v3.0/music/concat","body":{}}
	EOF
	test $(count ".type==\"progress\"" out) -eq 0 &&
	has ".type==\"error\" and .status==400 and
	    .error.type==\"http_error\" and
	    (.error.message | contains(\"clip_id\")) and
	    (has(\"task\") | not) and .attempts==1" out
'

test_expect_success 'Suno (new-api): code "success" is accepted' '
	run_tasks 0 <<-\EOF &&
	{"custom_id":"na","url":"/suno/submit/music","body":{"prompt":"a song","mock":{"steps":1}}}
	EOF
	id=$(task_id 1 out) &&
	polls=$(polls_of "$id") &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .task.vendor_status==\"SUCCESS\" and .task.raw==.body.data and
	    .task.polls==$polls and .attempts==$((polls + 1)) and
	    (.task.urls | length)==4" out
'

# ---------------------------------------------------------------------
# --no-wait

test_expect_success '--no-wait: the submit answer with the task submitted' '
	cat >in <<-\EOF &&
	{"custom_id":"nw","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1}}}
	{"custom_id":"nk","url":"/kling/v1/videos/text2video","body":{"prompt":"a dog","mock":{"steps":1,"shape":"vendor"}}}
	{"custom_id":"nr","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"mj_code":24}}}
	EOF
	r0=$(requests) &&
	exits 1 -q --no-wait --poll-interval 0.02 in >out &&
	sleep 0.2 &&
	test $(($(requests) - r0)) -eq 3 &&
	has ".line==3 and .type==\"error\" and
	    .error.type==\"task_refused\" and .error.code==24 and
	    (has(\"task\") | not)" out &&
	test $(count ".type==\"response\"" out) -eq 2 &&
	test $(count ".type==\"progress\"" out) -eq 0 &&
	id1=$(task_id 1 out) &&
	id2=$(task_id 2 out) &&
	test $(polls_of "$id1") -eq 0 &&
	test $(polls_of "$id2") -eq 0 &&
	has ".line==1 and .type==\"response\" and .status==200 and
	    .body.code==1 and .body.result==\"$id1\" and
	    .task.id==\"$id1\" and .task.status==\"submitted\" and
	    .task.polls==0 and .task.raw==.body and .attempts==1" out &&
	has ".line==2 and .type==\"response\" and
	    .body.data.task_id==\"$id2\" and
	    .task.id==\"$id2\" and .task.status==\"submitted\" and
	    .task.raw==.body and .attempts==1" out
'

# ---------------------------------------------------------------------
# Pacing and the pool

test_expect_success '--poll-interval 0.3: polls 0.3 s apart, no busy waiting' '
	cat >in <<-\EOF &&
	{"custom_id":"p","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":2}}}
	EOF
	t0=$(now_ms) &&
	( "$VMANJL" -q --poll-interval 0.3 in >out && times >cpu ) &&
	t1=$(now_ms) &&
	id=$(task_id 1 out) &&
	polls=$(polls_of "$id") &&
	echo "$polls polls in $((t1 - t0)) ms, cpu $(child_cpu cpu) s" &&
	test "$polls" -eq 5 &&
	test $((t1 - t0)) -ge 1500 &&
	less "$(child_cpu cpu)" 0.3 &&
	has ".type==\"response\" and .task.polls==5 and
	    .body.startTime - .body.submitTime >= 890 and
	    .body.finishTime - .body.startTime >= 590" out
'

test_expect_success '-j 2 with 6 tasks: two at a time, each ends once' '
	for i in 1 2 3 4 5 6; do
		echo "{\"custom_id\":\"j$i\",\"url\":\"/mj/submit/imagine\",\"body\":{\"prompt\":\"cat $i\",\"mock\":{\"steps\":0}}}" || exit 1
	done >in &&
	"$VMANJL" -q -j 2 --poll-interval 0.05 in >out &&
	for i in 1 2 3 4 5 6; do
		test $(count ".line==$i and (.type==\"response\" or .type==\"error\")" out) -eq 1 &&
		id=$(task_id $i out) &&
		test $(polls_of "$id") -eq 3 &&
		has ".line==$i and .type==\"response\" and
		    .custom_id==\"j$i\" and .task.status==\"succeeded\" and
		    .task.polls==3 and .attempts==4" out || exit 1
	done &&
	jq -s -e "[.[] | select(.type==\"response\") |
	    {s: .body.submitTime, f: .body.finishTime}] | sort_by(.s) as \$t |
	    all(range(0; 6) as \$k |
	        [\$t[] | select(.f <= \$t[\$k].s)] | length >= \$k - 1; .)" out
'

# Ten tasks of ten families, the Viggle one described by the request.
ten () {
	cat <<-\EOF
	{"custom_id":"mj","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":3}}}
	{"custom_id":"suno","url":"/suno/v1/music","body":{"prompt":"a song","mock":{"steps":3}}}
	{"custom_id":"sunona","url":"/suno/submit/music","body":{"prompt":"a song","mock":{"steps":3}}}
	{"custom_id":"flux","url":"/flux/v1/flux-pro-1.1","body":{"prompt":"a cat","mock":{"steps":3}}}
	{"custom_id":"kling","url":"/kling/v1/images/generations","body":{"prompt":"a cat","mock":{"steps":3}}}
	{"custom_id":"luma","url":"/luma/generations","body":{"user_prompt":"a cat","mock":{"steps":3}}}
	{"custom_id":"runway","url":"/runwayml/v1/image_to_video","body":{"promptImage":"https://example.com/a.png","model":"gen3a_turbo","mock":{"steps":3}}}
	{"custom_id":"cogv","url":"/cogvideox/v4/videos/generations","body":{"prompt":"a cat","mock":{"steps":3}}}
	{"custom_id":"ideo","url":"/api/ideogram/generate","body":{"prompt":"a cat","mock":{"steps":3}}}
	{"custom_id":"viggle","url":"/api/viggle/move/generate","files":{"image":"face.png"},"body":{"mock":"{\"steps\":3}"},"task":{"id":"data.task_id","poll":"/api/viggle/task/{id}","object":"data","status":"status","done":["done"],"failed":["failed"],"progress":"progress","progress_max":100,"urls":["result.video_url"]}}
	EOF
}

test_expect_success 'ten tasks of ten families at -j 16: polls interleave' '
	printf "\211PNG\r\n\032\n" >face.png &&
	ten >in &&
	t0=$(now_ms) &&
	"$VMANJL" -q -j 16 --poll-interval 0.1 in >out &&
	t1=$(now_ms) &&
	test $(count ".type==\"response\"" out) -eq 10 &&
	test $(count ".type==\"error\"" out) -eq 0 &&
	all ".type==\"response\"" ".task.status==\"succeeded\" and
	    .task.progress==1 and (.task.urls | length) > 0 and
	    .attempts==.task.polls + 1" out &&
	total=0 &&
	for l in 1 2 3 4 5 6 7 8 9 10; do
		id=$(task_id $l out) &&
		p=$(polls_of "$id") &&
		has ".type==\"response\" and .line==$l and
		    .task.polls==$p" out &&
		total=$((total + p)) || exit 1
	done &&
	echo "$total polls in $((t1 - t0)) ms" &&
	test $((t1 - t0)) -lt $((total * 100 / 2)) &&
	jq -s -e "[.[].line] | . != sort" out
'

test_expect_success '-k: the records of each task together, in input order' '
	printf "\211PNG\r\n\032\n" >face.png &&
	ten >in &&
	"$VMANJL" -q -k -j 16 --poll-interval 0.05 in >out &&
	test $(count ".type==\"response\"" out) -eq 10 &&
	jq -s -e "[.[].line] | . == sort" out &&
	jq -s -e "[.[] | select(.type==\"response\") | .custom_id] ==
	    [\"mj\",\"suno\",\"sunona\",\"flux\",\"kling\",\"luma\",
	     \"runway\",\"cogv\",\"ideo\",\"viggle\"]" out &&
	jq -s -e "group_by(.line) | all(.[]; .[-1].type==\"response\" and
	    .[0].type==\"progress\" and .[0].task.status==\"submitted\")" out
'

# ---------------------------------------------------------------------
# Retries of a poll

test_expect_success 'a poll answered 503 once is retried; attempts count it' '
	run_tasks 0 --backoff 10 <<-\EOF &&
	{"custom_id":"ir","url":"/api/ideogram/generate","body":{"prompt":"a cat","mock":{"steps":1}},"task":{"poll_body":{"request_id":"{id}","mock":{"id":"p503","fail_first":1,"status":503}}}}
	EOF
	id=$(task_id 1 out) &&
	polls=$(polls_of "$id") &&
	test "$polls" -eq 3 &&
	test $(mock_stats | jq ".ids.p503") -eq 4 &&
	test $(count ".type==\"retry\"" out) -eq 1 &&
	has ".type==\"retry\" and .status==503 and .attempt==1 and
	    .error.message==\"mock error 503\"" out &&
	jq -s -e "map(.type) | index(\"retry\") > index(\"progress\")" out &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .task.polls==3 and .attempts==5" out
'

test_expect_success 'a poll answered 429 once counts like one answered 503' '
	for s in 503 429; do
		cat >in$s <<-EOF &&
		{"custom_id":"r$s","url":"/api/ideogram/generate","body":{"prompt":"a cat","mock":{"steps":1}},"task":{"poll_body":{"request_id":"{id}","mock":{"id":"q$s","fail_first":1,"status":$s}}}}
		EOF
		"$VMANJL" -q --backoff 10 --poll-interval 0.02 in$s >out$s &&
		test $(count ".type==\"retry\"" out$s) -eq 1 &&
		has ".type==\"response\" and .task.status==\"succeeded\" and
		    .attempts==5" out$s || exit 1
	done &&
	test $(polls_of "$(task_id 1 out429)") -eq 3 &&
	has ".type==\"response\" and .task.polls==3" out503 &&
	has ".type==\"response\" and .task.polls==3" out429
'

# ---------------------------------------------------------------------
# The envelope's task descriptor

test_expect_success 'a member of a built-in descriptor replaced: Kling urls' '
	run_tasks 0 <<-\EOF &&
	{"custom_id":"ku","url":"/kling/v1/images/generations","body":{"prompt":"a cat","mock":{"steps":1}},"task":{"urls":["task_id","task_status"]}}
	EOF
	id=$(task_id 1 out) &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .task.urls==[\"$id\",\"succeed\"] and .task.raw==.body.data" out
'

test_expect_success 'a complete descriptor: Viggle mix, multipart' '
	printf "\211PNG\r\n\032\n" >face.png &&
	printf "\000\000\000\030ftypmp42" >dance.mp4 &&
	run_tasks 0 <<-\EOF &&
	{"custom_id":"mix","url":"/api/viggle/mix/generate","files":{"image":"face.png","video":"dance.mp4"},"body":{"bg_mode":"white","mock":"{\"steps\":2}"},"task":{"name":"viggle","id":"data.task_id","code":"code","code_ok":[0],"message":"message","poll":"/api/viggle/task/{id}","object":"data","status":"status","done":["done"],"failed":["failed"],"progress":"progress","progress_max":100,"urls":["result.video_url"],"error":"fail_reason"}}
	EOF
	id=$(task_id 1 out) &&
	polls=$(polls_of "$id") &&
	test "$polls" -eq 4 &&
	last_request GET "/api/viggle/task/$id" &&
	progress_of 1 out >actual &&
	cat >expect <<-\EOF &&
	submitted null null 0
	running queued 0 1
	running processing 0.33 2
	running processing 0.66 3
	EOF
	test_cmp expect actual &&
	has ".type==\"response\" and .custom_id==\"mix\" and
	    .task.status==\"succeeded\" and .task.vendor_status==\"done\" and
	    .task.raw==.body.data and
	    .task.urls==[.body.data.result.video_url] and
	    (.task.urls[0] | endswith(\".mp4\")) and
	    .attempts==$((polls + 1))" out
'

test_expect_success '"task": false: the plain submit answer, no polls' '
	cat >in <<-\EOF &&
	{"custom_id":"tf","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1}},"task":false}
	{"custom_id":"tr","url":"/mj/submit/imagine","body":{"prompt":"a cat","mock":{"mj_code":24}},"task":false}
	EOF
	r0=$(requests) &&
	"$VMANJL" -q -k --poll-interval 0.02 in >out &&
	sleep 0.2 &&
	test $(($(requests) - r0)) -eq 2 &&
	test $(wc -l <out) -eq 2 &&
	all "true" ".type==\"response\" and .status==200 and
	    (has(\"task\") | not) and .attempts==1" out &&
	has ".line==1 and .body.code==1" out &&
	has ".line==2 and .body.code==24" out &&
	id=$(head -n 1 out | jq -r .body.result) &&
	test $(polls_of "$id") -eq 0
'

test_expect_success 'invalid descriptors: invalid_request, nothing sent' '
	cat >in <<-\EOF &&
	{"custom_id":"d1","url":"/kling/v1/images/generations","body":{"prompt":"a cat"},"task":{"bogus":1}}
	{"custom_id":"d2","url":"/api/viggle/mix/generate","body":{},"task":{"id":"data.task_id","poll":"/api/viggle/task/{id}","status":"data.status"}}
	{"custom_id":"d3","url":"/kling/v1/images/generations","body":{"prompt":"a cat"},"task":{"id":5}}
	{"custom_id":"d4","url":"/kling/v1/images/generations","body":{"prompt":"a cat"},"task":"yes"}
	{"custom_id":"d5","url":"/kling/v1/images/generations","body":{"prompt":"a cat"},"task":true}
	{"custom_id":"d6","url":"/api/viggle/mix/generate","body":{},"task":{"id":"data.task_id","status":"data.status","done":["done"]}}
	{"custom_id":"d7","url":"/kling/v1/images/generations","body":{"prompt":"a cat"},"task":{"done":{"a":1}}}
	EOF
	r0=$(requests) &&
	exits 1 -q --poll-interval 0.02 in >out &&
	test $(requests) -eq "$r0" &&
	test $(count ".type==\"error\"" out) -eq 7 &&
	test $(wc -l <out) -eq 7 &&
	all ".type==\"error\"" ".error.type==\"invalid_request\" and
	    .status==null and .attempts==0 and (has(\"task\") | not)" out &&
	jq -r ".error.message" out >actual &&
	cat >expect <<-\EOF &&
	line 1: unknown task member "bogus"
	line 2: task descriptor has no '"'"'done'"'"' values
	line 3: task member '"'"'id'"'"' must be a string, or for a path an array of strings
	line 4: envelope member '"'"'task'"'"' has the wrong type (want an object or false)
	line 5: envelope member '"'"'task'"'"' has the wrong type (want an object or false)
	line 6: task descriptor has no '"'"'poll'"'"' path
	line 7: task member '"'"'done'"'"' must be an array of strings or numbers
	EOF
	test_cmp expect actual
'

test_expect_success 'poll_method POST with poll_body: Ideogram reverse' '
	run_tasks 0 <<-\EOF &&
	{"custom_id":"ir","url":"/api/ideogram/generate","body":{"prompt":"a cat","mock":{"steps":1}}}
	EOF
	id=$(task_id 1 out) &&
	polls=$(polls_of "$id") &&
	test "$polls" -eq 3 &&
	body="{\"request_id\":\"$id\"}" &&
	last_request POST /api/ideogram/task-request \
	    ".last_body_bytes==${#body}" &&
	has ".type==\"response\" and .task.status==\"succeeded\" and
	    .task.vendor_status==\"true\" and
	    .task.raw==.body.sampling_requests[0] and
	    .task.urls==[.body.sampling_requests[0].responses[].url] and
	    (.task.urls | length)==4 and .attempts==$((polls + 1))" out
'

# Poll templates: what the template shows | the polls | the path of the
# last poll, a GET ({id}: the task id) | the submit line.
while IFS='|' read -r what polls path line; do
	test_expect_success "poll templates: $what" '
		echo "$line" >in &&
		"$VMANJL" -q --poll-interval 0.02 in >out &&
		id=$(task_id 1 out) &&
		test $(polls_of "$id") -eq $polls &&
		last_request GET "$(echo "$path" | sed "s/{id}/$id/")" &&
		has ".type==\"response\" and .task.status==\"succeeded\"" out
	'
done <<\EOF
{path}/../{id} (Suno concat)|3|/suno/v1/v3.0/music/{id}|{"custom_id":"cc","url":"/suno/v1/v3.0/music/concat","body":{"clip_id":"abc","mock":{"steps":1}}}
{prefix} keeps the Midjourney mode|4|/mj-fast/mj/task/{id}/fetch|{"custom_id":"fast","url":"/mj-fast/mj/submit/imagine","body":{"prompt":"a cat","mock":{"steps":1}}}
EOF

# ---------------------------------------------------------------------
# Batch output, SIGINT, task_not_found

test_expect_success '--format batch: one record, the final answer as body' '
	run_tasks 0 --format batch <<-\EOF &&
	{"custom_id":"b","url":"/kling/v1/images/generations","body":{"prompt":"a cat","mock":{"steps":2}}}
	EOF
	test $(wc -l <out) -eq 1 &&
	has ".id==\"vmanjl_req_1\" and .custom_id==\"b\" and .error==null and
	    .response.status_code==200 and
	    .response.body.data.task_status==\"succeed\" and
	    (.response.body.data.task_result.images | length)==1 and
	    (has(\"task\") | not) and (.response | has(\"task\") | not)" out
'

test_expect_success 'SIGINT while polling: 130, one interrupted error per task' '
	for i in 1 2 3; do
		echo "{\"custom_id\":\"i$i\",\"url\":\"/mj/submit/imagine\",\"body\":{\"prompt\":\"cat $i\",\"mock\":{\"steps\":1000}}}" || exit 1
	done >in &&
	{ "$VMANJL" -j 4 --poll-interval 0.05 in >out 2>err & } &&
	pid=$! &&
	sleep 0.6 &&
	kill -INT $pid &&
	t0=$(now_ms) &&
	{ wait $pid; st=$?; } &&
	t1=$(now_ms) &&
	echo "exit status $st, $((t1 - t0)) ms after SIGINT" &&
	test $st -eq 130 &&
	test $((t1 - t0)) -lt 2000 &&
	test $(count ".type==\"response\"" out) -eq 0 &&
	for i in 1 2 3; do
		test $(count ".line==$i and .type==\"error\"" out) -eq 1 &&
		has ".line==$i and .type==\"error\" and .custom_id==\"i$i\" and
		    .error.type==\"interrupted\"" out &&
		has ".line==$i and .type==\"progress\" and .task.polls > 0" out ||
		exit 1
	done &&
	grep "^vmanjl: 3 requests, 0 ok, 3 errors" err
'

test_expect_success 'a task id that never exists: task_not_found after 30 s' '
	cat >in <<-\EOF &&
	{"custom_id":"ghost","url":"/luma/generations","body":{"user_prompt":"a cat"},"task":{"id":"state"}}
	EOF
	r0=$(requests) &&
	t0=$(now_ms) &&
	exits 1 -q --poll-interval 0.5 in >out &&
	t1=$(now_ms) &&
	n=$(($(requests) - r0)) &&
	echo "$n requests in $((t1 - t0)) ms" &&
	test $((t1 - t0)) -ge 30000 &&
	test $((t1 - t0)) -lt 33000 &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	test $(count ".type==\"progress\"" out) -eq 1 &&
	has ".type==\"progress\" and .task.id==\"pending\" and
	    .task.status==\"submitted\"" out &&
	test $(count ".type==\"error\" or .type==\"response\"" out) -eq 1 &&
	has ".type==\"error\" and .error.type==\"task_not_found\" and
	    .status==404 and
	    (.error.message | contains(\"pending\")) and
	    (.error.message | contains(\"not found\")) and
	    .task.id==\"pending\" and
	    .attempts==$n and .task.polls==$((n - 1)) and .task.polls > 50" out
'

test_done
