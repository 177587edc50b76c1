# --eval without a model file
# status: 2
$CNNC tiny.cnn --eval
