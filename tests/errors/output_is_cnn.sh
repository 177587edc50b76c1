# -o naming the .cnn file (another spelling of it)
# status: 1
$CNNC tiny.cnn --train -o ./tiny.cnn
