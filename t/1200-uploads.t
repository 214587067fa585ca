#!/bin/sh
# Uploads and binary results: every body member a form field, every file
# a streamed file part, bad files refused before anything is sent;
# binary answers written to files under a temporary name, named after
# the request, never to stdout.
. "$(dirname "$0")/lib.sh"
start_mock

# Members of the response record of line $1 in file $2, one a line.
field () {
	jq -r "select(.type==\"response\" and .line==$1) | .$2" "$3"
}

# Does permission checking hold for us (not root, or root without
# CAP_DAC_OVERRIDE)?  Checked by trying, not by the uid.
printf x >"$TMP/perm-probe" && chmod 000 "$TMP/perm-probe"
if cat "$TMP/perm-probe" >/dev/null 2>&1; then perms=no; else perms=yes; fi
rm -f "$TMP/perm-probe"

speech='"url":"/v1/audio/speech","body":{"model":"tts-1","input":"Hello there","voice":"alloy"'

# ------------------------------------------------------------------ #
# Uploads

test_expect_success 'every body member is a form field, in order, then the files' '
	printf "hello world\n" >a.txt &&
	head -c 5000 /dev/urandom >b.bin &&
	mkdir -p sub &&
	cat >in <<-\EOF &&
	{"custom_id":"u1","url":"/v1/audio/transcriptions","files":{"file":"a.txt","extra":"sub/../b.bin"},"body":{"model":"whisper-1","s":"a \"q\" and  caf\u00e9 ✓ naïve\ttab","n":1.50e+2,"i":-7,"t":true,"f":false,"z":null,"o":{"k": [1, 2], "u":"é"},"a":[1,"x",{}],"e":""}}
	EOF
	"$VMANJL" in >out &&
	has ".type==\"response\" and .line==1 and .status==200 and
	    .body.text==\"received a.txt 12 bytes\"" out &&
	mock_stats >stats &&
	cat >check.jq <<-\EOF &&
	$in[0].body as $b | $st[0].last_form as $f |
	([$f | keys_unsorted[]] == ([$b | keys_unsorted[]] + ["file", "extra"])) and
	all($b | keys_unsorted[]; . as $k |
	    if ($b[$k] | type) == "string" then $f[$k] == $b[$k]
	    else ($f[$k] | type) == "string" and ($f[$k] | fromjson) == $b[$k]
	    end)
	EOF
	jq -e -n --slurpfile in in --slurpfile st stats -f check.jq &&
	has ".last_form.s == \"a \\\"q\\\" and  café ✓ naïve\ttab\" and
	    .last_form.e == \"\" and
	    .last_form.n == \"1.50e+2\" and .last_form.i == \"-7\" and
	    .last_form.t == \"true\" and .last_form.f == \"false\" and
	    .last_form.z == \"null\"" stats
'

test_expect_success 'each file is a file part: its base name and its exact size' '
	has ".last_form.file.filename == \"a.txt\" and
	    .last_form.file.bytes == 12 and
	    .last_form.extra.filename == \"b.bin\" and
	    .last_form.extra.bytes == 5000" stats &&
	has ".last_method == \"POST\" and
	    .last_path == \"/v1/audio/transcriptions\"" stats
'

test_expect_success 'a form carries multipart/form-data, not our JSON Content-Type' '
	has ".last_headers[\"content-type\"] | startswith(\"multipart/form-data; boundary=\")" stats
'

test_expect_success 'three files of one request, one of them empty' '
	printf "" >empty.dat &&
	head -c 70001 /dev/urandom >c.bin &&
	echo "{\"custom_id\":\"many\",\"url\":\"/api/viggle/mix/generate\",\"files\":{\"video\":\"c.bin\",\"image\":\"$TMP/a.txt\",\"mask\":\"empty.dat\"},\"body\":{\"model\":\"viggle\"},\"task\":false}" >in &&
	"$VMANJL" in >out &&
	has ".type==\"response\" and .status==200 and .body.code==0" out &&
	mock_stats >stats &&
	has ".last_form.model == \"viggle\" and
	    .last_form.video.filename == \"c.bin\" and .last_form.video.bytes == 70001 and
	    .last_form.image.filename == \"a.txt\" and .last_form.image.bytes == 12 and
	    .last_form.mask.filename == \"empty.dat\" and .last_form.mask.bytes == 0" stats
'

test_expect_success 'an empty "files": {} sends a form of fields only' '
	echo "{\"custom_id\":\"nofiles\",\"url\":\"/v1/audio/transcriptions\",\"files\":{},\"body\":{\"model\":\"whisper-1\",\"x\":\"y z\"}}" >in &&
	"$VMANJL" in >out; test $? -eq 1 &&
	has ".type==\"error\" and .status==400 and
	    (.error.message | test(\"file\"))" out &&
	mock_stats >stats &&
	has ".last_form == {\"model\":\"whisper-1\",\"x\":\"y z\"} and
	    (.last_headers[\"content-type\"] | startswith(\"multipart/form-data\"))" stats
'

test_expect_success 'a multipart row without files is sent as a form' '
	echo "{\"custom_id\":\"core\",\"url\":\"/sd/v2beta/stable-image/generate/core\",\"headers\":{\"Accept\":\"application/json\"},\"body\":{\"prompt\":\"a red fox\",\"output_format\":\"png\",\"seed\":42}}" >in &&
	"$VMANJL" in >out &&
	has ".type==\"response\" and .status==200 and
	    .body.finish_reason==\"SUCCESS\" and (.body.image | type)==\"string\"" out &&
	mock_stats >stats &&
	has ".last_form == {\"prompt\":\"a red fox\",\"output_format\":\"png\",\"seed\":\"42\"} and
	    (.last_headers[\"content-type\"] | startswith(\"multipart/form-data\")) and
	    .last_headers.accept == \"application/json\"" stats
'

test_expect_success 'Ideogram: an image_request object is one JSON string field' '
	head -c 3000 /dev/urandom >img.png &&
	size=$(wc -c <img.png) &&
	cat >in <<-\EOF &&
	{"custom_id":"remix","url":"/ideogram/remix","files":{"image_file":"img.png"},"body":{"image_request":{"prompt":"a blue cat","aspect_ratio":"ASPECT_1_1"}}}
	{"custom_id":"desc","url":"/ideogram/describe","files":{"image_file":"img.png"}}
	EOF
	"$VMANJL" -k in >out &&
	has ".line==1 and .type==\"response\" and
	    .body.data[0].prompt==\"a blue cat\"" out &&
	has ".line==2 and .type==\"response\" and
	    .body.descriptions[0].text==\"received img.png $size bytes\"" out &&
	echo "{\"url\":\"/ideogram/remix\",\"files\":{\"image_file\":\"img.png\"},\"body\":{\"image_request\":{\"prompt\":\"p\"}}}" >in1 &&
	"$VMANJL" in1 >out1 &&
	mock_stats >stats &&
	has "(.last_form.image_request | type)==\"string\" and
	    (.last_form.image_request | fromjson)=={\"prompt\":\"p\"} and
	    .last_form.image_file.bytes==$size" stats
'

test_expect_success 'Recraft remove background: file and fields, a JSON answer' '
	echo "{\"custom_id\":\"rb\",\"url\":\"/recraft/v1/images/removeBackground\",\"files\":{\"file\":\"img.png\"},\"body\":{\"response_format\":\"url\"}}" >in &&
	"$VMANJL" in >out &&
	has ".type==\"response\" and (.body.image.url | type)==\"string\" and
	    .file==null" out &&
	mock_stats >stats &&
	has ".last_form.response_format==\"url\" and
	    .last_form.file.filename==\"img.png\"" stats
'

test_expect_success 'a retried upload sends its files again from the start' '
	head -c 33333 /dev/urandom >r.bin &&
	echo "{\"custom_id\":\"re\",\"url\":\"/v1/audio/transcriptions\",\"files\":{\"file\":\"r.bin\"},\"body\":{\"model\":\"whisper-1\",\"mock\":{\"id\":\"up-re\",\"fail_first\":1,\"status\":500}}}" >in &&
	"$VMANJL" --retries 2 in >out &&
	has ".type==\"retry\" and .status==500" out &&
	has ".type==\"response\" and .attempts==2 and
	    .body.text==\"received r.bin 33333 bytes\"" out &&
	mock_stats >stats &&
	has ".ids[\"up-re\"]==2 and .last_form.file.bytes==33333" stats
'

test_expect_success 'concurrent uploads: each request sends its own file' '
	for i in 1 2 3 4 5 6; do
		head -c $((i * 40000 + i)) /dev/urandom >par$i.bin &&
		printf "{\"custom_id\":\"p%s\",\"url\":\"/v1/audio/transcriptions\",\"files\":{\"file\":\"par%s.bin\"},\"body\":{\"model\":\"whisper-1\"}}\n" $i $i || exit 1
	done >in &&
	"$VMANJL" -j 4 in >out &&
	for i in 1 2 3 4 5 6; do
		has ".type==\"response\" and .custom_id==\"p$i\" and
		    .body.text==\"received par$i.bin $((i * 40000 + i)) bytes\"" out ||
		exit 1
	done
'

test_expect_success 'a missing file or a directory: invalid_request, nothing sent, the rest runs' '
	mkdir -p adir &&
	cat >in <<-\EOF &&
	{"custom_id":"m1","url":"/v1/audio/transcriptions","files":{"file":"nope/missing.mp3"},"body":{"model":"m"}}
	{"custom_id":"ok","url":"/v1/audio/transcriptions","files":{"file":"a.txt"},"body":{"model":"m"}}
	{"custom_id":"d1","url":"/v1/audio/transcriptions","files":{"audio":"adir"},"body":{"model":"m"}}
	{"custom_id":"m2","url":"/v1/audio/transcriptions","files":{"file":"a.txt","second":"gone.wav"},"body":{"model":"m"}}
	EOF
	before=$(requests) &&
	"$VMANJL" in >out; test $? -eq 1 &&
	after=$(requests) &&
	test $after -eq $((before + 1)) &&
	has ".line==2 and .type==\"response\" and .status==200" out &&
	all ".type==\"error\"" ".status==null and .attempts==0 and
	    .error.type==\"invalid_request\" and .error.code==null" out &&
	has ".type==\"error\" and .line==1 and .custom_id==\"m1\" and
	    (.error.message | startswith(\"line 1: \")) and
	    (.error.message | contains(\"nope/missing.mp3\")) and
	    (.error.message | contains(\"file\")) and
	    (.error.message | contains(\"No such file or directory\"))" out &&
	has ".type==\"error\" and .line==3 and
	    (.error.message | contains(\"adir\")) and
	    (.error.message | contains(\"audio\"))" out &&
	has ".type==\"error\" and .line==4 and
	    (.error.message | contains(\"gone.wav\")) and
	    (.error.message | contains(\"second\"))" out &&
	test $(jq -s "map(select(.type==\"error\")) | length" out) -eq 3
'

test_expect_success 'a named pipe is not a regular file: an error, no hang' '
	mkfifo apipe &&
	echo "{\"custom_id\":\"p\",\"url\":\"/v1/audio/transcriptions\",\"files\":{\"file\":\"apipe\"},\"body\":{\"model\":\"m\"}}" >in &&
	echo "{\"custom_id\":\"ok\",\"url\":\"/v1/audio/transcriptions\",\"files\":{\"file\":\"a.txt\"},\"body\":{\"model\":\"m\"}}" >>in &&
	timeout 5 "$VMANJL" in >out; st=$? &&
	echo "exit status $st" &&
	test $st -eq 1 &&
	has ".type==\"error\" and .line==1 and
	    .error.type==\"invalid_request\" and
	    (.error.message | contains(\"apipe\"))" out &&
	has ".type==\"response\" and .line==2" out
'

if [ $perms = yes ]; then
test_expect_success 'an unreadable file: invalid_request naming file and field' '
	printf secret >locked.mp3 &&
	chmod 000 locked.mp3 &&
	echo "{\"custom_id\":\"lk\",\"url\":\"/v1/audio/transcriptions\",\"files\":{\"upload\":\"locked.mp3\"},\"body\":{\"model\":\"m\"}}" >in &&
	before=$(requests) &&
	"$VMANJL" in >out; test $? -eq 1 &&
	test $(requests) -eq $before &&
	has ".type==\"error\" and .attempts==0 and .status==null and
	    .error.type==\"invalid_request\" and
	    (.error.message | contains(\"locked.mp3\")) and
	    (.error.message | contains(\"upload\")) and
	    (.error.message | contains(\"Permission denied\"))" out
'
else
	test_skip 'an unreadable file: invalid_request naming file and field' \
	    'chmod 000 does not stop us reading'
fi

test_expect_success '"files" of the wrong type: invalid_request, nothing sent' '
	cat >in <<-\EOF &&
	{"custom_id":"arr","url":"/v1/audio/transcriptions","files":["a.txt"],"body":{"model":"m"}}
	{"custom_id":"num","url":"/v1/audio/transcriptions","files":{"file":5},"body":{"model":"m"}}
	{"custom_id":"emp","url":"/v1/audio/transcriptions","files":{"file":""},"body":{"model":"m"}}
	{"custom_id":"str","url":"/v1/audio/transcriptions","files":"a.txt","body":{"model":"m"}}
	{"custom_id":"nul","url":"/v1/audio/transcriptions","files":null,"body":{"model":"m"}}
	{"custom_id":"obj","url":"/v1/audio/transcriptions","files":{"file":{"path":"a.txt"}},"body":{"model":"m"}}
	{"custom_id":"noname","url":"/v1/audio/transcriptions","files":{"":"a.txt"},"body":{"model":"m"}}
	EOF
	before=$(requests) &&
	"$VMANJL" in >out; test $? -eq 1 &&
	test $(requests) -eq $before &&
	test $(jq -s "map(select(.type==\"error\")) | length" out) -eq 7 &&
	all ".type==\"error\"" ".error.type==\"invalid_request\" and
	    .attempts==0 and (.error.message | contains(\"files\"))" out
'

test_expect_success 'a 60 MB file is streamed, not held in memory' '
	{ yes "0123456789abcdef" | head -c 62914560; printf 1234567; } >big.bin &&
	size=$(wc -c <big.bin) &&
	test $size -eq 62914567 &&
	echo "{\"custom_id\":\"big\",\"url\":\"/v1/audio/transcriptions\",\"files\":{\"file\":\"big.bin\"},\"body\":{\"model\":\"whisper-1\"}}" >in &&
	if [ -x /usr/bin/time ] && [ -z "${VMANJL_SANITIZE:-}" ]; then
		/usr/bin/time -f %M -o rss "$VMANJL" in >out &&
		kb=$(tail -n 1 rss) &&
		echo "peak RSS $kb KB" &&
		test "$kb" -lt 30720
	else
		echo "no /usr/bin/time: RSS not measured" &&
		"$VMANJL" in >out
	fi &&
	has ".type==\"response\" and
	    .body.text==\"received big.bin $size bytes\"" out &&
	mock_stats >stats &&
	has ".last_form.file.bytes==$size and
	    .last_form.file.filename==\"big.bin\"" stats &&
	rm -f big.bin
'

# ------------------------------------------------------------------ #
# Binary results

test_expect_success 'speech in every format: a file named by custom_id and type' '
	for f in mp3 opus aac flac wav pcm; do
		printf "{\"custom_id\":\"s-%s\",\"url\":\"/v1/audio/speech\",\"body\":{\"model\":\"tts-1\",\"input\":\"Hello there\",\"voice\":\"alloy\",\"response_format\":\"%s\"}}\n" $f $f || return 1
	done >in &&
	"$VMANJL" --out-dir tts in >out 2>err &&
	test $(jq -s "map(select(.type==\"response\")) | length" out) -eq 6 &&
	all ".type==\"response\"" ".status==200 and .body==null and
	    .attempts==1 and (.bytes | type)==\"number\" and .bytes > 0" out &&
	for f in mp3:audio/mpeg opus:audio/opus aac:audio/aac \
	    flac:audio/flac wav:audio/wav pcm:audio/pcm; do
		ext=${f%%:*} ct=${f#*:} &&
		has ".custom_id==\"s-$ext\" and .file==\"tts/s-$ext.$ext\" and
		    .content_type==\"$ct\"" out &&
		test -f tts/s-$ext.$ext &&
		test $(jq -r "select(.custom_id==\"s-$ext\") | .bytes" out) -eq $(wc -c <tts/s-$ext.$ext) &&
		sed -n "/\"s-$ext\"/p" in | jq -c .body >body &&
		curl -s -o ref -H "Content-Type: application/json" \
		    --data-binary @body "$VMAN_BASE_URL/v1/audio/speech" &&
		cmp ref tts/s-$ext.$ext || exit 1
	done &&
	ls tts >files &&
	test $(wc -l <files) -eq 6
'

# The records of the speech test above: no audio among them.
test_expect_success 'nothing binary on stdout' '
	test -s out &&
	! grep -a "MOCKTTS" out
'

test_expect_success 'no custom_id: line-N.<ext>; the default --out-dir is .' '
	mkdir -p here && cd here &&
	printf "\n{$speech}}\n{\"custom_id\":null,$speech,\"response_format\":\"wav\"}}\n{\"custom_id\":7,$speech}}\n" >in &&
	"$VMANJL" in >out &&
	has ".line==2 and .file==\"./line-2.mp3\"" out &&
	has ".line==3 and .file==\"./line-3.wav\"" out &&
	has ".line==4 and .custom_id==7 and .file==\"./7.mp3\"" out &&
	test -f line-2.mp3 && test -f line-3.wav && test -f 7.mp3
'

test_expect_success 'a custom_id with / .. and spaces stays inside --out-dir' '
	mkdir -p esc/work && cd esc/work &&
	cat >in <<-EOF &&
	{"custom_id":"../../escape me/x",$speech}}
	{"custom_id":"/etc/passwd",$speech}}
	{"custom_id":"..",$speech}}
	{"custom_id":"a b\\\\c\\"d",$speech}}
	EOF
	"$VMANJL" --out-dir box in >out &&
	test $(jq -s "map(select(.type==\"response\")) | length" out) -eq 4 &&
	all ".type==\"response\"" "(.file | startswith(\"box/\")) and
	    (.file | ltrimstr(\"box/\") | (contains(\"/\") or
	        startswith(\".\")) | not)" out &&
	(cd .. && find . -type f | sort) >../../files &&
	ls box | sed "s,^,./work/box/," >expect &&
	printf "./work/in\n./work/out\n" >>expect &&
	sort expect >../../expect &&
	test_cmp ../../expect ../../files &&
	test $(wc -l <../../files) -eq 6
'

test_expect_success 'one custom_id, however escaped in JSON, names one file' '
	cat >in <<-EOF &&
	{"custom_id":"caf\\u00e9 q\\"d\\\\e",$speech}}
	{"custom_id":"café q\\"d\\\\e",$speech}}
	{"custom_id":"x\\/y",$speech}}
	EOF
	"$VMANJL" -k --out-dir esc2 in >out &&
	has ".line==1 and .custom_id==\"café q\\\"d\\\\e\"" out &&
	has ".line==2 and .custom_id==\"café q\\\"d\\\\e\"" out &&
	test "$(field 1 file out)" = "$(field 2 file out)" &&
	has ".line==3 and .file==\"esc2/x_y.mp3\"" out
'

test_expect_success 'a quote or a backslash in the custom_id is one _, like any character' '
	cat >in <<-EOF &&
	{"custom_id":"a\\"b\\\\c d",$speech}}
	EOF
	"$VMANJL" --out-dir esc3 in >out &&
	has ".custom_id==\"a\\\"b\\\\c d\"" out &&
	has ".file==\"esc3/a_b_c_d.mp3\"" out &&
	test -f esc3/a_b_c_d.mp3
'

test_expect_success 'an explicit output path is used as given, missing dirs made' '
	mkdir -p prev && printf "old junk" >prev/keep.audio &&
	cat >in <<-EOF &&
	{"custom_id":"o1","output":"not/yet/there/speech.audio",$speech}}
	{"custom_id":"o2","output":"prev/keep.audio",$speech}}
	EOF
	"$VMANJL" --out-dir elsewhere in >out &&
	has ".custom_id==\"o1\" and .file==\"not/yet/there/speech.audio\" and
	    .content_type==\"audio/mpeg\"" out &&
	has ".custom_id==\"o2\" and .file==\"prev/keep.audio\"" out &&
	test $(wc -c <not/yet/there/speech.audio) -eq $(field 1 bytes out) &&
	test $(wc -c <prev/keep.audio) -eq $(field 2 bytes out) &&
	! grep "old junk" prev/keep.audio &&
	test ! -e elsewhere/o1.mp3 &&
	ls not/yet/there prev >files &&
	! grep "tmp" files
'

test_expect_success '--out-dir that does not exist is created' '
	echo "{\"custom_id\":\"deep\",$speech}}" >in &&
	"$VMANJL" --out-dir new/a/b in >out &&
	has ".file==\"new/a/b/deep.mp3\"" out &&
	test -d new/a/b &&
	test $(wc -c <new/a/b/deep.mp3) -eq $(field 1 bytes out)
'

test_expect_success 'a binary answer goes to a temporary name, renamed when complete' '
	echo "{\"custom_id\":\"slow\",$speech,\"mock\":{\"chunk\":500,\"chunk_delay_ms\":250}}}" >in &&
	"$VMANJL" --out-dir prog in >out &
	pid=$! &&
	tmp=prog/slow.mp3.vmanjl-$pid-1.tmp &&
	i=0 &&
	while [ ! -f $tmp ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done &&
	test -f $tmp &&
	test ! -e prog/slow.mp3 &&
	wait $pid &&
	has ".type==\"response\" and .file==\"prog/slow.mp3\"" out &&
	test ! -e $tmp &&
	ls -a prog >files &&
	printf ".\n..\nslow.mp3\n" >expect &&
	test_cmp expect files
'

test_expect_success 'a binary answer cut off: retried, then an error; no file, no temp file' '
	echo "{\"custom_id\":\"cut\",$speech,\"mock\":{\"close_after\":100}}}" >in &&
	"$VMANJL" --retries 1 --out-dir cutd in >out; test $? -eq 1 &&
	has ".type==\"retry\" and .attempt==1" out &&
	has ".type==\"error\" and .attempts==2 and .error.type==\"network_error\"" out &&
	test ! -e cutd/cut.mp3 &&
	find . -name "*.tmp" >tmps &&
	test_cmp /dev/null tmps
'

test_expect_success 'cut off once, then whole: the file holds the second answer only' '
	echo "{\"custom_id\":\"cut2\",$speech,\"mock\":{\"id\":\"cut2\",\"fail_first\":1,\"close_after\":700}}}" >in &&
	"$VMANJL" --retries 2 --out-dir cutd in >out &&
	has ".type==\"retry\"" out &&
	has ".type==\"response\" and .attempts==2 and .file==\"cutd/cut2.mp3\"" out &&
	test $(wc -c <cutd/cut2.mp3) -eq $(jq -r "select(.type==\"response\") | .bytes" out) &&
	jq -c .body in | jq -c "del(.mock)" >body &&
	curl -s -o ref -H "Content-Type: application/json" \
	    --data-binary @body "$VMAN_BASE_URL/v1/audio/speech" &&
	cmp ref cutd/cut2.mp3 &&
	find . -name "*.tmp" >tmps &&
	test_cmp /dev/null tmps
'

test_expect_success 'SIGINT during a binary answer: no file, no temp file' '
	echo "{\"custom_id\":\"intr\",$speech,\"mock\":{\"chunk\":400,\"chunk_delay_ms\":300}}}" >in &&
	"$VMANJL" --out-dir intr in >out &
	pid=$! &&
	tmp=intr/intr.mp3.vmanjl-$pid-1.tmp &&
	i=0 &&
	while [ ! -f $tmp ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done &&
	test -f $tmp &&
	kill -INT $pid &&
	{ wait $pid; test $? -eq 130; } &&
	has ".type==\"error\" and .error.type==\"interrupted\"" out &&
	test ! -e intr/intr.mp3 &&
	test ! -e $tmp
'

test_expect_success 'an output that cannot be created: output_error, not retried' '
	printf "a file" >plain &&
	echo "{\"custom_id\":\"oe\",\"output\":\"plain/sub/x.mp3\",$speech}}" >in &&
	before=$(requests) &&
	"$VMANJL" --retries 3 in >out; test $? -eq 1 &&
	test $(requests) -eq $((before + 1)) &&
	! has ".type==\"retry\"" out &&
	has ".type==\"error\" and .error.type==\"output_error\" and
	    .attempts==1 and .status==200 and
	    (.error.message | contains(\"plain/sub/x.mp3\"))" out &&
	echo "{\"custom_id\":\"oe2\",$speech}}" >in2 &&
	"$VMANJL" --retries 3 --out-dir plain/d in2 >out2; test $? -eq 1 &&
	has ".type==\"error\" and .error.type==\"output_error\" and .attempts==1" out2 &&
	test "$(cat plain)" = "a file"
'

if [ $perms = yes ]; then
test_expect_success 'an unwritable --out-dir: output_error, not retried' '
	mkdir -p ro && chmod 555 ro &&
	echo "{\"custom_id\":\"ro\",$speech}}" >in &&
	"$VMANJL" --retries 3 --out-dir ro in >out; test $? -eq 1 &&
	has ".type==\"error\" and .error.type==\"output_error\" and
	    .attempts==1" out &&
	! has ".type==\"retry\"" out &&
	ls -a ro >files && printf ".\n..\n" >expect && test_cmp expect files
'
else
	test_skip 'an unwritable --out-dir: output_error, not retried' \
	    'we can write to a 555 directory'
fi

test_expect_success 'a JSON error on a binary endpoint: an error record, no file' '
	echo "{\"custom_id\":\"noinput\",\"url\":\"/v1/audio/speech\",\"body\":{\"model\":\"tts-1\",\"voice\":\"alloy\"}}" >in &&
	"$VMANJL" --out-dir errd in >out; test $? -eq 1 &&
	has ".type==\"error\" and .status==400 and .attempts==1 and
	    .error.type==\"invalid_request_error\" and
	    (.error.message | contains(\"input\")) and .file==null" out &&
	test ! -e errd/noinput.mp3 && test ! -e errd/noinput.json &&
	find . -name "noinput*" >found && test_cmp /dev/null found
'

test_expect_success 'a binary answer larger than --max-response-size is still written' '
	echo "{\"custom_id\":\"lim\",$speech}}" >in &&
	"$VMANJL" --max-response-size 1k --out-dir lim in >out &&
	has ".type==\"response\" and .file==\"lim/lim.mp3\" and .bytes > 1024" out &&
	test $(wc -c <lim/lim.mp3) -eq $(field 1 bytes out)
'

test_expect_success 'Stability with Accept: image/*: png, jpeg, webp files' '
	for f in png jpeg webp; do
		printf "{\"custom_id\":\"st-%s\",\"url\":\"/sd/v2beta/stable-image/generate/ultra\",\"headers\":{\"Accept\":\"image/*\"},\"body\":{\"prompt\":\"a cat\",\"output_format\":\"%s\"}}\n" $f $f || return 1
	done >in &&
	"$VMANJL" --out-dir st in >out &&
	has ".custom_id==\"st-png\" and .file==\"st/st-png.png\" and .content_type==\"image/png\" and .body==null" out &&
	has ".custom_id==\"st-jpeg\" and .file==\"st/st-jpeg.jpg\" and .content_type==\"image/jpeg\" and .body==null" out &&
	has ".custom_id==\"st-webp\" and .file==\"st/st-webp.webp\" and .content_type==\"image/webp\" and .body==null" out &&
	printf "\211PNG" >m && head -c 4 st/st-png.png | cmp - m &&
	printf "\377\330\377" >m && head -c 3 st/st-jpeg.jpg | cmp - m &&
	printf "WEBP" >m && head -c 12 st/st-webp.webp | tail -c 4 | cmp - m &&
	for f in st-png.png st-jpeg.jpg st-webp.webp; do
		test $(wc -c <st/$f) -eq $(jq -r "select(.file==\"st/$f\") | .bytes" out) || exit 1
	done
'

test_expect_success 'Stability with Accept: application/json: the JSON in the record, no file' '
	echo "{\"custom_id\":\"sj\",\"url\":\"/sd/v2beta/stable-image/generate/sd3\",\"headers\":{\"Accept\":\"application/json\"},\"body\":{\"prompt\":\"a cat\",\"output_format\":\"webp\"}}" >in &&
	"$VMANJL" --out-dir sj in >out &&
	has ".type==\"response\" and .status==200 and .file==null and
	    .body.finish_reason==\"SUCCESS\" and (.body.image | length) > 10" out &&
	test ! -e sj
'

test_expect_success 'SDXL text-to-image with Accept: image/png: a file' '
	echo "{\"custom_id\":\"xl\",\"url\":\"/sd/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image\",\"headers\":{\"Accept\":\"image/png\"},\"body\":{\"text_prompts\":[{\"text\":\"a cat\"}],\"seed\":5}}" >in &&
	"$VMANJL" --out-dir xl in >out &&
	has ".type==\"response\" and .file==\"xl/xl.png\" and
	    .content_type==\"image/png\" and .body==null" out &&
	printf "\211PNG" >m && head -c 4 xl/xl.png | cmp - m &&
	test $(wc -c <xl/xl.png) -eq $(field 1 bytes out)
'

test_expect_success '--format batch: one record per line, binary body null' '
	cat >in <<-EOF &&
	{"custom_id":"b1",$speech}}
	{"custom_id":"b2",$speech,"mock":{"close_after":10}}}
	{"custom_id":"b3","url":"/v1/audio/speech","body":{"model":"tts-1","voice":"alloy"}}
	{"custom_id":"b4","url":"/sd/v2beta/stable-image/generate/core","headers":{"Accept":"image/*"},"body":{"prompt":"a cat","output_format":"jpeg"}}
	EOF
	"$VMANJL" --format batch --retries 1 --out-dir bat in >out; test $? -eq 1 &&
	test $(wc -l <out) -eq 4 &&
	test "$(jq -r .custom_id out | sort | tr "\n" " ")" = "b1 b2 b3 b4 " &&
	has ".custom_id==\"b1\" and .id==\"vmanjl_req_1\" and
	    .response.status_code==200 and .response.body==null and .error==null" out &&
	has ".custom_id==\"b2\" and .response==null and
	    .error.code==\"network_error\"" out &&
	has ".custom_id==\"b3\" and .response.status_code==400 and
	    (.response.body.error.message | contains(\"input\"))" out &&
	has ".custom_id==\"b4\" and .response.status_code==200 and .response.body==null" out &&
	test -s bat/b1.mp3 && test -s bat/b4.jpg &&
	test ! -e bat/b2.mp3 && test ! -e bat/b3.mp3 &&
	find . -name "*.tmp" >tmps && test_cmp /dev/null tmps
'

test_expect_success 'no temporary file anywhere after all of these runs' '
	find . -name "*.tmp" >tmps &&
	test_cmp /dev/null tmps
'

test_done
