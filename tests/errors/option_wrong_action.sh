# an option given to an action that does not use it
# status: 2
$CNNC tiny.cnn --predict --weights tiny.safetensors --data data data/validate/1/000.png
