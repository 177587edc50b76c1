# an option cnnc does not know
# status: 2
$CNNC tiny.cnn --frobnicate
