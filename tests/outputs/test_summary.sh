#!/bin/sh
# tests/outputs/test_summary.sh: cnnc FILE --summary. For the notebook's model: one row per
# layer with the output shapes and parameter counts PyTorch gives, mult-adds computed by hand
# (Conv2d: C_out x H x W x C_in x k x k; Linear: out x in), the totals, the training plan's
# memory (the same figure --check prints), and a model file size equal to the size of the
# file --train then writes. For examples/sobel.cnn: the frozen layer, its 18 non-trainable
# parameters and a forward-only plan. --check's short summary is unchanged.
. "$(dirname "$0")/../lib.sh"

"$CNNC" "$top_srcdir/models/sea.cnn" --summary >"$tmp/s" 2>"$tmp/err" || fail "--summary failed: $(cat "$tmp/err")"
row() {     # key type shape params macs
    grep -q "^$1 ($2) *$3 *$4 *$5\$" "$tmp/s" || fail "no row '$1 ($2) $3 $4 $5' in: $(grep "^$1 " "$tmp/s")"
}
row conv_layers.0 Conv2d "16 x 100 x 100" 448 4,320,000
row conv_layers.2 MaxPool2d "16 x 50 x 50" 0 0
row conv_layers.3 Conv2d "32 x 50 x 50" 4,640 11,520,000
row fc_layers.0 Flatten 20000 0 0
row fc_layers.1 Linear 128 2,560,128 2,560,000
row fc_layers.3 Dropout 128 0 0
row fc_layers.4 Linear 5 645 640
[ "$(grep -c '^[a-z_]*\.[0-9]* (' "$tmp/s")" = 11 ] || fail "expected 11 layer rows"
grep -q '^Total params: 2,565,861$' "$tmp/s" || fail "total params"
grep -q '^Trainable params: 2,565,861$' "$tmp/s" || fail "trainable params"
grep -q '^Non-trainable params: 0$' "$tmp/s" || fail "non-trainable params"
grep -q '^Mult-adds: 18,400,640 per image, 184.01 M per batch of 10' "$tmp/s" || fail "mult-adds total"
plan=$(sed -n 's/^Training memory plan at batch 10: \([0-9.]* MiB\)$/\1/p' "$tmp/s")
"$CNNC" "$top_srcdir/models/sea.cnn" --check --no-data >"$tmp/c" || fail "--check failed"
grep -q "^Training memory plan at batch 10: $plan (activations" "$tmp/c" || fail "--summary's plan ($plan) is not --check's"
grep -q '^Trainable params: 2,565,861$' "$tmp/c" && ! grep -q 'Mult-adds' "$tmp/c" || fail "--check's short summary changed"

# the model file size, against a real file
"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
"$CNNC" "$top_srcdir/models/sea_nodropout.cnn" --summary >"$tmp/s2" || fail "--summary failed"
want=$(sed -n 's/^Model file: \([0-9,]*\) bytes.*/\1/p' "$tmp/s2" | tr -d ,)
"$CNNC" "$top_srcdir/models/sea_nodropout.cnn" --train --epochs 1 --seed 3 --data "$tmp/data" -o "$tmp/m.safetensors" \
    >/dev/null 2>"$tmp/err" || fail "training: $(cat "$tmp/err")"
got=$(stat -c %s "$tmp/m.safetensors" 2>/dev/null)
[ -n "$want" ] && [ "$want" = "$got" ] || fail "--summary says the model file has ${want:-?} bytes; --train wrote ${got:-?}"

# the README's example is the real output ("..." stands for rows left out), on a CPU whose
# Conv2d takes the direct kernels (AVX-512; forced here: im2col's workspace adds to the plan)
sed -n '/^\$ \.\/cnnc models\/sea.cnn --summary$/,/^```$/p' "$top_srcdir/README.md" | sed '1d;$d' >"$tmp/readme"
[ "$(wc -l <"$tmp/readme")" -ge 10 ] || fail "no --summary example found in README.md"
(cd "$top_srcdir" && CNNC_CONV_DIRECT=1 "$CNNC" models/sea.cnn --summary) >"$tmp/real" || fail "--summary from the source folder"
awk 'NR == FNR { want[++n] = $0; next }
     { got[++m] = $0 }
     END { j = 1
           for (i = 1; i <= n; i++) {
               if (want[i] == "...") { while (j <= m && got[j] != want[i + 1]) j++; continue }
               if (got[j] != want[i]) { print "README: " want[i] "\nreal:   " got[j]; exit 1 }
               j++
           }
           if (j != m + 1) { print "the real output goes on after the README stops: " got[j]; exit 1 } }' \
    "$tmp/readme" "$tmp/real" >"$tmp/diff" || fail "README.md's --summary example is not the output: $(cat "$tmp/diff")"

# FashionMNIST: the model file holds torchvision's class names; the plan is at the test
# loader's batch, which the summary says, while training runs at 64
raw=$tmp/fm/FashionMNIST/raw
mkdir -p "$raw"
{ printf '\0\0\10\3\0\0\0\4\0\0\0\34\0\0\0\34'; head -c 3136 /dev/urandom; } >"$raw/train-images-idx3-ubyte"
printf '\0\0\10\1\0\0\0\4\0\1\2\11' >"$raw/train-labels-idx1-ubyte"
{ printf '\0\0\10\3\0\0\0\2\0\0\0\34\0\0\0\34'; head -c 1568 /dev/urandom; } >"$raw/t10k-images-idx3-ubyte"
printf '\0\0\10\1\0\0\0\2\0\7' >"$raw/t10k-labels-idx1-ubyte"
"$CNNC" "$top_srcdir/models/fashion.cnn" --summary >"$tmp/fs" || fail "fashion --summary"
grep -q "^Model file: [0-9,]* bytes ([0-9.]* MiB), with torchvision's FashionMNIST class names\$" "$tmp/fs" ||
    fail "fashion's model file line: $(grep '^Model file' "$tmp/fs")"
grep -q '^Training memory plan at batch 256, the test set.s (training runs at batch 64): ' "$tmp/fs" ||
    fail "fashion's plan line: $(grep 'memory plan' "$tmp/fs")"
"$CNNC" "$top_srcdir/models/fashion.cnn" --check | grep -q '^Training memory plan at batch 256, the test set.s (training runs at batch 64): ' ||
    fail "--check's plan line for fashion"
want=$(sed -n 's/^Model file: \([0-9,]*\) bytes.*/\1/p' "$tmp/fs" | tr -d ,)
"$CNNC" "$top_srcdir/models/fashion.cnn" --train --epochs 1 --seed 1 --threads 1 --data "$tmp/fm" -o "$tmp/f.safetensors" \
    >/dev/null 2>"$tmp/err" || fail "fashion training: $(cat "$tmp/err")"
got=$(stat -c %s "$tmp/f.safetensors" 2>/dev/null)
[ -n "$want" ] && [ "$want" = "$got" ] || fail "--summary says fashion's model file has ${want:-?} bytes; --train wrote ${got:-?}"

# a frozen, given layer
"$CNNC" "$top_srcdir/examples/sobel.cnn" --summary >"$tmp/sobel" 2>"$tmp/err" || fail "sobel --summary: $(cat "$tmp/err")"
grep -q '^sobel (Conv2d, frozen) *2 x 98 x 98 *18 *172,872$' "$tmp/sobel" || fail "sobel row: $(grep '^sobel' "$tmp/sobel")"
grep -q '^Non-trainable params: 18$' "$tmp/sobel" && grep -q '^Trainable params: 0$' "$tmp/sobel" || fail "sobel's frozen params"
grep -q '^Forward-pass memory plan at batch 10: ' "$tmp/sobel" && ! grep -q 'gradients' "$tmp/sobel" ||
    fail "sobel's plan should be forward-only"

echo "test_summary: $fails failed"
[ "$fails" = 0 ]
