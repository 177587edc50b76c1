# --weight-decay that is not a number
# status: 2
$CNNC tiny.cnn --train --weight-decay 1e-3x
