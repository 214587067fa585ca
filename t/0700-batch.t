#!/bin/sh
# --format batch: the OpenAI Batch API output format, one record per
# non-blank input line, HTTP errors inside "response", other failures in
# "error", no delta, event or retry records.
. "$(dirname "$0")/lib.sh"
start_mock

test_expect_success 'a success: {id, custom_id, response, error} exactly' '
	cat >in <<-\EOF &&
	{"custom_id":"q1","body":{"model":"m","messages":[{"role":"user","content":"hello big world"}]}}
	EOF
	"$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 1 &&
	jq -e "keys_unsorted==[\"id\",\"custom_id\",\"response\",\"error\"] and
	    (.response | keys)==[\"body\",\"request_id\",\"status_code\"]" out &&
	has ".id==\"vmanjl_req_1\" and .custom_id==\"q1\" and .error==null and
	    .response.status_code==200 and
	    (.response.request_id | test(\"^[0-9]{24}\$\")) and
	    .response.body.object==\"chat.completion\" and
	    .response.body.choices[0].message.content==\"hello big world\" and
	    .response.body.usage.total_tokens==6" out
'

test_expect_success 'request_id is the X-Request-Id or Request-Id header' '
	cat >in <<-\EOF &&
	{"custom_id":"a","body":{"model":"m","messages":[],"mock":{"headers":{"X-Request-Id":"req_abc"}}}}
	{"custom_id":"b","body":{"model":"m","messages":[],"mock":{"headers":{"Request-Id":"req_def"}}}}
	EOF
	"$VMANJL" -q -k --format batch in >out &&
	has ".custom_id==\"a\" and .response.request_id==\"req_abc\"" out &&
	has ".custom_id==\"b\" and .response.request_id==\"req_def\"" out
'

test_expect_success 'a streamed request: no deltas, the assembled body' '
	cat >in <<-\EOF &&
	{"custom_id":"s","body":{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}}
	EOF
	"$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 1 &&
	jq -e "keys_unsorted==[\"id\",\"custom_id\",\"response\",\"error\"]" out &&
	has ".error==null and .response.status_code==200 and
	    .response.body.object==\"chat.completion\" and
	    .response.body.choices[0].message.content==\"one two three\" and
	    .response.body.choices[0].finish_reason==\"stop\" and
	    .response.body.usage.completion_tokens==3" out
'

test_expect_success 'an HTTP error is inside response, error null' '
	cat >in <<-\EOF &&
	{"custom_id":"h","body":{"model":"m","messages":[],"mock":{"status":400}}}
	EOF
	test_must_fail "$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 1 &&
	has ".id==\"vmanjl_req_1\" and .custom_id==\"h\" and .error==null and
	    .response.status_code==400 and
	    .response.body.error.message==\"mock error 400\"" out
'

test_expect_success 'no HTTP answer: response null, error {code, message}' '
	echo "{\"custom_id\":\"x\",\"body\":{\"model\":\"m\",\"messages\":[]}}" >in &&
	test_must_fail "$VMANJL" -q --format batch --base-url http://127.0.0.1:1 \
	    --retries 0 in >out &&
	test $(wc -l <out) -eq 1 &&
	jq -e "keys_unsorted==[\"id\",\"custom_id\",\"response\",\"error\"] and
	    (.error | keys)==[\"code\",\"message\"]" out &&
	has ".id==\"vmanjl_req_1\" and .custom_id==\"x\" and .response==null and
	    .error.code==\"network_error\" and
	    (.error.message | type==\"string\" and length > 0)" out
'

test_expect_success 'a bad input line: response null, error names the line' '
	cat >in <<-\EOF &&
	{not json
	{"custom_id":"u","url":"/v1/x","bogus":{},"body":{}}
	EOF
	test_must_fail "$VMANJL" -q -k --format batch in >out &&
	test $(wc -l <out) -eq 2 &&
	has ".id==\"vmanjl_req_1\" and .custom_id==null and .response==null and
	    .error.code==\"invalid_request\" and
	    (.error.message | test(\"line 1: invalid JSON\"))" out &&
	has ".id==\"vmanjl_req_2\" and .custom_id==\"u\" and .response==null and
	    .error.code==\"invalid_request\"" out
'

test_expect_success 'an error event: its code and message in error' '
	cat >in <<-\EOF &&
	{"custom_id":"ev","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}],"mock":{"error_event":2}}}
	EOF
	test_must_fail "$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 1 &&
	has ".error.code==\"mock_stream_error\" and
	    .error.message==\"mock stream error\"" out
'

test_expect_success 'a failure after a 2xx answer began does not read as success' '
	cat >in <<-\EOF &&
	{"custom_id":"nd","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}],"mock":{"no_done":true}}}
	{"custom_id":"nj","body":{"model":"m","messages":[],"mock":{"raw":"{oops"}}}
	EOF
	test_must_fail "$VMANJL" -q -k --retries 0 --format batch in >out &&
	test $(wc -l <out) -eq 2 &&
	all "true" ".error != null" out
'

test_expect_success 'retries write no retry records' '
	cat >in <<-\EOF &&
	{"custom_id":"r","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}],"mock":{"id":"rr","fail_first":2,"status":503}}}
	EOF
	"$VMANJL" -q --format batch --retries 2 --backoff 1 in >out &&
	test $(wc -l <out) -eq 1 &&
	has ".error==null and .response.status_code==200 and
	    .response.body.choices[0].message.content==\"a b\"" out &&
	test $(seen rr) -eq 3
'

test_expect_success 'one record per non-blank line, ids by line number' '
	cat >in <<-\EOF &&
	{"custom_id":"l1","body":{"model":"m","messages":[]}}

	{"custom_id":"l3","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"x y"}],"mock":{"event_delay_ms":30}}}
	{"custom_id":"l4","body":{"model":"m","messages":[],"mock":{"status":404}}}
	[1]
	{"custom_id":"l6","url":"/v1/embeddings","body":{"input":"x"}}

	{"custom_id":"l8","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"x y"}],"mock":{"bad_data":1}}}
	{"custom_id":"l9","url":"/v1/images/generations","body":{"prompt":"p"}}
	EOF
	test_must_fail "$VMANJL" -q -k -j 4 --format batch in >out &&
	jq -r .id out >actual &&
	for i in 1 3 4 5 6 8 9; do echo "vmanjl_req_$i" || return 1; done >expect &&
	test_cmp expect actual &&
	all "true" "keys_unsorted==[\"id\",\"custom_id\",\"response\",\"error\"]" out &&
	all "true" "(.response==null) != (.error==null)" out &&
	has ".custom_id==\"l4\" and .response.status_code==404 and .error==null" out &&
	has ".custom_id==\"l6\" and .response.body.object==\"list\"" out &&
	has ".custom_id==\"l8\" and .response==null and
	    .error.code==\"stream_error\"" out &&
	has ".custom_id==\"l9\" and (.response.body.data | length)==1" out &&
	test_must_fail "$VMANJL" -q -j 4 --format batch in >out2 &&
	jq -r .id out2 | sort >actual &&
	sort expect >expect.sorted &&
	test_cmp expect.sorted actual
'

test_expect_success 'exit status 0 when every request succeeded' '
	cat >in <<-\EOF &&
	{"custom_id":"a","body":{"model":"m","messages":[]}}
	{"custom_id":"b","body":{"model":"m","stream":true,"messages":[]}}
	EOF
	"$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 2 &&
	all "true" ".error==null and .response.status_code==200" out
'

test_done
