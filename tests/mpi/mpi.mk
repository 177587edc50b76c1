# tests/mpi/: data-parallel training under mpirun (skipped without MPI or mpirun); the
# valgrind subsets leave them out (VG_SHELL_TESTS does not name them).
TESTS += tests/mpi/test_mpi_same.sh tests/mpi/test_mpi_kill.sh
EXTRA_DIST += tests/mpi/test_mpi_same.sh tests/mpi/test_mpi_kill.sh tests/mpi/lib_mpi.sh tests/mpi/compare.py \
	tests/mpi/tiny_bn.cnn
