#!/bin/sh
# tests/checkpoint/test_safe_runs.sh: no run is lost, no failure reported as success
# (tiny.cnn over the synthetic data, --seed 7 --threads 2 as test_checkpoint.sh):
#  1. SIGTERM mid-epoch writes a checkpoint, says so, exits 143; --resume ends with the
#     uninterrupted run's model file, the --history CSV has each epoch once (the
#     uninterrupted run's rows), and the automatic checkpoint is gone after it
#     SIGINT during an epoch's test pass: the checkpoint is at the epoch's end, and the
#     resumed run repeats the test pass and prints the epoch's line as the uninterrupted run
#  2. SIGINT and SIGTERM during the final validation: the model file is written (the
#     uninterrupted run's), the message says so, exit 130 and 143
#  3. a resume into a new --history file has every epoch; a run that fails before its first
#     epoch leaves an existing history as it was
#  4. --resume after a comment and a reformatting: accepted; after a changed layer: refused
#  5. stdout on /dev/full or closed: --check, --summary, --dump-graph, --train, --eval and
#     --predict exit 1 naming the standard output; a closed stdout takes no file's place
#  6. -o: a name too long for the temporary file's suffix is refused before training; a
#     0600 model file stays 0600; a symbolic link stays a link and its target is written
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
cp "$top_srcdir/tests/checkpoint/tiny.cnn" "$tmp/tiny.cnn"
{ cat "$tmp/tiny.cnn"; echo 'validation_dataset = ImageFolder("data/test", transform=transform)'; } >"$tmp/val.cnn"
run_bg() {   # cnnc in the background, $! being cnnc itself
    (exec "$CNNC" "$@") &
}
wait_for() {   # a line matching $1 in file $2, up to two minutes
    n=0
    while [ $n -lt 12000 ] && ! grep -q "$1" "$2"; do sleep 0.01; n=$((n + 1)); done
}

"$CNNC" "$tmp/tiny.cnn" --train --seed 7 --threads 2 -o "$tmp/ref.st" --history "$tmp/ref.csv" >"$tmp/ref.log" 2>&1 \
    || fail "reference run: $(cat "$tmp/ref.log")"
[ "$(wc -l <"$tmp/ref.csv")" = 4 ] || fail "the reference history has $(wc -l <"$tmp/ref.csv") lines, not 4"
"$CNNC" "$tmp/val.cnn" --train --seed 7 --threads 2 -o "$tmp/vref.st" >"$tmp/vref.log" 2>&1 \
    || fail "reference run with validation: $(cat "$tmp/vref.log")"

# 1. SIGTERM mid-epoch
CNNC_TEST_BATCH_DELAY_MS=40 run_bg "$tmp/tiny.cnn" --train --seed 7 --threads 2 -o "$tmp/t.st" --history "$tmp/t.csv" \
    >"$tmp/t.log" 2>"$tmp/t.err"
pid=$!
wait_for '^Epoch 1/3' "$tmp/t.log"     # an epoch done: the history has a row to keep
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
ck="$tmp/t.checkpoint.safetensors"
[ "$rc" = 143 ] || fail "SIGTERM: exit status $rc, expected 143 ($(cat "$tmp/t.err"))"
grep -q "^cnnc: terminated (SIGTERM): checkpoint written to $ck (epoch [0-9]*, batch [0-9]* of 11); continue with --resume $ck\$" \
    "$tmp/t.err" || fail "SIGTERM message: '$(cat "$tmp/t.err")'"
[ -f "$ck" ] || fail "SIGTERM wrote no checkpoint"
[ -f "$tmp/t.st" ] && fail "a run stopped by SIGTERM mid-epoch wrote the model file"
"$CNNC" "$tmp/tiny.cnn" --train --threads 2 -o "$tmp/t.st" --history "$tmp/t.csv" --resume "$ck" >"$tmp/t2.log" 2>"$tmp/t2.err" \
    || fail "--resume after SIGTERM: $(cat "$tmp/t2.err")"
cmp -s "$tmp/ref.st" "$tmp/t.st" || fail "the model file after SIGTERM and --resume differs from the uninterrupted run's"
cmp -s "$tmp/ref.csv" "$tmp/t.csv" || fail "the history after SIGTERM and --resume: '$(cat "$tmp/t.csv")', uninterrupted: '$(cat "$tmp/ref.csv")'"
[ -f "$ck" ] && fail "the automatic checkpoint was left after the resumed run succeeded"

# 1b. SIGINT during an epoch's test pass (after the checkpoint at the epoch's last batch):
#     the checkpoint is at the epoch's end and the resumed run repeats the test pass
CNNC_TEST_EVAL_DELAY_MS=3000 run_bg "$tmp/tiny.cnn" --train --seed 7 --threads 2 -o "$tmp/e.st" --history "$tmp/e.csv" \
    --checkpoint "$tmp/e.ckpt" --checkpoint-every 11 >"$tmp/e.log" 2>"$tmp/e.err"
pid=$!
n=0
while [ $n -lt 12000 ] && [ ! -f "$tmp/e.ckpt" ]; do sleep 0.01; n=$((n + 1)); done
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
[ "$rc" = 130 ] && grep -q "^cnnc: interrupted: checkpoint written to $tmp/e.ckpt (epoch 1, batch 11 of 11); continue" "$tmp/e.err" \
    || fail "SIGINT during the test pass: status $rc, '$(cat "$tmp/e.err")'"
grep -q '^Epoch' "$tmp/e.log" && fail "SIGINT during the test pass: an epoch line was printed"
"$CNNC" "$tmp/tiny.cnn" --train --threads 2 -o "$tmp/e.st" --history "$tmp/e.csv" --resume "$tmp/e.ckpt" >"$tmp/e2.log" 2>"$tmp/e2.err" \
    || fail "--resume after SIGINT during the test pass: $(cat "$tmp/e2.err")"
cmp -s "$tmp/ref.st" "$tmp/e.st" || fail "the model file after SIGINT during the test pass and --resume differs"
cmp -s "$tmp/ref.csv" "$tmp/e.csv" || fail "the history after SIGINT during the test pass: '$(cat "$tmp/e.csv")'"
[ "$(grep '^Epoch 1/3' "$tmp/e2.log")" = "$(grep '^Epoch 1/3' "$tmp/ref.log")" ] \
    || fail "the resumed epoch 1 line is '$(grep '^Epoch 1/3' "$tmp/e2.log")'"

# 2. SIGINT and SIGTERM during the final validation (a pause before it lets the signal land there)
for sig in INT TERM; do
    want=130 word=interrupted
    [ $sig = TERM ] && want=143 word="terminated (SIGTERM)"
    rm -f "$tmp/v.st"
    CNNC_TEST_VALIDATION_DELAY_MS=2000 run_bg "$tmp/val.cnn" --train --seed 7 --threads 2 -o "$tmp/v.st" \
        >"$tmp/v.log" 2>"$tmp/v.err"
    pid=$!
    wait_for '^Epoch 3/3' "$tmp/v.log"
    sleep 0.3
    kill -$sig $pid
    wait $pid
    rc=$?
    [ "$rc" = $want ] || fail "SIG$sig at the final validation: exit status $rc, expected $want ($(cat "$tmp/v.err"))"
    grep -q "^cnnc: $word during the final validation: the model was saved to $tmp/v.st; the validation was not finished\$" \
        "$tmp/v.err" || fail "SIG$sig at the final validation: message '$(cat "$tmp/v.err")'"
    cmp -s "$tmp/vref.st" "$tmp/v.st" || fail "SIG$sig at the final validation: the model file is not the uninterrupted run's"
    grep -q '^Validation' "$tmp/v.log" && fail "SIG$sig at the final validation: a validation line was printed"
done

# 3. a resume into a new history file; a failed run keeps an existing history
"$CNNC" "$tmp/tiny.cnn" --train --seed 7 --threads 2 --epochs 2 -o "$tmp/two.st" --checkpoint "$tmp/two.ckpt" \
    --history "$tmp/two.csv" >/dev/null 2>&1 || fail "two-epoch run failed"
[ "$(wc -l <"$tmp/two.csv")" = 3 ] || fail "two epochs gave $(wc -l <"$tmp/two.csv") history lines"
"$CNNC" "$tmp/tiny.cnn" --train --threads 2 -o "$tmp/three.st" --resume "$tmp/two.ckpt" --history "$tmp/new.csv" \
    >/dev/null 2>"$tmp/three.err" || fail "resume into a new history: $(cat "$tmp/three.err")"
cmp -s "$tmp/ref.csv" "$tmp/new.csv" || fail "a resume into a new history file wrote '$(cat "$tmp/new.csv")'"
sed 's/^optimizer = .*/optimizer = SGD(model.parameters(), lr=1e6)/' "$tmp/tiny.cnn" >"$tmp/nan.cnn"
cp "$tmp/ref.csv" "$tmp/keep.csv"
"$CNNC" "$tmp/nan.cnn" --train --seed 3 --threads 2 -o "$tmp/nan.st" --history "$tmp/keep.csv" >/dev/null 2>&1 \
    && fail "a diverging run succeeded"
cmp -s "$tmp/ref.csv" "$tmp/keep.csv" || fail "a run that failed before its first epoch changed the history to '$(cat "$tmp/keep.csv")'"

# 4. --resume compares what the program means
{ sed 's/^NUM_EPOCHS = 3$/NUM_EPOCHS   =   3   # three/; s/Linear(150, 32),/Linear(150,\n               32),/' "$tmp/tiny.cnn"
  echo '# a trailing comment'; } >"$tmp/commented.cnn"
"$CNNC" "$tmp/commented.cnn" --train --threads 2 -o "$tmp/c.st" --resume "$tmp/two.ckpt" >/dev/null 2>"$tmp/c.err" \
    || fail "--resume refused a file that differs only in comments and layout: $(cat "$tmp/c.err")"
grep -q "^cnnc: resuming from $tmp/two.ckpt at epoch 3, batch 0\$" "$tmp/c.err" || fail "resume message: '$(cat "$tmp/c.err")'"
sed 's/Dropout(p=0.3)/Dropout(p=0.4)/' "$tmp/tiny.cnn" >"$tmp/changed.cnn"
"$CNNC" "$tmp/changed.cnn" --train --threads 2 -o "$tmp/x.st" --resume "$tmp/two.ckpt" >/dev/null 2>"$tmp/x.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: $tmp/two.ckpt: the checkpoint was written for a different .cnn file" "$tmp/x.err" \
    || fail "--resume with a changed layer: status $rc, '$(cat "$tmp/x.err")'"

# 5. stdout that cannot be written
img=$(ls "$tmp"/data/test/0/* | head -1)
for action in --check --summary --dump-graph "--train --epochs 1 -o $tmp/so.st" "--eval --weights $tmp/ref.st" \
    "--predict --weights $tmp/ref.st $img"; do
    # shellcheck disable=SC2086
    (cd "$tmp" && "$CNNC" tiny.cnn $action --seed 7 --threads 2 >/dev/full 2>"$tmp/so.err")
    rc=$?
    [ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write the standard output: No space left on device" "$tmp/so.err" \
        || fail "$action >/dev/full: status $rc, '$(cat "$tmp/so.err")'"
    # shellcheck disable=SC2086
    (cd "$tmp" && "$CNNC" tiny.cnn $action --seed 7 --threads 2 >&- 2>"$tmp/so.err")
    rc=$?
    [ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write the standard output: Bad file descriptor" "$tmp/so.err" \
        || fail "$action with stdout closed: status $rc, '$(cat "$tmp/so.err")'"
done
"$CNNC" "$tmp/tiny.cnn" --train --epochs 1 --seed 7 --threads 2 -o "$tmp/so2.st" >/dev/null 2>&1 || fail "one-epoch run"
cmp -s "$tmp/so.st" "$tmp/so2.st" || fail "with stdout closed, the model file differs from a normal run's"

# 6. -o: a long name, the mode, a symbolic link
long=$(printf '%0250d' 0 | tr 0 m).safetensors
"$CNNC" "$tmp/tiny.cnn" --train --seed 7 --threads 2 -o "$tmp/$long" >"$tmp/long.log" 2>"$tmp/long.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write $tmp/$long: its name is 262 bytes long.*shorten the name to at most 244 bytes\$" \
    "$tmp/long.err" || fail "a long -o name: status $rc, '$(cat "$tmp/long.err")'"
grep -q '^Epoch' "$tmp/long.log" && fail "a long -o name was refused only after training"
cp "$tmp/ref.st" "$tmp/mode.st"
chmod 600 "$tmp/mode.st"
mkdir "$tmp/real"
cp "$tmp/ref.st" "$tmp/real/target.st"
ln -s real/target.st "$tmp/link.st"
for o in mode.st link.st; do
    "$CNNC" "$tmp/tiny.cnn" --train --epochs 1 --seed 7 --threads 2 -o "$tmp/$o" >/dev/null 2>"$tmp/o.err" || fail "-o $o: $(cat "$tmp/o.err")"
done
[ "$(stat -c %a "$tmp/mode.st")" = 600 ] || fail "a 0600 model file became $(stat -c %a "$tmp/mode.st")"
[ -L "$tmp/link.st" ] || fail "the symbolic link given to -o was replaced"
cmp -s "$tmp/so2.st" "$tmp/real/target.st" || fail "the symbolic link's target was not written"
ls -a "$tmp" "$tmp/real" | grep -q '\.tmp\.' && fail "a temporary file was left"

echo "test_safe_runs: $fails failed"
[ $fails = 0 ]
