#!/bin/sh
# tests/e2e/test_schedule.sh: learning-rate schedules, --save-best and --early-stop in real
# (short) training runs of tests/checkpoint/tiny.cnn on the synthetic data:
#  1. StepLR: the epoch line shows the lr and --history's lr column steps as torch's would
#  2. ReduceLROnPlateau with --early-stop 2 --save-best: the run stops at the first epoch
#     that is the second without a better test accuracy (ties: lower test loss), computed
#     here from --history, which holds every epoch run; the kept model file is that
#     epoch's (its --eval gives that epoch's test loss and correct count)
#  3. --resume: a run stopped after 3 epochs (checkpoint) and resumed to 6 ends with the
#     same model file, history (lr column included) and kept epoch as an uninterrupted one:
#     the scheduler's state (ReduceLROnPlateau's best, bad epochs, cooldown) and the best
#     epoch survive
#  4. OneCycleLR (cycling Adam's beta1, stepped per batch): the lr column rises then falls,
#     and a run resumed from a checkpoint written mid-epoch ends with the same model file
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
with_sched() {   # tiny.cnn with the scheduler line $1 as $tmp/$2.cnn
    { cat "$top_srcdir/tests/checkpoint/tiny.cnn"; echo "$1"; } >"$tmp/$2.cnn"
}
train() {   # model name, then options
    name=$1
    shift
    "$CNNC" "$tmp/$name.cnn" --train --seed 7 --threads 2 "$@"
}

# 1. StepLR
with_sched "scheduler = StepLR(optimizer, step_size=2, gamma=0.5)" step
train step -o "$tmp/step.safetensors" --epochs 6 --history "$tmp/step.csv" >"$tmp/step.log" 2>"$tmp/step.err" \
    || fail "StepLR run: $(cat "$tmp/step.err")"
lrs=$(cut -d, -f8 "$tmp/step.csv" | tail -n +2 | tr '\n' ' ')
[ "$lrs" = "0.01 0.01 0.005 0.005 0.0025 0.0025 " ] || fail "StepLR: the history's lr column is '$lrs'"
grep -q '^Epoch 3/6 - .* - lr: 0.005$' "$tmp/step.log" || fail "StepLR: epoch 3's line: $(grep '^Epoch 3' "$tmp/step.log")"

# 2. early stop and the kept epoch
with_sched "scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=0)" plateau
train plateau -o "$tmp/best.safetensors" --epochs 12 --early-stop 2 --save-best --history "$tmp/best.csv" \
    >"$tmp/best.log" 2>"$tmp/best.err" || fail "--early-stop run: $(cat "$tmp/best.err")"
# the best epoch and the epoch the rule stops at, from the history (epoch, test_loss, test_correct)
want=$(tail -n +2 "$tmp/best.csv" | awk -F, '
    { if (best == 0 || $6 > bc || ($6 == bc && $5 < bl)) { best = $1; bc = $6; bl = $5; since = 0 } else since++
      if (since >= 2 && !stop) stop = $1 }
    END { print best, stop }')
best=${want% *}
stop=${want#* }
ran=$(($(wc -l <"$tmp/best.csv") - 1))
[ -n "$stop" ] && [ "$stop" -lt 12 ] || fail "the run never went 2 epochs without improving: no early stop to test ($want)"
[ "$ran" = "$stop" ] || fail "--early-stop 2: ran $ran epochs, the rule stops at epoch $stop"
grep -q "^Stopping early after epoch $stop of 12: no better test accuracy for 2 epochs (the best: epoch $best)\$" \
    "$tmp/best.log" || fail "the early stop line: $(grep -i stop "$tmp/best.log")"
grep -q "^Kept epoch $best of $stop: test accuracy" "$tmp/best.log" || fail "the kept line: $(grep Kept "$tmp/best.log")"
line=$(grep "^Epoch $best/12 " "$tmp/best.log" | sed 's/.* - \(Test Loss: [0-9.]*, Test Correct: [0-9]*\/[0-9]*\).*/\1/')
"$CNNC" "$tmp/plateau.cnn" --eval --weights "$tmp/best.safetensors" --threads 2 >"$tmp/eval.log" 2>&1 \
    || fail "--eval of the kept model: $(cat "$tmp/eval.log")"
[ "$(cat "$tmp/eval.log")" = "$line" ] || fail "the kept model's --eval gives '$(cat "$tmp/eval.log")', epoch $best printed '$line'"
last=$(grep "^Epoch $stop/12 " "$tmp/best.log" | sed 's/.* - \(Test Loss: [0-9.]*, Test Correct: [0-9]*\/[0-9]*\).*/\1/')
[ "$best" != "$stop" ] && [ "$last" = "$line" ] && fail "the last epoch's figures equal the best's: the test shows nothing"

# 3. --resume keeps the scheduler's state and the best epoch
with_sched "scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=0, threshold=0.1, cooldown=1)" plateau
train plateau -o "$tmp/full.safetensors" --epochs 6 --save-best --history "$tmp/full.csv" >"$tmp/full.log" 2>&1 \
    || fail "6 epochs: $(cat "$tmp/full.log")"
train plateau -o "$tmp/part.safetensors" --epochs 3 --save-best --checkpoint "$tmp/part.ckpt" >/dev/null 2>&1 \
    || fail "3 epochs with a checkpoint failed"
"$CNNC" "$tmp/plateau.cnn" --train --threads 2 --epochs 6 --save-best --resume "$tmp/part.ckpt" -o "$tmp/part.safetensors" \
    --history "$tmp/part.csv" >"$tmp/part.log" 2>"$tmp/part.err" || fail "--resume: $(cat "$tmp/part.err")"
cut -d, -f1-8 "$tmp/full.csv" >"$tmp/full8.csv"
cut -d, -f1-8 "$tmp/part.csv" >"$tmp/part8.csv"
cmp -s "$tmp/full8.csv" "$tmp/part8.csv" || fail "the resumed run's history differs: $(diff "$tmp/full8.csv" "$tmp/part8.csv")"
[ "$(cut -d, -f8 "$tmp/full.csv" | sort -u | wc -l)" -gt 2 ] || fail "the lr never changed in 6 epochs: $(cut -d, -f8 "$tmp/full.csv")"
cmp -s "$tmp/full.safetensors" "$tmp/part.safetensors" || fail "the resumed run kept another model file"
[ "$(grep Kept "$tmp/full.log")" = "$(grep Kept "$tmp/part.log")" ] || fail "kept: '$(grep Kept "$tmp/full.log")' vs '$(grep Kept "$tmp/part.log")'"

# 4. OneCycleLR per batch, resumed mid-epoch (11 batches an epoch: the last checkpoint, every
#    7 batches, is at batch 9 of epoch 4)
with_sched "scheduler = OneCycleLR(optimizer, max_lr=0.05, epochs=4, steps_per_epoch=11)" cycle
train cycle -o "$tmp/cyc.safetensors" --epochs 4 --history "$tmp/cyc.csv" >"$tmp/cyc.log" 2>&1 \
    || fail "OneCycleLR run: $(cat "$tmp/cyc.log")"
lrs=$(cut -d, -f8 "$tmp/cyc.csv" | tail -n +2 | tr '\n' ' ')
echo "$lrs" | awk '{ exit !($1 < $2 && $2 > $3 && $3 > $4) }' || fail "OneCycleLR: the epochs' lr: $lrs"
train cycle -o "$tmp/cyc2.safetensors" --epochs 4 --checkpoint "$tmp/cyc.ckpt" --checkpoint-every 7 >/dev/null 2>&1 \
    || fail "OneCycleLR run with checkpoints failed"
cmp -s "$tmp/cyc.safetensors" "$tmp/cyc2.safetensors" || fail "OneCycleLR: checkpoints changed the model file"
"$CNNC" "$tmp/cycle.cnn" --train --threads 2 --epochs 4 --resume "$tmp/cyc.ckpt" -o "$tmp/cyc3.safetensors" \
    --history "$tmp/cyc3.csv" >"$tmp/cyc3.log" 2>&1 || fail "OneCycleLR --resume: $(cat "$tmp/cyc3.log")"
grep -q "at epoch 4, batch 9" "$tmp/cyc3.log" || fail "the OneCycleLR checkpoint is not mid-epoch: $(cat "$tmp/cyc3.log")"
cmp -s "$tmp/cyc.safetensors" "$tmp/cyc3.safetensors" || fail "OneCycleLR: the resumed run ends with another model file"
cut -d, -f1-8 "$tmp/cyc.csv" >"$tmp/cyc8.csv"
cut -d, -f1-8 "$tmp/cyc3.csv" >"$tmp/cyc38.csv"
cmp -s "$tmp/cyc8.csv" "$tmp/cyc38.csv" || fail "OneCycleLR: the resumed run's history: $(diff "$tmp/cyc8.csv" "$tmp/cyc38.csv")"
[ "$(grep '^Epoch 4/4' "$tmp/cyc3.log")" = "$(grep '^Epoch 4/4' "$tmp/cyc.log")" ] \
    || fail "OneCycleLR: the resumed epoch's line: $(grep '^Epoch 4' "$tmp/cyc3.log")"

# 5. --check and --summary name the scheduler; --report plots the lr and says which epoch it kept
"$CNNC" "$tmp/step.cnn" --check --no-data >"$tmp/check.log" 2>&1 || fail "--check: $(cat "$tmp/check.log")"
grep -q '^Scheduler: StepLR(step_size=2, gamma=0.5), stepped after each epoch$' "$tmp/check.log" \
    || fail "--check does not name the scheduler: $(cat "$tmp/check.log")"
"$CNNC" "$tmp/cycle.cnn" --summary >"$tmp/summary.log" 2>&1 || fail "--summary: $(cat "$tmp/summary.log")"
grep -q "^Scheduler: OneCycleLR(max_lr=0.05, total_steps=44, .*cycle_momentum=True.*), stepped after each batch\$" \
    "$tmp/summary.log" || fail "--summary does not name the scheduler: $(grep -i sched "$tmp/summary.log")"
train step -o "$tmp/rep.safetensors" --epochs 4 --save-best --report "$tmp/rep.html" >"$tmp/rep.log" 2>&1 \
    || fail "--report run: $(cat "$tmp/rep.log")"
grep -q 'Learning Rate Over Epochs' "$tmp/rep.html" || fail "the report has no learning-rate plot"
kept=$(sed -n 's/^Kept epoch \([0-9]*\) of 4.*/\1/p' "$tmp/rep.log")
grep -q "Kept epoch $kept (--save-best)" "$tmp/rep.html" || fail "the report does not say it kept epoch '$kept'"
grep -q '<td>StepLR(step_size=2, gamma=0.5), stepped after each epoch</td>' "$tmp/rep.html" \
    || fail "the report's settings do not name the scheduler"

[ $fails = 0 ]
