# compiler/backends/emit_c.mk: --emit-c, the standalone C back end (compiler/backends/emit_c.h)
libcnnfront_a_SOURCES += compiler/backends/emit_c.c compiler/backends/emit_c_kernels.c compiler/backends/emit_c.h
