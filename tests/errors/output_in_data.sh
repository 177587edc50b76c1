# an output inside a data folder
# status: 1
$CNNC tiny.cnn --train -o data/train/0/m.safetensors
