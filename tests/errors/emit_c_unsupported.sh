# --emit-c of a layer the C back end has no kernel for: BatchNorm without running statistics
# status: 1
sed "s/Linear(150, 32),/Linear(150, 32), BatchNorm1d(32, track_running_stats=False),/" tiny.cnn >bn.cnn
$CNNC bn.cnn --train --epochs 1 --seed 1 --threads 1 -o bn.safetensors >/dev/null
$CNNC bn.cnn --emit-c out.c --weights bn.safetensors
