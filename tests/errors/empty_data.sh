# a data set folder without class folders
# status: 1
mkdir -p empty/train empty/test && $CNNC tiny.cnn --train --threads 1 --data empty
