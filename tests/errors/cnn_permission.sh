# a .cnn file the user may not read
# status: 1
cp tiny.cnn secret.cnn && chmod 000 secret.cnn && $AS_USER $CNNC secret.cnn
