#!/bin/sh
# Streamed answers: delta records as the events arrive, the assembled
# body equal to the non-streamed answer, every framing of the event
# stream, the stream faults and which of them are retried, --events, and
# the latency promise.
. "$(dirname "$0")/lib.sh"
start_mock

# The delta records of file $1 for choice $2 (default 0), joined.
joined () {
	jq -j "select(.type==\"delta\" and .index==${2:-0}) |
	    .content // empty" "$1"
}

# What must agree between a streamed and a non-streamed answer.
essence () {
	jq -S -c "select(.type==\"response\") | {content, finish_reason,
	    object: .body.object, model: .body.model,
	    choices: [.body.choices[] | del(.logprobs)]}" "$1"
}

# The chat body members $1 (JSON without braces) sent as they are, the
# records in out.plain, and streamed, the records in out.
plain_and_streamed () {
	echo "{$1}" >plain &&
	echo "{\"stream\":true,$1}" >streamed &&
	"$VMANJL" -q plain >out.plain &&
	"$VMANJL" -q streamed >out
}

# The essence of out.plain and of out agree.
same_essence () {
	essence out.plain >expect &&
	essence out >actual &&
	test_cmp expect actual
}

# A streamed chat request line for model m: the user text $1, the mock
# members $2 (JSON without braces; no mock when empty).
chat () {
	printf '{"model":"m","stream":true,"messages":[{"role":"user","content":"%s"}]%s}\n' \
	    "$1" "${2:+,\"mock\":{$2\}}"
}

test_expect_success 'one delta per token, in order, joined equal to content' '
	cat >in <<-\EOF &&
	{"custom_id":"s1","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"one two three four"}]}}
	EOF
	run_in ok "delta delta delta delta response " &&
	word_deltas out s1 one two three four &&
	has ".type==\"response\" and .line==1 and .custom_id==\"s1\" and
	    .status==200 and .attempts==1 and
	    .content==\"one two three four\" and .finish_reason==\"stop\" and
	    .body.object==\"chat.completion\" and
	    (.body.id | startswith(\"chatcmpl-mock-\"))" out &&
	joins_to_content out
'

test_expect_success 'the streamed body equals the non-streamed answer' '
	plain_and_streamed "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"the same words\"}]" &&
	has ".type==\"response\" and .body.object==\"chat.completion\" and
	    .body.created==1700000000 and
	    (.body.id | startswith(\"chatcmpl-mock-\"))" out &&
	same_essence
'

test_expect_success 'usage: by default (the relay asks for it), not when include_usage is false' '
	cat >in <<-\EOF &&
	{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"a b c"}]}
	{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b c"}]}
	{"model":"m","messages":[{"role":"user","content":"a b c"}]}
	{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c"}]}
	EOF
	"$VMANJL" -q -k in >out &&
	has ".line==1 and .type==\"response\" and (has(\"usage\") | not) and
	    (.body | has(\"usage\") | not)" out &&
	has ".line==2 and .type==\"response\" and
	    .usage=={\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6} and
	    .body.usage==.usage" out &&
	has ".line==4 and .type==\"response\" and .body.usage==.usage" out &&
	jq -c "select(.type==\"response\" and .line>1) | .usage" out >usages &&
	test $(wc -l <usages) -eq 3 &&
	test $(sort -u usages | wc -l) -eq 1 &&
	all ".type==\"delta\"" "has(\"content\")" out
'

test_expect_success 'n=2: deltas of index 0 and 1, two assembled choices' '
	plain_and_streamed "\"model\":\"m\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x y z\"}]" &&
	test "$(joined out 0)" = "x y z" &&
	test "$(joined out 1)" = "[1] x y z" &&
	jq -r "select(.type==\"delta\") | .index" out | sort -u | tr "\n" " " >idx &&
	test "$(cat idx)" = "0 1 " &&
	has ".type==\"response\" and (.body.choices | length)==2 and
	    .body.choices[1].index==1 and
	    .body.choices[1].message.content==\"[1] x y z\" and
	    .content==\"x y z\"" out &&
	same_essence
'

test_expect_success 'a reasoning model: reasoning deltas, reasoning_content' '
	plain_and_streamed "\"model\":\"my-reasoner\",\"messages\":[{\"role\":\"user\",\"content\":\"deep thought\"}]" &&
	jq -j "select(.type==\"delta\") | .reasoning // empty" out >reasoning &&
	test "$(cat reasoning)" = "think: deep thought" &&
	test "$(joined out)" = "deep thought" &&
	all ".type==\"delta\"" "has(\"reasoning\") != has(\"content\")" out &&
	has ".type==\"response\" and
	    .body.choices[0].message.reasoning_content==\"think: deep thought\" and
	    .content==\"deep thought\"" out &&
	same_essence
'

test_expect_success 'tool calls: deltas exactly as sent, arguments assembled' '
	plain_and_streamed "\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"find\",\"parameters\":{}}}],\"messages\":[{\"role\":\"user\",\"content\":\"where is my long lost hat\"}]" &&
	curl -s -N --data-binary @streamed "$VMAN_BASE_URL/v1/chat/completions" >sse &&
	sed -n "s/^data: //p" sse | grep -v "^\[DONE\]\$" |
	    jq -c ".choices[0].delta.tool_calls // empty" >expect &&
	test $(wc -l <expect) -gt 3 &&
	jq -c "select(.type==\"delta\") | .tool_calls" out >actual &&
	test_cmp expect actual &&
	all ".type==\"delta\"" "(has(\"content\") | not)" out &&
	has ".type==\"response\" and .content==null and
	    .finish_reason==\"tool_calls\" and
	    .body.choices[0].message.content==null and
	    .body.choices[0].message.tool_calls[0].function.arguments ==
	    \"{\\\"text\\\":\\\"where is my long lost hat\\\"}\"" out &&
	same_essence
'

test_expect_success 'a streamed completion assembles a text_completion' '
	b="\"model\":\"m\",\"prompt\":\"complete me please\"" &&
	echo "{\"url\":\"/v1/completions\",\"body\":{$b}}" >plain &&
	echo "{\"url\":\"/v1/completions\",\"body\":{\"stream\":true,\"stream_options\":{\"include_usage\":true},$b}}" >streamed &&
	"$VMANJL" -q plain >out.plain &&
	"$VMANJL" -q streamed >out &&
	test "$(joined out)" = "complete me please" &&
	test $(grep -c "\"type\":\"delta\"" out) -eq 3 &&
	has ".type==\"response\" and .body.object==\"text_completion\" and
	    .body.choices[0].text==\"complete me please\" and
	    .content==\"complete me please\" and .finish_reason==\"stop\" and
	    .usage.completion_tokens==3" out &&
	same_essence
'

test_expect_success 'CRLF, CR, comments, BOM, byte-by-byte: the same records' '
	for m in "{}" "{\"eol\":\"crlf\"}" "{\"eol\":\"cr\"}" \
	    "{\"comments\":true}" "{\"bom\":true}" "{\"chunk\":1}" \
	    "{\"chunk\":1,\"eol\":\"crlf\"}" "{\"chunk\":1,\"eol\":\"cr\"}" \
	    "{\"chunk\":3,\"eol\":\"crlf\",\"comments\":true,\"bom\":true}"; do
		echo "{\"model\":\"m\",\"stream\":true,\"n\":2,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"fr\u00e0mes of w\u00f6rds \ud83d\ude00\"}],\"mock\":$m}" >in &&
		"$VMANJL" -q in >out &&
		jq -c "if .type==\"response\" then del(.body.id) else . end" out >records &&
		if [ "$m" = "{}" ]; then
			mv records expect
		else
			test_cmp expect records
		fi || { echo "mock $m: failed or differs"; return 1; }
	done &&
	test $(grep -c "\"type\":\"delta\"" expect) -eq 9 &&
	has ".type==\"response\" and .content==\"fr\u00e0mes of w\u00f6rds \ud83d\ude00\"" expect
'

test_expect_success 'no [DONE]: retried, then an error, attempts = retries+1' '
	chat "a b" "\"id\":\"nd\",\"no_done\":true" >in &&
	run_in fail "delta delta retry delta delta error " --retries 1 --backoff 1 &&
	has ".type==\"retry\" and .attempt==1 and .status==200 and
	    (.error.message | test(\"without \\\\[DONE\\\\]\"))" out &&
	has ".type==\"error\" and .attempts==2 and .status==200 and
	    .error.type==\"stream_error\" and
	    (.error.message | test(\"without \\\\[DONE\\\\]\"))" out &&
	test $(seen nd) -eq 2
'

test_expect_success 'no [DONE] the first time, or a connection closed mid-stream: retried, the retry answers' '
	while IFS="|" read -r id text mock retries types retry; do
		chat "$text" "\"id\":\"$id\",\"fail_first\":1,$mock" >in &&
		run_in ok "$types" --retries $retries --backoff 1 &&
		has "$retry" out &&
		has ".type==\"response\" and .attempts==2 and
		    .content==\"$text\"" out &&
		test $(seen $id) -eq 2 || return 1
	done <<-\EOF
	nd1|a b|"no_done":true|1|delta delta retry delta delta response |.type=="retry"
	ca|a b c d|"close_after":3|2|delta delta retry delta delta delta delta response |.type=="retry" and .attempt==1 and .status==200
	EOF
'

test_expect_success 'a stream broken off: the message does not say 0 bytes came' '
	chat "a b c d" "\"close_after\":3" >in &&
	run_in fail "" --retries 0 &&
	has ".type==\"error\" and .attempts==1" out &&
	test $(grep -c "\"type\":\"delta\"" out) -eq 2 &&
	all ".type==\"error\"" "(.error.message | test(\"after 0 bytes\") | not)" out
'

test_expect_success 'an error event, a malformed data line: an error, not retried' '
	while IFS="|" read -r id text mock types cond; do
		chat "$text" "\"id\":\"$id\",$mock" >in &&
		run_in fail "$types" --retries 2 --backoff 1 &&
		has ".type==\"error\" and .attempts==1 and .status==200 and
		    $cond" out &&
		test $(seen $id) -eq 1 || return 1
	done <<-\EOF
	ee|a b c|"error_event":2|delta error |.error.message=="mock stream error" and .error.code=="mock_stream_error" and .body.message=="mock stream error"
	bd|a b c|"bad_data":3|delta delta error |.error.type=="stream_error" and (.error.message | startswith("malformed data line"))
	EOF
'

test_expect_success 'invalid UTF-8 in a stream: one error, valid output' '
	chat "a b" "\"invalid_utf8\":true" >in &&
	run_in fail "" --retries 0 &&
	iconv -f UTF-8 -t UTF-8 out >/dev/null &&
	jq -c . out >/dev/null &&
	test "$(jq -r "select(.type==\"response\" or .type==\"error\") | .type" out)" = error
'

test_expect_success 'a non-2xx answer to a stream request: its message' '
	chat "a b" "\"status\":400" >in &&
	run_in fail "error " &&
	has ".status==400 and .attempts==1 and
	    .error.message==\"mock error 400\" and
	    .error.type==\"mock_error\" and
	    .body.error.message==\"mock error 400\"" out
'

test_expect_success 'a 503 to a stream request is retried, then streams' '
	chat "a b" "\"id\":\"s5\",\"fail_first\":1,\"status\":503" >in &&
	run_in ok "retry delta delta response " --retries 1 --backoff 1 &&
	has ".type==\"retry\" and .status==503" out &&
	has ".type==\"response\" and .attempts==2" out
'

test_expect_success '--events: the exact data strings, [DONE] included' '
	echo "{\"model\":\"m\",\"stream\":true,\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"ev one\"}]}" >in &&
	events_as_sent in /v1/chat/completions &&
	test "$(tail -n 1 actual)" = "[DONE]" &&
	n=$(wc -l <expect) &&
	all ".type==\"event\"" ".event==\"message\" and .id==null and
	    .line==1" out &&
	has ".type==\"response\" and .status==200 and .body==null and
	    .events==$n and .attempts==1" out &&
	test $(grep -c "\"type\":\"delta\"" out) -eq 0
'

test_expect_success '--events: a stream without [DONE] is a success' '
	chat "a b" "\"no_done\":true" >in &&
	run_in ok "" --events --retries 0 &&
	has ".type==\"response\" and .events==5" out &&
	test $(grep -c "\"type\":\"event\"" out) -eq 5
'

test_expect_success '--events: event type, id and multi-line data' '
	jq -n -c "{model:\"m\",messages:[],mock:{content_type:\"text/event-stream\",
	    raw:\"id: 7\nevent: progress\ndata: a\ndata:b\n\n: note\ndata: {\\\"x\\\":1}\n\nid: 8\ndata\n\n\"}}" >in &&
	"$VMANJL" -q --events in >out &&
	jq -c "select(.type==\"event\") | [.event, .data, .id]" out >actual &&
	cat >expect <<-\EOF &&
	["progress","a\nb","7"]
	["message","{\"x\":1}","7"]
	["message","","8"]
	EOF
	test_cmp expect actual &&
	has ".type==\"response\" and .events==3" out
'

test_expect_success '--events: a stream ending inside an event is retried' '
	jq -n -c "{model:\"m\",messages:[],mock:{id:\"mid\",content_type:\"text/event-stream\",
	    raw:\"data: whole\n\ndata: half\"}}" >in &&
	test_must_fail "$VMANJL" -q --events --retries 1 --backoff 1 in >out &&
	has ".type==\"retry\"" out &&
	has ".type==\"error\" and .attempts==2 and
	    (.error.message | test(\"middle of an event\"))" out &&
	test $(seen mid) -eq 2
'

test_expect_success 'an event stream answers a request that did not ask' '
	jq -n -c "{model:\"m\",messages:[],mock:{content_type:\"text/event-stream\",
	    raw:(\"data: \" + ({id:\"c1\",object:\"chat.completion.chunk\",created:5,model:\"mm\",system_fingerprint:\"fp\",choices:[{index:0,delta:{role:\"assistant\",content:\"Hi\"},finish_reason:null}]} | tojson) +
	    \"\n\ndata: \" + ({id:\"c1\",object:\"chat.completion.chunk\",created:5,model:\"mm\",choices:[{index:0,delta:{reasoning:\"r1\"},finish_reason:\"stop\"}]} | tojson) +
	    \"\n\ndata: {\\\"choices\\\":[],\\\"usage\\\":{\\\"prompt_tokens\\\":1.0e0,\\\"completion_tokens\\\":2,\\\"total_tokens\\\":3}}\n\ndata: [DONE]\n\n\")}}" >in &&
	run_in ok "delta delta response " &&
	has ".type==\"delta\" and .reasoning==\"r1\"" out &&
	has ".type==\"response\" and .body.id==\"c1\" and .body.created==5 and
	    .body.model==\"mm\" and .body.system_fingerprint==\"fp\" and
	    .body.choices[0].message.content==\"Hi\" and
	    .body.choices[0].message.reasoning_content==\"r1\" and
	    .finish_reason==\"stop\"" out &&
	grep "\"usage\":{\"prompt_tokens\":1.0e0,\"completion_tokens\":2,\"total_tokens\":3}}" out
'

test_expect_success 'a JSON answer to a stream request is a plain response' '
	echo "{\"model\":\"m\",\"stream\":true,\"messages\":[],\"mock\":{\"raw\":\"{\\\"a\\\":1}\"}}" >in &&
	run_in ok "response " &&
	has ".body=={\"a\":1}" out
'

test_expect_success 'an HTTP/1.0 close-delimited stream works' '
	chat "old http" "\"http10\":true" >in &&
	run_in ok "delta delta response " --retries 0 &&
	has ".type==\"response\" and .content==\"old http\" and
	    .attempts==1" out
'

test_expect_success 'a long stream: every delta, joined to the content' '
	chat "aa bb cc" "\"repeat\":20000" >in &&
	"$VMANJL" -q in >out &&
	test $(grep -c "\"type\":\"delta\"" out) -eq 60000 &&
	joins_to_content out $((8 * 20000))
'

test_expect_success '--max-response-size applies to each event of a stream, and to the whole answer' '
	max_size_bounds "$(chat "a b c" "\"repeat\":2000")" \
	    "{\"model\":\"m\",\"stream\":true,\"messages\":[],\"mock\":{\"id\":\"bigev\",\"content\":\"$(printf "%03000d" 0)\"}}"
'

test_expect_success 'a delta is written as soon as its event is complete' '
	chat "slow a b c d" "\"event_delay_ms\":300" >in &&
	"$VMANJL" -q in >out &
	pid=$! &&
	i=0 &&
	while ! grep -q "\"type\":\"delta\"" out && [ $i -lt 60 ]; do
		sleep 0.05
		i=$((i + 1))
	done &&
	grep -q "\"type\":\"delta\"" out &&
	! grep -q "\"type\":\"response\"" out &&
	wait $pid &&
	has ".type==\"response\" and .content==\"slow a b c d\"" out
'

test_expect_success '-j 4: the deltas of each line join to its own content' '
	: >in &&
	for i in 1 2 3 4 5 6 7 8; do
		echo "{\"custom_id\":\"c$i\",\"body\":{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"line $i says w$i x$i y$i\"}],\"mock\":{\"event_delay_ms\":$((i % 3 * 20))}}}" >>in || return 1
	done &&
	echo "{\"url\":\"/v1/completions\",\"body\":{\"model\":\"m\",\"stream\":true,\"prompt\":\"the completion line\",\"mock\":{\"event_delay_ms\":10}}}" >>in &&
	"$VMANJL" -q -j 4 in >out &&
	test $(grep -c "\"type\":\"response\"" out) -eq 9 &&
	jq -s -e "[group_by(.line)[] |
	    ([.[] | select(.type==\"delta\") | .content] | add) as \$j |
	    (.[-1] | .type==\"response\" and .content==\$j and
	     (.line == 9 or .custom_id==\"c\(.line)\"))] | all" out &&
	for i in 1 2 3 4 5 6 7 8; do
		has ".line==$i and .type==\"response\" and
		    .content==\"line $i says w$i x$i y$i\"" out || exit 1
	done &&
	has ".line==9 and .content==\"the completion line\"" out &&
	jq -r .line out | uniq | wc -l >runs &&
	test $(cat runs) -gt 9
'

test_done
