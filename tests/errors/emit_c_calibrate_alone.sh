# --calibrate without --quantize
# status: 2
$CNNC tiny.cnn --emit-c out.c --weights tiny.safetensors --calibrate 8
