# AvgPool2d with ceil_mode=True whose last window overhangs the padding, counted by
# count_include_pad=True: PyTorch's divisor leaves the overhang out, ONNX's would not
# needs: onnx
# status: 1
sed "s/MaxPool2d(5))/MaxPool2d(5), AvgPool2d(2, ceil_mode=True))/; s/Linear(150, 32)/Linear(54, 32)/" tiny.cnn >ov.cnn
$CNNC ov.cnn --train --epochs 1 --seed 1 -o ov.safetensors >/dev/null && $CNNC ov.cnn --export-onnx ov.onnx --weights ov.safetensors
