#!/bin/sh
# The Gemini dialect: POST /v1beta/models/{model}:generateContent and
# :streamGenerateContent?alt=sse (streamed by its path, no [DONE]).
# Deltas from text and thought parts, the assembled GenerateContentResponse
# equal to the non-streamed one, content, finish_reason and usage in
# chat's words, the stream's faults and which of them are retried, and
# the run's other promises (--events, --format batch, the cache, the
# summary).
. "$(dirname "$0")/lib.sh"
start_mock

M=/v1beta/models
S=":streamGenerateContent?alt=sse"

# A request line: custom_id $1, model $2, method ($S or :generateContent)
# $3, the text $4, more members of the body $5.
gem () {
	printf '{"custom_id":"%s","url":"%s/%s%s","body":{"contents":[{"role":"user","parts":[{"text":"%s"}]}]%s}}\n' \
	    "$1" "$M" "$2" "$3" "$4" "${5:+,$5}"
}

# The delta member $2 (content or reasoning) of file $1, joined.
joined () {
	jq -j "select(.type==\"delta\") | .${2:-content} // empty" "$1"
}

# What must agree between a streamed and a non-streamed answer: all of
# the response record but the responseId, which names the request.
essence () {
	jq -S -c "select(.type==\"response\") | del(.line, .custom_id,
	    .body.responseId)" "$1"
}

test_expect_success 'the endpoint table names both paths' '
	"$VMANJL" --endpoints >ep &&
	grep "^POST *$M/\*:generateContent .* gemini .* relay" ep &&
	grep "^POST *$M/\*:streamGenerate\* .* gemini .* relay" ep
'

test_expect_success 'one content delta per chunk, in order, joined equal to content' '
	gem s1 gemini-2.0-flash "$S" "one two three four" >in &&
	"$VMANJL" -q in >out &&
	word_deltas out s1 one two three four &&
	has ".type==\"response\" and .status==200 and .attempts==1 and
	    .content==\"one two three four\" and .finish_reason==\"stop\" and
	    .usage=={\"prompt_tokens\":4,\"completion_tokens\":4,
	    \"total_tokens\":8} and
	    .body.candidates[0].finishReason==\"STOP\" and
	    .body.modelVersion==\"gemini-2.0-flash\" and
	    (.body.responseId | startswith(\"gemini-mock-\"))" out
'

test_expect_success 'thought parts: reasoning deltas, kept out of content' '
	gem t1 gemini-2.0-flash-thinking "$S" "deep thought" >in &&
	"$VMANJL" -q in >out &&
	test "$(joined out reasoning)" = "think: deep thought" &&
	test "$(joined out)" = "deep thought" &&
	all ".type==\"delta\"" "has(\"reasoning\") != has(\"content\")" out &&
	has ".type==\"response\" and .content==\"deep thought\" and
	    .body.candidates[0].content.parts==[
	    {\"text\":\"think: deep thought\",\"thought\":true},
	    {\"text\":\"deep thought\"}]" out
'

test_expect_success 'usage counts the thoughts as completion tokens' '
	gem t2 gemini-2.0-flash-thinking "$S" "deep thought" >in &&
	"$VMANJL" -q in >out &&
	has ".type==\"response\" and
	    .body.usageMetadata.thoughtsTokenCount==3 and
	    .body.usageMetadata.candidatesTokenCount==2 and
	    .usage=={\"prompt_tokens\":2,\"completion_tokens\":5,
	    \"total_tokens\":7}" out
'

test_expect_success 'includeThoughts asks for thoughts on any model' '
	gem t3 gemini-2.0-flash "$S" "x y" \
	    "\"generationConfig\":{\"thinkingConfig\":{\"includeThoughts\":true}}" >in &&
	"$VMANJL" -q in >out &&
	test "$(joined out reasoning)" = "think: x y" &&
	has ".type==\"response\" and .content==\"x y\"" out
'

test_expect_success 'the streamed body equals the non-streamed answer' '
	for m in gemini-2.0-flash gemini-2.5-flash-thinking; do
		gem p $m :generateContent "the same words" >plain &&
		gem s $m "$S" "the same words" >streamed &&
		"$VMANJL" -q plain >out.plain &&
		"$VMANJL" -q streamed >out.stream &&
		has ".type==\"response\"" out.plain &&
		essence out.plain >expect &&
		essence out.stream >actual &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'non-streamed: content without thoughts, finish_reason, usage' '
	gem n1 gemini-2.0-flash-thinking :generateContent "a b c" >in &&
	"$VMANJL" -q in >out &&
	test $(count ".type==\"delta\"" out) -eq 0 &&
	has ".type==\"response\" and .content==\"a b c\" and
	    .finish_reason==\"stop\" and
	    .usage=={\"prompt_tokens\":3,\"completion_tokens\":7,
	    \"total_tokens\":10}" out
'

test_expect_success 'MAX_TOKENS is "length", streamed or not' '
	g="\"generationConfig\":{\"maxOutputTokens\":2}" &&
	{
		gem m1 gemini-2.0-flash "$S" "a b c d" "$g"
		gem m2 gemini-2.0-flash :generateContent "a b c d" "$g"
	} >in &&
	"$VMANJL" -q -k in >out &&
	all ".type==\"response\"" ".content==\"a b\" and
	    .finish_reason==\"length\" and
	    .body.candidates[0].finishReason==\"MAX_TOKENS\" and
	    .usage.completion_tokens==2" out &&
	test $(count ".type==\"response\"" out) -eq 2
'

test_expect_success 'SAFETY is "content_filter", the ratings in the body' '
	{
		gem f1 gemini-2.0-flash "$S" "an unsafe request"
		gem f2 gemini-2.0-flash :generateContent "an unsafe request"
	} >in &&
	"$VMANJL" -q -k in >out &&
	all ".type==\"response\"" ".content==\"\" and
	    .finish_reason==\"content_filter\" and
	    .body.candidates[0].finishReason==\"SAFETY\" and
	    .body.candidates[0].safetyRatings[0].blocked==true" out &&
	test $(count ".type==\"response\"" out) -eq 2 &&
	test $(count ".type==\"delta\"" out) -eq 0
'

test_expect_success 'an error chunk: an error record with its message, not retried' '
	mock_reset &&
	gem e1 gemini-2.0-flash "$S" "a b c d" \
	    "\"mock\":{\"id\":\"gerr\",\"error_event\":2}" >in &&
	test_must_fail "$VMANJL" -q --retries 3 --backoff 1 in >out &&
	has ".type==\"error\" and .attempts==1 and
	    .error.message==\"mock stream error\" and .error.code==500 and
	    .body.error.status==\"INTERNAL\"" out &&
	test $(count ".type==\"delta\"" out) -eq 2 &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	test "$(seen gerr)" -eq 1
'

test_expect_success 'cut before any finishReason: retried, then an error' '
	mock_reset &&
	gem c1 gemini-2.0-flash "$S" "a b c d" \
	    "\"mock\":{\"id\":\"gcut\",\"close_after\":2}" >in &&
	test_must_fail "$VMANJL" -q --retries 2 --backoff 1 in >out &&
	has ".type==\"error\" and .attempts==3" out &&
	test $(count ".type==\"retry\"" out) -eq 2 &&
	test "$(seen gcut)" -eq 3
'

test_expect_success 'a clean end without a finishReason is a broken stream' '
	mock_reset &&
	d="data: {\\\"candidates\\\":[{\\\"content\\\":{\\\"parts\\\":[{\\\"text\\\":\\\"half\\\"}]},\\\"index\\\":0}]}\\n\\n" &&
	gem o1 gemini-2.0-flash "$S" "x" \
	    "\"mock\":{\"id\":\"gopen\",\"raw\":\"$d\",\"content_type\":\"text/event-stream\"}" >in &&
	test_must_fail "$VMANJL" -q --retries 1 --backoff 1 in >out &&
	has ".type==\"error\" and .attempts==2 and
	    .error.type==\"stream_error\" and
	    (.error.message | test(\"without a finishReason\"))" out &&
	test "$(seen gopen)" -eq 2
'

test_expect_success 'fail_first 1: the second attempt gives the response' '
	mock_reset &&
	gem r1 gemini-2.0-flash "$S" "a b c d" \
	    "\"mock\":{\"id\":\"gff\",\"fail_first\":1,\"close_after\":2}" >in &&
	"$VMANJL" -q --retries 2 --backoff 1 in >out &&
	has ".type==\"retry\" and .attempt==1" out &&
	has ".type==\"response\" and .attempts==2 and
	    .content==\"a b c d\"" out &&
	test "$(seen gff)" -eq 2
'

test_expect_success 'a long stream (repeat) assembles every chunk' '
	gem l1 gemini-2.0-flash "$S" "ab cd" "\"mock\":{\"content\":\"x y\",\"repeat\":500}" >in &&
	"$VMANJL" -q in >out &&
	test $(count ".type==\"delta\"" out) -eq 1000 &&
	has ".type==\"response\" and (.content | length)==1500 and
	    .usage.completion_tokens==1000" out &&
	joins_to_content out
'

test_expect_success '--events: the exact data lines, no deltas' '
	gem v1 gemini-2.0-flash "$S" "ev one two" >in &&
	jq -c .body in >body &&
	events_as_sent body "$M/gemini-2.0-flash$S" &&
	has ".type==\"response\" and .body==null and .events==3" out &&
	test $(count ".type==\"delta\"" out) -eq 0
'

test_expect_success '--format batch: the assembled body in response.body' '
	gem b1 gemini-2.0-flash-thinking "$S" "batch me" >in &&
	"$VMANJL" -q --format batch in >out &&
	test $(wc -l <out) -eq 1 &&
	has ".custom_id==\"b1\" and .error==null and
	    .response.status_code==200 and
	    .response.body.candidates[0].content.parts[1].text==\"batch me\" and
	    .response.body.candidates[0].content.parts[0].thought==true" out
'

test_expect_success 'the cache replays a stream byte for byte' '
	{
		gem k1 gemini-2.0-flash-thinking "$S" "cache this"
		gem k2 gemini-2.0-flash :generateContent "and this"
	} >in &&
	cache_replays c &&
	has ".type==\"delta\" and .reasoning" out2
'

test_expect_success '--resume sends only what is missing' '
	{
		gem z1 gemini-2.0-flash "$S" "first"
		gem z2 gemini-2.0-flash "$S" "second"
	} >in &&
	head -n 1 in >in1 &&
	"$VMANJL" -q in1 >out &&
	n=$(requests) &&
	"$VMANJL" -q --resume out <in >>out &&
	test $(requests) -eq $((n + 1)) &&
	terminals out custom_id >t &&
	printf "z1 response\nz2 response\n" >expect &&
	test_cmp expect t
'

test_expect_success 'the summary counts the tokens, thoughts included' '
	{
		gem u1 gemini-2.0-flash-thinking "$S" "a b"
		gem u2 gemini-2.0-flash :generateContent "c d e"
	} >in &&
	"$VMANJL" in >out 2>err &&
	grep "2 ok" err &&
	grep "5 prompt + 8 completion tokens" err
'

test_done
