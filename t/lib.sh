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
