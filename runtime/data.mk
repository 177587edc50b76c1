# runtime/data.mk: image decoding, transforms, ImageFolder, DataLoader, safetensors.
libcnnrt_a_SOURCES += \
	runtime/image.c runtime/imagefolder.c runtime/transforms.c runtime/dataloader.c \
	runtime/json.c runtime/json.h runtime/safetensors.c
