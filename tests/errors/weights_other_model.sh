# a model file of another model: the first differing tensor with both shapes
# status: 1
sed "s/Linear(150, 32)/Linear(150, 48)/; s/Linear(32, 5)/Linear(48, 5)/" tiny.cnn > wider.cnn && $CNNC wider.cnn --eval --weights tiny.safetensors
