# --save-best compares test accuracies: a file without a test set is refused
# status: 1
grep -v '^test_dataset' tiny.cnn >s.cnn
$CNNC s.cnn --train --save-best --seed 1 --threads 1 -o s.safetensors >/dev/null
