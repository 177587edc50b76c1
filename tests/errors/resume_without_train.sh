# --resume with another action than --train
# status: 2
$CNNC tiny.cnn --check --resume ck.safetensors
