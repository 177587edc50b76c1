/* runtime/ops/conv2d_relu_maxpool2d.c: Conv2d -> ReLU -> MaxPool2d fused into one pass per
 * image (the convolution's output stays in a per-thread buffer while ReLU and the pooling
 * read it; strided convolutions, on im2col + sgemm, a band of rows at a time), and its
 * backward: the pooled gradient scattered to the argmax where ReLU let it through, then the
 * convolution's gradients. Where those run on the direct kernels, one
 * conv2d_relu_maxpool2d_backward node does it all: for 3 x 3 kernels over 8 or more
 * channels from the pooled gradient's places alone (conv2d_pool_sparse.c), otherwise
 * unpooling each image straight into the kernels' padded planes; elsewhere
 * relu_maxpool2d_backward, then the convolution's own backward ops. The fusion pass
 * (compiler/passes/fuse.c) puts the forward in place of the three nodes; the forward's results are
 * those of the three bit for bit but on the banded path (the sgemm's columns split
 * otherwise: within float rounding), and so are the backward's but on the sparse path (the
 * same sums in another order). */
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

typedef struct FusedForward {
    float *y;
    int32_t *argmax;
    const float *x, *w, *b;
    const ConvShape *c;
    int Hp, Wp, pk, ps, pp;
} FusedForward;

/* The pooling of g images' convolution output (plane o of image i at conv + o * cplane + i *
 * img, rows ws floats apart) into y's planes from image n0 on: a share of the g * O planes */
typedef struct PoolPlanes {
    const FusedForward *j;
    const float *conv;
    size_t cplane, img;
    int n0, g, ws;
} PoolPlanes;

static void pool_share(void *ctx, int t, int T)
{
    const PoolPlanes *q = ctx;
    const FusedForward *j = q->j;
    int O = j->c->O;
    size_t out = (size_t)j->Hp * j->Wp, planes = (size_t)q->g * O;
    for (size_t p = par_lo(planes, t, T); p < par_lo(planes, t + 1, T); p++) {
        int i = (int)(p / (size_t)O), o = (int)(p % (size_t)O);
        size_t plane = (size_t)(q->n0 + i) * O + o;
        maxpool2d_plane(j->y + plane * out, j->argmax + plane * out, q->conv + (size_t)o * q->cplane + i * q->img,
                        j->c->Ho, j->c->Wo, q->ws, j->pk, j->ps, j->pp, 1);
    }
}

/* Each share a run of groups of images (conv2d_group), convolved, then pooled; where one
 * share does it all (one image), the pooling too goes across the threads */
static void forward_share(void *ctx, int t, int T)
{
    const FusedForward *j = ctx;
    const ConvShape c = *j->c;
    int N = c.N, C = c.C, H = c.H, W = c.W, O = c.O;
    const float *x = j->x, *w = j->w, *b = j->b;
    int G = conv2d_group(&c), groups = (N + G - 1) / G;
    for (int gi = (int)par_lo((size_t)groups, t, T); gi < (int)par_lo((size_t)groups, t + 1, T); gi++) {
        int n0 = gi * G, g = N - n0 < G ? N - n0 : G;
        const float *xn = x + (size_t)n0 * C * H * W, *conv;
        size_t cplane = (size_t)c.P, img = 0;
        int ws = c.Wo;
        if (c.direct) conv = conv2d_forward_rows(&c, xn, g, w, b, &cplane, &ws, &img);
        else {
            float *buf = op_scratch(2, (size_t)O * c.P);
            conv2d_forward_image(&c, buf, xn, w, b);
            conv = buf;
        }
        PoolPlanes q = { j, conv, cplane, img, n0, g, ws };
        size_t work = (size_t)g * O * c.P;
        par_run(work >= 32768 ? par_threads() : 1, pool_share, &q);
    }
}

/* Columns of convolution output rows [a, b) of one image x (C x H x W): col[(ch*k + i)*k +
 * j][(oh - a)*Wo + ow] (rows ld floats apart) = x[ch][oh*s - p + i][ow*s - p + j], 0 in the
 * padding; stride 2 takes 8 columns at a time, the even floats of 16 */
CN_MULTIVERSION
static void band_cols(float *col, size_t ld, const float *x, const ConvShape *c, int a, int b)
{
    int k = c->k, s = c->s, p = c->p, H = c->H, W = c->W, Wo = c->Wo;
    for (int ch = 0; ch < c->C; ch++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                float *row = col + ((size_t)(ch * k + i) * k + j) * ld;
                /* ow range with 0 <= ow*s - p + j < W */
                int lo = p - j > 0 ? (p - j + s - 1) / s : 0;
                int hi = W - 1 + p - j >= 0 ? (W - 1 + p - j) / s + 1 : 0;
                if (hi > Wo) hi = Wo;
                if (lo > hi) lo = hi;
                for (int oh = a; oh < b; oh++) {
                    float *r = row + (size_t)(oh - a) * Wo;
                    int ih = oh * s - p + i, ow = lo;
                    if (ih < 0 || ih >= H) {
                        memset(r, 0, (size_t)Wo * sizeof *r);
                        continue;
                    }
                    const float *xr = x + ((size_t)ch * H + ih) * W + j - p;    /* xr[ow*s]: inside for ow in [lo, hi) */
                    memset(r, 0, (size_t)lo * sizeof *r);
                    if (s == 2)
                        for (; ow + VL8 <= hi && j - p + 2 * ow + 2 * VL8 <= W; ow += VL8) {
                            vf8 v0, v1;
                            memcpy(&v0, xr + 2 * ow, sizeof v0);
                            memcpy(&v1, xr + 2 * ow + VL8, sizeof v1);
                            vf8 e = __builtin_shufflevector(v0, v1, 0, 2, 4, 6, 8, 10, 12, 14);
                            memcpy(r + ow, &e, sizeof e);
                        }
                    for (; ow < hi; ow++) r[ow] = xr[(size_t)ow * s];
                    memset(r + hi, 0, (size_t)(Wo - hi) * sizeof *r);
                }
            }
}

/* Floats of im2col columns a band of the banded forward holds at most, unless that is less
 * than two pooled rows: resnet18's stem on one core (Zen 1, 512 KiB L2) took 10.6 ms in bands
 * of 2 or 3 pooled rows (3 here), 11.4-12.0 ms in bands of 4 to 14, 13.0 ms unbanded and
 * 23.3 ms in bands of 1 */
enum { BAND_FLOATS = 1 << 17 };

/* The forward of strided convolutions (im2col + sgemm: ResNet's stem) in bands of pooled
 * rows, each share a contiguous run of the batch's pooled rows, image by image: a band's
 * convolution rows are turned into columns, multiplied (sgemm, onto the bias) into a few
 * rows per plane, and pooled while in cache; the rows two bands' windows share are moved
 * up to be read again, not computed again. */
static void band_share(void *ctx, int t, int T)
{
    const FusedForward *j = ctx;
    const ConvShape *c = j->c;
    int Hp = j->Hp, Ho = c->Ho, Wo = c->Wo, O = c->O, K = c->K, pk = j->pk, ps = j->ps, pp = j->pp;
    size_t rows = (size_t)c->N * Hp, r = par_lo(rows, t, T), end = par_lo(rows, t + 1, T);
    size_t out = (size_t)Hp * j->Wp, xs = (size_t)c->C * c->H * c->W;
    int band = BAND_FLOATS / (K * Wo * ps);
    if (band < 2) band = 2;
    if (band > Hp) band = Hp;
    int most = (band - 1) * ps + pk;                      /* a band's rows of one plane at most */
    size_t ld = (size_t)(most < Ho ? most : Ho) * Wo;
    float *col = op_scratch(0, (size_t)K * ld), *conv = op_scratch(2, (size_t)O * ld);
    int img = -1, have0 = 0, have1 = 0;     /* conv holds rows [have0, have1) of image img */
    while (r < end) {
        int n = (int)(r / Hp), r0 = (int)(r % Hp), r1 = r0 + band;
        if (r1 > Hp) r1 = Hp;
        if ((size_t)(r1 - r0) > end - r) r1 = r0 + (int)(end - r);
        int c0 = r0 * ps - pp, c1 = (r1 - 1) * ps - pp + pk;     /* the rows their windows read */
        if (c0 < 0) c0 = 0;
        if (c1 > Ho) c1 = Ho;
        int kept = img == n && c0 < have1 ? have1 - c0 : 0;
        for (int o = 0; kept && o < O; o++)
            memmove(conv + o * ld, conv + o * ld + (size_t)(c0 - have0) * Wo, (size_t)kept * Wo * sizeof *conv);
        int m = c1 - c0 - kept;
        if (m > 0) {
            float *dst = conv + (size_t)kept * Wo;
            band_cols(col, (size_t)m * Wo, j->x + (size_t)n * xs, c, c0 + kept, c1);
            for (int o = 0; j->b && o < O; o++)
                for (size_t q = 0; q < (size_t)m * Wo; q++) dst[o * ld + q] = j->b[o];
            par_sgemm(CblasNoTrans, CblasNoTrans, O, m * Wo, K, 1.0f, j->w, K, col, m * Wo, j->b ? 1.0f : 0.0f, dst,
                      (int)ld);
        }
        img = n, have0 = c0, have1 = c1;
        for (int o = 0; o < O; o++) {
            size_t plane = (size_t)n * O + o;
            maxpool2d_rows(j->y + plane * out, j->argmax + plane * out, conv + o * ld, c0, Ho, Wo, Wo, pk, ps, pp, 1,
                           r0, r1);
        }
        r += (size_t)(r1 - r0);
    }
}

/* y, argmax [N,O,Hp,Wp] = maxpool(relu(conv2d(x[N,C,H,W], w, b))); argmax indexes the
 * Ho x Wo plane of the convolution's output */
void conv2d_relu_maxpool2d_forward(float *y, int32_t *argmax, const float *x, const float *w, const float *b,
                                   int N, int C, int H, int W, int O, int k, int stride, int pad,
                                   int pk, int ps, int pp)
{
    ConvShape c = conv_shape_pooled(N, C, H, W, O, k, stride, pad);
    int Hp = window_out_size(c.Ho, pk, ps, pp), Wp = window_out_size(c.Wo, pk, ps, pp);
    FusedForward j = { y, argmax, x, w, b, &c, Hp, Wp, pk, ps, pp };
    if (stride > 1) {       /* im2col + sgemm; at stride 1 (Fashion-MNIST's and the notebook's first
                             * layers) a whole image at once was as fast or faster */
        par_run(par_threads(), band_share, &j);
        return;
    }
    par_run(N > conv2d_group(&c) ? par_threads() : 1, forward_share, &j);
}

/* lanes of two 8-float vectors e, o that interleave them: e0 o0 e1 o1 ... (low, high half) */
#define LO 0, 8, 1, 9, 2, 10, 3, 11
#define HI 4, 12, 5, 13, 6, 14, 7, 15

/* d[0..nf) = v[0..nf), the rest of d[0..8) left as it is (v by address: a vector passed
 * by value would change the ABI between the clones) */
static inline __attribute__((always_inline)) void store8(float *d, const vf8 *v, int nf)
{
    vf8 r = *v;
    if (nf < VL8) {
        vf8 old;
        memcpy(&old, d, sizeof old);
        vi8 take = (vi8){ 0, 1, 2, 3, 4, 5, 6, 7 } < ((vi8){ 0 } + nf);
        r = (vf8)(((vi8)r & take) | ((vi8)old & ~take));
    }
    memcpy(d, &r, sizeof r);
}

/* 2 x 2 windows of stride 2 go 8 at a time on kernels.h's 8-lane vectors (as maxpool2d.c's
 * forward): each of a window's four places gets dy where the argmax is (and ReLU let it
 * through), else 0, and the even and odd places of a row are interleaved by shuffles.
 * d0[0..nf), d1[0..nf) (nf <= 16): the places of the windows dy[0..8) (y, a alike), whose
 * top-left corners are d0[0], d0[2], ..., d0[14] at argmax index base, base + 2, ...; the
 * argmax indexes rows Wo apart */
static inline __attribute__((always_inline)) void unpool_2x2(float *d0, float *d1, const float *dy,
                                                             const float *y, const int32_t *a, int32_t base,
                                                             int Wo, int nf)
{
    vf8 g, yv;
    vi8 at;
    memcpy(&g, dy, sizeof g);
    memcpy(&yv, y, sizeof yv);
    memcpy(&at, a, sizeof at);
    g = (vf8)((vi8)g & ~(yv <= 0.0f));                  /* as relu_backward: NaN passes */
    at -= base + (vi8){ 0, 2, 4, 6, 8, 10, 12, 14 };
    vf8 e0 = (vf8)((vi8)g & (at == 0)), o0 = (vf8)((vi8)g & (at == 1));
    vf8 e1 = (vf8)((vi8)g & (at == Wo)), o1 = (vf8)((vi8)g & (at == Wo + 1));
    /* four stores of one vector each (two vectors stored as one would stall on the stack) */
    int lo = nf < VL8 ? nf : VL8, hi = nf - lo;
    vf8 r0 = __builtin_shufflevector(e0, o0, LO), r1 = __builtin_shufflevector(e0, o0, HI);
    vf8 r2 = __builtin_shufflevector(e1, o1, LO), r3 = __builtin_shufflevector(e1, o1, HI);
    store8(d0, &r0, lo);
    store8(d0 + VL8, &r1, hi);
    store8(d1, &r2, lo);
    store8(d1 + VL8, &r3, hi);
}

/* One plane of dconv (Ho rows of Wo, ws floats apart) from the 2 x 2 pooled Hp x Wp, 8
 * windows a step (vl8_step). Rows of a plain plane (ws == Wo): a row wider than 8 windows
 * never writes past its rows; a narrower row is one step whose writes past the row's end
 * land on places the same plane writes again later. Rows of a padded layout (ws > Wo, at
 * least 16 floats readable after each row's start): only the rows' places are written, a
 * narrow row's step through masked stores. Either way the row and column no window covers
 * (odd sizes) are zeroed. A step that would read past the pooled plane, or write past a
 * plain plane, goes through local copies. */
static inline __attribute__((always_inline)) void unpool_plane_2x2(float *dp, int ws, const float *dyp,
                                                                   const float *yp, const int32_t *ap, int Ho,
                                                                   int Wo, int Hp, int Wp)
{
    int exact = ws > Wo;
    size_t in_end = (size_t)Hp * Wp, out_end = (size_t)Ho * Wo;
    for (int r = 0; r < Hp; r++) {
        float *d0 = dp + (size_t)2 * r * ws, *d1 = d0 + ws;
        for (int c0 = 0; c0 < Wp; c0 += VL8) {
            int c = vl8_step(c0, Wp), n = Wp - c < VL8 ? Wp - c : VL8;
            size_t i = (size_t)r * Wp + c;
            int32_t base = 2 * r * Wo + 2 * c;
            if (i + VL8 <= in_end && (exact || (size_t)(d1 - dp) + 2 * c + 2 * VL8 <= out_end)) {
                unpool_2x2(d0 + 2 * c, d1 + 2 * c, dyp + i, yp + i, ap + i, base, Wo, exact ? 2 * n : 2 * VL8);
                continue;
            }
            float dy[VL8] = { 0 }, y[VL8] = { 0 }, t0[2 * VL8], t1[2 * VL8];
            int32_t a[VL8] = { 0 };
            for (int l = 0; l < n; l++) {
                dy[l] = dyp[i + l];
                y[l] = yp[i + l];
                a[l] = ap[i + l];
            }
            unpool_2x2(t0, t1, dy, y, a, base, Wo, 2 * VL8);
            for (int l = 0; l < 2 * n; l++) {
                d0[2 * c + l] = t0[l];
                d1[2 * c + l] = t1[l];
            }
        }
        if (Wo > 2 * Wp) d0[Wo - 1] = d1[Wo - 1] = 0.0f;      /* odd width: last column */
    }
    if (Ho > 2 * Hp) memset(dp + (size_t)(Ho - 1) * ws, 0, (size_t)Wo * sizeof *dp);
}

/* nplanes planes of dconv (Ho rows of Wo, ws floats apart; planes dplane floats apart) =
 * 0, then dconv[argmax] += dy unless y <= 0 (ReLU's gradient at the maximum: y is the
 * ReLU'd maximum); 2 x 2 windows of stride 2 write each place once. Only the rows'
 * floats are written (and, where ws == Wo, up to 16 floats past a row within the plane). */
CN_MULTIVERSION
static void unpool_planes(float *dconv, size_t dplane, int ws, const float *dy, const float *y,
                          const int32_t *argmax, size_t nplanes, int Ho, int Wo, int Hp, int Wp, int pk, int ps,
                          int pp)
{
    int tiles = pk == 2 && ps == 2 && pp == 0;
    for (size_t plane = 0; plane < nplanes; plane++) {
        float *dp = dconv + plane * dplane;
        const float *dyp = dy + plane * Hp * Wp, *yp = y + plane * Hp * Wp;
        const int32_t *ap = argmax + plane * Hp * Wp;
        if (tiles) {
            unpool_plane_2x2(dp, ws, dyp, yp, ap, Ho, Wo, Hp, Wp);
            continue;
        }
        for (int h = 0; h < Ho; h++) memset(dp + (size_t)h * ws, 0, (size_t)Wo * sizeof *dp);
        for (int i = 0; i < Hp * Wp; i++)
            if (!(yp[i] <= 0.0f)) dp[(size_t)(ap[i] / Wo) * ws + ap[i] % Wo] += dyp[i];   /* NaN passes */
    }
}

typedef struct Unpool {
    float *dconv;
    const float *dy, *y;
    const int32_t *argmax;
    int O, Ho, Wo, Hp, Wp, pk, ps, pp;
    size_t planes;
} Unpool;

static void unpool_share(void *ctx, int t, int T)
{
    const Unpool *u = ctx;
    size_t in = (size_t)u->Hp * u->Wp, out = (size_t)u->Ho * u->Wo;
    size_t lo = par_lo(u->planes, t, T), hi = par_lo(u->planes, t + 1, T);
    unpool_planes(u->dconv + lo * out, out, u->Wo, u->dy + lo * in, u->y + lo * in, u->argmax + lo * in, hi - lo,
                  u->Ho, u->Wo, u->Hp, u->Wp, u->pk, u->ps, u->pp);
}

/* dconv[N,O,Ho,Wo] from dy, y, argmax [N,O,Hp,Wp]: each thread a contiguous share of the planes */
void relu_maxpool2d_backward(float *dconv, const float *dy, const float *y, const int32_t *argmax,
                             int N, int O, int Ho, int Wo, int Hp, int Wp, int pk, int ps, int pp)
{
    Unpool u = { dconv, dy, y, argmax, O, Ho, Wo, Hp, Wp, pk, ps, pp, (size_t)N * O };
    par_run(u.planes * Ho * Wo > 32768 ? par_threads() : 1, unpool_share, &u);
}

/* conv2d_backward_direct's dy for the fused backward: one image's dconv unpooled straight
 * into the padded planes of the direct kernels (Unpool without dconv) */

static void unpool_image(void *ctx, float *dst, size_t plane, int ws, int n)
{
    const Unpool *u = ctx;
    size_t first = (size_t)n * u->O * u->Hp * u->Wp;
    unpool_planes(dst, plane, ws, u->dy + first, u->y + first, u->argmax + first, (size_t)u->O, u->Ho, u->Wo,
                  u->Hp, u->Wp, u->pk, u->ps, u->pp);
}

void conv2d_relu_maxpool2d_backward(float *dx, float *dw, float *db, const float *dy, const float *y,
                                    const int32_t *argmax, const float *x, const float *w, int N, int C, int H,
                                    int W, int O, int k, int pad, int pk, int ps, int pp)
{
    ConvShape c = conv_shape_pooled(N, C, H, W, O, k, 1, pad);
    Unpool u = { NULL, dy, y, argmax, O, c.Ho, c.Wo, window_out_size(c.Ho, pk, ps, pp),
                 window_out_size(c.Wo, pk, ps, pp), pk, ps, pp, 0 };
    if (dw && conv2d_pool_sparse_ok(&c, x, dx ? w : NULL)) {
        conv2d_pool_sparse_backward(&c, dx, dw, db, dy, y, argmax, x, w, u.Hp, u.Wp, pk, ps, pp);
        return;
    }
    conv2d_backward_direct(&c, dx, dw, db, x, w, unpool_image, &u);
}

/* the pooling window over the convolution's Ho x Wo output */
static int pool_size(const Node *n, int Ho, int Wo, int *Hp, int *Wp, Error *e)
{
    const Attrs *a = &n->a;
    if (a->pool_kernel < 1 || a->pool_stride < 1 || a->pool_padding < 0 || a->pool_padding > a->pool_kernel / 2)
        return err_set(e, "%s: bad pooling window (kernel %d, stride %d, padding %d)", op_table[n->op]->name,
                       a->pool_kernel, a->pool_stride, a->pool_padding);
    *Hp = window_out_size(Ho, a->pool_kernel, a->pool_stride, a->pool_padding);
    *Wp = window_out_size(Wo, a->pool_kernel, a->pool_stride, a->pool_padding);
    if (*Hp < 1 || *Wp < 1)
        return err_set(e, "%s: a %dx%d pooling window does not fit the %dx%d convolution output",
                       op_table[n->op]->name, a->pool_kernel, a->pool_kernel, Ho, Wo);
    return 0;
}

/* conv2d_relu_maxpool2d(x, w, b?) -> y[N,O,Hp,Wp], argmax[N,O,Hp,Wp] (int32) */
static int fused_infer(Graph *g, Node *n, Error *e)
{
    int O, Ho, Wo, Hp, Wp;
    if (!conv2d_attrs_plain(&n->a))
        return err_set(e, "internal: conv2d_relu_maxpool2d takes square, undilated, ungrouped, zero-padded convolutions");
    if (conv2d_check(g, n, &O, &Ho, &Wo, e) < 0 || pool_size(n, Ho, Wo, &Hp, &Wp, e) < 0) return -1;
    const Value *x = &g->vals[n->in[0]];
    int shape[4] = { x->shape[0], O, Hp, Wp };
    graph_output(g, n, DT_F32, 4, shape, x->batched);
    graph_output(g, n, DT_I32, 4, shape, x->batched);
    return 0;
}

static void fused_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape;
    const Attrs *a = &n->a;
    conv2d_relu_maxpool2d_forward(vf32(g, n->out[0]), vi32(g, n->out[1]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                                  n->nin == 3 ? vf32(g, n->in[2]) : NULL, x[0], x[1], x[2], x[3],
                                  g->vals[n->in[1]].shape[0], a->kernel, a->stride, a->padding,
                                  a->pool_kernel, a->pool_stride, a->pool_padding);
}

/* Where the convolution's backward runs on the direct kernels and its weight wants a
 * gradient: one conv2d_relu_maxpool2d_backward node for dw (db, dx). Otherwise dconv =
 * relu_maxpool2d_backward(dy, y, argmax) with hint = the convolution's output shape, then
 * the convolution's backward rule on dconv. */
static int fused_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0) return 0;
    const Value *x = &g->vals[n.in[0]];
    int O = g->vals[n.in[1]].shape[0], b = n.nin == 3 ? n.in[2] : -1;
    ConvShape c = conv_shape_pooled(x->shape[0], x->shape[1], x->shape[2], x->shape[3], O, n.a.kernel, n.a.stride,
                                    n.a.padding);
    if (conv2d_backward_direct_ok(&c) && g->vals[n.in[1]].requires_grad) {
        int want_x = x->requires_grad, want_b = b >= 0 && g->vals[b].requires_grad;
        Attrs a = n.a;
        a.hint_ndim = b >= 0 ? 1 : 0;
        a.hint[0] = O;
        int in[5] = { dout[0], n.out[0], n.out[1], n.in[0], n.in[1] };
        int node = graph_add(g, OP_conv2d_relu_maxpool2d_backward, in, want_x ? 5 : 4, &a, e);
        if (node < 0) return -1;
        const Node *bn = &g->nodes[node];
        int dw = bn->out[0], db = b >= 0 ? bn->out[1] : -1, dx = want_x ? bn->out[bn->nout - 1] : -1;
        if (graph_accumulate_grad(g, n.in[1], dw, e) < 0) return -1;
        if (want_b && graph_accumulate_grad(g, b, db, e) < 0) return -1;
        if (want_x && graph_accumulate_grad(g, n.in[0], dx, e) < 0) return -1;
        return 0;
    }
    Attrs a = n.a;
    a.hint_ndim = 4;
    a.hint[0] = x->shape[0];
    a.hint[1] = O;
    a.hint[2] = c.Ho;
    a.hint[3] = c.Wo;
    int in[3] = { dout[0], n.out[0], n.out[1] };
    int dconv = graph_apply(g, OP_relu_maxpool2d_backward, in, 3, &a, e);
    if (dconv < 0) return -1;
    Node conv = n;
    conv.op = OP_conv2d;
    int d[CN_MAX_OUT] = { dconv, -1, -1 };
    return conv2d_grad(g, conv, d, e);
}

const OpDef op_conv2d_relu_maxpool2d = { "conv2d_relu_maxpool2d", fused_infer, fused_run, fused_grad };

/* relu_maxpool2d_backward(dy, y, argmax [N,O,Hp,Wp]) -> dconv[N, hint...]; hint is the
 * convolution's output shape */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 3, 3, e) < 0 || op_expect(g, n, 0, "dy (N x O x Hp x Wp)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 1, "y (N x O x Hp x Wp)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 2, "argmax (N x O x Hp x Wp)", DT_I32, 4, e) < 0 ||
        op_expect_same_shape(g, n, 0, "dy", 1, "y", e) < 0 || op_expect_same_shape(g, n, 0, "dy", 2, "argmax", e) < 0)
        return -1;
    if (n->a.hint_ndim != 4)
        return err_set(e, "relu_maxpool2d_backward needs the convolution's output shape as its hint");
    const Value *dy = &g->vals[n->in[0]];
    int Hp, Wp;
    if (pool_size(n, n->a.hint[2], n->a.hint[3], &Hp, &Wp, e) < 0) return -1;
    if (dy->shape[1] != n->a.hint[1] || dy->shape[2] != Hp || dy->shape[3] != Wp)
        return err_set(e, "relu_maxpool2d_backward: dy is %dx%dx%d, but pooling %dx%dx%d gives %dx%dx%d",
                       dy->shape[1], dy->shape[2], dy->shape[3], n->a.hint[1], n->a.hint[2], n->a.hint[3],
                       n->a.hint[1], Hp, Wp);
    int shape[4] = { dy->shape[0], n->a.hint[1], n->a.hint[2], n->a.hint[3] };
    graph_output(g, n, DT_F32, 4, shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    const int *d = g->vals[n->out[0]].shape, *dy = g->vals[n->in[0]].shape;
    relu_maxpool2d_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]), vi32(g, n->in[2]),
                            d[0], d[1], d[2], d[3], dy[2], dy[3], n->a.pool_kernel, n->a.pool_stride,
                            n->a.pool_padding);
}

const OpDef op_relu_maxpool2d_backward = { "relu_maxpool2d_backward", backward_infer, backward_run, NULL };

/* conv2d_relu_maxpool2d_backward(dy, y, argmax [N,O,Hp,Wp], x [N,C,H,W], w [O,C,k,k]?) ->
 * dw [O,C,k,k], then db [O] when the hint is [O] (the layer has a bias), then dx [N,C,H,W]
 * when w is given; for convolutions conv2d_backward_direct_ok accepts */
static int fused_backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 4, 5, e) < 0 || op_expect(g, n, 0, "dy (N x O x Hp x Wp)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 1, "y (N x O x Hp x Wp)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 2, "argmax (N x O x Hp x Wp)", DT_I32, 4, e) < 0 ||
        op_expect(g, n, 3, "x (N x C x H x W)", DT_F32, 4, e) < 0 ||
        (n->nin == 5 && op_expect(g, n, 4, "the weight (O x C x k x k)", DT_F32, 4, e) < 0) ||
        op_expect_same_shape(g, n, 0, "dy", 1, "y", e) < 0 || op_expect_same_shape(g, n, 0, "dy", 2, "argmax", e) < 0)
        return -1;
    const Attrs *a = &n->a;
    const Value *dy = &g->vals[n->in[0]], *x = &g->vals[n->in[3]];
    int N = x->shape[0], C = x->shape[1], O = dy->shape[1], k = a->kernel, Hp, Wp;
    ConvShape c = conv_shape_pooled(N, C, x->shape[2], x->shape[3], O, k, a->stride, a->padding);
    if (a->padding < 0 || !conv2d_backward_direct_ok(&c))
        return err_set(e, "conv2d_relu_maxpool2d_backward: needs stride 1, a kernel larger than 1x1 and padding "
                          "at most kernel-1, got kernel %d, stride %d, padding %d", k, a->stride, a->padding);
    if (c.Ho < 1 || c.Wo < 1 || pool_size(n, c.Ho, c.Wo, &Hp, &Wp, e) < 0)
        return c.Ho < 1 || c.Wo < 1 ? err_set(e, "conv2d_relu_maxpool2d_backward: a %dx%d kernel with padding %d "
                                                 "does not fit the %dx%d input", k, k, a->padding, x->shape[2],
                                              x->shape[3])
                                    : -1;
    if (dy->shape[0] != N || dy->shape[2] != Hp || dy->shape[3] != Wp)
        return err_set(e, "conv2d_relu_maxpool2d_backward: dy is %dx%dx%dx%d, but x %dx%dx%dx%d gives %dx%dx%dx%d",
                       dy->shape[0], O, dy->shape[2], dy->shape[3], N, C, x->shape[2], x->shape[3], N, O, Hp, Wp);
    int wshape[4] = { O, C, k, k };
    if (n->nin == 5 && memcmp(g->vals[n->in[4]].shape, wshape, sizeof wshape) != 0)
        return err_set(e, "conv2d_relu_maxpool2d_backward: the weight must be %dx%dx%dx%d", O, C, k, k);
    if (a->hint_ndim != 0 && (a->hint_ndim != 1 || a->hint[0] != O))
        return err_set(e, "conv2d_relu_maxpool2d_backward: the hint must be the bias's shape [%d] or empty", O);
    graph_output(g, n, DT_F32, 4, wshape, 0);
    if (a->hint_ndim == 1) graph_output(g, n, DT_F32, 1, &O, 0);
    if (n->nin == 5) graph_output(g, n, DT_F32, 4, x->shape, x->batched);
    return 0;
}

static void fused_backward_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[3]].shape;
    const Attrs *a = &n->a;
    conv2d_relu_maxpool2d_backward(n->nin == 5 ? vf32(g, n->out[n->nout - 1]) : NULL, vf32(g, n->out[0]),
                                   a->hint_ndim == 1 ? vf32(g, n->out[1]) : NULL, vf32(g, n->in[0]),
                                   vf32(g, n->in[1]), vi32(g, n->in[2]), vf32(g, n->in[3]),
                                   n->nin == 5 ? vf32(g, n->in[4]) : NULL, x[0], x[1], x[2], x[3],
                                   g->vals[n->in[0]].shape[1], a->kernel, a->padding, a->pool_kernel,
                                   a->pool_stride, a->pool_padding);
}

const OpDef op_conv2d_relu_maxpool2d_backward = { "conv2d_relu_maxpool2d_backward", fused_backward_infer,
                                                  fused_backward_run, NULL };
