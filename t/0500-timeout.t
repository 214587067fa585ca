#!/bin/sh
# Timeouts: --timeout bounds a whole attempt, --idle-timeout fails an
# attempt that receives nothing for a while (a stalled stream), and both
# are retried like other network failures.
#
# --connect-timeout is not tested: making a connect hang needs a
# black-holed address (no SYN-ACK, no RST), which an offline loopback test
# cannot rely on.
. "$(dirname "$0")/lib.sh"
start_mock

# The line on stdin into in, then vmanjl with the arguments after $1 on
# it, into out; succeed when it exits $1.  $ms is the time it took.
timed () {
	cat >in &&
	t0=$(now_ms) &&
	exits "$@" in >out
	rc=$?
	ms=$(($(now_ms) - t0))
	echo "took $ms ms"
	return $rc
}

test_expect_success '--timeout 1 against a 3 s delay: a timeout error within 3 s' '
	timed 1 --timeout 1 --retries 0 <<-\EOF &&
	{"custom_id":"slow","body":{"model":"m","messages":[],"mock":{"id":"to1","delay_ms":3000}}}
	EOF
	test $(count ".type==\"response\" or .type==\"error\"" out) -eq 1 &&
	has ".type==\"error\" and .custom_id==\"slow\" and
	    .status==null and .attempts==1 and
	    .error.type==\"timeout\"" out &&
	test $ms -ge 900 &&
	test $ms -lt 3000
'

test_expect_success 'a timed-out attempt is retried, then fails for good' '
	timed 1 --timeout 0.5 --retries 1 --backoff 10 <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"to2","delay_ms":3000}}
	EOF
	has ".type==\"retry\" and .status==null and .attempt==1 and
	    .error.type==\"timeout\"" out &&
	has ".type==\"error\" and .status==null and .attempts==2 and
	    .error.type==\"timeout\"" out &&
	jq -s -e ".[-1].type==\"error\"" out &&
	test $(seen to2) -eq 2 &&
	test $ms -lt 2500
'

test_expect_success 'a timeout on the first attempt only: the retry succeeds' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"second time"}],"mock":{"id":"to3","fail_first":1,"delay_ms":3000}}
	EOF
	"$VMANJL" --timeout 0.5 --backoff 10 in >out &&
	has ".type==\"retry\" and .error.type==\"timeout\"" out &&
	has ".type==\"response\" and .attempts==2 and
	    .content==\"second time\"" out
'

test_expect_success '--timeout bounds the whole attempt, even a stream that flows' '
	timed 1 --timeout 1 --retries 0 <<-\EOF &&
	{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d e f g h i j k l"}],"mock":{"event_delay_ms":300}}
	EOF
	has ".type==\"delta\"" out &&
	has ".type==\"error\" and .error.type==\"timeout\"" out &&
	test $ms -lt 2500
'

test_expect_success 'a delay shorter than --timeout succeeds' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"in time"}],"mock":{"id":"ok1","delay_ms":500}}
	EOF
	"$VMANJL" --timeout 3 --retries 0 in >out &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	has ".type==\"response\" and .attempts==1 and
	    .content==\"in time\"" out &&
	test $(seen ok1) -eq 1
'

# The idle timeout tests carry --timeout 5 as a safety net, so that an
# idle timeout that never fires cannot hang the suite.
test_expect_success '--idle-timeout 1: a stalled stream fails soon, naming it' '
	timed 1 --idle-timeout 1 --timeout 5 --retries 0 <<-\EOF &&
	{"custom_id":"stall","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d"}],"mock":{"id":"st1","stall_after":2}}}
	EOF
	has ".type==\"delta\" and .content==\"a\"" out &&
	has ".type==\"error\" and .custom_id==\"stall\" and
	    .attempts==1 and .error.type==\"timeout\" and
	    (.error.message | test(\"idle\"))" out &&
	test $ms -ge 900 &&
	test $ms -lt 3000
'

test_expect_success '--idle-timeout with --retries 1: a retry record, then success' '
	timed 0 --idle-timeout 1 --timeout 5 --retries 1 --backoff 10 <<-\EOF &&
	{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d"}],"mock":{"id":"st2","fail_first":1,"stall_after":2}}
	EOF
	jq -r .type out >types &&
	printf "delta\nretry\ndelta\ndelta\ndelta\ndelta\nresponse\n" >expect &&
	test_cmp expect types &&
	has ".type==\"retry\" and .attempt==1 and
	    .error.type==\"timeout\" and
	    (.error.message | test(\"idle\"))" out &&
	has ".type==\"response\" and .attempts==2 and
	    .content==\"a b c d\"" out &&
	test $(seen st2) -eq 2 &&
	test $ms -lt 3500
'

test_expect_success '--idle-timeout: a non-streamed answer that stalls' '
	timed 1 --idle-timeout 1 --timeout 5 --retries 0 <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"st3","stall_after":10}}
	EOF
	has ".type==\"error\" and .attempts==1 and
	    .error.type==\"timeout\" and
	    (.error.message | test(\"idle\"))" out &&
	test $ms -lt 3000
'

test_expect_success 'a non-streamed answer slower than --idle-timeout is waited for, sent once' '
	timed 0 --idle-timeout 1 --timeout 10 <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"slow"}],"mock":{"id":"st4","delay_ms":2500}}
	EOF
	has ".type==\"response\" and .attempts==1 and .content==\"slow\"" out &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	test $(seen st4) -eq 1 &&
	test $ms -ge 2400
'

test_expect_success 'no byte at all: only --timeout ends the wait' '
	timed 1 --idle-timeout 1 --timeout 2 --retries 0 <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"st5","delay_ms":8000}}
	EOF
	has ".type==\"error\" and .status==null and .attempts==1 and
	    .error.type==\"timeout\" and
	    (.error.message | test(\"idle\") | not)" out &&
	test $ms -ge 1900 &&
	test $ms -lt 4000
'

test_expect_success 'a slow stream with gaps under --idle-timeout succeeds' '
	cat >in <<-\EOF &&
	{"model":"m","stream":true,"messages":[{"role":"user","content":"p q r s t"}],"mock":{"event_delay_ms":300}}
	EOF
	"$VMANJL" --idle-timeout 1 --retries 0 in >out &&
	test $(count ".type==\"delta\"" out) -eq 5 &&
	has ".type==\"response\" and .attempts==1 and
	    .content==\"p q r s t\"" out
'

test_done
