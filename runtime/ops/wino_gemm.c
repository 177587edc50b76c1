/* runtime/ops/wino_gemm.c: the Winograd convolutions' products, M = U @ V at each point of the
 * transform (conv2d_winograd.c's F(2x2,3x3) and conv2d_winograd4.c's F(4x4,3x3), forward and
 * input gradient): M (O x cols) = U (O x C) @ V (C x cols), each element's sum over c in
 * order with fused multiply-adds, a tile of M in registers. Where the CPU has AVX-512 the
 * columns go 16 to a register first (8 rows x 48 columns: 24 of the 32 registers; on an
 * AVX-512 Xeon a core does about twice the multiply-adds a second with 16 lanes as with 8,
 * 230 against 123 GFLOP/s), the rest 8 to a register (4 rows x 24 columns: 12 of the 16 AVX2
 * registers); both give the same sums. OpenBLAS's sgemm on these shapes (ld <= 512 columns,
 * packing both operands for each) took 1.3-2.5x as long on every layer of fashion_resnet
 * and resnet18 (one thread, AMD EPYC with AVX2, 2026-12-03). */
#include "kernels.h"

/* The tile of M (rows o0 .. o0+R, columns [t, t + NV vectors)) with vectors of type T, n
 * lanes each: R x NV sums in registers (R, NV constants once inlined) */
#define TILE(T, n)                                                                                      \
    {                                                                                                   \
        T acc[8][3];                                                                                    \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                             \
            _Pragma("GCC unroll 3") for (int k = 0; k < NV; k++) acc[r][k] = (T){ 0 };                  \
        const float *u = U + (size_t)o0 * C;                                                            \
        for (int c = 0; c < C; c++) {                                                                   \
            T v[3];                                                                                     \
            _Pragma("GCC unroll 3") for (int k = 0; k < NV; k++)                                        \
                memcpy(&v[k], V + (size_t)c * ld + t + (size_t)k * (n), sizeof v[k]);                   \
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                       \
                float s = u[(size_t)r * C + c];                                                         \
                _Pragma("GCC unroll 3") for (int k = 0; k < NV; k++) acc[r][k] += s * v[k];             \
            }                                                                                           \
        }                                                                                               \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                             \
            _Pragma("GCC unroll 3") for (int k = 0; k < NV; k++)                                        \
                memcpy(M + (size_t)(o0 + r) * ld + t + (size_t)k * (n), &acc[r][k], sizeof acc[r][k]); \
    }

static inline __attribute__((always_inline)) void tile8(float *M, const float *U, const float *V, int C, size_t ld,
                                                        int o0, size_t t, int R, int NV)
TILE(vf8, VL8)

/* columns [t, t + 8 NV) of every row: four rows at a time */
static inline __attribute__((always_inline)) void cols8(float *M, const float *U, const float *V, int O, int C,
                                                        size_t ld, size_t t, int NV)
{
    int o = 0;
    for (; o + 4 <= O; o += 4) tile8(M, U, V, C, ld, o, t, 4, NV);
    for (; o < O; o++) tile8(M, U, V, C, ld, o, t, 1, NV);
}

/* columns [t, cols), a multiple of 8: 24 at a time, then 16 or 8 */
CN_MULTIVERSION CN_CONTRACT
static void gemm8(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t t, size_t cols)
{
    for (; t + 3 * VL8 <= cols; t += 3 * VL8) cols8(M, U, V, O, C, ld, t, 3);
    if (t + 2 * VL8 <= cols) cols8(M, U, V, O, C, ld, t, 2);
    else if (t < cols) cols8(M, U, V, O, C, ld, t, 1);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE 1

static inline __attribute__((always_inline)) void tile16(float *M, const float *U, const float *V, int C, size_t ld,
                                                         int o0, size_t t, int R, int NV)
TILE(vf, VL)

/* columns [t, t + 16 NV) of every row: eight rows at a time */
static inline __attribute__((always_inline)) void cols16(float *M, const float *U, const float *V, int O, int C,
                                                         size_t ld, size_t t, int NV)
{
    int o = 0;
    for (; o + 8 <= O; o += 8) tile16(M, U, V, C, ld, o, t, 8, NV);
    for (; o + 4 <= O; o += 4) tile16(M, U, V, C, ld, o, t, 4, NV);
    for (; o < O; o++) tile16(M, U, V, C, ld, o, t, 1, NV);
}

/* columns [0, returned): 48 at a time, then 32 or 16; what is left is under 16 */
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

static int wide_allowed = 1;

void wino_gemm_wide(int on) { wide_allowed = on; }

void wino_gemm(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t cols)
{
    size_t t = 0;
#ifdef WIDE
    /* the AVX-512 that arch=x86-64-v4 compiles for (under valgrind, which has none, not taken) */
    if (wide_allowed && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        t = gemm16(M, U, V, O, C, ld, cols);
#endif
    if (t < cols) gemm8(M, U, V, O, C, ld, t, cols);
}
