# tests/mpi/: data-parallel training under mpirun (skipped without MPI or mpirun); the
# valgrind subsets leave them out (VG_SHELL_TESTS does not name them).
TESTS += tests/mpi/test_mpi_same.sh tests/mpi/test_mpi_kill.sh
EXTRA_DIST += tests/mpi/test_mpi_same.sh tests/mpi/test_mpi_kill.sh tests/mpi/lib_mpi.sh tests/mpi/compare.py tests/mpi/fashion_subset.py \
	tests/mpi/tiny_bn.cnn

# `make bench-mpi`: 1 process x 2 threads against 2 processes x 1 thread, the overlap, and the
# scaling model (bench/bench_mpi.sh); not a test
EXTRA_DIST += bench/bench_mpi.sh
bench-mpi: cnnc$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/bench/bench_mpi.sh
.PHONY: bench-mpi
