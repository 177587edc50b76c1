# Resize(64), an int, keeps the aspect ratio: a 120x100 image becomes 76x64, not the model's 64x64
# status: 1
rm -rf wide && mkdir -p wide && cp -r data/train data/test wide/ && cp "$top_srcdir/tests/errors/wide120x100.png" wide/test/4/ &&
sed 's/input \[3, 100, 100\]/input [3, 64, 64]/; s/MaxPool2d(5))/MaxPool2d(3))/; s/Compose(ToTensor()/Compose(Resize(64), ToTensor()/' tiny.cnn > r64.cnn &&
$CNNC r64.cnn --check --data wide
