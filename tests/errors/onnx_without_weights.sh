# --export-onnx without a model file
# needs: onnx
# status: 2
$CNNC tiny.cnn --export-onnx tiny.onnx
