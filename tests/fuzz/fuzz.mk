# tests/fuzz/fuzz.mk: libFuzzer harnesses (tests/fuzz/fuzz_*.c) for the .cnn front end, model
# files and checkpoints, image decoding and the MNIST IDX reader.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_SEED=0] [FUZZ_HARNESSES="cnn model image idx"]
# builds them with clang -fsanitize=fuzzer,address,undefined in fuzz-obj/ (apart from the
# normal build) and runs each for FUZZ_SECONDS, starting from tests/fuzz/corpus/<harness>/;
# new inputs go to fuzz-work/<harness>/, crashes to fuzz-crashes/. A crash, once fixed,
# is kept in tests/fuzz/regressions/<harness>/ and replayed by `make check`.
# FUZZ_SEED=0 (the default) draws a fresh random seed each run, for exploring; CI passes a
# fixed one so that its result does not depend on luck (Debian's stb 2.27 still has bugs a
# random run can stumble on; they are not cnnc's to fix, see tests/fuzz/README.md).

# the replays: each harness with a main() that runs it on the regressions and the seeds
FUZZ_REPLAYS = tests/fuzz/replay_cnn tests/fuzz/replay_model tests/fuzz/replay_image tests/fuzz/replay_idx
check_PROGRAMS += $(FUZZ_REPLAYS)
tests_fuzz_replay_cnn_SOURCES = tests/fuzz/fuzz_cnn.c tests/fuzz/replay.c
tests_fuzz_replay_model_SOURCES = tests/fuzz/fuzz_model.c tests/fuzz/replay.c
tests_fuzz_replay_image_SOURCES = tests/fuzz/fuzz_image.c tests/fuzz/replay.c
tests_fuzz_replay_idx_SOURCES = tests/fuzz/fuzz_idx.c tests/fuzz/replay.c
TESTS += tests/fuzz/test_replay.sh
EXTRA_DIST += tests/fuzz/test_replay.sh tests/fuzz/stb_image_impl.c tests/fuzz/cnn.dict \
	tests/fuzz/corpus tests/fuzz/regressions tests/fuzz/README.md

FUZZ_SECONDS = 60
FUZZ_SEED = 0
FUZZ_HARNESSES = cnn model image idx
FUZZ_CC = clang
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fopenmp -std=c11 -D_DEFAULT_SOURCE -I$(abs_top_srcdir) -I$(abs_top_builddir) $(OPENBLAS_CFLAGS) $(STB_CFLAGS) $(MPI_CFLAGS) \
	$(PROTOBUF_C_CFLAGS)
FUZZ_LIBS = $(libcnnrt_a_SOURCES) $(libcnnfront_a_SOURCES)
# Some of UBSan's checks are off for stb_image alone, for bugs of Debian's stb 2.27 that
# cnnc cannot guard against from outside and that corrupt no memory (AddressSanitizer and
# valgrind stay clean on them; both are fixed upstream in 2.28):
#   pointer-overflow, nonnull-attribute: `NULL + 0` and `memcpy(NULL, src, 0)` on a PNG
#          whose first IDAT chunk is empty
#   shift: the JPEG bit reader's count goes negative on corrupt entropy-coded data, and
#          `b << (24 - code_bits)` shifts by more than 31 (garbage pixels, then an error)
#   signed-integer-overflow: stbi__jpeg_decode_block multiplies a corrupt coefficient by
#          its dequantisation factor in int (garbage pixels; found by CI's fuzz run)
# tests/fuzz/regressions/image/ keeps one input of each, replayed by make check.
FUZZ_STB_FLAGS = -fno-sanitize=pointer-overflow,nonnull-attribute,shift,signed-integer-overflow
FUZZ_GENERATED = compiler/frontend/lexer.c compiler/frontend/parser.c $(FUZZ_ONNX)

fuzz-obj/stamp: $(FUZZ_LIBS) $(FUZZ_GENERATED) $(srcdir)/tests/fuzz/stb_image_impl.c $(srcdir)/tests/fuzz/fuzz_cnn.c \
		$(srcdir)/tests/fuzz/fuzz_model.c $(srcdir)/tests/fuzz/fuzz_image.c $(srcdir)/tests/fuzz/fuzz_idx.c
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs clang with libFuzzer and OpenMP: apt-get install clang libclang-rt-14-dev libomp-14-dev" >&2; exit 1; }
	@echo "  CLANG    fuzz-obj/ (the runtime and front end with -fsanitize=fuzzer-no-link,address,undefined)"
	@rm -rf fuzz-obj && mkdir -p fuzz-obj
	@srcs=; for f in $(FUZZ_LIBS); do case $$f in *.c) srcs="$$srcs $(abs_top_srcdir)/$$f";; esac; done; \
	for f in $(FUZZ_GENERATED); do srcs="$$srcs $(abs_top_builddir)/$$f"; done; \
	cd fuzz-obj && $(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $$srcs && \
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_STB_FLAGS) -c $(abs_top_srcdir)/tests/fuzz/stb_image_impl.c
	@for h in cnn model image idx; do \
		echo "  CLANG    fuzz-obj/fuzz_$$h"; \
		$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(srcdir)/tests/fuzz/fuzz_$$h.c fuzz-obj/*.o \
			$(OPENBLAS_LIBS) $(MPI_LIBS) $(PROTOBUF_C_LIBS) $(LIBS) -lm -lpthread -o fuzz-obj/fuzz_$$h || exit 1; \
	done
	@touch $@

.PHONY: fuzz
fuzz: fuzz-obj/stamp
	@rc=0; for h in $(FUZZ_HARNESSES); do \
		mkdir -p fuzz-work/$$h fuzz-crashes; \
		extra=; dict=; \
		case $$h in cnn) extra="$(srcdir)/tests/parse/errors $(srcdir)/models"; dict=-dict=$(srcdir)/tests/fuzz/cnn.dict;; esac; \
		echo "== fuzz_$$h for $(FUZZ_SECONDS) s (log: fuzz-work/$$h.log)"; \
		if fuzz-obj/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=fuzz-crashes/$$h- $$dict fuzz-work/$$h $(srcdir)/tests/fuzz/corpus/$$h $$extra \
			>fuzz-work/$$h.log 2>&1; then \
			sed -n 's/^stat::number_of_executed_units: */  executions: /p; s/^stat::peak_rss_mb: */  peak RSS MB: /p' fuzz-work/$$h.log; \
			echo "  corpus: $$(ls fuzz-work/$$h | wc -l) new inputs; no crash"; \
		else \
			rc=1; grep -E -A30 '^==[0-9]+==ERROR|runtime error|^SUMMARY' fuzz-work/$$h.log | head -60; \
			echo "FAIL: fuzz_$$h crashed: the input is in fuzz-crashes/ (replay: fuzz-obj/fuzz_$$h FILE)"; \
		fi; \
	done; exit $$rc

clean-local: clean-fuzz
.PHONY: clean-fuzz
clean-fuzz:
	rm -rf fuzz-obj fuzz-work fuzz-crashes
