#!/bin/sh
# tests/errors/run_errors.sh: one case per error message a user can cause. Each case is
# NAME.sh (a command run by sh in a scratch folder $T holding the synthetic data in data/,
# tests/checkpoint/tiny.cnn as tiny.cnn and a model trained from it, tiny.safetensors;
# its line "# status: N" gives the exit status expected; a line "# needs: onnx" or "# needs: no-onnx"
# runs it only in a build with or without --export-onnx) and NAME.err (the exact stderr
# expected, with @T@ for the scratch folder and @SRC@ for the source tree). $AS_USER runs a command as an unprivileged
# user where the tests run as root, so permission checks bite.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${CNNC:=$top_builddir/cnnc}"
export CNNC
T=$(mktemp -d)
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
chmod 755 "$T"
export T
AS_USER=
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null; then AS_USER="setpriv --reuid=65534 --regid=65534 --clear-groups"
    else echo "SKIP: running as root without setpriv: the permission cases are not meaningful"; exit 77; fi
fi
export AS_USER top_srcdir
"$top_builddir/examples/make_sea_data" "$T/data" >/dev/null || { echo "FAIL: make_sea_data"; exit 1; }
cp "$top_srcdir/tests/checkpoint/tiny.cnn" "$T/tiny.cnn"
(cd "$T" && "$CNNC" tiny.cnn --train --epochs 1 --seed 1 --threads 1 -o tiny.safetensors >/dev/null) \
    || { echo "FAIL: training the model the cases use"; exit 1; }
chmod -R a+rX "$T"
# whether this cnnc has --export-onnx (configure leaves it out without protobuf-c)
built=onnx
(cd "$T" && "$CNNC" tiny.cnn --export-onnx x.onnx 2>&1 | grep -q "built without ONNX") && built=no-onnx
rm -f "$T/x.onnx"

pass=0
fails=0
for case in "$top_srcdir"/tests/errors/*.sh; do
    name=$(basename "$case" .sh)
    [ "$name" = run_errors ] && continue
    needs=$(sed -n 's/^# needs: \(.*\)$/\1/p' "$case")
    [ -n "$needs" ] && [ "$needs" != "$built" ] && continue
    want_status=$(sed -n 's/^# status: \([0-9]*\)$/\1/p' "$case")
    (cd "$T" && sh "$case") >"$T/.out" 2>"$T/.err"
    status=$?
    sed "s|$T|@T@|g; s|$top_srcdir|@SRC@|g" "$T/.err" >"$T/.got"
    if [ "$status" != "$want_status" ]; then
        echo "FAIL: $name: exit status $status, expected $want_status; stderr:"
        cat "$T/.got"
        fails=$((fails + 1))
    elif ! cmp -s "$T/.got" "$top_srcdir/tests/errors/$name.err"; then
        echo "FAIL: $name: stderr differs from $name.err:"
        diff "$top_srcdir/tests/errors/$name.err" "$T/.got"
        fails=$((fails + 1))
    elif [ "$(wc -l <"$T/.got")" != 1 ]; then
        echo "FAIL: $name: the error is not one line"
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
done
echo "run_errors: $pass passed, $fails failed"
[ $fails = 0 ]
