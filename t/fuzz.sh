#!/bin/sh
# t/fuzz.sh: build every libFuzzer target t/fuzz-*.c and run each one.
#
#	sh t/fuzz.sh [seconds]
#
# Each target first runs every input of its corpus t/corpus/<target>/
# once (regression inputs, crash-* and the like, may be too large to
# fuzz with), then fuzzes for SECONDS (default 60) from the other inputs
# there and a work corpus kept in the build directory (new inputs go
# there, never into t/).  The project's sources but vmanjl.c (it has
# main) are built into one archive, so a target links the files it
# needs.  A crash, leak, timeout or out-of-memory input that fuzzing
# finds is copied into t/corpus/<target>/ as a regression input named
# after its kind and hash (rename it to say what it is).  Exit status:
# 0 when every target is clean, 1 when an input fails, 2 when the build
# does.
#
# Environment: FUZZ_CC (default clang), FUZZ_BUILD (build directory,
# default t/fuzz-build), FUZZ_TARGETS (names to run, default all),
# FUZZ_FLAGS (more libFuzzer options), PKG_CONFIG.
#
# Needs clang with its sanitizer and libFuzzer runtimes and the LLVM
# symbolizer; on Debian: apt-get install clang libclang-rt-dev llvm.
set -u

secs=${1:-60}
cd "$(dirname "$0")/.." || exit 2
cc=${FUZZ_CC:-clang}
pc=${PKG_CONFIG:-pkg-config}
build=${FUZZ_BUILD:-t/fuzz-build}

case $secs in
''|*[!0-9]*) echo "usage: sh t/fuzz.sh [seconds]" >&2; exit 2 ;;
esac
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz.sh: '$cc' not found:" \
	    "apt-get install clang libclang-rt-dev llvm" >&2
	exit 2
fi
if ! $pc --exists yajl libcurl 2>/dev/null; then
	echo "fuzz.sh: the yajl and libcurl headers are missing:" \
	    "apt-get install libyajl-dev libcurl4-openssl-dev pkg-config" >&2
	exit 2
fi
# The version as the Makefile passes it (no blanks in it, so it splits
# as one word).
version=$(sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
cflags="-std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1
	-fno-omit-frame-pointer -fno-sanitize-recover=all
	-DVMANJL_VERSION=\"$version\" $($pc --cflags yajl libcurl)"
libs="$($pc --libs yajl libcurl) -lpthread -lm"
# The symbolizer of the same LLVM, for readable stacks.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] &&
    ! command -v llvm-symbolizer >/dev/null 2>&1; then
	for s in /usr/bin/llvm-symbolizer-*; do
		[ -x "$s" ] && ASAN_SYMBOLIZER_PATH=$s
	done
	[ -n "${ASAN_SYMBOLIZER_PATH:-}" ] && export ASAN_SYMBOLIZER_PATH
fi
# Scratch files of the targets, left behind by a crash, stay in here.
rm -rf "$build/tmp"
mkdir -p "$build/tmp" || exit 2
TMPDIR=$(cd "$build/tmp" && pwd) || exit 2
export TMPDIR
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Build: the project into an archive, instrumented for coverage, then
# each target against it.
mkdir -p "$build/obj" || exit 2
rm -f "$build/libvmanjl.a" "$build"/obj/*.o
for src in *.c; do
	[ "$src" = vmanjl.c ] && continue
	$cc $cflags -fsanitize=fuzzer-no-link,address,undefined \
	    -c -o "$build/obj/${src%.c}.o" "$src" || exit 2
done
ar rcs "$build/libvmanjl.a" "$build"/obj/*.o || exit 2

targets=
for src in t/fuzz-*.c; do
	name=$(basename "$src" .c)
	if [ -n "${FUZZ_TARGETS:-}" ]; then
		case " $FUZZ_TARGETS " in
		*" $name "*) ;;
		*) continue ;;
		esac
	fi
	echo "building $name"
	$cc $cflags -fsanitize=fuzzer,address,undefined -o "$build/$name" \
	    "$src" "$build/libvmanjl.a" $libs || exit 2
	targets="$targets $name"
done
[ -n "$targets" ] || { echo "fuzz.sh: no target to run" >&2; exit 2; }

is_regression () {
	case $(basename "$1") in
	crash-*|leak-*|timeout-*|oom-*) return 0 ;;
	esac
	return 1
}

status=0
summary=
for name in $targets; do
	seeds=t/corpus/$name
	case $build in
	/*) bin=$build/$name ;;
	*) bin=./$build/$name ;;
	esac
	work=$build/corpus-$name
	log=$build/$name.log
	art=$build/artifacts-$name
	mkdir -p "$seeds" "$work" "$art"
	rm -f "$art"/*
	: >"$log"
	failed=0

	# The corpus, each input once.
	for f in "$seeds"/*; do
		[ -f "$f" ] || continue
		if ! is_regression "$f"; then
			cp "$f" "$work/"
		elif ! "$bin" -timeout=25 -artifact_prefix="$art/" \
		    "$f" >>"$log" 2>&1; then
			echo "$name: regression input $f still fails"
			failed=$((failed + 1))
		fi
	done
	rm -f "$art"/*		# those are in the corpus already

	echo "fuzzing $name for ${secs}s"
	"$bin" -max_total_time="$secs" -timeout=25 \
	    -print_final_stats=1 -artifact_prefix="$art/" \
	    ${FUZZ_FLAGS:-} "$work" >>"$log" 2>&1
	rc=$?
	final_stat () {
		sed -n "s/^stat::$1: *//p" "$log" | tail -n 1
	}
	runs=$(final_stat number_of_executed_units)
	rate=$(final_stat average_exec_per_sec)
	for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
		[ -f "$f" ] || continue
		base=$(basename "$f")
		keep=$seeds/${base%%-*}-$(printf %.12s "${base#*-}")
		cp "$f" "$keep"
		failed=$((failed + 1))
		echo "$name: fuzzing found $keep"
	done
	[ $rc -ne 0 ] && [ $failed -eq 0 ] && failed=1

	result=ok
	if [ $failed -ne 0 ]; then
		result=FAILED
		status=1
		echo "$name: FAILED; from $log:"
		grep -v -e '^#[0-9]' -e '^INFO:' "$log" |
		    grep -A 30 -E 'ERROR|invariant|runtime error' |
		    head -n 80 | sed 's/^/    /'
	fi
	summary="$summary
$(printf '%-12s %5ss %10s runs %8s exec/s  %s' "$name" "$secs" \
	    "${runs:-?}" "${rate:-?}" "$result")"
done
echo "$summary" | sed '1d'
exit $status
