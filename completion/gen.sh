#!/bin/sh
# completion/gen.sh: write the bash or the zsh completion of vmanjl,
# made from the option table completion/vmanjl.opts, on the standard
# output.
#
#	sh completion/gen.sh bash|zsh completion/vmanjl.opts
#
# Both come from the one table, so they know the same options and the
# same values; t/2010-completion.t compares them with vmanjl --help.
set -eu

if [ $# -ne 2 ] || { [ "$1" != bash ] && [ "$1" != zsh ]; }; then
	echo "usage: sh completion/gen.sh bash|zsh table" >&2
	exit 2
fi
shell=$1
table=$2
if [ ! -r "$table" ]; then
	echo "gen.sh: cannot read '$table'" >&2
	exit 2
fi
# The table without its comments and blank lines.
rows=$(grep -v -e '^#' -e '^[[:space:]]*$' "$table")

# ---------------------------------------------------------------- bash

# The case arm for the options $1 (each preceded by "|"), running $2;
# none when no option has that kind of value.
arm () {
	[ -z "$1" ] || printf '\n\t%s)%s\n\t\t;;' "${1#|}" "$2"
}

# The case arms of _vmanjl are gathered per kind of value, then written.
bash_completion () {
	words= shorts= files= dirs= endpoint= free= choices=
	while read -r short long flags value desc; do
		if [ "$short" = - ]; then
			names=--$long
		else
			names="-$short|--$long"
			words="$words -$short"
		fi
		case $value in
		-) continue ;;
		file) files="$files|$names" ;;
		dir) dirs="$dirs|$names" ;;
		endpoint) endpoint="$endpoint|$names" ;;
		*'|'*) choices="$choices
	$names)
		mapfile -t COMPREPLY < <(compgen -W '$(echo "$value" |
			    tr '|' ' ')' -- \"\$cur\") ;;" ;;
		*) free="$free|$names" ;;
		esac
		[ "$short" = - ] || shorts="$shorts$short"
	done <<EOF
$rows
EOF
	longs=$(printf '%s\n' "$rows" | while read -r s long rest; do
		printf ' --%s' "$long"; done)
	cat <<EOF
# bash completion for vmanjl(1)
# Made by completion/gen.sh from completion/vmanjl.opts: edit those.

# The endpoint paths of vmanjl --endpoints; of a pattern, the part before
# its first '*', for the user to go on typing.
_vmanjl_endpoints()
{
	local method path rest

	"\$1" --endpoints 2>/dev/null | while read -r method path rest; do
		[[ \$method == METHOD ]] && continue
		path=\${path%%\\**}
		[[ \$path == / ]] || printf '%s\\n' "\$path"
	done | sort -u
}

_vmanjl()
{
	local cur=\${COMP_WORDS[COMP_CWORD]} prev= pre= i

	COMPREPLY=()
	# After "--" every word is an input file.
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ \${COMP_WORDS[i]} == -- ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "\$cur")
			return
		fi
	done
	((COMP_CWORD > 0)) && prev=\${COMP_WORDS[COMP_CWORD - 1]}
	# --opt=value is three words when '=' breaks words (by default), one
	# word when it does not; a short option may have its value stuck on.
	if [[ \$cur == = && \$prev == --?* ]]; then
		cur=
	elif [[ \$prev == = && \${COMP_WORDS[COMP_CWORD - 2]} == --?* ]]; then
		prev=\${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ \$cur == --?*=* ]]; then
		prev=\${cur%%=*} pre=\${cur%%=*}= cur=\${cur#*=}
	elif [[ \$cur == -[$shorts]?* ]]; then
		prev=\${cur:0:2} pre=\${cur:0:2} cur=\${cur:2}
	fi
	case \$prev in$choices$(arm "$endpoint" '
		mapfile -t COMPREPLY < <(compgen -W "$(_vmanjl_endpoints "$1")" \
		    -- "$cur")
		# Only a pattern'"'"'s prefix: go on typing.
		if [[ ${#COMPREPLY[@]} == 1 && $COMPREPLY == */ ]]; then
			compopt -o nospace 2>/dev/null
		fi')$(arm "$files" '
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")')$(arm "$dirs" '
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")')$(arm "$free" '
		# A value of the user'"'"'s own.')
	*)
		if [[ \$cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W '${words# }$longs' \\
			    -- "\$cur")
		else
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "\$cur")
		fi
		;;
	esac
	if [[ -n \$pre ]]; then
		COMPREPLY=("\${COMPREPLY[@]/#/\$pre}")
	fi
}
complete -F _vmanjl vmanjl
EOF
}

# ---------------------------------------------------------------- zsh

# One _arguments spec per option: which options it excludes, its names,
# its description, and how its value is completed.
zsh_specs () {
	while read -r short long flags value desc; do
		desc=$(printf '%s\n' "$desc" |
		    sed -e 's/[][]/\\&/g' -e "s/'/'\\\\''/g")
		case $flags in
		'!') excl="'(- *)'" ;;
		'*') excl="'*'" ;;
		*) if [ "$short" = - ]; then excl=; else
			excl="'(-$short --$long)'"; fi ;;
		esac
		case $value in
		-) arg= sarg= larg= ;;
		file) arg=':file:_files' sarg=+ larg== ;;
		dir) arg=':directory:_files -/' sarg=+ larg== ;;
		endpoint) arg=':endpoint path:_vmanjl_endpoints' sarg=+ \
			larg== ;;
		*'|'*) arg=":$long:($(echo "$value" | tr '|' ' '))" sarg=+ \
			larg== ;;
		*) arg=":$value: " sarg=+ larg== ;;
		esac
		if [ "$short" = - ]; then
			names="--$long$larg"
		else
			names="{-$short$sarg,--$long$larg}"
		fi
		printf "\t%s%s'[%s]%s' \\\\\n" "$excl" "$names" "$desc" "$arg"
	done <<EOF
$rows
EOF
}

zsh_completion () {
	cat <<EOF
#compdef vmanjl
# zsh completion for vmanjl(1)
# Made by completion/gen.sh from completion/vmanjl.opts: edit those.

# The endpoint paths of vmanjl --endpoints; of a pattern, the part before
# its first '*', for the user to go on typing.
(( \$+functions[_vmanjl_endpoints] )) ||
_vmanjl_endpoints() {
	local line p ret=1
	local -a w full expl
	local -aU part

	for line in \${(f)"\$(_call_program endpoints \$words[1] \\
	    --endpoints 2>/dev/null)"}; do
		w=(\${=line})
		[[ \$w[1] == METHOD ]] && continue
		p=\${w[2]%%\\**}
		if [[ \$p == \$w[2] ]]; then
			full+=(\$p)
		elif [[ \$p != / ]]; then
			part+=(\$p)
		fi
	done
	_description endpoints expl 'endpoint path'
	compadd "\$expl[@]" -a full && ret=0
	compadd "\$expl[@]" -S '' -a part && ret=0
	return ret
}

_arguments -s -S : \\
$(zsh_specs)
	'*:input file:_files'
EOF
}

${shell}_completion
