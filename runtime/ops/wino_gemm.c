/* runtime/ops/wino_gemm.c: the Winograd convolutions' products, M = U @ V at each point of the
 * transform (conv2d_winograd.c's F(2x2,3x3) and conv2d_winograd4.c's F(4x4,3x3), forward and
 * input gradient): M (O x cols) = U (O x C) @ V (C x cols), each element's sum over c in
 * order with fused multiply-adds, a tile of M in registers. Where the CPU has AVX-512 the
 * columns go 16 to a register (8 rows x 48 columns or 6 x 64: 24 of the 32 registers, a last
 * half vector where the columns end at a multiple of 8; on an AVX-512 Xeon a core does about
 * twice the multiply-adds a second with 16 lanes as with 8, 230 against 123 GFLOP/s), else 8
 * to a register (4 rows x 24 columns: 12 of the 16 AVX2 registers); both give the same sums.
 * OpenBLAS's sgemm on these shapes (ld <= 512 columns, packing both operands for each) took
 * 1.3-2.5x as long on every layer of fashion_resnet and resnet18 (one thread, AMD EPYC with
 * AVX2, 2026-12-03). */
#include "kernels.h"

/* The tile of M (rows o0 .. o0+R, columns [t, t + NV vectors)) with vectors of type T, n
 * lanes each, loaded by LD(v, p, half) and stored by ST(p, v, half): R x NV sums in registers
 * (R, NV, HALF constants once inlined); HALF: the last vector's columns are only its first
 * half (read into zeroed lanes, those alone stored) */
#define TILE(T, n, LD, ST)                                                                                \
    {                                                                                                     \
        T acc[8][4];                                                                                      \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                               \
            _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++) acc[r][k] = (T){ 0 };                    \
        const float *u = U + (size_t)o0 * C;                                                              \
        for (int c = 0; c < C; c++) {                                                                     \
            T v[4];                                                                                       \
            _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)                                          \
                LD(v[k], V + (size_t)c * ld + t + (size_t)k * (n), HALF && k == NV - 1);                  \
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                         \
                float s = u[(size_t)r * C + c];                                                           \
                _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++) acc[r][k] += s * v[k];               \
            }                                                                                             \
        }                                                                                                 \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                               \
            _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)                                          \
                ST(M + (size_t)(o0 + r) * ld + t + (size_t)k * (n), acc[r][k], HALF && k == NV - 1);      \
    }
#define LD8(v, p, half) memcpy(&(v), (p), sizeof(v))
#define ST8(p, v, half) memcpy((p), &(v), sizeof(v))
/* 16 lanes, or 8 into the low half */
#define LD16(v, p, half)                                                                                  \
    do {                                                                                                  \
        if (half) {                                                                                       \
            vf8 h_;                                                                                       \
            memcpy(&h_, (p), sizeof h_);                                                                  \
            (v) = __builtin_shufflevector(h_, (vf8){ 0 }, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); \
        } else                                                                                            \
            memcpy(&(v), (p), sizeof(v));                                                                 \
    } while (0)
#define ST16(p, v, half)                                                                                  \
    do {                                                                                                  \
        if (half) {                                                                                       \
            vf8 l_ = __builtin_shufflevector((v), (v), 0, 1, 2, 3, 4, 5, 6, 7);                           \
            memcpy((p), &l_, sizeof l_);                                                                  \
        } else                                                                                            \
            memcpy((p), &(v), sizeof(v));                                                                 \
    } while (0)

static inline __attribute__((always_inline)) void tile8(float *M, const float *U, const float *V, int C, size_t ld,
                                                        int o0, size_t t, int R, int NV)
{
    enum { HALF = 0 };
    TILE(vf8, VL8, LD8, ST8)
}

/* columns [t, t + 8 NV) of every row: four rows at a time */
static inline __attribute__((always_inline)) void cols8(float *M, const float *U, const float *V, int O, int C,
                                                        size_t ld, size_t t, int NV)
{
    int o = 0;
    for (; o + 4 <= O; o += 4) tile8(M, U, V, C, ld, o, t, 4, NV);
    for (; o < O; o++) tile8(M, U, V, C, ld, o, t, 1, NV);
}

/* every column (a multiple of 8): 24 at a time, then 16 or 8 */
CN_MULTIVERSION CN_CONTRACT
static void gemm8(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t cols)
{
    size_t t = 0;
    for (; t + 3 * VL8 <= cols; t += 3 * VL8) cols8(M, U, V, O, C, ld, t, 3);
    if (t + 2 * VL8 <= cols) cols8(M, U, V, O, C, ld, t, 2);
    else if (t < cols) cols8(M, U, V, O, C, ld, t, 1);
}

#ifdef CN_WINO_WIDE

static inline __attribute__((always_inline)) void tile16(float *M, const float *U, const float *V, int C, size_t ld,
                                                         int o0, size_t t, int R, int NV, int HALF)
TILE(vf, VL, LD16, ST16)

/* columns [t, t + 16 NV) of every row (the last vector's first half alone where HALF): eight
 * rows at a time, six for 4 vectors (24 sums either way) */
static inline __attribute__((always_inline)) void cols16(float *M, const float *U, const float *V, int O, int C,
                                                         size_t ld, size_t t, int NV, int HALF)
{
    int o = 0, R = NV == 4 ? 6 : 8;
    for (; o + R <= O; o += R) tile16(M, U, V, C, ld, o, t, R, NV, HALF);
    for (; o + 4 <= O; o += 4) tile16(M, U, V, C, ld, o, t, 4, NV, HALF);
    for (; o < O; o++) tile16(M, U, V, C, ld, o, t, 1, NV, HALF);
}

/* every column: 48 at a time while more than 64 are left, then the rest in one pass (each
 * pass reads all of U: a layer's U can outgrow the cache at one image) */
__attribute__((target("arch=x86-64-v4"))) CN_CONTRACT
static void gemm16(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t cols)
{
    size_t t = 0;
    for (; cols - t > 4 * VL; t += 3 * VL) cols16(M, U, V, O, C, ld, t, 3, 0);
    switch ((cols - t) / VL8) {    /* 1 .. 8 half vectors left */
    case 8: cols16(M, U, V, O, C, ld, t, 4, 0); break;
    case 7: cols16(M, U, V, O, C, ld, t, 4, 1); break;
    case 6: cols16(M, U, V, O, C, ld, t, 3, 0); break;
    case 5: cols16(M, U, V, O, C, ld, t, 3, 1); break;
    case 4: cols16(M, U, V, O, C, ld, t, 2, 0); break;
    case 3: cols16(M, U, V, O, C, ld, t, 2, 1); break;
    case 2: cols16(M, U, V, O, C, ld, t, 1, 0); break;
    case 1: cols16(M, U, V, O, C, ld, t, 1, 1); break;
    default: break;
    }
}
#endif

static int wide_allowed = 1;

void wino_gemm_wide(int on) { wide_allowed = on; }

int wino_wide(void)
{
#ifdef CN_WINO_WIDE
    /* four loads of what libgcc read from cpuid at start-up */
    return wide_allowed && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

void wino_gemm(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t cols)
{
#ifdef CN_WINO_WIDE
    if (wino_wide()) {
        gemm16(M, U, V, O, C, ld, cols);
        return;
    }
#endif
    gemm8(M, U, V, O, C, ld, cols);
}
