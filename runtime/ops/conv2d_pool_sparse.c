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
 * kernels' multiplies: fashion.cnn's second layer's backward went from 5.4 to about 2 ms.
 * The places' channels go 16 to a vector: each image's x and dx are kept channels-last and
 * padded (32 KB for 32 channels of 16 x 16), and a place's 9 taps of 32 channels are 18
 * vector FMAs with dw's sums (or the kernel) in registers. Which places an output channel
 * has is gathered without branches (whether ReLU let a window through is data: a branch
 * on it mispredicted often enough to cost a fifth of the step).
 * A product with zero is not always zero: where x (or w, for dx) holds an infinity or NaN
 * the dense kernels' result is the one to give, and conv2d_pool_sparse_ok says no. */
#include "../parallel.h"
#include "kernels.h"

#define TAPS 9
#define CBV 2                  /* vectors of channels per pass */

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
    int Hp, Wp, Cp, Wd, shares;      /* Wd: padded width W + 2p */
    size_t pad_plane;                /* (H + 2p) * (W + 2p) */
} Sparse;

/* The places of image n, channel o, that get a gradient: where (padded row-major index
 * oh * Wd + ow, times Cp) and how much; returns how many */
static int places(const Sparse *s, int n, int o, int32_t *at, float *g)
{
    const ConvShape *c = s->c;
    size_t first = ((size_t)n * c->O + o) * s->Hp * s->Wp;
    int m = 0;
    for (int i = 0; i < s->Hp * s->Wp; i++) {      /* no branch: whether ReLU let it through is data */
        int32_t a = s->argmax[first + i];
        at[m] = (a / c->Wo * s->Wd + a % c->Wo) * s->Cp;
        g[m] = s->dy[first + i];
        m += !(s->y[first + i] <= 0.0f);            /* ReLU closed where y <= 0 (NaN passes) */
    }
    return m;
}

/* the offsets of a place's 9 taps in a channels-last padded plane Wd wide, and the 9 x nv
 * vectors of a [tap][Cp] block (dw's sums, or an output channel's kernel) */
static inline __attribute__((always_inline)) void tap_offsets(int off[TAPS], int Wd, int Cp)
{
    for (int t = 0; t < TAPS; t++) off[t] = (t / 3 * Wd + t % 3) * Cp;
}

static inline __attribute__((always_inline)) void load_taps(vf r[TAPS][CBV], const float *src, int Cp, const int nv)
{
#pragma GCC unroll 9
    for (int t = 0; t < TAPS; t++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) LOAD(r[t][v], src + (size_t)t * Cp + VL * v);
}

/* dw's sums for nv (1 or 2, a constant where inlined) vectors of channels of one output
 * channel over m places: acc_mem ([tap][Cp], from the first vector) += the places' g times
 * xcl's 9 taps from each place */
static inline __attribute__((always_inline)) void weight_places_n(float *acc_mem, const float *xcl, int Wd,
                                                                  int Cp, const int32_t *at, const float *g,
                                                                  int m, const int nv)
{
    vf acc[TAPS][CBV];
    int off[TAPS];
    tap_offsets(off, Wd, Cp);
    load_taps(acc, acc_mem, Cp, nv);
    for (int e = 0; e < m; e++) {
        const float *base = xcl + at[e];
        float ge = g[e];
#pragma GCC unroll 9
        for (int t = 0; t < TAPS; t++)
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) {
                vf r;
                LOAD(r, base + off[t] + VL * v);
                acc[t][v] += ge * r;
            }
    }
#pragma GCC unroll 9
    for (int t = 0; t < TAPS; t++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) memcpy(acc_mem + (size_t)t * Cp + VL * v, &acc[t][v], sizeof(vf));
}

CN_MULTIVERSION CN_CONTRACT
static void weight_places(float *acc_mem, const float *xcl, int Wd, int Cp, const int32_t *at, const float *g,
                          int m, int nv)
{
    if (nv == 2) weight_places_n(acc_mem, xcl, Wd, Cp, at, g, m, 2);
    else weight_places_n(acc_mem, xcl, Wd, Cp, at, g, m, 1);
}

/* dx's channels-last padded plane += each of m places' g times one output channel's kernel
 * (wt_o: [tap][Cp]), nv vectors of channels from the first */
static inline __attribute__((always_inline)) void input_places_n(float *dxcl, const float *wt_o, int Wd, int Cp,
                                                                 const int32_t *at, const float *g, int m,
                                                                 const int nv)
{
    vf k[TAPS][CBV];
    int off[TAPS];
    tap_offsets(off, Wd, Cp);
    load_taps(k, wt_o, Cp, nv);
    for (int e = 0; e < m; e++) {
        float *base = dxcl + at[e];
        float ge = g[e];
#pragma GCC unroll 9
        for (int t = 0; t < TAPS; t++)
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) {
                vf r;
                LOAD(r, base + off[t] + VL * v);
                r += ge * k[t][v];
                memcpy(base + off[t] + VL * v, &r, sizeof r);
            }
    }
}

CN_MULTIVERSION CN_CONTRACT
static void input_places(float *dxcl, const float *wt_o, int Wd, int Cp, const int32_t *at, const float *g, int m,
                         int nv)
{
    if (nv == 2) input_places_n(dxcl, wt_o, Wd, Cp, at, g, m, 2);
    else input_places_n(dxcl, wt_o, Wd, Cp, at, g, m, 1);
}

static void sparse_share(void *ctx, int t, int T)
{
    const Sparse *s = ctx;
    const ConvShape *c = s->c;
    int C = c->C, H = c->H, W = c->W, O = c->O, p = c->p, Cp = s->Cp, Wd = s->Wd;
    size_t cl = s->pad_plane * Cp, per = (size_t)s->Hp * s->Wp, wn = (size_t)O * TAPS * Cp;
    float *buf = op_scratch(0, 2 * cl + 2 * per), *xcl = buf, *dxcl = buf + cl, *g = dxcl + cl;
    int32_t *at = (int32_t *)(void *)(g + per);
    float *part = s->part + (size_t)t * wn;
    if (s->dw) memset(part, 0, wn * sizeof *part);
    for (int n = (int)par_lo((size_t)c->N, t, T); n < (int)par_lo((size_t)c->N, t + 1, T); n++) {
        const float *xn = s->x + (size_t)n * C * H * W;
        if (s->dw) {
            memset(xcl, 0, cl * sizeof *xcl);
            for (int ch = 0; ch < C; ch++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                        xcl[((size_t)(h + p) * Wd + w + p) * Cp + ch] = xn[((size_t)ch * H + h) * W + w];
        }
        if (s->dx) memset(dxcl, 0, cl * sizeof *dxcl);
        for (int o = 0; o < O; o++) {
            int m = places(s, n, o, at, g);
            if (s->db) {
                double sum = 0;
                for (int e = 0; e < m; e++) sum += g[e];
                s->plane_sum[(size_t)n * O + o] = sum;
            }
            for (int v0 = 0; v0 < Cp / VL; v0 += CBV) {
                int nv = Cp / VL - v0 < CBV ? Cp / VL - v0 : CBV;
                if (s->dw)
                    weight_places(part + (size_t)o * TAPS * Cp + VL * v0, xcl + VL * v0, Wd, Cp, at, g, m, nv);
                if (s->dx)
                    input_places(dxcl + VL * v0, s->wt + (size_t)o * TAPS * Cp + VL * v0, Wd, Cp, at, g, m, nv);
            }
        }
        if (s->dx) {
            float *dxn = s->dx + (size_t)n * C * H * W;
            for (int ch = 0; ch < C; ch++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                        dxn[((size_t)ch * H + h) * W + w] = dxcl[((size_t)(h + p) * Wd + w + p) * Cp + ch];
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
    for (int o = (int)par_lo((size_t)O, t, T); o < (int)par_lo((size_t)O, t + 1, T); o++) {
        if (s->dw)
            for (int ch = 0; ch < C; ch++)
                for (int tap = 0; tap < TAPS; tap++) {
                    size_t i = ((size_t)o * TAPS + tap) * Cp + ch;
                    float sum = s->part[i];
                    for (int u = 1; u < S; u++) sum += s->part[(size_t)u * wn + i];
                    s->dw[((size_t)o * C + ch) * TAPS + tap] = sum;
                }
        if (s->db) {
            double sum = 0;
            for (int n = 0; n < c->N; n++) sum += s->plane_sum[(size_t)n * O + o];
            s->db[o] = (float)sum;
        }
    }
}

void conv2d_pool_sparse_backward(const ConvShape *c, float *dx, float *dw, float *db, const float *dy,
                                 const float *y, const int32_t *argmax, const float *x, const float *w, int Hp,
                                 int Wp)
{
    int O = c->O, C = c->C, T = par_threads();
    if (T > c->N) T = c->N > 0 ? c->N : 1;
    int Cp = (int)round16((size_t)C);
    size_t wn = (size_t)O * TAPS * Cp, nwt = dx ? wn : 0, npart = dw ? (size_t)T * wn : 0;
    size_t nsum = db ? (size_t)2 * c->N * O : 0, at = (nwt + npart + 1) / 2 * 2;
    float *shared = op_scratch(1, at + nsum), *wt = shared;
    if (dx) {
        memset(wt, 0, wn * sizeof *wt);
        for (int o = 0; o < O; o++)
            for (int ch = 0; ch < C; ch++)
                for (int tap = 0; tap < TAPS; tap++)
                    wt[((size_t)o * TAPS + tap) * Cp + ch] = w[((size_t)o * C + ch) * TAPS + tap];
    }
    Sparse s = { c, dx, dw, db, dy, y, x, wt, argmax, shared + nwt, (double *)(void *)(shared + at), Hp, Wp, Cp,
                 c->W + 2 * c->p, T, (size_t)(c->H + 2 * c->p) * (c->W + 2 * c->p) };
    par_run(T, sparse_share, &s);
    par_run(par_threads() < O ? par_threads() : O, sparse_sum, &s);
}
