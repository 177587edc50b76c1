# --train --weights with a model file of another shape of model
# status: 1
sed "s/Linear(150, 32)/Linear(150, 48)/; s/Linear(32, 5)/Linear(48, 5)/" tiny.cnn > wider.cnn && $CNNC wider.cnn --train --weights tiny.safetensors
