#!/bin/sh
# Safe in a person's hands: a key typed on the command line is refused
# and never repeated; options that take a secret or a path must be
# spelled out; "--resume out > out" is refused before anything is sent;
# SIGTERM ends a run as SIGINT does, with a summary that says how to go
# on; --max-errors stops a run that only fails; -q is quiet only when
# the run went well, and counts read right; -j past the open-file
# limit raises it or runs fewer at once, never failing lines.
. "$(dirname "$0")/lib.sh"
start_mock

chat () {
	printf '{"custom_id":"%s","body":{"model":"m","messages":[{"role":"user","content":"%s"}]%s}}\n' \
	    "$1" "$2" "${3:+,$3}"
}

test_expect_success 'a key given as an option is refused, and never shown' '
	chat a hello >in &&
	n=$(requests) &&
	for o in "--key sk-SECRET1" "--key=sk-SECRET2" "--api-key=sk-SECRET3" \
	    "--key-fi sk-SECRET4"; do
		{ "$VMANJL" $o in >out 2>err; st=$?; } &&
		cat err &&
		test $st -eq 2 &&
		test ! -s out &&
		grep "VMAN_API_KEY" err &&
		grep -e "--key-file FILE" err &&
		! grep SECRET err || return 1
	done &&
	test $(requests) -eq $n
'

test_expect_success 'an option that takes a secret or a path is spelled out' '
	chat a hello >in &&
	for o in "--cace ca.pem" "--resu out" "--out-d d" "--key-f k"; do
		{ "$VMANJL" $o in >out 2>err; st=$?; } &&
		cat err &&
		test $st -eq 2 &&
		grep -e "${o%% *}" err || return 1
	done &&
	test_must_fail "$VMANJL" --cacert-x x in 2>err &&
	grep "unknown or ambiguous option .--cacert-x." err &&
	"$VMANJL" --retr 0 in >out &&
	has ".type==\"response\"" out
'

test_expect_success 'unknown options and missing values name the option only' '
	test_must_fail "$VMANJL" --bogus=sk-SECRET5 </dev/null 2>err &&
	grep "unknown or ambiguous option .--bogus." err &&
	! grep SECRET err &&
	test_must_fail "$VMANJL" --jobs </dev/null 2>err &&
	grep "option .--jobs. needs a value" err &&
	test_must_fail "$VMANJL" -j </dev/null 2>err &&
	grep "option -j needs a value" err
'

test_expect_success '--resume out > out: refused, nothing sent; >> works' '
	chat a one >in && chat b two >>in &&
	"$VMANJL" in >out &&
	test $(wc -l <out) -eq 2 &&
	n=$(requests) &&
	{ "$VMANJL" --resume out in >out 2>err; st=$?; } &&
	cat err &&
	test $st -eq 2 &&
	grep ">> out" err &&
	test $(requests) -eq $n &&
	"$VMANJL" in >out &&
	"$VMANJL" --resume out in >>out 2>err &&
	test $(requests) -eq $((n + 2)) &&
	grep "2 done before" err &&
	test $(wc -l <out) -eq 2
'

test_expect_success 'SIGTERM: 143, an interrupted record per request, how to go on' '
	for i in 1 2 3 4 5 6; do
		chat "s$i" "slow $i" "\"mock\":{\"delay_ms\":5000}" || return 1
	done >in &&
	{ "$VMANJL" -j 4 in >out 2>err & } &&
	pid=$! &&
	sleep 0.5 &&
	kill -TERM $pid &&
	{ wait $pid; st=$?; } &&
	cat err &&
	test $st -eq 143 &&
	test $(count ".type==\"error\" and .error.type==\"interrupted\"" out) -eq 4 &&
	grep "^vmanjl: 4 requests, 0 ok, 4 errors" err &&
	grep "interrupted: 4 requests ended as .interrupted.; .*--resume" err
'

test_expect_success '-q: silent when all went well, the summary when not' '
	chat a fine >in &&
	"$VMANJL" -q in >out 2>err &&
	test ! -s err &&
	chat b bad "\"mock\":{\"status\":400}" >in &&
	test_must_fail "$VMANJL" -q in >out 2>err &&
	cat err &&
	test $(wc -l <err) -eq 1 &&
	grep "^vmanjl: 1 request, 0 ok, 1 error, 0 retries, " err
'

test_expect_success '--max-errors 3: no more lines read, those in flight end, how to go on' '
	for i in 1 2 3 4 5 6 7 8 9 10; do
		chat "b$i" "bad $i" "\"mock\":{\"status\":401}" || return 1
	done >in &&
	n=$(requests) &&
	{ "$VMANJL" -j 2 --max-errors 3 in >out 2>err; st=$?; } &&
	cat err &&
	test $st -eq 1 &&
	sent=$(($(requests) - n)) &&
	test $sent -ge 3 && test $sent -le 4 &&
	test $(count ".type==\"error\"" out) -eq $sent &&
	grep "stopped early after $sent errors (--max-errors 3): the lines after line $sent were not sent; .*--resume" err
'

test_expect_success 'no key at all: one warning before anything is sent; the run goes on' '
	chat a hello >in &&
	(unset VMAN_API_KEY && "$VMANJL" in >out 2>err) &&
	cat err &&
	test $(grep -c "no API key" err) -eq 1 &&
	head -n 1 err | grep "no API key: set VMAN_API_KEY or use --key-file" &&
	has ".type==\"response\"" out &&
	(unset VMAN_API_KEY && "$VMANJL" -H "Authorization: Bearer sk-h" in \
	    >out 2>err) &&
	! grep "no API key" err &&
	"$VMANJL" in >out 2>err &&
	! grep "no API key" err
'

test_expect_success '--max-response-size bounds the answer a stream assembles' '
	chat big "x" "\"stream\":true,\"mock\":{\"id\":\"big\",\"content\":\"abcdefgh \",\"repeat\":500}" >in &&
	test_must_fail "$VMANJL" -q --max-response-size 2k in >out 2>err &&
	has ".type==\"error\" and .error.type==\"response_too_large\" and
	    .attempts==1 and (.error.message | test(\"assembled\"))" out &&
	test $(seen big) -eq 1 &&
	test $(jq -s "map(select(.type==\"delta\") | .content) | add |
	    length" out) -le 2048 &&
	"$VMANJL" -q --max-response-size 8k in >out &&
	has ".type==\"response\" and (.content | length) == 4500" out
'

test_expect_success '--dry-run needs no base URL, and warns of paths outside the table' '
	printf "%s\n" "{\"model\":\"m\",\"messages\":[]}" \
	    "{\"url\":\"/v1/no-such-thing\",\"body\":{}}" >in &&
	(unset VMAN_BASE_URL && "$VMANJL" --dry-run in >out 2>err) &&
	cat err &&
	has ".line==1 and .type==\"request\" and
	    .url==\"/v1/chat/completions\"" out &&
	has ".line==2 and .url==\"/v1/no-such-thing\"" out &&
	grep "line 2: /v1/no-such-thing is not in the endpoint table" err &&
	! grep "line 1:" err &&
	(unset VMAN_BASE_URL && test_must_fail "$VMANJL" in >out 2>err) &&
	test ! -s out &&
	test $(wc -l <err) -eq 1 &&
	grep "no base URL" err
'

# 300 chat requests, custom_ids $2I, that the server answers after $3
# ms, run at -j 300 under the open-file limit 128 set by ulimit $1;
# stdout in out, stderr in err (and shown).
j300 () {
	for i in $(seq 300); do
		chat "$2$i" "x" "\"mock\":{\"delay_ms\":$3}" || return 1
	done >in &&
	(ulimit $1 128 && "$VMANJL" -q -j 300 in >out 2>err) &&
	cat err
}

test_expect_success '-j past the open-file limit: raised toward the hard one, silently' '
	j300 -Sn f 1500 &&
	test ! -s err &&
	test $(count ".type==\"response\"" out) -eq 300
'

test_expect_success '-j past a hard limit: as many at once as fit, one warning' '
	j300 -n g 500 &&
	test $(wc -l <err) -eq 1 &&
	grep "^vmanjl: -j 300 needs about 332 open files and the limit is 128: running 96 at once" err &&
	test $(count ".type==\"response\"" out) -eq 300
'

test_done
