# a data set folder the user may not read
# status: 1
cp -r data locked && chmod 000 locked/train/2 && mkdir out && chmod 777 out && $AS_USER $CNNC tiny.cnn --train --threads 1 --data locked -o out/m.safetensors
