#!/bin/sh
# Output order: completion order by default, input order with -k (each
# request's records together, a bounded window), and exactly one terminal
# record per non-blank input line under a large mixed load.
. "$(dirname "$0")/lib.sh"
start_mock

# The line numbers of the terminal records of file $1, in output order.
terminal_lines () {
	jq -r 'select(.type=="response" or .type=="error") | .line' "$1"
}

# Check that in file $1 the records of each line are contiguous, the
# lines come in increasing order and each line's run ends with its
# terminal record (and has no other terminal record).
contiguous () {
	jq -r '"\(.line) \(.type)"' "$1" | awk '
		function term(t) { return t == "response" || t == "error" }
		NR > 1 && $1 != prev {
			if ($1 + 0 < prev + 0) {
				print "line " $1 " after line " prev; bad = 1
			}
			if (!term(last)) {
				print "line " prev " interrupted after " last
				bad = 1
			}
		}
		NR > 1 && $1 == prev && term(last) {
			print "record " $2 " after the terminal one of line " $1
			bad = 1
		}
		{ prev = $1; last = $2 }
		END {
			if (NR && !term(last)) {
				print "last line " prev " has no terminal"; bad = 1
			}
			exit bad
		}'
}

chat () {	# chat TEXT MOCK: a non-streamed chat request line
	printf '{"model":"m","messages":[{"role":"user","content":"%s"}],"mock":%s}\n' "$1" "$2"
}

stream () {	# stream TEXT MOCK: a streamed chat request line
	printf '{"model":"m","stream":true,"messages":[{"role":"user","content":"%s"}],"mock":%s}\n' "$1" "$2"
}

test_expect_success 'default order is completion order: a slow line 1 comes last' '
	{
		chat "slow one" "{\"delay_ms\":1000}"
		chat "fast two" "{}"
		stream "fast three" "{}"
		chat "fast four" "{}"
	} >in &&
	"$VMANJL" -j 4 in >out &&
	terminal_lines out >actual &&
	test $(wc -l <actual) -eq 4 &&
	test "$(tail -n 1 actual)" = 1 &&
	sort -n actual >sorted &&
	printf "1\n2\n3\n4\n" >expect &&
	test_cmp expect sorted &&
	jq -s -e ".[-1].type==\"response\" and .[-1].line==1 and
	    .[-1].content==\"slow one\"" out
'

test_expect_success 'default order: deltas of concurrent streams interleave' '
	{
		stream "a b c d e f" "{\"event_delay_ms\":100}"
		stream "g h i j k l" "{\"event_delay_ms\":100}"
	} >in &&
	"$VMANJL" -j 2 in >out &&
	jq -r "select(.type==\"delta\") | .line" out | uniq >runs &&
	test $(wc -l <runs) -gt 2
'

test_expect_success '-k: the same input comes out in input order' '
	{
		chat "slow one" "{\"delay_ms\":1000}"
		chat "fast two" "{}"
		stream "fast three" "{}"
		chat "fast four" "{}"
	} >in &&
	"$VMANJL" -k -j 4 in >out &&
	terminal_lines out >actual &&
	printf "1\n2\n3\n4\n" >expect &&
	test_cmp expect actual &&
	contiguous out
'

test_expect_success '-k: streamed deltas of each line stay together' '
	{
		stream "one two three four" "{\"event_delay_ms\":150}"
		stream "five six seven" "{\"event_delay_ms\":20}"
		chat "plain" "{\"delay_ms\":200}"
		stream "eight nine" "{\"delay_ms\":50}"
		stream "ten eleven twelve" "{\"event_delay_ms\":50}"
		chat "bad" "{\"status\":400}"
		stream "thirteen fourteen" "{}"
	} >in &&
	{ "$VMANJL" -k -j 8 in >out; test $? -eq 1; } &&
	contiguous out &&
	terminal_lines out >actual &&
	seq 7 >expect &&
	test_cmp expect actual &&
	jq -r "select(.type==\"delta\") | .line" out | uniq >runs &&
	printf "1\n2\n4\n5\n7\n" >expect &&
	test_cmp expect runs &&
	has ".line==2 and .type==\"response\" and
	    .content==\"five six seven\"" out
'

test_expect_success '-k: the head line streams out before it has finished' '
	{
		stream "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10" "{\"event_delay_ms\":200}"
		chat "quick" "{}"
	} >in &&
	{ "$VMANJL" -k -j 2 in >out & } &&
	pid=$! &&
	sleep 1 &&
	cp out early &&
	wait $pid &&
	has ".type==\"delta\" and .line==1" early &&
	terminal_lines out >actual &&
	printf "1\n2\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-k with a retry: the retry record stays in the run of its line' '
	{
		stream "p q r" "{\"id\":\"kr1\",\"fail_first\":1,\"close_after\":2}"
		stream "s t u" "{}"
		chat "v" "{\"id\":\"kr2\",\"fail_first\":1,\"status\":503}"
	} >in &&
	"$VMANJL" -k -j 3 --backoff 50 in >out &&
	contiguous out &&
	has ".type==\"retry\" and .line==1" out &&
	has ".type==\"retry\" and .line==3" out &&
	terminal_lines out >actual &&
	printf "1\n2\n3\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-k --window 2 -j 2: many requests, each line once, in order' '
	i=1 &&
	while [ $i -le 60 ]; do
		case $((i % 4)) in
		0) stream "s$i x y" "{\"event_delay_ms\":$((i % 7 * 3))}" ;;
		1) chat "c$i" "{\"delay_ms\":$((i * 37 % 50))}" ;;
		2) chat "e$i" "{\"status\":404}" ;;
		3) stream "t$i" "{\"delay_ms\":$((i * 13 % 40))}" ;;
		esac || return 1
		i=$((i + 1))
	done >in &&
	{ "$VMANJL" -k --window 2 -j 2 in >out; test $? -eq 1; } &&
	terminal_lines out >actual &&
	seq 60 >expect &&
	test_cmp expect actual &&
	contiguous out &&
	all ".type==\"response\"" "(.content | test(\"^[cst][0-9]\"))" out
'

test_expect_success '-k --window 2: input is not read past the window' '
	mock_reset &&
	{
		chat "head" "{\"delay_ms\":1500}"
		i=2
		while [ $i -le 10 ]; do
			chat "n$i" "{}" || return 1
			i=$((i + 1))
		done
	} >in &&
	{ "$VMANJL" -k --window 2 -j 2 in >out & } &&
	pid=$! &&
	sleep 0.8 &&
	mock_stats >stats &&
	wait $pid &&
	cat stats &&
	jq -e ".requests <= 2" stats &&
	terminal_lines out >actual &&
	seq 10 >expect &&
	test_cmp expect actual
'

# 500 lines: streamed, non-streamed, HTTP errors, retried ones, blank and
# malformed lines.
mixed () {
	awk 'BEGIN {
		# By i % 10, a format taking i and i % 13.
		f[0] = ""
		f[1] = "{not json"
		f[2] = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"s%d a b c\"}]}"
		f[3] = "{\"model\":\"m\",\"messages\":[],\"mock\":{\"status\":400}}"
		f[4] = "{\"model\":\"m\",\"messages\":[],\"mock\":{\"status\":503}}"
		f[5] = "{\"custom_id\":\"c%d\",\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"x\"}}"
		f[6] = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"u v\"}],\"mock\":{\"close_after\":2}}"
		f[7] = "[1,2]"
		f[8] = f[9] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"n%d\"}],\"mock\":{\"delay_ms\":%d}}"
		for (i = 1; i <= 500; i++)
			printf f[i % 10] "\n", i, i % 13
	}'
}

test_expect_success '500 mixed lines at -j 16: one terminal record per line' '
	mixed >in &&
	test $(wc -l <in) -eq 500 &&
	{ "$VMANJL" -j 16 --retries 1 --backoff 1 in >out 2>err; test $? -eq 1; } &&
	terminal_lines out | sort -n >actual &&
	awk "NF { print NR }" in >expect &&
	test $(wc -l <expect) -eq 450 &&
	test_cmp expect actual &&
	jq -s -e "length > 450" out &&
	grep "450 requests" err
'

test_expect_success '500 mixed lines at -j 16 with -k: once each, in order' '
	mixed >in &&
	{ "$VMANJL" -k -j 16 --retries 1 --backoff 1 in >out 2>err; test $? -eq 1; } &&
	terminal_lines out >actual &&
	awk "NF { print NR }" in >expect &&
	test_cmp expect actual &&
	contiguous out &&
	grep "450 requests" err
'

test_done
