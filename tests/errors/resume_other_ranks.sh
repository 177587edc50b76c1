# a checkpoint of a run on 2 MPI processes (its "ranks" metadata) resumed by one process
# status: 1
$CNNC tiny.cnn --train --epochs 1 --seed 1 --threads 1 -o r.safetensors --checkpoint r1.ckpt >/dev/null 2>&1
sed 's/"ranks":"1"/"ranks":"2"/' r1.ckpt >r2.ckpt
$CNNC tiny.cnn --train --threads 1 -o r.safetensors --resume r2.ckpt
