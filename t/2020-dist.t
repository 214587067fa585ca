#!/bin/sh
# make dist: vmanjl-VERSION.tar.gz holds exactly the files of the
# commit under one folder vmanjl-VERSION/, is the same bytes when made
# again, and builds after unpacking.  It needs the git repository, so
# outside one (an unpacked tarball, say) there is nothing to test.
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v git >/dev/null 2>&1; then
	echo "1..0 # SKIP git is not installed"
	exit 0
fi
if [ "$(git -C "$top" rev-parse --show-toplevel 2>/dev/null)" != "$top" ]
then
	echo "1..0 # SKIP not in a git checkout"
	exit 0
fi
. "$(dirname "$0")/lib.sh"
v=$(sed -n '1s/^vmanjl (\([^)]*\)) .*/\1/p' "$top/debian/changelog")

test_expect_success 'make dist writes vmanjl-VERSION.tar.gz' '
	mkdir a &&
	make -s -C "$top" dist DISTDIR="$TMP/a" 2>err &&
	ls a >actual &&
	echo "vmanjl-$v.tar.gz" >expect &&
	test_cmp expect actual
'

test_expect_success 'made again a second later, the same bytes' '
	sleep 1 &&
	mkdir b &&
	make -s -C "$top" dist DISTDIR="$TMP/b" 2>err &&
	cmp "a/vmanjl-$v.tar.gz" "b/vmanjl-$v.tar.gz"
'

test_expect_success 'it holds the files of the commit under vmanjl-VERSION/' '
	git -C "$top" ls-tree -r --name-only HEAD | sed "s|^|vmanjl-$v/|" |
	    sort >expect &&
	tar -tzf "a/vmanjl-$v.tar.gz" >list &&
	grep -v "/\$" list | sort >actual &&
	test_cmp expect actual &&
	! grep -v "^vmanjl-$v/" list
'

test_expect_success 'unpacked, it builds, and knows its version' '
	tar -xzf "a/vmanjl-$v.tar.gz" &&
	make -s -C "vmanjl-$v" vmanjl >build.log 2>&1 &&
	"vmanjl-$v/vmanjl" -V >out &&
	grep "^vmanjl $v " out
'

test_expect_success 'where this test skips itself' '
	cp "$T/2020-dist.t" "vmanjl-$v/t/" &&
	sh "vmanjl-$v/t/2020-dist.t" >out &&
	grep "^1\.\.0 # SKIP" out
'

test_done
