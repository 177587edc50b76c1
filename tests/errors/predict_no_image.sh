# --predict without an image or folder
# status: 2
$CNNC tiny.cnn --predict --weights tiny.safetensors
