#!/bin/sh
# Pacing and progress: --rpm and --tpm measured by the server's log of
# request starts, the shared cool-down after a 429 (Retry-After,
# retry-after-ms, x-ratelimit-reset-*), and the progress line: on with
# a terminal or --progress, off otherwise or with --no-progress.
. "$(dirname "$0")/lib.sh"
start_mock

# N requests the server answers at once, custom_ids pI.
fast () {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"custom_id\":\"p%d\",\"body\":{\"model\":\"m\",\"messages\":[]}}\n", i }'
}

# N requests the server answers after MS ms each.
slow () {
	awk -v n="$1" -v ms="$2" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"custom_id\":\"w%d\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"delay_ms\":%d}}}\n", i, ms }'
}

# N chat requests of one user message of C characters and, when M is
# given, max_tokens (or, with a 4th argument, max_completion_tokens) M.
sized () {
	awk -v n="$1" -v c="$2" -v m="${3:-0}" -v mc="${4:-}" 'BEGIN {
		t = ""
		for (i = 0; i < c; i++)
			t = t (i % 4 == 3 ? " " : "x")
		mx = m == 0 ? "" : sprintf(",\"%s\":%d",
		    mc == "" ? "max_tokens" : "max_completion_tokens", m)
		for (i = 1; i <= n; i++)
			printf "{\"custom_id\":\"t%d\",\"body\":{\"model\":\"m\"%s,\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}}\n", i, mx, t }'
}

# In the start log of the stats file $2, no 60-second window holds more
# than $1 starts (loosely: a second of slack for the clocks).
window_ok () {
	jq -e --argjson n "$1" '.starts as $s |
	    [range(0; ($s | length) - $n) | $s[. + $n] - $s[.]] |
	    all(. >= 59000)' "$2" >/dev/null ||
		{ echo "more than $1 starts in a minute:"; jq -c .starts "$2";
		return 1; }
}

# Run "$@" in the background with stdout in out and stderr in err,
# wait $1 s, save the stats, then SIGINT it; st is its exit status.
for_a_while () {
	secs=$1
	shift
	"$@" >out 2>err &
	bg=$!
	sleep "$secs"
	mock_stats >stats
	kill -INT $bg
	wait $bg
	st=$?
	echo "exit status $st; starts: $(jq -c .starts stats)"
}

# In the start log of the stats file $2, no 1-second window holds more
# than $1 starts (a little slack for the clocks).
second_ok () {
	jq -e --argjson n "$1" '.starts as $s |
	    [range(0; ($s | length) - $n) | $s[. + $n] - $s[.]] |
	    all(. >= 950)' "$2" >/dev/null ||
		{ echo "more than $1 starts in a second:"; jq -c .starts "$2";
		return 1; }
}

# From a fresh server, vmanjl with the arguments after $1 on in, into
# out and err, its stats saved: the server must have seen $1 requests.
paced () {
	n=$1
	shift
	mock_reset &&
	"$VMANJL" "$@" in >out 2>err &&
	mock_stats >stats &&
	jq -c .starts stats &&
	jq -e ".requests == $n" stats
}

# From a fresh server, vmanjl with the arguments after $2 on in for $1
# seconds, then SIGINT (for_a_while): it must exit 130, the server
# having seen $2 requests.
stopped () {
	secs=$1 n=$2
	shift 2
	mock_reset &&
	for_a_while "$secs" "$VMANJL" "$@" in &&
	test $st -eq 130 &&
	jq -e ".requests == $n" stats
}

test_expect_success '--rpm 5: five of eight start a second apart, the rest wait for the minute' '
	fast 8 >in &&
	stopped 5.6 5 --rpm 5 &&
	jq -e ".starts[4] - .starts[0] >= 3900" stats &&
	second_ok 1 stats &&
	window_ok 5 stats &&
	test $(count ".type==\"response\"" out) -eq 5 &&
	test $(count ".type==\"error\"" out) -eq 3 &&
	all ".type==\"error\"" ".error.type==\"interrupted\"" out &&
	test $(count ".type==\"response\" or .type==\"error\"" out) -eq 8
'

test_expect_success '--rpm is shared by every request in flight, -j 8' '
	slow 12 200 >in &&
	stopped 3.5 3 -j 8 --rpm 3 &&
	window_ok 3 stats &&
	test $(count ".type==\"response\"" out) -eq 3 &&
	test $(count ".error.type==\"interrupted\"" out) -eq 8
'

test_expect_success '--rpm counts retries too' '
	for i in 1 2 3; do
		printf "{\"custom_id\":\"r%d\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"r%d\",\"fail_first\":2,\"status\":500}}}\n" $i $i || return 1
	done >in &&
	stopped 5.6 5 --rpm 5 --backoff 10 &&
	window_ok 5 stats &&
	test $(count ".type==\"error\"" out) -eq 3
'

test_expect_success '--tpm: text/4 + max_tokens; only what fits starts' '
	sized 6 400 100 >in &&
	stopped 2.6 3 --tpm 700 &&
	test $(count ".type==\"response\"" out) -eq 3 &&
	test $(count ".error.type==\"interrupted\"" out) -eq 3
'

test_expect_success '--tpm counts max_completion_tokens' '
	sized 6 8 300 c >in &&
	stopped 2.6 3 --tpm 1000 &&
	test $(count ".type==\"response\"" out) -eq 3
'

test_expect_success '--tpm without max_tokens: the text alone' '
	sized 4 1600 >in &&
	stopped 2 2 --tpm 1000 &&
	test $(count ".type==\"response\"" out) -eq 2
'

test_expect_success '--rpm 60: five requests start about a second apart' '
	fast 5 >in &&
	paced 5 --rpm 60 &&
	second_ok 1 stats &&
	jq -e ".starts[4] - .starts[0] < 4800" stats &&
	test $(count ".type==\"response\"" out) -eq 5
'

test_expect_success '--rpm 600: ten a second, no more' '
	fast 25 >in &&
	paced 25 -j 32 --rpm 600 &&
	second_ok 10 stats &&
	jq -e ".starts[24] - .starts[0] < 2900" stats
'

test_expect_success '--tpm spreads tokens: a second holds a sixtieth' '
	sized 4 400 100 >in &&
	paced 4 --tpm 30000 &&
	second_ok 2 stats &&
	jq -e ".starts[1] - .starts[0] < 500" stats
'

test_expect_success '--tpm with room for all: nothing waits' '
	sized 6 400 100 >in &&
	paced 6 --tpm 100000 &&
	jq -e ".starts[5] - .starts[0] < 1000" stats
'

# A 429 on the first request with the header member $1; then three
# requests in flight for 300 ms, then four more queued behind them.
cooldown_input () {
	printf "{\"custom_id\":\"a\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"a\",\"fail_first\":1,\"status\":429,%s}}}\n" "$1"
	for i in b c d; do
		printf "{\"custom_id\":\"%s\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"delay_ms\":300}}}\n" $i || return 1
	done
	for i in e f g h; do
		printf "{\"custom_id\":\"%s\",\"body\":{\"model\":\"m\",\"messages\":[]}}\n" $i || return 1
	done
}

test_expect_success 'a 429 with Retry-After: 1 makes the others wait too' '
	cooldown_input "\"retry_after\":\"1\"" >in &&
	paced 9 -j 4 &&
	jq -e ".starts as \$s | \$s[4:] | all(. >= \$s[0] + 900)" stats &&
	has ".type==\"retry\" and .custom_id==\"a\" and .status==429 and
	    .wait_ms==1000" out &&
	test $(count ".type==\"response\"" out) -eq 8 &&
	test $(count ".type==\"error\"" out) -eq 0
'

test_expect_success 'a 429 with retry-after-ms: 800 makes the others wait too' '
	cooldown_input "\"retry_after_ms\":800" >in &&
	paced 9 -j 4 &&
	jq -e ".starts as \$s | \$s[4:] | all(. >= \$s[0] + 700)" stats &&
	has ".type==\"retry\" and .custom_id==\"a\" and .wait_ms==800" out &&
	test $(count ".type==\"response\"" out) -eq 8
'

test_expect_success 'a 429 not retried (--retries 0) still makes the others wait' '
	cooldown_input "\"retry_after\":\"1\"" >in &&
	mock_reset &&
	{ "$VMANJL" -j 4 --retries 0 in >out 2>err; st=$?; } &&
	test $st -eq 1 &&
	mock_stats >stats &&
	jq -c .starts stats &&
	jq -e ".requests == 8" stats &&
	has ".type==\"error\" and .custom_id==\"a\" and .status==429" out &&
	test $(count ".type==\"response\"" out) -eq 7 &&
	jq -e ".starts as \$s | \$s[4:] | all(. >= \$s[0] + 900)" stats
'

test_expect_success 'Retry-After as an HTTP date on a 429' '
	when=$(date -u -d "+2 seconds" "+%a, %d %b %Y %H:%M:%S GMT") &&
	printf "%s\n" "{\"custom_id\":\"d\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"d\",\"fail_first\":1,\"status\":429,\"retry_after\":\"$when\"}}}" >in &&
	mock_reset &&
	"$VMANJL" in >out 2>err &&
	has ".type==\"retry\" and .wait_ms >= 1000 and .wait_ms <= 2000" out &&
	has ".type==\"response\" and .custom_id==\"d\"" out
'

test_expect_success 'x-ratelimit-reset-requests "1s" on a 429 is the wait' '
	printf "%s\n" "{\"custom_id\":\"x\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"x\",\"fail_first\":1,\"status\":429,\"headers\":{\"x-ratelimit-reset-requests\":\"1s\"}}}}" >in &&
	mock_reset &&
	"$VMANJL" in >out 2>err &&
	has ".type==\"retry\" and .status==429 and .wait_ms==1000" out &&
	has ".type==\"response\" and .custom_id==\"x\" and .attempts==2" out &&
	mock_stats >stats &&
	jq -e ".starts[1] - .starts[0] >= 900" stats
'

for d in "6m0s 360000" "1m30.5s 90500" "2h 7200000" "1.5s 1500"; do
	dur=${d% *} ms=${d#* }
	test_expect_success "x-ratelimit-reset-tokens \"$dur\" is a wait of $ms ms" '
		printf "%s\n" "{\"custom_id\":\"y\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"y\",\"fail_first\":1,\"status\":429,\"headers\":{\"x-ratelimit-reset-requests\":\"200ms\",\"x-ratelimit-reset-tokens\":\"$dur\"}}}}" >in &&
		mock_reset &&
		for_a_while 0.5 "$VMANJL" in &&
		test $st -eq 130 &&
		has ".type==\"retry\" and .status==429 and .wait_ms==$ms" out &&
		has ".type==\"error\" and .error.type==\"interrupted\"" out
	'
done

test_expect_success '--progress with a file: done/total and a percent' '
	slow 5 300 >in &&
	"$VMANJL" -j 1 --progress in >out 2>err &&
	tr "\r" "\n" <err >lines &&
	cat lines &&
	grep "[0-9]/5 .*[0-9]%" lines &&
	grep "[1-9]/5 .*[0-9]%" lines &&
	grep "vmanjl: 5 requests, 5 ok" lines
'

test_expect_success '--progress with stdin from a file knows the total too' '
	slow 5 300 >in &&
	printf "\n\n" >>in &&
	"$VMANJL" -j 1 --progress <in >out 2>err &&
	tr "\r" "\n" <err >lines &&
	grep "[1-9]/5 .*[0-9]%" lines &&
	! grep "/7" lines
'

test_expect_success '--progress with --resume: the total is what the run reaches' '
	slow 10 300 >in &&
	head -n 5 in >first &&
	"$VMANJL" -j 5 first >prev 2>err &&
	"$VMANJL" -j 1 --progress --resume prev in >out 2>err &&
	tr "\r" "\n" <err | grep "[0-9]/[0-9]* [0-9]*%" >lines &&
	cat lines &&
	last=$(tail -n 1 lines | sed "s/.* \([0-9]*\)%.*/\1/") &&
	echo "last progress: $last%" &&
	test "$last" -ge 60
'

test_expect_success 'stderr not a terminal, no --progress: the summary alone' '
	slow 5 300 >in &&
	"$VMANJL" -j 1 in >out 2>err &&
	cat err &&
	test $(wc -l <err) -eq 1 &&
	grep "^vmanjl: 5 requests, 5 ok, 0 errors" err &&
	! grep "$(printf "\r")" err
'

if command -v script >/dev/null 2>&1 &&
    script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	test_expect_success 'stderr a terminal: the progress line is on' '
		slow 5 300 >in &&
		SHELL=/bin/sh script -qec "\"$VMANJL\" -j 1 in >out" \
		    /dev/null </dev/null >tty &&
		tr "\r" "\n" <tty >lines &&
		cat lines &&
		grep "[1-9]/5 .*[0-9]%" lines &&
		grep "vmanjl: 5 requests, 5 ok" lines
	'

	test_expect_success '--no-progress silences it even with a terminal' '
		slow 5 300 >in &&
		SHELL=/bin/sh script -qec "\"$VMANJL\" -j 1 --no-progress in >out" \
		    /dev/null </dev/null >tty &&
		cat tty &&
		! grep "/5" tty &&
		! grep "%" tty &&
		grep "vmanjl: 5 requests, 5 ok" tty &&
		test $(tr -d "\r" <tty | grep -c .) -eq 1
	'

	# The progress lines drawn in the terminal output $1, one a line,
	# without their escapes; the summary left out.
	drawn () {
		tr "\r" "\n" <"$1" | sed "s/$(printf "\033")\[K//g" |
		    grep "^vmanjl: [0-9]" | grep -v " requests\?, " || :
	}

	for w in 80 40; do
		test_expect_success "a terminal of $w columns: no line wider, no zero fields, cleared at the end" '
			slow 12 300 >in &&
			SHELL=/bin/sh script -qec "stty cols $w; \"$VMANJL\" -j 2 in >out" \
			    /dev/null </dev/null >tty &&
			drawn tty >lines &&
			cat lines &&
			test $(wc -l <lines) -ge 3 &&
			awk -v w=$w "length > w - 1 { bad = 1 } END { exit bad }" lines &&
			head -n 1 lines | grep "ETA ?" &&
			! grep -e "ETA 0 s, 0" -e " 0 error" -e " 0 retr" -e "cache" lines &&
			grep "[1-9][0-9]*/12 .*%" lines &&
			tr "\r" "\n" <tty | grep "^$(printf "\033")\[Kvmanjl: 12 requests, 12 ok"
		'
	done

	test_expect_success 'stdout the same terminal as stderr: no progress line' '
		slow 5 300 >in &&
		SHELL=/bin/sh script -qec "\"$VMANJL\" -j 1 in" \
		    /dev/null </dev/null >tty &&
		test $(drawn tty | wc -l) -eq 0 &&
		grep "vmanjl: 5 requests, 5 ok" tty &&
		test $(grep -c "\"type\":\"response\"" tty) -eq 5
	'

	test_expect_success 'requests read from a terminal: one hint line' '
		SHELL=/bin/sh script -qec "\"$VMANJL\"" /dev/null </dev/null >tty &&
		cat tty &&
		test $(grep -c "reading requests from the terminal.*Ctrl-D" tty) -eq 1 &&
		SHELL=/bin/sh script -qec "\"$VMANJL\" -q" /dev/null </dev/null >tty &&
		! grep "reading requests" tty
	'
else
	for t in "stderr a terminal: the progress line is on" \
	    "--no-progress silences it even with a terminal" \
	    "a terminal of 80 columns" "a terminal of 40 columns" \
	    "stdout the same terminal as stderr" \
	    "requests read from a terminal"; do
		test_skip "$t" "no script(1)"
	done
fi

test_done
