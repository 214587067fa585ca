#!/bin/sh
# The bad input matrix: every kind of malformed line, each ending in
# exactly its documented record (an invalid_request error with status
# null, attempts 0 and a message "line N: ..." that names the fault),
# never a crash, a hang or a lost line; header injection refused; a url
# that is a path never leaves the base URL's host; a 100 MB line sent
# whole, a line over 256 MiB refused, a million one-byte lines and a
# million blank lines handled fast in bounded memory.
. "$(dirname "$0")/lib.sh"
start_mock

# The table: name | the line, as a printf(1) format (EMPTY: an empty
# line; %% for a %) | what it gets: ok (a response), bad (an invalid_request error),
# 404 (sent to the base URL's host, which does not know the path), page
# (sent there too, outside /v1 and /api: the relay's dashboard, an
# html_answer error; the next test checks the path that arrived) or
# blank (skipped, no record) | a regex the message must match (after
# "line N: " for bad).
cat >"$TMP/table" <<\EOF
BOM on the first line   | \357\273\277{"model":"m","messages":[]}                  | ok    |
plain bare body         | {"model":"m","messages":[]}                              | ok    |
CRLF line end           | {"model":"m","messages":[]}\r                            | ok    |
empty line              | EMPTY                                                    | blank |
CR alone                | \r                                                       | blank |
spaces, tab, CR         | \040\t\040\r                                             | blank |
invalid JSON            | {not json                                                | bad   | ^invalid JSON at column [0-9]+:
a JSON array            | [1,2]                                                    | bad   | not a JSON object: it is an array
a JSON number           | 42                                                       | bad   | not a JSON object: it is a number
a JSON string           | "s"                                                      | bad   | not a JSON object: it is a string
JSON null               | null                                                     | bad   | not a JSON object: it is null
JSON true               | true                                                     | bad   | not a JSON object: it is a boolean
two objects             | {"a":1} {"b":2}                                          | bad   | invalid JSON
truncated object        | {"model":"m","messages":[                                | bad   | invalid JSON.*premature EOF
truncated string        | {"model":"m                                              | bad   | invalid JSON
NUL after the object    | {"a":1}\000{}                                            | bad   | invalid JSON
NUL in a string         | {"model":"a\000b","messages":[]}                         | bad   | invalid
NUL alone               | \000                                                     | bad   | invalid JSON
NUL before the object   | \000{"model":"m","messages":[]}                          | bad   | invalid JSON
escaped NUL is JSON     | {"model":"a\\u0000b","messages":[]}                      | ok    |
UTF-8: byte FF          | {"model":"\377","messages":[]}                           | bad   | UTF-?8
UTF-8: lone cont. byte  | {"model":"\200","messages":[]}                           | bad   | UTF-?8
UTF-8: cut sequence     | {"model":"\342\202","messages":[]}                       | bad   | UTF-?8
UTF-8: in a key         | {"\376":1}                                               | bad   | UTF-?8
UTF-8: 5-byte form      | {"model":"\370\210\200\200\200","messages":[]}           | bad   | UTF-?8
UTF-8: overlong /       | {"model":"\300\257","messages":[]}                       | bad   | UTF-?8
UTF-8: overlong NUL     | {"model":"\300\200","messages":[]}                       | bad   | UTF-?8
UTF-8: overlong 3-byte  | {"model":"\340\200\257","messages":[]}                   | bad   | UTF-?8
UTF-8: UTF-16 surrogate | {"model":"\355\240\200","messages":[]}                   | bad   | UTF-?8
UTF-8: above U+10FFFF   | {"model":"\364\220\200\200","messages":[]}               | bad   | UTF-?8
UTF-8: lead byte F5     | {"model":"\365\200\200\200","messages":[]}               | bad   | UTF-?8
UTF-8: valid 4 bytes    | {"model":"\360\237\230\200","messages":[]}               | ok    |
UTF-8: U+10FFFF         | {"model":"\364\217\277\277","messages":[]}               | ok    |
BOM not on line 1       | \357\273\277{"model":"m","messages":[]}                  | bad   | invalid JSON
url: a number           | {"url":5,"body":{}}                                      | bad   | url.*wrong type
url: null               | {"url":null,"body":{}}                                   | bad   | url.*wrong type
url: an array           | {"url":["/v1/x"],"body":{}}                              | bad   | url.*wrong type
url: an object          | {"url":{},"body":{}}                                     | bad   | url.*wrong type
method: a number        | {"url":"/v1/x","method":5,"body":{}}                     | bad   | method
method: null            | {"url":"/v1/x","method":null,"body":{}}                  | bad   | method
method: empty           | {"url":"/v1/x","method":"","body":{}}                    | bad   | method
method: a space         | {"url":"/v1/x","method":"GE T","body":{}}                | bad   | method
method: CRLF            | {"url":"/v1/x","method":"POST\\r\\nX-Evil: 1","body":{}} | bad   | method
body: a number          | {"url":"/v1/x","body":5}                                 | bad   | body.*wrong type
body: a string          | {"url":"/v1/x","body":"text"}                            | bad   | body.*wrong type
body: an array          | {"url":"/v1/x","body":[1]}                               | bad   | body.*wrong type
body: null              | {"url":"/v1/x","body":null}                              | bad   | body.*wrong type
body: true              | {"url":"/v1/x","body":true}                              | bad   | body.*wrong type
files: an array         | {"url":"/v1/x","files":[],"body":{}}                     | bad   | files
files: a string         | {"url":"/v1/x","files":"f","body":{}}                    | bad   | files
files: a number path    | {"url":"/v1/x","files":{"f":5},"body":{}}                | bad   | files
files: an empty path    | {"url":"/v1/x","files":{"f":""},"body":{}}               | bad   | files
files: an empty name    | {"url":"/v1/x","files":{"":"in"},"body":{}}              | bad   | files
files: a quote in name  | {"url":"/v1/x","files":{"a\\"b":"in"},"body":{}}         | bad   | files
files: an object path   | {"url":"/v1/x","files":{"f":{}},"body":{}}               | bad   | files
files: a missing file   | {"url":"/v1/x","files":{"f":"nonexistent"},"body":{}}    | bad   | cannot read file 'nonexistent'
files: a directory      | {"url":"/v1/x","files":{"f":"/"},"body":{}}              | bad   | not a regular file
headers: a string       | {"url":"/v1/x","headers":"X-A: 1","body":{}}             | bad   | headers
headers: an array       | {"url":"/v1/x","headers":["X-A: 1"],"body":{}}           | bad   | headers
headers: a number value | {"url":"/v1/x","headers":{"X-A":5},"body":{}}            | bad   | header
headers: a null value   | {"url":"/v1/x","headers":{"X-A":null},"body":{}}         | bad   | header
headers: object value   | {"url":"/v1/x","headers":{"X-A":{}},"body":{}}           | bad   | header
header name: a space    | {"url":"/v1/x","headers":{"Bad Name":"v"},"body":{}}     | bad   | header name
header name: empty      | {"url":"/v1/x","headers":{"":"v"},"body":{}}             | bad   | header name
header name: a colon    | {"url":"/v1/x","headers":{"X:A":"v"},"body":{}}          | bad   | header name
header name: CRLF       | {"url":"/v1/x","headers":{"X-A\\r\\nX-Evil":"v"},"body":{}} | bad | header name
header value: CR        | {"url":"/v1/x","headers":{"X-A":"a\\rb"},"body":{}}      | bad   | header value
header value: LF        | {"url":"/v1/x","headers":{"X-A":"a\\nb"},"body":{}}      | bad   | header value
header value: injection | {"url":"/v1/x","headers":{"X-A":"a\\r\\nX-Evil: 1"},"body":{}} | bad | header value
header value: NUL       | {"url":"/v1/x","headers":{"X-A":"a\\u0000b"},"body":{}}  | bad   | header value
custom_id: an array     | {"custom_id":[1],"url":"/v1/x","body":{}}                | bad   | custom_id
custom_id: an object    | {"custom_id":{},"url":"/v1/x","body":{}}                 | bad   | custom_id
custom_id: a boolean    | {"custom_id":true,"url":"/v1/x","body":{}}               | bad   | custom_id
output: a number        | {"url":"/v1/x","output":5,"body":{}}                     | bad   | output
task: a string          | {"url":"/v1/x","task":"x","body":{}}                     | bad   | task
task: true              | {"url":"/v1/x","task":true,"body":{}}                    | bad   | task
an unknown member       | {"url":"/v1/x","bogus":1,"body":{}}                      | bad   | unknown envelope member "bogus"
url: //host             | {"url":"//evil.example/v1/x","body":{}}                  | bad   | //
url: slash backslash    | {"url":"/\\\\evil.example/v1/x","body":{}}               | bad   | (//|backslash)
url: a backslash        | {"url":"/v1/\\\\x","body":{}}                            | bad   | backslash
url: @host              | {"url":"@evil.example/v1/x","body":{}}                   | bad   | must be a path
url: :@host             | {"url":":x@evil.example/v1/x","body":{}}                 | bad   | must be a path
url: a host name        | {"url":"evil.example/v1/x","body":{}}                    | bad   | must be a path
url: empty              | {"url":"","body":{}}                                     | bad   | url
url: ftp                | {"url":"ftp://evil.example/x","body":{}}                 | bad   | must be a path
url: file               | {"url":"file:///etc/passwd","body":{}}                   | bad   | must be a path
url: https:host         | {"url":"https:evil.example","body":{}}                   | bad   | must be a path
url: http:/host         | {"url":"http:/evil.example","body":{}}                   | bad   | must be a path
url: a space            | {"url":"/v1/x y","body":{}}                              | bad   | space or control
url: a leading space    | {"url":" /v1/x","body":{}}                               | bad   | space or control
url: a tab              | {"url":"/v1/x\\ty","body":{}}                            | bad   | space or control
url: CRLF               | {"url":"/v1/x\\r\\nX-Evil: 1","body":{}}                 | bad   | space or control
url: NUL                | {"url":"/v1/x\\u0000y","body":{}}                        | bad   | space or control
path /@host stays home  | {"url":"/@evil.example/v1/x","body":{}}                  | page  | : New API$
path /..//host stays    | {"url":"/..//evil.example/v1/x","body":{}}               | page  | : New API$
path %2F%2F stays home  | {"url":"/%%2F%%2Fevil.example/x","body":{}}              | page  | : New API$
path ?u=//host stays    | {"url":"/v1/x?u=//evil.example/","body":{}}              | 404   | ^Invalid URL \(POST /v1/x\)$
plain bare body again   | {"model":"m","messages":[]}                              | ok    |
EOF

test_expect_success 'the bad input matrix: the documented record for every line' '
	echo data >in &&
	awk -F " +[|] *" "!/^#/ && NF { print \$1 \"\\t\" \$2 \"\\t\" \$3 \"\\t\" \$4 }" \
	    table >rows.tsv &&
	while IFS="	" read -r name fmt want re; do
		case $fmt in
		EMPTY) printf "\\n" ;;
		*) printf "$fmt\\n" ;;
		esac || return 1
	done <rows.tsv >lines &&
	test $(wc -l <lines) -eq $(wc -l <rows.tsv) &&
	jq -R -n -c "[inputs | split(\"\\t\") |
	    {name: .[0], want: .[2], re: (.[3] // \"\")}] | to_entries |
	    map(.value + {line: (.key + 1)})" rows.tsv >cells.json &&
	n=$(jq "map(select(.want != \"blank\")) | length" cells.json) &&
	r0=$(requests) &&
	{ timeout 60 "$VMANJL" --retries 0 lines >out 2>err; echo $? >rc; } &&
	cat err &&
	test $(cat rc) -eq 1 &&
	grep "vmanjl: $n requests" err &&
	jq -r -n --slurpfile c cells.json "[inputs] as \$out | \$c[0][] |
	    . as \$cell |
	    [\$out[] | select(.line == \$cell.line)] as \$recs |
	    [\$recs[] | select(.type == \"response\" or
		.type == \"error\")] as \$t |
	    (\$t[0] // {}) as \$r |
	    (\$r.error.message // \"\") as \$msg |
	    (if \$cell.want == \"blank\" then (\$recs | length) == 0
	     elif (\$t | length) != 1 then false
	     elif \$cell.want == \"ok\" then
		\$r.type == \"response\" and \$r.status == 200
	     elif \$cell.want == \"404\" then
		\$r.type == \"error\" and \$r.status == 404 and
		\$r.attempts == 1 and (\$msg | test(\$cell.re))
	     elif \$cell.want == \"page\" then
		\$r.type == \"error\" and \$r.status == 200 and
		\$r.error.type == \"html_answer\" and
		\$r.attempts == 1 and (\$msg | test(\$cell.re))
	     else
		\$r.type == \"error\" and \$r.status == null and
		\$r.attempts == 0 and \$r.error.type == \"invalid_request\" and
		(\$msg | startswith(\"line \(\$cell.line): \")) and
		(\$msg | sub(\"^line [0-9]+: \"; \"\") | test(\$cell.re))
	     end) as \$ok |
	    [\"\(\$cell.line) \(\$cell.name)\", \$cell.want,
	     (if \$cell.want == \"blank\" then \"\(\$recs | length) records\"
	      else \"\(\$r.type) \(\$r.status) x\(\$r.attempts)\" +
		(if (\$t | length) != 1 then \" (\(\$t | length) terminal)\"
		 else \"\" end) end),
	     (if \$ok then \"ok\" else \"FAIL\" end),
	     (\$msg[0:70] | gsub(\"[\\t\\n]\"; \" \"))] | @tsv" out \
	    >"$TMP/matrix.tsv" &&
	test $(wc -l <"$TMP/matrix.tsv") -eq $(wc -l <rows.tsv) &&
	# One terminal record per non-blank line, no more, no other record.
	test $(jq -s "length" out) -eq $n &&
	# What was sent: the ok, 404 and page lines, nothing else.
	sent=$(jq "map(select(.want == \"ok\" or .want == \"404\" or
	    .want == \"page\")) | length" cells.json) &&
	test $(($(requests) - r0)) -eq $sent &&
	! grep "	FAIL	" "$TMP/matrix.tsv"
'

if [ -s "$TMP/matrix.tsv" ]; then
	awk -F '\t' '
	BEGIN { printf "# %-30s %-6s %-24s %-4s %s\n", "line", "want", "got",
	    "ok?", "message" }
	{ printf "# %-30s %-6s %-24s %-4s %s\n", $1, $2, $3, $4, $5 }' \
	    "$TMP/matrix.tsv"
	echo "# $(grep -c '	ok	' "$TMP/matrix.tsv") ok," \
	    "$(grep -c '	FAIL	' "$TMP/matrix.tsv") FAIL"
fi

test_expect_success 'a url that is a path reaches the base URL host as that path' '
	cat >paths <<-\EOF &&
	/@evil.example/v1/x ^/@evil\.example/v1/x$
	/..//evil.example/v1/x ^/+evil\.example/v1/x$
	/%2F%2Fevil.example/x ^/%2F%2Fevil\.example/x$
	EOF
	while read -r url want; do
		jq -n -c --arg u "$url" "{url: \$u, body: {}}" >one &&
		{ "$VMANJL" -q --retries 0 one >out; echo $? >rc; } &&
		test $(cat rc) -eq 1 &&
		has ".error.type==\"html_answer\"" out &&
		mock_stats >stats &&
		jq -e --arg w "$want" ".last_path | test(\$w)" stats ||
		{ echo "$url arrived as $(jq .last_path stats)"; return 1; }
	done <paths
'

test_expect_success 'a truncated last line (no newline) gets its error record' '
	printf "{\"model\":\"m\",\"messages\":[]}\n{\"model\":\"m\",\"messages\":[{\"role\":\"us" >in &&
	{ timeout 30 "$VMANJL" in >out 2>err; test $? -eq 1; } &&
	test $(jq -s length out) -eq 2 &&
	has ".type==\"response\" and .line==1" out &&
	has ".type==\"error\" and .line==2 and .status==null and
	    .attempts==0 and .error.type==\"invalid_request\" and
	    (.error.message | test(\"^line 2: invalid JSON.*premature EOF\"))" out
'

test_expect_success 'a last line cut inside a UTF-8 sequence gets its error record' '
	printf "{\"model\":\"m\",\"messages\":[]}\n{\"model\":\"\342\202" >in &&
	{ timeout 30 "$VMANJL" in >out 2>err; test $? -eq 1; } &&
	test $(jq -s length out) -eq 2 &&
	has ".type==\"error\" and .line==2 and
	    .error.type==\"invalid_request\"" out
'

test_expect_success 'a complete last line without a newline is still a request' '
	printf "\n{\"model\":\"m\",\"messages\":[]}\r" >in &&
	timeout 30 "$VMANJL" in >out 2>err &&
	test $(jq -s length out) -eq 1 &&
	has ".type==\"response\" and .line==2" out
'

test_expect_success 'a BOM on the first line of every input file, CRLF throughout' '
	printf "\357\273\277{\"model\":\"m\",\"messages\":[]}\r\n\r\n" >a &&
	printf "\357\273\277{\"model\":\"m\",\"messages\":[]}\r\n{\"model\":\"m\",\"messages\":[]}\r\n" >b &&
	timeout 30 "$VMANJL" a b >out 2>err &&
	jq -r "\"\(.line) \(.type)\"" out | sort -n >actual &&
	printf "1 response\n3 response\n4 response\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-H with a CR or LF in it is refused: exit 2, nothing sent' '
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	r0=$(requests) &&
	for h in "X-A: a\r\nX-Evil: 1" "X-A: a\nb" "X-A: a\rb" \
	    "X-A\r\nX-Evil: 1"; do
		hdr=$(printf "$h.") && hdr=${hdr%.} &&
		{ timeout 30 "$VMANJL" -H "$hdr" in >out 2>err; st=$?; } &&
		test $st -eq 2 || { echo "-H $h: exit $st"; exit 1; }
		test ! -s out || { echo "-H $h: output"; exit 1; }
		grep "vmanjl: .*header" err || exit 1
	done &&
	test $(requests) -eq $r0
'

test_expect_success 'a 100 MB line is sent whole' '
	{
		printf "{\"model\":\"m\",\"input\":\""
		head -c 104857600 /dev/zero | tr "\000" a
		printf "\"}\n"
	} >in &&
	{ timeout 60 "$VMANJL" -e /v1/embeddings in >out 2>err; st=$?; } &&
	test $st -eq 0 &&
	has ".type==\"response\" and .line==1 and .status==200" out &&
	mock_stats >stats &&
	jq -e ".last_body_bytes==$(($(wc -c <in) - 1))" stats
'

test_expect_success 'a line over 256 MiB: an error record, and the next line runs' '
	{
		printf "{\"model\":\"m\",\"input\":\""
		head -c $((257 * 1048576)) /dev/zero | tr "\000" a
		printf "\"}\n{\"model\":\"m\",\"input\":\"after\"}\n"
	} >in &&
	r0=$(requests) &&
	{ timeout 60 "$VMANJL" -e /v1/embeddings in >out 2>err; st=$?; } &&
	rm -f in &&
	test $st -eq 1 &&
	test $(jq -s length out) -eq 2 &&
	has ".type==\"error\" and .line==1 and .status==null and
	    .attempts==0 and .error.type==\"invalid_request\" and
	    (.error.message | test(\"^line 1: .*256 MiB\"))" out &&
	has ".type==\"response\" and .line==2" out &&
	test $(($(requests) - r0)) -eq 1
'

HAVE_TIME=
# Under the sanitizers (make check-sanitize) memory is theirs: no RSS.
[ -z "${VMANJL_SANITIZE:-}" ] &&
	/usr/bin/time -f %M -o "$TMP/probe" true 2>/dev/null && HAVE_TIME=1

# Run vmanjl with its arguments, its peak RSS in KiB into file rss when
# GNU time is there.
run_rss () {
	if [ -n "$HAVE_TIME" ]; then
		/usr/bin/time -f %M -o rss timeout 60 "$VMANJL" "$@"
	else
		echo 0 >rss
		timeout 60 "$VMANJL" "$@"
	fi
}

test_expect_success 'a million one-byte lines: a million error records, fast, small' '
	yes x | head -n 1000000 >in &&
	r0=$(requests) &&
	t0=$(date +%s) &&
	{ run_rss in >out 2>err; st=$?; } &&
	t1=$(date +%s) &&
	test $st -eq 1 &&
	echo "$((t1 - t0)) s, peak RSS $(tail -1 rss) KiB" &&
	limit=20 &&
	if [ -n "${VMANJL_SANITIZE:-}" ]; then limit=120; fi &&
	test $((t1 - t0)) -le $limit &&
	test $(tail -1 rss) -lt 32768 &&
	grep "vmanjl: 1000000 requests, 0 ok, 1000000 errors" err &&
	test $(wc -l <out) -eq 1000000 &&
	test $(grep -c "^{\"type\":\"error\",\"line\":[0-9]*,\"custom_id\":null,\"status\":null,\"error\":{\"message\":\"line [0-9]*: invalid JSON at column [0-9]*: [^\"]*\",\"type\":\"invalid_request\",\"code\":null},\"attempts\":0}\$" out) -eq 1000000 &&
	cut -d, -f2 out | sort -u | wc -l >nlines &&
	test $(cat nlines) -eq 1000000 &&
	test $(requests) -eq $r0
'

test_expect_success 'a million blank lines: nothing sent, nothing written, exit 0' '
	yes "" | head -n 1000000 >in &&
	r0=$(requests) &&
	t0=$(date +%s) &&
	run_rss in >out 2>err &&
	t1=$(date +%s) &&
	echo "$((t1 - t0)) s, peak RSS $(tail -1 rss) KiB" &&
	limit=20 &&
	if [ -n "${VMANJL_SANITIZE:-}" ]; then limit=120; fi &&
	test $((t1 - t0)) -le $limit &&
	test $(tail -1 rss) -lt 32768 &&
	test ! -s out &&
	grep "vmanjl: 0 requests" err &&
	test $(requests) -eq $r0
'

# RFC 8259 leaves duplicate names to the reader; whatever vmanjl does
# (refuse the line, or keep one value), every record must stay valid
# JSON and no two values may be glued into one url, method or custom_id.
test_expect_success 'a duplicated envelope member: refused or one value, never glued' '
	cat >in <<-\EOF &&
	{"custom_id":"a","custom_id":"b","url":"/v1/embeddings","body":{"input":"x"}}
	{"custom_id":"a","custom_id":7,"url":"/v1/embeddings","body":{"input":"x"}}
	{"method":"POST","method":"GET","url":"/v1/embeddings","body":{"input":"x"}}
	{"url":"/v1/embeddings","url":"//evil.example/x","body":{"input":"x"}}
	{"url":"/v1/embeddings","url":"?q=1","body":{"input":"x"}}
	EOF
	{ timeout 30 "$VMANJL" --dry-run in >out 2>err; st=$?; } &&
	test $st -le 1 &&
	cat out &&
	jq -c . out >/dev/null &&
	test $(jq -s length out) -eq 5 &&
	all ".type==\"request\" and .line <= 2" \
	    ".custom_id==\"a\" or .custom_id==\"b\" or .custom_id==7" out &&
	all ".type==\"request\" and .line==3" \
	    ".method==\"POST\" or .method==\"GET\"" out &&
	all ".type==\"request\" and .line==4" \
	    "(.url | endswith(\"/v1/embeddings\"))" out &&
	all ".type==\"request\" and .line==5" \
	    "(.url | endswith(\"/v1/embeddings\"))" out &&
	all ".type==\"error\"" ".error.type==\"invalid_request\" and
	    .status==null and .attempts==0" out
'

test_done
