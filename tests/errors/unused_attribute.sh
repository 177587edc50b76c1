# an attribute the forward never calls: a warning, and the check goes on
# status: 0
cat > m.cnn <<'CNN'
model M {
    input [1, 4, 4]
    conv = Conv2d(1, 2, 3)
    head = Sequential(Flatten(), Linear(16, 2))
    forward(x) {
        return self.head(x)
    }
}
CNN
$CNNC m.cnn --check >/dev/null
