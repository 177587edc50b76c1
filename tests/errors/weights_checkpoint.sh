# a checkpoint given to --weights
# status: 1
$CNNC tiny.cnn --train --epochs 1 --seed 1 --threads 1 --checkpoint c.ckpt -o c.safetensors >/dev/null && $CNNC tiny.cnn --eval --weights c.ckpt
