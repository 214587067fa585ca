#!/bin/sh
# Anthropic Messages (POST /v1/messages): text, thinking and tool-input
# deltas in chat's shape, the streamed Message equal to the one sent
# without streaming, content, finish_reason and usage (cache tokens in
# the prompt) for both, the ends of a stream (message_stop, an error
# event, a cut) and which are sent again, and the rest of the program
# (--events, --format batch, the cache, --resume, the summary) unchanged.
. "$(dirname "$0")/lib.sh"
start_mock

# A request line for /v1/messages with body members $1 (JSON without
# braces) and custom_id $2 (default m); a max_tokens in $1 comes first,
# and the server takes the first.
msg () {
	echo "{\"custom_id\":\"${2:-m}\",\"url\":\"/v1/messages\",\"body\":{\"model\":\"claude-mock\",$1,\"max_tokens\":64000}}"
}

# A streamed request line with the user text $1, the mock members $2
# (JSON without braces; no mock when empty) and custom_id $3 (default m).
smsg () {
	msg "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]${2:+,\"mock\":{$2\}}" "${3:-}"
}

# An event of a raw stream: its name $1 and data $2.
ev () {
	printf "event: %s\ndata: %s\n\n" "$1" "$2"
}

# The delta records of file $1 of member $2 (default content), joined.
joined () {
	jq -j "select(.type==\"delta\") | .${2:-content} // empty" "$1"
}

# A request with thinking, a tool, cached system and user text.
FULL='"thinking":{"type":"enabled","budget_tokens":2000},"tools":[{"name":"find","description":"d","input_schema":{"type":"object"}}],"system":[{"type":"text","text":"be brief now","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"old words","cache_control":{"type":"ephemeral"}},{"type":"text","text":"where is my hat"}]}]'

test_expect_success 'text deltas with their block index, joined to content' '
	smsg "one two three" "" s1 >in &&
	run_in ok "delta delta delta response " &&
	word_deltas out s1 one two three &&
	has ".type==\"response\" and .status==200 and .attempts==1 and
	    .content==\"one two three\" and .finish_reason==\"stop\" and
	    .body.type==\"message\" and .body.stop_reason==\"end_turn\" and
	    .body.content==[{type:\"text\",text:\"one two three\"}] and
	    (.body.id | startswith(\"msg_mock_\"))" out
'

test_expect_success 'the streamed Message equals the non-streamed one' '
	msg "$FULL" >plain &&
	msg "\"stream\":true,$FULL" >streamed &&
	mock_reset &&
	"$VMANJL" -q plain >out.plain &&
	mock_reset &&
	"$VMANJL" -q streamed >out.stream &&
	jq -c "select(.type==\"response\") | .body" out.plain >expect &&
	jq -c "select(.type==\"response\") | .body" out.stream >actual &&
	test_cmp expect actual &&
	jq -e ".content | map(.type) == [\"thinking\",\"text\",\"tool_use\"]" \
	    expect &&
	jq -c "select(.type==\"response\") | [.content, .finish_reason, .usage]" \
	    out.plain >expect &&
	jq -c "select(.type==\"response\") | [.content, .finish_reason, .usage]" \
	    out.stream >actual &&
	test_cmp expect actual
'

test_expect_success 'thinking: reasoning deltas of block 0, the signature kept' '
	joined out.stream reasoning >reasoning &&
	test "$(cat reasoning)" = "think: old words where is my hat" &&
	test "$(joined out.stream)" = "old words where is my hat" &&
	all ".type==\"delta\" and has(\"reasoning\")" ".index==0" out.stream &&
	all ".type==\"delta\" and has(\"content\")" ".index==1" out.stream &&
	has ".type==\"response\" and
	    .body.content[0].thinking==\"think: old words where is my hat\" and
	    (.body.content[0].signature | length) > 10" out.stream
'

test_expect_success 'tool input: chat tool_calls fragments, id and name once' '
	mock_reset &&
	jq -c .body streamed >body &&
	curl -s -N --data-binary @body "$VMAN_BASE_URL/v1/messages" >sse &&
	sed -n "s/^data: //p" sse |
	    jq -c "select(.delta.type==\"input_json_delta\") | .delta.partial_json" >frags &&
	test $(wc -l <frags) -gt 3 &&
	jq -c "select(.type==\"delta\" and has(\"tool_calls\")) |
	    .tool_calls[0].function.arguments" out.stream >actual &&
	test_cmp frags actual &&
	jq -c "select(.type==\"delta\" and has(\"tool_calls\"))" out.stream >tools &&
	head -n 1 tools | jq -e ".index==2 and .tool_calls==[{index:2,
	    id:\"toolu_mock_1\",type:\"function\",
	    function:{name:\"find\",arguments:\"\"}}]" &&
	sed 1d tools | jq -e -s "all(.[]; .index==2 and
	    (.tool_calls[0] | keys)==[\"function\",\"index\"] and
	    (.tool_calls[0].function | keys)==[\"arguments\"])" &&
	has ".type==\"response\" and .finish_reason==\"tool_calls\" and
	    .body.stop_reason==\"tool_use\" and
	    .body.content[2].input=={text:\"old words where is my hat\"} and
	    .body.content[2].id==\"toolu_mock_1\"" out.stream
'

test_expect_success 'usage: cache tokens count in the prompt, stream or not' '
	for f in out.plain out.stream; do
		has ".type==\"response\" and .body.usage.input_tokens==4 and
		    .body.usage.cache_creation_input_tokens==3 and
		    .body.usage.cache_read_input_tokens==2 and
		    .body.usage.output_tokens==.usage.completion_tokens and
		    .usage.prompt_tokens==9 and
		    .usage.total_tokens==9+.usage.completion_tokens" $f ||
		return 1
	done &&
	has ".type==\"response\" and .usage.completion_tokens==18" out.stream
'

test_expect_success 'non-streamed: content, finish_reason and usage' '
	msg "\"messages\":[{\"role\":\"user\",\"content\":\"plain answer\"}]" >in &&
	run_in ok "response " &&
	has ".content==\"plain answer\" and .finish_reason==\"stop\" and
	    .usage=={prompt_tokens:2,completion_tokens:2,total_tokens:4} and
	    .body.content[0].text==\"plain answer\"" out
'

test_expect_success 'max_tokens: finish_reason length, the raw value in the body' '
	msg "\"max_tokens\":2,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"a b c d\"}]" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .finish_reason==\"length\" and
	    .body.stop_reason==\"max_tokens\" and .content==\"a b\"" out &&
	msg "\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"a b c d\"}]" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .finish_reason==\"length\" and
	    .body.stop_reason==\"max_tokens\"" out
'

test_expect_success 'a stop sequence: finish_reason stop, stop_sequence kept' '
	msg "\"stream\":true,\"stop_sequences\":[\"END\"],\"messages\":[{\"role\":\"user\",\"content\":\"say it END more\"}]" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and .finish_reason==\"stop\" and
	    .body.stop_reason==\"stop_sequence\" and
	    .body.stop_sequence==\"END\" and .content==\"say it \"" out
'

test_expect_success 'an error event: its message, deltas before it, not retried' '
	smsg "a b c" "\"id\":\"ee\",\"error_event\":4" >in &&
	run_in fail "delta error " --retries 2 --backoff 1 &&
	has ".type==\"error\" and .attempts==1 and .status==200 and
	    .error.message==\"Overloaded\" and
	    .error.type==\"overloaded_error\" and
	    .body.error.type==\"overloaded_error\"" out &&
	test $(seen ee) -eq 1
'

test_expect_success 'pings are ignored, wherever they come' '
	{
		ev message_start "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}" &&
		ev ping "{\"type\": \"ping\"}" &&
		ev content_block_start "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}" &&
		ev ping "{\"type\": \"ping\"}" &&
		ev content_block_delta "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}" &&
		ev ping "{\"type\": \"ping\"}" &&
		ev content_block_stop "{\"type\":\"content_block_stop\",\"index\":0}" &&
		ev message_delta "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":1}}" &&
		ev ping "{\"type\": \"ping\"}" &&
		ev message_stop "{\"type\":\"message_stop\"}"
	} >pings.sse &&
	raw_stream /v1/messages pings.sse "model:\"c\",messages:[]," >in &&
	run_in ok "delta response " &&
	has ".type==\"response\" and .body=={id:\"msg_1\",type:\"message\",
	    role:\"assistant\",model:\"c\",content:[{type:\"text\",text:\"Hi\"}],
	    stop_reason:\"end_turn\",stop_sequence:null,
	    usage:{input_tokens:5,output_tokens:1}}" out
'

test_expect_success 'accumulated as the SDK does: signature, input, usage' '
	{
		ev message_start "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"cache_read_input_tokens\":7,\"output_tokens\":1}}}" &&
		ev content_block_start "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}" &&
		ev content_block_delta "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"s1\"}}" &&
		ev content_block_delta "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"s2\"}}" &&
		ev content_block_stop "{\"type\":\"content_block_stop\",\"index\":0}" &&
		ev content_block_start "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":\"noop\",\"input\":{}}}" &&
		ev content_block_delta "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}" &&
		ev content_block_start "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":\"add\",\"input\":{}}}" &&
		ev content_block_delta "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": 1.50\"}}" &&
		ev content_block_delta "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\", \\\"b\\\": [2]}\"}}" &&
		ev future_event "{\"type\":\"future_event\",\"x\":1}" &&
		ev message_delta "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"refusal\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":4,\"cache_read_input_tokens\":null,\"output_tokens\":9}}" &&
		ev message_stop "{\"type\":\"message_stop\"}"
	} >sdk.sse &&
	raw_stream /v1/messages sdk.sse "model:\"c\",messages:[]," >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and
	    .body.content[0]=={type:\"thinking\",thinking:\"\",signature:\"s2\"} and
	    .body.content[1].input=={} and
	    .body.content[2].input=={a:1.50,b:[2]} and
	    .body.usage=={input_tokens:4,cache_read_input_tokens:7,output_tokens:9} and
	    .usage=={prompt_tokens:11,completion_tokens:9,total_tokens:20} and
	    .finish_reason==\"content_filter\" and .content==\"\"" out &&
	grep -q "\"input\":{\"a\":1.50,\"b\":\[2\]}" out &&
	has ".type==\"delta\" and .index==1 and
	    .tool_calls[0].function==({name:\"noop\",arguments:\"\"})" out
'

test_expect_success 'token counts past 63 bits: sums stop at the largest, not negative' '
	{
		ev message_start "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_3\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9223372036854775807,\"cache_creation_input_tokens\":5,\"output_tokens\":1}}}" &&
		ev message_delta "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}" &&
		ev message_stop "{\"type\":\"message_stop\"}"
	} >huge.sse &&
	raw_stream /v1/messages huge.sse "model:\"c\",messages:[]," >in &&
	cat in in >in2 && mv in2 in &&
	"$VMANJL" -k in >out 2>err &&
	test $(grep -c "\"usage\":{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":9,\"total_tokens\":9223372036854775807}" out) -eq 2 &&
	grep "9223372036854775807 prompt + 18 completion tokens" err
'

test_expect_success 'an event before message_start: an error, not retried' '
	printf "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" >early.sse &&
	raw_stream /v1/messages early.sse "model:\"c\",messages:[]," "id:\"early\"," >in &&
	run_in fail "" --retries 2 --backoff 1 &&
	has ".type==\"error\" and .error.type==\"stream_error\" and
	    (.error.message | test(\"before message_start\"))" out &&
	test $(seen early) -eq 1
'

test_expect_success 'no message_stop: retried, then an error, attempts = retries+1' '
	smsg "a b" "\"id\":\"nd\",\"no_done\":true" >in &&
	run_in fail "delta delta retry delta delta retry delta delta error " --retries 2 --backoff 1 &&
	has ".type==\"error\" and .attempts==3 and .status==200 and
	    .error.type==\"stream_error\" and
	    .error.message==\"stream ended without message_stop\"" out &&
	test $(seen nd) -eq 3
'

test_expect_success 'cut once before message_stop: the response on attempt 2' '
	smsg "a b c" "\"id\":\"cut1\",\"fail_first\":1,\"close_after\":4" >in &&
	run_in ok "delta retry delta delta delta response " --retries 2 --backoff 1 &&
	has ".type==\"response\" and .attempts==2 and .content==\"a b c\"" out &&
	test $(seen cut1) -eq 2
'

test_expect_success 'a complete stream, then a broken connection: not sent again' '
	smsg "a b" >in &&
	jq -c .body in >body &&
	curl -s -N --data-binary @body "$VMAN_BASE_URL/v1/messages" >sse &&
	n=$(grep -c "^event: " sse) &&
	tail -n 3 sse | grep -q "^event: message_stop" &&
	smsg "a b" "\"id\":\"brk\",\"close_after\":$n" >in &&
	run_in ok "delta delta response " --retries 2 --backoff 1 &&
	has ".type==\"response\" and .attempts==1 and .content==\"a b\"" out &&
	test $(seen brk) -eq 1 &&
	smsg "a b" "\"id\":\"brk2\",\"close_after\":$((n - 1))" >in &&
	run_in fail "" --retries 1 --backoff 1 &&
	test $(seen brk2) -eq 2
'

test_expect_success '--events: the event names and exact data strings' '
	smsg "ev one" >in &&
	jq -c .body in >body &&
	events_as_sent body /v1/messages &&
	sed -n "s/^event: //p" sse >expect.names &&
	jq -r "select(.type==\"event\") | .event" out >actual.names &&
	test_cmp expect.names actual.names &&
	test "$(tail -n 1 actual.names)" = message_stop &&
	has ".type==\"response\" and .body==null and
	    .events==$(wc -l <expect)" out &&
	test $(grep -c "\"type\":\"delta\"" out) -eq 0
'

test_expect_success '--format batch: no deltas, the assembled Message' '
	msg "\"stream\":true,$FULL" b1 >in &&
	"$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 1 &&
	has ".custom_id==\"b1\" and .error==null and
	    .response.status_code==200 and
	    .response.body.type==\"message\" and
	    .response.body.content[1].text==\"old words where is my hat\" and
	    .response.body.content[2].input.text==\"old words where is my hat\"" out
'

test_expect_success 'the cache: a replay is byte-identical, nothing sent' '
	msg "\"stream\":true,$FULL" c1 >in &&
	msg "$FULL" c2 >>in &&
	cache_replays cdir &&
	grep "0 cache hits, 2 misses" err1 &&
	test $(grep -c "\"type\":\"delta\"" out2) -gt 10
'

test_expect_success '--resume: only what is missing is sent' '
	smsg "r one" "\"id\":\"r1\"" r1 >in &&
	smsg "r two" "\"id\":\"r2\"" r2 >>in &&
	head -n 1 in >first &&
	"$VMANJL" -q first >out &&
	mock_reset &&
	"$VMANJL" -q --resume out <in >>out &&
	test $(seen r1) -eq 0 &&
	test $(seen r2) -eq 1 &&
	test "$(terminals out custom_id | tr "\n" " ")" = "r1 response r2 response " &&
	has ".custom_id==\"r2\" and .type==\"response\" and .content==\"r two\"" out
'

test_expect_success 'the summary counts prompt (with cache) and completion tokens' '
	msg "\"stream\":true,$FULL" >in &&
	msg "$FULL" >>in &&
	"$VMANJL" in >out 2>err &&
	grep "18 prompt + 36 completion tokens" err
'

test_expect_success '--max-response-size bounds each event and the answer assembled' '
	max_size_bounds "$(smsg "a b c" "\"repeat\":2000")" \
	    "$(msg "\"stream\":true,\"messages\":[],\"mock\":{\"id\":\"bigev\",\"content\":\"$(printf "%03000d" 0)\"}")"
'

test_expect_success 'a long stream: every delta, joined to the content' '
	smsg "aa bb cc" "\"repeat\":20000" >in &&
	"$VMANJL" -q in >out &&
	test $(grep -c "\"type\":\"delta\"" out) -eq 60000 &&
	joins_to_content out $((8 * 20000)) &&
	has ".type==\"response\" and .usage.completion_tokens==60000" out
'

test_done
