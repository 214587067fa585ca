#!/bin/sh
# The cache and the dry run: a successful answer is paid for once and
# replayed byte for byte under the new line and custom_id; a request
# that differs in any byte that goes out is a miss, the key is never
# part of it nor stored; errors and failed attempts are never cached;
# read-only, refresh and offline modes; processes may share a directory
# and a crash leaves no torn entry; two runs with -k give the same
# bytes; --timing stays out of the cache.  --dry-run shows what would be
# sent, sends nothing and fails on invalid lines.
. "$(dirname "$0")/lib.sh"
start_mock

# Every test in its own directory (the scratch directory is shared).
fresh () {
	mkdir "$TMP/t$test_count" && cd "$TMP/t$test_count"
}

# The files under cache directory $1, temporary ones too.
files () {
	find "$1" -type f 2>/dev/null | wc -l
}

# A chat request line: custom_id $1, user text $2, more body members $3.
chat () {
	printf '{"custom_id":"%s","body":{"model":"m","messages":[{"role":"user","content":"%s"}]%s}}\n' \
	    "$1" "$2" "${3:+,$3}"
}

# $1 chat request lines, the I-th with custom_id $2I, content "$3 I"
# and more members $4.
chats () {
	i=1
	while [ $i -le "$1" ]; do
		chat "$2$i" "$3 $i" "$4" || return 1
		i=$((i + 1))
	done
}

# A streamed chat request line, as chat.
stream () {
	chat "$1" "$2" "\"stream\":true${3:+,$3}"
}

# Thirty lines of every kind: chat, streams with usage, n=2 streams,
# embeddings, completions, bare bodies, invalid lines, a 400, a task.
mixed () {
	i=1
	while [ $i -le 29 ]; do
		case $((i % 7)) in
		0) chat "d$i" "plain $i" ;;
		1) stream "d$i" "a stream of $i" \
		    '"stream_options":{"include_usage":true}' ;;
		2) stream "d$i" "two choices $i" '"n":2' ;;
		3) printf '{"custom_id":"d%s","url":"/v1/embeddings","body":{"input":"e %s"}}\n' $i $i ;;
		4) printf '{"custom_id":"d%s","url":"/v1/completions","body":{"model":"m","prompt":"say %s"}}\n' $i $i ;;
		5) printf '{"model":"m","messages":[{"role":"user","content":"bare %s"}]}\n' $i ;;
		6) if [ $((i % 2)) -eq 0 ]; then
			printf '{"custom_id":"d%s",not json\n' $i
		   else
			chat "d$i" "refused $i" '"mock":{"status":400}'
		   fi ;;
		esac || return 1
		i=$((i + 1))
	done
	printf '{"custom_id":"d30","url":"/flux/v1/flux-dev","body":{"prompt":"a bicycle 30"}}\n'
}

# ------------------------------------------------------------------ #
# Hits and misses

test_expect_success 'a miss, then a hit: nothing sent, "1 cache hits"' '
	fresh &&
	chat a "hello cache" >in &&
	"$VMANJL" --cache c in >out1 2>err1 &&
	grep "0 cache hits, 1 misses" err1 &&
	test $(files c) -eq 1 &&
	n=$(requests) &&
	"$VMANJL" --cache c in >out2 2>err2 &&
	test $(requests) -eq $n &&
	grep "1 cache hits, 0 misses" err2 &&
	test_cmp out1 out2
'

test_expect_success 'a hit writes what the miss wrote, byte for byte (-k)' '
	fresh &&
	{
		chat a "one two"
		stream b "three four five" "\"stream_options\":{\"include_usage\":true}"
		stream c "six seven" "\"n\":2"
		printf "{\"custom_id\":\"d\",\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"x\"}}\n"
		printf "{\"custom_id\":\"e\",\"body\":{\"model\":\"reason-1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"eight nine\"}]}}\n"
	} >in &&
	"$VMANJL" -k --cache c in >out1 2>err1 &&
	has ".type==\"delta\" and .line==2" out1 &&
	has ".type==\"delta\" and .index==1" out1 &&
	has ".type==\"delta\" and .reasoning" out1 &&
	n=$(requests) &&
	"$VMANJL" -k --cache c in >out2 2>err2 &&
	test $(requests) -eq $n &&
	grep "5 cache hits, 0 misses" err2 &&
	test_cmp out1 out2
'

test_expect_success '--events: a hit replays the event records' '
	fresh &&
	stream a "events one two" >in &&
	"$VMANJL" -k --events --cache c in >out1 &&
	has ".type==\"event\" and .data==\"[DONE]\"" out1 &&
	n=$(requests) &&
	"$VMANJL" -k --events --cache c in >out2 &&
	test $(requests) -eq $n &&
	test_cmp out1 out2
'

test_expect_success 'a task: its progress records and response replay the same' '
	fresh &&
	printf "{\"custom_id\":\"t\",\"url\":\"/flux/v1/flux-dev\",\"body\":{\"prompt\":\"a red kite\"}}\n" >in &&
	"$VMANJL" -k --poll-interval 0.02 --cache c in >out1 &&
	has ".type==\"progress\" and .task.status==\"running\"" out1 &&
	has ".type==\"response\" and .task.status==\"succeeded\"" out1 &&
	n=$(requests) &&
	"$VMANJL" -k --poll-interval 0.02 --cache c in >out2 2>err2 &&
	test $(requests) -eq $n &&
	grep "1 cache hits, 0 misses" err2 &&
	test_cmp out1 out2
'

test_expect_success '--format batch: a hit writes the same batch records' '
	fresh &&
	{
		chat a "batch one"
		stream b "batch two three"
		printf "{\"custom_id\":\"c\",\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"x\"}}\n"
	} >in &&
	"$VMANJL" -k --format batch --cache c in >out1 &&
	test $(wc -l <out1) -eq 3 &&
	n=$(requests) &&
	"$VMANJL" -k --format batch --cache c in >out2 &&
	test $(requests) -eq $n &&
	test_cmp out1 out2
'

test_expect_success '--format batch: a hit keeps the request_id the server gave' '
	fresh &&
	chat a "batch id" "\"mock\":{\"headers\":{\"x-request-id\":\"req-77\"}}" >in &&
	"$VMANJL" --format batch --cache c in >out1 &&
	has ".response.request_id==\"req-77\"" out1 &&
	"$VMANJL" --format batch --cache c in >out2 &&
	test_cmp out1 out2
'

test_expect_success 'a hit takes the new line number and custom_id' '
	fresh &&
	chat first "move me" >in1 &&
	"$VMANJL" --cache c in1 >out1 &&
	{
		chat other "something else"
		chat second "move me"
		printf "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"move me\"}]}\n"
	} >in2 &&
	n=$(requests) &&
	"$VMANJL" -k --cache c in2 >out2 2>err2 &&
	test $(requests) -eq $((n + 1)) &&
	grep "2 cache hits, 1 misses" err2 &&
	jq -c "select(.line==1) | del(.line, .custom_id)" out1 >expect &&
	jq -c "select(.line==2) | del(.line, .custom_id)" out2 >actual &&
	test_cmp expect actual &&
	has ".type==\"response\" and .line==2 and .custom_id==\"second\"" out2 &&
	has ".type==\"response\" and .line==3 and .custom_id==null" out2 &&
	jq -c "select(.line==3) | del(.line, .custom_id)" out2 >actual &&
	test_cmp expect actual &&
	! grep "\"first\"" out2
'

test_expect_success 'one byte more in the body is a miss' '
	fresh &&
	printf "{\"body\":{\"model\":\"m\",\"messages\":[]}}\n" >in1 &&
	printf "{\"body\":{\"model\":\"m\", \"messages\":[]}}\n" >in2 &&
	"$VMANJL" --cache c in1 >out1 &&
	n=$(requests) &&
	"$VMANJL" --cache c in2 >out2 2>err2 &&
	test $(requests) -eq $((n + 1)) &&
	grep "0 cache hits, 1 misses" err2 &&
	test $(files c) -eq 2 &&
	"$VMANJL" --cache c in1 in2 >out3 2>err3 &&
	test $(requests) -eq $((n + 1)) &&
	grep "2 cache hits, 0 misses" err3
'

test_expect_success 'another URL, method or Accept header is a miss' '
	fresh &&
	printf "{\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"u\"}}\n" >in &&
	"$VMANJL" --cache c in >out &&
	for v in "\"url\":\"/v1/embeddings?v=2\"" \
	    "\"url\":\"/v1/embeddings\",\"headers\":{\"Accept\":\"application/json\"}" \
	    "\"url\":\"/v1/embeddings\",\"method\":\"PUT\""; do
		printf "{%s,\"body\":{\"input\":\"u\"}}\n" "$v" >in2 &&
		n=$(requests) &&
		{ "$VMANJL" --cache c in2 >out2 2>err2; test $? -le 1; } &&
		test $(requests) -eq $((n + 1)) &&
		grep "0 cache hits, 1 misses" err2 || exit 1
	done &&
	n=$(requests) &&
	"$VMANJL" -H "Accept: text/plain" --cache c in >out2 2>err2 &&
	test $(requests) -eq $((n + 1)) &&
	grep "0 cache hits, 1 misses" err2 &&
	printf "{\"url\":\"%s/v1/embeddings\",\"body\":{\"input\":\"u\"}}\n" "$VMAN_BASE_URL" >in3 &&
	"$VMANJL" --cache c in3 >out3 2>err3 &&
	test $(requests) -eq $((n + 1)) &&
	grep "1 cache hits, 0 misses" err3
'

test_expect_success 'the key is not part of the entry: another key hits, none is stored' '
	fresh &&
	chat a "key test" >in &&
	printf "{\"url\":\"/v1/embeddings\",\"headers\":{\"Authorization\":\"Bearer env-secret-1\",\"Api-Key\":\"env-secret-2\"},\"body\":{\"input\":\"k\"}}\n" >>in &&
	VMAN_API_KEY=sk-cache-one "$VMANJL" -H "X-Api-Key: opt-secret-3" \
	    --cache c in >out1 2>err1 &&
	grep "0 cache hits, 2 misses" err1 &&
	test $(files c) -eq 2 &&
	n=$(requests) &&
	printf "sk-cache-two\n" >keyfile && chmod 600 keyfile &&
	VMAN_API_KEY=sk-cache-three "$VMANJL" -H "X-Api-Key: opt-secret-3" \
	    --key-file keyfile --cache c in >out2 2>err2 &&
	test $(requests) -eq $n &&
	grep "2 cache hits, 0 misses" err2 &&
	test_cmp out1 out2 &&
	test -d c &&
	! grep -r -e sk-cache -e env-secret -e opt-secret c
'

test_expect_success 'errors are never cached' '
	fresh &&
	chat a "flaky" "\"mock\":{\"id\":\"err500\",\"fail_first\":1,\"status\":500}" >in &&
	test_must_fail "$VMANJL" --retries 0 --cache c in >out1 &&
	has ".type==\"error\" and .status==500" out1 &&
	test $(files c) -eq 0 &&
	"$VMANJL" --retries 0 --cache c in >out2 2>err2 &&
	test $(seen err500) -eq 2 &&
	has ".type==\"response\" and .status==200" out2 &&
	"$VMANJL" --retries 0 --cache c in >out3 2>err3 &&
	test $(seen err500) -eq 2 &&
	grep "1 cache hits" err3 &&
	test_cmp out2 out3 &&
	chat b "refused" "\"mock\":{\"id\":\"err400\",\"status\":400}" >in4 &&
	test_must_fail "$VMANJL" --cache c4 in4 >out4 &&
	test_must_fail "$VMANJL" --cache c4 in4 >out5 &&
	test $(seen err400) -eq 2 &&
	test $(files c4) -eq 0
'

test_expect_success 'a stream that failed once: only the good attempt is stored' '
	fresh &&
	stream s "one two three four" "\"mock\":{\"id\":\"ffs\",\"fail_first\":1,\"close_after\":3}" >in &&
	"$VMANJL" -k --backoff 1 --cache c in >out1 &&
	has ".type==\"retry\"" out1 &&
	test $(seen ffs) -eq 2 &&
	"$VMANJL" -k --cache c in >out2 2>err2 &&
	test $(seen ffs) -eq 2 &&
	grep "1 cache hits" err2 &&
	sed "1,/\"type\":\"retry\"/d" out1 >expect &&
	test_cmp expect out2 &&
	! has ".type==\"retry\"" out2 >/dev/null &&
	test $(grep -c "\"type\":\"delta\"" out2) -eq 4
'

# ------------------------------------------------------------------ #
# Modes

test_expect_success '--cache-mode read-only: hits are used, misses sent but not stored' '
	fresh &&
	chat a "ro one" >in1 &&
	chat b "ro two" >in2 &&
	"$VMANJL" --cache c in1 >out1 &&
	test $(files c) -eq 1 &&
	n=$(requests) &&
	"$VMANJL" --cache c --cache-mode read-only in1 in2 >out2 2>err2 &&
	test $(requests) -eq $((n + 1)) &&
	grep "1 cache hits, 1 misses" err2 &&
	test $(files c) -eq 1 &&
	"$VMANJL" --cache c --cache-mode read-only in2 >out3 2>err3 &&
	test $(requests) -eq $((n + 2)) &&
	grep "0 cache hits, 1 misses" err3 &&
	test $(files c) -eq 1
'

test_expect_success '--cache-mode refresh: sent even on a hit, the entry overwritten' '
	fresh &&
	chat a "refresh me" >in &&
	"$VMANJL" --cache c in >out1 &&
	n=$(requests) &&
	"$VMANJL" --cache c --cache-mode refresh in >out2 &&
	test $(requests) -eq $((n + 1)) &&
	id1=$(jq -r .body.id out1) && id2=$(jq -r .body.id out2) &&
	test "$id1" != "$id2" &&
	test $(files c) -eq 1 &&
	"$VMANJL" --cache c in >out3 2>err3 &&
	test $(requests) -eq $((n + 1)) &&
	grep "1 cache hits" err3 &&
	test_cmp out2 out3
'

test_expect_success '--cache-mode offline: a miss is a cache_miss error, nothing sent' '
	fresh &&
	chat a "offline here" >in1 &&
	chat b "offline not here" >in2 &&
	"$VMANJL" --cache c in1 >out1 &&
	n=$(requests) &&
	{ "$VMANJL" --cache c --cache-mode offline in1 in2 >out2 2>err2; test $? -eq 1; } &&
	test $(requests) -eq $n &&
	terminals out2 >actual &&
	printf "1 response\n2 error\n" >expect &&
	test_cmp expect actual &&
	has ".type==\"error\" and .line==2 and .custom_id==\"b\" and
	    .error.type==\"cache_miss\"" out2 &&
	grep "1 cache hits, 1 misses" err2 &&
	test $(files c) -eq 1 &&
	test_must_fail "$VMANJL" --cache-mode offline --cache empty in1 >out3 &&
	has ".error.type==\"cache_miss\"" out3 &&
	test $(requests) -eq $n
'

test_expect_success 'VMANJL_CACHE works like --cache; --cache wins' '
	fresh &&
	chat a "from the environment" >in &&
	VMANJL_CACHE=envc "$VMANJL" in >out1 2>err1 &&
	test $(files envc) -eq 1 &&
	n=$(requests) &&
	VMANJL_CACHE=envc "$VMANJL" in >out2 2>err2 &&
	test $(requests) -eq $n &&
	grep "1 cache hits" err2 &&
	test_cmp out1 out2 &&
	VMANJL_CACHE=envc "$VMANJL" --cache optc in >out3 2>err3 &&
	test $(requests) -eq $((n + 1)) &&
	test $(files optc) -eq 1 && test $(files envc) -eq 1 &&
	VMANJL_CACHE=envc "$VMANJL" --cache-mode offline in >out4 &&
	test_cmp out1 out4
'

test_expect_success 'uploads and binary answers are not cached: sent again' '
	fresh &&
	printf "RIFF0000WAVEfmt data" >a.wav &&
	cat >in <<-\EOF &&
	{"custom_id":"up","url":"/v1/audio/transcriptions","files":{"file":"a.wav"},"body":{"model":"whisper-1"}}
	{"custom_id":"sp","url":"/v1/audio/speech","body":{"model":"tts-1","input":"Hello cache","voice":"alloy"}}
	EOF
	"$VMANJL" --cache c --out-dir o1 in >out1 2>err1 &&
	has ".custom_id==\"up\" and .type==\"response\" and .status==200" out1 &&
	has ".custom_id==\"sp\" and .file==\"o1/sp.mp3\"" out1 &&
	test -s o1/sp.mp3 &&
	test $(files c) -eq 0 &&
	n=$(requests) &&
	"$VMANJL" --cache c --out-dir o2 in >out2 2>err2 &&
	test $(requests) -eq $((n + 2)) &&
	grep "0 cache hits" err2 &&
	cmp o1/sp.mp3 o2/sp.mp3 &&
	test_must_fail "$VMANJL" --cache c --cache-mode offline --out-dir o3 in >out3 &&
	all ".type" ".type==\"error\" and .error.type==\"cache_miss\"" out3 &&
	test ! -e o3/sp.mp3 &&
	test $(requests) -eq $((n + 2))
'

# ------------------------------------------------------------------ #
# Sharing, crashes, damage

test_expect_success 'two processes share one cache directory at once' '
	fresh &&
	chats 100 p shared "\"mock\":{\"delay_ms\":5}" >in &&
	sed -n "1!G;h;\$p" in >rev &&
	{ "$VMANJL" -j 8 --cache c in >outa 2>erra & a=$!; } &&
	{ "$VMANJL" -j 8 --cache c rev >outb 2>errb & b=$!; } &&
	wait $a && wait $b &&
	test $(jq -s "map(select(.type==\"response\")) | length" outa) -eq 100 &&
	test $(jq -s "map(select(.type==\"response\")) | length" outb) -eq 100 &&
	test $(find c -type f ! -name "*.tmp" | wc -l) -eq 100 &&
	n=$(requests) &&
	"$VMANJL" -j 8 --cache c --cache-mode offline in >outc 2>errc &&
	test $(requests) -eq $n &&
	grep "100 cache hits, 0 misses" errc &&
	test $(jq -s "map(select(.type==\"response\")) | length" outc) -eq 100
'

test_expect_success 'kill -9 mid-run: every entry is whole or absent' '
	fresh &&
	chats 200 k crash "\"mock\":{\"size\":200000,\"delay_ms\":10}" >in &&
	{ "$VMANJL" -j 4 --cache c in >out1 2>err1 & pid=$!; } &&
	i=0 &&
	while [ $(find c -type f 2>/dev/null | wc -l) -lt 20 ] && [ $i -lt 500 ]; do
		sleep 0.01
		i=$((i + 1))
	done &&
	kill -9 $pid && { wait $pid; test $? -eq 137; } &&
	stored=$(find c -type f ! -name "*.tmp" | wc -l) &&
	test $stored -ge 1 && test $stored -lt 200 &&
	f=$(find c -type f ! -name "*.tmp" | head -n 1) &&
	head -c 1000 "$f" >"$f.99999.tmp" && rm "$f" &&
	{ "$VMANJL" -k -j 8 --cache c --cache-mode offline in >out2 2>err2; test $? -eq 1; } &&
	terminals out2 | cut -d" " -f1 >actual &&
	seq 1 200 >expect &&
	test_cmp expect actual &&
	all ".type==\"error\"" ".error.type==\"cache_miss\"" out2 &&
	all ".type==\"response\"" "(.content | length) > 100000" out2 &&
	test $(jq -s "map(select(.type==\"response\")) | length" out2) -eq $((stored - 1))
'

test_expect_success 'a garbled entry is a miss, not a crash' '
	fresh &&
	chat a "garble me" >in &&
	"$VMANJL" --cache c in >out1 &&
	f=$(find c -type f) &&
	printf "vmanjl-cache 1 9999\ngarbage" >"$f" &&
	n=$(requests) &&
	"$VMANJL" --cache c in >out2 2>err2 &&
	test $(requests) -eq $((n + 1)) &&
	grep "0 cache hits, 1 misses" err2 &&
	has ".type==\"response\" and .content==\"garble me\"" out2
'

# Rewrite the records of cache entry $1 with the perl substitution $2
# (over the records), keeping the entry's header true.
cat >"$TMP/edit.pl" <<\EOF
my ($file, $edit) = @ARGV;
open(my $fh, "<", $file) or die "$file: $!";
local $/;
my $e = <$fh>;
close $fh;
my ($m) = $e =~ /\Avmanjl-cache 1 (\d+) \d+\n/ or die "not an entry";
my $head = length($&);
my $req = substr($e, $head, $m);
$_ = substr($e, $head + $m + 1);
eval $edit;
die $@ if $@;
open($fh, ">", $file) or die "$file: $!";
print $fh "vmanjl-cache 1 $m " . length($_) . "\n$req\n$_";
close $fh or die "$file: $!";
EOF
edit_entry () {
	perl "$TMP/edit.pl" "$1" "$2"
}

test_expect_success 'an edited entry: a record of an unknown type or not JSON is a miss' '
	fresh &&
	chat a "edit me" >in &&
	"$VMANJL" --cache c in >out1 &&
	f=$(find c -type f) &&
	cp "$f" entry &&
	edit_entry "$f" "s/^response\\t/x\\x22y\\t/m" &&
	grep "^x\"y	" "$f" &&
	n=$(requests) &&
	"$VMANJL" --cache c in >out2 2>err2 &&
	test $(requests) -eq $((n + 1)) &&
	grep "0 cache hits, 1 misses" err2 &&
	jq -e . out2 >/dev/null &&
	has ".type==\"response\" and .content==\"edit me\"" out2 &&
	cp entry "$f" &&
	edit_entry "$f" "s/body\\x22:\\{/body\\x22:{{/" &&
	grep "body\":{{" "$f" &&
	"$VMANJL" --cache c in >out3 2>err3 &&
	test $(requests) -eq $((n + 2)) &&
	grep "0 cache hits, 1 misses" err3 &&
	jq -e . out3 >/dev/null &&
	cp entry "$f" &&
	edit_entry "$f" "s/edit me/edited by hand/g" &&
	"$VMANJL" --cache c in >out4 2>err4 &&
	test $(requests) -eq $((n + 2)) &&
	grep "1 cache hits, 0 misses" err4 &&
	has ".type==\"response\" and .content==\"edited by hand\"" out4
'

test_expect_success 'a truncated entry is a miss, not a short answer' '
	fresh &&
	chat a "cut short" >in1 &&
	stream b "cut short stream" >in2 &&
	"$VMANJL" --cache c1 in1 >out1 &&
	"$VMANJL" --cache c2 in2 >out1 &&
	f1=$(find c1 -type f) && f2=$(find c2 -type f) &&
	truncate -s -1 "$f1" &&
	truncate -s $(($(wc -c <"$f2") * 2 / 3)) "$f2" &&
	n=$(requests) &&
	"$VMANJL" --cache c1 in1 >out2 2>err2 &&
	has ".type==\"response\" and .content==\"cut short\"" out2 &&
	"$VMANJL" --cache c2 in2 >out3 2>err3 &&
	has ".type==\"response\" and .content==\"cut short stream\"" out3 &&
	test $(requests) -eq $((n + 2)) &&
	grep "0 cache hits, 1 misses" err2 &&
	grep "0 cache hits, 1 misses" err3
'

# ------------------------------------------------------------------ #
# Determinism and timing

test_expect_success 'two runs with -k and the cache: the same bytes' '
	fresh &&
	mixed >in &&
	test $(wc -l <in) -eq 30 &&
	{ "$VMANJL" -k -j 8 --poll-interval 0.02 --cache c in >out1 2>err1; test $? -eq 1; } &&
	terminals out1 | cut -d" " -f1 >actual &&
	seq 1 30 >expect &&
	test_cmp expect actual &&
	has ".type==\"progress\"" out1 &&
	has ".type==\"error\" and .status==400" out1 &&
	{ "$VMANJL" -k -j 8 --poll-interval 0.02 --cache c in >out2 2>err2; test $? -eq 1; } &&
	cmp out1 out2
'

test_expect_success '--timing: latency on terminal records, never in entries or hits' '
	fresh &&
	{
		chat a "time me"
		stream b "time me too"
		chat c "time refused" "\"mock\":{\"status\":400}"
	} >in &&
	{ "$VMANJL" -k --timing --cache c in >out1; test $? -eq 1; } &&
	all ".type==\"response\" or .type==\"error\"" "(.latency_ms | type)==\"number\"" out1 &&
	all ".type==\"delta\"" "has(\"latency_ms\") | not" out1 &&
	has ".line==2 and .type==\"response\" and (.ttft_ms | type)==\"number\"" out1 &&
	has ".line==1 and .type==\"response\" and (has(\"ttft_ms\") | not)" out1 &&
	test -d c &&
	! grep -r -e latency_ms -e ttft_ms c &&
	{ "$VMANJL" -k --timing --cache c in >out2 2>err2; test $? -eq 1; } &&
	grep "2 cache hits" err2 &&
	all ".type==\"response\"" "(has(\"latency_ms\") or has(\"ttft_ms\")) | not" out2 &&
	jq -c "del(.latency_ms, .ttft_ms)" out1 >expect &&
	jq -c "del(.latency_ms, .ttft_ms)" out2 >actual &&
	test_cmp expect actual &&
	{ "$VMANJL" -k --cache c in >out3; test $? -eq 1; } &&
	jq -c . out3 >actual &&
	test_cmp expect actual
'

# ------------------------------------------------------------------ #
# Dry run

test_expect_success '--dry-run: a request record per line, the key redacted, nothing sent' '
	fresh &&
	printf "RIFF0000WAVEfmt 12345" >a.wav &&
	cat >in <<-\EOF &&
	{"custom_id":"c1","body":{ "model" : "gpt-4o", "n" : 1.50e+2,"messages":[{"role":"user","content":"hello world, how are you?"}]}}
	{"custom_id":"up","url":"/v1/audio/transcriptions","files":{"file":"a.wav"},"body":{"model":"whisper-1"}}
	{"custom_id":"fx","url":"/flux/v1/flux-dev","body":{"prompt":"a green bicycle"}}
	{not json
	{"custom_id":"gone","url":"/v1/audio/transcriptions","files":{"file":"nope.wav"},"body":{"model":"whisper-1"}}
	{"custom_id":"g","method":"GET","url":"/v1/models","headers":{"X-Trace":"t1"}}
	EOF
	n=$(requests) &&
	{ VMAN_API_KEY=sk-dry-secret "$VMANJL" --dry-run in >out 2>err; test $? -eq 1; } &&
	test $(requests) -eq $n &&
	! grep sk-dry-secret out err &&
	terminals out >actual &&
	printf "4 error\n5 error\n" >expect &&
	test_cmp expect actual &&
	test $(jq -s "map(select(.type==\"request\")) | length" out) -eq 4 &&
	all ".type==\"request\"" ".headers.Authorization==\"[redacted]\"" out &&
	has ".type==\"request\" and .line==1 and .custom_id==\"c1\" and
	    .method==\"POST\" and
	    .url==\"$VMAN_BASE_URL/v1/chat/completions\" and
	    .headers[\"Content-Type\"]==\"application/json\" and
	    .body.model==\"gpt-4o\" and .est_prompt_tokens==8" out &&
	grep -F "\"body\":{\"model\":\"gpt-4o\",\"n\":1.50e+2,\"messages\":[{\"role\":\"user\",\"content\":\"hello world, how are you?\"}]}" out &&
	has ".type==\"request\" and .line==2 and
	    .url==\"$VMAN_BASE_URL/v1/audio/transcriptions\" and
	    .files.file.path==\"a.wav\" and .files.file.bytes==21 and
	    .body=={\"model\":\"whisper-1\"} and .est_prompt_tokens==2" out &&
	has ".type==\"request\" and .line==3 and .task==\"flux\" and
	    .url==\"$VMAN_BASE_URL/flux/v1/flux-dev\" and
	    .est_prompt_tokens==3" out &&
	has ".type==\"request\" and .line==6 and .method==\"GET\" and
	    .headers[\"X-Trace\"]==\"t1\" and .body==null and
	    .est_prompt_tokens==0" out &&
	has ".type==\"error\" and .line==5 and .custom_id==\"gone\" and
	    .error.type==\"invalid_request\"" out &&
	grep "dry run: 6 requests, 4 valid, 2 invalid, about 13 prompt tokens" err
'

test_expect_success '--dry-run of valid lines only: exit 0, nothing sent or stored' '
	fresh &&
	chat a "some words to count here" >in &&
	chat b "more" >>in &&
	n=$(requests) &&
	"$VMANJL" --dry-run --cache c in >out 2>err &&
	test $(requests) -eq $n &&
	test $(files c) -eq 0 &&
	all ".type" ".type==\"request\"" out &&
	test $(wc -l <out) -eq 2 &&
	has ".line==1 and .est_prompt_tokens==7" out &&
	has ".line==2 and .est_prompt_tokens==2" out &&
	grep "dry run: 2 requests, 2 valid, 0 invalid, about 9 prompt tokens" err
'

test_expect_success '--dry-run redacts the other key headers, as -v does' '
	fresh &&
	printf "{\"url\":\"/v1/embeddings\",\"headers\":{\"Api-Key\":\"ak-dry-1\",\"Mj-Api-Secret\":\"mj-dry-2\"},\"body\":{\"input\":\"x\"}}\n" >in &&
	"$VMANJL" --dry-run -H "X-Api-Key: xk-dry-3" \
	    -H "Proxy-Authorization: Basic cHJveHk6c2VjcmV0" in >out 2>err &&
	has ".type==\"request\"" out &&
	! grep -e ak-dry-1 -e mj-dry-2 -e xk-dry-3 -e cHJveHk6c2VjcmV0 out err
'

test_done
