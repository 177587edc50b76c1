# standard output on a full device (> /dev/full): the write that failed is an error
# status: 1
$CNNC tiny.cnn --check >/dev/full
