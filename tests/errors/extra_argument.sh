# a second file
# status: 2
$CNNC tiny.cnn other.cnn
