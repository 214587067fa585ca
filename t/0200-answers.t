#!/bin/sh
# Non-streamed answers: the response record's members for each endpoint,
# the body passed through compacted and byte-exact, and the 2xx answers
# that are not a usable JSON body (invalid JSON, text, empty, too large,
# invalid UTF-8).
. "$(dirname "$0")/lib.sh"
start_mock

# POST file $2 to path $1 on the server; the answer body, and a newline.
server () {
	curl -s -H "Content-Type: application/json" --data-binary "@$2" \
	    "$VMAN_BASE_URL$1" && echo
}

# The one output line must be valid, complete JSON.
one_line () {
	test $(wc -l <"$1") -eq 1 && jq -c . "$1" >/dev/null
}

# The server's answer to body file $2 on path $1 into file server, then
# vmanjl's to input file $3 into out, each from a fresh server (so that
# the ids agree); out must be one line.
served () {
	mock_reset && server "$1" "$2" >server &&
	mock_reset && "$VMANJL" -q "$3" >out &&
	one_line out
}

# The body in the one record of file out, as vmanjl wrote it: what
# stands between "body": and the member $1 after it, whose value and
# the rest of the line match $2 (default: anything).
body_of () {
	sed -n "s/^.*\"status\":200,\"body\":\(.*\),\"$1\":${2-.*}\$/\1/p" out
}

# That body is byte for byte the answer in file server.
as_served () {
	body_of "$@" >actual &&
	test_cmp server actual
}

test_expect_success 'a chat answer: every member of the response record' '
	cat >in <<-\EOF &&
	{"custom_id":"c1","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"hello big world"}]}}
	EOF
	jq -c .body in >body &&
	served /v1/chat/completions body in &&
	has ".type==\"response\" and .line==1 and .custom_id==\"c1\" and
	    .status==200 and .attempts==1 and
	    .content==\"hello big world\" and .finish_reason==\"stop\" and
	    .usage=={\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6} and
	    .usage==.body.usage and
	    .body.object==\"chat.completion\" and
	    .body.choices[0].message.content==\"hello big world\"" out &&
	jq -e "keys_unsorted[0:3]==[\"type\",\"line\",\"custom_id\"]" out &&
	as_served content
'

test_expect_success 'max_tokens cuts the answer: finish_reason length' '
	cat >in <<-\EOF &&
	{"model":"m","max_tokens":2,"messages":[{"role":"user","content":"hello big world"}]}
	{"model":"m","max_completion_tokens":1,"messages":[{"role":"user","content":"hello big world"}]}
	EOF
	"$VMANJL" -q -k in >out &&
	has ".line==1 and .type==\"response\" and .content==\"hello big\" and
	    .finish_reason==\"length\" and .usage.completion_tokens==2 and
	    .body.choices[0].finish_reason==\"length\"" out &&
	has ".line==2 and .type==\"response\" and .content==\"hello\" and
	    .finish_reason==\"length\"" out
'

test_expect_success 'a tool call answer: content null, body passed through' '
	cat >body <<-\EOF &&
	{"model":"m","tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}],"messages":[{"role":"user","content":"hello big world"}]}
	EOF
	served /v1/chat/completions body body &&
	jq -e ".choices[0].message.content==null" server &&
	has ".type==\"response\" and .content==null and
	    .finish_reason==\"tool_calls\" and .attempts==1 and
	    .body.choices[0].message.tool_calls==[{\"id\":\"call_mock_1\",
	      \"type\":\"function\",\"function\":{\"name\":\"lookup\",
	      \"arguments\":\"{\\\"text\\\":\\\"hello big world\\\"}\"}}]" out &&
	as_served content "null,.*"
'

test_expect_success 'a completion answer: content is choices[0].text' '
	echo "{\"custom_id\":\"p\",\"url\":\"/v1/completions\",\"body\":{\"model\":\"m\",\"prompt\":\"say this now\"}}" >in &&
	"$VMANJL" -q in >out &&
	one_line out &&
	has ".type==\"response\" and .custom_id==\"p\" and
	    .body.object==\"text_completion\" and
	    .body.choices[0].text==\"say this now\" and
	    .content==\"say this now\" and .finish_reason==\"stop\" and
	    .usage==.body.usage and .usage.completion_tokens==3" out
'

test_expect_success 'embeddings: usage but no content or finish_reason' '
	echo "{\"custom_id\":\"e\",\"url\":\"/v1/embeddings\",\"body\":{\"model\":\"m\",\"input\":[\"one\",\"two\"]}}" >in &&
	jq -c .body in >body &&
	served /v1/embeddings body in &&
	has ".type==\"response\" and .status==200 and
	    (has(\"content\") | not) and (has(\"finish_reason\") | not) and
	    .usage==.body.usage and .usage.prompt_tokens==2 and
	    (.body.data | length)==2 and
	    (.body.data[0].embedding | length)==8" out &&
	as_served usage
'

test_expect_success 'images: no content, no usage' '
	echo "{\"url\":\"/v1/images/generations\",\"body\":{\"prompt\":\"a cat\",\"n\":3}}" >in &&
	"$VMANJL" -q in >out &&
	one_line out &&
	has ".type==\"response\" and .status==200 and .attempts==1 and
	    (has(\"content\") | not) and (has(\"usage\") | not) and
	    (has(\"finish_reason\") | not) and
	    (.body.data | length)==3 and
	    .body.data[2].revised_prompt==\"a cat\"" out
'

test_expect_success 'n > 1: every choice in the body, content from choice 0' '
	echo "{\"model\":\"m\",\"n\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x y\"}]}" >in &&
	"$VMANJL" -q in >out &&
	one_line out &&
	has ".type==\"response\" and .content==\"x y\" and
	    [.body.choices[].message.content]==[\"x y\",\"[1] x y\",\"[2] x y\"] and
	    [.body.choices[].index]==[0,1,2]" out
'

test_expect_success 'a 2xx status other than 200 is a response with that status' '
	echo "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"ok\"}],\"mock\":{\"status\":201}}" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .status==201 and .content==\"ok\"" out
'

test_expect_success 'a pretty-printed body comes out compact, numbers as written' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"raw":"{\n  \"a\" : 1.50e+2,\n\t\"b\": [ 1 , -0.0, 1E5 , 12345678901234567890123, 0.100 ],\r\n \"s\": \"x y\" , \"n\" : null, \"t\" : true,\n \"o\" : { } }\n"}}
	EOF
	"$VMANJL" -q in >out &&
	one_line out &&
	has ".type==\"response\" and .status==200 and .attempts==1" out &&
	body_of attempts "1}" >actual &&
	printf "%s\n" "{\"a\":1.50e+2,\"b\":[1,-0.0,1E5,12345678901234567890123,0.100],\"s\":\"x y\",\"n\":null,\"t\":true,\"o\":{}}" >expect &&
	test_cmp expect actual
'

test_expect_success 'escapes in the body keep their values' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"raw":"{\"u\":\"a\\u0000b\\u001fc\\ud83d\\ude00\\/\\t\\n\\\"\\\\\",\"e\":\"caf\\u00e9\"}"}}
	EOF
	"$VMANJL" -q in >out &&
	one_line out &&
	has ".type==\"response\" and
	    .body.u==\"a\u0000b\u001fc\ud83d\ude00/\t\n\\\"\\\\\" and
	    .body.e==\"caf\u00e9\"" out
'

test_expect_success 'a 2xx body that is not JSON: parse_error, not retried' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"id":"nj","raw":"{\"a\": 1,"}}
	EOF
	test_must_fail "$VMANJL" -q --retries 3 --backoff 1 in >out &&
	one_line out &&
	has ".type==\"error\" and .line==1 and .status==200 and
	    .attempts==1 and .error.type==\"parse_error\" and
	    (.error.message | test(\"invalid JSON\"))" out &&
	test $(seen nj) -eq 1
'

test_expect_success 'a truncated JSON answer: the column is where it broke off' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"raw":"{\"a\": [1, 2, 3],"}}
	EOF
	test_must_fail "$VMANJL" -q in >out &&
	jq -r .error.message out >msg &&
	col=$(sed -n "s/^.*at column \([0-9]*\).*\$/\1/p" msg) &&
	test -n "$col" &&
	{ test "$col" -ge 17 ||
	    { echo "column $col of a 17-byte answer: $(cat msg)"; false; }; }
'

test_expect_success 'other bodies that are not JSON: parse_error each' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"raw":"{} {}"}}
	{"model":"m","messages":[],"mock":{"raw":"<html>","content_type":"application/json"}}
	{"model":"m","messages":[],"mock":{"raw":"not json"}}
	EOF
	test_must_fail "$VMANJL" -q in >out &&
	test $(wc -l <out) -eq 3 &&
	all "true" ".type==\"error\" and .error.type==\"parse_error\" and
	    .status==200 and .attempts==1" out
'

test_expect_success 'a text/* 2xx body becomes a JSON string' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[],"mock":{"raw":"hello \"there\"\nline two","content_type":"text/plain"}}
	{"model":"m","messages":[],"mock":{"raw":"WEBVTT\n\n00:00.000 --> 00:01.000\nhi","content_type":"text/vtt"}}
	EOF
	"$VMANJL" -q -k in >out &&
	test $(wc -l <out) -eq 2 &&
	has ".line==1 and .type==\"response\" and .status==200 and
	    .body==\"hello \\\"there\\\"\nline two\"" out &&
	has ".line==2 and .type==\"response\" and
	    (.body | startswith(\"WEBVTT\"))" out
'

test_expect_success 'a 2xx text/html page is an html_answer error, sent once' '
	cat >in <<-\EOF &&
	{"custom_id":"t","body":{"model":"m","messages":[],"mock":{"id":"html1","raw":"<!doctype html><html><head><title>New API</title></head><body>dashboard</body></html>","content_type":"text/html; charset=utf-8"}}}
	{"custom_id":"u","body":{"model":"m","messages":[],"mock":{"id":"html2","raw":"<p>no title, just\n  a   page</p>","content_type":"text/html"}}}
	EOF
	test_must_fail "$VMANJL" -q -k --cache c in >out &&
	test $(wc -l <out) -eq 2 &&
	has ".custom_id==\"t\" and .type==\"error\" and .status==200 and
	    .error.type==\"html_answer\" and .attempts==1 and
	    (.error.message | test(\"text/html; charset=utf-8\")) and
	    (.error.message | endswith(\": New API\"))" out &&
	has ".custom_id==\"u\" and .error.type==\"html_answer\" and
	    (.error.message | endswith(\": <p>no title, just a page</p>\"))" out &&
	test $(seen html1) -eq 1 &&
	test $(seen html2) -eq 1 &&
	test ! -d c || test -z "$(find c -type f)"
'

test_expect_success 'an empty 2xx body gives body null' '
	echo "{\"model\":\"m\",\"messages\":[],\"mock\":{\"raw\":\"\"}}" >in &&
	"$VMANJL" -q in >out &&
	one_line out &&
	has ".type==\"response\" and .status==200 and .body==null and
	    .attempts==1" out
'

test_expect_success 'an answer over --max-response-size: response_too_large' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"a b"}],"mock":{"id":"big","size":100000}}
	{"model":"m","messages":[{"role":"user","content":"a b"}],"mock":{"size":5000}}
	EOF
	test_must_fail "$VMANJL" -q -k --retries 2 --backoff 1 \
	    --max-response-size 10k in >out &&
	test $(wc -l <out) -eq 2 &&
	has ".line==1 and .type==\"error\" and .status==200 and
	    .attempts==1 and .error.type==\"response_too_large\"" out &&
	has ".line==2 and .type==\"response\" and
	    (.content | length) > 4000" out &&
	test $(seen big) -eq 1
'

test_expect_success '--max-response-size takes k, M and G suffixes' '
	echo "{\"model\":\"m\",\"messages\":[],\"mock\":{\"size\":3000}}" >in &&
	test_must_fail "$VMANJL" -q --max-response-size 2K in >out &&
	has ".error.type==\"response_too_large\"" out &&
	"$VMANJL" -q --max-response-size 1m in >out &&
	has ".type==\"response\"" out &&
	"$VMANJL" -q --max-response-size 1G in >out &&
	has ".type==\"response\"" out
'

test_expect_success 'invalid UTF-8 in an answer: one parse_error, valid output' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"a b"}],"mock":{"id":"u8","invalid_utf8":true}}
	{"model":"m","messages":[{"role":"user","content":"fine"}]}
	EOF
	test_must_fail "$VMANJL" -q -k --retries 2 --backoff 1 in >out &&
	test $(wc -l <out) -eq 2 &&
	iconv -f UTF-8 -t UTF-8 out >/dev/null &&
	jq -c . out >/dev/null &&
	has ".line==1 and .type==\"error\" and .status==200 and
	    .attempts==1 and .error.type==\"parse_error\"" out &&
	has ".line==2 and .type==\"response\" and .content==\"fine\"" out &&
	test $(seen u8) -eq 1
'

test_expect_success 'the summary adds up the usage of every answer' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"a b c"}]}
	{"custom_id":"e","url":"/v1/embeddings","body":{"input":["x","y"]}}
	EOF
	"$VMANJL" in >out 2>err &&
	grep "2 requests, 2 ok, 0 errors, 0 retries, 5 prompt + 3 completion tokens, " err
'

test_expect_success 'answers without usage: their tokens are unknown, not 0' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"a b c"}]}
	{"custom_id":"i1","url":"/v1/images/generations","body":{"prompt":"a cat"}}
	{"custom_id":"i2","url":"/v1/images/generations","body":{"prompt":"a hat"}}
	EOF
	"$VMANJL" in >out 2>err &&
	grep "3 ok, .* 3 prompt + 3 completion tokens (2 answers without usage), " err &&
	head -n 1 in >one &&
	"$VMANJL" one >out 2>err &&
	grep "3 completion tokens, " err
'

test_done
