# -o in a folder that does not exist
# status: 1
$CNNC tiny.cnn --train --threads 1 -o nope/m.safetensors
