# --predict on a folder without images
# status: 1
mkdir -p empty && $CNNC tiny.cnn --predict --weights tiny.safetensors empty
