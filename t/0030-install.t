#!/bin/sh
# make install and uninstall honour DESTDIR and PREFIX.
. "$(dirname "$0")/lib.sh"
top=$(dirname "$T")

test_expect_success 'install puts the binary and the man page under DESTDIR' '
	make -s -C "$top" install DESTDIR="$TMP/root" PREFIX=/opt/v >/dev/null &&
	test -x "$TMP/root/opt/v/bin/vmanjl" &&
	test -f "$TMP/root/opt/v/share/man/man1/vmanjl.1" &&
	"$TMP/root/opt/v/bin/vmanjl" -V >out &&
	grep "^vmanjl " out
'

test_expect_success 'uninstall removes them again' '
	make -s -C "$top" uninstall DESTDIR="$TMP/root" PREFIX=/opt/v &&
	test ! -e "$TMP/root/opt/v/bin/vmanjl" &&
	test ! -e "$TMP/root/opt/v/share/man/man1/vmanjl.1"
'

test_done
