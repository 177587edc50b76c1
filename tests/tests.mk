# tests/tests.mk: tests of the core (autodiff, memory plan, executor) and end to end.
check_PROGRAMS += tests/graph/test_autodiff tests/graph/test_plan tests/graph/test_fuse
TESTS += tests/graph/test_autodiff tests/graph/test_plan tests/graph/test_fuse
EXTRA_DIST += tests/graph/sea_program.h tests/test.h
TESTS += tests/e2e/test_train.sh
EXTRA_DIST += tests/e2e/test_train.sh
check_PROGRAMS += tests/parity/parity_dump
TESTS += tests/parity/test_parity.py
EXTRA_DIST += tests/parity/test_parity.py
