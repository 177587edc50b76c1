/* runtime/ops/wino_gemm16.c: the Winograd convolutions' products M = U @ V in 16-lane AVX-512
 * registers, where the CPU has AVX-512 (conv2d_winograd.c and conv2d_winograd4.c, forward and
 * input gradient; their own 8-lane loops take the columns this leaves, and every column on
 * other CPUs). The sums are those of the 8-lane loops, term by term in the same order with the
 * same fused multiply-adds: only more of them are in flight (8 rows x 48 columns of M, 24
 * registers, against 4 x 24 in the 16 AVX2 registers). On an AVX-512 Xeon a core does about
 * twice the multiply-adds a second with 16 lanes as with 8 (230 against 123 GFLOP/s). */
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE 1

/* M rows o0 .. o0+R, columns [t, t + 16 NV) = U (O x C) @ V (C x ld) */
static inline __attribute__((always_inline)) void tile16(float *M, const float *U, const float *V, int C, size_t ld,
                                                         int o0, size_t t, int R, int NV)
{
    vf acc[8][3];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int k = 0; k < NV; k++) acc[r][k] = (vf){ 0 };
    const float *u = U + (size_t)o0 * C;
    for (int c = 0; c < C; c++) {
        vf v[3];
#pragma GCC unroll 3
        for (int k = 0; k < NV; k++) LOAD(v[k], V + (size_t)c * ld + t + (size_t)k * VL);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            float s = u[(size_t)r * C + c];
#pragma GCC unroll 3
            for (int k = 0; k < NV; k++) acc[r][k] += s * v[k];
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int k = 0; k < NV; k++) memcpy(M + (size_t)(o0 + r) * ld + t + (size_t)k * VL, &acc[r][k], sizeof acc[r][k]);
}

static inline __attribute__((always_inline)) void cols16(float *M, const float *U, const float *V, int O, int C,
                                                         size_t ld, size_t t, int NV)
{
    int o = 0;
    for (; o + 8 <= O; o += 8) tile16(M, U, V, C, ld, o, t, 8, NV);
    for (; o + 4 <= O; o += 4) tile16(M, U, V, C, ld, o, t, 4, NV);
    for (; o < O; o++) tile16(M, U, V, C, ld, o, t, 1, NV);
}

__attribute__((target("arch=x86-64-v4"))) CN_CONTRACT
static size_t gemm16(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t cols)
{
    size_t t = 0;
    for (; t + 3 * VL <= cols; t += 3 * VL) cols16(M, U, V, O, C, ld, t, 3);
    if (t + 2 * VL <= cols) {
        cols16(M, U, V, O, C, ld, t, 2);
        t += 2 * VL;
    } else if (t + VL <= cols) {
        cols16(M, U, V, O, C, ld, t, 1);
        t += VL;
    }
    return t;
}
#endif

size_t wino_gemm16(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t cols)
{
#ifdef WIDE
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return gemm16(M, U, V, O, C, ld, cols);
#else
    (void)M, (void)U, (void)V, (void)O, (void)C, (void)ld, (void)cols;
#endif
    return 0;
}
