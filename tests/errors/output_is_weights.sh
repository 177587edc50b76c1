# the model file to write is the one training starts from
# status: 1
cp tiny.safetensors start.safetensors && $CNNC tiny.cnn --train --weights start.safetensors -o start.safetensors
