# a folder given as the .cnn file
# status: 1
$CNNC data
