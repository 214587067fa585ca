# t/lib.sh: the test library, after git's t/test-lib.sh.
#
# A test script sources this, runs test_expect_success 'title' 'body'
# for each promise, and ends with test_done.  Bodies run in a subshell
# in a fresh scratch directory; chain their commands with &&.

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
unset VMAN_BASE_URL VMAN_API_KEY
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

test_done () {
	# Every server this script started, in test bodies too.
	[ -f "$TMP/mock.pids" ] && kill $(cat "$TMP/mock.pids") 2>/dev/null
	echo "1..$test_count"
	cd / && rm -rf "$TMP"
	[ $test_failed -eq 0 ]
}
