# compiler/driver/outputs.mk: what users look at besides the log: --summary, --report (HTML), --apply
# (images), PNG writing, the man page; their tests.
libcnnrt_a_SOURCES += runtime/png.c runtime/png.h
libcnnfront_a_SOURCES += \
	compiler/driver/apply.c compiler/driver/apply.h \
	compiler/driver/report.c compiler/driver/report.h

man_MANS = doc/cnnc.1
EXTRA_DIST += doc/cnnc.1 examples/sobel.cnn examples/editors

check_PROGRAMS += tests/outputs/test_sobel tests/outputs/png_stats
TESTS += tests/outputs/test_sobel tests/outputs/test_cli.sh tests/outputs/test_summary.sh \
	tests/outputs/test_report.sh tests/outputs/test_progress.sh tests/outputs/test_vim.sh
EXTRA_DIST += tests/outputs/test_cli.sh tests/outputs/test_summary.sh tests/outputs/test_report.sh \
	tests/outputs/test_progress.sh tests/outputs/test_vim.sh tests/outputs/report_check.js
