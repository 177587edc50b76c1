/* runtime/ops/conv2d_winograd4.c: 3x3 stride-1 Conv2d by Winograd's F(4x4,3x3), forward and
 * input gradient, 36 products per 4x4 outputs and channel pair where F(2x2,3x3)
 * (conv2d_winograd.c) does 64 and im2col + sgemm 144. The output is cut into 4x4 tiles over
 * (image, tile row, tile col); a block of tiles at a time:
 *   V[xi][c][t] = (B^T d B)[xi], d the 6x6 input patch of tile t in channel c (zeros
 *                 outside the image: the padding);
 *   U[xi][o][c] = (G g G^T)[xi], g = w[o][c], once per call;
 *   M[xi] (O x tiles) = U[xi] (O x C) @ V[xi] (C x tiles), 36 products (wino_gemm.c);
 *   y[o] tile t = A^T M[.][o][t] A + b[o], clipped at the output's edges.
 * The points are 0, 1, -1, 2, -2 and infinity (Lavin and Gray):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * The input gradient is the same convolution of dy padded by 2-p with the flipped,
 * transposed kernel, as in conv2d_winograd.c. Tiles go 8 to a vector along a tile row (two
 * rows where rows have 4 tiles: 13-16 wide outputs); large
 * tile counts give each thread a contiguous share of the tiles in blocks whose V and M stay in
 * cache, small ones (one image) go a block at a time, each step split across the threads.
 * Scratch: op_scratch slots 0 (V), 1 (U), 3 (M). */
#include <stdlib.h>
#include <string.h>

#include "../parallel.h"

#include "../ops.h"
#include "kernels.h"
#include "winograd.h"

/* tiles per row segment transformed at once (bounds the stack arrays below) */
#define SEG 32
/* the transforms' points: 6 x 6 of them */
#define NXI 36

/* lo[0..nlo) and hi[0..nhi) = y[j] lane l at lo[4l + j] (l < 4) and hi[4(l-4) + j]: the inverse
 * of phases4, whole tiles stored straight, the columns of a last partial one (the output's
 * edge) one by one (nlo, nhi <= 16) */
static inline __attribute__((always_inline)) void store_tiles(float *lo, float *hi, const vf8 *y, int nlo, int nhi,
                                                               int acc)
{
    vf8 r[4];
    transpose4_halves(y, r);
    vf4 t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {
        t[i] = __builtin_shufflevector(r[i], r[i], 0, 1, 2, 3);
        t[i + 4] = __builtin_shufflevector(r[i], r[i], 4, 5, 6, 7);
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        float *p = h ? hi : lo;
        int n = h ? nhi : nlo;
#pragma GCC unroll 4
        for (int l = 0; l < 4; l++) {
            if (4 * l + 4 <= n) {
                vf4 v = t[4 * h + l];
                if (acc) {
                    vf4 old;
                    memcpy(&old, p + 4 * l, sizeof old);
                    v += old;
                }
                memcpy(p + 4 * l, &v, sizeof v);
            } else {
                for (int e = 0; e < n - 4 * l; e++) p[4 * l + e] = acc ? p[4 * l + e] + t[4 * h + l][e] : t[4 * h + l][e];
                break;
            }
        }
    }
}

WINO4_BT6(vf8, bt6)

/* floats of a row of q below: the columns of a segment's tiles, read up to 4 ceil8(len) + 4 */
#define QW (4 * SEG + 8)

/* q[a][k] = (B^T d)[a] down column first + k of plane (H x W) from row r, for k in [klo, khi)
 * (the other columns are left as they are: zeros); rows outside the image count as zeros */
static inline __attribute__((always_inline)) void columns(float (*q)[QW], const float *plane, int H, int W, int r,
                                                          int first, int klo, int khi)
{
    int in[6];
    const float *x[6];
#pragma GCC unroll 8
    for (int i = 0; i < 6; i++) {
        in[i] = r + i >= 0 && r + i < H;
        x[i] = plane + (size_t)(in[i] ? r + i : 0) * W + first;    /* a row never read where !in[i] */
    }
    if (khi - klo >= VL8) {
        for (int k0 = klo; k0 < khi; k0 += VL8) {
            int k = k0 + VL8 > khi ? khi - VL8 : k0;    /* the last vector overlaps the one before */
            vf8 d[6], t[6];
#pragma GCC unroll 8
            for (int i = 0; i < 6; i++) {
                d[i] = (vf8){ 0 };
                if (in[i]) memcpy(&d[i], x[i] + k, sizeof d[i]);
            }
            bt6(d, t);
#pragma GCC unroll 8
            for (int a = 0; a < 6; a++) memcpy(&q[a][k], &t[a], sizeof t[a]);
        }
    } else {
        for (int k = klo; k < khi; k++) {
            float d[6];
#pragma GCC unroll 8
            for (int i = 0; i < 6; i++) d[i] = in[i] ? x[i][k] : 0.0f;
            q[0][k] = 4.0f * d[0] - 5.0f * d[2] + d[4];
            q[1][k] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
            q[2][k] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
            q[3][k] = (d[4] - d[2]) + 2.0f * (d[3] - d[1]);
            q[4][k] = (d[4] - d[2]) - 2.0f * (d[3] - d[1]);
            q[5][k] = 4.0f * d[1] - 5.0f * d[3] + d[5];
        }
    }
}

/* V rows (xi, c), c's ld floats apart and xi's xs, from position at: the transforms of tiles
 * (n, ty, tx0 .. tx0+len) of channels [c0, c1), or where len > j->tw (a pair: tw == 4, tx0 ==
 * 0, len == 8), of tile rows ty and ty+1 side by side. First down the columns, q[a][k] =
 * (B^T d)[a] at column 4 tx0 - p + k (zero outside the image), from six of the input's rows;
 * then along each q[a], tile u's columns 4u .. 4u+5 times B. Whole vectors are stored: up to
 * 7 floats past the block's last tile (rows of ld >= nt + 7 floats). */
CN_MULTIVERSION
static void input_segment(const WinoJob *j, float *V, size_t ld, size_t xs, size_t at, int n, int ty, int tx0,
                          int len, int c0, int c1)
{
    int H = j->H, W = j->W, p = j->p, C = j->C, pair = len > j->tw;
    float q[2][6][QW];
    int first = 4 * tx0 - p, ql = pair ? 24 : 4 * ((len + VL8 - 1) / VL8 * VL8) + VL8;
    /* q's columns that come from the image: [klo, khi); the others stay zero */
    int klo = first < 0 ? (-first < ql ? -first : ql) : 0, khi = W - first < ql ? W - first : ql;
    if (khi < klo) khi = klo;
    for (int h = 0; h <= pair; h++)
        for (int a = 0; a < 6; a++) {
            for (int k = 0; k < klo; k++) q[h][a][k] = 0.0f;
            for (int k = khi; k < ql; k++) q[h][a][k] = 0.0f;
        }
    for (int c = c0; c < c1; c++) {
        const float *plane = j->x + ((size_t)n * C + c) * H * W;
        columns(q[0], plane, H, W, 4 * ty - p, first, klo, khi);
        if (pair) columns(q[1], plane, H, W, 4 * ty + 4 - p, first, klo, khi);
        for (int u = 0; u < len; u += VL8) {
#pragma GCC unroll 8
            for (int a = 0; a < 6; a++) {
                /* columns 4u + 4l + {0 .. 5} of tile u + l */
                const float *lo = &q[0][a][4 * u], *hi = pair ? q[1][a] : lo + 16;
                vf8 e[6], f[4], v[6];
                phases4(lo, hi, e);
                phases4(lo + 4, hi + 4, f);
                e[4] = f[0], e[5] = f[1];
                bt6(e, v);
                float *dst = V + (size_t)a * 6 * xs + (size_t)c * ld + at + u;
#pragma GCC unroll 8
                for (int b = 0; b < 6; b++) memcpy(dst + b * xs, &v[b], sizeof v[b]);
            }
        }
    }
}

WINO4_AT4(vf8, at4)

/* y's tiles (n, ty, tx0 .. tx0+len) (or a pair of tile rows, as in input_segment) of channels
 * [o0, o1) from M rows (xi, o), o's ld floats apart and xi's xs, from position at: A^T m A +
 * b, 8 tiles at a time, their 32 columns stored straight into y's rows */
CN_MULTIVERSION
static void output_segment(const WinoJob *j, const float *M, size_t ld, size_t xs, size_t at, int n, int ty, int tx0,
                           int len, int o0, int o1)
{
    int O = j->O, Ho = j->Ho, Wo = j->Wo, pair = len > j->tw;
    int c0 = 4 * tx0, cols = 4 * len < Wo - c0 ? 4 * len : Wo - c0, rows = Ho - 4 * ty < 4 ? Ho - 4 * ty : 4;
    int rows1 = pair ? (Ho - 4 * ty - 4 < 4 ? Ho - 4 * ty - 4 : 4) : rows;
    for (int o = o0; o < o1; o++) {
        float bo = j->b ? j->b[o] : 0.0f;
        const float *mo = M + (size_t)o * ld + at;
        float *y0 = j->y + (((size_t)n * O + o) * Ho + 4 * ty) * Wo + c0;
        for (int u = 0; u < len; u += VL8) {
            /* A^T along each row a of m, then down the columns, two columns of the 4x4 outputs
             * at a time (fewer sums live than registers) */
            vf8 y[4][4];
#pragma GCC unroll 2
            for (int h = 0; h < 4; h += 2) {
                vf8 r[6][2];
#pragma GCC unroll 8
                for (int a = 0; a < 6; a++) {
                    vf8 m[6], t[4];
#pragma GCC unroll 8
                    for (int b = 0; b < 6; b++) memcpy(&m[b], mo + (a * 6 + b) * xs + u, sizeof m[b]);
                    at4(m, t);
                    r[a][0] = t[h], r[a][1] = t[h + 1];
                }
#pragma GCC unroll 2
                for (int k = 0; k < 2; k++) {
                    vf8 m[6] = { r[0][k], r[1][k], r[2][k], r[3][k], r[4][k], r[5][k] }, t[4];
                    at4(m, t);
#pragma GCC unroll 8
                    for (int i = 0; i < 4; i++) y[i][h + k] = t[i] + bo;
                }
            }
            int k = 4 * u, n4 = cols - k < 4 * VL8 ? cols - k : 4 * VL8;
            int nlo = n4 < 16 ? n4 : 16, nhi = pair ? nlo : n4 - 16;
            for (int i = 0; i < rows; i++) {
                float *lo = y0 + (size_t)i * Wo + k;
                store_tiles(lo, pair ? lo + (size_t)4 * Wo : lo + 16, y[i], nlo, i < rows1 ? nhi : 0, j->accumulate);
            }
        }
    }
}

/* Calls fn on the row segments (n, ty, tx0, len <= SEG) of tiles [t0, t0 + nt), at = the
 * segment's first tile - t0, the buffer's channel rows ld floats apart, its xi xs */
typedef void (*SegFn)(const WinoJob *j, float *buf, size_t ld, size_t xs, size_t at, int n, int ty, int tx0, int len,
                      int lo, int hi);

static void segments(const WinoJob *j, size_t t0, size_t nt, size_t ld, size_t xs, SegFn fn, float *buf, int lo,
                     int hi)
{
    size_t per = (size_t)j->th * j->tw;
    for (size_t t = t0; t < t0 + nt;) {
        int n = (int)(t / per), r = (int)(t % per), ty = r / j->tw, tx = r % j->tw;
        int len = j->tw - tx;
        /* rows of 4 tiles: two rows to a segment, both in the range and in one image */
        if (j->tw == 4 && tx == 0 && ty + 1 < j->th && t + 8 <= t0 + nt) len = 8;
        if ((size_t)len > t0 + nt - t) len = (int)(t0 + nt - t);
        if (len > SEG) len = SEG;
        fn(j, buf, ld, xs, t - t0, n, ty, tx, len, lo, hi);
        t += (size_t)len;
    }
}

static void output_fn(const WinoJob *j, float *M, size_t ld, size_t xs, size_t at, int n, int ty, int tx0, int len,
                      int lo, int hi)
{
    output_segment(j, M, ld, xs, at, n, ty, tx0, len, lo, hi);
}

/* the input transform (out 0) of tiles [t0, t0 + nt), channels [lo, hi), into buf (V: rows
 * of ld floats, xi's xs apart), or the output transform (out 1) of their M (buf), channels
 * [lo, hi): in 16 lanes where the CPU has AVX-512 (conv2d_winograd4_wide.c), else 8 */
static void transform(const WinoJob *j, int out, float *buf, size_t ld, size_t xs, size_t t0, size_t nt, int lo,
                      int hi)
{
#ifdef CN_WINO_WIDE
    if (wino_wide()) {
        if (out) wino4_output_wide(j, buf, ld, xs, t0, nt, lo, hi);
        else wino4_input_wide(j, buf, ld, xs, t0, nt, lo, hi);
        return;
    }
#endif
    segments(j, t0, nt, ld, xs, out ? output_fn : input_segment, buf, lo, hi);
}

/* A block's V[xi] and M[xi] (rows of ld floats) lie rows * ld + XI_SKEW floats apart */
static size_t xi_stride(int rows, size_t ld) { return (size_t)rows * ld + XI_SKEW; }

/* The rows of a block of nt tiles: its columns rounded up to 8, and 8 floats that the
 * transforms' last whole vectors spill into (no partial stores; the products skip them) */
static size_t block_ld(size_t nt) { return (nt + VL8 - 1) / VL8 * VL8 + VL8; }

/* M[xi] = U[xi] @ V[xi] for xi in [x0, x1) */
static void products(const WinoJob *j, const float *V, float *M, size_t ld, int x0, int x1)
{
    int C = j->C, O = j->O;
    size_t vs = xi_stride(C, ld), ms = xi_stride(O, ld);
    for (int xi = x0; xi < x1; xi++)
        wino_gemm(M + (size_t)xi * ms, j->U + (size_t)xi * O * C, V + (size_t)xi * vs, O, C, ld, ld - VL8);
}

/* Where the b-th of nb near-equal shares of n tiles starts, at a multiple of 8 tiles (whole
 * vectors, and pairs of 4-tile rows kept together): a share holds up to 7 tiles more than
 * n / nb */
static size_t cut(size_t n, int b, int nb) { return b >= nb ? n : par_lo(n, b, nb) / VL8 * VL8; }

void conv2d_winograd4_input(const ConvShape *c, float *V, size_t ld, size_t xs, const float *x, size_t t0,
                            size_t nt)
{
    WinoJob j = { c->N, c->C, c->H, c->W, c->O, c->p, c->Ho, c->Wo, (c->Ho + 3) / 4, (c->Wo + 3) / 4, 0, x, NULL, NULL,
                  NULL, 0, 0 };
    j.tiles = (size_t)j.N * j.th * j.tw;
    transform(&j, 0, V, ld, xs, t0, nt, 0, j.C);
}

/* the scratch of one block: V (36 x C rows), M (36 x O rows), for up to block + 8 tiles */
static float *block_v(const WinoJob *j)
{
    return op_scratch(0, NXI * xi_stride(j->C, block_ld((size_t)j->block + VL8)));
}
static float *block_m(const WinoJob *j)
{
    return op_scratch(3, NXI * xi_stride(j->O, block_ld((size_t)j->block + VL8)));
}

/* tiles [lo, hi) in blocks, on this thread */
static void tiles_run(const WinoJob *j, size_t lo, size_t hi)
{
    float *V = block_v(j), *M = block_m(j);
    size_t n = hi - lo, nb = (n + j->block - 1) / j->block;
    for (size_t b = 0; b < nb; b++) {
        size_t t0 = lo + cut(n, (int)b, (int)nb), t1 = lo + cut(n, (int)b + 1, (int)nb), ld = block_ld(t1 - t0);
        transform(j, 0, V, ld, xi_stride(j->C, ld), t0, t1 - t0, 0, j->C);
        products(j, V, M, ld, 0, NXI);
        transform(j, 1, M, ld, xi_stride(j->O, ld), t0, t1 - t0, 0, j->O);
    }
}

static void tiles_share(void *ctx, int t, int T)
{
    const WinoJob *j = ctx;
    tiles_run(j, cut(j->tiles, t, T), cut(j->tiles, t + 1, T));
}

/* one block split across the threads: its channels, then its products, then its outputs */
typedef struct Block4 { const WinoJob *j; float *V, *M; size_t t0, nt, ld; int step; } Block4;

static void block_share(void *ctx, int t, int T)
{
    const Block4 *b = ctx;
    const WinoJob *j = b->j;
    if (b->step == 0)
        transform(j, 0, b->V, b->ld, xi_stride(j->C, b->ld), b->t0, b->nt, (int)par_lo((size_t)j->C, t, T),
                  (int)par_lo((size_t)j->C, t + 1, T));
    else if (b->step == 1) products(j, b->V, b->M, b->ld, (int)par_lo(NXI, t, T), (int)par_lo(NXI, t + 1, T));
    else
        transform(j, 1, b->M, b->ld, xi_stride(j->O, b->ld), b->t0, b->nt, (int)par_lo((size_t)j->O, t, T),
                  (int)par_lo((size_t)j->O, t + 1, T));
}

/* G g for g = g[0..3), into q[0..6) */
static inline __attribute__((always_inline)) void g6(const vf8 *g, vf8 *q)
{
    vf8 s = g[0] + g[2];
    q[0] = 0.25f * g[0];
    q[1] = (-1.0f / 6) * (s + g[1]);
    q[2] = (-1.0f / 6) * (s - g[1]);
    q[3] = (1.0f / 24) * g[0] + (1.0f / 12) * g[1] + (1.0f / 6) * g[2];
    q[4] = (1.0f / 24) * g[0] - (1.0f / 12) * g[1] + (1.0f / 6) * g[2];
    q[5] = g[2];
}

/* U[xi][o][c] = (G g G^T)[xi], g = w[o][c] (flip: g[i][j] = w[c][o][2-i][2-j], w being
 * C x O x 3 x 3 then: the input gradient's), for o in [o0, o1), 8 channels c a vector */
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
            vf8 q[6][3];
            for (int k = 0; k < 3; k++) {
                vf8 col[3], r[6];
                for (int i = 0; i < 3; i++) memcpy(&col[i], g[3 * i + k], sizeof col[i]);
                g6(col, r);
#pragma GCC unroll 8
                for (int a = 0; a < 6; a++) q[a][k] = r[a];
            }
            float *u = U + (size_t)o * C + c0;
#pragma GCC unroll 8
            for (int a = 0; a < 6; a++) {
                vf8 r[6];
                g6(q[a], r);
#pragma GCC unroll 8
                for (int b = 0; b < 6; b++) memcpy(u + (size_t)(a * 6 + b) * OC, &r[b], (size_t)m * sizeof(float));
            }
        }
}

typedef struct Filter4 { float *U; const float *w; int O, C, flip; } Filter4;

static void filter_share(void *ctx, int t, int T)
{
    const Filter4 *f = ctx;
    filter_rows(f->U, f->w, f->O, f->C, f->flip, (int)par_lo((size_t)f->O, t, T), (int)par_lo((size_t)f->O, t + 1, T));
}

static int block_forced;    /* conv2d_winograd4_block's; 0: from the cache budget */
void conv2d_winograd4_block(int tiles) { block_forced = tiles > 0 ? tiles : 0; }

/* Tiles per block: V and M (36 rows per channel) within about 512 KiB (L2), at least 32
 * tiles so that each U[xi] read serves enough columns */
static int block_tiles(int C, int O)
{
    if (block_forced) return block_forced;
    int b = 3640 / (C + O);
    b = b < 32 ? 32 : b > 256 ? 256 : b;
    return b / 8 * 8;
}

/* y (N x O x Ho x Wo) = x (N x C x H x W, padded by p) correlated with the 3x3 filters
 * whose transforms are U, + b */
static void wino4_run(WinoJob *j)
{
    j->th = (j->Ho + 3) / 4;
    j->tw = (j->Wo + 3) / 4;
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
        size_t t0 = cut(j->tiles, (int)b, (int)nb), t1 = cut(j->tiles, (int)b + 1, (int)nb);
        for (int step = 0; step < 3; step++) {
            Block4 bj = { j, V, M, t0, t1 - t0, block_ld(t1 - t0), step };
            par_run(T, block_share, &bj);
        }
    }
}

static const float *filters(const float *w, int O, int C, int flip)
{
    float *U = op_scratch(1, (size_t)NXI * O * C);
    Filter4 f = { U, w, O, C, flip };
    par_run((size_t)O * C >= 4096 ? par_threads() : 1, filter_share, &f);
    return U;
}

void conv2d_winograd4_forward(const ConvShape *c, float *y, const float *x, const float *w, const float *b)
{
    WinoJob j = { c->N, c->C, c->H, c->W, c->O, c->p, c->Ho, c->Wo, 0, 0, 0, x, NULL, b, y, 0, 0 };
    j.U = filters(w, c->O, c->C, 0);
    wino4_run(&j);
}

void conv2d_winograd4_backward_input(const ConvShape *c, float *dx, const float *dy, const float *w)
{
    WinoJob j = { c->N, c->O, c->Ho, c->Wo, c->C, 2 - c->p, c->H, c->W, 0, 0, 0, dy, NULL, NULL, dx, 0, c->accumulate };
    j.U = filters(w, c->C, c->O, 1);
    wino4_run(&j);
}
