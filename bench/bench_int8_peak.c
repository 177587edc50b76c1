/* bench/bench_int8_peak.c: the ceiling an int8 convolution can reach against a float one on
 * this core. Times, on one thread, independent chains of each instruction sequence the
 * kernels are built from (256-bit AVX2): float FMA (the float code), 16-bit multiply-add
 * vpmaddwd + vpaddd (--emit-c's int8 kernel: int8 values widened to int16 pairs), and u8 x s8
 * vpmaddubsw + vpmaddwd by ones + vpaddd (the fastest exact int8 product with 32-bit sums);
 * then prints the multiplies a second each makes and what they bound: an int8 direct
 * convolution against a float direct one, and against a float Winograd one, which does 2.25x
 * (F(2x2,3x3)) or 4x (F(4x4,3x3)) fewer multiplies for a 3x3 convolution. Where the integer
 * multiplies share one pipe (AMD Zen 1: 128 bits a cycle) int8 gains nothing on float; the
 * int8 code's worth there is its size. Medians of REPEATS runs.
 * usage: bench_int8_peak [REPEATS] (default 5) */
#include <stdio.h>
#include <stdlib.h>

#include <immintrin.h>

#include "bench/bench_clock.h"

#define CHAINS 10
#define ITERS 20000000L

/* S(i) for each chain i: the chains are named variables, so they stay in registers (float:
 * 10 chains cover the FMA's latency; the integer ones hold an operand and a sum each, 6
 * chains fit the 16 registers) */
#define EACH(S) S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9)
#define ICHAINS 6
#define EACHI(S) S(0) S(1) S(2) S(3) S(4) S(5)

/* float multiply-adds a second: CHAINS chains of a = a * b + c, 8 lanes each */
__attribute__((target("avx2,fma"))) static double fma_rate(void)
{
    __m256 b = _mm256_set1_ps(0.5f), c = _mm256_set1_ps(0.25f);
#define DECL(i) __m256 a##i = _mm256_set1_ps((float)i);
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, b, c);
#define KEEP(i) __asm__ volatile("" : "+x"(a##i));
#define SUM(i) s += _mm256_cvtss_f32(a##i);
    EACH(DECL)
    double t = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (long n = 0; n < ITERS; n++) {
        EACH(STEP)
        EACH(KEEP)
    }
    t = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t;
    float s = 0;
    EACH(SUM)
    if (s < 0) printf("%g\n", (double)s);   /* keeps the chains' results alive */
    return (double)ITERS * CHAINS * 8 / t;
#undef DECL
#undef STEP
#undef KEEP
#undef SUM
}

/* The integer chains, acc_i += STEP's products of x_i, timed; the rate of products a second
 * for PRODUCTS a vector (a macro: each sequence stays one straight loop in registers) */
#define DECL(i) __m256i x##i = _mm256_set1_epi16((short)i), acc##i = _mm256_setzero_si256();
#define KEEP(i) __asm__ volatile("" : "+x"(acc##i), "+x"(x##i));   /* x "changes": no product hoisted */
#define SUM(i) s += _mm256_extract_epi32(acc##i, 0);
#define INT_RATE(PRODUCTS)                                              \
    EACHI(DECL)                                                         \
    double t = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);                 \
    for (long n = 0; n < ITERS; n++) {                                  \
        EACHI(STEP)                                                     \
        EACHI(KEEP)                                                     \
    }                                                                   \
    t = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t;                    \
    int s = 0;                                                          \
    EACHI(SUM)                                                          \
    if (s == 1) printf("%d\n", s);                                      \
    return (double)ITERS * ICHAINS * (PRODUCTS) / t;

/* int16 multiplies a second: acc += vpmaddwd(x, y), 16 products a vector */
__attribute__((target("avx2"))) static double madd16_rate(void)
{
    __m256i y = _mm256_set1_epi16(3);
#define STEP(i) acc##i = _mm256_add_epi32(acc##i, _mm256_madd_epi16(x##i, y));
    INT_RATE(16)
#undef STEP
}

/* u8 x s8 multiplies a second, summed into int32: acc += vpmaddwd(vpmaddubsw(u, x), 1) */
__attribute__((target("avx2"))) static double madd8_rate(void)
{
    __m256i u = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
#define STEP(i) acc##i = _mm256_add_epi32(acc##i, _mm256_madd_epi16(_mm256_maddubs_epi16(u, x##i), ones));
    INT_RATE(32)
#undef STEP
}

static double median(double (*rate)(void), int repeats)
{
    double v[64];
    for (int r = 0; r < repeats; r++) v[r] = rate();
    qsort(v, (size_t)repeats, sizeof *v, bench_cmp_double);
    return v[repeats / 2];
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 5;
    if (repeats < 1 || repeats > 64) {
        fprintf(stderr, "bench_int8_peak: REPEATS must be 1 to 64 (got %s)\n", argv[1]);
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "bench_int8_peak: this CPU has no AVX2 and FMA; nothing to measure\n");
        return 1;
    }
    double f = median(fma_rate, repeats), w = median(madd16_rate, repeats), b = median(madd8_rate, repeats);
    printf("one thread, 256-bit vectors, %d float and %d integer chains, CPU time, median of %d\n", CHAINS, ICHAINS, repeats);
    printf("float FMA                        %7.2f G multiplies/s  1.00x\n", f / 1e9);
    printf("int16 vpmaddwd + vpaddd          %7.2f G multiplies/s  %.2fx\n", w / 1e9, w / f);
    printf("u8 x s8 vpmaddubsw+vpmaddwd+add  %7.2f G multiplies/s  %.2fx\n", b / 1e9, b / f);
    printf("ceiling of an int8 direct 3x3 Conv2d against the float code, at these rates:\n");
    printf("  against float direct        int16 %.2fx  u8 x s8 %.2fx\n", w / f, b / f);
    printf("  against float F(2x2,3x3)    int16 %.2fx  u8 x s8 %.2fx\n", w / f / 2.25, b / f / 2.25);
    printf("  against float F(4x4,3x3)    int16 %.2fx  u8 x s8 %.2fx\n", w / f / 4, b / f / 4);
    return 0;
}
