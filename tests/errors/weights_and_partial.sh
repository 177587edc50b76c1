# --weights and --weights-partial together
# status: 2
$CNNC tiny.cnn --train --weights tiny.safetensors --weights-partial tiny.safetensors
