# a model file that is not safetensors
# status: 1
$CNNC tiny.cnn --eval --weights tiny.cnn
