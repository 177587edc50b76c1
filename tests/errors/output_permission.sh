# -o in a folder the user may not write
# status: 1
mkdir ro && chmod 555 ro && $AS_USER $CNNC tiny.cnn --train --threads 1 -o ro/m.safetensors
