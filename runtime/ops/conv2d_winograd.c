/* runtime/ops/conv2d_winograd.c: 3x3 stride-1 Conv2d by Winograd's F(2x2,3x3), forward and
 * input gradient, 16 products per 2x2 outputs and channel pair where im2col + sgemm does
 * 36. The output is cut into 2x2 tiles over (image, tile row, tile col); a block of tiles
 * at a time:
 *   V[xi][c][t] = (B^T d B)[xi], d the 4x4 input patch of tile t in channel c (zeros
 *                 outside the image: the padding);
 *   U[xi][o][c] = (G g G^T)[xi], g = w[o][c], once per call (weights change every step);
 *   M[xi] (O x tiles) = U[xi] (O x C) @ V[xi] (C x tiles), 16 products (wino_gemm.c);
 *   y[o] tile t = A^T M[.][o][t] A + b[o], clipped at the output's edges.
 * The input gradient is the same convolution of dy padded by 2-p with the flipped,
 * transposed kernel w'[c][o][i][j] = w[o][c][2-i][2-j]. Large tile counts give each thread
 * a contiguous share of the tiles, in blocks whose V and M stay in cache; small ones (one
 * image) go a block at a time, each step split across the threads. Scratch: op_scratch
 * slots 0 (V), 1 (U), 3 (M); nothing is allocated once warm. */
#include <stdlib.h>
#include <string.h>

#include "../parallel.h"

#include "../ops.h"
#include "kernels.h"
#include "winograd.h"

/* tiles per row segment transformed at once (bounds the stack arrays below) */
#define SEG 64

/* q[0..16) as e = q[0], q[2] .. q[14] and o = q[1], q[3] .. q[15]: each vector's halves
 * loaded (q[0..4) ++ q[8..12), q[4..8) ++ q[12..16)) so that one shuffle within each half
 * de-interleaves them */
static inline __attribute__((always_inline)) void evens_odds(const float *q, vf8 *e, vf8 *o)
{
    vf4 h[4];
    for (int i = 0; i < 4; i++) memcpy(&h[i], q + 4 * i, sizeof h[i]);
    vf8 a = __builtin_shufflevector(h[0], h[2], 0, 1, 2, 3, 4, 5, 6, 7);
    vf8 b = __builtin_shufflevector(h[1], h[3], 0, 1, 2, 3, 4, 5, 6, 7);
    *e = __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14);
    *o = __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
}

CN_MULTIVERSION
void conv2d_winograd_deinterleave(float *e, float *o, const float *r, int n)
{
    for (int t = 0; t < n; t += VL8) {
        vf8 x, y;
        evens_odds(r + 2 * t, &x, &y);
        memcpy(e + t, &x, sizeof x);
        memcpy(o + t, &y, sizeof y);
    }
}

/* floats of a row of q below (the row transforms of a segment's columns, read up to 2
 * ceil8(len) + 18) */
#define QW (2 * SEG + 32)

/* V rows (xi, c), c's ld floats apart and xi's xs, from position at: the
 * transforms of tiles (n, ty, tx0 .. tx0+len) of channels [c0, c1). First down the columns,
 * q[a][k] = (B^T d)[a] at column 2 tx0 - p + k (B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0
 * -1]; zero outside the image), read straight from the input's rows; then along each q[a],
 * tile u's columns 2u .. 2u+3 times B. Whole vectors are stored: the lanes past len are the
 * next segment's (written after) or the row's tail, up to 7 floats past the block's last
 * tile (rows of ld >= nt + 7 floats). */
CN_MULTIVERSION
static void input_segment(const WinoJob *j, float *V, size_t ld, size_t xs, size_t at, int n, int ty, int tx0, int len,
                          int c0, int c1)
{
    int H = j->H, W = j->W, p = j->p, C = j->C;
    float q[4][QW];
    int first = 2 * tx0 - p, ql = 2 * ((len + VL8 - 1) / VL8 * VL8) + VL8;
    /* q's columns that come from the image: [klo, khi); the others stay zero */
    int klo = first < 0 ? (-first < ql ? -first : ql) : 0, khi = W - first < ql ? W - first : ql;
    if (khi < klo) khi = klo;
    for (int a = 0; a < 4; a++) {
        for (int k = 0; k < klo; k++) q[a][k] = 0.0f;
        for (int k = khi; k < ql; k += VL8) memcpy(&q[a][k], &(vf8){ 0 }, sizeof(vf8));
    }
    int r = 2 * ty - p, in0 = r >= 0 && r < H, in1 = r + 1 >= 0 && r + 1 < H, in2 = r + 2 >= 0 && r + 2 < H,
        in3 = r + 3 >= 0 && r + 3 < H;
    for (int c = c0; c < c1; c++) {
        /* the rows' columns first + k, rows outside the image (never read) at row 0 */
        const float *plane = j->x + ((size_t)n * C + c) * H * W;
        const float *x0 = plane + (size_t)(in0 ? r : 0) * W, *x1 = plane + (size_t)(in1 ? r + 1 : 0) * W;
        const float *x2 = plane + (size_t)(in2 ? r + 2 : 0) * W, *x3 = plane + (size_t)(in3 ? r + 3 : 0) * W;
        if (khi - klo >= VL8) {
            for (int k0 = klo; k0 < khi; k0 += VL8) {
                int k = k0 + VL8 > khi ? khi - VL8 : k0;    /* the last vector overlaps the one before */
                vf8 d0 = { 0 }, d1 = { 0 }, d2 = { 0 }, d3 = { 0 };
                if (in0) memcpy(&d0, x0 + first + k, sizeof d0);
                if (in1) memcpy(&d1, x1 + first + k, sizeof d1);
                if (in2) memcpy(&d2, x2 + first + k, sizeof d2);
                if (in3) memcpy(&d3, x3 + first + k, sizeof d3);
                vf8 t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3;
                memcpy(&q[0][k], &t0, sizeof t0);
                memcpy(&q[1][k], &t1, sizeof t1);
                memcpy(&q[2][k], &t2, sizeof t2);
                memcpy(&q[3][k], &t3, sizeof t3);
            }
        } else {
            for (int k = klo; k < khi; k++) {
                float d0 = in0 ? x0[first + k] : 0.0f, d1 = in1 ? x1[first + k] : 0.0f;
                float d2 = in2 ? x2[first + k] : 0.0f, d3 = in3 ? x3[first + k] : 0.0f;
                q[0][k] = d0 - d2, q[1][k] = d1 + d2, q[2][k] = d2 - d1, q[3][k] = d1 - d3;
            }
        }
        for (int u = 0; u < len; u += VL8) {
            for (int a = 0; a < 4; a++) {
                /* columns 2u + 2l + {0, 1, 2, 3} of tile u + l as e, o, e1, o1 */
                vf8 e, o, e1, o1;
                evens_odds(&q[a][2 * u], &e, &o);
                evens_odds(&q[a][2 * u + 2], &e1, &o1);
                vf8 v0 = e - e1, v1 = o + e1, v2 = e1 - o, v3 = o - o1;
                float *d = V + (size_t)a * 4 * xs + (size_t)c * ld + at + u;
                memcpy(d, &v0, sizeof v0);
                memcpy(d + xs, &v1, sizeof v1);
                memcpy(d + 2 * xs, &v2, sizeof v2);
                memcpy(d + 3 * xs, &v3, sizeof v3);
            }
        }
    }
}

/* p[0..16) = (p[0..16) when acc, else 0) + the lanes of lo and hi interleaved in halves:
 * lo's low half, hi's, lo's high half, hi's (no shuffle across halves) */
static inline __attribute__((always_inline)) void store_halves(float *p, const vf8 *lo, const vf8 *hi, int acc)
{
    vf4 h[4] = { __builtin_shufflevector(*lo, *lo, 0, 1, 2, 3), __builtin_shufflevector(*hi, *hi, 0, 1, 2, 3),
                 __builtin_shufflevector(*lo, *lo, 4, 5, 6, 7), __builtin_shufflevector(*hi, *hi, 4, 5, 6, 7) };
    for (int i = 0; i < 4; i++) {
        if (acc) {
            vf4 was;
            memcpy(&was, p + 4 * i, sizeof was);
            h[i] = was + h[i];
        }
        memcpy(p + 4 * i, &h[i], sizeof h[i]);
    }
}

/* p[0..16) (+)= the lanes of y0, y1 (the two columns of 8 tiles) interleaved: lo = tiles 0, 1
 * and 4, 5, hi = tiles 2, 3 and 6, 7, each tile's two columns side by side */
static inline __attribute__((always_inline)) void store_interleaved(float *p, const vf8 *y0, const vf8 *y1, int acc)
{
    vf8 lo = __builtin_shufflevector(*y0, *y1, 0, 8, 1, 9, 4, 12, 5, 13);
    vf8 hi = __builtin_shufflevector(*y0, *y1, 2, 10, 3, 11, 6, 14, 7, 15);
    store_halves(p, &lo, &hi, acc);
}

/* y's tiles (n, ty, tx0 .. tx0+len) of channels [o0, o1) from M rows (xi, o), o's ld
 * floats apart and xi's xs, from position at: A^T m A + b (A^T = [1 1 1 0; 0 1 -1 -1]),
 * added to y's floats when j->accumulate, 8 tiles at a time, their 16 columns stored
 * straight into y's two rows where they fit, through a buffer at the row's end */
CN_MULTIVERSION
static void output_segment(const WinoJob *j, const float *M, size_t ld, size_t xs, size_t at, int n, int ty, int tx0,
                           int len, int o0, int o1)
{
    int O = j->O, Ho = j->Ho, Wo = j->Wo;
    int c0 = 2 * tx0, cols = 2 * len < Wo - c0 ? 2 * len : Wo - c0, two = 2 * ty + 1 < Ho, acc = j->accumulate;
    for (int o = o0; o < o1; o++) {
        float bo = j->b ? j->b[o] : 0.0f;
        const float *mo = M + (size_t)o * ld + at;
        float *y0 = j->y + (((size_t)n * O + o) * Ho + 2 * ty) * Wo + c0, *y1 = y0 + Wo;
        for (int u = 0; u < len; u += VL8) {
            vf8 m[16];
#pragma GCC unroll 16
            for (int xi = 0; xi < 16; xi++) memcpy(&m[xi], mo + xi * xs + u, sizeof m[xi]);
            vf8 s0 = m[0] + m[4] + m[8], s1 = m[1] + m[5] + m[9], s2 = m[2] + m[6] + m[10], s3 = m[3] + m[7] + m[11];
            vf8 d0 = m[4] - m[8] - m[12], d1 = m[5] - m[9] - m[13], d2 = m[6] - m[10] - m[14];
            vf8 d3 = m[7] - m[11] - m[15];
            vf8 y00 = s0 + s1 + s2 + bo, y01 = s1 - s2 - s3 + bo;
            vf8 y10 = d0 + d1 + d2 + bo, y11 = d1 - d2 - d3 + bo;
            int k = 2 * u;
            if (k + 2 * VL8 <= cols) {
                store_interleaved(y0 + k, &y00, &y01, acc);
                if (two) store_interleaved(y1 + k, &y10, &y11, acc);
            } else {
                float t[2][2 * VL8];
                store_interleaved(t[0], &y00, &y01, 0);
                store_interleaved(t[1], &y10, &y11, 0);
                for (int l = 0; l < cols - k; l++) {
                    y0[k + l] = acc ? y0[k + l] + t[0][l] : t[0][l];
                    if (two) y1[k + l] = acc ? y1[k + l] + t[1][l] : t[1][l];
                }
            }
        }
    }
}

/* Calls fn on the row segments (n, ty, tx0, len <= SEG) of tiles [t0, t0 + nt), at = the
 * segment's first tile - t0, the buffer's channel rows ld floats apart, its xi xs */
typedef void (*SegFn)(const WinoJob *j, float *buf, size_t ld, size_t xs, size_t at, int n, int ty, int tx0, int len,
                      int lo, int hi);

static void for_segments(const WinoJob *j, size_t t0, size_t nt, size_t ld, size_t xs, SegFn fn, float *buf, int lo,
                         int hi)
{
    size_t per = (size_t)j->th * j->tw;
    for (size_t t = t0; t < t0 + nt;) {
        int n = (int)(t / per), r = (int)(t % per), ty = r / j->tw, tx = r % j->tw;
        int len = j->tw - tx;
        if ((size_t)len > t0 + nt - t) len = (int)(t0 + nt - t);
        if (len > SEG) len = SEG;
        fn(j, buf, ld, xs, t - t0, n, ty, tx, len, lo, hi);
        t += (size_t)len;
    }
}

static void input_fn(const WinoJob *j, float *V, size_t ld, size_t xs, size_t at, int n, int ty, int tx0, int len,
                     int lo, int hi)
{
    input_segment(j, V, ld, xs, at, n, ty, tx0, len, lo, hi);
}

static void output_fn(const WinoJob *j, float *M, size_t ld, size_t xs, size_t at, int n, int ty, int tx0, int len,
                      int lo, int hi)
{
    output_segment(j, M, ld, xs, at, n, ty, tx0, len, lo, hi);
}

void conv2d_winograd_input(const ConvShape *c, float *V, size_t ld, size_t xs, const float *x, size_t t0, size_t nt)
{
    WinoJob j = { c->N, c->C, c->H, c->W, c->O, c->p, c->Ho, c->Wo, (c->Ho + 1) / 2, (c->Wo + 1) / 2, 0, x, NULL, NULL,
                  NULL, 0, 0 };
    j.tiles = (size_t)j.N * j.th * j.tw;
    for_segments(&j, t0, nt, ld, xs, input_fn, V, 0, j.C);
}

/* A block's V[xi] and M[xi] (rows of ld floats) lie rows * ld + XI_SKEW floats apart */
static size_t xi_stride(int rows, size_t ld) { return (size_t)rows * ld + XI_SKEW; }

static size_t round8(size_t n) { return (n + VL8 - 1) / VL8 * VL8; }

/* The rows of a block of nt tiles: its columns rounded up to 8, and 8 floats that the
 * transforms' last whole vectors spill into (no partial stores; the products skip them) */
static size_t block_ld(size_t nt) { return round8(nt) + VL8; }

/* M[xi] = U[xi] @ V[xi] for xi in [x0, x1) over the columns of rows ld floats long */
static void products(const WinoJob *j, const float *V, float *M, size_t ld, int x0, int x1)
{
    int C = j->C, O = j->O;
    size_t vs = xi_stride(C, ld), ms = xi_stride(O, ld);
    for (int xi = x0; xi < x1; xi++)
        wino_gemm(M + (size_t)xi * ms, j->U + (size_t)xi * O * C, V + (size_t)xi * vs, O, C, ld, ld - VL8);
}

/* the scratch of one block: V (16 x C rows), M (16 x O rows) */
static float *block_v(const WinoJob *j) { return op_scratch(0, 16 * xi_stride(j->C, block_ld((size_t)j->block))); }
static float *block_m(const WinoJob *j) { return op_scratch(3, 16 * xi_stride(j->O, block_ld((size_t)j->block))); }

/* tiles [lo, hi) in blocks, on this thread */
static void tiles_run(const WinoJob *j, size_t lo, size_t hi)
{
    float *V = block_v(j), *M = block_m(j);
    size_t n = hi - lo, nb = (n + j->block - 1) / j->block;
    for (size_t b = 0; b < nb; b++) {
        size_t t0 = lo + par_lo(n, (int)b, (int)nb), t1 = lo + par_lo(n, (int)b + 1, (int)nb), ld = block_ld(t1 - t0);
        for_segments(j, t0, t1 - t0, ld, xi_stride(j->C, ld), input_fn, V, 0, j->C);
        products(j, V, M, ld, 0, 16);
        for_segments(j, t0, t1 - t0, ld, xi_stride(j->O, ld), output_fn, M, 0, j->O);
    }
}

static void tiles_share(void *ctx, int t, int T)
{
    const WinoJob *j = ctx;
    tiles_run(j, par_lo(j->tiles, t, T), par_lo(j->tiles, t + 1, T));
}

/* one block split across the threads: its channels, then its products, then its outputs */
typedef struct BlockJob { const WinoJob *j; float *V, *M; size_t t0, nt, ld; int step; } BlockJob;

static void block_share(void *ctx, int t, int T)
{
    const BlockJob *b = ctx;
    const WinoJob *j = b->j;
    if (b->step == 0)
        for_segments(j, b->t0, b->nt, b->ld, xi_stride(j->C, b->ld), input_fn, b->V, (int)par_lo((size_t)j->C, t, T),
                     (int)par_lo((size_t)j->C, t + 1, T));
    else if (b->step == 1) products(j, b->V, b->M, b->ld, (int)par_lo(16, t, T), (int)par_lo(16, t + 1, T));
    else
        for_segments(j, b->t0, b->nt, b->ld, xi_stride(j->O, b->ld), output_fn, b->M, (int)par_lo((size_t)j->O, t, T),
                     (int)par_lo((size_t)j->O, t + 1, T));
}

/* U[xi][o][c] = (G g G^T)[xi], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], g = w[o][c]
 * (flip: g[i][j] = w[c][o][2-i][2-j], w being C x O x 3 x 3 then: the input gradient's),
 * for o in [o0, o1), 8 channels c a vector: each xi's row of U written 8 floats at a time */
CN_MULTIVERSION
static void filter_rows(float *U, const float *w, int O, int C, int flip, int o0, int o1)
{
    size_t OC = (size_t)O * C;
    for (int o = o0; o < o1; o++)
        for (int c0 = 0; c0 < C; c0 += VL8) {
            int m = C - c0 < VL8 ? C - c0 : VL8;
            float g[9][VL8] = { { 0 } };
            for (int l = 0; l < m; l++) {
                const float *src = flip ? w + ((size_t)(c0 + l) * O + o) * 9 : w + ((size_t)o * C + c0 + l) * 9;
                for (int t = 0; t < 9; t++) g[t][l] = src[flip ? 8 - t : t];
            }
            vf8 G[9], q[4][3];
            for (int t = 0; t < 9; t++) memcpy(&G[t], g[t], sizeof G[t]);
            for (int k = 0; k < 3; k++) {
                q[0][k] = G[k];
                q[1][k] = 0.5f * (G[k] + G[3 + k] + G[6 + k]);
                q[2][k] = 0.5f * (G[k] - G[3 + k] + G[6 + k]);
                q[3][k] = G[6 + k];
            }
            float *u = U + (size_t)o * C + c0;
            for (int a = 0; a < 4; a++) {
                vf8 r[4] = { q[a][0], 0.5f * (q[a][0] + q[a][1] + q[a][2]), 0.5f * (q[a][0] - q[a][1] + q[a][2]),
                             q[a][2] };
                for (int b = 0; b < 4; b++) {
                    if (m == VL8) memcpy(u + (size_t)(a * 4 + b) * OC, &r[b], sizeof r[b]);
                    else memcpy(u + (size_t)(a * 4 + b) * OC, &r[b], (size_t)m * sizeof(float));
                }
            }
        }
}

typedef struct FilterJob { float *U; const float *w; int O, C, flip; } FilterJob;

static void filter_share(void *ctx, int t, int T)
{
    const FilterJob *f = ctx;
    filter_rows(f->U, f->w, f->O, f->C, f->flip, (int)par_lo((size_t)f->O, t, T), (int)par_lo((size_t)f->O, t + 1, T));
}

static int block_forced;    /* conv2d_winograd_block's; 0: from the cache budget */
void conv2d_winograd_block(int tiles) { block_forced = tiles > 0 ? tiles : 0; }

/* Tiles per block: V and M within about 512 KiB (L2), but at least 64 tiles so that each
 * U[xi] read serves enough columns */
static int block_tiles(int C, int O)
{
    if (block_forced) return block_forced;
    int b = 8192 / (C + O);
    b = b < 64 ? 64 : b > 512 ? 512 : b;
    return b / 8 * 8;
}

/* y (N x O x Ho x Wo) = x (N x C x H x W, padded by p) correlated with the 3x3 filters
 * whose transforms are U, + b */
static void wino_run(WinoJob *j)
{
    j->th = (j->Ho + 1) / 2;
    j->tw = (j->Wo + 1) / 2;
    j->tiles = (size_t)j->N * j->th * j->tw;
    if (j->tiles == 0) return;
    int T = par_threads();
    j->block = block_tiles(j->C, j->O);
    if ((size_t)j->block > j->tiles) j->block = (int)j->tiles;
    if (T > 1 && j->tiles >= (size_t)T * j->block / 2) {
        par_run(T, tiles_share, j);
        return;
    }
    float *V = block_v(j), *M = block_m(j);
    size_t nb = (j->tiles + j->block - 1) / j->block;
    for (size_t b = 0; b < nb; b++) {
        size_t t0 = par_lo(j->tiles, (int)b, (int)nb), t1 = par_lo(j->tiles, (int)b + 1, (int)nb);
        for (int step = 0; step < 3; step++) {
            BlockJob bj = { j, V, M, t0, t1 - t0, block_ld(t1 - t0), step };
            par_run(T, block_share, &bj);
        }
    }
}

static const float *filters(const float *w, int O, int C, int flip)
{
    float *U = op_scratch(1, (size_t)16 * O * C);
    FilterJob f = { U, w, O, C, flip };
    int T = par_threads();
    par_run((size_t)O * C >= 4096 ? T : 1, filter_share, &f);
    return U;
}

void conv2d_winograd_forward(const ConvShape *c, float *y, const float *x, const float *w, const float *b)
{
    WinoJob j = { c->N, c->C, c->H, c->W, c->O, c->p, c->Ho, c->Wo, 0, 0, 0, x, NULL, b, y, 0, 0 };
    j.U = filters(w, c->O, c->C, 0);
    wino_run(&j);
}

void conv2d_winograd_backward_input(const ConvShape *c, float *dx, const float *dy, const float *w)
{
    WinoJob j = { c->N, c->O, c->Ho, c->Wo, c->C, 2 - c->p, c->H, c->W, 0, 0, 0, dy, NULL, NULL, dx, 0, c->accumulate };
    j.U = filters(w, c->C, c->O, 1);
    wino_run(&j);
}
