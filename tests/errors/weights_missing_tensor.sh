# a model file lacking a tensor the model needs
# status: 1
sed "s/Linear(32, 5))/Linear(32, 5), Linear(5, 5))/" tiny.cnn > longer.cnn && $CNNC longer.cnn --eval --weights tiny.safetensors
