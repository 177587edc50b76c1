#!/bin/sh
# tests/valgrind.sh PROGRAM [ARGS]: runs PROGRAM under valgrind's memcheck, failing (exit 99)
# on any memory error and on any leak (definite, indirect or possible). `make check-valgrind`
# uses it as the test programs' LOG_COMPILER and, through the tests/vg-cnnc wrapper it
# writes, for every cnnc the shell tests run.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
# cnnc starts itself again to set OpenMP's wait policy unless one is set: valgrind would not
# follow that exec, so the policy is set here
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_WAIT_POLICY
exec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --suppressions="$top_srcdir/tests/valgrind.supp" "$@"
