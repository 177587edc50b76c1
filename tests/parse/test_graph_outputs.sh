#!/bin/sh
# tests/parse/test_graph_outputs.sh: what cnnc prints for a model with blocks and a forward:
# the unused-attribute warning (the check goes on, status 0), --dump-graph marking the value
# a residual block reads twice, and --summary's module tree (full names, each block's type
# and the parameters below it, totals counted by hand from PyTorch's shapes).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${CNNC:=$top_builddir/cnnc}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cd "$tmp" || exit 99

cat >unused.cnn <<'CNN'
model M {
    input [1, 4, 4]
    conv = Conv2d(1, 2, 3)
    head = Sequential(Flatten(), Linear(16, 2))
    forward(x) {
        return self.head(x)
    }
}
CNN
cat >want.err <<'ERR'
unused.cnn:3:5: warning: attribute conv of M is never used by its forward; its parameters are still saved, as PyTorch's are
    3 |     conv = Conv2d(1, 2, 3)
      |     ^~~~
ERR
"$CNNC" unused.cnn --check >out 2>err || fail "--check with an unused attribute failed: $(cat err)"
cmp -s want.err err || fail "the unused-attribute warning: $(diff want.err err)"
grep -q '^Total params: 54 ' out || fail "the unused Conv2d's parameters are not counted: $(grep Total out)"

cat >res.cnn <<'CNN'
model B(c) {
    conv = Conv2d(c, c, 3, padding=1)
    forward(x) {
        return F.relu(self.conv(x) + x)
    }
}
model M {
    input [1, 4, 4]
    stem = Conv2d(1, 2, 1)
    b = B(2)
    head = Sequential(Flatten(), Linear(32, 2))
}
CNN
"$CNNC" res.cnn --dump-graph >dump 2>err || fail "--dump-graph failed: $(cat err)"
grep -q '= conv2d(input, stem.weight, stem.bias) .*(branches: read by 2 nodes)' dump ||
    fail "the residual branch is not marked: $(grep stem dump)"
grep -q '= add(%[0-9]*, %[0-9]*)  # res.cnn:4 b$' dump || fail "no add node for the residual sum"

"$CNNC" "$top_srcdir/tests/parse/valid/blocks.cnn" --summary >sum 2>err || fail "--summary failed: $(cat err)"
# BasicBlock(3, 16, stride=2): 432 + 32 + 2304 + 32 + downsample 48 + 32 = 2880;
# BasicBlock(16, 16): 2304 + 32 + 2304 + 32 = 4672 (no downsample); Linear(16, 10): 170
grep -q '^layer1 (Sequential) .* 7,552 ' sum || fail "layer1's row: $(grep '^layer1 ' sum)"
grep -q '^  layer1.0 (BasicBlock) .* 2,880 ' sum || fail "layer1.0's row: $(grep 'layer1.0 ' sum)"
grep -q '^      layer1.0.downsample.0 (Conv2d) .*16 x 16 x 16 .* 48 ' sum || fail "the downsample's row: $(grep downsample.0 sum)"
grep -q '^    layer1.1.conv2 (Conv2d)' sum || fail "layer1.1.conv2's row"
grep -q '^Total params: 7,722$' sum || fail "the total: $(grep Total sum)"
echo "test_graph_outputs: $fails failed"
[ $fails = 0 ]
