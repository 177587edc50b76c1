#!/bin/sh
# tests/checkpoint/test_checkpoint.sh: reproducibility and checkpoints, on a small model
# (tiny.cnn: dropout and Adam) over the synthetic data, always with an explicit --threads:
#  1. the same seed and threads give a bit-identical model file; another seed does not;
#     writing checkpoints does not change the result
#  2. SIGINT finishes the batch, writes a checkpoint, says where, exits 130; --resume ends
#     with the uninterrupted run's model file (cmp) and the interrupted epoch's log line
#  3. SIGKILL at random points, several times, one of them while a checkpoint is being
#     written: every resume works and the final model file is bit-identical
#  4. a non-finite loss stops at once naming epoch and batch, keeps the last good checkpoint
#  5. --resume refuses a checkpoint of another model, a truncated one, another seed
#  6. the report after --resume shows the epochs before the checkpoint too
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
cp "$top_srcdir/tests/checkpoint/tiny.cnn" "$tmp/tiny.cnn"
train() {   # output model, then more options
    out=$1
    shift
    "$CNNC" "$tmp/tiny.cnn" --train --seed 7 --threads 2 -o "$out" "$@"
}
train_bg() {   # the same in the background, $! being cnnc itself
    out=$1
    shift
    (exec "$CNNC" "$tmp/tiny.cnn" --train --seed 7 --threads 2 -o "$out" "$@") &
}

# 1. reproducible
train "$tmp/ref.safetensors" >"$tmp/ref.log" 2>"$tmp/ref.err" || fail "reference run: $(cat "$tmp/ref.err")"
train "$tmp/ref2.safetensors" >/dev/null 2>&1 || fail "second run failed"
cmp -s "$tmp/ref.safetensors" "$tmp/ref2.safetensors" || fail "two runs with the same seed and threads differ"
train "$tmp/w0.safetensors" --workers 0 >/dev/null 2>&1 || fail "run with --workers 0 failed"
cmp -s "$tmp/ref.safetensors" "$tmp/w0.safetensors" || fail "--workers 0 and the default loader threads give different model files"
"$CNNC" "$tmp/tiny.cnn" --train --seed 8 --threads 2 -o "$tmp/other.safetensors" >/dev/null 2>&1
cmp -s "$tmp/ref.safetensors" "$tmp/other.safetensors" && fail "seeds 7 and 8 gave the same model file"
train "$tmp/ck1.safetensors" --checkpoint "$tmp/ck1.ckpt" --checkpoint-every 3 >/dev/null 2>&1 || fail "run with checkpoints failed"
cmp -s "$tmp/ref.safetensors" "$tmp/ck1.safetensors" || fail "writing checkpoints changed the model file"
[ -f "$tmp/ck1.ckpt" ] || fail "--checkpoint wrote no file"
ls "$tmp" | grep -q '\.tmp\.' && fail "a temporary file was left behind by a completed run"

# 2. SIGINT mid-epoch (the batch delay hook slows training so the signal lands mid-epoch)
CNNC_TEST_BATCH_DELAY_MS=40 train_bg "$tmp/int.safetensors" >"$tmp/int.log" 2>"$tmp/int.err"
pid=$!
n=0     # wait for the header line: training has started and the handler is in place
while [ $n -lt 12000 ] && ! grep -q '^Training' "$tmp/int.log"; do sleep 0.01; n=$((n + 1)); done
sleep 0.5
kill -INT $pid
wait $pid
rc=$?
[ "$rc" = 130 ] || fail "SIGINT: exit status $rc, expected 130 ($(cat "$tmp/int.err"))"
ckpt="$tmp/int.checkpoint.safetensors"    # the default beside -o, without --checkpoint
grep -q "^cnnc: interrupted: checkpoint written to $ckpt (epoch [0-9]*, batch [0-9]* of 11); continue with --resume $ckpt\$" "$tmp/int.err" \
    || fail "SIGINT message: '$(cat "$tmp/int.err")'"
[ -f "$ckpt" ] || fail "SIGINT wrote no checkpoint at $ckpt"
[ -f "$tmp/int.safetensors" ] && fail "an interrupted run wrote the model file"
epoch=$(sed -n 's/.*(epoch \([0-9]*\), batch \([0-9]*\) of.*/\1/p' "$tmp/int.err")
batch=$(sed -n 's/.*(epoch \([0-9]*\), batch \([0-9]*\) of.*/\2/p' "$tmp/int.err")
[ "${batch:-0}" -gt 0 ] && [ "${batch:-0}" -lt 11 ] || echo "note: SIGINT landed at batch ${batch:-?}, not mid-epoch" >&2
"$CNNC" "$tmp/tiny.cnn" --train --threads 2 -o "$tmp/int.safetensors" --resume "$ckpt" >"$tmp/res.log" 2>"$tmp/res.err" \
    || fail "--resume after SIGINT: $(cat "$tmp/res.err")"
cmp -s "$tmp/ref.safetensors" "$tmp/int.safetensors" || fail "the model file after SIGINT and --resume differs from the uninterrupted run's"
grep -q "^cnnc: resuming from $ckpt at epoch $epoch, batch $batch\$" "$tmp/res.err" || fail "resume message: '$(cat "$tmp/res.err")'"
want=$(grep "^Epoch $epoch/3 " "$tmp/ref.log")
got=$(grep "^Epoch $epoch/3 " "$tmp/res.log")
[ -n "$want" ] && [ "$want" = "$got" ] || fail "the resumed epoch's line is '$got', uninterrupted: '$want'"
[ "$(grep -c '^Epoch' "$tmp/int.log" "$tmp/res.log" | awk -F: '{ s += $2 } END { print s }')" = 3 ] \
    || fail "interrupted and resumed runs together did not print each epoch's line once"

# 3. SIGKILL at random points; the fourth kill lands while a checkpoint is being written
ck="$tmp/kill.ckpt"
kills=0
mid_write=
done_=0
i=0
while [ $i -lt 40 ] && [ $done_ = 0 ]; do
    i=$((i + 1))
    resume=""
    [ -f "$ck" ] && resume="--resume $ck"
    delay=10
    [ $kills = 3 ] && delay=400
    # 50 ms a batch: a run lives 0.1-0.4 s, so it takes far more than six to finish the
    # three epochs (at 25 ms, a quick machine finished them after five kills)
    CNNC_TEST_BATCH_DELAY_MS=50 CNNC_TEST_WRITE_DELAY_MS=$delay \
        train_bg "$tmp/kill.safetensors" --checkpoint "$ck" --checkpoint-every 2 $resume >/dev/null 2>"$tmp/kill.err"
    pid=$!
    if [ $kills -ge 6 ]; then
        wait $pid && done_=1 || fail "the last, uninterrupted resume failed: $(cat "$tmp/kill.err")"
        break
    fi
    if [ $kills = 3 ]; then   # wait for the temporary file of a checkpoint write, then kill
        n=0
        while [ $n -lt 12000 ] && ! ls "$tmp" | grep -q '^kill\.ckpt\.tmp\.'; do sleep 0.01; n=$((n + 1)); done
        [ $n -lt 12000 ] || fail "no checkpoint write was seen to kill"
        mid_write=$(ls "$tmp" | grep '^kill\.ckpt\.tmp\.')
    else
        sleep "0.$(awk -v s=$$$i 'BEGIN { srand(s); printf "%02d", 10 + int(rand() * 30) }')"
    fi
    if kill -KILL $pid 2>/dev/null; then
        wait $pid 2>/dev/null
        kills=$((kills + 1))
    elif wait $pid; then
        done_=1
    else
        fail "a resumed run failed: $(cat "$tmp/kill.err")"
        break
    fi
    if [ -f "$ck" ] && ! "$CNNC" "$tmp/tiny.cnn" --train --epochs 1 --threads 2 --resume "$ck" -o "$tmp/probe.safetensors" \
        >/dev/null 2>"$tmp/probe.err"; then
        grep -q 'resuming from' "$tmp/probe.err" || fail "after kill $kills the checkpoint is unreadable: $(cat "$tmp/probe.err")"
    fi
done
[ $done_ = 1 ] || fail "the killed run never completed"
[ $kills -ge 6 ] || fail "only $kills kills landed"
[ -n "$mid_write" ] && [ -f "$tmp/$mid_write" ] || fail "the kill meant to land mid-write left no temporary file"
cmp -s "$tmp/ref.safetensors" "$tmp/kill.safetensors" || fail "after $kills SIGKILLs and resumes the model file differs from the uninterrupted run's"

# 4. a non-finite loss (SGD with a huge learning rate)
sed 's/^optimizer = .*/optimizer = SGD(model.parameters(), lr=1e6)/' "$tmp/tiny.cnn" >"$tmp/nan.cnn"
"$CNNC" "$tmp/nan.cnn" --train --seed 3 --threads 2 -o "$tmp/nan.safetensors" --checkpoint "$tmp/nan.ckpt" \
    --checkpoint-every 1 >"$tmp/nan.log" 2>"$tmp/nan.err"
rc=$?
[ "$rc" = 1 ] || fail "non-finite loss: exit status $rc"
grep -q "^cnnc: error: the training loss became \(NaN\|infinite\) at epoch 1, batch \([0-9]*\): training stopped; lower the learning rate (optimizer lr) or check the Normalize values; the last good checkpoint is kept: $tmp/nan.ckpt (epoch 1, batch [0-9]* of 11)\$" "$tmp/nan.err" \
    || fail "non-finite loss message: '$(cat "$tmp/nan.err")'"
bad=$(sed -n 's/.*at epoch 1, batch \([0-9]*\):.*/\1/p' "$tmp/nan.err")
kept=$(sed -n 's/.*(epoch 1, batch \([0-9]*\) of 11)$/\1/p' "$tmp/nan.err")
[ -n "$bad" ] && [ "$kept" = $((bad - 1)) ] || fail "the kept checkpoint (batch $kept) is not the one before the bad batch ($bad)"
[ -f "$tmp/nan.safetensors" ] && fail "a model file was written after a non-finite loss"
grep -q "^Epoch" "$tmp/nan.log" && fail "an epoch line was printed after a non-finite loss"
"$CNNC" "$tmp/nan.cnn" --train --threads 2 --epochs 1 --resume "$tmp/nan.ckpt" -o "$tmp/nan2.safetensors" 2>"$tmp/nan2.err" >/dev/null
grep -q "resuming from $tmp/nan.ckpt at epoch 1, batch $kept" "$tmp/nan2.err" || fail "the kept checkpoint does not load: $(cat "$tmp/nan2.err")"

# 5. checkpoints that do not belong
sed 's/Linear(150, 32)/Linear(150, 32, bias=False)/' "$tmp/tiny.cnn" >"$tmp/edited.cnn"
"$CNNC" "$tmp/edited.cnn" --train --threads 2 --resume "$tmp/ck1.ckpt" -o "$tmp/x.safetensors" >/dev/null 2>"$tmp/x.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: $tmp/ck1.ckpt: the checkpoint was written for a different .cnn file" "$tmp/x.err" \
    || fail "a checkpoint of another model: status $rc, '$(cat "$tmp/x.err")'"
head -c 3000 "$tmp/ck1.ckpt" >"$tmp/trunc.ckpt"
"$CNNC" "$tmp/tiny.cnn" --train --threads 2 --resume "$tmp/trunc.ckpt" -o "$tmp/x.safetensors" >/dev/null 2>"$tmp/x.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: $tmp/trunc.ckpt: " "$tmp/x.err" || fail "a truncated checkpoint: status $rc, '$(cat "$tmp/x.err")'"
"$CNNC" "$tmp/tiny.cnn" --train --threads 2 --seed 9 --resume "$tmp/ck1.ckpt" -o "$tmp/x.safetensors" >/dev/null 2>"$tmp/x.err"
rc=$?
[ "$rc" = 1 ] && grep -q "was written by a run with --seed 7, not 9" "$tmp/x.err" || fail "another seed: status $rc, '$(cat "$tmp/x.err")'"
"$CNNC" "$tmp/tiny.cnn" --train --threads 2 --resume "$tmp/ref.safetensors" -o "$tmp/x.safetensors" >/dev/null 2>"$tmp/x.err"
rc=$?
[ "$rc" = 1 ] && grep -q "not a cnnc checkpoint" "$tmp/x.err" || fail "a model file given to --resume: status $rc, '$(cat "$tmp/x.err")'"

# 6. a resumed run's report shows every epoch, those before the checkpoint too, with the
#    uninterrupted run's figures (all but the seconds); a malformed history is refused
train "$tmp/rep.safetensors" --report "$tmp/rep.html" >/dev/null 2>"$tmp/rep.err" || fail "report run: $(cat "$tmp/rep.err")"
train "$tmp/two.safetensors" --epochs 2 --checkpoint "$tmp/two.ckpt" >/dev/null 2>"$tmp/two.err" \
    || fail "two-epoch run: $(cat "$tmp/two.err")"
train "$tmp/three.safetensors" --resume "$tmp/two.ckpt" --report "$tmp/three.html" >/dev/null 2>"$tmp/three.err" \
    || fail "resumed run with --report: $(cat "$tmp/three.err")"
epochs() {   # the report's per-epoch rows, less the seconds
    awk '/<h2>Per epoch<\/h2>/ { on = 1 } on && /^<tr><td>/ { sub(/<td>[0-9.]*<\/td><\/tr>$/, ""); print } on && /<\/table>/ { exit }' "$1"
}
want=$(epochs "$tmp/rep.html")
got=$(epochs "$tmp/three.html")
[ "$(printf '%s\n' "$want" | grep -c '^<tr>')" = 3 ] && [ "$want" = "$got" ] \
    || fail "the resumed run's report has per-epoch rows '$got', the uninterrupted run's '$want'"
cmp -s "$tmp/ref.safetensors" "$tmp/three.safetensors" || fail "two epochs, then one resumed, differ from three at once"

echo "test_checkpoint: $fails failed ($kills kills)"
[ $fails = 0 ]
