#!/bin/sh
# Fuzzing.  Two modes:
#   fuzz.sh regress BUILDDIR     replay each target's corpus with the
#                                targets in BUILDDIR/fuzz (make check)
#   fuzz.sh fuzz OUTDIR SECONDS  build each target with clang's libFuzzer
#                                (ASan+UBSan) and fuzz it for SECONDS,
#                                corpus kept in OUTDIR/corpus/NAME
# FUZZ_RUNS=N stops a target after N executions if that comes first;
# FUZZ_TARGETS="iso tftp" fuzzes only those targets.
# Corpora: tests/fuzz/corpus/NAME (committed seeds and crash cases) plus
# generated seeds (ISO images made with xorriso; nothing binary is
# committed).  A crash input found by `fuzz` is copied into
# tests/fuzz/corpus/NAME so it stays a regression case.
set -eu
mode=${1:?usage: fuzz.sh regress BUILDDIR | fuzz OUTDIR SECONDS}
out=${2:?}
top=$(cd "$(dirname "$0")/.." && pwd)

seeds() {	# generated seeds for target $1 into dir $2
	mkdir -p "$2"
	case $1 in
	fuzz_iso)
		[ -n "$(ls "$2" 2>/dev/null)" ] && return 0
		/usr/bin/python3 - "$2" <<'PY'
import os, sys, tempfile
sys.path.insert(0, os.path.join(os.environ["TOP"], "tests/integration"))
import isokit
d = sys.argv[1]
w = tempfile.mkdtemp()
for fam, (vol, files, *_rest) in isokit.FAMILIES.items():
    small = {k: (min(v, 4096) if isinstance(v, int) else v)
             for k, v in files.items()}
    src = os.path.join(w, fam)
    isokit.make_tree(src, small, 0)
    isokit.xorriso(src, os.path.join(d, fam + ".iso"), vol)
for kind, p in isokit.make_malformed(w).items():
    os.rename(p, os.path.join(d, kind + ".iso"))
PY
		;;
	esac
}
export TOP="$top"
# leaks inside third-party libraries that we cannot fix (see the file)
export LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

case $mode in
regress)
	fail=0
	for bin in "$out"/fuzz/fuzz_*; do
		[ -x "$bin" ] || continue
		name=$(basename "$bin")
		short=${name#fuzz_}
		gen="$out/fuzz-seeds/$name"
		seeds "$name" "$gen"
		dirs=""
		[ -d "$top/tests/fuzz/corpus/$short" ] &&
			dirs="$top/tests/fuzz/corpus/$short"
		[ -n "$(ls "$gen" 2>/dev/null)" ] && dirs="$dirs $gen"
		# shellcheck disable=SC2086
		if ! "$bin" $dirs; then
			echo "FAILED: $name"
			fail=1
		fi
	done
	exit $fail
	;;
fuzz)
	secs=${3:-60}
	command -v clang >/dev/null || { echo "fuzz: needs clang" >&2; exit 1; }
	mkdir -p "$out"
	flags="-g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
		-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=34 \
		-I$top/include -I$top/lib $(pkg-config --cflags libisofs-1 fuse3)"
	libs="$(pkg-config --libs libisofs-1 inih libcurl libzstd zlib liblzma libseccomp) -lpthread -lm"
	# the library once, without the fuzzer's main
	objs=""
	for c in "$top"/lib/*.c "$top"/lib/proto/*.c; do
		[ -f "$c" ] || continue
		o="$out/obj/$(basename "$c" .c).o"
		mkdir -p "$out/obj"
		# shellcheck disable=SC2086
		clang $flags -fsanitize=fuzzer-no-link -c -o "$o" "$c"
		objs="$objs $o"
	done
	for src in "$top"/tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		short=${name#fuzz_}
		case " ${FUZZ_TARGETS:-$short} " in
		*" $short "*) ;;
		*) continue ;;
		esac
		corpus="$out/corpus/$short"
		mkdir -p "$corpus" "$out/crashes/$short"
		[ -d "$top/tests/fuzz/corpus/$short" ] &&
			cp -n "$top/tests/fuzz/corpus/$short"/* "$corpus"/ 2>/dev/null || true
		seeds "$name" "$out/seeds/$name"
		cp -n "$out/seeds/$name"/* "$corpus"/ 2>/dev/null || true
		# shellcheck disable=SC2086
		clang $flags -o "$out/$name" "$src" $objs $libs
		log="$out/$name.log"
		# shellcheck disable=SC2046
		"$out/$name" -max_total_time="$secs" -rss_limit_mb=2048 \
			$([ -n "${FUZZ_RUNS:-}" ] && echo "-runs=$FUZZ_RUNS") \
			-artifact_prefix="$out/crashes/$short/" \
			-print_final_stats=1 "$corpus" >"$log" 2>&1 || true
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
			grep -o '[0-9]*$' || echo "?")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || echo "cov: ?")
		crashes=$(ls "$out/crashes/$short" | wc -l)
		echo "$name: $execs executions, $cov, $crashes crash inputs"
		if [ "$crashes" -gt 0 ]; then
			cp "$out/crashes/$short"/* "$top/tests/fuzz/corpus/$short"/
			tail -30 "$log"
		fi
	done
	;;
*)
	echo "usage: fuzz.sh regress BUILDDIR | fuzz OUTDIR SECONDS" >&2
	exit 2
	;;
esac
