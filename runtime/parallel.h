/* runtime/parallel.h: how the runtime uses the cores. OpenBLAS always runs single-threaded;
 * the runtime splits work itself (OpenMP): whole images of a batch across threads, or a
 * GEMM's output columns or rows across threads. One pool of threads, never two fighting
 * over the cores. Work is split statically, so results depend only on the thread count. */
#ifndef CN_PARALLEL_H
#define CN_PARALLEL_H

#include <cblas.h>
#include <stddef.h>

void par_set_threads(int n);    /* n <= 0: every core */
int  par_threads(void);

/* cblas_sgemm (row-major), split across the threads along N (or M when that is larger);
 * inside an already parallel region it runs on the calling thread alone. */
void par_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
