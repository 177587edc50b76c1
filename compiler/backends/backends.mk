# compiler/backends/backends.mk: the back ends that write a trained model for other programs.
# --export-onnx (onnx_export.c) is built when configure found protobuf-c and onnx.proto; its
# protobuf-c code is generated from that onnx.proto into the build tree (never committed).
EXTRA_DIST += compiler/backends/onnx_export.c compiler/backends/onnx_export.h
if HAVE_ONNX
libcnnfront_a_SOURCES += compiler/backends/onnx_export.c compiler/backends/onnx_export.h
nodist_libcnnfront_a_SOURCES = compiler/backends/onnx.pb-c.c compiler/backends/onnx.pb-c.h
BUILT_SOURCES += compiler/backends/onnx.pb-c.h
CLEANFILES += compiler/backends/onnx.pb-c.c compiler/backends/onnx.pb-c.h compiler/backends/onnx.proto
AM_CPPFLAGS += $(PROTOBUF_C_CFLAGS)
LDADD += $(PROTOBUF_C_LIBS)
FUZZ_ONNX = compiler/backends/onnx.pb-c.c
compiler/backends/onnx.pb-c.h: compiler/backends/onnx.pb-c.c
compiler/backends/onnx.pb-c.c: $(ONNX_PROTO)
	$(AM_V_GEN)$(MKDIR_P) compiler/backends && cp '$(ONNX_PROTO)' compiler/backends/onnx.proto && \
	$(PROTOC_C) --proto_path=compiler/backends --c_out=compiler/backends compiler/backends/onnx.proto
else
FUZZ_ONNX =
endif
