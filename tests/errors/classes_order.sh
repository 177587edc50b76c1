# `classes` naming the class folders in another order than ImageFolder's labels: a warning
# status: 0
sed 's/^NUM_EPOCHS = 3/NUM_EPOCHS = 3\nclasses = ["0", "2", "1", "3", "4"]/' tiny.cnn > order.cnn && $CNNC order.cnn --check >/dev/null
