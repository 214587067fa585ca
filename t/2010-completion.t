#!/bin/sh
# Tab completion.  completion/gen.sh makes the bash and the zsh
# completion from one table, completion/vmanjl.opts; both know exactly
# the options --help lists and which of them take a value, offer the
# values of --cache-mode and --format, files or directories where an
# option takes them, input files elsewhere, and the paths of
# --endpoints after -e.  bash is driven through its completion
# function, zsh on a pseudo-terminal (when zsh and zsh/zpty are here).
. "$(dirname "$0")/lib.sh"
top=$(dirname "$T")
"$VMANJL" --help >"$TMP/help" || exit 1
sh "$top/completion/gen.sh" bash "$top/completion/vmanjl.opts" \
    >"$TMP/vmanjl.bash" || exit 1
mkdir "$TMP/zsh" &&
sh "$top/completion/gen.sh" zsh "$top/completion/vmanjl.opts" \
    >"$TMP/zsh/_vmanjl" || exit 1

# A test that cannot run here: counted, reported as skipped.
test_skip () {
	test_count=$((test_count + 1))
	echo "ok $test_count # skip $1 ($2)"
}

# The options --help lists, one a line, sorted: long ones, short ones,
# and the long ones that take a value (a word follows the name).
help_longs () {
	sed -n 's/^ \{2,6\}\(-[A-Za-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p' \
	    "$TMP/help" | sort
}
help_shorts () {
	sed -n 's/^ \{2\}\(-[A-Za-z]\), --.*/\1/p' "$TMP/help" | sort
}
help_valued () {
	sed -n 's/^ \{2,6\}\(-[A-Za-z], \)\{0,1\}\(--[a-z0-9-]*\) [^ ].*/\2/p' \
	    "$TMP/help" | sort
}

# complete_bash WORD...: the matches bash's function offers for the
# last word, one a line, for the command line "vmanjl WORD...".
complete_bash () {
	bash --norc --noprofile -c '
		. "$0" || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_vmanjl "$1" "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD - 1]}"
		for m in "${COMPREPLY[@]}"; do printf "%s\n" "$m"; done
	' "$TMP/vmanjl.bash" "$VMANJL" "$@"
}

# Some input files and directories to be offered, and a command run
# among them.
mkdir -p "$TMP/files/a dir" "$TMP/files/cache" &&
touch "$TMP/files/key" "$TMP/files/in put.jsonl" || exit 1
in_files () {
	(cd "$TMP/files" && "$@")
}

test_expect_success 'help lists options (the parsing below works)' '
	help_longs >longs && help_shorts >shorts && help_valued >valued &&
	grep -x -e --help longs && grep -x -e -h shorts &&
	grep -x -e --cache-mode valued && ! grep -x -e --dry-run valued
'

test_expect_success 'bash: -- offers exactly the long options of --help' '
	help_longs >expect &&
	complete_bash -- >offered &&
	sort offered >actual &&
	test_cmp expect actual
'

test_expect_success 'bash: - offers the short ones too' '
	{ help_longs && help_shorts; } | sort >expect &&
	complete_bash - | sort >actual &&
	test_cmp expect actual
'

test_expect_success 'bash: an option that takes a value is followed by one' '
	help_valued >valued &&
	for o in $(help_longs); do
		complete_bash "$o" - >after || exit 1
		if grep -x -e "$o" valued >/dev/null; then
			! grep -x -e --help after ||
			{ echo "$o offers options, not its value"; exit 1; }
		else
			grep -x -e --help after >/dev/null ||
			{ echo "$o takes no value but options are not offered"; \
			exit 1; }
		fi
	done
'

test_expect_success 'bash: the values of --cache-mode and --format' '
	printf "%s\n" read-write read-only refresh offline >expect &&
	complete_bash --cache-mode "" >actual &&
	test_cmp expect actual &&
	printf "%s\n" read-write read-only refresh >expect &&
	complete_bash --cache-mode = re >actual &&
	test_cmp expect actual &&
	printf "%s\n" --cache-mode=read-write --cache-mode=read-only \
	    --cache-mode=refresh >expect &&
	complete_bash --cache-mode=re >actual &&
	test_cmp expect actual &&
	printf "%s\n" vmanjl batch >expect &&
	complete_bash --format "" >actual &&
	test_cmp expect actual &&
	printf "%s\n" batch >expect &&
	complete_bash -k --format b >actual &&
	test_cmp expect actual
'

test_expect_success 'bash: files after the options that read one' '
	printf "%s\n" "a dir" cache "in put.jsonl" key >expect &&
	for o in --key-file --cacert --resume; do
		in_files complete_bash "$o" "" | sort >actual &&
		test_cmp expect actual || exit 1
	done
'

test_expect_success 'bash: directories only after --cache and --out-dir' '
	printf "%s\n" "a dir" cache >expect &&
	for o in --cache --out-dir; do
		in_files complete_bash "$o" "" | sort >actual &&
		test_cmp expect actual || exit 1
	done &&
	echo cache >expect &&
	in_files complete_bash --cache = c >actual &&
	test_cmp expect actual &&
	echo --cache=cache >expect &&
	in_files complete_bash --cache=c >actual &&
	test_cmp expect actual
'

test_expect_success 'bash: input files elsewhere, and after --' '
	echo "in put.jsonl" >expect &&
	in_files complete_bash -k in >actual &&
	test_cmp expect actual &&
	touch "$TMP/files/-odd" &&
	echo -odd >expect &&
	in_files complete_bash -- -o >actual &&
	test_cmp expect actual
'

test_expect_success 'bash: no guess for a value of the user'"'"'s own' '
	for o in -j --jobs -H --retries --timeout; do
		complete_bash "$o" "" >actual &&
		test ! -s actual || exit 1
	done
'

test_expect_success 'bash: -e offers the paths of --endpoints' '
	"$VMANJL" --endpoints >table &&
	awk "NR > 1 && \$2 !~ /\\*/ { print \$2 }" table | sort -u >expect &&
	test $(wc -l <expect) -gt 5 &&
	complete_bash -e / | sort >actual &&
	comm -23 expect actual >missing &&
	test ! -s missing &&
	printf "%s\n" /mj/submit/ /mj/submit/upload-discord-images >expect &&
	complete_bash --endpoint /mj/s >actual &&
	test_cmp expect actual &&
	complete_bash -e/v1/emb >actual &&
	echo -e/v1/embeddings >expect &&
	test_cmp expect actual
'

# The options the zsh completion knows: every --name in a spec, and
# those written --name= (they take a value).
zsh_longs () {
	grep -o -e "--[a-z0-9-]*" "$TMP/zsh/_vmanjl" | sort -u
}
zsh_valued () {
	grep -o -e "--[a-z0-9-]*=" "$TMP/zsh/_vmanjl" | tr -d = | sort -u
}

test_expect_success 'zsh: the options of --help, those that take a value' '
	help_longs >expect &&
	zsh_longs >actual &&
	test_cmp expect actual &&
	help_valued >expect &&
	zsh_valued >actual &&
	test_cmp expect actual &&
	for s in $(help_shorts); do
		grep -e "{$s[+,]" "$TMP/zsh/_vmanjl" >/dev/null ||
		{ echo "zsh lacks $s"; exit 1; }
	done
'

# complete_zsh LINE...: for each command line, "== LINE", the matches a
# completion there offers, one a line, and "== end".
complete_zsh () {
	zsh -f -s "$TMP/zsh" "$PWD/zsh.out" "$@" <<'ZSH'
zmodload zsh/zpty || exit 1
dir=$1 out=$2
shift 2
: >$out
zpty z zsh -f -i
zpty -w z "bindkey -e; PS1=; fpath=($dir \$fpath)"
zpty -w z "autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd () { local -a m; builtin compadd -O m "$@";
	(( $#m )) && print -rl -- $m >>'"$out"'; builtin compadd "$@"; }'
# Wait till the shell has read all that: no typeahead to complete.
zpty -w z "print -r -- '== end' >>$out"
n=0
while (( n < 100 )) && ! grep -q '^== end$' $out; do
	sleep 0.1
	n=$((n + 1))
done
: >$out
n=0
for line in "$@"; do
	n=$((n + 1))
	zpty -w z "print -r -- '== $line' >>$out"
	zpty -w -n z "$line"$'\t'
	zpty -w z $'\C-u'"print -r -- '== end' >>$out"
	i=0
	while (( i < 100 && $(grep -c '^== end$' $out) < n )); do
		sleep 0.1
		i=$((i + 1))
	done
done
zpty -d z
cat $out
ZSH
}

# The matches offered for the line $1 in file $2.
zsh_matches () {
	awk -v line="== $1" '$0 == line { on = 1; next }
	    on && $0 == "== end" { exit } on' "$2" | sort -u
}

if ! command -v zsh >/dev/null 2>&1; then
	test_skip 'zsh: the completion is valid zsh' 'no zsh'
	test_skip 'zsh: Tab completes options and their values' 'no zsh'
	test_done
	exit
fi

test_expect_success 'zsh: the completion is valid zsh' '
	zsh -n "$TMP/zsh/_vmanjl" &&
	head -n 1 "$TMP/zsh/_vmanjl" >first &&
	echo "#compdef vmanjl" >expect &&
	test_cmp expect first
'

if ! zsh -fc 'zmodload zsh/zpty && zpty t true' >/dev/null 2>&1; then
	test_skip 'zsh: Tab completes options and their values' \
	    'no pseudo-terminal for zsh/zpty'
	test_done
	exit
fi

test_expect_success 'zsh: Tab completes options and their values' '
	mkdir bin &&
	ln -s "$VMANJL" bin/vmanjl &&
	mkdir "a dir" && touch key &&
	PATH="$PWD/bin:$PATH" && export PATH &&
	complete_zsh "vmanjl --" \
	    "vmanjl --cache-mode " "vmanjl --format=" "vmanjl -e /mj/s" \
	    "vmanjl --key-file " "vmanjl --out-dir " "vmanjl -j " \
	    >out &&
	help_longs >expect &&
	zsh_matches "vmanjl --" out >actual &&
	test_cmp expect actual &&
	printf "%s\n" offline read-only read-write refresh >expect &&
	zsh_matches "vmanjl --cache-mode " out >actual &&
	test_cmp expect actual &&
	printf "%s\n" batch vmanjl >expect &&
	zsh_matches "vmanjl --format=" out >actual &&
	test_cmp expect actual &&
	printf "%s\n" /mj/submit/ /mj/submit/upload-discord-images >expect &&
	zsh_matches "vmanjl -e /mj/s" out >actual &&
	test_cmp expect actual &&
	zsh_matches "vmanjl --key-file " out >actual &&
	grep -x key actual && grep -x "a\\\\ dir" actual &&
	zsh_matches "vmanjl --out-dir " out >actual &&
	grep -x "a\\\\ dir" actual && ! grep -x key actual &&
	zsh_matches "vmanjl -j " out >actual &&
	test ! -s actual
'

test_done
