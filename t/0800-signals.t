#!/bin/sh
# Signals and exit statuses: a reader that goes away (SIGPIPE), a full
# disk, SIGINT in the middle of a run, and 0 / 1 by outcome.
. "$(dirname "$0")/lib.sh"
start_mock

# N streamed requests, one a line.
many () {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"r%d a b c d e f g h\"}]}\n", i }'
}

# N requests the server answers after 5 s.
slow () {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"custom_id\":\"s%d\",\"body\":{\"model\":\"m\",\"messages\":[],\"mock\":{\"delay_ms\":5000}}}\n", i }'
}

# N streamed requests whose streams last about 15 s.
endless () {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}],\"mock\":{\"repeat\":1000,\"event_delay_ms\":5}}\n" }'
}

test_expect_success 'vmanjl | head -n 1: killed quietly by SIGPIPE' '
	many 500 >in &&
	( "$VMANJL" -j 16 in 2>err; echo $? >st ) | head -n 1 >first &&
	echo "exit status $(cat st)" &&
	test "$(cat st)" -eq 141 &&
	test ! -s err &&
	test $(wc -l <first) -eq 1 &&
	jq -e ".line >= 1" first
'

test_expect_success 'SIGPIPE ignored by the parent: still ends quietly' '
	many 500 >in &&
	( trap "" PIPE; "$VMANJL" -j 16 in 2>err; echo $? >st ) |
	    head -n 1 >first &&
	echo "exit status $(cat st)" &&
	test "$(cat st)" -eq 141 &&
	test ! -s err &&
	test $(wc -l <first) -eq 1
'

test_expect_success 'SIGPIPE with -k and -q too' '
	many 300 >in &&
	( "$VMANJL" -k -q -j 8 in 2>err; echo $? >st ) | head -n 2 >first &&
	test "$(cat st)" -eq 141 &&
	test ! -s err &&
	test $(wc -l <first) -eq 2
'

test_expect_success 'writing to a full disk: exit 2 with a message' '
	test -w /dev/full &&
	many 3 >in &&
	{ "$VMANJL" in >/dev/full 2>err; st=$?; } &&
	cat err &&
	test $st -eq 2 &&
	grep "^vmanjl: .*cannot write" err
'

test_expect_success 'SIGINT: 130, one interrupted record per request in flight' '
	slow 6 >in &&
	t0=$(now_ms) &&
	{ "$VMANJL" -j 4 in >out 2>err & } &&
	pid=$! &&
	sleep 0.5 &&
	kill -INT $pid &&
	{ wait $pid; st=$?; } &&
	t1=$(now_ms) &&
	echo "exit status $st after $((t1 - t0)) ms" &&
	cat out err &&
	test $st -eq 130 &&
	test $((t1 - t0)) -lt 3000 &&
	for l in 1 2 3 4; do
		test $(count ".line==$l and .type==\"error\" and
		    .error.type==\"interrupted\" and .status==null and
		    .custom_id==\"s$l\"" out) -eq 1 || exit 1
	done &&
	test $(count ".type==\"response\"" out) -eq 0 &&
	jq -r "select(.type==\"error\") | .line" out | sort | uniq -d >dups &&
	test ! -s dups &&
	test "$(tail -c 1 out | od -An -c | tr -d " ")" = "\n" &&
	jq -s -e "length >= 4" out &&
	grep "^vmanjl: .* requests, 0 ok, .* errors" err
'

test_expect_success 'SIGINT mid-stream: the output ends in a whole line' '
	endless 4 >in &&
	{ "$VMANJL" -j 4 in >out 2>err & } &&
	pid=$! &&
	sleep 1 &&
	kill -INT $pid &&
	{ wait $pid; st=$?; } &&
	test $st -eq 130 &&
	has ".type==\"delta\"" out &&
	test "$(tail -c 1 out | od -An -c | tr -d " ")" = "\n" &&
	jq -s -e "length > 4" out &&
	all ".type==\"error\"" ".error.type==\"interrupted\"" out &&
	for l in 1 2 3 4; do
		test $(count ".line==$l and (.type==\"error\" or
		    .type==\"response\")" out) -eq 1 || exit 1
	done
'

test_expect_success 'SIGINT stops reading input that is still open' '
	mkfifo fifo &&
	exec 3<>fifo &&
	slow 2 >&3 &&
	t0=$(now_ms) &&
	{ "$VMANJL" -j 4 fifo >out 2>err & } &&
	pid=$! &&
	sleep 0.5 &&
	kill -INT $pid &&
	{ wait $pid; st=$?; } &&
	t1=$(now_ms) &&
	exec 3>&- &&
	echo "exit status $st after $((t1 - t0)) ms" &&
	test $st -eq 130 &&
	test $((t1 - t0)) -lt 3000 &&
	test $(count ".type==\"error\" and
	    .error.type==\"interrupted\"" out) -eq 2
'

test_expect_success 'SIGINT with -k: the held records are written too' '
	{
		slow 1
		echo "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"done early\"}]}"
	} >in &&
	{ "$VMANJL" -k -j 4 in >out 2>err & } &&
	pid=$! &&
	sleep 0.5 &&
	kill -INT $pid &&
	{ wait $pid; st=$?; } &&
	test $st -eq 130 &&
	jq -r "\"\(.line) \(.type)\"" out >actual &&
	printf "1 error\n2 response\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'exit status 0 when every request succeeds' '
	many 5 >in &&
	echo "{\"model\":\"m\",\"messages\":[]}" >>in &&
	"$VMANJL" in >out &&
	test $(count ".type==\"response\"" out) -eq 6
'

test_expect_success 'exit status 0 for no requests at all' '
	printf "\n\n" >in &&
	"$VMANJL" in >out &&
	test ! -s out
'

test_expect_success 'exit status 1 when any request ends in an error' '
	many 3 >in &&
	echo "{\"model\":\"m\",\"messages\":[],\"mock\":{\"status\":400}}" >>in &&
	{ "$VMANJL" in >out; st=$?; } &&
	test $st -eq 1 &&
	test $(count ".type==\"response\"" out) -eq 3 &&
	test $(count ".type==\"error\"" out) -eq 1
'

test_expect_success 'exit status 1 for a malformed line among good ones' '
	printf "{\"model\":\"m\",\"messages\":[]}\n{oops\n" >in &&
	{ "$VMANJL" in >out; test $? -eq 1; }
'

test_expect_success 'exit status 0 after a retry that succeeded' '
	echo "{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"ok-after\",\"fail_first\":1,\"status\":500}}" >in &&
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\"" out
'

test_done
