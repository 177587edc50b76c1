# --checkpoint-every without --checkpoint
# status: 2
$CNNC tiny.cnn --train --checkpoint-every 5
