/* runtime/parallel.h: how the runtime uses the cores. OpenBLAS always runs single-threaded;
 * the runtime splits work itself: whole images of a batch across threads, or a GEMM's
 * output columns or rows across threads. One pool of threads, never two fighting over the
 * cores. Work is split statically, so results depend only on the thread count.
 *
 * Kernels hand their parallel work to par_run. Outside a graph run that is an OpenMP
 * parallel region. Inside exec_run (par_team) the threads stay together for the whole run:
 * thread 0 walks the nodes and the others take each par_run's work as it comes, spinning
 * for a short while between two (a parallel region would put them to sleep after each
 * kernel, and waking a thread costs 50-110 us on this kind of VM), then sleeping. Shares
 * are claimed, not assigned, so a thread slow to wake or preempted delays only its own. */
#ifndef CN_PARALLEL_H
#define CN_PARALLEL_H

#include <cblas.h>
#include <stddef.h>

void par_set_threads(int n);    /* n <= 0: every core */
/* the threads a kernel called here may use: 1 inside par_run's work */
int  par_threads(void);

/* fn(ctx, t, T) for every share t = 0 .. T-1, each once, across the threads, returning
 * when all are done. Shares may run in any order and several on one thread, so none may
 * wait for another; the split, and so the result, depends on T only. Inside a share, or
 * with T <= 1, they run on the calling thread in order. */
typedef void (*ParFn)(void *ctx, int t, int T);
void par_run(int T, ParFn fn, void *ctx);
/* The share of the outermost par_run this thread is running, or -1 outside one: shares,
 * not threads, own scratch memory (op_scratch), so which thread runs which share from one
 * step to the next changes nothing about allocation. */
int par_share(void);
/* [lo, hi) of share t's part of n items out of T */
static inline size_t par_lo(size_t n, int t, int T) { return n * (size_t)t / (size_t)T; }

/* Runs body(arg) on this thread with the other threads kept as a team for its par_runs
 * (exec_run); just body(arg) with one thread. */
void par_team(void (*body)(void *), void *arg);

/* cblas_sgemm (row-major), split across the threads along N (or M when that is larger);
 * inside par_run's work it runs on the calling thread alone. */
void par_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
