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
python3 "$top_srcdir/tests/mpi/fashion_subset.py" "$fm" "$tmp/fm" 200 100 || { echo "FAIL: cutting the Fashion-MNIST subset"; exit 1; }
