# a .cnn file that does not exist
# status: 1
$CNNC nope.cnn
