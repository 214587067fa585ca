#!/bin/sh
# TLS and secrets.  A TLS front (stunnel) for the local server
# on 127.0.0.1, with a certificate from a throw-away CA made here:
# without --cacert the certificate is refused with an error record that
# names the problem, and not retried; with --cacert the requests
# succeed; --insecure works and warns once.  Then the secrets sweep: a
# full run with a distinctive key, over TLS and plain HTTP, with -v,
# faults, the cache, --dry-run and --key-file; the key is in no output,
# no message, no trace, no cache file and no command line, while the
# server, which checks it, got it.
if ! command -v openssl >/dev/null 2>&1; then
	echo "1..0 # SKIP openssl is not installed"
	exit 0
fi
STUNNEL=$(command -v stunnel4 || command -v stunnel) || {
	echo "1..0 # SKIP stunnel (package stunnel4) is not installed"
	exit 0
}
. "$(dirname "$0")/lib.sh"

RAND=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
KEY=sk-leak-test-XYZ$RAND
MOCK_KEY=$KEY
export MOCK_KEY
start_mock
unset MOCK_KEY
HTTP_URL=$VMAN_BASE_URL

# The throw-away CA and a server certificate it signs for the IP
# address 127.0.0.1 (and no host name).
mkdir "$TMP/pki" && (
	cd "$TMP/pki" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout ca.key -out ca.pem -days 2 \
	    -subj "/CN=vmanjl throw-away test CA" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" &&
	printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=CA:FALSE" \
	    "keyUsage=critical,digitalSignature" \
	    "extendedKeyUsage=serverAuth" >server.ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out server.pem -days 2 -extfile server.ext
) >"$TMP/pki.log" 2>&1 || { cat "$TMP/pki.log"; echo "Bail out! openssl"; exit 1; }
CA=$TMP/pki/ca.pem

# stunnel on a free port of 127.0.0.1, forwarding to the local server.
TPORT=
for try in 1 2 3 4 5 6 7 8 9 10; do
	p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
	cat >"$TMP/stunnel.conf" <<-EOF
	foreground = yes
	pid =
	[vman]
	accept = 127.0.0.1:$p
	connect = 127.0.0.1:$PORT
	cert = $TMP/pki/server.pem
	key = $TMP/pki/server.key
	EOF
	"$STUNNEL" "$TMP/stunnel.conf" >"$TMP/stunnel.log" 2>&1 &
	spid=$!
	echo $spid >>"$TMP/mock.pids"
	i=0
	while [ $i -lt 50 ] && kill -0 $spid 2>/dev/null; do
		if curl -s --cacert "$CA" "https://127.0.0.1:$p/mock/stats" \
		    >/dev/null 2>&1; then
			TPORT=$p
			break 2
		fi
		sleep 0.1
		i=$((i + 1))
	done
	kill $spid 2>/dev/null
done
if [ -z "$TPORT" ]; then
	cat "$TMP/stunnel.log"
	echo "Bail out! stunnel did not come up"
	exit 1
fi
TLS_URL=https://127.0.0.1:$TPORT

test_expect_success 'without --cacert the certificate is refused, named, not retried' '
	cat >in <<-\EOF &&
	{"model":"m","messages":[{"role":"user","content":"over tls"}]}
	{"model":"m","stream":true,"messages":[{"role":"user","content":"a stream"}]}
	{"model":"m","messages":[],"mock":{"status":503}}
	EOF
	r0=$(requests) &&
	{ VMAN_API_KEY=$KEY timeout 60 "$VMANJL" --base-url "$TLS_URL" \
	    --retries 2 --backoff 1 in >out 2>err; st=$?; } &&
	cat out err &&
	test $st -eq 1 &&
	test $(count ".type==\"response\" or .type==\"error\"" out) -eq 3 &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	all "true" ".type==\"error\" and .status==null and .attempts==1 and
	    (.error.message | test(\"certificate\"))" out &&
	test $(requests) -eq $r0
'

test_expect_success 'a certificate for another host name is refused, even with --cacert' '
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	r0=$(requests) &&
	{ VMAN_API_KEY=$KEY timeout 60 "$VMANJL" --cacert "$CA" \
	    --base-url "https://localhost:$TPORT" --retries 2 --backoff 1 \
	    in >out 2>err; st=$?; } &&
	cat out &&
	test $st -eq 1 &&
	test $(count ".type==\"retry\"" out) -eq 0 &&
	has ".type==\"error\" and .status==null and .attempts==1 and
	    (.error.message | test(\"localhost\")) and
	    (.error.message | test(\"certificate|subject|host name\"))" out &&
	test $(requests) -eq $r0
'

test_expect_success 'with --cacert ca.pem requests succeed over TLS' '
	for i in 1 2 3 4 5 6; do
		echo "{\"custom_id\":\"t$i\",\"body\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"tls $i\"}]}}" &&
		echo "{\"custom_id\":\"s$i\",\"body\":{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"tls stream $i\"}]}}" || return 1
	done >in &&
	echo "{\"custom_id\":\"r\",\"body\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"again\"}],\"mock\":{\"id\":\"tlsr\",\"fail_first\":1,\"status\":503}}}" >>in &&
	r0=$(requests) &&
	VMAN_API_KEY=$KEY timeout 60 "$VMANJL" --cacert "$CA" \
	    --base-url "$TLS_URL" -j 4 --backoff 1 in >out 2>err &&
	test $(count ".type==\"response\"" out) -eq 13 &&
	has ".custom_id==\"t3\" and .content==\"tls 3\"" out &&
	has ".custom_id==\"s5\" and .type==\"response\" and
	    .content==\"tls stream 5\"" out &&
	has ".custom_id==\"r\" and .type==\"response\" and .attempts==2" out &&
	test $(($(requests) - r0)) -eq 14 &&
	! grep -i "insecure" err
'

test_expect_success '--insecure works, and warns once on stderr for many requests' '
	i=0 &&
	while [ $i -lt 30 ]; do
		echo "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"n $i\"}],\"mock\":{\"id\":\"ins$i\",\"fail_first\":1,\"status\":500}}" || return 1
		i=$((i + 1))
	done >in &&
	VMAN_API_KEY=$KEY timeout 60 "$VMANJL" --insecure --base-url "$TLS_URL" \
	    -j 8 --backoff 1 in >out 2>err &&
	cat err &&
	test $(count ".type==\"response\"" out) -eq 30 &&
	test $(count ".type==\"retry\"" out) -eq 30 &&
	test $(grep -c -- "insecure" err) -eq 1 &&
	grep "^vmanjl: .*--insecure" err &&
	test $(wc -l <err) -eq 2 &&
	VMAN_API_KEY=$KEY timeout 60 "$VMANJL" -q --insecure \
	    --base-url "$TLS_URL" in >out2 2>err2 &&
	test $(count ".type==\"response\"" out2) -eq 30 &&
	test ! -s err2
'

# ------------------------------------------------------------------ #
# The secrets sweep

# A full input: answers, retries, a 401 from a wrong key in the
# envelope, streams, cuts, resets, a closed port, a bad line, an error
# event, a 429 with retry-after-ms; mock ids made unique by $1.
sweep_input () {
	cat <<-EOF
	{"custom_id":"plain","body":{"model":"m","messages":[{"role":"user","content":"plain answer"}]}}
	{"custom_id":"retry500","body":{"model":"m","messages":[{"role":"user","content":"after 500"}],"mock":{"id":"$1-500","fail_first":1,"status":500}}}
	{"custom_id":"fail503","body":{"model":"m","messages":[],"mock":{"status":503}}}
	{"custom_id":"stream","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"streamed words here"}]}}
	{"custom_id":"cut","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"cut then whole"}],"mock":{"id":"$1-cut","fail_first":1,"close_after":2}}}
	{"custom_id":"wrongkey","url":"/v1/chat/completions","headers":{"Authorization":"Bearer sk-wrong-000"},"body":{"model":"m","messages":[]}}
	{"custom_id":"reset","body":{"model":"m","messages":[{"role":"user","content":"after reset"}],"mock":{"id":"$1-rst","fail_first":1,"reset":"before_headers"}}}
	{"custom_id":"refused","url":"http://127.0.0.1:1/v1/chat/completions","body":{"model":"m","messages":[]}}
	{"custom_id":"bad", not json
	{"custom_id":"event","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c"}],"mock":{"error_event":2}}}
	{"custom_id":"ratelimit","body":{"model":"m","messages":[{"role":"user","content":"after 429"}],"mock":{"id":"$1-429","fail_first":1,"status":429,"retry_after_ms":100}}}
	{"custom_id":"nodone","body":{"model":"m","stream":true,"messages":[{"role":"user","content":"done at last"}],"mock":{"id":"$1-nd","fail_first":1,"no_done":true}}}
	{"custom_id":"embed","url":"/v1/embeddings","body":{"input":"vector"}}
	EOF
}

# Check the records of one sweep run in file $1.
sweep_check () {
	has ".type==\"response\" and .custom_id==\"plain\" and
	    .content==\"plain answer\"" "$1" &&
	has ".type==\"retry\" and .custom_id==\"retry500\"" "$1" &&
	has ".type==\"response\" and .custom_id==\"retry500\"" "$1" &&
	has ".type==\"error\" and .custom_id==\"fail503\" and .status==503" "$1" &&
	has ".type==\"response\" and .custom_id==\"stream\"" "$1" &&
	has ".type==\"response\" and .custom_id==\"cut\" and .attempts==2" "$1" &&
	has ".type==\"error\" and .custom_id==\"wrongkey\" and .status==401" "$1" &&
	has ".type==\"response\" and .custom_id==\"reset\"" "$1" &&
	has ".type==\"error\" and .custom_id==\"refused\" and .status==null" "$1" &&
	has ".type==\"error\" and .line==9" "$1" &&
	has ".type==\"error\" and .custom_id==\"event\"" "$1" &&
	has ".type==\"response\" and .custom_id==\"ratelimit\"" "$1" &&
	has ".type==\"response\" and .custom_id==\"nodone\"" "$1" &&
	has ".type==\"response\" and .custom_id==\"embed\"" "$1" &&
	test $(count ".type==\"response\" or .type==\"error\"" "$1") -eq 13
}

# Every -v line that shows an Authorization header shows it redacted.
redacted () {
	grep "> Authorization: \[redacted\]\$" "$1" >/dev/null &&
	test $(grep -c "> Authorization:" "$1") -eq \
	    $(grep -c "> Authorization: \[redacted\]\$" "$1")
}

test_expect_success 'the secrets sweep: the key is in no artefact of a full run' '
	printf "%s\n" "$KEY" >key && chmod 600 key &&
	chmod 600 key &&
	mkdir art &&
	# Over TLS, -v, the cache.
	sweep_input tls >in.tls &&
	{ VMAN_API_KEY=$KEY timeout 60 "$VMANJL" -v -j 4 --retries 1 \
	    --backoff 1 --cacert "$CA" --base-url "$TLS_URL" --cache cache \
	    in.tls >art/out.tls 2>art/err.tls; test $? -eq 1; } &&
	sweep_check art/out.tls &&
	redacted art/err.tls &&
	grep "^vmanjl: line [0-9]*: \\* .*SSL\|TLS" art/err.tls >/dev/null &&
	# Over plain HTTP, -v, the same cache.
	sweep_input http >in.http &&
	{ VMAN_API_KEY=$KEY timeout 60 "$VMANJL" -v -j 4 --retries 1 \
	    --backoff 1 --base-url "$HTTP_URL" --cache cache \
	    in.http >art/out.http 2>art/err.http; test $? -eq 1; } &&
	sweep_check art/out.http &&
	redacted art/err.http &&
	test $(find cache -type f | wc -l) -ge 8 &&
	# Answered from the cache, -v.
	{ VMAN_API_KEY=$KEY timeout 60 "$VMANJL" -v --retries 0 \
	    --base-url "$HTTP_URL" --cache cache --cache-mode offline \
	    in.http >art/out.cached 2>art/err.cached; test $? -eq 1; } &&
	has ".type==\"response\" and .custom_id==\"plain\"" art/out.cached &&
	# The batch format, with the key from a file, -v.
	{ timeout 60 "$VMANJL" -v --key-file key --retries 1 --backoff 1 \
	    --base-url "$HTTP_URL" --format batch in.http \
	    >art/out.batch 2>art/err.batch; test $? -eq 1; } &&
	has ".custom_id==\"plain\" and .response.status_code==200" art/out.batch &&
	redacted art/err.batch &&
	# --key-file, -v, over TLS and plain HTTP.
	sweep_input kf >in.kf &&
	{ timeout 60 "$VMANJL" -v -j 4 --key-file key --retries 1 \
	    --backoff 1 --base-url "$TLS_URL" --cacert "$CA" \
	    in.kf >art/out.kf 2>art/err.kf; test $? -eq 1; } &&
	sweep_check art/out.kf &&
	redacted art/err.kf &&
	sweep_input kf2 >in.kf2 &&
	{ timeout 60 "$VMANJL" -v -j 4 --key-file key --retries 1 \
	    --backoff 1 --base-url "$HTTP_URL" \
	    in.kf2 >art/out.kf2 2>art/err.kf2; test $? -eq 1; } &&
	sweep_check art/out.kf2 &&
	# The dry run, from the environment and from the key file.
	{ VMAN_API_KEY=$KEY timeout 60 "$VMANJL" --dry-run \
	    --base-url "$TLS_URL" in.tls >art/out.dry 2>art/err.dry
	  test $? -eq 1; } &&
	has ".type==\"request\" and .custom_id==\"plain\" and
	    .headers.Authorization==\"[redacted]\"" art/out.dry &&
	{ timeout 60 "$VMANJL" --dry-run --key-file key \
	    --base-url "$HTTP_URL" in.http >art/out.dry2 2>art/err.dry2
	  test $? -eq 1; } &&
	has ".type==\"request\" and
	    .headers.Authorization==\"[redacted]\"" art/out.dry2 &&
	# The command lines of running vmanjls (answers held back 2 s).
	echo "{\"model\":\"m\",\"messages\":[],\"mock\":{\"delay_ms\":2000}}" >slow &&
	{ VMAN_API_KEY=$KEY "$VMANJL" -v --retries 0 --base-url "$TLS_URL" \
	    --cacert "$CA" slow >art/out.p1 2>art/err.p1 & } &&
	pid1=$! &&
	{ "$VMANJL" -v --key-file key --retries 0 --base-url "$HTTP_URL" \
	    slow >art/out.p2 2>art/err.p2 & } &&
	pid2=$! &&
	sleep 0.5 &&
	tr "\000" " " </proc/$pid1/cmdline >art/cmdline.1 &&
	tr "\000" " " </proc/$pid2/cmdline >art/cmdline.2 &&
	wait $pid1 && wait $pid2 &&
	grep -e "--base-url $TLS_URL" art/cmdline.1 &&
	grep -e "--key-file key" art/cmdline.2 &&
	has ".type==\"response\"" art/out.p1 &&
	has ".type==\"response\"" art/out.p2 &&
	# The server got the key: it checks it (the wrong one got a 401)
	# and every run had answers; it saw an Authorization header.
	mock_stats >stats &&
	jq -e ".last_headers.authorization==\"present\"" stats &&
	# And the key is nowhere: not whole, not its random part.
	cp -r cache art/cache &&
	find art -type f | sort >files &&
	cat files &&
	test $(wc -l <files) -ge 30 &&
	if grep -r -l -F -e "$KEY" -e "$RAND" art; then
		echo "the key leaked into the files above"; exit 1
	fi &&
	! grep -r -i -l "bearer" art
'

# Like ssh, --key-file refuses a key file that group or others may read,
# and says how to fix it; 600 and 400 are accepted.
test_expect_success '--key-file readable by group or others: refused, with the fix' '
	printf "%s\n" "$KEY" >key && chmod 600 key &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	r0=$(requests) &&
	for mode in 644 640 604 666; do
		chmod $mode key &&
		{ timeout 30 "$VMANJL" --key-file key --base-url "$HTTP_URL" \
		    in >out 2>err; st=$?; } &&
		cat err &&
		test $st -eq 2 || { echo "mode $mode: exit $st"; exit 1; }
		test ! -s out || { echo "mode $mode: output"; exit 1; }
		grep "chmod" err || { echo "mode $mode: no fix named"; exit 1; }
		if grep -F -e "$KEY" -e "$RAND" err; then exit 1; fi
	done &&
	test $(requests) -eq $r0 &&
	for mode in 600 400; do
		chmod $mode key &&
		timeout 30 "$VMANJL" --key-file key --base-url "$HTTP_URL" \
		    in >out 2>err &&
		has ".type==\"response\"" out || exit 1
	done
'

test_done
