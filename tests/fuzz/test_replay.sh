#!/bin/sh
# tests/fuzz/test_replay.sh: replays every input that once crashed a fuzz harness
# (tests/fuzz/regressions/<harness>/) and every seed (tests/fuzz/corpus/<harness>/) through
# the harness built without libFuzzer: none may crash (or, in the sanitizer build, trip
# AddressSanitizer or UndefinedBehaviorSanitizer).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
fails=0
total=0
for h in cnn model image idx; do
    set --
    for f in "$top_srcdir/tests/fuzz/regressions/$h"/* "$top_srcdir/tests/fuzz/corpus/$h"/*; do
        [ -f "$f" ] && set -- "$@" "$f"
    done
    [ $# = 0 ] && continue
    total=$((total + $#))
    if ! "$top_builddir/tests/fuzz/replay_$h" "$@" >/dev/null; then
        echo "FAIL: replay_$h crashed on one of its $# inputs; one at a time:"
        for f in "$@"; do "$top_builddir/tests/fuzz/replay_$h" "$f" >/dev/null 2>&1 || echo "  $f"; done
        fails=$((fails + 1))
    fi
done
# the files that tripped stb_image 2.27 must be refused before stb decodes them (the normal
# build's libstb is not instrumented: only the refusal shows that the guard works)
expect_refused() {   # file pattern, the words of the refusal
    for f in "$top_srcdir"/tests/fuzz/regressions/image/$1; do
        [ -f "$f" ] || continue
        got=$("$top_builddir/tests/fuzz/replay_image" -v "$f")
        case $got in
        *"$2"*) ;;
        *) echo "FAIL: $f was not refused with '$2': $got"; fails=$((fails + 1)) ;;
        esac
    done
}
expect_refused 'stb_jpeg_dht_*' "a Huffman table with more than 256 codes"
expect_refused 'stb_pnm_header_*' "a corrupt PPM/PGM header"
expect_refused 'stb_jpeg_undefined_*' "a Huffman table that was never defined"
expect_refused 'tga_*' "more than the 1 MiB cnnc decodes"
expect_refused 'png_bomb_*' "(RGBA, 16 bits per channel: 32 MiB decoded), more than the 1 MiB cnnc decodes"
expect_refused 'stb_png_huge_*' "cannot decode image (the file is truncated)"
# what cannot be committed: a FIFO named like an image (reading it would wait forever) and a
# link to /dev/zero (reading it would fill memory) are refused by name, at once
d=$(mktemp -d)
mkfifo "$d/fifo.png" && ln -s /dev/zero "$d/zero.png"
for f in fifo.png:"but a FIFO" zero.png:"but a device"; do
    got=$(timeout 10 "$top_builddir/tests/fuzz/replay_image" -v -f "$d/${f%%:*}")
    case $got in
    *"not an image file ${f#*:}"*) ;;
    *) echo "FAIL: $d/${f%%:*} was not refused at once: $got"; fails=$((fails + 1)) ;;
    esac
    total=$((total + 1))
done
rm -rf "$d"
echo "test_replay: $total inputs, $fails failed"
[ $fails = 0 ]
