# an -o name with no room for the temporary file's suffix (.tmp.XXXXXX): refused before training
# status: 1
$CNNC tiny.cnn --train --threads 1 -o $(printf '%0240d' 0).safetensors
