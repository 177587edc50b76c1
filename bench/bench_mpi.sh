#!/bin/sh
# bench/bench_mpi.sh (make bench-mpi): data-parallel training on this machine. fashion.cnn on
# 1024 Fashion-MNIST images (batch 64): images/s of 1 process x 2 threads against 2
# processes x 1 thread (an epoch's time: the run of 3 epochs less the run of 1, so start-up
# and loading drop out), the time a step waits for the gradient sums with the overlap
# (buckets started as the backward pass finishes them) and without it (one bucket after the
# backward pass: CNNC_MPI_BUCKET_KB=0), and the scaling model of README's "Training on a
# cluster" from the measured step time and each shipped model's gradient bytes.
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
CNNC="$top_builddir/cnnc"
grep -q '^#define HAVE_MPI 1' "$top_builddir/config.h" || { echo "bench-mpi: cnnc was built without MPI" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/fm"
python3 "$top_srcdir/tests/mpi/fashion_subset.py" /usr/share/datasets/fashion-mnist "$tmp/fm" 1024 64
model="$top_srcdir/models/fashion.cnn"
args="--train --seed 1 --data $tmp/fm -o $tmp/m.st"

secs() {    # the wall time of a command, in seconds
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
epoch_rate() {  # images/s of one epoch: 2 epochs' time from (3 epochs - 1 epoch)
    a=$(secs "$@" --epochs 1)
    b=$(secs "$@" --epochs 3)
    echo "2 * 1024 / ($b - $a)" | bc -l
}
wait_ms() {     # ms per step waiting for the gradient sums (CNNC_MPI_STATS)
    : >"$tmp/err"
    CNNC_MPI_STATS=1 "$@" --epochs 2 >/dev/null 2>>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    sed -n 's/.* steps, \([0-9.]*\) ms per step.*/\1/p' "$tmp/err" | tr '\n' ' '
    sed -n 's/.*buckets), \([0-9.]*\) ms for the slowest.*/(\1 ms waiting for the slowest process)/p' "$tmp/err"
}
one=$(epoch_rate "$CNNC" "$model" $args --threads 2)
two=$(epoch_rate mpirun -np 2 "$CNNC" "$model" $args --threads 1)
overlap=$(wait_ms mpirun -np 2 "$CNNC" "$model" $args --threads 1)
flat=$(wait_ms env CNNC_MPI_BUCKET_KB=0 mpirun -np 2 "$CNNC" "$model" $args --threads 1)

echo "bench-mpi: $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$top_srcdir" describe --always --dirty 2>/dev/null || echo '?'), $(nproc) cores, $(mpirun --version | head -1)"
echo "fashion.cnn, 1024 images, batch 64 (16 steps an epoch), an epoch's time from runs of 3 and 1 epochs"
printf '| %-46s | %10s |\n' "measurement" "value"
printf '|%s|%s|\n' "------------------------------------------------" "------------"
printf '| %-46s | %10.0f |\n' "1 process x 2 threads (images/s)" "$one"
printf '| %-46s | %10.0f |\n' "2 processes x 1 thread (images/s)" "$two"
printf '| %-46s | %10.2f |\n' "ratio, 2 processes / 1 process" "$(echo "$two / $one" | bc -l)"
echo "the gradient sums' own wait per step (ms), the processes' skew taken out by a barrier before it:"
echo "  overlapped (buckets of 256 KiB started during the backward pass): $overlap"
echo "  one bucket after the backward pass (all of the sums' time): $flat"
step=$(echo "64 / $one * 1000" | bc -l)
python3 - "$step" <<'PY'
import sys
step = float(sys.argv[1])     # ms per step of fashion.cnn, one process, 2 threads
# gradient bytes (cnnc --summary's parameters) and a measured step (ms) on one 2-core node
models = [('fashion.cnn', 1.61, step, 'measured above'), ('fashion.cnn', 1.61, 1000 * 64 / 5755.2, 'RESULTS.md: 5755.2 images/s at batch 64'), ('sea.cnn', 9.79, 1000 * 10 / 1085.7, 'RESULTS.md: 1085.7 images/s at batch 10'),
          ('lenet5.cnn', 0.24, None, ''), ('fashion_resnet.cnn', 0.17, None, ''),
          ('mobilenet_v2.cnn', 13.50, None, ''), ('resnet18.cnn', 44.63, None, '')]
nodes = [2, 4, 8, 16, 32, 64]
print('\nring allreduce: each node sends and receives 2(N-1)/N of the gradient bytes per step (ms):')
print('| model              | MiB   | Gb/s | ' + ' | '.join('N=%-3d' % n for n in nodes) + ' |')
for name, mib in dict((m[0], m[1]) for m in models).items():
    for gbs in (10, 100):
        t = [2 * (n - 1) / n * mib * 2**20 * 8 / (gbs * 1e9) * 1e3 for n in nodes]
        print('| %-18s | %5.2f | %4d | ' % (name, mib, gbs) + ' | '.join('%5.2f' % x for x in t) + ' |')
print('\nspeed-up at a fixed global batch, step = T1/N + ring time (no overlap), T1 measured on one node:')
for name, mib, t1, src in models:
    if t1 is None:
        continue
    for gbs in (10, 100):
        s = []
        for n in nodes:
            comm = 2 * (n - 1) / n * mib * 2**20 * 8 / (gbs * 1e9) * 1e3
            s.append(t1 / (t1 / n + comm))
        half = [n for n, x in zip(nodes, s) if x / n < 0.5]
        print('%-12s T1 %.1f ms (%s), %3d Gb/s: ' % (name, t1, src, gbs) + ', '.join('N=%d %.1fx' % (n, x) for n, x in zip(nodes, s)) +
              '; efficiency under 50%% from N=%s' % (half[0] if half else '>64'))
PY
