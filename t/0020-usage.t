#!/bin/sh
# The command line: help, version, configuration errors (exit 2, nothing
# sent), and where the base URL and the key come from.
. "$(dirname "$0")/lib.sh"

test_expect_success '--help prints the usage and every option' '
	"$VMANJL" --help >out &&
	grep "^usage: vmanjl" out &&
	for o in -e -H -j -k -q -V -v --backoff --base-url --cacert \
	    --connect-timeout --events --format --idle-timeout --insecure \
	    --key-file --max-response-size --no-progress --progress \
	    --retries --timeout --window; do
		grep -e " $o" out || { echo "missing $o"; exit 1; }
	done
'

test_expect_success '--help agrees with the man page synopsis' '
	man=$(dirname "$VMANJL")/man1/vmanjl.1 &&
	for o in backoff base-url cacert connect-timeout events format \
	    idle-timeout insecure key-file max-response-size no-progress \
	    progress retries timeout window; do
		grep -e "^\.It Fl -$o" "$man" >/dev/null ||
			{ echo "man lacks --$o"; exit 1; }
	done
'

test_expect_success '-V prints the version' '
	"$VMANJL" -V >out &&
	grep "^vmanjl [0-9]" out
'

test_expect_success 'no base URL: exit 2 with a message naming the fix' '
	echo "{}" >in &&
	"$VMANJL" in 2>err >out; test $? -eq 2 &&
	grep "VMAN_BASE_URL" err &&
	test ! -s out
'

test_expect_success 'a base URL that is not http(s) is refused' '
	echo "{}" >in &&
	"$VMANJL" --base-url ftp://x in 2>err; test $? -eq 2 &&
	grep "invalid base URL" err
'

test_expect_success 'an unknown option exits 2 with the usage' '
	"$VMANJL" --no-such-option 2>err; test $? -eq 2 &&
	grep "^usage:" err
'

test_expect_success 'bad option values exit 2' '
	export VMAN_BASE_URL=http://127.0.0.1:9 &&
	for a in "-j 0" "-j x" "--retries -1" "--timeout abc" \
	    "--format csv" "--max-response-size 12Q" "-e relative" \
	    "-e //evil.example/x" "-H nocolon" "--window 0"; do
		"$VMANJL" $a </dev/null 2>err; st=$?
		test $st -eq 2 || { echo "$a: exit $st"; exit 1; }
		test -s err || { echo "$a: no message"; exit 1; }
	done
'

test_expect_success 'a header with a line break is refused (no injection)' '
	export VMAN_BASE_URL=http://127.0.0.1:9 &&
	"$VMANJL" -H "X-A: b
X-Injected: c" </dev/null 2>err; test $? -eq 2 &&
	grep "line break" err
'

test_expect_success 'a missing input file: exit 2 before anything is sent' '
	start_mock &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	"$VMANJL" in no-such-file 2>err >out; test $? -eq 2 &&
	grep "no-such-file" err &&
	test ! -s out &&
	mock_stats >stats && grep "\"requests\":0" stats
'

test_expect_success 'an empty key file is refused' '
	export VMAN_BASE_URL=http://127.0.0.1:9 &&
	: >key && chmod 600 key &&
	"$VMANJL" --key-file key </dev/null 2>err; test $? -eq 2 &&
	grep "empty" err
'

test_expect_success 'the key is not accepted as an argument' '
	export VMAN_BASE_URL=http://127.0.0.1:9 &&
	"$VMANJL" --key sk-x </dev/null 2>err; test $? -eq 2 &&
	"$VMANJL" --api-key sk-x </dev/null 2>err; test $? -eq 2
'

test_expect_success 'an empty input sends nothing and exits 0' '
	start_mock &&
	"$VMANJL" </dev/null >out 2>err &&
	test ! -s out &&
	grep "0 requests" err
'

test_done
