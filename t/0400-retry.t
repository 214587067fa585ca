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

# The one request {"model":"m","messages":[],"mock":$1} into in.
mock_in () {
	printf '%s\n' "{\"model\":\"m\",\"messages\":[],\"mock\":$1}" >in
}

# A test, title $1: the request of mock $2 (with an id) fails once and
# is not retried; its error record also satisfies the jq condition $3.
not_retried () {
	mock=$2 cond=$3
	test_expect_success "$1" '
		mock_in "$mock" &&
		exits 1 --backoff 10 in >out &&
		test $(count ".type==\"retry\"" out) -eq 0 &&
		has ".type==\"error\" and .status==429 and .attempts==1 and
		    $cond" out &&
		seen_times "$(jq -r .mock.id in)" 1
	'
}

not_retried 'a 429 with code insufficient_quota is not retried' \
    '{"id":"quota","fail_first":1,"status":429,"body":{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}}' \
    '.error.message=="You exceeded your current quota" and
    .error.type=="insufficient_quota" and
    .error.code=="insufficient_quota"'
not_retried 'a 429 whose code alone says insufficient_quota is not retried' \
    '{"id":"quota2","fail_first":1,"status":429,"body":{"error":{"message":"no quota left","type":"requests","code":"insufficient_quota"}}}' \
    true

# A test, title $1: the line $2 (a request with a mock id) fails once
# and is retried with --backoff 10; the retry record satisfies the jq
# condition $3, the answer (the last record) comes on the second attempt
# and satisfies $4, the whole run takes $5 ms or more.
retried_once () {
	line=$2 retry=$3 answer=$4 least=$5
	test_expect_success "$1" '
		printf "%s\n" "$line" >in &&
		t0=$(now_ms) &&
		"$VMANJL" --backoff 10 in >out &&
		ms=$(($(now_ms) - t0)) &&
		echo "took $ms ms" &&
		has ".type==\"retry\" and $retry" out &&
		has ".type==\"response\" and .attempts==2 and $answer" out &&
		jq -s -e ".[-1].type==\"response\"" out &&
		seen_times "$(jq -r .mock.id in)" 2 &&
		test $ms -ge $least
	'
}

retried_once 'a plain 429 rate limit is retried (only the quota one is not)' \
    '{"model":"m","messages":[],"mock":{"id":"rate","fail_first":1,"status":429,"body":{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}}}' \
    '.status==429 and .error.message=="slow down" and
    .error.type=="rate_limit_error" and .error.code=="rate_limit_exceeded"' \
    true 0

# A test, title $1: the request of mock $2 (with an id) fails with a
# persistent 503, with the options $3; $4 attempts, then the error.
persistent () {
	mock=$2 opts=$3 attempts=$4
	test_expect_success "$1" '
		mock_in "$mock" &&
		exits 1 $opts in >out &&
		jq -r "select(.type==\"retry\") | .attempt" out >actual &&
		seq 1 $((attempts - 1)) >expect &&
		test_cmp expect actual &&
		has ".type==\"error\" and .status==503 and .attempts==$attempts and
		    .error.message==\"mock error 503\"" out &&
		jq -s -e ".[-1].type==\"error\"" out &&
		seen_times "$(jq -r .mock.id in)" $attempts
	'
}

persistent '--retries 2 with a persistent 503: 3 attempts, then an error' \
    '{"id":"p503","status":503}' '--retries 2 --backoff 10' 3
persistent 'the default is 3 retries: 4 attempts' \
    '{"id":"d503","status":503}' '--backoff 1' 4
persistent '--retries 0: one attempt, no retry record' \
    '{"id":"z503","status":503}' '--retries 0' 1

retried_once 'Retry-After: 1 waits a second' \
    '{"model":"m","messages":[],"mock":{"id":"ra1","fail_first":1,"status":429,"retry_after":"1"}}' \
    '.status==429 and .wait_ms==1000' true 900
retried_once 'retry-after-ms: 300 waits 300 ms' \
    '{"model":"m","messages":[],"mock":{"id":"ram","fail_first":1,"status":503,"retry_after_ms":300}}' \
    '.wait_ms==300' true 250
retried_once 'retry-after-ms wins over Retry-After' \
    '{"model":"m","messages":[],"mock":{"id":"both","fail_first":1,"status":503,"retry_after":"5","retry_after_ms":200}}' \
    '.wait_ms==200' true 0
when=$(LC_ALL=C date -u -R -d "@$(($(date +%s) + 2))" | sed "s/+0000\$/GMT/")
retried_once 'Retry-After as an HTTP date a couple of seconds ahead' \
    "{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"rad\",\"fail_first\":1,\"status\":503,\"retry_after\":\"$when\"}}" \
    '.wait_ms >= 900 and .wait_ms <= 3000' true 800
retried_once 'Retry-After as an HTTP date in the past: retried at once' \
    '{"model":"m","messages":[],"mock":{"id":"rap","fail_first":1,"status":503,"retry_after":"Wed, 21 Oct 2015 07:28:00 GMT"}}' \
    '.wait_ms >= 0 and .wait_ms <= 10' true 0

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

retried_once 'a reset before the headers is retried, status null' \
    '{"model":"m","messages":[{"role":"user","content":"after reset"}],"mock":{"id":"rst","fail_first":1,"reset":"before_headers"}}' \
    '.status==null and .attempt==1 and .error.type=="network_error"' \
    '.content=="after reset"' 0

test_expect_success 'a persistent reset ends in an error with status null' '
	mock_in "{\"id\":\"rst2\",\"reset\":\"before_headers\"}" &&
	exits 1 --retries 1 --backoff 10 in >out &&
	has ".type==\"error\" and .status==null and .attempts==2 and
	    .error.type==\"network_error\"" out &&
	seen_times rst2 2
'

retried_once 'a truncated non-streamed answer (close_after) is retried' \
    '{"model":"m","messages":[{"role":"user","content":"whole again"}],"mock":{"id":"trunc","fail_first":1,"close_after":10}}' \
    '.attempt==1 and .error.type=="network_error"' \
    '.content=="whole again"' 0
retried_once 'a stream cut short is retried; the terminal record is whole' \
    '{"model":"m","stream":true,"messages":[{"role":"user","content":"one two three four"}],"mock":{"id":"scut","fail_first":1,"close_after":3}}' \
    '.attempt==1 and .status==200 and .error.type=="network_error"' \
    '.content=="one two three four"' 0
retried_once 'a stream that ends without [DONE] is retried' \
    '{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}],"mock":{"id":"nodone","fail_first":1,"no_done":true}}' \
    '.attempt==1 and .status==200 and .error.type=="stream_error" and
    .error.message=="stream ended without [DONE]"' \
    '.content=="a b"' 0

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

# vman-api.md section 2: the server's own message, type and code.  The
# table: title | the mock (its answer's status and body) | what the
# error record, the only answer, must also satisfy (jq).
sed 's/ *| */	/; s/ *| */	/' >"$TMP/shapes" <<\EOF
OpenAI error shape: error.message, type, code | {"status":400,"body":{"error":{"message":"bad model (request id: 42)","type":"invalid_request_error","param":"","code":"model_not_found"}}} | .status==400 and .attempts==1 and .error.message=="bad model (request id: 42)" and .error.type=="invalid_request_error" and .error.code=="model_not_found" and .body.error.param==""
OpenAI error shape with a numeric code | {"status":400,"body":{"error":{"message":"numeric","type":"upstream_error","code":1234}}} | .error.message=="numeric" and .error.type=="upstream_error" and .error.code==1234
Midjourney error shape: description and numeric code | {"status":400,"body":{"code":4,"description":"prompt_is_required"}} | .status==400 and .error.message=="prompt_is_required" and .error.type=="http_error" and .error.code==4
Midjourney relay error shape: its type is kept | {"status":400,"body":{"description":"banned prompt x","type":"upstream_error","code":24}} | .error.message=="banned prompt x" and .error.type=="upstream_error" and .error.code==24
task error shape: message and string code | {"status":400,"body":{"code":"quota_not_enough","message":"user quota is not enough","data":null}} | .status==400 and .error.message=="user quota is not enough" and .error.type=="http_error" and .error.code=="quota_not_enough"
Stability error shape: errors[0] | {"status":400,"body":{"errors":["prompt: cannot be blank","seed: too big"],"name":"bad_request"}} | .status==400 and .error.message=="prompt: cannot be blank" and .error.code==null
BFL error shape: detail | {"status":400,"body":{"detail":"Invalid aspect ratio"}} | .status==400 and .error.message=="Invalid aspect ratio" and .error.type=="http_error" and .error.code==null
a JSON error body of no known shape is given whole | {"status":400,"body":{"oops":[1,2]}} | .status==400 and (.error.message | test("oops"))
a non-JSON (HTML) error body: its text is in the message | {"status":400,"content_type":"text/html","raw":"<html><body><h1>400 Bad Request</h1>nginx says no</body></html>"} | .status==400 and .attempts==1 and .error.type=="http_error" and (.error.message | test("^HTTP 400: ")) and (.error.message | contains("nginx says no"))
EOF
while IFS='	' read -r title mock cond <&3; do
	test_expect_success "$title" '
		mock_in "$mock" &&
		exits 1 in >out &&
		has ".type==\"error\" and $cond" out
	'
done 3<"$TMP/shapes"

retried_once 'a 502 HTML page is retried with its text in the retry record' \
    '{"model":"m","messages":[],"mock":{"id":"html502","fail_first":1,"status":502,"content_type":"text/html","raw":"<html>Bad Gateway from the proxy</html>"}}' \
    '.status==502 and
    (.error.message | contains("Bad Gateway from the proxy"))' true 0

test_done
