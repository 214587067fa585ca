#!/bin/sh
# The assembled body of a streamed chat, matched to the official SDK's
# own accumulation of the same bytes: refusal deltas and
# message.refusal, logprobs arrays concatenated, a character whose
# surrogate halves arrive in two chunks, and the first non-empty id,
# model and created after a preamble chunk.  Each stream is served as
# exact SSE bytes (mock raw).
. "$(dirname "$0")/lib.sh"
start_mock

# The input line of a request to path $2 (default /v1/chat/completions)
# answered by the SSE bytes of file $1, with the mock members of the
# JSON object $3 besides.
sse_line () {
	jq -nc --rawfile raw "$1" --arg url "${2:-/v1/chat/completions}" \
	    --argjson more "${3:-null}" '{url: $url, body: {model: "m",
	    stream: true, messages: [{role: "user", content: "hi"}],
	    mock: ({raw: $raw, content_type: "text/event-stream"} +
	    ($more // {}))}}'
}

# The delta records of file $1, less type, line and custom_id, one a
# line, equal the JSON values of file $2.
deltas_cmp () {
	jq -S -c . "$2" >"$2.want" &&
	jq -S -c "select(.type == \"delta\") | del(.type, .line, .custom_id)" \
	    "$1" >"$1.deltas" &&
	test_cmp "$2.want" "$1.deltas"
}

# The value at jq path $2 of file $1's response record equals the JSON
# value of file $3.
resp_cmp () {
	jq -S -c . "$3" >"$3.want" &&
	jq -S -c "select(.type == \"response\") | $2" "$1" >"$1.got" &&
	test_cmp "$3.want" "$1.got"
}

test_expect_success 'refusal deltas become delta refusal and message.refusal' '
	cat >sse <<-\EOF &&
	data: {"id":"chatcmpl-r","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""},"logprobs":null,"finish_reason":null}]}

	data: {"id":"chatcmpl-r","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":"I am sorry,"},"logprobs":null,"finish_reason":null}]}

	data: {"id":"chatcmpl-r","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":" I cannot help"},"logprobs":null,"finish_reason":null}]}

	data: {"id":"chatcmpl-r","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":" with that."},"logprobs":null,"finish_reason":null}]}

	data: {"id":"chatcmpl-r","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

	data: [DONE]

	EOF
	sse_line sse >in &&
	"$VMANJL" -q in >out &&
	cat >expect <<-\EOF &&
	{"index":0,"refusal":"I am sorry,"}
	{"index":0,"refusal":" I cannot help"}
	{"index":0,"refusal":" with that."}
	EOF
	deltas_cmp out expect &&
	cat >expect <<-\EOF &&
	{"role":"assistant","content":null,"refusal":"I am sorry, I cannot help with that."}
	EOF
	resp_cmp out .body.choices[0].message expect &&
	has ".type==\"response\" and .status==200 and .content==\"\" and
	    .finish_reason==\"stop\"" out &&

	echo "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"no refusal here\"}]}" >plain &&
	"$VMANJL" -q plain >out.plain &&
	all ".type==\"delta\"" "has(\"refusal\") | not" out.plain &&
	has ".type==\"response\" and .content==\"no refusal here\" and
	    .body.choices[0].message.refusal==null" out.plain
'

test_expect_success 'logprobs arrays are concatenated per choice' '
	cat >sse <<-\EOF &&
	data: {"id":"chatcmpl-l","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":{"content":[],"refusal":null},"finish_reason":null}]}

	data: {"id":"chatcmpl-l","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":{"content":[{"token":"Hello","logprob":-0.25,"bytes":[72,101,108,108,111],"top_logprobs":[]}],"refusal":null},"finish_reason":null}]}

	data: {"id":"chatcmpl-l","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" world"},"logprobs":{"content":[{"token":" world","logprob":-1.5e-3,"bytes":[32,119,111,114,108,100],"top_logprobs":[{"token":" world","logprob":-1.5e-3,"bytes":[32]}]},{"token":"!","logprob":0,"bytes":[33],"top_logprobs":[]}],"refusal":null},"finish_reason":null}]}

	data: {"id":"chatcmpl-l","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

	data: [DONE]

	EOF
	sse_line sse >in &&
	"$VMANJL" -q in >out &&
	cat >expect <<-\EOF &&
	{"content":[{"token":"Hello","logprob":-0.25,"bytes":[72,101,108,108,111],"top_logprobs":[]},{"token":" world","logprob":-1.5e-3,"bytes":[32,119,111,114,108,100],"top_logprobs":[{"token":" world","logprob":-1.5e-3,"bytes":[32]}]},{"token":"!","logprob":0,"bytes":[33],"top_logprobs":[]}],"refusal":null}
	EOF
	resp_cmp out .body.choices[0].logprobs expect &&
	has ".type==\"response\" and .content==\"Hello world\"" out &&

	cat >sse <<-\EOF &&
	data: {"id":"chatcmpl-lr","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","refusal":""},"logprobs":{"content":null,"refusal":[]},"finish_reason":null}]}

	data: {"id":"chatcmpl-lr","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":"No"},"logprobs":{"content":null,"refusal":[{"token":"No","logprob":-0.5,"bytes":[78,111],"top_logprobs":[]}]},"finish_reason":null}]}

	data: {"id":"chatcmpl-lr","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":" way."},"logprobs":{"content":null,"refusal":[{"token":" way","logprob":-0.75,"bytes":[32,119,97,121],"top_logprobs":[]},{"token":".","logprob":-1,"bytes":[46],"top_logprobs":[]}]},"finish_reason":null}]}

	data: {"id":"chatcmpl-lr","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

	data: [DONE]

	EOF
	sse_line sse >in &&
	"$VMANJL" -q in >out &&
	cat >expect <<-\EOF &&
	{"content":null,"refusal":[{"token":"No","logprob":-0.5,"bytes":[78,111],"top_logprobs":[]},{"token":" way","logprob":-0.75,"bytes":[32,119,97,121],"top_logprobs":[]},{"token":".","logprob":-1,"bytes":[46],"top_logprobs":[]}]}
	EOF
	resp_cmp out .body.choices[0].logprobs expect &&
	has ".type==\"response\" and
	    .body.choices[0].message.refusal==\"No way.\"" out &&

	cat >sse <<-\EOF &&
	data: {"id":"cmpl-l","object":"text_completion","created":1700000000,"model":"m","choices":[{"index":0,"text":"Hi","logprobs":{"tokens":["Hi"],"token_logprobs":[-0.1],"top_logprobs":[{"Hi":-0.1}],"text_offset":[0]},"finish_reason":null}]}

	data: {"id":"cmpl-l","object":"text_completion","created":1700000000,"model":"m","choices":[{"index":0,"text":" there","logprobs":{"tokens":[" there"],"token_logprobs":[-0.2],"top_logprobs":[{" there":-0.2}],"text_offset":[2]},"finish_reason":"stop"}]}

	data: [DONE]

	EOF
	sse_line sse /v1/completions >in &&
	"$VMANJL" -q in >out &&
	cat >expect <<-\EOF &&
	{"tokens":["Hi"," there"],"token_logprobs":[-0.1,-0.2],"top_logprobs":[{"Hi":-0.1},{" there":-0.2}],"text_offset":[0,2]}
	EOF
	resp_cmp out .body.choices[0].logprobs expect &&
	has ".type==\"response\" and .body.choices[0].text==\"Hi there\"" out &&

	echo "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"no logprobs\"}]}" >plain &&
	"$VMANJL" -q plain >out.plain &&
	has ".type==\"response\" and .body.choices[0].logprobs==null and
	    (.body.choices[0] | has(\"logprobs\"))" out.plain
'

test_expect_success 'surrogate halves in two chunks join; a lone one is U+FFFD' '
	cat >sse <<-\EOF &&
	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"think \ud83d"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"reasoning_content":"\ude03"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"smile \ud83d"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"\ude00 and why?"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" ok\u003f"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" lone \ud83d"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" tail"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"\ude00"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" end \ud83d"},"finish_reason":null}]}

	data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

	data: [DONE]

	EOF
	cat >expect <<-\EOF &&
	{"index":0,"reasoning":"think "}
	{"index":0,"reasoning":"\ud83d\ude03"}
	{"index":0,"content":"smile "}
	{"index":0,"content":"\ud83d\ude00 and why?"}
	{"index":0,"content":" ok?"}
	{"index":0,"content":" lone "}
	{"index":0,"content":"\ufffd tail"}
	{"index":0,"content":"\ufffd\ufffd\ufffd"}
	{"index":0,"content":" end "}
	{"index":0,"content":"\ufffd"}
	EOF
	cat >want.content <<-\EOF &&
	"smile \ud83d\ude00 and why? ok? lone \ufffd tail\ufffd\ufffd\ufffd end \ufffd"
	EOF
	echo "\"think \\ud83d\\ude03\"" >want.reasoning &&
	sse_line sse >in &&
	"$VMANJL" -q in >out &&
	deltas_cmp out expect &&
	resp_cmp out .content want.content &&
	resp_cmp out .body.choices[0].message.content want.content &&
	resp_cmp out .body.choices[0].message.reasoning_content want.reasoning &&

	# The same bytes, one a write: strings end in pieces of their own.
	sse_line sse "" "{\"chunk\":1,\"chunk_delay_ms\":1}" >in.bytes &&
	"$VMANJL" -q in.bytes >out.bytes &&
	deltas_cmp out.bytes expect &&
	resp_cmp out.bytes .content want.content
'

test_expect_success 'after a preamble chunk, the first non-empty id, model, created' '
	cat >sse <<-\EOF &&
	data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}

	data: {"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1700000100,"id":"chatcmpl-az","model":"gpt-4o-2024-08-06","object":"chat.completion.chunk","system_fingerprint":"","service_tier":null}

	data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hi there"},"finish_reason":null,"index":0,"logprobs":null}],"created":1700000100,"id":"chatcmpl-az","model":"gpt-4o-2024-08-06","object":"chat.completion.chunk","system_fingerprint":"fp_az","service_tier":"default"}

	data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"stop","index":0,"logprobs":null}],"created":1700000100,"id":"chatcmpl-az","model":"gpt-4o-2024-08-06","object":"chat.completion.chunk","system_fingerprint":"fp_az","service_tier":"default"}

	data: [DONE]

	EOF
	sse_line sse >in &&
	"$VMANJL" -q in >out &&
	cat >expect <<-\EOF &&
	{"id":"chatcmpl-az","object":"chat.completion","created":1700000100,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_az","service_tier":"default"}
	EOF
	resp_cmp out "{id: .body.id, object: .body.object, created: .body.created,
	    model: .body.model, system_fingerprint: .body.system_fingerprint,
	    service_tier: .body.service_tier}" expect &&
	has ".type==\"response\" and .status==200 and .content==\"Hi there\" and
	    (.body.choices | length)==1 and
	    .body.choices[0].message.content==\"Hi there\"" out
'

test_done
