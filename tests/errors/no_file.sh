# no .cnn file
# status: 2
$CNNC --train
