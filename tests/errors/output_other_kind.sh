# -o over an existing file that is not a model file
# status: 1
echo "my notes" > notes.txt && $CNNC tiny.cnn --train -o notes.txt
