# a model file whose BatchNorm num_batches_tracked is float32 (PyTorch saves int64): the
# header's "I64" rewritten as "F32", the 8 bytes of data left as they are
# status: 1
sed -e "s/Linear(150, 32),/Linear(150, 32), BatchNorm1d(32),/" tiny.cnn >bn.cnn
$CNNC bn.cnn --train --epochs 1 --seed 1 --threads 1 -o bn.safetensors >/dev/null &&
    LC_ALL=C sed 's/"dtype":"I64"/"dtype":"F32"/' bn.safetensors >f32.safetensors &&
    $CNNC bn.cnn --eval --weights f32.safetensors
