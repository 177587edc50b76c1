# a file to --predict that is not an image
# status: 1
$CNNC tiny.cnn --predict --weights tiny.safetensors tiny.cnn
