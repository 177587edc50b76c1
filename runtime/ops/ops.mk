# runtime/ops/ops.mk: one file per op (kernel, shape rule, backward rule), with its tests.
libcnnrt_a_SOURCES += \
	runtime/ops/conv2d.c runtime/ops/linear.c runtime/ops/relu.c \
	runtime/ops/maxpool2d.c runtime/ops/dropout.c runtime/ops/flatten.c \
	runtime/ops/cross_entropy.c runtime/ops/add.c \
	runtime/ops/adam.c runtime/ops/sgd.c
