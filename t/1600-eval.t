#!/bin/sh
# examples/eval: a small evaluation run from make, reproducible.
. "$(dirname "$0")/lib.sh"
top=$(dirname "$T")

test_expect_success 'make -C examples/eval scores the answers' '
	cp -r "$top/examples/eval" eval &&
	MOCK="$T/mockvman" make -s -C eval VMANJL="$VMANJL" >out 2>&1 &&
	jq -e ".questions == 12 and .right + (.wrong | length) == 12" \
	    eval/score.json
'

test_expect_success 'the same score file twice, the second from the cache' '
	cp -r "$top/examples/eval" eval2 &&
	MOCK="$T/mockvman" make -s -C eval2 VMANJL="$VMANJL" reproduce \
	    >out 2>&1 &&
	grep "same score twice" out &&
	cmp eval2/score.first.json eval2/score.json &&
	test $(find eval2/.cache -type f | wc -l) -eq 12
'

test_expect_success 'a rerun after losing answers resends nothing' '
	cp -r "$top/examples/eval" eval3 &&
	start_mock &&
	make -s -C eval3 VMANJL="$VMANJL" >/dev/null 2>&1 &&
	mock_stats >before &&
	rm eval3/answers.jsonl eval3/score.json &&
	make -s -C eval3 VMANJL="$VMANJL" >/dev/null 2>&1 &&
	mock_stats >after &&
	test "$(jq .requests before)" = 12 &&
	test "$(jq .requests after)" = 12
'

test_done
