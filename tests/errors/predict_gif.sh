# a GIF given to --predict: cnnc reads the formats of torchvision ImageFolder only
# status: 1
$CNNC tiny.cnn --predict --weights tiny.safetensors "$top_srcdir/tests/fuzz/corpus/image/img.gif"
