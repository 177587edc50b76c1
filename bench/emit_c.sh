#!/bin/sh
# bench/emit_c.sh: `make bench-emit-c`: for sea.cnn, fashion_resnet.cnn and resnet18.cnn
# (freshly initialised weights: timing does not depend on them), the code --emit-c writes
# (gcc -O3 -march=native, one thread) against cnnc's runtime (bench_cnnc infer, one
# thread): single-image latency and batch-16 throughput. One markdown row per model; an
# OpenCV DNN or int8 column goes beside these (bench/RESULTS.md).
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${REPEATS:=10}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| model | emit-c 1 image (ms) | runtime 1 image (ms) | emit-c batch 16 (img/s) | runtime batch 16 (img/s) |"
echo "|---|---|---|---|---|"
for spec in "sea classificationcnn CLASSIFICATIONCNN" "fashion_resnet fashionresnet FASHIONRESNET" "resnet18 resnet18 RESNET18"; do
    set -- $spec
    "$top_builddir/tests/parity/parity_dump" --init "$top_srcdir/models/$1.cnn" "$tmp/w.st" >/dev/null
    "$top_builddir/cnnc" "$top_srcdir/models/$1.cnn" --emit-c "$tmp/m.c" --weights "$tmp/w.st" --weights-bin "$tmp/w.bin"
    ${CC:-gcc} -std=c99 -O3 -march=native -DPREFIX="$2" -DUPPER="$3" -DHEADER='"m.h"' -I"$tmp" \
        "$top_srcdir/bench/emit_c_time.c" "$tmp/m.c" -o "$tmp/time" -lm
    set -- "$1" $("$tmp/time" "$tmp/w.bin" "$REPEATS")
    one=$("$top_builddir/bench/bench_cnnc" "$top_srcdir/models/$1.cnn" infer 1 "$REPEATS" 1)
    sixteen=$("$top_builddir/bench/bench_cnnc" "$top_srcdir/models/$1.cnn" infer 16 "$REPEATS" 1)
    echo "| $1 | $3 | $(echo "$one" | awk '{ printf "%.1f", $2 * 1000 }') | $4 | $(echo "$sixteen" | awk '{ print $3 }') |"
done
