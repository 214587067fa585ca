#!/bin/sh
# Retries: which failures are retried and which are not, the retry record,
# --retries, Retry-After / retry-after-ms, backoff with jitter, network
# failures, and the server's error message in every body shape of
# vman-api.md section 2.
. "$(dirname "$0")/lib.sh"
start_mock

for s in 408 409 429 500 502 503 504; do
	test_expect_success "status $s is retried, then the request succeeds" '
		cat >in <<-EOF &&
		{"custom_id":"r$s","body":{"model":"m","messages":[{"role":"user","content":"hello world"}],"mock":{"id":"r$s","fail_first":1,"status":$s}}}
		EOF
		"$VMANJL" --backoff 10 in >out &&
		test $(count ".type==\"retry\"" out) -eq 1 &&
		has ".type==\"retry\" and .line==1 and
		    .custom_id==\"r$s\" and .status==$s and
		    .error.message==\"mock error $s\" and
		    .attempt==1 and (.wait_ms | type)==\"number\" and
		    .wait_ms >= 0" out &&
		test $(count ".type==\"response\" or .type==\"error\"" out) -eq 1 &&
		has ".type==\"response\" and .line==1 and .status==200 and
		    .attempts==2 and .content==\"hello world\"" out &&
		jq -s -e ".[-1].type==\"response\"" out &&
		test $(seen r$s) -eq 2
	'
done

for s in 400 401 403 404 422; do
	test_expect_success "status $s is not retried" '
		cat >in <<-EOF &&
		{"custom_id":"n$s","body":{"model":"m","messages":[],"mock":{"id":"n$s","fail_first":1,"status":$s}}}
		EOF
		{ "$VMANJL" --backoff 10 in >out; test $? -eq 1; } &&
		test $(count ".type==\"retry\"" out) -eq 0 &&
		test $(count ".type==\"response\" or .type==\"error\"" out) -eq 1 &&
		has ".type==\"error\" and .line==1 and .custom_id==\"n$s\" and
		    .status==$s and .attempts==1 and
		    .error.message==\"mock error $s\"" out &&
		test $(seen n$s) -eq 1
	'
done

test_expect_success 'a 429 with code insufficient_quota is not retried' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"quota","fail_first":1,"status":429,"body":{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}}}
	EOF
	{ "$VMANJL" --backoff 10 in >out; test $? -eq 1; } &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	has ".type==\"error\" and .status==429 and .attempts==1 and
	    .error.message==\"You exceeded your current quota\" and
	    .error.type==\"insufficient_quota\" and
	    .error.code==\"insufficient_quota\"" out &&
	test $(seen quota) -eq 1
'

test_expect_success 'a 429 whose code alone says insufficient_quota is not retried' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"quota2","fail_first":1,"status":429,"body":{"error":{"message":"no quota left","type":"requests","code":"insufficient_quota"}}}}
	EOF
	{ "$VMANJL" --backoff 10 in >out; test $? -eq 1; } &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	has ".type==\"error\" and .status==429 and .attempts==1" out &&
	test $(seen quota2) -eq 1
'

test_expect_success 'a plain 429 rate limit is retried (only the quota one is not)' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"rate","fail_first":1,"status":429,"body":{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .status==429 and
	    .error.message==\"slow down\" and
	    .error.type==\"rate_limit_error\" and
	    .error.code==\"rate_limit_exceeded\"" out &&
	has ".type==\"response\" and .attempts==2" out &&
	test $(seen rate) -eq 2
'

test_expect_success '--retries 2 with a persistent 503: 3 attempts, then an error' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"p503","status":503}}
	EOF
	{ "$VMANJL" --retries 2 --backoff 10 in >out; test $? -eq 1; } &&
	jq -r "select(.type==\"retry\") | .attempt" out >actual &&
	printf "1\n2\n" >expect &&
	test_cmp expect actual &&
	has ".type==\"error\" and .status==503 and .attempts==3 and
	    .error.message==\"mock error 503\"" out &&
	jq -s -e ".[-1].type==\"error\"" out &&
	test $(seen p503) -eq 3
'

test_expect_success 'the default is 3 retries: 4 attempts' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"d503","status":503}}
	EOF
	{ "$VMANJL" --backoff 1 in >out; test $? -eq 1; } &&
	test $(count ".type==\"retry\"" out) -eq 3 &&
	has ".type==\"error\" and .attempts==4" out &&
	test $(seen d503) -eq 4
'

test_expect_success '--retries 0: one attempt, no retry record' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"z503","status":503}}
	EOF
	{ "$VMANJL" --retries 0 in >out; test $? -eq 1; } &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	has ".type==\"error\" and .status==503 and .attempts==1" out &&
	test $(seen z503) -eq 1
'

test_expect_success 'Retry-After: 1 waits a second' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"ra1","fail_first":1,"status":429,"retry_after":"1"}}
	EOF
	t0=$(now_ms) &&
	"$VMANJL" --backoff 10 in >out &&
	t1=$(now_ms) &&
	has ".type==\"retry\" and .status==429 and .wait_ms==1000" out &&
	has ".type==\"response\" and .attempts==2" out &&
	echo "took $((t1 - t0)) ms" &&
	test $((t1 - t0)) -ge 900 &&
	test $(seen ra1) -eq 2
'

test_expect_success 'retry-after-ms: 300 waits 300 ms' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"ram","fail_first":1,"status":503,"retry_after_ms":300}}
	EOF
	t0=$(now_ms) &&
	"$VMANJL" --backoff 10 in >out &&
	t1=$(now_ms) &&
	has ".type==\"retry\" and .wait_ms==300" out &&
	has ".type==\"response\" and .attempts==2" out &&
	echo "took $((t1 - t0)) ms" &&
	test $((t1 - t0)) -ge 250
'

test_expect_success 'retry-after-ms wins over Retry-After' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"both","fail_first":1,"status":503,"retry_after":"5","retry_after_ms":200}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .wait_ms==200" out &&
	has ".type==\"response\" and .attempts==2" out
'

test_expect_success 'Retry-After as an HTTP date a couple of seconds ahead' '
	when=$(LC_ALL=C date -u -R -d "@$(($(date +%s) + 2))" | sed "s/+0000\$/GMT/") &&
	echo "Retry-After: $when" &&
	cat >in <<-EOF &&
	{"model":"m","messages":[],"mock":{"id":"rad","fail_first":1,"status":503,"retry_after":"$when"}}
	EOF
	t0=$(now_ms) &&
	"$VMANJL" --backoff 10 in >out &&
	t1=$(now_ms) &&
	has ".type==\"retry\" and .wait_ms >= 900 and
	    .wait_ms <= 3000" out &&
	has ".type==\"response\" and .attempts==2" out &&
	echo "took $((t1 - t0)) ms" &&
	test $((t1 - t0)) -ge 800
'

test_expect_success 'Retry-After as an HTTP date in the past: retried at once' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"rap","fail_first":1,"status":503,"retry_after":"Wed, 21 Oct 2015 07:28:00 GMT"}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .wait_ms >= 0 and .wait_ms <= 10" out &&
	has ".type==\"response\" and .attempts==2" out
'

test_expect_success 'backoff without Retry-After doubles, with jitter' '
	for i in 1 2 3 4; do
		echo "{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"bo$i\",\"fail_first\":2,\"status\":500}}" || return 1
	done >in &&
	"$VMANJL" --backoff 200 in >out &&
	test $(count ".type==\"retry\"" out) -eq 8 &&
	all ".type==\"retry\" and .attempt==1" ".wait_ms >= 100 and
	    .wait_ms <= 200" out &&
	all ".type==\"retry\" and .attempt==2" ".wait_ms >= 200 and
	    .wait_ms <= 400" out &&
	all ".type==\"response\"" ".attempts==3" out &&
	test $(count ".type==\"response\"" out) -eq 4
'

test_expect_success 'connection refused: retried, then status null and the libcurl text' '
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	{ "$VMANJL" --base-url http://127.0.0.1:1 --retries 2 --backoff 10 \
	    in >out; test $? -eq 1; } &&
	test $(count ".type==\"retry\"" out) -eq 2 &&
	all ".type==\"retry\"" ".status==null and
	    .error.type==\"network_error\" and
	    (.error.message | test(\"connect\"; \"i\"))" out &&
	has ".type==\"error\" and .status==null and .attempts==3 and
	    .error.type==\"network_error\" and
	    (.error.message | test(\"connect\"; \"i\"))" out
'

test_expect_success 'a reset before the headers is retried, status null' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"after reset"}],"mock":{"id":"rst","fail_first":1,"reset":"before_headers"}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .status==null and .attempt==1 and
	    .error.type==\"network_error\"" out &&
	has ".type==\"response\" and .attempts==2 and
	    .content==\"after reset\"" out &&
	test $(seen rst) -eq 2
'

test_expect_success 'a persistent reset ends in an error with status null' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"rst2","reset":"before_headers"}}
	EOF
	{ "$VMANJL" --retries 1 --backoff 10 in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==null and .attempts==2 and
	    .error.type==\"network_error\"" out &&
	test $(seen rst2) -eq 2
'

test_expect_success 'a truncated non-streamed answer (close_after) is retried' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"whole again"}],"mock":{"id":"trunc","fail_first":1,"close_after":10}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .attempt==1 and
	    .error.type==\"network_error\"" out &&
	has ".type==\"response\" and .attempts==2 and
	    .content==\"whole again\"" out &&
	test $(seen trunc) -eq 2
'

test_expect_success 'a stream cut short is retried; the terminal record is whole' '
	cat >in <<-\EOF &&
	{"model":"m","stream":true,"messages":[{"role":"user","content":"one two three four"}],"mock":{"id":"scut","fail_first":1,"close_after":3}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .attempt==1 and .status==200 and
	    .error.type==\"network_error\"" out &&
	has ".type==\"response\" and .attempts==2 and
	    .content==\"one two three four\"" out &&
	jq -s -e ".[-1].type==\"response\"" out &&
	test $(seen scut) -eq 2
'

test_expect_success 'a stream that ends without [DONE] is retried' '
	cat >in <<-\EOF &&
	{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}],"mock":{"id":"nodone","fail_first":1,"no_done":true}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .attempt==1 and .status==200 and
	    .error.type==\"stream_error\" and
	    .error.message==\"stream ended without [DONE]\"" out &&
	has ".type==\"response\" and .attempts==2 and
	    .content==\"a b\"" out &&
	test $(seen nodone) -eq 2
'

test_expect_success 'a 503 to a streaming request is retried, then streams' '
	cat >in <<-\EOF &&
	{"model":"m","stream":true,"messages":[{"role":"user","content":"x y"}],"mock":{"id":"s503","fail_first":1,"status":503}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	jq -r .type out >types &&
	printf "retry\ndelta\ndelta\nresponse\n" >expect &&
	test_cmp expect types &&
	has ".type==\"response\" and .content==\"x y\" and .attempts==2" out
'

test_expect_success 'the summary counts the retries' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"sum1","fail_first":2,"status":502}}
	{"model":"m","messages":[],"mock":{"id":"sum2","fail_first":1,"status":504}}
	EOF
	"$VMANJL" --backoff 10 in >out 2>err &&
	grep "2 requests, 2 ok, 0 errors, 3 retries" err
'

# vman-api.md section 2: the server's own message, type and code.
test_expect_success 'OpenAI error shape: error.message, type, code' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"error":{"message":"bad model (request id: 42)","type":"invalid_request_error","param":"","code":"model_not_found"}}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==400 and .attempts==1 and
	    .error.message==\"bad model (request id: 42)\" and
	    .error.type==\"invalid_request_error\" and
	    .error.code==\"model_not_found\" and
	    .body.error.param==\"\"" out
'

test_expect_success 'OpenAI error shape with a numeric code' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"error":{"message":"numeric","type":"upstream_error","code":1234}}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .error.message==\"numeric\" and
	    .error.type==\"upstream_error\" and .error.code==1234" out
'

test_expect_success 'Midjourney error shape: description and numeric code' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"code":4,"description":"prompt_is_required"}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==400 and
	    .error.message==\"prompt_is_required\" and
	    .error.type==\"http_error\" and .error.code==4" out
'

test_expect_success 'Midjourney relay error shape: its type is kept' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"description":"banned prompt x","type":"upstream_error","code":24}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .error.message==\"banned prompt x\" and
	    .error.type==\"upstream_error\" and .error.code==24" out
'

test_expect_success 'task error shape: message and string code' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"code":"quota_not_enough","message":"user quota is not enough","data":null}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==400 and
	    .error.message==\"user quota is not enough\" and
	    .error.type==\"http_error\" and
	    .error.code==\"quota_not_enough\"" out
'

test_expect_success 'Stability error shape: errors[0]' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"errors":["prompt: cannot be blank","seed: too big"],"name":"bad_request"}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==400 and
	    .error.message==\"prompt: cannot be blank\" and
	    .error.code==null" out
'

test_expect_success 'BFL error shape: detail' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"detail":"Invalid aspect ratio"}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==400 and
	    .error.message==\"Invalid aspect ratio\" and
	    .error.type==\"http_error\" and .error.code==null" out
'

test_expect_success 'a JSON error body of no known shape is given whole' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"body":{"oops":[1,2]}}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==400 and
	    (.error.message | test(\"oops\"))" out
'

test_expect_success 'a non-JSON (HTML) error body: its text is in the message' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"status":400,"content_type":"text/html","raw":"<html><body><h1>400 Bad Request</h1>nginx says no</body></html>"}}
	EOF
	{ "$VMANJL" in >out; test $? -eq 1; } &&
	has ".type==\"error\" and .status==400 and .attempts==1 and
	    .error.type==\"http_error\" and
	    (.error.message | test(\"^HTTP 400: \")) and
	    (.error.message | contains(\"nginx says no\"))" out
'

test_expect_success 'a 502 HTML page is retried with its text in the retry record' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"html502","fail_first":1,"status":502,"content_type":"text/html","raw":"<html>Bad Gateway from the proxy</html>"}}
	EOF
	"$VMANJL" --backoff 10 in >out &&
	has ".type==\"retry\" and .status==502 and
	    (.error.message | contains(\"Bad Gateway from the proxy\"))" out &&
	has ".type==\"response\" and .attempts==2" out
'

test_done
