#!/bin/sh
# make install and uninstall honour DESTDIR and PREFIX; the completions
# go where bash-completion and zsh look for them.
. "$(dirname "$0")/lib.sh"
top=$(dirname "$T")

test_expect_success 'install puts the binary and the man page under DESTDIR' '
	make -s -C "$top" install DESTDIR="$TMP/root" PREFIX=/opt/v >/dev/null &&
	test -x "$TMP/root/opt/v/bin/vmanjl" &&
	test -f "$TMP/root/opt/v/share/man/man1/vmanjl.1" &&
	"$TMP/root/opt/v/bin/vmanjl" -V >out &&
	grep "^vmanjl " out
'

test_expect_success 'and the bash and zsh completions' '
	test -f "$TMP/root/opt/v/share/bash-completion/completions/vmanjl" &&
	test -f "$TMP/root/opt/v/share/zsh/site-functions/_vmanjl" &&
	grep "^complete -F _vmanjl vmanjl\$" \
	    "$TMP/root/opt/v/share/bash-completion/completions/vmanjl" &&
	grep "^#compdef vmanjl\$" \
	    "$TMP/root/opt/v/share/zsh/site-functions/_vmanjl"
'

test_expect_success 'uninstall removes them again' '
	make -s -C "$top" uninstall DESTDIR="$TMP/root" PREFIX=/opt/v &&
	test ! -e "$TMP/root/opt/v/bin/vmanjl" &&
	test ! -e "$TMP/root/opt/v/share/man/man1/vmanjl.1" &&
	test ! -e "$TMP/root/opt/v/share/bash-completion/completions/vmanjl" &&
	test ! -e "$TMP/root/opt/v/share/zsh/site-functions/_vmanjl"
'

test_expect_success 'the completion directories can be chosen' '
	make -s -C "$top" install DESTDIR="$TMP/r2" PREFIX=/usr \
	    ZSHCOMPDIR=/usr/share/zsh/vendor-completions \
	    BASHCOMPDIR=/etc/bash_completion.d >/dev/null &&
	test -f "$TMP/r2/usr/share/zsh/vendor-completions/_vmanjl" &&
	test -f "$TMP/r2/etc/bash_completion.d/vmanjl"
'

test_done
