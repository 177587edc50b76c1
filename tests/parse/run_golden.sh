#!/bin/sh
# tests/parse/run_golden.sh: the parser and checker golden tests. Runs check_driver on
#   tests/parse/valid/NAME.cnn   expecting status 0, no stderr, stdout = valid/NAME.out
#   tests/parse/models/NAME.out  the same for models/NAME.cnn (with --train)
#   tests/parse/errors/NAME.cnn  expecting status 1, no stdout, stderr = errors/NAME.err
# (an errors/NAME.err without its .cnn tests a file that cannot be read). A line
# "# args: ..." in a file's first three lines passes options to the driver (--train).
# Prints one line and a diff per failure; exits 1 if any failed.
#   top_srcdir, top_builddir: set by `make check`; default: this script's tree.
#   CHECK_DRIVER: the driver to run (e.g. a sanitizer build).
#   UPDATE_GOLDEN=1: rewrite the golden files from the current output (review the diff!).
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
driver=${CHECK_DRIVER:-$top_builddir/tests/parse/check_driver}
if [ ! -x "$driver" ]; then
    echo "run_golden.sh: no driver at $driver (build it with make check)"
    exit 99
fi
cd "$top_srcdir" || exit 99
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-golden.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

total=0
failed=0

# run CNN GOLDEN KIND(valid|errors) EXTRA_ARGS
run() {
    cnn=$1 golden=$2 kind=$3 extra=$4
    total=$((total + 1))
    args=$extra
    if [ -f "$cnn" ]; then
        args="$args $(sed -n '1,3s/^# args: //p' "$cnn")"
    fi
    # shellcheck disable=SC2086
    "$driver" $args "$cnn" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$kind" = valid ]; then
        want_rc=0 got=$tmp/out quiet=$tmp/err
    else
        want_rc=1 got=$tmp/err quiet=$tmp/out
    fi
    if [ -n "${UPDATE_GOLDEN:-}" ] && [ "$rc" = "$want_rc" ]; then
        cp "$got" "$golden"
    fi
    why=
    if [ "$rc" != "$want_rc" ]; then
        why="exit status $rc, expected $want_rc"
    elif [ -s "$quiet" ]; then
        why="unexpected output on the other stream"
    elif [ ! -f "$golden" ]; then
        why="no golden file $golden"
    elif ! cmp -s "$golden" "$got"; then
        why="output differs from $golden"
    fi
    if [ -n "$why" ]; then
        failed=$((failed + 1))
        echo "FAIL: $cnn: $why"
        [ -f "$golden" ] && diff -u "$golden" "$got" | sed 's/^/    /' | head -40
        [ -s "$quiet" ] && sed 's/^/    | /' "$quiet" | head -20
    fi
}

for golden in tests/parse/valid/*.out; do
    [ -f "$golden" ] || continue
    run "${golden%.out}.cnn" "$golden" valid ""
done
for golden in tests/parse/models/*.out; do
    [ -f "$golden" ] || continue
    name=$(basename "$golden" .out)
    run "models/$name.cnn" "$golden" valid --train
done
for golden in tests/parse/errors/*.err; do
    [ -f "$golden" ] || continue
    run "${golden%.err}.cnn" "$golden" errors ""
done

echo "$((total - failed)) of $total golden tests passed"
[ "$failed" = 0 ]
