#!/bin/sh
# The API key: sent as a Bearer token from VMAN_API_KEY or --key-file,
# and never shown: not in records, messages, the -v trace or the command
# line of a running vmanjl.
. "$(dirname "$0")/lib.sh"
KEY=sk-secret-123
MOCK_KEY=$KEY
export MOCK_KEY
start_mock
unset MOCK_KEY

# Fail, showing where, if the key is anywhere in the files named, or if
# one of them is missing (grep would not look into it).
no_key () {
	for f; do
		test -f "$f" || { echo "no_key: no file $f"; return 1; }
	done
	if grep -F -n -e "$KEY" "$@"; then
		echo "the key leaked"
		return 1
	fi
}

test_expect_success 'VMAN_API_KEY is sent as a Bearer token' '
	echo "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"with key\"}]}" >in &&
	VMAN_API_KEY=$KEY "$VMANJL" in >out 2>err &&
	has ".type==\"response\" and .status==200 and
	    .content==\"with key\"" out &&
	mock_stats >stats &&
	jq -e ".last_headers.authorization==\"present\"" stats &&
	no_key out err
'

test_expect_success 'without a key the server refuses: 401, not retried' '
	unset VMAN_API_KEY &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	r0=$(requests) &&
	{ "$VMANJL" --backoff 10 in >out 2>err; test $? -eq 1; } &&
	test $(($(requests) - r0)) -eq 1 &&
	mock_stats >stats &&
	jq -e ".last_headers.authorization == null" stats &&
	has ".type==\"error\" and .status==401 and .attempts==1" out &&
	test $(count ".type==\"retry\"" out) -eq 0
'

test_expect_success 'a wrong key: error 401, not retried' '
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	r0=$(requests) &&
	{ VMAN_API_KEY=sk-wrong-999 "$VMANJL" --backoff 10 in >out 2>err
	  test $? -eq 1; } &&
	has ".type==\"error\" and .status==401 and .attempts==1 and
	    .error.code==\"invalid_api_key\"" out &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	test $(($(requests) - r0)) -eq 1 &&
	! grep -F sk-wrong-999 out err
'

test_expect_success '--key-file: the key read from a file, trailing newline ignored' '
	printf "%s\n" "$KEY" >key && chmod 600 key &&
	echo "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"from file\"}]}" >in &&
	"$VMANJL" --key-file key in >out 2>err &&
	has ".type==\"response\" and .content==\"from file\"" out &&
	no_key out err
'

test_expect_success '--key-file: trailing white space and CRLF are ignored' '
	printf "%s \r\n\n" "$KEY" >key && chmod 600 key &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	"$VMANJL" --key-file key in >out &&
	has ".type==\"response\"" out
'

test_expect_success '--key-file overrides VMAN_API_KEY' '
	printf "%s\n" "$KEY" >key && chmod 600 key &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	VMAN_API_KEY=sk-wrong-999 "$VMANJL" --key-file key in >out &&
	has ".type==\"response\"" out
'

test_expect_success 'a key file with a line break in the key: exit 2, key not shown' '
	printf "%s\nsecond-line\n" "$KEY" >key && chmod 600 key &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	{ "$VMANJL" --key-file key in >out 2>err; test $? -eq 2; } &&
	cat err &&
	test -s err &&
	test ! -s out &&
	no_key err &&
	! grep -F second-line err
'

test_expect_success 'the key cannot be given as an argument' '
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	for o in --key --api-key; do
		"$VMANJL" $o sk-other-777 in >out 2>err; st=$?
		test $st -eq 2 || { echo "$o: exit $st"; exit 1; }
		test ! -s out || { echo "$o: something was sent"; exit 1; }
	done
'

test_expect_success 'a run with -v and faults never shows the key' '
	printf "%s\n" "$KEY" >key && chmod 600 key &&
	cat >in <<-EOF &&
	{"model":"m","messages":[{"role":"user","content":"plain"}]}
	{"model":"m","messages":[],"mock":{"id":"v500","fail_first":1,"status":500}}
	{"model":"m","messages":[],"mock":{"id":"v503","status":503}}
	{"model":"m","stream":true,"messages":[{"role":"user","content":"streamed words"}]}
	{"model":"m","stream":true,"messages":[{"role":"user","content":"cut short"}],"mock":{"id":"vcut","fail_first":1,"close_after":2}}
	{"url":"/v1/chat/completions","headers":{"Authorization":"Bearer sk-wrong-999"},"body":{"model":"m","messages":[]}}
	{"model":"m","messages":[],"mock":{"id":"vrst","fail_first":1,"reset":"before_headers"}}
	{"url":"http://127.0.0.1:1/v1/chat/completions","body":{"model":"m","messages":[]}}
	{"model":"m","messages":[],"mock":{"status":400,"body":{"error":{"message":"bad request","type":"invalid_request_error","code":null}}}}
	{not json
	EOF
	{ VMAN_API_KEY=$KEY "$VMANJL" -v -j 4 --retries 1 --backoff 10 in \
	    >out 2>err; test $? -eq 1; } &&
	has ".type==\"response\" and .line==1" out &&
	has ".type==\"retry\" and .line==2 and .status==500" out &&
	has ".type==\"response\" and .line==2" out &&
	has ".type==\"error\" and .line==3 and .status==503" out &&
	has ".type==\"response\" and .line==4 and
	    .content==\"streamed words\"" out &&
	has ".type==\"response\" and .line==5" out &&
	has ".type==\"error\" and .line==6 and .status==401" out &&
	has ".type==\"response\" and .line==7" out &&
	has ".type==\"error\" and .line==8 and .status==null" out &&
	has ".type==\"error\" and .line==9 and .status==400" out &&
	has ".type==\"error\" and .line==10" out &&
	grep "Authorization: \[redacted\]" err &&
	test $(grep -c "> Authorization:" err) -eq \
	    $(grep -c "> Authorization: \[redacted\]\$" err) &&
	! grep -i "bearer" err &&
	! grep -F sk-wrong-999 out err &&
	no_key out err
'

test_expect_success '-v with --key-file: the trace redacts it too' '
	printf "%s\n" "$KEY" >key && chmod 600 key &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	"$VMANJL" -v --key-file key in >out 2>err &&
	grep "> Authorization: \[redacted\]" err &&
	has ".type==\"response\"" out &&
	no_key out err
'

test_expect_success '-v redacts the other key headers given with -H or in the envelope' '
	cat >in <<-\EOF &&
	{"url":"/v1/embeddings","headers":{"Api-Key":"ak-envelope-1","Mj-Api-Secret":"mj-envelope-2"},"body":{"input":"x"}}
	EOF
	VMAN_API_KEY=$KEY "$VMANJL" -v -H "X-Api-Key: xk-option-3" \
	    -H "Proxy-Authorization: Basic cHJveHk6c2VjcmV0" in >out 2>err &&
	has ".type==\"response\"" out &&
	grep -i "> X-Api-Key: \[redacted\]" err &&
	grep -i "> Api-Key: \[redacted\]" err &&
	grep -i "> Mj-Api-Secret: \[redacted\]" err &&
	! grep -e ak-envelope-1 -e mj-envelope-2 -e xk-option-3 \
	    -e cHJveHk6c2VjcmV0 err out &&
	no_key out err
'

test_expect_success 'the key is not on the command line of a running vmanjl' '
	printf "%s\n" "$KEY" >key && chmod 600 key &&
	echo "{\"model\":\"m\",\"messages\":[],\"mock\":{\"delay_ms\":3000}}" >in &&
	{ VMAN_API_KEY=$KEY "$VMANJL" --retries 0 in >out 2>err & } &&
	pid1=$! &&
	{ "$VMANJL" --key-file key --retries 0 in >out2 2>err2 & } &&
	pid2=$! &&
	sleep 0.5 &&
	tr "\000" " " </proc/$pid1/cmdline >cmd1 &&
	tr "\000" " " </proc/$pid2/cmdline >cmd2 &&
	kill -INT $pid1 $pid2 &&
	{ wait $pid1; wait $pid2; true; } &&
	cat cmd1 cmd2 &&
	grep "vmanjl --retries 0 in" cmd1 &&
	grep "vmanjl --key-file key" cmd2 &&
	no_key cmd1 cmd2 out err out2 err2
'

test_expect_success 'the key is sent to absolute envelope URLs too' '
	echo "{\"url\":\"$VMAN_BASE_URL/v1/embeddings\",\"body\":{\"input\":\"x\"}}" >in &&
	VMAN_API_KEY=$KEY "$VMANJL" --base-url http://127.0.0.1:9 in >out &&
	has ".type==\"response\" and .status==200" out
'

test_expect_success 'batch format output does not show the key either' '
	cat >in <<-\EOF &&
	{"custom_id":"b1","body":{"model":"m","messages":[]}}
	{"custom_id":"b2","url":"http://127.0.0.1:1/v1/x","body":{}}
	EOF
	{ VMAN_API_KEY=$KEY "$VMANJL" --format batch --retries 0 in \
	    >out 2>err; test $? -eq 1; } &&
	has ".custom_id==\"b1\" and .response.status_code==200" out &&
	no_key out err
'

test_done
