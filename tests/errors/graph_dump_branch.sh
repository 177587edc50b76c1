# a residual block's dump marks the value read twice (no error: stdout checked by grep)
# status: 0
cat > m.cnn <<'CNN'
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
$CNNC m.cnn --dump-graph | grep -q '= conv2d(input, stem.weight, stem.bias) .*(branches: read by 2 nodes)' || echo "no branch marked" >&2
