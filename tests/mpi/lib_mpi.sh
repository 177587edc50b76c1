# tests/mpi/lib_mpi.sh: what the MPI tests start with, after tests/lib.sh: skip (77) when cnnc
# was built without MPI or mpirun is missing; $MPIRUN, mpirun allowed as root and beyond the
# cores; a 200 + 100 image subset of Fashion-MNIST in $tmp/fm (IDX files, as --data reads).
. "$(dirname "$0")/../lib.sh"
grep -q '^#define HAVE_MPI 1' "$top_builddir/config.h" 2>/dev/null || { echo "SKIP: cnnc was built without MPI"; exit 77; }
command -v mpirun >/dev/null || { echo "SKIP: no mpirun"; exit 77; }
[ -n "${CNNC_UNDER_VALGRIND:-}" ] && { echo "SKIP: MPI runs are left out under valgrind"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"    # Open MPI keeps its memory to the end
MPIRUN="mpirun --oversubscribe"
fm=/usr/share/datasets/fashion-mnist
[ -r "$fm/train-images-idx3-ubyte.gz" ] || { echo "SKIP: no Fashion-MNIST in $fm"; exit 77; }
mkdir -p "$tmp/fm"
command -v python3 >/dev/null || { echo "SKIP: no python3 (to cut the subset and compare model files)"; exit 77; }
python3 - "$fm" "$tmp/fm" <<'PY' || { echo "FAIL: cutting the Fashion-MNIST subset"; exit 1; }
import gzip, sys
src, dst = sys.argv[1], sys.argv[2]
for name, n in (('train', 200), ('t10k', 100)):
    for kind, head, per in (('images-idx3', 16, 784), ('labels-idx1', 8, 1)):
        f = '%s-%s-ubyte' % (name, kind)
        d = gzip.open('%s/%s.gz' % (src, f)).read()
        out = bytearray(d[:head]) + d[head:head + n * per]
        out[4:8] = n.to_bytes(4, 'big')
        open('%s/%s' % (dst, f), 'wb').write(out)
PY
