#!/bin/sh
# Input: the envelope and bare-body forms, line numbers, and every kind
# of malformed line, each ending in exactly one record for its line.
. "$(dirname "$0")/lib.sh"
start_mock

test_expect_success 'a bare body goes to the default endpoint' '
	echo "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}" >in &&
	"$VMANJL" in >out &&
	has ".type==\"response\" and
	    .line==1 and .custom_id==null and
	    .status==200 and .content==\"hi there\" and
	    .body.object==\"chat.completion\"" out
'

test_expect_success '-e sets the endpoint of bare bodies' '
	echo "{\"model\":\"m\",\"prompt\":\"say this\"}" >in &&
	"$VMANJL" -e /v1/completions in >out &&
	has ".type==\"response\" and
	    .body.object==\"text_completion\"
	    and .content==\"say this\"" out
'

test_expect_success 'an envelope names its url, custom_id and method' '
	cat >in <<-\EOF &&
	{"custom_id":"e1","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}
	{"custom_id":7,"url":"/v1/images/generations","body":{"prompt":"p","n":2}}
	EOF
	"$VMANJL" in >out &&
	has ".line==1 and
	    .custom_id==\"e1\" and
	    .body.object==\"list\"" out &&
	has ".line==2 and
	    .custom_id==7 and
	    (.body.data | length)==2" out
'

test_expect_success 'an absolute URL in the envelope is used as it is' '
	echo "{\"custom_id\":\"a\",\"url\":\"$VMAN_BASE_URL/v1/embeddings\",\"body\":{\"input\":\"x\"}}" >in &&
	"$VMANJL" --base-url http://127.0.0.1:9 in >out &&
	has ".type==\"response\" and
	    .body.object==\"list\"" out
'

test_expect_success 'a base URL ending in /v1 does not double it' '
	echo "{\"custom_id\":\"a\",\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"x\"}}" >in &&
	"$VMANJL" --base-url "$VMAN_BASE_URL/v1/" in >out &&
	has ".type==\"response\" and
	    .status==200" out
'

test_expect_success 'envelope headers reach the server and override -H' '
	echo "{\"url\":\"/v1/embeddings\",\"headers\":{\"X-Trace\":\"t1\",\"X-Both\":\"envelope\"},\"body\":{\"input\":\"x\"}}" >in &&
	"$VMANJL" -H "X-Both: option" -H "X-Only: option" in >out &&
	mock_stats >stats &&
	jq -e ".last_headers[\"x-trace\"]==\"t1\" and
	    .last_headers[\"x-both\"]==\"envelope\" and
	    .last_headers[\"x-only\"]==\"option\"" stats
'

test_expect_success 'the body is sent byte for byte as written' '
	printf "%s\n" "{\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"caf\\\\u00e9 \\\\\\\"q\\\\\\\"\",  \"z\":1.50e+2,\"a\":[1, 2 ,3], \"n\":-0.0}}" >in &&
	body=$(sed -e "s/^.*\"body\"://" -e "s/}\$//" in) &&
	"$VMANJL" in >out &&
	mock_stats >stats &&
	jq -e ".last_body_bytes==$(printf %s "$body" | wc -c)" stats
'

test_expect_success 'blank lines are skipped but counted' '
	printf "\n   \n{\"model\":\"m\",\"messages\":[]}\n\t\n{\"model\":\"m\",\"messages\":[]}\n" >in &&
	"$VMANJL" in >out 2>err &&
	terminals out >actual &&
	printf "3 response\n5 response\n" >expect &&
	test_cmp expect actual &&
	grep "2 requests" err
'

test_expect_success 'line numbers run on across input files and stdin' '
	echo "{\"model\":\"m\",\"messages\":[]}" >a &&
	printf "{\"model\":\"m\",\"messages\":[]}\n\n" >b &&
	echo "{\"model\":\"m\",\"messages\":[]}" | "$VMANJL" a - b >out &&
	terminals out >actual &&
	printf "1 response\n2 response\n3 response\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'CRLF line ends, a BOM and a last line without newline' '
	printf "\357\273\277{\"model\":\"m\",\"messages\":[]}\r\n{\"model\":\"m\",\"messages\":[]}" >in &&
	"$VMANJL" in >out &&
	terminals out >actual &&
	printf "1 response\n2 response\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'malformed lines: one precise error each, the rest runs' '
	ok="{\"model\":\"m\",\"messages\":[]}" &&
	{
		echo "$ok"
		cat <<-\EOF
		{not json
		[1,2]
		42
		"a string"
		EOF
		printf "{\"model\":\"\377\"}\n"
		printf "{\"a\":1}\000{}\n"
		cat <<-\EOF
		{"a":1} {"b":2}
		{"url":5,"body":{}}
		{"url":"/v1/x","method":[1],"body":{}}
		{"url":"/v1/x","body":[1]}
		{"url":"/v1/x","body":"text"}
		{"url":"/v1/x","headers":["a"],"body":{}}
		{"url":"/v1/x","headers":{"X-A":"b\r\nX-Evil: 1"},"body":{}}
		{"url":"/v1/x","headers":{"Bad Name":"b"},"body":{}}
		{"url":"//evil.example/v1","body":{}}
		{"url":"v1/relative","body":{}}
		{"url":"/v1/a b","body":{}}
		{"custom_id":"c","url":"/v1/x","bogus":{},"body":{}}
		{"custom_id":[1],"url":"/v1/x","body":{}}
		EOF
		echo "$ok"
	} >in &&
	test $(wc -l <in) -eq 21 &&
	"$VMANJL" in >out; test $? -eq 1 &&
	terminals out >actual &&
	{ echo "1 response"; seq 2 20 | sed "s/$/ error/"; echo "21 response"; } >expect &&
	test_cmp expect actual &&
	jq -r "select(.type==\"error\") | \"\(.line) \(.error.message)\"" out >msgs &&
	grep "^2 .*invalid JSON at column" msgs &&
	grep "^3 .*not a JSON object: it is an array" msgs &&
	grep "^4 .*not a JSON object: it is a number" msgs &&
	grep "^5 .*not a JSON object: it is a string" msgs &&
	grep "^6 .*invalid JSON" msgs &&
	grep "^7 .*invalid JSON" msgs &&
	grep "^8 .*invalid JSON" msgs &&
	grep "^9 .*url.*wrong type" msgs &&
	grep "^10 .*method" msgs &&
	grep "^11 .*body.*wrong type" msgs &&
	grep "^12 .*body.*wrong type" msgs &&
	grep "^13 .*headers" msgs &&
	grep "^14 .*header value" msgs &&
	grep "^15 .*header name" msgs &&
	grep "^16 .*//" msgs &&
	grep "^17 .*must be a path" msgs &&
	grep "^18 .*space or control" msgs &&
	grep "^19 .*unknown envelope member \"bogus\"" msgs &&
	has ".line==19 and .custom_id==\"c\"" out &&
	grep "^20 .*custom_id" msgs &&
	all ".type==\"error\"" ".status==null and .attempts==0 and
	    .error.type==\"invalid_request\"" out &&
	mock_stats >stats && jq -e ".requests >= 2" stats
'

test_expect_success 'a 50 MB line is sent whole' '
	awk "BEGIN { printf \"{\\\"model\\\":\\\"m\\\",\\\"input\\\":\\\"\";
	    for (i = 0; i < 50 * 1024; i++) printf \"%1024s\", \"\";
	    printf \"\\\"}\n\" }" >in &&
	test $(wc -c <in) -gt 50000000 &&
	"$VMANJL" -e /v1/embeddings in >out &&
	has ".type==\"response\" and
	    .status==200" out &&
	mock_stats >stats &&
	jq -e ".last_body_bytes==$(($(wc -c <in) - 1))" stats
'

test_expect_success 'input is read as it arrives, not slurped' '
	{
		echo "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"first\"}]}"
		sleep 2
		echo "{\"model\":\"m\",\"messages\":[]}"
	} | "$VMANJL" >out &
	pid=$! &&
	sleep 1 &&
	has ".type==\"response\" and
	    .content==\"first\"" out &&
	wait $pid
'

test_done
