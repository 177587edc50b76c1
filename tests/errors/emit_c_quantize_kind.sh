# --quantize to a kind the C back end does not write
# status: 2
$CNNC tiny.cnn --emit-c out.c --weights tiny.safetensors --quantize int4 --calibrate 8
