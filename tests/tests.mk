# tests/tests.mk: tests of the core (autodiff, memory plan, executor) and end to end.
check_PROGRAMS += tests/graph/test_autodiff tests/graph/test_plan tests/graph/test_fuse tests/graph/test_alloc \
	tests/graph/test_parallel
TESTS += tests/graph/test_autodiff tests/graph/test_plan tests/graph/test_fuse tests/graph/test_alloc \
	tests/graph/test_parallel
tests_graph_test_alloc_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
EXTRA_DIST += tests/graph/sea_program.h tests/test.h tests/notebook_model.py
# a graph with branches: residual adds, cat, values read twice (issue 13)
check_PROGRAMS += tests/graph/test_residual
TESTS += tests/graph/test_residual
# training-time fusion: batchnorm2d_relu, add_relu (compiler/passes/fuse.c)
check_PROGRAMS += tests/graph/test_fuse_training
TESTS += tests/graph/test_fuse_training
# a value's two gradients summed by the convolution's input gradient (fuse_backward_graph)
check_PROGRAMS += tests/graph/test_fuse_backward
TESTS += tests/graph/test_fuse_backward
check_PROGRAMS += tests/checkpoint/test_history tests/checkpoint/test_modelfile
TESTS += tests/checkpoint/test_history tests/checkpoint/test_modelfile
TESTS += tests/e2e/test_pad_pair.sh tests/e2e/test_train.sh tests/e2e/test_memory.sh tests/checkpoint/test_checkpoint.sh tests/e2e/test_finetune.sh
TESTS += tests/checkpoint/test_safe_runs.sh tests/checkpoint/test_full_disk.sh tests/e2e/test_schedule.sh
EXTRA_DIST += tests/e2e/test_schedule.sh tests/e2e/test_pad_pair.sh
TESTS += tests/checkpoint/test_resume_optim.sh
EXTRA_DIST += tests/checkpoint/test_resume_optim.sh
EXTRA_DIST += tests/checkpoint/test_checkpoint.sh tests/checkpoint/tiny.cnn tests/e2e/test_memory.sh
EXTRA_DIST += tests/checkpoint/test_safe_runs.sh tests/checkpoint/test_full_disk.sh
EXTRA_DIST += tests/e2e/test_train.sh tests/e2e/test_finetune.sh tests/lib.sh
check_PROGRAMS += tests/parity/parity_dump
TESTS += tests/parity/test_parity.py
EXTRA_DIST += tests/parity/test_parity.py
# optimizers, loss options, parameter groups and gradient clipping against torch.optim (issue 14)
TESTS += tests/parity/test_optim_torch.py
EXTRA_DIST += tests/parity/test_optim_torch.py tests/parity/tally.py
# one op at a time against torch.nn.functional (the case list is in the .py)
check_PROGRAMS += tests/parity/op_check
# the learning-rate schedulers against torch.optim.lr_scheduler, over whole runs
check_PROGRAMS += tests/parity/lr_schedule
TESTS += tests/parity/test_lr_schedulers.py tests/parity/test_schedule_steps_torch.py
EXTRA_DIST += tests/parity/test_lr_schedulers.py tests/parity/test_schedule_steps_torch.py
TESTS += tests/parity/test_ops_torch.py
EXTRA_DIST += tests/parity/test_ops_torch.py
# the zoo (models/*.cnn): the files read as PyTorch against torchvision; compiled by cnnc,
# against torchvision (keys both ways, --predict) and PyTorch (3 Adam steps of fashion_resnet)
TESTS += tests/parity/test_zoo_torch.py tests/parity/test_zoo_keys.py tests/parity/test_parity_zoo.py
EXTRA_DIST += tests/parity/test_zoo_torch.py tests/parity/test_zoo_keys.py tests/parity/test_parity_zoo.py \
	tests/parity/cnn_torch.py

# `make bench`: cnnc against PyTorch, side by side (bench/bench.py); not a test
EXTRA_PROGRAMS = bench/bench_cnnc
EXTRA_DIST += bench/bench.py bench/bench_opencv.py bench/bench_torch.py bench/notebook_train.py bench/torch_models.py \
	bench/fashion_train.py bench/torch_loop.py bench/bench_clock.h
CLEANFILES += bench/bench_cnnc
bench: bench/bench_cnnc$(EXEEXT) cnnc$(EXEEXT) examples/make_sea_data$(EXEEXT) tests/parity/parity_dump$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' /usr/bin/python3 $(srcdir)/bench/bench.py
.PHONY: bench
# `make bench-depthwise`: the depthwise kernels against the general one on one core, CPU time
# (bench/bench_depthwise.c)
EXTRA_PROGRAMS += bench/bench_depthwise
CLEANFILES += bench/bench_depthwise
bench-depthwise: bench/bench_depthwise$(EXEEXT)
	bench/bench_depthwise$(EXEEXT) 8 32 112 112 3 1 1 10 1 && bench/bench_depthwise$(EXEEXT) 8 32 112 112 3 2 1 10 1
.PHONY: bench-depthwise
# `make bench-winograd`: F(4x4,3x3) against F(2x2,3x3) on fashion_resnet's 3x3 layers, one
# core, CPU time (bench/bench_winograd.c)
EXTRA_PROGRAMS += bench/bench_winograd
CLEANFILES += bench/bench_winograd
bench-winograd: bench/bench_winograd$(EXEEXT)
	bench/bench_winograd$(EXEEXT)
.PHONY: bench-winograd
# `make bench-int8-peak`: one core's float FMA against its int16 and u8 x s8 multiply-adds,
# the ceiling of int8 code against float (bench/bench_int8_peak.c)
EXTRA_PROGRAMS += bench/bench_int8_peak
CLEANFILES += bench/bench_int8_peak
bench_bench_int8_peak_LDADD =
bench-int8-peak: bench/bench_int8_peak$(EXEEXT)
	bench/bench_int8_peak$(EXEEXT)
.PHONY: bench-int8-peak

# --export-onnx (issue 15): every shipped model's export against onnx's checker and OpenCV's
# DNN module (onnx_ref: what --predict computes, in full precision); skips without ONNX
check_PROGRAMS += tests/backends/onnx_ref
TESTS += tests/backends/test_onnx_export.py
EXTRA_DIST += tests/backends/test_onnx_export.py tests/backends/onnx_ops.cnn

# one case per error message a user can cause (tests/errors/run_errors.sh says how)
TESTS += tests/errors/run_errors.sh
EXTRA_DIST += tests/errors
# --emit-c (issue 15): every shipped model's generated C against the runtime (emit_ref)
check_PROGRAMS += tests/backends/emit_ref
TESTS += tests/backends/test_emit_c.sh tests/backends/test_emit_c_int8.sh tests/backends/test_emit_c_preprocess.sh
EXTRA_DIST += tests/backends/test_emit_c.sh tests/backends/test_emit_c_int8.sh tests/backends/test_emit_c_preprocess.sh
EXTRA_DIST += tests/backends/preprocess_torch.py tests/backends/emit_main.c tests/backends/emit_shapes.cnn tests/backends/emit_int8_wide.cnn tests/backends/emit_wino.cnn tests/backends/emit_pool.cnn tests/backends/emit_rows.cnn tests/backends/emit_kernels.c examples/embed/classify.c examples/embed/Makefile
