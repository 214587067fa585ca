#!/bin/sh
# The version has one home, the top entry of debian/changelog: the
# binary reports it and sends it, and no source file spells it.
. "$(dirname "$0")/lib.sh"
top=$(dirname "$T")

# The version of the top changelog entry, read the way dpkg reads it
# where dpkg is at hand.
if command -v dpkg-parsechangelog >/dev/null 2>&1; then
	v=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
else
	v=$(sed -n '1s/^vmanjl (\([^)]*\)) .*/\1/p' "$top/debian/changelog")
fi

test_expect_success 'the top changelog entry names a version' '
	echo "version: $v" &&
	test -n "$v"
'

test_expect_success '-V prints the version of the top changelog entry' '
	"$VMANJL" -V >out &&
	read -r name ver rest <out &&
	test "$name $ver" = "vmanjl $v"
'

test_expect_success 'the User-Agent carries the same version' '
	start_mock &&
	echo "{\"model\":\"m\",\"messages\":[]}" >in &&
	VMAN_API_KEY=sk-t "$VMANJL" -q -v in >out 2>err &&
	grep -i ": > User-Agent: vmanjl/$v\$" err ||
	{ grep -i user-agent err; false; }
'

test_expect_success 'no source file spells the version itself' '
	! grep -n -F "\"$v\"" "$top"/*.c "$top"/*.h
'

test_done
