/* runtime/ops/conv2d_pool_sparse.c: the backward of Conv2d -> ReLU -> MaxPool2d for 3 x 3
 * stride-1 kernels, from the pooled gradient alone. The convolution's output gradient is
 * nonzero only at each pooling window's argmax (where ReLU let it through): at most a
 * quarter of its places for 2 x 2 windows. So each such place (o, oh, ow) with gradient g
 * adds
 *   to dw[o][c][i][j]:           g * x[c][oh + i - p][ow + j - p]
 *   to dx[c][oh + i - p][ow + j - p]: g * w[o][c][i][j]
 *   to db[o]:                    g
 * for every c, i, j: the sums the dense kernels make, less their products with zero, in
 * another order (the tests hold them to a double-precision sum). A quarter of the dense
 * kernels' multiplies or fewer: fashion.cnn's second layer's backward at batch 64 went from
 * about 6 ms to 4 (alone, 2 threads).
 * The channels go 16 to a vector: each image's x and dx are kept channels-last and padded,
 * a block of 16 channels at a time (16 KB for fashion.cnn's 16 x 16 padded planes, so L1
 * holds what a loop reads), and a place's 9 taps are 9 vector FMAs with dw's sums (or the
 * output channel's kernel) in registers. Which places an output channel has is gathered
 * without branches (whether ReLU let a window through is data: a branch on it
 * mispredicted often enough to cost a fifth of the step).
 * A product with zero is not always zero: where x (or w, for dx) holds an infinity or NaN
 * the dense kernels' result is the one to give, and conv2d_pool_sparse_ok says no. */
#include "../parallel.h"
#include "kernels.h"

#define TAPS 9

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* 1 when every float of a[0..n) is finite (its exponent bits not all ones) */
CN_MULTIVERSION
static int all_finite(const float *a, size_t n)
{
    vi8 bad = { 0 }, e = (vi8){ 0 } + 0x7f800000;
    size_t i = 0;
    for (; i + VL8 <= n; i += VL8) {
        vi8 b;
        memcpy(&b, a + i, sizeof b);
        bad |= (b & e) == e;
    }
    int any = 0;
    for (int l = 0; l < VL8; l++) any |= bad[l];
    for (; i < n; i++) {
        uint32_t b;
        memcpy(&b, a + i, sizeof b);
        any |= (b & 0x7f800000u) == 0x7f800000u;
    }
    return !any;
}

int conv2d_pool_sparse_ok(const ConvShape *c, const float *x, const float *w)
{
    if (!(c->direct && c->k == 3 && c->C >= 8 && c->p <= 2)) return 0;
    if ((double)(c->H + 2 * c->p) * (c->W + 2 * c->p) * VL > INT32_MAX) return 0;   /* places are int32 */
    if (!all_finite(x, (size_t)c->N * c->C * c->H * c->W)) return 0;
    return w == NULL || all_finite(w, (size_t)c->O * c->K);
}

typedef struct Sparse {
    const ConvShape *c;
    float *dx, *dw, *db;
    const float *dy, *y, *x, *wt;    /* wt: w as [O][tap][Cp] */
    const int32_t *argmax;
    float *part;                     /* per share: dw as [O][tap][Cp] */
    double *plane_sum;               /* [N][O] */
    int Hp, Wp, pk, ps, pp;          /* the pooling */
    int Cp, Wd, shares;              /* Wd: padded width W + 2p */
    size_t pad_plane;                /* (H + 2p) * (W + 2p) */
} Sparse;

/* The places of image n, output channel o, that get a gradient: where (the padded
 * plane's row-major index oh * Wd + ow, times VL) and how much; returns how many.
 * No division: a window's argmax lies in its pk rows, so its row is the window's first
 * plus how many whole rows of Wo it lies past that row's start. No branch on the data
 * either: whether ReLU let a window through only decides whether the count moves on. */
static int places(const Sparse *s, int n, int o, int32_t *at, float *g)
{
    const ConvShape *c = s->c;
    size_t first = ((size_t)n * c->O + o) * s->Hp * s->Wp;
    int m = 0, Wo = c->Wo, pad = s->Wd - Wo;
    for (int ph = 0; ph < s->Hp; ph++) {
        int r0 = ph * s->ps - s->pp;
        for (int pw = 0; pw < s->Wp; pw++) {
            size_t i = first + (size_t)ph * s->Wp + pw;
            int32_t a = s->argmax[i], d = a - r0 * Wo, oh = r0;
            for (int k = 1; k < s->pk; k++) oh += d >= k * Wo;
            at[m] = (a + oh * pad) * VL;
            g[m] = s->dy[i];
            m += !(s->y[i] <= 0.0f);            /* ReLU closed where y <= 0 (NaN passes) */
        }
    }
    return m;
}

/* In one block of 16 channels (xcl, dxcl: its padded planes, [position][16], rows Wd
 * positions apart) the 9 taps of a place at r0 are r0, r0 + VL, r0 + 2 VL and the same one
 * and two rows down. */

/* dw's sums for one output channel and channel block (acc: its 9 taps, Cp floats apart)
 * += each of m places' g times the 9 vectors of x around it */
CN_MULTIVERSION CN_CONTRACT
static void weight_places(float *acc_mem, size_t Cp, const float *xcl, int Wd, const int32_t *at, const float *g,
                          int m)
{
    vf acc[TAPS];
    size_t row = (size_t)Wd * VL;
#pragma GCC unroll 9
    for (int t = 0; t < TAPS; t++) LOAD(acc[t], acc_mem + t * Cp);
    for (int e = 0; e < m; e++) {
        const float *r0 = xcl + at[e], *r1 = r0 + row, *r2 = r1 + row;
        float ge = g[e];
        vf r[TAPS];
        LOAD(r[0], r0);
        LOAD(r[1], r0 + VL);
        LOAD(r[2], r0 + 2 * VL);
        LOAD(r[3], r1);
        LOAD(r[4], r1 + VL);
        LOAD(r[5], r1 + 2 * VL);
        LOAD(r[6], r2);
        LOAD(r[7], r2 + VL);
        LOAD(r[8], r2 + 2 * VL);
#pragma GCC unroll 9
        for (int t = 0; t < TAPS; t++) acc[t] += ge * r[t];
    }
#pragma GCC unroll 9
    for (int t = 0; t < TAPS; t++) memcpy(acc_mem + t * Cp, &acc[t], sizeof(vf));
}

/* dx's block += each of m places' g times one output channel's kernel (k: its 9 taps, Cp
 * floats apart). Bound by its stores, 9 vectors a place: summing a position's places in
 * registers first (sorted by position) was no faster, its kernels' loads missing L1. */
CN_MULTIVERSION CN_CONTRACT
static void input_places(float *dxcl, const float *k_mem, size_t Cp, int Wd, const int32_t *at, const float *g,
                         int m)
{
    vf k[TAPS];
    size_t row = (size_t)Wd * VL;
#pragma GCC unroll 9
    for (int t = 0; t < TAPS; t++) LOAD(k[t], k_mem + t * Cp);
    for (int e = 0; e < m; e++) {
        float *r[3];
        r[0] = dxcl + at[e];
        r[1] = r[0] + row;
        r[2] = r[1] + row;
        float ge = g[e];
#pragma GCC unroll 9
        for (int t = 0; t < TAPS; t++) {
            float *d = r[t / 3] + (t % 3) * VL;
            vf v;
            LOAD(v, d);
            v += ge * k[t];
            memcpy(d, &v, sizeof v);
        }
    }
}

/* x's image, channels-last by blocks of 16 (xcl: Cp / 16 blocks of `plane` floats) into
 * the padded planes' inside (their padding is zero), or the reverse for dx */
static void to_blocks(float *xcl, size_t plane, const float *x, int C, int H, int W, int Wd, int p)
{
    for (int ch = 0; ch < C; ch++) {
        float *d = xcl + (size_t)(ch / VL) * plane + ch % VL;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) d[((size_t)(h + p) * Wd + w + p) * VL] = x[((size_t)ch * H + h) * W + w];
    }
}

static void from_blocks(float *x, const float *xcl, size_t plane, int C, int H, int W, int Wd, int p)
{
    for (int ch = 0; ch < C; ch++) {
        const float *d = xcl + (size_t)(ch / VL) * plane + ch % VL;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) x[((size_t)ch * H + h) * W + w] = d[((size_t)(h + p) * Wd + w + p) * VL];
    }
}

static void sparse_share(void *ctx, int t, int T)
{
    const Sparse *s = ctx;
    const ConvShape *c = s->c;
    int C = c->C, H = c->H, W = c->W, O = c->O, p = c->p, Cp = s->Cp, Wd = s->Wd, nb = Cp / VL;
    size_t plane = s->pad_plane * VL, cl = plane * nb, per = (size_t)s->Hp * s->Wp, wn = (size_t)O * TAPS * Cp;
    size_t places_n = (size_t)O * per;
    float *buf = op_scratch(0, 2 * cl + 2 * places_n), *xcl = buf, *dxcl = buf + cl, *g = dxcl + cl;
    int32_t *at = (int32_t *)(void *)(g + places_n);
    float *part = s->part + (size_t)t * wn;
    int *count = (int *)(void *)op_scratch(2, (size_t)O);     /* each output channel's count of places */
    memset(part, 0, wn * sizeof *part);
    for (int n = (int)par_lo((size_t)c->N, t, T); n < (int)par_lo((size_t)c->N, t + 1, T); n++) {
        for (int o = 0; o < O; o++) {
            count[o] = places(s, n, o, at + o * per, g + o * per);
            if (s->db) {
                double sum = 0;
                for (int e = 0; e < count[o]; e++) sum += g[o * per + e];
                s->plane_sum[(size_t)n * O + o] = sum;
            }
        }
        memset(xcl, 0, cl * sizeof *xcl);
        to_blocks(xcl, plane, s->x + (size_t)n * C * H * W, C, H, W, Wd, p);
        for (int cb = 0; cb < nb; cb++)
            for (int o = 0; o < O; o++)
                weight_places(part + (size_t)o * TAPS * Cp + (size_t)cb * VL, (size_t)Cp, xcl + cb * plane, Wd,
                              at + o * per, g + o * per, count[o]);
        if (s->dx) {
            memset(dxcl, 0, cl * sizeof *dxcl);
            for (int cb = 0; cb < nb; cb++)
                for (int o = 0; o < O; o++)
                    input_places(dxcl + cb * plane, s->wt + (size_t)o * TAPS * Cp + (size_t)cb * VL, (size_t)Cp, Wd,
                                 at + o * per, g + o * per, count[o]);
            from_blocks(s->dx + (size_t)n * C * H * W, dxcl, plane, C, H, W, Wd, p);
        }
    }
}

/* then dw from the shares' partials (added in share order, [o][tap][c] to [o][c][tap]) and db */
static void sparse_sum(void *ctx, int t, int T)
{
    const Sparse *s = ctx;
    const ConvShape *c = s->c;
    int O = c->O, C = c->C, Cp = s->Cp, S = s->shares;
    size_t wn = (size_t)O * TAPS * Cp;
    int o0 = (int)par_lo((size_t)O, t, T), o1 = (int)par_lo((size_t)O, t + 1, T);
    for (int o = o0; o < o1; o++)
        for (int ch = 0; ch < C; ch++)
            for (int tap = 0; tap < TAPS; tap++) {
                size_t i = ((size_t)o * TAPS + tap) * Cp + ch;
                float sum = s->part[i];
                for (int u = 1; u < S; u++) sum += s->part[(size_t)u * wn + i];
                s->dw[((size_t)o * C + ch) * TAPS + tap] = sum;
            }
    if (s->db) conv2d_bias_from_planes(s->db, s->plane_sum, c->N, O, o0, o1);
}

void conv2d_pool_sparse_backward(const ConvShape *c, float *dx, float *dw, float *db, const float *dy,
                                 const float *y, const int32_t *argmax, const float *x, const float *w, int Hp,
                                 int Wp, int pk, int ps, int pp)
{
    int O = c->O, C = c->C, T = par_threads();
    if (T > c->N) T = c->N > 0 ? c->N : 1;
    int Cp = (int)round16((size_t)C);
    size_t wn = (size_t)O * TAPS * Cp, nwt = dx ? wn : 0, npart = (size_t)T * wn;
    size_t nsum = db ? (size_t)2 * c->N * O : 0, at = (nwt + npart + 1) / 2 * 2;
    float *shared = op_scratch(1, at + nsum), *wt = shared;
    if (dx) {
        memset(wt, 0, wn * sizeof *wt);
        for (int o = 0; o < O; o++)
            for (int ch = 0; ch < C; ch++)
                for (int tap = 0; tap < TAPS; tap++)
                    wt[((size_t)o * TAPS + tap) * Cp + ch] = w[((size_t)o * C + ch) * TAPS + tap];
    }
    Sparse s = { c, dx, dw, db, dy, y, x, wt, argmax, shared + nwt, (double *)(void *)(shared + at), Hp, Wp, pk,
                 ps, pp, Cp, c->W + 2 * c->p, T, (size_t)(c->H + 2 * c->p) * (c->W + 2 * c->p) };
    par_run(T, sparse_share, &s);
    par_run(par_threads() < O ? par_threads() : O, sparse_sum, &s);
}
