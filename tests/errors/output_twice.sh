# two outputs of one run on one path
# status: 1
$CNNC tiny.cnn --train -o m.safetensors --report m.safetensors
