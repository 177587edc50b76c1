# BatchNorm in training needs more than one value per channel: a last batch of one image
# (175 training images, batch 174) is refused, as PyTorch refuses it
# status: 1
sed -e "s/Linear(150, 32),/Linear(150, 32), BatchNorm1d(32),/" -e "s/batch_size=16/batch_size=174/" tiny.cnn >bn.cnn
$CNNC bn.cnn --train --epochs 1 -o bn.safetensors >/dev/null
