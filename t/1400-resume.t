#!/bin/sh
# --resume: finishing an interrupted run.  After a kill -9, a Ctrl-C or
# errors, `vmanjl --resume out < reqs >> out` sends only what is missing
# and leaves exactly one terminal response per input line; a torn last
# line is cut off (or ignored); line numbers stand in for custom_ids;
# batch output works too; and two shards of one input make up the whole.
. "$(dirname "$0")/lib.sh"
start_mock

# N chat requests, custom_id and mock id cI, the server answering the
# I-th after I * STEP ms (STEP 0: at once).
reqs () {
	awk -v n="$1" -v step="${2:-0}" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"custom_id\":\"c%d\",\"body\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello %d\"}],\"mock\":{\"id\":\"c%d\",\"delay_ms\":%d}}}\n", i, i, i, i * step }'
}

# N streamed chat requests sI, the I-th with I * 60 ms between events.
streams () {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"custom_id\":\"s%d\",\"body\":{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"a b c d e f\"}],\"mock\":{\"id\":\"s%d\",\"event_delay_ms\":%d}}}\n", i, i, i * 60 }'
}

# What "terminals FILE custom_id" gives when every line of input $1
# ended in one response.
all_answered () {
	jq -r '"\(.custom_id) response"' "$1" | sort
}

# The custom_ids of the response records of file $1, sorted.
answered () {
	jq -r 'select(.type=="response") | .custom_id' "$1" | sort
}

# "id count" of every mock id the server saw since the last reset.
sent () {
	mock_stats | jq -r '.ids | to_entries[] | "\(.key) \(.value)"' | sort
}

# Every line of input in ended in exactly one terminal record of file
# $1 (default out), a response.
one_each () {
	terminals "${1:-out}" custom_id >actual &&
	all_answered in >expect &&
	test_cmp expect actual
}

# File $1: the records of the first three lines of in, then the first
# 150 bytes of the fourth's, a torn last line.
torn () {
	head -n 3 in >first &&
	"$VMANJL" -k first >"$1" 2>err &&
	sed -n 4p in >fourth &&
	"$VMANJL" fourth >rec4 2>err &&
	head -c 150 rec4 >>"$1"
}

# kill -9 the vmanjl in the background, $pid: it must die of it; the
# custom_ids answered in out by then into before, $k of them.
killed () {
	kill -9 $pid &&
	{ wait $pid; st=$?; } &&
	test $st -eq 137 &&
	answered out >before &&
	k=$(wc -l <before) &&
	echo "$k done before the kill"
}

# Wait (at most 5 s) until file $2 has at least $1 lines.
wait_lines () {
	i=0
	while [ $(wc -l <"$2") -lt "$1" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ $(wc -l <"$2") -ge "$1" ]
}

test_expect_success 'after a kill -9 mid-run, --resume sends only the rest' '
	reqs 20 150 >in &&
	: >out &&
	{ "$VMANJL" -j 20 <in >>out 2>err & } &&
	pid=$! &&
	wait_lines 5 out &&
	killed &&
	test $k -ge 5 && test $k -lt 20 &&
	all_answered in | sed "s/ response\$//" >all &&
	comm -23 all before | sed "s/\$/ 1/" >expect &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	cat err &&
	sent >actual &&
	test_cmp expect actual &&
	one_each &&
	test $(wc -l <out) -eq 20 &&
	grep "$k done before" err
'

test_expect_success 'streams killed half-way are sent again, deltas and all' '
	streams 6 >in &&
	: >out &&
	{ "$VMANJL" -j 6 <in >>out 2>err & } &&
	pid=$! &&
	i=0 &&
	while ! grep -q "\"type\":\"response\"" out && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done &&
	killed &&
	test $k -ge 1 && test $k -lt 6 &&
	jq -r "select(.type==\"delta\") | .custom_id" out | sort -u >streamed &&
	comm -23 streamed before >partial &&
	echo "half-way: $(cat partial)" &&
	test -s partial &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	one_each &&
	test "$(sent | wc -l)" -eq $((6 - k)) &&
	all ".type==\"response\"" ".content==\"a b c d e f\"" out
'

test_expect_success 'a torn last line is cut off when stdout is the resume file' '
	reqs 6 >in &&
	torn out &&
	head -n 3 out >whole &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	cat err &&
	grep "torn" err &&
	head -n 3 out >actual &&
	test_cmp whole actual &&
	test $(jq -s length out) -eq 6 &&
	one_each &&
	printf "c4 1\nc5 1\nc6 1\n" >expect &&
	sent >actual &&
	test_cmp expect actual
'

test_expect_success 'a whole last record without its newline: still one each' '
	reqs 4 >in &&
	"$VMANJL" -k in >out 2>err &&
	head -n 3 out >new &&
	sed -n 4p out | tr -d "\n" >>new &&
	mv new out &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	cat err &&
	test $(jq -s length out) -ge 4 &&
	one_each
'

test_expect_success 'a torn last line is ignored when the output goes elsewhere' '
	reqs 6 >in &&
	torn prev &&
	cp prev prev.orig &&
	mock_reset &&
	"$VMANJL" --resume prev <in >new 2>err &&
	cat err &&
	cmp prev.orig prev &&
	printf "c4 1\nc5 1\nc6 1\n" >expect &&
	sent >actual &&
	test_cmp expect actual &&
	head -n 3 prev >union &&
	cat new >>union &&
	one_each union
'

test_expect_success 'requests that ended in an error are sent again' '
	cat >in <<-\EOF &&
	{"custom_id":"ok1","body":{"model":"m","messages":[],"mock":{"id":"ok1"}}}
	{"custom_id":"bad","body":{"model":"m","messages":[],"mock":{"id":"bad","fail_first":1,"status":400}}}
	{"custom_id":"ok2","body":{"model":"m","messages":[],"mock":{"id":"ok2"}}}
	{"custom_id":"busy","body":{"model":"m","messages":[],"mock":{"id":"busy","fail_first":1,"status":503}}}
	EOF
	rm -f out &&
	mock_reset &&
	{ "$VMANJL" --retries 0 <in >>out 2>err; st=$?; } &&
	test $st -eq 1 &&
	has ".type==\"error\" and .custom_id==\"bad\" and .status==400" out &&
	has ".type==\"error\" and .custom_id==\"busy\" and .status==503" out &&
	"$VMANJL" --resume out <in >>out 2>err &&
	printf "bad 2\nbusy 2\nok1 1\nok2 1\n" >expect &&
	sent >actual &&
	test_cmp expect actual &&
	answered out >actual &&
	printf "bad\nbusy\nok1\nok2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'after a Ctrl-C, the interrupted requests are sent again' '
	reqs 8 200 >in &&
	: >out &&
	{ "$VMANJL" -j 8 <in >>out 2>err & } &&
	pid=$! &&
	wait_lines 3 out &&
	kill -INT $pid &&
	{ wait $pid; st=$?; } &&
	test $st -eq 130 &&
	has ".type==\"error\" and .error.type==\"interrupted\"" out &&
	answered out >before &&
	k=$(wc -l <before) &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	test "$(sent | wc -l)" -eq $((8 - k)) &&
	answered out >actual &&
	all_answered in | sed "s/ response\$//" >expect &&
	test_cmp expect actual
'

test_expect_success 'without custom_ids lines are matched by line number' '
	printf "{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"l%d\"}}\n\n" \
	    1 2 3 4 5 >in &&
	head -n 5 in >first &&
	"$VMANJL" first >out 2>err &&
	jq -r "select(.type==\"response\") | .line" out | sort -n >lines &&
	printf "1\n3\n5\n" >expect &&
	test_cmp expect lines &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	printf "l4 1\nl5 1\n" >expect &&
	sent >actual &&
	test_cmp expect actual &&
	jq -r "select(.type==\"response\" or .type==\"error\") |
	    \"\(.line) \(.type)\"" out | sort -n >actual &&
	printf "1 response\n3 response\n5 response\n7 response\n9 response\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a missing resume file means nothing is done yet' '
	reqs 3 >in &&
	mock_reset &&
	"$VMANJL" --resume nosuch <in >out 2>err &&
	test ! -e nosuch &&
	test "$(sent | wc -l)" -eq 3 &&
	grep "0 done before" err &&
	mock_reset &&
	"$VMANJL" --resume fresh <in >>fresh 2>err &&
	test "$(sent | wc -l)" -eq 3 &&
	one_each fresh
'

test_expect_success 'an unreadable resume file is fatal before anything is sent' '
	reqs 3 >in &&
	mkdir adir &&
	mock_reset &&
	{ "$VMANJL" --resume adir <in >out 2>err; st=$?; } &&
	test $st -eq 2 &&
	grep "adir" err &&
	test ! -s out &&
	mock_stats | jq -e ".requests == 0"
'

test_expect_success '--format batch output works as a resume file' '
	cat >in <<-\EOF &&
	{"custom_id":"b1","body":{"model":"m","messages":[],"mock":{"id":"b1"}}}
	{"custom_id":"b2","body":{"model":"m","messages":[],"mock":{"id":"b2","fail_first":1,"status":400}}}
	{"custom_id":"b3","body":{"model":"m","messages":[],"mock":{"id":"b3"}}}
	{"custom_id":"b4","body":{"model":"m","messages":[],"mock":{"id":"b4"}}}
	EOF
	head -n 3 in >first &&
	mock_reset &&
	{ "$VMANJL" --format batch first >out 2>err; st=$?; } &&
	test $st -eq 1 &&
	has ".custom_id==\"b2\" and .response.status_code==400" out &&
	"$VMANJL" --format batch --resume out <in >>out 2>err &&
	printf "b1 1\nb2 2\nb3 1\nb4 1\n" >expect &&
	sent >actual &&
	test_cmp expect actual &&
	jq -r "select(.error==null and .response.status_code==200) |
	    .custom_id" out | sort >actual &&
	printf "b1\nb2\nb3\nb4\n" >expect &&
	test_cmp expect actual
'

test_expect_success '--format batch without custom_ids resumes by line' '
	printf "{\"model\":\"m\",\"messages\":[],\"mock\":{\"id\":\"n%d\"}}\n" \
	    1 2 3 4 >in &&
	head -n 2 in >first &&
	"$VMANJL" --format batch first >out 2>err &&
	mock_reset &&
	"$VMANJL" --format batch --resume out <in >>out 2>err &&
	printf "n3 1\nn4 1\n" >expect &&
	sent >actual &&
	test_cmp expect actual &&
	jq -r "select(.error==null) | .id" out | sort >actual &&
	printf "vmanjl_req_1\nvmanjl_req_2\nvmanjl_req_3\nvmanjl_req_4\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'duplicate custom_ids in the input are reported, both lines named' '
	cat >in <<-\EOF &&
	{"custom_id":"a","body":{"model":"m","messages":[]}}
	{"custom_id":"b","body":{"model":"m","messages":[]}}
	{"custom_id":"a","body":{"model":"m","messages":[]}}
	{"custom_id":"c","body":{"model":"m","messages":[]}}
	EOF
	rm -f out &&
	"$VMANJL" --resume out <in >>out 2>err &&
	cat err &&
	grep "line 3.*line 1\|line 1.*line 3" err >dup &&
	grep -w a dup &&
	! grep "line [24]" err
'

test_expect_success 'resuming a complete run sends nothing and exits 0' '
	reqs 1200 >in &&
	"$VMANJL" -j 16 <in >out 2>err &&
	cp out out.orig &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	cat err &&
	cmp out.orig out &&
	mock_stats | jq -e ".requests == 0" &&
	grep "1200 done before" err
'

test_expect_success 'records of 200 KB in the resume file are read whole' '
	cat >in <<-\EOF &&
	{"custom_id":"big1","body":{"model":"m","messages":[],"mock":{"id":"big1","size":200000}}}
	{"custom_id":"big2","body":{"model":"m","messages":[],"mock":{"id":"big2","size":200000}}}
	{"custom_id":"big3","body":{"model":"m","messages":[],"mock":{"id":"big3","size":200000}}}
	EOF
	head -n 2 in >first &&
	"$VMANJL" -k first >out 2>err &&
	test $(wc -c <out) -gt 400000 &&
	sed -n 3p in >third &&
	"$VMANJL" third >rec3 2>err &&
	head -c 100000 rec3 >>out &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	printf "big3 1\n" >expect &&
	sent >actual &&
	test_cmp expect actual &&
	one_each
'

test_expect_success 'two local shards make up the whole input, once each' '
	reqs 200 >in &&
	split -n l/2 in shard. &&
	test -s shard.aa && test -s shard.ab &&
	test $(cat shard.aa shard.ab | wc -l) -eq 200 &&
	mock_reset &&
	{ "$VMANJL" -j 8 shard.aa >out.aa 2>err.aa & } &&
	pa=$! &&
	{ "$VMANJL" -j 8 shard.ab >out.ab 2>err.ab & } &&
	pb=$! &&
	{ wait $pa; sa=$?; } &&
	{ wait $pb; sb=$?; } &&
	test $sa -eq 0 && test $sb -eq 0 &&
	cat out.aa out.ab >out &&
	one_each &&
	mock_stats | jq -e ".requests == 200" &&
	mock_reset &&
	"$VMANJL" --resume out <in >>out 2>err &&
	mock_stats | jq -e ".requests == 0"
'

test_done
