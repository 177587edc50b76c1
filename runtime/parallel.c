/* runtime/parallel.c: threads and the split GEMM (see parallel.h). */
#include "parallel.h"

#include <omp.h>
#include <unistd.h>

void par_set_threads(int n)
{
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
}

int par_threads(void) { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

/* below this many multiply-adds a GEMM is not worth splitting */
#define SPLIT_MIN_FLOPS 200000.0

void par_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    int T = par_threads();
    if (T <= 1 || (double)M * N * K < SPLIT_MIN_FLOPS || (M < 2 * T && N < 2 * T)) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int split_n = N >= M;
    int len = split_n ? N : M;
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int lo = (int)((long)len * t / nt), hi = (int)((long)len * (t + 1) / nt);
        if (hi > lo) {
            if (split_n) {
                const float *b = tb == CblasNoTrans ? B + lo : B + (size_t)lo * ldb;
                cblas_sgemm(CblasRowMajor, ta, tb, M, hi - lo, K, alpha, A, lda, b, ldb, beta, C + lo, ldc);
            } else {
                const float *a = ta == CblasNoTrans ? A + (size_t)lo * lda : A + lo;
                cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta,
                            C + (size_t)lo * ldc, ldc);
            }
        }
    }
}
