# compiler/frontend.mk: lexer, parser, AST, diagnostics and checker, with their tests.
libcnnfront_a_SOURCES += \
	compiler/lexer.l compiler/parser.y \
	compiler/ast.c compiler/ast.h \
	compiler/diag.c compiler/diag.h \
	compiler/check.c compiler/check.h
