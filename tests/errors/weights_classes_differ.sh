# class names in the .cnn that differ from those the model file was trained with
# status: 1
{ cat tiny.cnn; echo 'classes = ["a", "b", "c", "d", "e"]'; } >named.cnn && $CNNC named.cnn --predict --weights tiny.safetensors data/test/0/000.png
