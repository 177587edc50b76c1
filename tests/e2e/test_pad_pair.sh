#!/bin/sh
# tests/e2e/test_pad_pair.sh: a padding pair with a 0 in it (Conv2d padding=(1, 0),
# MaxPool2d padding=(0, 1)) keeps that 0 through lowering: the graph's shapes are the
# checker's (lowering once read the square field, the pair's first entry, for the 0).
. "$(dirname "$0")/../lib.sh"

cat >"$tmp/p.cnn" <<'CNN'
model P {
    input [3, 5, 5]
    net = Sequential(Conv2d(3, 11, 3, padding=(1, 0)), MaxPool2d(3, stride=1, padding=(0, 1)),
                     Conv2d(11, 4, 3, padding=(0, 2)), Flatten(), Linear(4 * 1 * 5, 4))
}
CNN
"$CNNC" "$tmp/p.cnn" --dump-graph >"$tmp/g.txt" 2>"$tmp/g.err" || fail "--dump-graph: $(cat "$tmp/g.err")"
grep -q 'x11x5x3\] *= conv2d(' "$tmp/g.txt" || fail "Conv2d padding=(1, 0) on 5x5 is not 11x5x3: $(grep conv2d "$tmp/g.txt" | head -1)"
grep -q 'x11x3x3\] *= maxpool2d(' "$tmp/g.txt" || fail "MaxPool2d padding=(0, 1) on 5x3 is not 3x3: $(grep maxpool2d "$tmp/g.txt" | head -1)"
grep -q 'x4x1x5\] *= conv2d(' "$tmp/g.txt" || fail "Conv2d padding=(0, 2) on 3x3 is not 1x5: $(grep conv2d "$tmp/g.txt" | tail -1)"
[ "$fails" -eq 0 ] && echo "test_pad_pair: ok"
exit "$fails"
