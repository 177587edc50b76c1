# runtime/ops/ops.mk: one file per op (kernel, shape rule, backward rule), with its tests.
libcnnrt_a_SOURCES += \
	runtime/ops/kernels.h runtime/ops/common.c \
	runtime/ops/conv2d.c runtime/ops/conv2d_gemm.c runtime/ops/conv2d_winograd.c runtime/ops/conv2d_winograd_wgrad.c runtime/ops/conv2d_winograd4.c runtime/ops/conv2d_winograd4_wide.c runtime/ops/winograd.h runtime/ops/wino_gemm.c runtime/ops/conv2d_direct.c runtime/ops/conv2d_relu_maxpool2d.c runtime/ops/conv2d_pool_sparse.c runtime/ops/linear.c runtime/ops/relu.c \
	runtime/ops/maxpool2d.c runtime/ops/dropout.c runtime/ops/flatten.c \
	runtime/ops/cross_entropy.c runtime/ops/add.c \
	runtime/ops/adam.c runtime/ops/sgd.c runtime/ops/rmsprop.c runtime/ops/clip_grad.c
libcnnrt_a_SOURCES += runtime/ops/activations.c runtime/ops/softmax.c runtime/ops/nll_loss.c runtime/ops/cat.c \
	runtime/ops/dropout2d.c

# tests/ops/: one test per op file, each against a direct double-precision reference
EXTRA_DIST += tests/ops/testgraph.h tests/ops/testpool.h
check_PROGRAMS += tests/ops/test_conv2d
TESTS += tests/ops/test_conv2d
check_PROGRAMS += tests/ops/test_conv2d_relu_maxpool2d
TESTS += tests/ops/test_conv2d_relu_maxpool2d
check_PROGRAMS += tests/ops/test_conv2d_pool_sparse
TESTS += tests/ops/test_conv2d_pool_sparse
check_PROGRAMS += tests/ops/test_conv2d_winograd
TESTS += tests/ops/test_conv2d_winograd
check_PROGRAMS += tests/ops/test_conv2d_winograd4
TESTS += tests/ops/test_conv2d_winograd4
TESTS += tests/ops/test_conv2d_paths.sh
check_PROGRAMS += tests/ops/test_conv2d_acc
TESTS += tests/ops/test_conv2d_acc
EXTRA_DIST += tests/ops/test_conv2d_paths.sh
check_PROGRAMS += tests/ops/test_linear
TESTS += tests/ops/test_linear
check_PROGRAMS += tests/ops/test_relu
TESTS += tests/ops/test_relu
check_PROGRAMS += tests/ops/test_maxpool2d
TESTS += tests/ops/test_maxpool2d
check_PROGRAMS += tests/ops/test_dropout
TESTS += tests/ops/test_dropout
check_PROGRAMS += tests/ops/test_flatten
TESTS += tests/ops/test_flatten
check_PROGRAMS += tests/ops/test_cross_entropy
TESTS += tests/ops/test_cross_entropy
check_PROGRAMS += tests/ops/test_add
TESTS += tests/ops/test_add
check_PROGRAMS += tests/ops/test_adam
TESTS += tests/ops/test_adam
check_PROGRAMS += tests/ops/test_sgd
TESTS += tests/ops/test_sgd
check_PROGRAMS += tests/ops/test_rmsprop
TESTS += tests/ops/test_rmsprop
check_PROGRAMS += tests/ops/test_clip_grad
TESTS += tests/ops/test_clip_grad
check_PROGRAMS += tests/ops/test_activations tests/ops/test_softmax tests/ops/test_nll_loss tests/ops/test_cat \
	tests/ops/test_dropout2d
TESTS += tests/ops/test_activations tests/ops/test_softmax tests/ops/test_nll_loss tests/ops/test_cat \
	tests/ops/test_dropout2d

# h-norm (issue 13): BatchNorm, the pools, the general convolution
libcnnrt_a_SOURCES += runtime/ops/batchnorm.c runtime/ops/conv2d_general.c runtime/ops/conv2d_depthwise.c \
	runtime/ops/avgpool2d.c \
	runtime/ops/adaptive_pool2d.c
check_PROGRAMS += tests/ops/test_batchnorm
TESTS += tests/ops/test_batchnorm
check_PROGRAMS += tests/ops/test_conv2d_general
TESTS += tests/ops/test_conv2d_general
check_PROGRAMS += tests/ops/test_conv2d_depthwise
TESTS += tests/ops/test_conv2d_depthwise
check_PROGRAMS += tests/ops/test_winograd_wgrad
TESTS += tests/ops/test_winograd_wgrad
check_PROGRAMS += tests/ops/test_avgpool2d
TESTS += tests/ops/test_avgpool2d
check_PROGRAMS += tests/ops/test_adaptive_pool2d
TESTS += tests/ops/test_adaptive_pool2d
check_PROGRAMS += tests/ops/test_maxpool2d_general
TESTS += tests/ops/test_maxpool2d_general
# PyTorch parity of the ops above, through tests/parity/op_check (skipped without torch)
TESTS += tests/parity/test_norm_torch.py
EXTRA_DIST += tests/parity/test_norm_torch.py
# conv2d (grouped, non-square) -> batchnorm2d -> avgpool2d autodiffed, planned and run
check_PROGRAMS += tests/graph/test_norm_graph
TESTS += tests/graph/test_norm_graph
