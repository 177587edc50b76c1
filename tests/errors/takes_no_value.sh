# a value given to an option that takes none
# status: 2
$CNNC tiny.cnn --train=yes
