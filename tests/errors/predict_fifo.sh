# a FIFO named like an image given to --predict: refused at once, not read (it would wait forever)
# status: 1
rm -f fifo.png && mkfifo fifo.png && timeout 10 $CNNC tiny.cnn --predict --weights tiny.safetensors fifo.png
