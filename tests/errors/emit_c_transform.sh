# --emit-c with an eval transform step the generated preprocess function does not cover:
# nothing is left written
# status: 1
sed 's/transform = Compose(ToTensor(),/transform = Compose(RandomHorizontalFlip(), ToTensor(),/' tiny.cnn >flip.cnn
$CNNC flip.cnn --emit-c out.c --weights tiny.safetensors
s=$?
[ ! -e out.c ] || echo "out.c was left behind" >&2
exit $s
