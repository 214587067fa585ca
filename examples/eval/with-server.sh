#!/bin/sh
# Run a command against $VMAN_BASE_URL, or, when it is not set, against
# the local VMAN server started for the command and stopped after it.
set -u
[ -n "${VMAN_BASE_URL:-}" ] && exec "$@"
mock=${MOCK:-../../t/mockvman}
dir=$(mktemp -d) || exit 2
"$mock" -f "$dir/port" >/dev/null &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
VMAN_BASE_URL=http://127.0.0.1:$(cat "$dir/port") "$@"
st=$?
kill $pid
wait $pid 2>/dev/null
rm -rf "$dir"
exit $st
