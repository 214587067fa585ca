#!/bin/sh
# The OpenAI Responses API (POST /v1/responses): delta records in chat's
# shape from its named events, the response object of response.completed
# as the body, content, finish_reason and usage in the chat vocabulary
# (streamed or not), its ends and faults and which of them are retried,
# and everything around a stream: --events, the batch format, the cache,
# --resume, the summary.
. "$(dirname "$0")/lib.sh"
start_mock

# An envelope for /v1/responses: custom_id $1, body members $2.
resp () {
	printf '{"custom_id":"%s","url":"/v1/responses","body":{"model":"m",%s}}\n' "$1" "$2"
}

# The joined $2 (content, reasoning) of the delta records of file $1.
joined () {
	jq -j "select(.type==\"delta\") | .$2 // empty" "$1"
}

# The data of the events named $2 in the raw stream $1, one a line.
events () {
	awk -v e="event: $2" '$0 == e { getline; sub(/^data: /, ""); print }' "$1"
}

test_expect_success 'text deltas in order, index the output index' '
	resp s1 "\"stream\":true,\"input\":\"one two three\"" >in &&
	run_in ok "delta delta delta response " &&
	word_deltas out s1 one two three &&
	has ".type==\"response\" and .status==200 and .attempts==1 and
	    .content==\"one two three\" and .finish_reason==\"stop\" and
	    .usage=={\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6} and
	    .body.object==\"response\" and .body.status==\"completed\"" out
'

test_expect_success 'the body is the response of response.completed, as sent' '
	printf "%s\n" "{\"model\":\"m\",\"stream\":true,\"input\":\"same words\"}" >body &&
	curl -s -N --data-binary @body "$VMAN_BASE_URL/v1/responses" >sse &&
	events sse response.completed | jq -c .response >expect &&
	test $(wc -l <expect) -eq 1 &&
	"$VMANJL" -q -e /v1/responses body >out &&
	jq -c "select(.type==\"response\") | .body" out >actual &&
	sed "s/resp_mock_[0-9]*/ID/" expect >expect.id &&
	sed "s/resp_mock_[0-9]*/ID/" actual >actual.id &&
	test_cmp expect.id actual.id
'

test_expect_success 'not streamed: the same body and top-level fields' '
	resp p "\"input\":\"same words\"" >plain &&
	resp p "\"stream\":true,\"input\":\"same words\"" >streamed &&
	"$VMANJL" -q plain >out.plain &&
	"$VMANJL" -q streamed >out.stream &&
	test "$(record_types out.plain)" = "response " &&
	for f in out.plain out.stream; do
		jq -S -c "select(.type==\"response\") |
		    {content, finish_reason, usage, body: (.body | del(.id))}" \
		    $f >$f.essence || return 1
	done &&
	test_cmp out.plain.essence out.stream.essence &&
	has ".content==\"same words\" and .finish_reason==\"stop\" and
	    .usage.prompt_tokens==2 and .usage.completion_tokens==2 and
	    .usage.total_tokens==4" out.plain
'

test_expect_success 'input items: the last user message is the echo' '
	resp i "\"input\":[{\"role\":\"user\",\"content\":\"first\"},{\"role\":\"assistant\",\"content\":\"x\"},{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"last one\"}]}]" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .content==\"last one\" and
	    .usage.prompt_tokens==4" out
'

test_expect_success 'a reasoning model: summary deltas as reasoning, content apart' '
	printf "%s\n" "{\"url\":\"/v1/responses\",\"body\":{\"model\":\"a-reasoner\",\"stream\":true,\"input\":\"deep thought\"}}" >in &&
	"$VMANJL" -q in >out &&
	test "$(joined out reasoning)" = "think: deep thought" &&
	test "$(joined out content)" = "deep thought" &&
	all ".type==\"delta\"" "has(\"reasoning\") != has(\"content\")" out &&
	all ".type==\"delta\" and has(\"reasoning\")" ".index==0" out &&
	all ".type==\"delta\" and has(\"content\")" ".index==1" out &&
	has ".type==\"response\" and .content==\"deep thought\" and
	    .body.output[0].type==\"reasoning\" and
	    .usage.completion_tokens==5" out
'

test_expect_success 'a reasoning_text delta is reasoning too' '
	cat >sse.body <<-\EOF &&
	event: response.reasoning_text.delta
	data: {"type":"response.reasoning_text.delta","output_index":0,"content_index":0,"delta":"hmm"}

	event: response.completed
	data: {"type":"response.completed","response":{"object":"response","status":"completed","output":[]}}

	EOF
	raw_stream /v1/responses sse.body >in &&
	run_in ok "delta response " &&
	has ".type==\"delta\" and .reasoning==\"hmm\" and .index==0" out &&
	has ".type==\"response\" and .content==\"\" and .finish_reason==\"stop\"" out
'

test_expect_success 'content: the output_text parts of every message, joined' '
	cat >answer <<-\EOF &&
	{"object":"response","status":"completed","output":[
	 {"type":"reasoning","summary":[{"type":"summary_text","text":"no"}]},
	 {"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
	 {"type":"message","content":[{"type":"output_text","text":"one "},
	  {"type":"refusal","refusal":"no"},{"type":"output_text","text":"two "}]},
	 {"type":"message","content":[{"type":"output_text","text":"three"}]}],
	 "usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}
	EOF
	jq -c -n --slurpfile a answer \
	    "{url:\"/v1/responses\",body:{mock:{body:\$a[0]}}}" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .content==\"one two three\" and
	    .finish_reason==\"tool_calls\" and
	    .usage=={\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}" out &&
	jq -c -n --slurpfile a answer "{type:\"response.completed\",response:\$a[0]}" >data &&
	printf "event: response.completed\ndata: %s\n\n" "$(cat data)" >sse.body &&
	raw_stream /v1/responses sse.body >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .content==\"one two three\" and
	    .finish_reason==\"tool_calls\"" out &&
	jq -c "select(.type==\"response\") | .body" out >actual &&
	jq -c . answer >expect &&
	test_cmp expect actual
'

test_expect_success 'a function call: chat tool_calls fragments, id and name first' '
	resp t "\"stream\":true,\"tools\":[{\"type\":\"function\",\"name\":\"find\",\"parameters\":{}}],\"input\":\"where is my long lost hat\"" >in &&
	jq -c .body in >body &&
	curl -s -N --data-binary @body "$VMAN_BASE_URL/v1/responses" >sse &&
	events sse response.function_call_arguments.delta | jq -r .delta >frags &&
	test $(wc -l <frags) -gt 3 &&
	"$VMANJL" -q in >out &&
	jq -c "select(.type==\"delta\") | .tool_calls" out >tc &&
	test $(wc -l <tc) -eq $(wc -l <frags) &&
	head -n 1 tc >first &&
	jq -r ".[0].function.arguments" first >a0 &&
	sed -n 1p frags >f0 &&
	test_cmp f0 a0 &&
	jq -e ".[0] | .index==0 and .id==\"call_mock_1\" and .type==\"function\" and
	    .function.name==\"find\"" first &&
	sed 1d tc >rest &&
	jq -e -s "all(.[]; length==1 and (.[0] | keys)==[\"function\",\"index\"] and
	    (.[0].function | keys)==[\"arguments\"] and .[0].index==0)" rest &&
	jq -j ".[0].function.arguments" tc >args &&
	all ".type==\"delta\"" ".index==0 and (has(\"content\") | not)" out &&
	has ".type==\"response\" and .finish_reason==\"tool_calls\" and
	    .content==\"\" and .body.output[0].type==\"function_call\" and
	    .body.output[0].arguments==\"$(sed "s/\"/\\\\\"/g" args)\"" out &&
	test "$(cat args)" = "{\"text\":\"where is my long lost hat\"}"
'

test_expect_success 'not streamed, a function call: finish_reason tool_calls' '
	resp t "\"tools\":[{\"type\":\"function\",\"name\":\"find\"}],\"input\":\"a b\"" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .finish_reason==\"tool_calls\" and
	    .content==\"\" and .usage.completion_tokens==2" out
'

test_expect_success 'response.incomplete for max_output_tokens: length' '
	resp l1 "\"stream\":true,\"max_output_tokens\":2,\"input\":\"a b c d\"" >in &&
	resp l2 "\"max_output_tokens\":2,\"input\":\"a b c d\"" >>in &&
	"$VMANJL" -q -k in >out &&
	test "$(joined out content)" = "a b" &&
	has ".custom_id==\"l1\" and .type==\"response\" and .content==\"a b\" and
	    .finish_reason==\"length\" and .body.status==\"incomplete\" and
	    .body.incomplete_details.reason==\"max_output_tokens\"" out &&
	has ".custom_id==\"l2\" and .type==\"response\" and .content==\"a b\" and
	    .finish_reason==\"length\"" out
'

test_expect_success 'response.incomplete for content_filter: content_filter' '
	resp cf "\"stream\":true,\"input\":\"a b\",\"mock\":{\"incomplete\":\"content_filter\"}" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .finish_reason==\"content_filter\" and
	    .body.incomplete_details.reason==\"content_filter\" and
	    .attempts==1" out
'

test_expect_success 'response.failed, an error event: an error with its message, not retried' '
	while IFS="|" read -r cid id input mock types message code; do
		resp $cid "\"stream\":true,\"input\":\"$input\",\"mock\":{\"id\":\"$id\",$mock}" >in &&
		run_in fail "$types" --retries 2 --backoff 1 &&
		has ".type==\"error\" and .attempts==1 and
		    .error.message==\"$message\" and .error.code==\"$code\"" out &&
		test $(seen $id) -eq 1 || return 1
	done <<-\EOF
	f|rf|a b|"failed":true|delta delta error |mock: response failed|server_error
	e|ee|a b c|"error_event":5|delta error |mock stream error|mock_stream_error
	EOF
'

test_expect_success 'no terminal event: retried, attempts = retries+1' '
	resp nd "\"stream\":true,\"input\":\"a b\",\"mock\":{\"id\":\"nd\",\"no_done\":true}" >in &&
	run_in fail "delta delta retry delta delta error " --retries 1 --backoff 1 &&
	has ".type==\"error\" and .attempts==2 and .error.type==\"stream_error\" and
	    .error.message==\"stream ended without response.completed\"" out &&
	test $(seen nd) -eq 2
'

test_expect_success 'cut before the terminal event once: the retry answers' '
	resp nd1 "\"stream\":true,\"input\":\"a b\",\"mock\":{\"id\":\"nd1\",\"fail_first\":1,\"no_done\":true}" >in &&
	resp ca "\"stream\":true,\"input\":\"a b c\",\"mock\":{\"id\":\"ca\",\"fail_first\":1,\"close_after\":6}" >>in &&
	"$VMANJL" -q -k --retries 1 --backoff 1 in >out &&
	has ".custom_id==\"nd1\" and .type==\"response\" and .attempts==2 and
	    .content==\"a b\"" out &&
	has ".custom_id==\"ca\" and .type==\"response\" and .attempts==2 and
	    .content==\"a b c\"" out &&
	test $(count ".type==\"retry\"" out) -eq 2 &&
	test $(seen nd1) -eq 2 && test $(seen ca) -eq 2
'

test_expect_success 'a complete stream cut after its end is not sent again' '
	# "a b": created, in_progress, item and part added, 2 deltas, text,
	# part and item done, completed: the cut comes after event 10.
	resp cut "\"stream\":true,\"input\":\"a b\",\"mock\":{\"id\":\"cut\",\"close_after\":10}" >in &&
	run_in ok "delta delta response " --retries 2 --backoff 1 &&
	has ".type==\"response\" and .attempts==1 and .content==\"a b\"" out &&
	test $(seen cut) -eq 1
'

test_expect_success 'malformed data: not retried' '
	resp bd "\"stream\":true,\"input\":\"a b\",\"mock\":{\"id\":\"bd\",\"bad_data\":3}" >in &&
	run_in fail "" --retries 2 --backoff 1 &&
	has ".type==\"error\" and
	    (.error.message | startswith(\"malformed data line in stream\"))" out &&
	test $(seen bd) -eq 1
'

test_expect_success '--events: every event as a record, no deltas' '
	resp ev "\"stream\":true,\"input\":\"a b\"" >in &&
	"$VMANJL" -q --events in >out &&
	test $(count ".type==\"delta\"" out) -eq 0 &&
	test $(count ".type==\"event\"" out) -eq 10 &&
	has ".type==\"event\" and .event==\"response.output_text.delta\" and
	    (.data | fromjson | .delta)==\" b\"" out &&
	has ".type==\"event\" and .event==\"response.completed\"" out &&
	has ".type==\"response\" and .events==10" out
'

test_expect_success '--format batch: the response object as the body' '
	resp b1 "\"stream\":true,\"input\":\"a b\"" >in &&
	"$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 1 &&
	has ".custom_id==\"b1\" and .response.status_code==200 and
	    .response.body.object==\"response\" and
	    .response.body.output[0].content[0].text==\"a b\" and
	    .error==null" out
'

test_expect_success 'the cache replays a stream byte for byte' '
	resp c1 "\"stream\":true,\"input\":\"cached words here\"" >in &&
	resp c2 "\"stream\":true,\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],\"input\":\"x y\"" >>in &&
	cache_replays c &&
	grep "0 cache hits, 2 misses" err1 &&
	test $(count ".type==\"delta\"" out2) -eq 5
'

test_expect_success 'the summary counts the tokens of its usage' '
	resp u1 "\"stream\":true,\"input\":\"a b c\"" >in &&
	resp u2 "\"input\":\"d e\"" >>in &&
	"$VMANJL" in >out 2>err &&
	grep "2 requests, 2 ok, 0 errors, 0 retries, 5 prompt + 5 completion tokens" err
'

test_expect_success '--resume sends only what has no answer yet' '
	resp r1 "\"stream\":true,\"input\":\"a b\"" >in &&
	resp r2 "\"stream\":true,\"input\":\"c d\"" >>in &&
	"$VMANJL" -q -k in >out &&
	sed "/\"custom_id\":\"r2\"/d" out >part &&
	n=$(requests) &&
	"$VMANJL" -q --resume part <in >>part &&
	test $(requests) -eq $((n + 1)) &&
	has ".custom_id==\"r2\" and .type==\"response\" and .content==\"c d\"" part
'

test_expect_success '--max-response-size bounds one event, not the stream' '
	resp m1 "\"stream\":true,\"input\":\"a b c d e f g h\",\"mock\":{\"repeat\":50}" >in &&
	"$VMANJL" -q --max-response-size 20000 in >out &&
	has ".type==\"response\" and .finish_reason==\"stop\"" out &&
	test_must_fail "$VMANJL" -q --max-response-size 600 in >out2 &&
	has ".type==\"error\" and .error.type==\"response_too_large\"" out2
'

test_expect_success 'a long stream: one delta per event' '
	resp long "\"stream\":true,\"input\":\"x\",\"mock\":{\"repeat\":20000}" >in &&
	"$VMANJL" -q in >out &&
	test $(count ".type==\"delta\"" out) -eq 20000 &&
	has ".type==\"response\" and .usage.completion_tokens==20000 and
	    (.content | length)==39999" out
'

test_done
