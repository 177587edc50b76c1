# an image to --predict that does not exist
# status: 1
$CNNC tiny.cnn --predict --weights tiny.safetensors nope.png
