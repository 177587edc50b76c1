# a model file cut short
# status: 1
head -c 2000 tiny.safetensors > cut.safetensors && $CNNC tiny.cnn --eval --weights cut.safetensors
