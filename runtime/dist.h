/* runtime/dist.h: the processes of a data-parallel run (MPI when cnnc is built with it and
 * started by mpirun; otherwise one process, and every call below is a no-op). Sums are cnnc's
 * own, in an order fixed by N (floats: a ring over point-to-point messages; doubles: in rank
 * order over gathered copies), so a run on N processes is bit-identical to another on N and
 * every rank gets the same bits, whatever algorithms MPI picks: MPI only moves bytes. */
#ifndef CN_DIST_H
#define CN_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Joins the run when started by mpirun (MPI_Init_thread); returns -1 when MPI fails to start. */
int  dist_init(int *argc, char ***argv);
void dist_finalize(void);
int  dist_rank(void);           /* 0 .. dist_size() - 1; 0 alone */
int  dist_size(void);           /* processes in the run; 1 without mpirun */
int  dist_local_size(void);     /* processes of the run on this machine */
int  dist_active(void);         /* whether mpirun started this process (even as the only one) */
/* Says "cnnc: rank R of N: msg" on stderr and ends every process of the run with code. */
_Noreturn void dist_abort(int code, const char *msg);
void dist_barrier(void);

/* A sum of floats over the ranks in progress (a ring allreduce: each rank sends and receives
 * 2(N-1)/N of the floats): buf (n floats) must be left alone until dist_sum_wait, which
 * leaves the ranks' sum in it and frees the handle. dist_sum_test moves it on while the
 * caller computes. Every rank starts its sums in the same order. NULL with one process (buf
 * is already the sum). */
typedef struct DistSum DistSum;
DistSum *dist_sum_start(float *buf, size_t n);
void     dist_sum_test(DistSum *s);
void     dist_sum_wait(DistSum *s);

/* Blocking sums over the ranks: doubles in rank order, integers exactly. */
void dist_sum_f64(double *buf, size_t n);
void dist_sum_i64(int64_t *buf, size_t n);

#endif
