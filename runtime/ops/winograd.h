/* runtime/ops/winograd.h: what the Winograd convolutions share: a transform's job (F(2x2) in
 * conv2d_winograd.c, F(4x4) in conv2d_winograd4.c), and F(4x4)'s arithmetic written once for
 * any vector type, so that conv2d_winograd4.c (8 lanes a vector) and conv2d_winograd4_wide.c
 * (its transforms in 16 lanes where the CPU has AVX-512) round alike, lane for lane (the
 * tests compare them bit for bit). */
#ifndef CN_OPS_WINOGRAD_H
#define CN_OPS_WINOGRAD_H

#include <stddef.h>

/* One transform: x (N x C x H x W) padded by p -> y (N x O x Ho x Wo) with U ((m + 2)^2 x O
 * x C, m the tile: 2 or 4); tiles numbered over (image, tile row, tile column), th x tw of
 * them a plane */
typedef struct WinoJob {
    int N, C, H, W, O, p, Ho, Wo, th, tw;
    size_t tiles;                 /* N * th * tw */
    const float *x, *U, *b;
    float *y;
    int block;                    /* tiles per block */
    int accumulate;               /* y += the result (ConvShape's accumulate) */
} WinoJob;

/* static void NAME(const T *d, T *q): q[0..6) = B^T d for d = d[0..6) (rows or columns);
 * B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1] */
#define WINO4_BT6(T, NAME)                                                                                \
    static inline __attribute__((always_inline)) void NAME(const T *d, T *q)                              \
    {                                                                                                     \
        T s12 = d[1] + d[2], s34 = d[3] + d[4], t12 = d[1] - d[2], t34 = d[4] - d[3];                     \
        T u = d[4] - d[2], v = d[3] - d[1];                                                               \
        q[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];                                                          \
        q[1] = s34 - 4.0f * s12;                                                                          \
        q[2] = t34 + 4.0f * t12;                                                                          \
        q[3] = u + 2.0f * v;                                                                              \
        q[4] = u - 2.0f * v;                                                                              \
        q[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];                                                          \
    }

/* static void NAME(const T *m, T *y): y[0..4) = A^T m for m = m[0..6);
 * A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */
#define WINO4_AT4(T, NAME)                                                                                \
    static inline __attribute__((always_inline)) void NAME(const T *m, T *y)                              \
    {                                                                                                     \
        T s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];                     \
        y[0] = m[0] + s12 + s34;                                                                          \
        y[1] = d12 + 2.0f * d34;                                                                          \
        y[2] = s12 + 4.0f * s34;                                                                          \
        y[3] = d12 + 8.0f * d34 + m[5];                                                                   \
    }

/* static void NAME(const T *e, T *q): q[0..6) = A e for e = e[0..4) (the weight gradient's
 * transform of dy's 4x4 tiles, conv2d_winograd_wgrad.c) */
#define WINO4_A6(T, NAME)                                                                                 \
    static inline __attribute__((always_inline)) void NAME(const T *e, T *q)                              \
    {                                                                                                     \
        T s02 = e[0] + e[2], s13 = e[1] + e[3], t = e[0] + 4.0f * e[2], w = 2.0f * e[1] + 8.0f * e[3];    \
        q[0] = e[0];                                                                                      \
        q[1] = s02 + s13;                                                                                 \
        q[2] = s02 - s13;                                                                                 \
        q[3] = t + w;                                                                                     \
        q[4] = t - w;                                                                                     \
        q[5] = e[3];                                                                                      \
    }

/* conv2d_winograd4_wide.c, where the CPU has AVX-512 (wino_wide()): the input transform of
 * tiles [t0, t0 + nt) of channels [c0, c1) into V rows (xi, c), c's ld floats apart and xi's
 * xs, tile t at column t - t0 (nothing stored past the last tile); and the output transform
 * of those tiles' M rows (xi, o) laid out alike, channels [o0, o1), into j->y (+ j->b; added
 * to what y holds where j->accumulate). The same values as conv2d_winograd4.c's 8-lane
 * input_segment and output_segment (and transform_dy4 below). */
void wino4_input_wide(const WinoJob *j, float *V, size_t ld, size_t xs, size_t t0, size_t nt, int c0, int c1);
/* and the weight gradient's transform of dy (conv2d_winograd_wgrad.c's transform_dy4): j
 * describes dy (x: dy, C: its channels, H x W: its plane, th x tw its 4x4 tiles), U rows
 * (xi, o) of tiles [t0, t0 + nt), channels [o0, o1), = (A e A^T)[xi], e the tile's 4x4 of dy
 * (zero past the plane) */
void wino4_dy_wide(const WinoJob *j, float *U, size_t ld, size_t xs, size_t t0, size_t nt, int o0, int o1);
void wino4_output_wide(const WinoJob *j, const float *M, size_t ld, size_t xs, size_t t0, size_t nt, int o0, int o1);

#endif
