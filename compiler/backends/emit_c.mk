# compiler/backends/emit_c.mk: --emit-c, the standalone C back end (compiler/backends/emit_c.h)
libcnnfront_a_SOURCES += compiler/backends/emit_c.c compiler/backends/emit_c_kernels.c compiler/backends/emit_c_preprocess.c compiler/backends/emit_c.h
libcnnfront_a_SOURCES += compiler/backends/emit_c_conv.c compiler/backends/emit_c_wino.c
# `make bench-emit-c`: the generated code against the runtime (bench/emit_c.sh); not a test
EXTRA_DIST += bench/emit_c.sh bench/emit_c_time.c bench/emit_c_mnist.c bench/emit_c_layers.c
bench-emit-c: bench/bench_cnnc$(EXEEXT) cnnc$(EXEEXT) tests/parity/parity_dump$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/bench/emit_c.sh
.PHONY: bench-emit-c
