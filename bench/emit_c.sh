#!/bin/sh
# bench/emit_c.sh: `make bench-emit-c`: for sea.cnn, fashion_resnet.cnn and resnet18.cnn
# (freshly initialised weights: timing does not depend on them), the code --emit-c writes
# (gcc -O3 -march=native, one thread) against cnnc's runtime (bench_cnnc infer, one
# thread): single-image latency and batch-16 throughput, one markdown row per model.
#   emit_c.sh build MODEL DIR [int8]: writes DIR/time, the generated code of models/MODEL.cnn
#   built with bench/emit_c_time.c, and prints how to run it ("DIR/time DIR/w.bin": the
#   weights, int8 ones too, in DIR/w.bin); bench.py's deployment table runs it. int8
#   calibrates on 16 images: the synthetic sea folders for an ImageFolder model, 1000
#   folders of one of them (with ImageNet's eval transform) for a model without a training
#   set (resnet18).
#   emit_c.sh layers MODEL DIR [RUNS] [int8]: the float (or int8) code of models/MODEL.cnn
#   with a mark before each layer's code (bench/emit_c_layers.c), run RUNS times (default
#   20): each layer's least CPU time, in ms.
#   emit_c.sh trained DIR [EPOCHS]: sea.cnn trained EPOCHS (default 5) epochs on the demo data
#   (examples/make_sea_data), then on its test images (as the model's input tensors) one
#   markdown row: the single-image latency of the emitted float and int8 (--calibrate 16) code
#   and of OpenCV DNN on the ONNX export of the same weights. Trained weights and real images
#   are what a deployed model sees: after a ReLU most activations are 0, which the emitted
#   Linear skips (fresh weights on the fixed input leave fewer: the deployment table's sea row).
# CNNC=PATH takes the code another build of cnnc writes (its A/B against this one).
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${REPEATS:=10}"
cnnc=${CNNC:-$top_builddir/cnnc}    # CNNC=another/cnnc: that compiler's code (an A/B run)

# with_data CNN DIR: DIR/m.cnn, CNN with its ImageFolder paths at DIR/data (make_sea_data's)
with_data() {
    sed "s#ImageFolder(\"[^\"]*/\\(train\\|test\\|validate\\)\"#ImageFolder(\"$2/data/\\1\"#" "$1" >"$2/m.cnn"
}

# harness CNN DIR HEADER OUT SOURCE...: OUT, a bench program (bench/emit_c_time.c or
# emit_c_layers.c) over the code --emit-c wrote for CNN in DIR (weights in a --weights-bin file)
harness() {
    name=$(sed -n 's/^model \([A-Za-z0-9_]*\).*/\1/p' "$1" | tail -1) d=$2 header=$3 out=$4
    shift 4
    ${CC:-gcc} -std=c99 -O3 -march=native -DWEIGHTS_BIN -DPREFIX="$(echo "$name" | tr 'A-Z' 'a-z')" \
        -DUPPER="$(echo "$name" | tr 'a-z' 'A-Z')" -DHEADER="\"$header\"" -I"$d" -I"$top_srcdir/bench" "$@" -o "$out" -lm
}

# build MODEL DIR [int8]
build() {
    cnn="$top_srcdir/models/$1.cnn" d=$2 kind=${3:-float}
    mkdir -p "$d"
    "$top_builddir/tests/parity/parity_dump" --init "$cnn" "$d/w.st" >/dev/null
    if [ "$kind" = int8 ]; then
        "$top_builddir/examples/make_sea_data" "$d/data" >/dev/null
        if grep -q 'ImageFolder(' "$cnn"; then
            with_data "$cnn" "$d"
        else
            one=$(find "$d/data/train" -name '*.png' | tail -1)
            for i in $(seq 1000 1999); do mkdir -p "$d/k/c$i" && ln -f "$one" "$d/k/c$i/a.png"; done
            { cat "$cnn"; echo 'transform = Compose(Resize(256), CenterCrop(224), ToTensor(), Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]))'
              echo "train_dataset = ImageFolder(\"$d/k\", transform=transform)"; } >"$d/m.cnn"
        fi
        "$cnnc" "$d/m.cnn" --emit-c "$d/m.c" --weights "$d/w.st" --quantize int8 --calibrate 16 \
            --weights-bin "$d/w.bin"
    else
        "$cnnc" "$cnn" --emit-c "$d/m.c" --weights "$d/w.st" --weights-bin "$d/w.bin"
    fi
    harness "$cnn" "$d" m.h "$d/time" "$top_srcdir/bench/emit_c_time.c" "$d/m.c"
    echo "$d/time $d/w.bin"
}

# layers MODEL DIR [RUNS] [int8]
layers() {
    build "$1" "$2" "${4:-float}" >/dev/null
    d=$2 cnn="$top_srcdir/models/$1.cnn"
    awk '/^#include "m.h"/ { print; print "void emit_c_mark(const char *label);"; next }
         /_forward_r\(const float \*input, float \*logits, void \*arena\)$/ { body = 1 }
         body && /^    \/\* .*: .* \*\/$/ { l = $0; sub(/^    \/\* /, "", l); sub(/ \*\/$/, "", l); print "    emit_c_mark(\"" l "\");" }
         body && /^    memcpy\(logits/ { print "    emit_c_mark(0);"; body = 0 }
         { print }' "$d/m.c" >"$d/layers.c"
    harness "$cnn" "$d" m.h "$d/layers" "$top_srcdir/bench/emit_c_layers.c" "$d/layers.c"
    "$d/layers" "$d/w.bin" "${3:-20}"
}

# trained DIR [EPOCHS]
trained() {
    d=$1
    mkdir -p "$d"
    "$top_builddir/examples/make_sea_data" "$d/data" >/dev/null
    with_data "$top_srcdir/models/sea.cnn" "$d"
    "$cnnc" "$d/m.cnn" --train --epochs "${2:-5}" -o "$d/w.st" >/dev/null
    "$cnnc" "$d/m.cnn" --emit-c "$d/m.c" --weights "$d/w.st" --weights-bin "$d/w.bin"
    "$cnnc" "$d/m.cnn" --emit-c "$d/q.c" --weights "$d/w.st" --weights-bin "$d/q.bin" --quantize int8 --calibrate 16
    "$cnnc" "$d/m.cnn" --export-onnx "$d/m.onnx" --weights "$d/w.st"
    # the test images as ToTensor() and Normalize(0.5, 0.5) make them, at most 64
    /usr/bin/python3 - "$d/data/test" "$d/inputs.raw" <<'EOF'
import glob, sys
import cv2
import numpy as np
paths = sorted(glob.glob(sys.argv[1] + "/*/*.png"))[:64]
x = [(cv2.imread(p)[:, :, ::-1].astype(np.float32) / 255.0 - 0.5) / 0.5 for p in paths]
np.stack(x).transpose(0, 3, 1, 2).astype(np.float32).tofile(sys.argv[2])
EOF
    harness "$d/m.cnn" "$d" m.h "$d/time-m" "$top_srcdir/bench/emit_c_time.c" "$d/m.c"
    harness "$d/m.cnn" "$d" q.h "$d/time-q" "$top_srcdir/bench/emit_c_time.c" "$d/q.c"
    set -- $(INPUTS="$d/inputs.raw" "$d/time-m" "$d/w.bin" 100 1) $(INPUTS="$d/inputs.raw" "$d/time-q" "$d/q.bin" 100 1) \
        $(/usr/bin/python3 "$top_srcdir/bench/bench_opencv.py" "$d/m.onnx" 1 100 1 "$d/inputs.raw")
    awk -v e="$2" -v q="$5" -v o="$8" 'BEGIN { printf "| sea.cnn trained, its test images, 1 image (ms) | %.2f | %.2f | %.2f | %.2fx | %.2fx |\n",
                                                 e, q, o * 1000, o * 1000 / e, e / q }'
}

if [ "${1:-}" = trained ]; then
    shift
    trained "$@"
    exit
fi
if [ "${1:-}" = layers ]; then
    shift
    layers "$@"
    exit
fi
if [ "${1:-}" = build ]; then
    shift
    build "$@"
    exit
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| model | emit-c 1 image (ms) | runtime 1 image (ms) | emit-c batch 16 (img/s) | runtime batch 16 (img/s) |"
echo "|---|---|---|---|---|"
for m in sea fashion_resnet resnet18; do
    set -- "$m" $($(build "$m" "$tmp/$m") "$REPEATS")
    one=$("$top_builddir/bench/bench_cnnc" "$top_srcdir/models/$1.cnn" infer 1 "$REPEATS" 1)
    sixteen=$("$top_builddir/bench/bench_cnnc" "$top_srcdir/models/$1.cnn" infer 16 "$REPEATS" 1)
    echo "| $1 | $3 | $(echo "$one" | awk '{ printf "%.1f", $2 * 1000 }') | $4 | $(echo "$sixteen" | awk '{ print $3 }') |"
done
