# --emit-c into a folder that does not exist: said before anything is written
# status: 1
$CNNC tiny.cnn --emit-c nowhere/out.c --weights tiny.safetensors
