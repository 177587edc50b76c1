# --weights-bin (float32) with --quantize int8
# status: 2
$CNNC tiny.cnn --emit-c out.c --weights tiny.safetensors --quantize int8 --calibrate 8 --weights-bin w.bin
