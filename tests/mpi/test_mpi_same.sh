#!/bin/sh
# tests/mpi/test_mpi_same.sh: data-parallel training gives the single process's result. On a
# 200-image Fashion-MNIST subset, models/fashion.cnn (Adam, Dropout) and tests/mpi/tiny_bn.cnn
# (BatchNorm2d/1d: SyncBatchNorm; SGD with momentum) train in one process and under mpirun
# with 1 (tiny_bn), 2 and 3 processes: the epoch lines are the same, the losses of --history
# agree to 1e-5 and the model files to 1e-5 (compare.py; 1e-4 for Adam, whose first steps
# are lr * sign(gradient): a gradient that cancels to a few ulps may flip its sign when the
# samples are summed in another order); two runs on 3 processes give identical files.
. "$(dirname "$0")/lib_mpi.sh"
here="$top_srcdir/tests/mpi"

# the history's losses (train, test) to 1e-5, row by row
same_losses() {
    python3 - "$1" "$2" <<'PY'
import csv, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(a) == len(b) and a, 'rows: %d vs %d' % (len(a), len(b))
for x, y in zip(a, b):
    for k in ('train_loss', 'test_loss'):
        assert abs(float(x[k]) - float(y[k])) <= 1e-5, '%s: %s vs %s' % (k, x[k], y[k])
    for k in ('train_correct', 'train_total', 'test_correct', 'test_total'):
        assert x[k] == y[k], '%s: %s vs %s' % (k, x[k], y[k])
PY
}

for m in fashion tiny_bn; do
    case $m in
    fashion) cnn="$top_srcdir/models/fashion.cnn"; more="--epochs 1"; tol=1e-4; nps="2 3" ;;
    *) cnn="$here/$m.cnn"; more=; tol=1e-5; nps="1 2 3" ;;
    esac
    run="--train --seed 5 --threads 1 --data $tmp/fm $more"
    "$CNNC" "$cnn" $run -o "$tmp/$m.1p.st" --history "$tmp/$m.1p.csv" >"$tmp/$m.1p.out" 2>"$tmp/$m.1p.err" \
        || { fail "$m: one process: $(cat "$tmp/$m.1p.err")"; continue; }
    grep '^Epoch' "$tmp/$m.1p.out" >"$tmp/$m.1p.lines"
    for n in $nps; do
        $MPIRUN -np $n "$CNNC" "$cnn" $run -o "$tmp/$m.$n.st" --history "$tmp/$m.$n.csv" >"$tmp/$m.$n.out" \
            2>"$tmp/$m.$n.err" || { fail "$m: mpirun -np $n: $(cat "$tmp/$m.$n.err")"; continue; }
        grep '^Epoch' "$tmp/$m.$n.out" >"$tmp/$m.$n.lines"
        [ -s "$tmp/$m.$n.lines" ] || fail "$m: mpirun -np $n printed no epoch line"
        [ "$(grep -c '^Epoch' "$tmp/$m.$n.out")" = "$(grep -c '^Epoch' "$tmp/$m.1p.out")" ] \
            || fail "$m: mpirun -np $n: epoch lines printed by more than rank 0: $(cat "$tmp/$m.$n.out")"
        cmp -s "$tmp/$m.1p.lines" "$tmp/$m.$n.lines" || fail "$m: mpirun -np $n: epoch lines differ: $(diff "$tmp/$m.1p.lines" "$tmp/$m.$n.lines")"
        msg=$(same_losses "$tmp/$m.1p.csv" "$tmp/$m.$n.csv" 2>&1) || fail "$m: mpirun -np $n: history: $msg"
        msg=$(python3 "$here/compare.py" "$tmp/$m.1p.st" "$tmp/$m.$n.st" $tol 2>&1) || fail "$m: mpirun -np $n: model file: $msg"
    done
done
# the same processes twice: the same bits (the sums run in rank order)
$MPIRUN -np 3 "$CNNC" "$here/tiny_bn.cnn" --train --seed 5 --threads 1 --data "$tmp/fm" -o "$tmp/again.st" \
    >/dev/null 2>"$tmp/again.err" || fail "mpirun -np 3 again: $(cat "$tmp/again.err")"
cmp -s "$tmp/tiny_bn.3.st" "$tmp/again.st" || fail "two runs on 3 processes give different model files"
exit $((fails > 0))
