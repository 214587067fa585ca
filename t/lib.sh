# t/lib.sh: the test library, after git's t/test-lib.sh.
#
# A test script sources this, runs test_expect_success 'title' 'body'
# for each promise, and ends with test_done.  Chain a body's commands
# with &&; a loop in a body ends each turn with || return 1, or only its
# last turn counts.
#
# Scratch space: one directory per script, $TMP, made here and removed
# by test_done.  The script runs in it, and so does every body, each in
# a subshell: a body's cd or variables do not outlive it, but its files
# do, and the next test sees them (a test may read what the one before
# it wrote; one that must start clean makes its own subdirectory).  The
# library keeps its own files there too: log, port, mock.pids, mock.err,
# mock-stats and terminals.

T=$(cd "$(dirname "$0")" && pwd)
VMANJL=$(dirname "$T")/vmanjl
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmanjl-t.XXXXXX") || exit 1
cd "$TMP" || exit 1
if [ -n "${VMANJL_VALGRIND:-}" ]; then
	# make check-valgrind: every run of vmanjl under valgrind, a log
	# for each process in that directory.
	printf '#!/bin/sh\nexec valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --log-file=%s/%%p.log "%s" "$@"\n' \
	    "$VMANJL_VALGRIND" "$VMANJL" >"$TMP/vmanjl-vg"
	chmod +x "$TMP/vmanjl-vg"
	VMANJL="$TMP/vmanjl-vg"
fi
# A key, as a configured user has one (vmanjl warns without); a test of
# what happens without one unsets it.
unset VMAN_BASE_URL
VMAN_API_KEY=sk-vmanjl-test
export VMAN_API_KEY
test_count=0
test_failed=0

test_expect_success () {
	test_count=$((test_count + 1))
	if (eval "$2") >"$TMP/log" 2>&1; then
		echo "ok $test_count - $1"
	else
		echo "not ok $test_count - $1"
		sed 's/^/# /' "$TMP/log"
		test_failed=$((test_failed + 1))
	fi
}

# The command must fail, but not by crashing.
test_must_fail () {
	"$@"
	st=$?
	if [ $st -gt 128 ]; then
		echo "test_must_fail: died by signal $((st - 128)): $*"
		return 1
	fi
	[ $st -ne 0 ]
}

test_cmp () {
	diff -u "$1" "$2"
}

# Start the local VMAN server on a port the kernel picks.
start_mock () {
	rm -f "$TMP/port"
	"$T/mockvman" -f "$TMP/port" >/dev/null 2>"$TMP/mock.err" &
	echo $! >>"$TMP/mock.pids"
	i=0
	while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	PORT=$(cat "$TMP/port")
	export VMAN_BASE_URL="http://127.0.0.1:$PORT"
}

# Some record of file $2 satisfies the jq condition $1.  (jq -e alone
# misjudges inputs that produce no output, so the file is slurped.)
has () {
	jq -e -s "any(.[]; $1)" "$2" >/dev/null ||
		{ echo "no record with $1 in $2:"; cat "$2"; return 1; }
}

# Every record of file $3 that matches $1 also satisfies $2.
all () {
	jq -e -s "all(.[] | select($1); $2)" "$3" >/dev/null ||
		{ echo "not all records with $1 have $2 in $3:"; cat "$3"; \
		return 1; }
}

# What the server has seen, as JSON.
mock_stats () {
	curl -s "$VMAN_BASE_URL/mock/stats"
}

# Make the server forget what it has seen: the request count (so the
# ids of its answers start again at 1), mock ids, the start log, the
# last request and the poll counts.
mock_reset () {
	curl -s -f -X POST "$VMAN_BASE_URL/mock/reset" >/dev/null
}

# The number of requests the server has seen (those refused for the key
# too, which no mock id counts); fails when the server does not answer.
requests () {
	mock_stats >"$TMP/mock-stats" && jq -e .requests "$TMP/mock-stats"
}

# How many requests tagged with mock id $1 the server has seen (0 when
# none); fails when the server does not answer.
seen () {
	mock_stats >"$TMP/mock-stats" &&
	jq -e ".ids[\"$1\"] // 0" "$TMP/mock-stats"
}

# How many records of file $2 satisfy the jq condition $1.
count () {
	jq -s "map(select($1)) | length" "$2"
}

# The terminal records (response or error) of file $1 as "KEY type"
# lines, KEY the member $2 (default line); sorted, by number for line.
terminals () {
	jq -r "select(.type==\"response\" or .type==\"error\") |
	    \"\\(.${2:-line}) \\(.type)\"" "$1" >"$TMP/terminals" &&
	if [ "${2:-line}" = line ]; then
		sort -n "$TMP/terminals"
	else
		sort "$TMP/terminals"
	fi
}

# Milliseconds since the epoch.
now_ms () {
	echo $(($(date +%s%N) / 1000000))
}

# Run vmanjl with the arguments after $1; succeed when it exits $1.
# The status is left in $st.
exits () {
	want=$1
	shift
	"$VMANJL" "$@"
	st=$?
	[ $st -eq "$want" ] ||
	    { echo "exit status $st, not $want" >&2; return 1; }
}

# The server's count of polls of task $1 (0 when never polled).
polls_of () {
	mock_stats | jq ".polls[\"$1\"] // 0"
}

# The server has seen mock id $1 exactly $2 times, id $3 exactly $4
# times, and so on.
seen_times () {
	while [ $# -ge 2 ]; do
		n=$(seen "$1") && [ "$n" -eq "$2" ] ||
		    { echo "mock id $1 seen ${n:-?} times, not $2"; return 1; }
		shift 2
	done
}

# A test that cannot run here, title $1, reason $2: counted, reported
# as skipped.
test_skip () {
	test_count=$((test_count + 1))
	echo "ok $test_count # skip $1 ($2)"
}

test_done () {
	# Every server this script started, in test bodies too.
	[ -f "$TMP/mock.pids" ] && kill $(cat "$TMP/mock.pids") 2>/dev/null
	echo "1..$test_count"
	cd / && rm -rf "$TMP"
	[ $test_failed -eq 0 ]
}

# Helpers of the streaming scripts (chat, Responses, Messages, Gemini),
# which make the same promises in each dialect.

# The record types of file $1 on one line, each followed by a space.
record_types () {
	jq -r .type "$1" | tr "\n" " "
}

# Run vmanjl -q with the options $3... on the request file in, its
# records in out.  It must end as $1 says: ok (exit 0) or fail (not 0,
# and not by a signal); when $2 is not empty, the record types of out
# (as record_types writes them) must be $2.
run_in () {
	run_in_end=$1 run_in_types=$2
	shift 2
	if [ "$run_in_end" = ok ]; then
		"$VMANJL" -q "$@" in >out
	else
		test_must_fail "$VMANJL" -q "$@" in >out
	fi ||
		{ echo "vmanjl -q $* in: expected to end $run_in_end"; return 1; }
	[ -z "$run_in_types" ] ||
	[ "$(record_types out)" = "$run_in_types" ] ||
		{ echo "record types: $(record_types out)"; \
		echo "expected:     $run_in_types"; return 1; }
}

# The delta records of file $1 are, in order and nothing else, those of
# line 1, custom_id $2, index 0 with one word of $3... each as content:
# "w1", " w2", " w3" and so on.
word_deltas () {
	word_deltas_file=$1 word_deltas_id=$2 word_deltas_sep=
	shift 2
	for word_deltas_w; do
		printf '{"type":"delta","line":1,"custom_id":"%s","index":0,"content":"%s%s"}\n' \
		    "$word_deltas_id" "$word_deltas_sep" "$word_deltas_w"
		word_deltas_sep=" "
	done >"$TMP/deltas.expect" &&
	jq -c 'select(.type=="delta")' "$word_deltas_file" >"$TMP/deltas" &&
	test_cmp "$TMP/deltas.expect" "$TMP/deltas"
}

# The contents of the delta records of file $1, joined, are byte for
# byte the content of its response record, $2 bytes long when given.
joins_to_content () {
	jq -j 'select(.type=="delta") | .content // empty' "$1" \
	    >"$TMP/joined" &&
	jq -j 'select(.type=="response") | .content' "$1" >"$TMP/content" &&
	{ [ -z "${2:-}" ] || [ $(wc -c <"$TMP/content") -eq "$2" ] ||
		{ echo "content: $(wc -c <"$TMP/content") bytes, not $2"; \
		return 1; }; } &&
	cmp "$TMP/content" "$TMP/joined"
}

# A request line for path $1 that the server answers with the event
# stream of file $2 as it stands; $3 (jq object members, each followed
# by a comma) go into the body before stream, $4 (the same) into the mock.
raw_stream () {
	jq -n -c --rawfile s "$2" "{url:\"$1\",body:{${3:-}stream:true,
	    mock:{${4:-}content_type:\"text/event-stream\",raw:\$s}}}"
}

# --events on the request file in, records in out: the data of the event
# records are, in order, the data lines the server sends when curl posts
# the file $1 to path $2 (the server reset before each, so that both
# get the same answer).  Leaves the stream in sse, the data lines in
# expect and the event records' data in actual.
events_as_sent () {
	mock_reset &&
	curl -s -N --data-binary @"$1" "$VMAN_BASE_URL$2" >sse &&
	sed -n "s/^data: //p" sse >expect &&
	mock_reset &&
	"$VMANJL" -q --events in >out &&
	jq -r 'select(.type=="event") | .data' out >actual &&
	test_cmp expect actual
}

# Run vmanjl -k --cache $1 on the request file in twice, records in out1
# and out2, the summaries in err1 and err2: the second run finds all 2
# lines in the cache, sends nothing and writes the same records.
cache_replays () {
	"$VMANJL" -k --cache "$1" in >out1 2>err1 &&
	cache_replays_n=$(requests) &&
	"$VMANJL" -k --cache "$1" in >out2 2>err2 &&
	grep "2 cache hits, 0 misses" err2 &&
	test $(requests) -eq $cache_replays_n &&
	test_cmp out1 out2
}

# --max-response-size bounds each event of a stream and the answer
# assembled: the request line $1, a stream of short events and 10000
# characters of content, is answered under 16k and is too large for 1k;
# the request line $2, one event of 3000 characters and mock id bigev,
# is too large for 1k on the first attempt and not sent again.
max_size_bounds () {
	echo "$1" >in &&
	"$VMANJL" -q --max-response-size 16k in >out &&
	has '.type=="response" and (.content | length)==10000' out &&
	test_must_fail "$VMANJL" -q --max-response-size 1k in >out &&
	has '.type=="error" and .error.type=="response_too_large" and
	    .attempts==1' out &&
	echo "$2" >in &&
	test_must_fail "$VMANJL" -q --retries 2 --backoff 1 \
	    --max-response-size 1k in >out &&
	has '.type=="error" and .error.type=="response_too_large" and
	    .attempts==1' out &&
	test $(seen bigev) -eq 1
}
