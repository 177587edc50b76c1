#!/bin/sh
# tests/e2e/test_data_cli.sh: the data side through the cnnc command line: a corrupt image is
# an error naming it, or with --skip-bad-images a warning and a count; an empty class folder
# is an error; --preview-augment writes N PNGs per class; FashionMNIST reads tiny IDX files
# (plain and gzipped, torchvision's layout) and trains on them; the notebook's augmented model
# trains with 0 and 2 loader workers to the same numbers.
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
model="$top_srcdir/models/sea_augmented.cnn"

# 1. the augmented model: the same run with 0 and 2 workers (not under valgrind: an hour)
[ -n "${CNNC_UNDER_VALGRIND:-}" ] && echo "test_data_cli: part 1 skipped under valgrind" || {
"$CNNC" "$model" --train --epochs 2 --seed 3 --workers 0 --data "$tmp/data" -o "$tmp/a.safetensors" >"$tmp/w0.log" 2>"$tmp/w0.err" \
    || fail "training with 0 workers: $(cat "$tmp/w0.err")"
"$CNNC" "$model" --train --epochs 2 --seed 3 --workers 2 --data "$tmp/data" -o "$tmp/a.safetensors" >"$tmp/w2.log" 2>"$tmp/w2.err" \
    || fail "training with 2 workers: $(cat "$tmp/w2.err")"
grep -q '^Epoch 2/2 - Train Loss' "$tmp/w0.log" || fail "no epoch lines with 0 workers"
cmp -s "$tmp/w0.log" "$tmp/w2.log" || fail "0 and 2 workers differ: $(diff "$tmp/w0.log" "$tmp/w2.log" | head -4)"
}

# 2. --preview-augment N -o DIR: N PNGs per class, named by class
"$CNNC" "$model" --preview-augment 3 -o "$tmp/preview" --data "$tmp/data" >"$tmp/p.log" 2>"$tmp/p.err" \
    || fail "--preview-augment: $(cat "$tmp/p.err")"
n=$(ls "$tmp/preview" | grep -c '\.png$')
[ "$n" = 15 ] || fail "--preview-augment 3 wrote $n PNGs, expected 15 (3 x 5 classes)"
[ -f "$tmp/preview/sea star_3.png" ] || fail "no 'sea star_3.png' in $(ls "$tmp/preview" | head -3)"
"$CNNC" "$model" --preview-augment 3 >/dev/null 2>"$tmp/p2.err"
[ $? = 2 ] && grep -q 'needs -o DIR' "$tmp/p2.err" || fail "--preview-augment without -o: $(cat "$tmp/p2.err")"

# 3. a truncated image: an error naming it; with --skip-bad-images a warning and a count
bad=$(ls "$tmp/data/train/2/"*.png | head -1)
head -c 300 "$bad" >"$tmp/cut" && mv "$tmp/cut" "$bad"
"$CNNC" "$model" --train --epochs 1 --seed 1 --data "$tmp/data" -o "$tmp/b.safetensors" >"$tmp/bad.log" 2>"$tmp/bad.err"
rc=$?
[ "$rc" = 1 ] || fail "a truncated image: exit status $rc, expected 1"
[ "$(wc -l <"$tmp/bad.err")" = 1 ] && grep -q "error: $bad: cannot decode image (the file is truncated)" "$tmp/bad.err" \
    || fail "a truncated image: $(cat "$tmp/bad.err")"
"$CNNC" "$model" --train --epochs 1 --seed 1 --workers 2 --skip-bad-images --data "$tmp/data" -o "$tmp/b.safetensors" \
    >"$tmp/skip.log" 2>"$tmp/skip.err" || fail "--skip-bad-images: $(cat "$tmp/skip.err")"
grep -q "warning: $bad: cannot decode image .* (skipped)" "$tmp/skip.err" || fail "no warning naming $bad: $(cat "$tmp/skip.err")"
grep -q "warning: 1 bad image skipped" "$tmp/skip.err" || fail "no count at the end: $(cat "$tmp/skip.err")"
grep -q 'Train Correct: [0-9]*/174 ' "$tmp/skip.log" || fail "expected 174 training images: $(grep Epoch "$tmp/skip.log")"

# 4. an empty class folder
mkdir "$tmp/data/train/5"
"$CNNC" "$model" --train --epochs 1 --data "$tmp/data" -o "$tmp/c.safetensors" >/dev/null 2>"$tmp/empty.err"
grep -q "train/5: class folder has no images" "$tmp/empty.err" || fail "empty class folder: $(cat "$tmp/empty.err")"

# 5. FashionMNIST on tiny IDX files in torchvision's layout (train plain, test gzipped)
raw="$tmp/fm/FashionMNIST/raw"
mkdir -p "$raw"
{ printf '\0\0\10\3\0\0\0\4\0\0\0\34\0\0\0\34'; head -c 3136 /dev/urandom; } >"$raw/train-images-idx3-ubyte"
printf '\0\0\10\1\0\0\0\4\0\1\2\11' >"$raw/train-labels-idx1-ubyte"
{ printf '\0\0\10\3\0\0\0\2\0\0\0\34\0\0\0\34'; head -c 1568 /dev/urandom; } | gzip >"$raw/t10k-images-idx3-ubyte.gz"
printf '\0\0\10\1\0\0\0\2\0\7' | gzip >"$raw/t10k-labels-idx1-ubyte.gz"
"$CNNC" "$top_srcdir/models/fashion.cnn" --train --epochs 1 --seed 1 --data "$tmp/fm" -o "$tmp/f.safetensors" \
    >"$tmp/fm.log" 2>"$tmp/fm.err" || fail "FashionMNIST: $(cat "$tmp/fm.err")"
grep -q '^Training FashionCNN on 4 images (10 classes)' "$tmp/fm.log" || fail "FashionMNIST: $(head -2 "$tmp/fm.log")"
grep -q 'Test Correct: [0-9]/2$' "$tmp/fm.log" || fail "FashionMNIST test set: $(grep Epoch "$tmp/fm.log")"
printf '\0\0\10\3\0\0\0\4\0\0\0\34\0\0\0\34' >"$raw/train-images-idx3-ubyte"
"$CNNC" "$top_srcdir/models/fashion.cnn" --train --epochs 1 --data "$tmp/fm" -o "$tmp/f.safetensors" >/dev/null 2>"$tmp/fm2.err"
grep -q "train-images-idx3-ubyte: wrong size" "$tmp/fm2.err" || fail "a truncated IDX file: $(cat "$tmp/fm2.err")"

if [ "$fails" != 0 ]; then
    echo "test_data_cli: $fails failed"
    exit 1
fi
echo "test_data_cli: all passed"
