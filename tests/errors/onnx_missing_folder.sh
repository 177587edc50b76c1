# --export-onnx into a folder that does not exist
# needs: onnx
# status: 1
$CNNC tiny.cnn --export-onnx nowhere/tiny.onnx --weights tiny.safetensors
