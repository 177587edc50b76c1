# compiler/frontend/frontend.mk: lexer, parser, AST, diagnostics and checker, with their tests.
libcnnfront_a_SOURCES += \
	compiler/frontend/lexer.l compiler/frontend/parser.y \
	compiler/frontend/ast.c compiler/frontend/ast.h \
	compiler/frontend/diag.c compiler/frontend/diag.h \
	compiler/frontend/eval.c compiler/frontend/eval.h \
	compiler/frontend/builtins.c compiler/frontend/builtins.h \
	compiler/frontend/schedulers.c compiler/frontend/schedulers.h \
	compiler/frontend/transform_calls.c compiler/frontend/transform_calls.h \
	compiler/frontend/training_calls.c compiler/frontend/training_calls.h \
	compiler/frontend/layers.c compiler/frontend/layers.h compiler/frontend/module.h \
	compiler/frontend/model.c compiler/frontend/forward.c \
	compiler/frontend/check.c compiler/frontend/check.h
# the lexer includes the parser's token header: generate it first
BUILT_SOURCES += compiler/frontend/parser.h
# configure's YACC is `bison -y`; parser.y is written for bison (3.6 or later)
AM_YFLAGS += -Wno-yacc

# golden tests of the parser and checker (tests/parse/run_golden.sh says how they work)
check_PROGRAMS += tests/parse/check_driver
tests_parse_check_driver_SOURCES = tests/parse/check_driver.c
TESTS += tests/parse/run_golden.sh tests/parse/test_graph_outputs.sh
EXTRA_DIST += tests/parse/run_golden.sh tests/parse/test_graph_outputs.sh tests/parse/valid tests/parse/errors tests/parse/models
