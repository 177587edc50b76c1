# an image whose header says it decodes to more than the limit (10000 x 10000 RGB: 286 MiB)
# status: 1
$CNNC tiny.cnn --predict --weights tiny.safetensors "$top_srcdir/tests/errors/huge.png"
