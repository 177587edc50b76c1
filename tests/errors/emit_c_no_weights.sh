# --emit-c without the trained model to write
# status: 2
$CNNC tiny.cnn --emit-c out.c
