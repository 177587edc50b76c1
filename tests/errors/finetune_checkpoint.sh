# --train --weights given a checkpoint
# status: 1
$CNNC tiny.cnn --train --epochs 1 --threads 1 --checkpoint ck.safetensors -o ck_model.safetensors >/dev/null && $CNNC tiny.cnn --train --weights ck.safetensors -o ft.safetensors
