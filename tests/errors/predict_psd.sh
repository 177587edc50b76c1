# a Photoshop file given to --predict: stb_image could guess at it, cnnc does not read it
# status: 1
printf '8BPS\0\1\0\0\0\0\0\0\0\3\0\0\0\4\0\0\0\4\0\10\0\3' > layers.psd && $CNNC tiny.cnn --predict --weights tiny.safetensors layers.psd
