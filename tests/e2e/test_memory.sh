#!/bin/sh
# tests/e2e/test_memory.sh: a plan that needs more memory than this machine has is refused
# before any is taken, naming the bytes it needs (here without CNNC_MEMORY_LIMIT: a batch
# of 2^20 1000x1000 RGB images needs over 12 TB, more than any machine running the tests).
# With the data sets open, the plan's batch is capped by their size: the same batch_size on
# the 175 synthetic images plans for 175 (--check says so, and a limit names batch 175).
. "$(dirname "$0")/../lib.sh"
sed 's/input \[3, 100, 100\]/input [3, 1000, 1000]/; s/MaxPool2d(4)/MaxPool2d(40)/; s/batch_size=16/batch_size=1048576/' \
    "$top_srcdir/tests/checkpoint/tiny.cnn" >"$tmp/huge.cnn"
for action in "--check --no-data" "--summary"; do
    # shellcheck disable=SC2086
    "$CNNC" "$tmp/huge.cnn" $action >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" != 1 ] || ! grep -q "^$tmp/huge.cnn: error: .* Tiny with batch 1048576 needs [0-9.]* [GT]iB ([0-9]* bytes) of memory for its tensors, but this machine has [0-9.]* [KMGT]iB ([0-9]* bytes) available: lower the batch size" "$tmp/err"; then
        fail "$action: status $rc, stderr '$(cat "$tmp/err")'"
    fi
    need=$(sed -n 's/.* needs [0-9.]* [GT]iB (\([0-9]*\) bytes).*/\1/p' "$tmp/err")
    [ "${#need}" -ge 14 ] || fail "$action: needs only '$need' bytes"
    [ -s "$tmp/out" ] && fail "$action printed results"
done
# the same batch_size on 175 training and 50 test images of 100x100, resized to 1000x1000
"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || fail "make_sea_data"
sed 's/transform = Compose(ToTensor()/transform = Compose(Resize((1000, 1000)), ToTensor()/' "$tmp/huge.cnn" >"$tmp/capped.cnn"
"$CNNC" "$tmp/capped.cnn" --check >"$tmp/out" 2>"$tmp/err" || fail "--check with the data: $(cat "$tmp/err")"
grep -q "^Training memory plan at batch 175:" "$tmp/out" || fail "--check's plan is not capped at 175: $(grep plan "$tmp/out")"
CNNC_MEMORY_LIMIT=1000000 "$CNNC" "$tmp/capped.cnn" --train >"$tmp/out" 2>"$tmp/err"
grep -q "^$tmp/capped.cnn: error: training Tiny with batch 175 needs" "$tmp/err" || fail "--train: $(cat "$tmp/err")"
echo "test_memory: $fails failed"
[ $fails = 0 ]
