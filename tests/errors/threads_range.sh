# a thread count out of range
# status: 2
$CNNC tiny.cnn --train --threads 0
