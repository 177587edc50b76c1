# --resume naming a file that does not exist
# status: 1
$CNNC tiny.cnn --train --threads 1 --resume nope.safetensors
