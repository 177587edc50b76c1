#!/bin/sh
# tests/backends/test_emit_c_preprocess.sh: --emit-c's preprocess function with Resize and
# CenterCrop in the eval transform (Resize(int) then CenterCrop, Resize((h, w)), a Resize
# smaller than the crop so that it pads, Grayscale between them) on images of several sizes
# and aspect ratios: its tensor is bit for bit the runtime's (emit_ref), the class is the
# runtime's and --predict's, the probabilities within 1e-5; against torchvision + PIL (when
# installed) within one grey level, 99% of values within 1e-6; one run under ASan + UBSan.
. "$(dirname "$0")/../lib.sh"

stb=$(pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)
ref="$top_builddir/tests/backends/emit_ref"
py=${PYTHON_TORCH:-/usr/bin/python3}
strict="-std=c99 -Wall -Wextra -pedantic -Werror -O2"
compilers=gcc
command -v clang >/dev/null && compilers="gcc clang"
norm='T.ToTensor(), T.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])'
sizes="300x200 97x131 640x480 100x100 50x60 1000x120 101x99"

# case NAME CNNC_STEPS TORCHVISION_STEPS: tiny.cnn with CNNC_STEPS before ToTensor
case_() {
    name=$1 d="$tmp/$1"
    mkdir -p "$d"
    sed "s/transform = Compose(ToTensor(),/transform = Compose($2, ToTensor(),/" \
        "$top_srcdir/tests/checkpoint/tiny.cnn" >"$d/m.cnn"
    "$top_builddir/tests/parity/parity_dump" --init "$d/m.cnn" "$d/w.st" >/dev/null || { fail "$name: parity_dump"; return; }
    "$CNNC" "$d/m.cnn" --emit-c "$d/out.c" --weights "$d/w.st" 2>"$d/err" || { fail "$name: --emit-c: $(cat "$d/err")"; return; }
    imgs= s=1
    for wh in $sizes; do
        "$ref" --png "$d/m.cnn" "$d/i$s.png" $s "${wh%x*}" "${wh#*x}" || fail "$name: writing $wh"
        imgs="$imgs $d/i$s.png" s=$((s + 1))
    done
    "$ref" "$d/m.cnn" "$d/w.st" $imgs >"$d/want" || { fail "$name: emit_ref"; return; }
    for cc in $compilers; do
        $cc $strict -c "$d/out.c" -o "$d/out.o" 2>"$d/cc.err" || { fail "$name: $cc: $(head -5 "$d/cc.err")"; continue; }
        $cc -O1 $stb -I"$d" -DPREFIX=tiny -DUPPER=TINY -DHEADER='"out.h"' "$top_srcdir/tests/backends/emit_main.c" \
            "$d/out.o" -o "$d/run" -lm 2>"$d/cc.err" || { fail "$name: $cc harness: $(head -5 "$d/cc.err")"; continue; }
        "$d/run" $imgs >"$d/got" || { fail "$name: $cc: the program failed"; continue; }
        # the tensors: the same text at 9 significant digits, i.e. the same floats
        grep '^input' "$d/want" >"$d/want.in"
        grep '^input' "$d/got" >"$d/got.in"
        [ -s "$d/want.in" ] && cmp -s "$d/want.in" "$d/got.in" ||
            fail "$name ($cc): the preprocessed input differs from the runtime's (line $(cmp "$d/want.in" "$d/got.in" | sed 's/.*line //'))"
        # the classes and probabilities
        awk 'NR == FNR { if (FNR % 2) a[FNR] = $0; next } FNR % 2 {
                 n = split(a[FNR], x, " "); split($0, y, " ")
                 if (x[1] != y[1]) { print "image " (FNR + 1) / 2 ": class " y[1] " against " x[1]; exit 1 }
                 for (i = 2; i <= n; i++) { e = x[i] - y[i]; if (e < 0) e = -e
                     if (e > 1e-5) { print "image " (FNR + 1) / 2 ": p" i - 2 " " y[i] " against " x[i]; exit 1 } } }' \
            "$d/want" "$d/got" >"$d/why" || fail "$name ($cc): $(cat "$d/why")"
    done
    # --predict names the same class as the generated code, on the widest image
    "$CNNC" "$d/m.cnn" --predict "$d/i6.png" --weights "$d/w.st" >"$d/predict" 2>"$d/err" || fail "$name: --predict: $(cat "$d/err")"
    want=$(sed -n 11p "$d/got" | cut -d' ' -f1)
    said=$(sed 's/.*(//; s/)//; s/, /\n/g' "$d/predict" | awk '$3 > best || NR == 1 { best = $3; k = $2 } END { print k }')
    [ "$said" = "$want" ] || fail "$name: --predict says '$(cat "$d/predict")', the generated code class $want"
    if "$py" -c 'import torchvision, PIL' 2>/dev/null; then
        "$py" "$top_srcdir/tests/backends/preprocess_torch.py" "T.Compose([$3, $norm])" "$d/got" $imgs >"$d/torch" 2>&1 ||
            fail "$name: against torchvision: $(grep FAIL "$d/torch" | head -3)"
    fi
}

case_ resize_crop 'Resize(120), CenterCrop(100)' 'T.Resize(120), T.CenterCrop(100)'
case_ resize_hw 'Resize((100, 100))' 'T.Resize((100, 100))'
case_ resize_pad 'Resize(90), CenterCrop(100)' 'T.Resize(90), T.CenterCrop(100)'
case_ gray 'Resize(110), Grayscale(num_output_channels=3), CenterCrop(100)' \
    'T.Resize(110), T.Grayscale(num_output_channels=3), T.CenterCrop(100)'
command -v "$py" >/dev/null && "$py" -c 'import torchvision' 2>/dev/null || echo "note: no torchvision: its comparison was skipped"

# ASan + UBSan: the Resize + CenterCrop build runs clean on every image size
d="$tmp/resize_crop"
if [ -s "$d/out.c" ]; then
    gcc -std=c99 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all $stb -I"$d" -DPREFIX=tiny -DUPPER=TINY \
        -DHEADER='"out.h"' "$d/out.c" "$top_srcdir/tests/backends/emit_main.c" -o "$d/asan" -lm 2>"$d/cc.err" ||
        fail "sanitizer build: $(head -5 "$d/cc.err")"
    "$d/asan" "$d"/i*.png >"$d/got.asan" 2>"$d/asan.err" || fail "sanitizer run: $(head -5 "$d/asan.err")"
    [ -s "$d/asan.err" ] && fail "sanitizer run said: $(head -5 "$d/asan.err")"
fi
exit $((fails > 0))
