#!/bin/sh
# bench/loader.sh (make bench-loader): images per second of the data loader alone (decode +
# the notebook's train_transform_augmented + batching, no model) on 100x100 PNGs: cnnc with 1
# and 2 loader threads against torchvision's DataLoader with num_workers 0 and 2, in the same
# command; medians of REPEATS epochs and their ratios. A benchmark, not a test.
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON_TORCH:=/usr/bin/python3}"
REPEATS=${REPEATS:-5}
COPIES=${COPIES:-4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the synthetic sea-creature training images, each class copied COPIES times (175 x COPIES)
"$top_builddir/examples/make_sea_data" "$tmp/sea" >/dev/null
for d in "$tmp/sea/train"/*; do
    c=$(basename "$d")
    mkdir -p "$tmp/set/$c"
    i=0
    while [ "$i" -lt "$COPIES" ]; do
        for f in "$d"/*.png; do cp "$f" "$tmp/set/$c/${i}_$(basename "$f")"; done
        i=$((i + 1))
    done
done
n=$(find "$tmp/set" -name '*.png' | wc -l)
model="$top_srcdir/models/sea_augmented.cnn"

echo "Loader benchmark: $n 100x100 PNGs, batch 10, shuffled, the notebook's train_transform_augmented"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command: make bench-loader (REPEATS=$REPEATS COPIES=$COPIES); median of $REPEATS epochs each"
echo "cnnc: bench/loader_bench (no decoded-image cache: every epoch decodes, as torchvision does)"
echo "torchvision $("$PYTHON_TORCH" -c 'import torchvision; print(torchvision.__version__)' 2>/dev/null || echo '(missing)'):" \
    "bench/loader_torchvision.py (DataLoader defaults: workers start each epoch)"
echo

median() { sed -n 's/^median \([0-9.]*\) images\/s$/\1/p'; }
c1=$("$top_builddir/bench/loader_bench" "$model" "$tmp/set" 1 "$REPEATS" | median)
c2=$("$top_builddir/bench/loader_bench" "$model" "$tmp/set" 2 "$REPEATS" | median)
cc=$("$top_builddir/bench/loader_bench" "$model" "$tmp/set" 2 "$REPEATS" 1024 | median)
if "$PYTHON_TORCH" -c 'import torchvision' 2>/dev/null; then
    t0=$("$PYTHON_TORCH" "$top_srcdir/bench/loader_torchvision.py" "$tmp/set" 0 "$REPEATS" | median)
    t2=$("$PYTHON_TORCH" "$top_srcdir/bench/loader_torchvision.py" "$tmp/set" 2 "$REPEATS" | median)
else
    t0=; t2=
fi
ratio() { if [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; else echo "-"; fi; }
printf '%-44s %12s\n' "loader" "images/s"
printf '%-44s %12s\n' "cnnc, 1 loader thread" "$c1"
printf '%-44s %12s\n' "cnnc, 2 loader threads" "$c2"
printf '%-44s %12s\n' "cnnc, 2 threads, decoded images cached" "$cc"
printf '%-44s %12s\n' "torchvision DataLoader, num_workers=0" "${t0:--}"
printf '%-44s %12s\n' "torchvision DataLoader, num_workers=2" "${t2:--}"
echo
echo "ratio cnnc 1 thread / torchvision num_workers=0: $(ratio "$c1" "$t0")"
echo "ratio cnnc 2 threads / torchvision num_workers=2: $(ratio "$c2" "$t2")"
