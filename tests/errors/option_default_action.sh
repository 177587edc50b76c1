# an option that no action but --train uses, given to the default action (--check)
# status: 2
$CNNC tiny.cnn --history h.csv
