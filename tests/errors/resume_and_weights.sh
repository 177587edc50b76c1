# --resume continues a run, --weights starts one: not both
# status: 2
$CNNC tiny.cnn --train --weights tiny.safetensors --resume ck.safetensors
