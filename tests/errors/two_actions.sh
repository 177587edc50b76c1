# two actions at once
# status: 2
$CNNC tiny.cnn --train --eval --weights tiny.safetensors
