#!/bin/sh
# The fault matrix: every server fault the local server can produce,
# crossed with streamed and non-streamed requests and with -k on and
# off, many requests in flight at once.  Each column of the matrix is
# one vmanjl run (-j 8 --retries 2 --backoff 1) whose input holds every
# cell as a line; for every cell exactly one terminal record, of the
# right type, status and attempt count (with one retry record per extra
# attempt), and a message that names the cause.  The matrix is printed
# as TAP comments.  Then memory: a 100 MB answer refused by
# --max-response-size, and peak RSS flat over 100,000 requests at -j 64.
. "$(dirname "$0")/lib.sh"
start_mock

# The table: name | mock member (or "refused": a closed port) | stream
# (no, yes or both) | terminal type | status | attempts | a regex the
# error message (of a response: its content) must match | the group:
# cells of one group run in one vmanjl, with the group's options.
# The idle timeout of every run is 1 s; the slow drip writes a byte
# every 10 ms and must not trip it.  The "reset ... once" cells stay
# among the first 8 lines, which start together on fresh connections:
# on a reused connection libcurl re-sends a request reset before the
# headers by itself (see the test after the matrix).  The relay's rows
# (text/html 200, truncated [DONE], pings then a bare error, its own
# refusals) are here too; Midjourney's code 23 needs a task route, which
# the matrix's chat body cannot reach: t/2100-relay.t has it.
cat >"$TMP/table" <<\EOF
ok                  | {}                                          | both | response | 200  | 1 | ^hello matrix words$
connection refused  | refused                                     | both | error    | null | 3 | [Cc]onnect
reset before hdrs   | {"reset":"before_headers"}                  | both | error    | null | 3 | [Rr]eset
reset once          | {"reset":"before_headers","fail_first":1}   | both | response | 200  | 2 | ^hello matrix words$
reset mid-body      | {"close_after":10}                          | no   | error    | 200  | 3 | transfer closed with [0-9]+ bytes remaining
reset mid-stream    | {"close_after":2}                           | yes  | error    | 200  | 3 | transfer closed
reset mid-str once  | {"close_after":2,"fail_first":1}            | yes  | response | 200  | 2 | ^hello matrix words$
slow before hdrs    | {"delay_ms":2500}                           | both | response | 200  | 1 | ^hello matrix words$
stall mid-body      | {"stall_after":10}                          | no   | error    | 200  | 3 | ^idle timeout: .*middle of the answer
stall mid-stream    | {"stall_after":2}                           | yes  | error    | 200  | 3 | ^idle timeout: .*middle of the answer
429 Retry-After     | {"status":429,"retry_after":"1"}            | both | error    | 429  | 3 | ^mock error 429$
429 Retry-After 1x  | {"status":429,"retry_after":"1","fail_first":1} | no | response | 200 | 2 | ^hello matrix words$
429                 | {"status":429}                              | both | error    | 429  | 3 | ^mock error 429$
500                 | {"status":500}                              | both | error    | 500  | 3 | ^mock error 500$
502                 | {"status":502}                              | both | error    | 502  | 3 | ^mock error 502$
503                 | {"status":503}                              | both | error    | 503  | 3 | ^mock error 503$
504                 | {"status":504}                              | both | error    | 504  | 3 | ^mock error 504$
408                 | {"status":408}                              | both | error    | 408  | 3 | ^mock error 408$
409                 | {"status":409}                              | both | error    | 409  | 3 | ^mock error 409$
503 once            | {"status":503,"fail_first":1}               | both | response | 200  | 2 | ^hello matrix words$
400                 | {"status":400}                              | both | error    | 400  | 1 | ^mock error 400$
401                 | {"status":401}                              | both | error    | 401  | 1 | ^mock error 401$
403                 | {"status":403}                              | both | error    | 403  | 1 | ^mock error 403$
404                 | {"status":404}                              | both | error    | 404  | 1 | ^mock error 404$
422                 | {"status":422}                              | both | error    | 422  | 1 | ^mock error 422$
insufficient_quota  | {"status":429,"body":{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}} | both | error | 429 | 1 | ^You exceeded your current quota$
malformed JSON body | {"raw":"{not json"}                         | both | error    | 200  | 1 | ^invalid JSON in the answer
malformed data line | {"bad_data":2}                              | yes  | error    | 200  | 1 | ^malformed data line in stream
error event         | {"error_event":2}                           | yes  | error    | 200  | 1 | ^mock stream error$
no [DONE]           | {"no_done":true}                            | yes  | error    | 200  | 3 | ^stream ended without \[DONE\]$
no [DONE] once      | {"no_done":true,"fail_first":1}             | yes  | response | 200  | 2 | ^hello matrix words$
invalid UTF-8       | {"invalid_utf8":true}                       | no   | error    | 200  | 1 | ^invalid JSON in the answer: .*UTF8
invalid UTF-8       | {"invalid_utf8":true}                       | yes  | error    | 200  | 1 | ^malformed data line in stream: .*UTF8
100 MB, 64M limit   | {"size":104857600}                          | no   | error    | 200  | 1 | max-response-size \(67108864 bytes\)
HTTP/1.0 close      | {"http10":true}                             | both | response | 200  | 1 | ^hello matrix words$
bad chunked         | {"bad_chunked":2}                           | yes  | error    | 200  | 3 | chunked
slow drip           | {"chunk":1,"chunk_delay_ms":10,"content":"ok"} | both | response | 200 | 1 | ^ok$
text/html 200       | {"raw":"<!doctype html><html><head><title>New API</title></head><body></body></html>","content_type":"text/html; charset=utf-8"} | both | error | 200 | 1 | ^HTTP 200 text/html; charset=utf-8 is a web page, not an API answer .*: New API$
truncated [DONE]    | {"cut_finish":true}                         | yes  | error    | 200  | 3 | ^stream truncated: choice 0 has no finish_reason at \[DONE\]$
truncated once      | {"cut_finish":true,"fail_first":1}          | yes  | response | 200  | 2 | ^hello matrix words$
pings, bare error   | {"pings":2,"bare_error":{"error":{"message":"upstream boom","type":"upstream_error","code":"bad_response_status_code"}}} | yes | error | 200 | 3 | ^upstream boom$
pings, bare 400ish  | {"pings":2,"bare_error":{"error":{"message":"bad param","type":"invalid_request_error","code":"invalid_request"}}} | yes | error | 200 | 1 | ^bad param$
pings, then stream  | {"pings":3}                                 | yes  | response | 200  | 1 | ^hello matrix words$
503 model_not_found | {"relay_error":"model_not_found"}           | both | error    | 503  | 1 | ^no available channel for model m .*\(request id: [0-9]+\)$
403 user quota      | {"relay_error":"insufficient_user_quota"}   | both | error    | 403  | 1 | ^user quota is not enough.*\(request id: [0-9]+\)$
429 empty body      | {"relay_error":"rate_limit"}                | both | error    | 429  | 3 | ^HTTP 429 with an empty body$
ok                  | {}                                          | both | response | 200  | 1 | ^hello matrix words$ | 200M
100 MB, 200M limit  | {"size":104857600}                          | no   | response | 200  | 1 | ^hello matrix wordsxxxx | 200M
EOF

# The options of a group.
group_opts () {
	case $1 in
	200M) echo "--max-response-size 200M" ;;
	*) echo "" ;;
	esac
}

test_expect_success 'the fault matrix: one right terminal record per cell' '
	jq -R -n -c "[inputs | select(test(\"^\\\\s*(#|\$)\") | not)
	    | [splits(\" +\\\\| +\")]
	    | {name: .[0], mock: .[1], stream: .[2], type: .[3],
	       status: (.[4] | fromjson), attempts: (.[5] | tonumber),
	       re: .[6], group: (.[7] // \"default\")}
	    | (if .stream == \"both\" then \"no\", \"yes\" else .stream end)
	      as \$s
	    | .name += (if \$s == \"yes\" then \" /s\" else \" /n\" end)
	    | .stream = (\$s == \"yes\")]" table >cells.json &&
	jq -e "length > 60" cells.json >/dev/null &&
	: >matrix.tsv &&
	for g in default 200M; do
		for k in off on; do
			col=$g-k$k &&
			jq -c --arg g $g --arg col $col ".[] | select(.group == \$g) |
			    {custom_id: .name,
			     body: ({model: \"m\", stream: .stream,
				     messages: [{role: \"user\",
				       content: \"hello matrix words\"}]} +
				    if .mock == \"refused\" then {} else
				    {mock: ((.mock | fromjson) +
				      {id: (\$col + \":\" + .name)})} end)} +
			    if .mock == \"refused\" then
			      {url: \"http://127.0.0.1:1/v1/chat/completions\"}
			    else {} end" cells.json >in.$col || exit 1
			kopt= && [ $k = off ] || kopt=-k
			{ timeout 120 "$VMANJL" $kopt -j 8 --retries 2 \
			    --backoff 1 --idle-timeout 1 $(group_opts $g) \
			    in.$col >out.$col 2>err.$col; echo $? >rc.$col; } &
		done
	done &&
	wait &&
	fails=0 &&
	for g in default 200M; do
		for k in off on; do
			col=$g-k$k &&
			n=$(wc -l <in.$col) &&
			cat err.$col &&
			jq -r -n --slurpfile c cells.json --arg g $g \
			    --arg col $col "[inputs] as \$out |
			    \$c[0] | map(select(.group == \$g)) | to_entries[] |
			    (.key + 1) as \$line | .value as \$cell |
			    [\$out[] | select(.custom_id == \$cell.name)] as \$recs |
			    [\$recs[] | select(.type == \"response\" or
				.type == \"error\")] as \$t |
			    [\$recs[] | select(.type == \"retry\")] as \$retries |
			    (\$t[0] // {}) as \$r |
			    ((\$r.error.message // \$r.content // \"\") | tostring |
				.[0:1000]) as \$msg |
			    ((\$t | length) == 1 and \$r.line == \$line and
			     \$r.type == \$cell.type and
			     \$r.status == \$cell.status and
			     \$r.attempts == \$cell.attempts and
			     (\$retries | length) == \$cell.attempts - 1 and
			     (\$msg | test(\$cell.re))) as \$ok |
			    [\"\(\$col) \(\$cell.name)\",
			     \"\(\$cell.type) \(\$cell.status) x\(\$cell.attempts)\",
			     \"\(\$r.type) \(\$r.status) x\(\$r.attempts)\" +
			       (if (\$t | length) != 1 then
				 \" (\(\$t | length) terminal)\" else \"\" end) +
			       (if (\$retries | length) != \$cell.attempts - 1
				 then \" \(\$retries | length) retries\"
				 else \"\" end),
			     (if \$ok then \"ok\" else \"FAIL\" end),
			     (\$msg[0:70] | gsub(\"[\\t\\n]\"; \" \"))] |
			    @tsv" out.$col >rows.$col || exit 1
			cat rows.$col >>matrix.tsv &&
			test $(wc -l <rows.$col) -eq $n || {
				echo "$col: $n cells, $(wc -l <rows.$col) rows"; exit 1; }
			# Exactly one terminal record per input line, no more.
			t=$(jq -s "map(select(.type == \"response\" or
			    .type == \"error\")) | length" out.$col) &&
			test "$t" -eq $n || {
				echo "$col: $n lines, $t terminal records"; exit 1; }
			# With -k the terminal records come in input order.
			if [ $k = on ]; then
				jq -s -e "[.[] | select(.type == \"response\" or
				    .type == \"error\") | .line] as \$l |
				    \$l == (\$l | sort)" out.$col >/dev/null || {
					echo "$col: -k out of order"; exit 1; }
			fi
			errs=$(jq -s "map(select(.type == \"error\")) | length" \
			    out.$col) &&
			want=0 && [ $errs -eq 0 ] || want=1
			test "$(cat rc.$col)" -eq $want || {
				echo "$col: exit $(cat rc.$col), want $want"; exit 1; }
			grep "vmanjl: $n requests, $((n - errs)) ok, $errs errors" \
			    err.$col || { echo "$col: wrong summary"; exit 1; }
		done
	done &&
	# The 100 MB answer came whole under the 200M limit.
	for col in 200M-koff 200M-kon; do
		jq -e "select(.type == \"response\" and
		    .custom_id == \"100 MB, 200M limit /n\") |
		    (.content | length) > 100000000" out.$col >/dev/null || {
			echo "$col: the 100 MB answer is not whole"; exit 1; }
	done &&
	! grep "	FAIL	" matrix.tsv
'

# The matrix, as a table, whatever the outcome.
if [ -s "$TMP/matrix.tsv" ]; then
	awk -F '\t' '
	BEGIN { printf "# %-40s %-22s %-36s %-4s %s\n", "cell", "expected",
	    "got", "ok?", "message / content" }
	{ printf "# %-40s %-22s %-36s %-4s %s\n", $1, $2, $3, $4, $5 }' \
	    "$TMP/matrix.tsv"
	echo "# $(grep -c '	ok	' "$TMP/matrix.tsv") ok," \
	    "$(grep -c '	FAIL	' "$TMP/matrix.tsv") FAIL"
fi

# libcurl re-sends a request on its own when a reused connection dies
# before the answer; such a send is an HTTP request all the same
# (vmanjl(1): attempts is "the number of HTTP requests made", and
# --retries n allows "at most n+1 attempts").  -j 1 and a first request
# make the connection a reused one.
test_expect_success 'attempts counts the requests the server saw (libcurl may add one)' '
	for r in 0 2; do
		cat >in.$r <<-EOF &&
		{"model":"m","messages":[{"role":"user","content":"warm up the connection"}]}
		{"model":"m","messages":[],"mock":{"id":"count-rst-$r","reset":"before_headers"}}
		EOF
		{ timeout 30 "$VMANJL" -j 1 --retries $r --backoff 1 in.$r \
		    >out.$r 2>err.$r; st=$?; } &&
		test $st -eq 1 &&
		has ".type==\"error\" and .line==2 and .status==null and
		    .attempts==$((r + 1))" out.$r || exit 1
		mock_stats >stats.$r &&
		seen=$(jq ".ids[\"count-rst-$r\"]" stats.$r) &&
		echo "--retries $r: attempts $((r + 1)), the server saw $seen" &&
		# libcurl itself sends once more on a fresh connection when a
		# reused one dies before any answer (see BUGS in vmanjl(1)):
		# the first attempt, never more.
		test "$seen" -ge $((r + 1)) && test "$seen" -le $((r + 2)) ||
			exit 1
	done
'

# A JSON text must be UTF-8 (RFC 8259); a lone surrogate, escaped in the
# answer or sent as its three UTF-8-like bytes, must not come out as
# bytes that are not UTF-8.
test_expect_success 'answers with lone surrogates never make records that are not UTF-8' '
	cat >in <<-\EOF &&
	{"custom_id":"escaped","body":{"model":"m","messages":[],"mock":{"raw":"{\"a\":\"x\\udc00y\"}"}}}
	{"custom_id":"bytes","body":{"model":"m","messages":[],"mock":{"content":"x\udc00y"}}}
	{"custom_id":"stream","body":{"model":"m","stream":true,"messages":[],"mock":{"content":"x\udc00y"}}}
	EOF
	{ timeout 30 "$VMANJL" --retries 0 in >out 2>err; st=$?; } &&
	cat -v out &&
	test $st -le 1 &&
	test $(jq -s "map(select(.type==\"response\" or
	    .type==\"error\")) | length" out) -eq 3 &&
	iconv -f UTF-8 -t UTF-8 out >/dev/null
'

# Peak RSS is measured with GNU time: /usr/bin/time -f %M (KiB).
HAVE_TIME=
# Under the sanitizers (make check-sanitize) memory is theirs: no RSS.
[ -z "${VMANJL_SANITIZE:-}" ] &&
	/usr/bin/time -f %M -o "$TMP/probe" true 2>/dev/null && HAVE_TIME=1

if [ -n "$HAVE_TIME" ]; then
	test_expect_success 'a 100 MB answer over --max-response-size: error, RSS < 80 MB' '
		printf "%s\n" "{\"model\":\"m\",\"messages\":[],\"mock\":{\"size\":104857600}}" >big &&
		{ /usr/bin/time -f %M -o rss.big timeout 60 "$VMANJL" big \
		    >out.big 2>err.big; test $? -eq 1; } &&
		echo "peak RSS $(tail -1 rss.big) KiB" &&
		has ".type==\"error\" and .status==200 and .attempts==1 and
		    .error.type==\"response_too_large\"" out.big &&
		test $(tail -1 rss.big) -lt 81920
	'

	test_expect_success 'peak RSS is flat from 10,000 to 100,000 requests at -j 64' '
		for n in 10000 100000; do
			awk -v n=$n "BEGIN { for (i = 0; i < n; i++)
			    print \"{\\\"model\\\":\\\"m\\\",\\\"messages\\\":[{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"q \" i \"\\\"}]}\" }" \
			    >in.$n &&
			for k in "" -k; do
				/usr/bin/time -f %M -o rss.$n$k timeout 60 \
				    "$VMANJL" -q -j 64 $k in.$n >out.$n$k ||
				    { echo "$n $k: exit $?"; exit 1; }
				test $(grep -c "\"type\":\"response\"" out.$n$k) \
				    -eq $n || { echo "$n $k: records lost"; exit 1; }
				echo "$n requests $k: peak RSS $(tail -1 rss.$n$k) KiB"
			done
		done &&
		for k in "" -k; do
			a=$(tail -1 rss.10000$k) && b=$(tail -1 rss.100000$k) &&
			test $b -lt 32768 &&
			test $((b * 100)) -le $((a * 125)) &&
			test $((b * 100)) -ge $((a * 75)) || exit 1
		done
	'
	for f in "$TMP"/rss.*; do
		[ -f "$f" ] && echo "# peak RSS ${f##*/rss.}: $(tail -1 "$f") KiB"
	done
else
	test_skip 'a 100 MB answer over --max-response-size: error, RSS < 80 MB' \
	    '/usr/bin/time (GNU time) is not installed'
	test_skip 'peak RSS is flat from 10,000 to 100,000 requests at -j 64' \
	    '/usr/bin/time (GNU time) is not installed'
fi

test_done
