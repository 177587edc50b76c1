# an option given without its value
# status: 2
$CNNC tiny.cnn --train --epochs
