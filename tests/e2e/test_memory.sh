#!/bin/sh
# tests/e2e/test_memory.sh: a plan that needs more memory than this machine has is refused
# before any is taken, naming the bytes it needs (here without CNNC_MEMORY_LIMIT: a batch
# of 2^20 1000x1000 RGB images needs over 12 TB, more than any machine running the tests).
. "$(dirname "$0")/../lib.sh"
sed 's/input \[3, 100, 100\]/input [3, 1000, 1000]/; s/MaxPool2d(4)/MaxPool2d(40)/; s/batch_size=16/batch_size=1048576/' \
    "$top_srcdir/tests/checkpoint/tiny.cnn" >"$tmp/huge.cnn"
for action in --check --train "--eval --weights none.safetensors"; do
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
echo "test_memory: $fails failed"
[ $fails = 0 ]
