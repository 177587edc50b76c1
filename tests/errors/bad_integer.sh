# a number that is not one
# status: 2
$CNNC tiny.cnn --train --epochs ten
