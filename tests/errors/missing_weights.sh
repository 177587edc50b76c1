# a model file that does not exist
# status: 1
$CNNC tiny.cnn --eval --weights nope.safetensors
