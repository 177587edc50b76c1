# --export-onnx over an existing file that is not an ONNX model
# needs: onnx
# status: 1
echo "my notes" > notes.txt && $CNNC tiny.cnn --export-onnx notes.txt --weights tiny.safetensors
