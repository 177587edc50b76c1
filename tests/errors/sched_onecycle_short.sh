# a OneCycleLR whose total steps do not cover the run (3 epochs x 11 batches)
# status: 1
{ cat tiny.cnn; printf '%b\n' 'scheduler = OneCycleLR(optimizer, max_lr=0.1, total_steps=30, cycle_momentum=False)'; } >s.cnn
$CNNC s.cnn --train --seed 1 --threads 1 -o s.safetensors >/dev/null
