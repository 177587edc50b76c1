# a model file with a tensor the model does not have
# status: 1
sed "s/Linear(32, 5))/Linear(32, 5, bias=False))/" tiny.cnn > nobias.cnn && $CNNC nobias.cnn --eval --weights tiny.safetensors
