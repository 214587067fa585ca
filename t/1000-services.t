#!/bin/sh
# Every VMAN service through one filter: each group of the VMAN docs
# runs from its examples/<family>.jsonl file against the local server,
# and examples/followup.sh runs the follow-ups by id.  Tasks go
# submitted -> running through the family's real vendor statuses and end
# in one response; uploads reach the server as forms; binary answers
# land in files; --endpoints and the man page's table agree.
. "$(dirname "$0")/lib.sh"
start_mock

EXAMPLES=$(dirname "$T")/examples

# Run examples/$1.jsonl from a fresh copy of the examples directory (the
# file paths in it are relative), in input order, polling every 0.02 s:
# records in the file records, stderr in err.  The body continues
# inside ex-$1.  True when vmanjl exited with status $2 and wrote
# nothing on stderr but, after errors, the summary that -q still writes.
run_family () {
	rm -rf "ex-$1" && cp -r "$EXAMPLES" "ex-$1" && cd "ex-$1" || return 1
	"$VMANJL" -q --poll-interval 0.02 -k "$1.jsonl" >records 2>err
	st=$?
	[ $st -eq "$2" ] ||
	    { echo "vmanjl exited $st, not $2"; cat err; return 1; }
	grep -v "^vmanjl: [0-9]* requests\?, .* errors\?, " err >noise
	[ $st -ne 0 ] || [ ! -s err ] || { echo "stderr:"; cat err; return 1; }
	[ ! -s noise ] || { echo "stderr:"; cat err; return 1; }
}

# One line per task of file $1: its line, the statuses of its progress
# records and their vendor statuses (each run of repeats squeezed to
# one), then its terminal record's type, status and vendor status:
#	1 submitted,running NOT_START,SUBMITTED,IN_PROGRESS -> response succeeded SUCCESS
trace () {
	jq -s -r '
	def squeeze: reduce .[] as $x ([];
	    if length > 0 and .[length - 1] == $x then . else . + [$x] end);
	group_by(.line)[] | select(any(.[]; .type == "progress")) |
	(map(select(.type == "progress")) |
	    [(map(.task.status) | squeeze | join(",")),
	     (map(.task.vendor_status // empty) | squeeze | join(","))]) as $p |
	(map(select(.type == "response" or .type == "error")) | last) as $t |
	"\(.[0].line) \($p[0]) \($p[1]) -> \($t.type) \($t.task.status) \($t.task.vendor_status)"
	' "$1"
}

# The terminal records of file records: a response for each line $1,
# $2 and so on, nothing else.
responses () {
	terminals records >actual &&
	printf "%s response\n" "$@" >expect &&
	test_cmp expect actual
}

# For each pair "LINE VALUE" after $1: a response of line LINE in file
# records whose task.raw member $1 is VALUE.
raw_is () {
	m=$1
	shift
	while [ $# -ge 2 ]; do
		has ".type==\"response\" and .line==$1 and
		    .task.raw.$m==\"$2\"" records || return 1
		shift 2
	done
}

# The trace of file records is the one on stdin.
traced () {
	cat >expect &&
	trace records >actual &&
	test_cmp expect actual
}

# Every task response of file $1 counts the polls the server answered,
# and its attempts are the submit and those polls.
polls_match () {
	mock_stats >stats &&
	jq -e -s --slurpfile s stats 'all(.[] |
	    select(.type == "response" and .task != null);
	    .task.polls == $s[0].polls[.task.id] and
	    .attempts == .task.polls + 1)' "$1" >/dev/null ||
	{ echo "task polls differ from the server's:"; cat "$1" stats; \
	return 1; }
}

# No progress record of file $1 repeats its line's previous one: each
# says the status or the progress changed.
changes_only () {
	jq -e -s 'group_by(.line) | all(.[];
	    map(select(.type == "progress") |
	        [.task.status, .task.vendor_status, .task.progress]) |
	    . as $p | all(range(1; length); $p[.] != $p[. - 1]))' \
	    "$1" >/dev/null ||
	{ echo "a progress record repeats the one before:"; cat "$1"; \
	return 1; }
}

# Member $2 of the response record with custom_id $1 in file $3.
resp_of () {
	jq -r "select(.type==\"response\" and .custom_id==\"$1\") | $2" "$3"
}

# Line $2 of $1.jsonl alone, with --no-wait (so that the upload is the
# last request the server saw): records in one.out, the server's stats
# in stats.
one_line () {
	sed -n "$2p" "$1.jsonl" >one.jsonl &&
	"$VMANJL" -q --no-wait one.jsonl >one.out &&
	has ".type==\"response\" and .line==1" one.out &&
	mock_stats >stats
}

# The binary answer of custom_id $2 in file $1 is the file $3 (a leading
# ./ aside), holds the record's bytes, has Content-Type $4 and starts
# with the hex bytes $5.
binary () {
	f=$(resp_of "$2" .file "$1") &&
	n=$(resp_of "$2" .bytes "$1") &&
	has ".type==\"response\" and .custom_id==\"$2\" and .body==null and
	    .content_type==\"$4\"" "$1" &&
	{ [ "${f#./}" = "$3" ] || { echo "$2: file $f, not $3"; return 1; }; } &&
	{ [ -f "$3" ] || { echo "$2: no file $3"; return 1; }; } &&
	{ [ "$n" -gt 0 ] && [ "$(wc -c <"$3")" -eq "$n" ] ||
	    { echo "$2: $3 has $(wc -c <"$3") bytes, record $n"; return 1; }; } &&
	magic=$(head -c 4 "$3" | od -An -tx1 | tr -d " \n") &&
	{ [ "$magic" = "$5" ] || { echo "$2: $3 starts $magic"; return 1; }; }
}

test_expect_success 'chat: plain, streamed, bare body, embeddings, a bad line' '
	run_family chat 1 &&
	terminals records >actual &&
	printf "1 response\n2 response\n3 response\n4 response\n5 error\n" >expect &&
	test_cmp expect actual &&
	has ".type==\"response\" and .line==1 and
	    .custom_id==\"greet\" and .status==200 and
	    .content==\"Hello from vmanjl\"" records &&
	has ".type==\"response\" and .line==2 and
	    .content==\"one word at a time\" and .usage.total_tokens==10" records &&
	jq -j "select(.type==\"delta\" and .line==2) | .content" records >deltas &&
	printf "one word at a time" >expect &&
	test_cmp expect deltas &&
	has ".type==\"response\" and .line==3 and .custom_id==null and
	    .body.object==\"chat.completion\"" records &&
	has ".type==\"response\" and .line==4 and
	    (.body.data[0].embedding | length)==8" records &&
	has ".type==\"error\" and .line==5 and
	    .error.type==\"invalid_request\" and .attempts==0" records
'

test_expect_success 'chat models: gpts, gemini-pro, gpt-4-all, vision, streamed vision' '
	run_family chat-models 0 &&
	responses 1 2 3 4 5 &&
	has ".type==\"response\" and .line==1 and .custom_id==\"gpts\" and
	    .body.model==\"gpt-4-gizmo-g-2fkFE8rbu\" and
	    .content==\"What can this GPT do\"" records &&
	has ".type==\"response\" and .line==2 and
	    .body.model==\"gemini-pro\" and
	    .content==\"Hello Gemini\"" records &&
	has ".type==\"response\" and .line==3 and .body.model==\"gpt-4-all\" and
	    .content==\"https://example.com/cat.png describe this\"" records &&
	has ".type==\"response\" and .line==4 and
	    .body.model==\"gpt-4-vision-preview\" and
	    .content==\"What is in this image\" and
	    .finish_reason==\"stop\"" records &&
	jq -j "select(.type==\"delta\" and .line==5) | .content" records >deltas &&
	printf "Stream a caption" >expect &&
	test_cmp expect deltas &&
	has ".type==\"response\" and .line==5 and
	    .custom_id==\"vision-stream\" and
	    .body.object==\"chat.completion\" and
	    .content==\"Stream a caption\"" records
'

test_expect_success 'completions: plain and streamed' '
	run_family completions 0 &&
	responses 1 2 &&
	has ".type==\"response\" and .line==1 and
	    .body.object==\"text_completion\" and
	    .content==\"Say this is a test\"" records &&
	jq -j "select(.type==\"delta\" and .line==2) | .content" records >deltas &&
	printf "Stream this one" >expect &&
	test_cmp expect deltas &&
	has ".type==\"response\" and .line==2 and
	    .body.object==\"text_completion\" and
	    .content==\"Stream this one\"" records
'

test_expect_success 'images: dall-e-3, chat-shaped stable-diffusion and gpt-4-all' '
	run_family images 0 &&
	responses 1 2 3 &&
	has ".type==\"response\" and .line==1 and .custom_id==\"dalle3\" and
	    (.body.data | length)==1 and
	    (.body.data[0].url | endswith(\".png\")) and
	    .body.data[0].revised_prompt==\"a lighthouse at dusk\"" records &&
	has ".type==\"response\" and .line==2 and
	    .body.object==\"chat.completion\" and
	    .body.model==\"stable-diffusion\" and
	    .content==\"a lighthouse at dusk, oil painting\"" records &&
	has ".type==\"response\" and .line==3 and .body.model==\"gpt-4-all\" and
	    .content==\"draw a lighthouse at dusk\"" records
'

test_expect_success 'embeddings: one input and many' '
	run_family embeddings 0 &&
	responses 1 2 &&
	has ".type==\"response\" and .line==1 and .body.object==\"list\" and
	    (.body.data | length)==1 and
	    (.body.data[0].embedding | length)==8" records &&
	has ".type==\"response\" and .line==2 and
	    .body.model==\"text-embedding-ada-002\" and
	    (.body.data | map(.index))==[0,1]" records
'

test_expect_success 'audio: transcription (json, srt), translation, speech to files' '
	test ! -e "$EXAMPLES/out" &&
	run_family audio 0 &&
	responses 1 2 3 4 5 &&
	size=$(wc -c <files/hello.wav) &&
	has ".type==\"response\" and .line==1 and .custom_id==\"transcribe\" and
	    .body.text==\"received hello.wav $size bytes\"" records &&
	has ".type==\"response\" and .line==2 and
	    .custom_id==\"transcribe-srt\" and
	    (.body | type)==\"string\" and
	    (.body | contains(\" --> \")) and
	    (.body | contains(\"received hello.wav $size bytes\"))" records &&
	has ".type==\"response\" and .line==3 and .custom_id==\"translate\" and
	    .body.text==\"received hello.wav $size bytes (translated to English)\"" records &&
	binary records speech speech.mp3 audio/mpeg 49443304 &&
	binary records speech-wav out/speech.wav audio/wav 52494646 &&
	grep -a "MOCKTTS model=tts-1 voice=alloy format=mp3" speech.mp3 &&
	grep -a "Hello from vmanjl" speech.mp3 &&
	grep -a "MOCKTTS model=tts-1-hd voice=nova format=wav" out/speech.wav &&
	test -z "$(find . -name "*.tmp")"
'

test_expect_success 'audio uploads: the file part and the fields reach the server' '
	rm -rf ex && cp -r "$EXAMPLES" ex && cd ex &&
	size=$(wc -c <files/hello.wav) &&
	one_line audio 1 &&
	has ".last_method==\"POST\" and
	    .last_path==\"/v1/audio/transcriptions\" and
	    (.last_headers[\"content-type\"] |
	        startswith(\"multipart/form-data; boundary=\")) and
	    (.last_form | keys_unsorted)==[\"model\",\"language\",\"temperature\",\"file\"] and
	    .last_form.model==\"whisper-1\" and .last_form.language==\"en\" and
	    .last_form.temperature==\"0\" and
	    .last_form.file.filename==\"hello.wav\" and
	    .last_form.file.bytes==$size" stats &&
	one_line audio 2 &&
	has ".last_form.response_format==\"srt\" and
	    .last_form.file.bytes==$size" stats &&
	one_line audio 3 &&
	has ".last_path==\"/v1/audio/translations\" and
	    .last_form.model==\"whisper-1\" and
	    .last_form.file.filename==\"hello.wav\" and
	    .last_form.file.bytes==$size" stats
'

test_expect_success 'midjourney: imagine, prefix, blend, describe, shorten, swap_face; lists' '
	run_family midjourney 1 &&
	terminals records >actual &&
	{ printf "%s response\n" 1 2 3 4 5 6; echo "7 error";
	  printf "%s response\n" 8 9 10 11; } >expect &&
	test_cmp expect actual &&
	traced <<-\EOF &&
	1 submitted,running NOT_START,SUBMITTED,IN_PROGRESS -> response succeeded SUCCESS
	2 submitted,running NOT_START,SUBMITTED,IN_PROGRESS -> response succeeded SUCCESS
	3 submitted,running NOT_START,SUBMITTED,IN_PROGRESS -> response succeeded SUCCESS
	4 submitted,running NOT_START,SUBMITTED,IN_PROGRESS -> response succeeded SUCCESS
	5 submitted,running NOT_START,SUBMITTED,IN_PROGRESS -> response succeeded SUCCESS
	6 submitted,running NOT_START,SUBMITTED,IN_PROGRESS -> response succeeded SUCCESS
	EOF
	all ".type==\"response\" and .task" ".task.progress==1 and
	    .task.raw.status==\"SUCCESS\" and .body==.task.raw" records &&
	all ".type==\"response\" and .task and .line!=5" "
	    (.task.urls | length)==1 and .task.urls[0]==.task.raw.imageUrl and
	    .task.id as \$id |
	    (.task.urls[0] | endswith(\"/files/mj-\" + \$id + \".png\"))" records &&
	all ".type==\"progress\"" "(.task.id | startswith(\"mjtask-\")) and
	    (.task.progress==null or
	    (.task.progress >= 0 and .task.progress < 1))" records &&
	has ".type==\"response\" and .line==1 and
	    .task.raw.action==\"IMAGINE\" and
	    .task.raw.properties.notifyHook==\"https://example.com/hook\" and
	    .task.raw.state==\"run-1\"" records &&
	has ".type==\"response\" and .line==2 and
	    .task.raw.prompt==\"a dog in a hat\"" records &&
	raw_is action 3 BLEND 4 DESCRIBE &&
	has ".type==\"response\" and .line==5 and
	    .task.raw.action==\"SHORTEN\" and
	    .task.urls==[]" records &&
	has ".type==\"response\" and .line==6 and
	    .task.raw.action==\"SWAP_FACE\"" records &&
	has ".type==\"response\" and .line==8 and (.body | type)==\"array\" and
	    (.body | map(.id | startswith(\"mjtask-\")) | all)" records &&
	has ".type==\"response\" and .line==9 and
	    (.body | type)==\"array\"" records &&
	has ".type==\"response\" and .line==10 and
	    (.body.content | type)==\"array\" and
	    .body.number==0 and (.body.totalElements | type)==\"number\"" records &&
	has ".type==\"response\" and .line==11 and .body==[]" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'midjourney: the banned line is refused, code 24, no task' '
	cd ex-midjourney &&
	has ".type==\"error\" and .line==7 and .custom_id==\"banned\" and
	    .status==200 and
	    .error.type==\"task_refused\" and .error.code==24 and
	    (.error.message | contains(\"(code 24)\")) and
	    (has(\"task\") | not) and .attempts==1" records &&
	all ".line==7" ".type==\"error\"" records
'

test_expect_success 'midjourney: a mode prefix is kept in the polls' '
	cd ex-midjourney &&
	sed -n 2p midjourney.jsonl >one.jsonl &&
	"$VMANJL" -q --poll-interval 0.02 one.jsonl >one.out &&
	has ".type==\"response\" and .task.status==\"succeeded\"" one.out &&
	id=$(jq -r "select(.type==\"response\") | .task.id" one.out) &&
	mock_stats >stats &&
	has ".last_method==\"GET\" and
	    .last_path==\"/mj-fast/mj/task/$id/fetch\"" stats
'

test_expect_success 'suno: v3.5 and v3.0 generate, concat, new-api music' '
	run_family suno 0 &&
	responses 1 2 3 4 &&
	traced <<-\EOF &&
	1 submitted,running pending,processing -> response succeeded completed
	2 submitted,running pending,processing -> response succeeded completed
	3 submitted,running pending,processing -> response succeeded completed
	4 submitted,running NOT_START,SUBMITTED,QUEUED,IN_PROGRESS -> response succeeded SUCCESS
	EOF
	all ".type==\"response\"" ".task.progress==1 and
	    (.task.urls | map(endswith(\".mp3\")) | any) and
	    (.task.urls | map(endswith(\".mp4\")) | any)" records &&
	has ".type==\"response\" and .line==1 and (.task.urls | length)==4 and
	    (.task.id | startswith(\"suno-\")) and
	    .task.raw.clips[.task.id + \"-clip1\"].model_name==\"chirp-v3-5\"" records &&
	has ".type==\"response\" and .line==2 and (.task.urls | length)==4 and
	    .task.raw.clips[.task.id + \"-clip1\"].model_name==\"chirp-v3-0\"" records &&
	has ".type==\"response\" and .line==3 and
	    (.task.urls | length)==2" records &&
	has ".type==\"response\" and .line==4 and
	    (.task.id | startswith(\"sunotask-\")) and
	    (.task.urls | length)==4 and .task.raw.action==\"MUSIC\"" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'flux: pro-1.1, pro, dev, and a result query' '
	run_family flux 0 &&
	responses 1 2 3 4 &&
	traced <<-\EOF &&
	1 submitted,running Pending -> response succeeded Ready
	2 submitted,running Pending -> response succeeded Ready
	3 submitted,running Pending -> response succeeded Ready
	EOF
	has ".type==\"response\" and .line==1 and
	    .task.urls==[.task.raw.result.sample] and
	    (.task.urls[0] | endswith(\".png\"))" records &&
	has ".type==\"response\" and .line==2 and
	    (.task.urls[0] | endswith(\".jpg\"))" records &&
	has ".type==\"response\" and .line==3 and
	    (.task.urls | length)==1" records &&
	has ".type==\"response\" and .line==4 and (has(\"task\") | not) and
	    .body.id==\"flux-1\" and (.body.status | type)==\"string\"" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'recraft: generate, styles, vectorize, remove background, upscales' '
	run_family recraft 0 &&
	responses 1 2 3 4 5 6 &&
	has ".type==\"response\" and .line==1 and (.body.data | length)==1 and
	    (.body.data[0].url | endswith(\".png\"))" records &&
	has ".type==\"response\" and .line==2 and
	    (.body.id | type)==\"string\"" records &&
	has ".type==\"response\" and .line==3 and
	    (.body.image.url | endswith(\".svg\"))" records &&
	has ".type==\"response\" and .line==4 and
	    (.body.image.url | endswith(\".png\"))" records &&
	has ".type==\"response\" and .line==5 and
	    (.body.image.image_id | type)==\"string\"" records &&
	has ".type==\"response\" and .line==6 and
	    (.body.image.image_id | type)==\"string\"" records
'

test_expect_success 'recraft uploads: the file part and the fields reach the server' '
	rm -rf ex && cp -r "$EXAMPLES" ex && cd ex &&
	size=$(wc -c <files/cat.png) &&
	one_line recraft 2 &&
	has ".last_path==\"/recraft/v1/styles\" and
	    .last_form.style==\"digital_illustration\" and
	    .last_form.file.filename==\"cat.png\" and
	    .last_form.file.bytes==$size" stats &&
	for n in 3 4 5 6; do
		one_line recraft $n &&
		has "(.last_path | startswith(\"/recraft/v1/images/\")) and
		    (.last_form | keys)==[\"file\"] and
		    .last_form.file.filename==\"cat.png\" and
		    .last_form.file.bytes==$size" stats || return 1
	done
'

test_expect_success 'stability: ultra, core as JSON, sd3 image-to-image, sdxl' '
	run_family stability 0 &&
	responses 1 2 3 4 &&
	binary records ultra ultra.png image/png 89504e47 &&
	has ".type==\"response\" and .line==2 and .custom_id==\"core-json\" and
	    (.body.image | type)==\"string\" and
	    .body.finish_reason==\"SUCCESS\" and (has(\"file\") | not)" records &&
	test ! -e core-json.png &&
	binary records sd3 sd3.jpg image/jpeg ffd8ffe0 &&
	binary records sdxl sdxl.png image/png 89504e47 &&
	test -z "$(find . -name "*.tmp")"
'

test_expect_success 'stability upload: the image part and the fields reach the server' '
	rm -rf ex && cp -r "$EXAMPLES" ex && cd ex &&
	one_line stability 3 &&
	has ".last_path==\"/sd/v2beta/stable-image/generate/sd3\" and
	    .last_headers.accept==\"image/*\" and
	    .last_form.prompt==\"the same cat, in winter\" and
	    .last_form.mode==\"image-to-image\" and
	    .last_form.strength==\"0.6\" and
	    .last_form.model==\"sd3-large\" and
	    .last_form.output_format==\"jpeg\" and
	    .last_form.image.filename==\"cat.png\" and
	    .last_form.image.bytes==$(wc -c <files/cat.png)" stats
'

test_expect_success 'ideogram: generate, remix, upscale, describe; reverse tasks' '
	run_family ideogram 0 &&
	responses 1 2 3 4 5 6 7 8 &&
	size=$(wc -c <files/cat.png) &&
	has ".type==\"response\" and .line==1 and
	    .body.data[0].prompt==\"a poster that says hello\" and
	    (.body.data[0].url | endswith(\".png\"))" records &&
	has ".type==\"response\" and .line==2 and
	    .body.data[0].prompt==\"the cat as a poster\"" records &&
	has ".type==\"response\" and .line==3 and
	    .body.data[0].prompt==\"received cat.png $size bytes\"" records &&
	has ".type==\"response\" and .line==4 and
	    .body.descriptions[0].text==\"received cat.png $size bytes\"" records &&
	traced <<-\EOF &&
	5 submitted,running false -> response succeeded true
	6 submitted,running false -> response succeeded true
	7 submitted,running false -> response succeeded true
	8 submitted,running false -> response succeeded true
	EOF
	all ".type==\"response\" and .line >= 5" ".task.progress==1 and
	    (.task.urls | length)==4 and
	    .task.raw.request_id==.task.id and
	    .task.raw.completion_percentage==100" records &&
	raw_is request_type 5 GENERATE 6 DESCRIBE 7 BLEND 8 UPSCALE &&
	all ".type==\"progress\" and .task.status==\"running\"" "
	    .task.progress >= 0 and .task.progress < 1" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'ideogram uploads: image_request arrives as a JSON string' '
	rm -rf ex && cp -r "$EXAMPLES" ex && cd ex &&
	size=$(wc -c <files/cat.png) &&
	one_line ideogram 2 &&
	has ".last_path==\"/ideogram/remix\" and
	    (.last_form.image_request | type)==\"string\" and
	    (.last_form.image_request | fromjson)==
	        {\"prompt\":\"the cat as a poster\",\"image_weight\":50,\"model\":\"V_2\"} and
	    .last_form.image_file.filename==\"cat.png\" and
	    .last_form.image_file.bytes==$size" stats &&
	one_line ideogram 3 &&
	has ".last_path==\"/ideogram/upscale\" and
	    (.last_form.image_request | fromjson)==
	        {\"resemblance\":50,\"detail\":50} and
	    .last_form.image_file.bytes==$size" stats &&
	one_line ideogram 4 &&
	has ".last_path==\"/ideogram/describe\" and
	    (.last_form | keys)==[\"image_file\"] and
	    .last_form.image_file.bytes==$size" stats
'

test_expect_success 'kling: image generation, text-to-video, image-to-video' '
	run_family kling 0 &&
	responses 1 2 3 &&
	traced <<-\EOF &&
	1 submitted,running submitted,processing -> response succeeded succeed
	2 submitted,running QUEUED,IN_PROGRESS -> response succeeded SUCCESS
	3 submitted,running QUEUED,IN_PROGRESS -> response succeeded SUCCESS
	EOF
	all ".type==\"response\"" ".task.progress==1 and
	    .task.raw.task_id==.task.id" records &&
	has ".type==\"response\" and .line==1 and .body.code==0 and
	    (.task.urls | length)==2 and
	    (.task.urls | map(endswith(\".png\")) | all)" records &&
	has ".type==\"response\" and .line==2 and .body.code==\"success\" and
	    (.task.urls | length)==1 and
	    (.task.urls[0] | endswith(\".mp4\"))" records &&
	has ".type==\"response\" and .line==3 and .body.code==\"success\" and
	    (.task.urls | length)==1 and
	    (.task.urls[0] | endswith(\".mp4\"))" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'luma: generate, and generate from an image' '
	run_family luma 0 &&
	responses 1 2 &&
	traced <<-\EOF &&
	1 submitted,running pending,processing -> response succeeded completed
	2 submitted,running pending,processing -> response succeeded completed
	EOF
	all ".type==\"response\"" ".task.progress==1 and
	    .task.urls[0]==.task.raw.video.url and
	    (.task.urls[0] | endswith(\".mp4\"))" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'runway: image-to-video with X-Runway-Version' '
	run_family runway 0 &&
	responses 1 &&
	echo "1 submitted,running PENDING,THROTTLED,RUNNING -> response succeeded SUCCEEDED" |
	traced &&
	has ".type==\"response\" and .task.progress==1 and
	    .task.urls==.task.raw.output and (.task.urls | length)==1 and
	    (.task.urls[0] | endswith(\".mp4\"))" records &&
	has ".type==\"progress\" and .task.vendor_status==\"RUNNING\" and
	    .task.progress > 0 and .task.progress < 1" records &&
	changes_only records &&
	polls_match records &&
	id=$(jq -r "select(.type==\"response\") | .task.id" records) &&
	has ".last_method==\"GET\" and
	    .last_path==\"/runwayml/v1/tasks/$id\" and
	    .last_headers[\"x-runway-version\"]==\"2024-11-06\"" stats &&
	one_line runway 1 &&
	has ".last_method==\"POST\" and
	    .last_path==\"/runwayml/v1/image_to_video\" and
	    .last_headers[\"x-runway-version\"]==\"2024-11-06\"" stats
'

test_expect_success 'cogvideox: text-to-video and image-to-video' '
	run_family cogvideox 0 &&
	responses 1 2 &&
	traced <<-\EOF &&
	1 submitted,running PROCESSING -> response succeeded SUCCESS
	2 submitted,running PROCESSING -> response succeeded SUCCESS
	EOF
	all ".type==\"response\"" ".task.progress==1 and
	    .task.urls==[.task.raw.video_result[0].url] and
	    (.task.urls[0] | endswith(\".mp4\"))" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'viggle: templates, credits, uploads, user-described tasks' '
	run_family viggle 0 &&
	responses 1 2 3 4 5 6 7 8 &&
	has ".type==\"response\" and .line==1 and
	    (.body.data | length)==3" records &&
	has ".type==\"response\" and .line==2 and
	    (.body.data | length)==3" records &&
	has ".type==\"response\" and .line==3 and
	    (.body.data.credits | type)==\"number\"" records &&
	has ".type==\"response\" and .line==4 and (has(\"task\") | not) and
	    (.body.data.task_id | startswith(\"viggle-\"))" records &&
	has ".type==\"response\" and .line==5 and
	    (has(\"task\") | not) and .body.code==0" records &&
	traced <<-\EOF &&
	6 submitted,running queued,processing -> response succeeded done
	7 submitted,running queued,processing -> response succeeded done
	8 submitted,running queued,processing -> response succeeded done
	EOF
	all ".type==\"response\" and .line >= 6" ".task.progress==1 and
	    .task.urls==[.task.raw.result.video_url] and
	    (.task.urls[0] | endswith(\".mp4\"))" records &&
	changes_only records &&
	polls_match records
'

test_expect_success 'viggle uploads: files and fields reach the server' '
	rm -rf ex && cp -r "$EXAMPLES" ex && cd ex &&
	img=$(wc -c <files/face.png) && vid=$(wc -c <files/dance.mp4) &&
	one_line viggle 4 &&
	has ".last_path==\"/api/viggle/mix/upload-video\" and
	    .last_form.file.filename==\"dance.mp4\" and
	    .last_form.file.bytes==$vid" stats &&
	one_line viggle 5 &&
	has ".last_form.file.filename==\"face.png\" and
	    .last_form.file.bytes==$img" stats &&
	one_line viggle 6 &&
	has ".last_path==\"/api/viggle/mix/generate\" and
	    (.last_form | keys_unsorted)==[\"bg_mode\",\"image\",\"video\"] and
	    .last_form.bg_mode==\"white\" and
	    .last_form.image.bytes==$img and
	    .last_form.video.bytes==$vid" stats &&
	one_line viggle 7 &&
	has ".last_form.template_id==\"1\" and
	    .last_form.image.bytes==$img" stats &&
	one_line viggle 8 &&
	has ".last_path==\"/api/viggle/move/generate\" and
	    .last_form.image.filename==\"face.png\" and
	    .last_form.video.filename==\"dance.mp4\"" stats
'

test_expect_success 'followup.sh: actions, modal, fetch, seed, cancel, queries' '
	rm -rf ex && cp -r "$EXAMPLES" ex && cd ex &&
	VMANJL="$VMANJL" POLL=0.02 sh followup.sh >records 2>err &&
	test ! -s err &&
	test $(jq -s "map(select(.type==\"error\")) | length" records) -eq 0 &&
	test $(jq -s "map(select(.type==\"response\")) | length" records) -eq 22 &&
	grid=$(resp_of grid .task.id records) &&
	has ".type==\"response\" and .custom_id==\"u1\" and
	    .task.status==\"succeeded\" and .task.id!=\"$grid\" and
	    .task.raw.action==\"UPSCALE\" and
	    (.task.raw.customId | startswith(\"MJ::JOB::upsample::1::\")) and
	    (.task.urls | length)==1" records &&
	has ".type==\"progress\" and .custom_id==\"u1\" and
	    .task.vendor_status==\"IN_PROGRESS\"" records &&
	has ".type==\"response\" and .custom_id==\"fetch\" and
	    .body.id==\"$grid\" and .body.status==\"SUCCESS\"" records &&
	has ".type==\"response\" and .custom_id==\"seed\" and
	    .body.code==1 and (.body.result | type)==\"string\"" records &&
	inpaint=$(resp_of inpaint .task.id records) &&
	has ".type==\"response\" and .custom_id==\"inpaint\" and
	    .task.status==\"submitted\" and
	    .body.code==21 and .body.result==\"$inpaint\"" records &&
	has ".type==\"response\" and .custom_id==\"modal\" and
	    .task.id==\"$inpaint\" and .task.status==\"succeeded\" and
	    .task.raw.prompt==\"a red hat\" and
	    (.task.raw.customId | startswith(\"MJ::Inpaint::\")) and
	    (.task.urls | length)==1" records &&
	late=$(resp_of late .task.id records) &&
	has ".type==\"response\" and .custom_id==\"cancel\" and
	    .body.code==1 and .body.result==\"$late\"" records &&
	printf "%s\n" "{\"method\":\"GET\",\"url\":\"/mj/task/$late/fetch\"}" >fetch &&
	"$VMANJL" -q fetch >fetch.out &&
	has ".type==\"response\" and .body.id==\"$late\" and
	    .body.status==\"CANCEL\"" fetch.out &&
	jq -c "select(.type==\"response\" and .custom_id==\"query\") |
	    .body" records >bodies &&
	test $(wc -l <bodies) -eq 7 &&
	for f in suno suno30 kling luma runway cogvideox flux; do
		id=$(resp_of "$f" .task.id records) &&
		has ".type==\"response\" and .custom_id==\"$f\" and
		    .task.status==\"submitted\" and .task.id==\"$id\"" records &&
		case $f in
		suno*)	has ".code==200 and .data.task_id==\"$id\" and
			    (.data.clips | length)==2" bodies ;;
		kling)	has ".code==\"success\" and .data.task_id==\"$id\" and
			    .data.status==\"QUEUED\" and
			    .data.data.data.task_status==\"submitted\"" bodies ;;
		luma)	has ".id==\"$id\" and .state==\"pending\"" bodies ;;
		runway)	has ".id==\"$id\" and .status==\"PENDING\"" bodies ;;
		cogvideox) has ".id==\"$id\" and
			    .task_status==\"PROCESSING\"" bodies ;;
		flux)	has ".id==\"$id\" and .status==\"Pending\"" bodies ;;
		esac || return 1
	done
'

test_expect_success 'midjourney: an inpaint waits in MODAL until its modal' '
	printf "%s\n" "{\"url\":\"/mj/submit/imagine\",\"body\":{\"prompt\":\"a hat\"}}" >grid &&
	"$VMANJL" -q --poll-interval 0.02 grid >grid.out &&
	grid=$(jq -r "select(.type==\"response\") | .task.id" grid.out) &&
	printf "%s\n" "{\"url\":\"/mj/submit/action\",\"body\":{\"taskId\":\"$grid\",\"customId\":\"MJ::Inpaint::1::$grid::SOLO\"}}" >inpaint &&
	test_must_fail "$VMANJL" -q --poll-interval 0.02 --task-timeout 0.3 \
	    inpaint >inpaint.out &&
	id=$(jq -r "select(.type==\"error\") | .task.id" inpaint.out) &&
	has ".type==\"error\" and .error.type==\"task_timeout\" and
	    .task.status==\"running\" and .task.vendor_status==\"MODAL\" and
	    .task.polls >= 3 and .task.raw.status==\"MODAL\"" inpaint.out &&
	all ".type==\"progress\" and .task.status==\"running\"" "
	    .task.vendor_status==\"MODAL\"" inpaint.out &&
	changes_only inpaint.out &&
	printf "%s\n" "{\"url\":\"/mj/submit/modal\",\"body\":{\"taskId\":\"$id\",\"prompt\":\"a red hat\"}}" >modal &&
	"$VMANJL" -q --poll-interval 0.02 modal >modal.out &&
	has ".type==\"response\" and .task.id==\"$id\" and
	    .task.status==\"succeeded\" and .task.vendor_status==\"SUCCESS\" and
	    .task.raw.prompt==\"a red hat\"" modal.out
'

test_expect_success '--endpoints lists a row for each family group' '
	"$VMANJL" --endpoints >ep &&
	for g in chat completions embeddings images audio midjourney suno \
	    flux recraft stability ideogram kling luma runway cogvideox; do
		awk -v g=$g "NR > 1 && \$4 == g { n++ } END { exit !n }" ep ||
		{ echo "no row of group $g"; cat ep; return 1; }
	done
'

test_expect_success 'the man page table has every pattern --endpoints prints' '
	"$VMANJL" --endpoints >ep &&
	sed -n "/^\.Sh BUILT-IN ENDPOINTS/,/^\.Sh RETRIES/p" \
	    "$(dirname "$T")/man1/vmanjl.1" >table &&
	awk "NR > 1 { print \$2 }" ep >patterns &&
	test $(wc -l <patterns) -gt 30 &&
	while read -r p; do
		grep -F -e "Ta Pa $p Ta " table >/dev/null ||
		{ echo "not in the man page: $p"; return 1; }
	done <patterns
'

test_expect_success 'each man page row agrees on method, mode and group' '
	"$VMANJL" --endpoints >ep &&
	sed -n "/^\.Sh BUILT-IN ENDPOINTS/,/^\.Sh RETRIES/p" \
	    "$(dirname "$T")/man1/vmanjl.1" >table &&
	awk "NR > 1 { m = \$1 == \"*\" ? \"any\" : \$1;
	    print \".It \" m \" Ta Pa \" \$2 \" Ta \" \$3 \" Ta \" \$4 }" ep >expect &&
	grep "^\.It .* Ta Pa " table >actual &&
	test_cmp expect actual
'

test_expect_success 'the man page names every row that rests on a fork or a guess' '
	"$VMANJL" --endpoints >ep &&
	sed -n "/^\.Sh BUILT-IN ENDPOINTS/,/^\.Sh RETRIES/p" \
	    "$(dirname "$T")/man1/vmanjl.1" >table &&
	for s in fork guess; do
		awk -v s=$s "NR > 1 && \$5 == s { print \".Pa \" \$2 }" ep >expect &&
		test -s expect &&
		if [ $s = fork ]; then w="documentation:"; else w="guesses:"; fi &&
		sed -n "/^The rows that .*$w\$/,/^[^.]/p" table |
		    sed -n "s/^\(\.Pa [^ ]*\) [,.]\$/\1/p" >actual &&
		test_cmp expect actual || return 1
	done
'

test_done
