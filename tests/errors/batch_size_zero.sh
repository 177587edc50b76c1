# --batch-size 0
# status: 2
$CNNC tiny.cnn --train --batch-size 0
