# AdaptiveAvgPool2d whose output does not divide its input: ONNX has no adaptive pooling
# needs: onnx
# status: 1
sed "s/MaxPool2d(5))/MaxPool2d(5), AdaptiveAvgPool2d(3))/; s/Linear(150, 32)/Linear(54, 32)/" tiny.cnn >ap.cnn
$CNNC ap.cnn --train --epochs 1 --seed 1 -o ap.safetensors >/dev/null && $CNNC ap.cnn --export-onnx ap.onnx --weights ap.safetensors
