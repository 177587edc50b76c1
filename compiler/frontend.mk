# compiler/frontend.mk: lexer, parser, AST, diagnostics and checker, with their tests.
libcnnfront_a_SOURCES += \
	compiler/lexer.l compiler/parser.y \
	compiler/ast.c compiler/ast.h \
	compiler/diag.c compiler/diag.h \
	compiler/eval.c compiler/eval.h \
	compiler/builtins.c compiler/builtins.h \
	compiler/transform_calls.c compiler/transform_calls.h \
	compiler/layers.c compiler/layers.h compiler/module.h \
	compiler/model.c compiler/forward.c \
	compiler/check.c compiler/check.h
# the lexer includes the parser's token header: generate it first
BUILT_SOURCES += compiler/parser.h
# configure's YACC is `bison -y`; parser.y is written for bison (3.6 or later)
AM_YFLAGS += -Wno-yacc

# golden tests of the parser and checker (tests/parse/run_golden.sh says how they work)
check_PROGRAMS += tests/parse/check_driver
tests_parse_check_driver_SOURCES = tests/parse/check_driver.c
TESTS += tests/parse/run_golden.sh tests/parse/test_graph_outputs.sh
EXTRA_DIST += tests/parse/run_golden.sh tests/parse/test_graph_outputs.sh tests/parse/valid tests/parse/errors tests/parse/models
