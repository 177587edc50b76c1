# the disk filling up while the model file is saved (ulimit -f)
# status: 1
ulimit -f 8 && $CNNC tiny.cnn --train --epochs 1 --threads 1 -o full.safetensors
