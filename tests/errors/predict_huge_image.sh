# an image whose header claims more pixels than cnnc decodes (10000 x 10000)
# status: 1
$CNNC tiny.cnn --predict --weights tiny.safetensors "$top_srcdir/tests/errors/huge.png"
