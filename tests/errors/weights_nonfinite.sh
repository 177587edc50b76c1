# a model file holding NaN (its last float set to a quiet NaN)
# status: 1
cp tiny.safetensors nan.safetensors && printf '\000\000\300\177' | dd of=nan.safetensors bs=1 seek=$(($(wc -c <tiny.safetensors) - 4)) conv=notrunc 2>/dev/null && $CNNC tiny.cnn --eval --weights nan.safetensors
