# --export-onnx in a build configured without protobuf-c or onnx.proto (or --disable-onnx)
# needs: no-onnx
# status: 2
$CNNC tiny.cnn --export-onnx tiny.onnx --weights tiny.safetensors
