# tests/lib.sh: what every shell test starts with, sourced as `. "$(dirname "$0")/../lib.sh"`:
# strict variables, the source and build folders (from the environment `make check` gives,
# else from the test's own place), the cnnc to run ($CNNC: valgrind wraps it), a temporary
# folder removed on exit, and fail(), which reports a failed check and counts it in $fails.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${CNNC:=$top_builddir/cnnc}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
