#!/bin/sh
# tests/e2e/test_finetune.sh: --train --weights FILE starts from FILE's weights: with --lr 0
# the first evaluation is --eval's of FILE and the model file written holds FILE's weights;
# with the file's lr the first epoch's training loss is far below a fresh run's; a file of
# another model is refused before training, writing nothing. --weights-partial loads the
# tensors that match (their values end up in the model) and keeps the others' initialisation.
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
cp "$top_srcdir/tests/checkpoint/tiny.cnn" "$tmp/tiny.cnn"
run() { (cd "$tmp" && "$CNNC" "$@" >"$tmp/out" 2>"$tmp/err"); }
loss1() { sed -n 's/^Epoch 1\/[0-9]* - Train Loss: \([0-9.]*\),.*/\1/p' "$tmp/out"; }

run tiny.cnn --train --epochs 4 --seed 1 --threads 1 -o a.st || fail "training the start model: $(cat "$tmp/err")"
run tiny.cnn --eval --weights a.st --threads 1 || fail "--eval: $(cat "$tmp/err")"
want=$(grep '^Test Loss: ' "$tmp/out" | sed 's/^/ - /')

# 1. with --lr 0 nothing moves: the first evaluation is the file's, and so is the result
run tiny.cnn --train --weights a.st --lr 0 --epochs 1 --seed 2 --threads 1 -o b.st || fail "--lr 0: $(cat "$tmp/err")"
grep -q '^Training Tiny on 175 images (5 classes), batch 16, 1 epoch, seed 2, from the weights of a.st$' "$tmp/out" ||
    fail "training line: $(head -1 "$tmp/out")"
got=$(sed -n 's/^Epoch 1\/1 - Train Loss: [0-9.]*, Train Correct: [0-9]*\/175//p' "$tmp/out")
[ -n "$want" ] && [ "$got" = "$want" ] || fail "the first evaluation '$got' is not --eval's of the file '$want'"
run tiny.cnn --eval --weights b.st --threads 1
[ "$(grep '^Test Loss: ' "$tmp/out" | sed 's/^/ - /')" = "$want" ] || fail "the model written with --lr 0 differs from the file"

# 2. with the file's lr: the first epoch starts from the trained weights
run tiny.cnn --train --epochs 1 --seed 2 --threads 1 -o fresh.st || fail "fresh run: $(cat "$tmp/err")"
fresh=$(loss1)
run tiny.cnn --train --weights a.st --epochs 1 --seed 2 --threads 1 -o c.st || fail "fine-tune: $(cat "$tmp/err")"
tuned=$(loss1)
awk -v a="$tuned" -v b="$fresh" 'BEGIN { exit !(a > 0 && b > 0 && a < 0.75 * b) }' ||
    fail "the fine-tune's first loss $tuned is not far below a fresh run's $fresh"

# 3. another model's file: refused before training, nothing written
sed 's/Linear(150, 32)/Linear(150, 48)/; s/Linear(32, 5)/Linear(48, 5)/' "$tmp/tiny.cnn" >"$tmp/wide.cnn"
run wide.cnn --train --weights a.st --epochs 1 -o w.st
[ $? = 1 ] && grep -q 'a.st does not match the model (3 differences): classifier.1.weight is 32 x 150' "$tmp/err" ||
    fail "a mismatched file: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "a mismatched file started training: $(cat "$tmp/out")"
[ -e "$tmp/w.st" ] && fail "a mismatched file wrote a model"

# 4. --weights-partial: the three tensors that match are loaded, the others keep PyTorch's init
run wide.cnn --train --weights-partial a.st --lr 0 --epochs 1 --seed 5 --threads 1 -o w.st || fail "partial: $(cat "$tmp/err")"
grep -q '^cnnc: --weights-partial a.st: loaded 3 of the model.s 6 tensors; skipped: ' "$tmp/err" || fail "partial: $(cat "$tmp/err")"
run wide.cnn --train --lr 0 --epochs 1 --seed 5 --threads 1 -o w0.st || fail "wide fresh: $(cat "$tmp/err")"
py=
for p in python3 /usr/bin/python3; do command -v "$p" >/dev/null 2>&1 && py=$p && break; done
if [ -n "$py" ]; then
    "$py" - "$tmp/a.st" "$tmp/w.st" "$tmp/w0.st" <<'PY' || fail "partial: the tensors are not where they should come from"
import json, struct, sys
def load(p):
    b = open(p, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]] for k, v in h.items() if k != '__metadata__'}
a, w, w0 = (load(p) for p in sys.argv[1:])
for k in ('features.1.weight', 'features.1.bias', 'classifier.4.bias'):
    assert w[k] == a[k], k + ' was not loaded'
for k in ('classifier.1.weight', 'classifier.1.bias', 'classifier.4.weight'):
    assert w[k] == w0[k], k + ' is not the initialisation'
PY
else
    echo "test_finetune: no python3: the tensor comparison is skipped"
fi

echo "test_finetune: $fails failed"
[ "$fails" = 0 ]
