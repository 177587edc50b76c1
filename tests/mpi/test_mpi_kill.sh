#!/bin/sh
# tests/mpi/test_mpi_kill.sh: a process of a data-parallel run that dies or is stopped ends
# the run within 10 s with a non-zero exit, and the checkpoint resumes it to the model of the
# uninterrupted run (bit for bit: the same processes and threads). SIGTERM to rank 1: the
# processes agree to stop at the same batch and rank 0 writes the checkpoint; kill -9 of
# rank 1: mpirun ends the others, and --checkpoint-every's last checkpoint resumes. Also the
# refusals: --resume with another number of processes, a batch (or the last batch) smaller
# than the processes, --skip-bad-images, --save-best, a loss with class weights.
. "$(dirname "$0")/lib_mpi.sh"
cnn="$top_srcdir/tests/mpi/tiny_bn.cnn"
run="--train --seed 9 --threads 1 --data $tmp/fm"
$MPIRUN -np 2 "$CNNC" "$cnn" $run -o "$tmp/ref.st" >"$tmp/ref.out" 2>"$tmp/ref.err" || fail "the uninterrupted run: $(cat "$tmp/ref.err")"

# rank R's pid of the run writing $1 (its command line names it; Open MPI's environment names the rank)
rank_pid() {
    for p in $(pgrep -f -- "$1"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return 0; }
    done
    return 1
}

# start a slowed run writing checkpoints every 2 batches; once the first is there, send $1 to rank 1
interrupt() {
    sig=$1 name=$2
    CNNC_TEST_BATCH_DELAY_MS=250 $MPIRUN -np 2 "$CNNC" "$cnn" $run -o "$tmp/$name.st" --checkpoint "$tmp/$name.ck" \
        --checkpoint-every 2 >"$tmp/$name.out" 2>"$tmp/$name.err" &
    job=$!
    i=0
    while [ ! -s "$tmp/$name.ck" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    pid=$(rank_pid "$tmp/$name.st" 1) || { fail "$name: no rank 1 found"; wait $job; return; }
    sleep 0.3
    t0=$(date +%s)
    kill -"$sig" "$pid"
    wait $job
    status=$? t1=$(date +%s)
    [ $status != 0 ] || fail "$name: the run exited 0 after kill -$sig of rank 1"
    [ $((t1 - t0)) -le 10 ] || fail "$name: the run took $((t1 - t0)) s to end after kill -$sig of rank 1"
    [ -s "$tmp/$name.st" ] && fail "$name: the model file was written although the run was stopped"
    $MPIRUN -np 2 "$CNNC" "$cnn" $run -o "$tmp/$name.st" --checkpoint "$tmp/$name.ck" --resume "$tmp/$name.ck" \
        >"$tmp/$name.r.out" 2>"$tmp/$name.r.err" || fail "$name: resuming: $(cat "$tmp/$name.r.err")"
    cmp -s "$tmp/ref.st" "$tmp/$name.st" || fail "$name: the resumed run's model differs from the uninterrupted run's"
}
interrupt TERM term
grep -q "rank 0 of 2\|terminated (SIGTERM): checkpoint written to" "$tmp/term.err" \
    || fail "term: no word of the checkpoint: $(cat "$tmp/term.err")"
interrupt KILL kill

# the checkpoint of 2 processes resumed by 3
$MPIRUN -np 3 "$CNNC" "$cnn" $run --resume "$tmp/term.ck" -o "$tmp/x.st" >/dev/null 2>"$tmp/np3.err" \
    && fail "resuming 2 processes' checkpoint on 3 succeeded"
grep -q "was written by a run on 2 processes, this one has 3: resume it with mpirun -np 2" "$tmp/np3.err" \
    || fail "resuming on 3 processes: $(cat "$tmp/np3.err")"
# a batch of 2 for 3 processes
$MPIRUN -np 3 "$CNNC" "$cnn" $run --batch-size 2 -o "$tmp/x.st" >/dev/null 2>"$tmp/bs.err" \
    && fail "a batch of 2 on 3 processes succeeded"
grep -q "batch_size 2 is smaller than the 3 processes of this run" "$tmp/bs.err" || fail "batch of 2: $(cat "$tmp/bs.err")"
grep -q "rank [0-9] of 3: failed (exit code 1" "$tmp/bs.err" || fail "batch of 2: no rank named: $(cat "$tmp/bs.err")"
# a last batch of 2 (200 = 3 x 66 + 2) for 3 processes
$MPIRUN -np 3 "$CNNC" "$cnn" $run --batch-size 66 -o "$tmp/x.st" >/dev/null 2>"$tmp/last.err" \
    && fail "a last batch of 2 on 3 processes succeeded"
grep -q "its last batch holds 2 of its 200 samples, fewer than the 3 processes of this run" "$tmp/last.err" \
    || fail "last batch of 2: $(cat "$tmp/last.err")"
# --skip-bad-images would give the processes different shares
$MPIRUN -np 2 "$CNNC" "$cnn" $run --skip-bad-images -o "$tmp/x.st" >/dev/null 2>"$tmp/skip.err" \
    && fail "--skip-bad-images under mpirun succeeded"
grep -q "skip-bad-images does not work under mpirun yet" "$tmp/skip.err" || fail "--skip-bad-images: $(cat "$tmp/skip.err")"
# --save-best: the kept weights would be rank 0's alone
$MPIRUN -np 2 "$CNNC" "$cnn" $run --save-best -o "$tmp/x.st" >/dev/null 2>"$tmp/best.err" \
    && fail "--save-best under mpirun succeeded"
grep -q "save-best under mpirun is not supported yet" "$tmp/best.err" || fail "--save-best: $(cat "$tmp/best.err")"
# class weights: the weighted mean divides by a sum over the whole batch
sed 's/^criterion = CrossEntropyLoss()/criterion = CrossEntropyLoss(weight=[1, 2, 1, 1, 1, 1, 1, 1, 1, 1])/' "$cnn" >"$tmp/weighted.cnn"
grep -q "weight=" "$tmp/weighted.cnn" || fail "tiny_bn.cnn has no criterion line to change"
$MPIRUN -np 2 "$CNNC" "$tmp/weighted.cnn" $run -o "$tmp/x.st" >/dev/null 2>"$tmp/weight.err" \
    && fail "class weights under mpirun succeeded"
grep -q "class weights (weight=) under mpirun is not supported" "$tmp/weight.err" || fail "class weights: $(cat "$tmp/weight.err")"
exit $((fails > 0))
