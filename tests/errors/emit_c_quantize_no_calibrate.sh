# --quantize int8 without the calibration images that set the activation scales
# status: 2
$CNNC tiny.cnn --emit-c out.c --weights tiny.safetensors --quantize int8
