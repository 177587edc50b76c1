#!/bin/sh
# tests/e2e/test_train.sh: the notebook end to end on the synthetic stand-in data:
# without dropout the model reaches >= 90% training accuracy within 10 epochs; with
# Dropout(p=0.8) it learns well above chance on the test set; the model file written by
# --train gives the same validation numbers under --eval, and --predict agrees with them.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${CNNC:=$top_builddir/cnnc}"
if [ -n "${CNNC_UNDER_VALGRIND:-}" ]; then   # 30 epochs at 100x100 under memcheck: hours
    echo "test_train: skipped under valgrind (tests/checkpoint/test_checkpoint.sh trains a small model there)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }

# 1. no dropout: >= 90% of 175 training images (158) within 10 epochs
"$CNNC" "$top_srcdir/models/sea_nodropout.cnn" --train --epochs 10 --seed 1 --data "$tmp/data" \
    -o "$tmp/nodrop.safetensors" >"$tmp/nodrop.log" 2>"$tmp/nodrop.err" || fail "training without dropout: $(cat "$tmp/nodrop.err")"
best=$(sed -n 's/.*Train Correct: \([0-9]*\)\/175.*/\1/p' "$tmp/nodrop.log" | sort -n | tail -1)
[ "${best:-0}" -ge 158 ] || fail "no-dropout model reached only ${best:-0}/175 training images in 10 epochs"
lines=$(grep -c '^Epoch [0-9]*/10 - Train Loss: [0-9.]*, Train Correct: [0-9]*/175 - Test Loss: [0-9.]*, Test Correct: [0-9]*/50$' "$tmp/nodrop.log")
[ "$lines" = 10 ] || fail "expected 10 epoch lines in the notebook's format, got $lines"

# 2. Dropout(p=0.8), the notebook's 20 epochs: test accuracy well above chance (10/50)
"$CNNC" "$top_srcdir/models/sea.cnn" --train --seed 1 --data "$tmp/data" \
    -o "$tmp/sea.safetensors" >"$tmp/sea.log" 2>"$tmp/sea.err" || fail "training with dropout: $(cat "$tmp/sea.err")"
last5=$(sed -n 's/.*Test Correct: \([0-9]*\)\/50$/\1/p' "$tmp/sea.log" | tail -5)
sum=0
for c in $last5; do sum=$((sum + c)); done
[ "$sum" -ge 100 ] || fail "dropout model: test correct over the last 5 epochs averaged only $sum/5 of 50 (chance is 10)"
[ -f "$tmp/sea.safetensors" ] || fail "no model file written"
ls "$tmp" | grep -q '\.tmp' && fail "a temporary model file was left behind"

# 3. the saved model reproduces the final validation line exactly
val_train=$(grep '^Validation Loss' "$tmp/sea.log")
"$CNNC" "$top_srcdir/models/sea.cnn" --eval --weights "$tmp/sea.safetensors" --data "$tmp/data" \
    >"$tmp/eval.log" 2>"$tmp/eval.err" || fail "--eval: $(cat "$tmp/eval.err")"
val_eval=$(grep '^Validation Loss' "$tmp/eval.log")
[ -n "$val_train" ] && [ "$val_train" = "$val_eval" ] || fail "validation after loading: '$val_eval', after training: '$val_train'"

# 4. --predict on every validation image agrees with the validation count
"$CNNC" "$top_srcdir/models/sea.cnn" --predict --weights "$tmp/sea.safetensors" "$tmp"/data/validate/*/* \
    >"$tmp/pred.log" 2>"$tmp/pred.err" || fail "--predict: $(cat "$tmp/pred.err")"
n=$(wc -l <"$tmp/pred.log")
[ "$n" = 25 ] || fail "--predict printed $n lines for 25 images"
classes="sea sponge|sea star|crab|plankton|squid"
right=0
i=0
for dir in 0 1 2 3 4; do
    name=$(echo "$classes" | cut -d'|' -f$((dir + 1)))
    c=$(grep -c "/validate/$dir/[^:]*: $name (" "$tmp/pred.log")
    right=$((right + c))
done
want=$(echo "$val_eval" | sed -n 's/.*Validation Correct: \([0-9]*\)\/25/\1/p')
[ "$right" = "$want" ] || fail "--predict got $right right, --eval says $want"
awk -F'[(),]' '{ s = 0; for (i = 2; i < NF; i++) { n = split($i, a, " "); s += a[n] } if (s < 0.99 || s > 1.01) { print "probabilities sum to " s ": " $0; exit 1 } }' \
    "$tmp/pred.log" >&2 || fail "--predict probabilities do not sum to 1"

echo "test_train: $fails failed"
[ "$fails" = 0 ]
