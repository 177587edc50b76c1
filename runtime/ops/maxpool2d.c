/* runtime/ops/maxpool2d.c: MaxPool2d (window, stride, -inf padding, dilation, ceil_mode)
 * with the argmax it saves, and its backward (scatter-add of dy at the argmax). Square,
 * undilated windows without ceil_mode take the original kernels; the others a direct scan
 * (maxpool2d_general_forward). */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* 2 x 2 windows of stride 2 run on kernels.h's 8-lane vectors: 8 windows of one row at a
 * time, the even and odd columns of its two rows split apart by shuffles. PyTorch's scan
 * over v0 v1 v2 v3 (a new max when v > max or v is NaN) equals the tree
 * take(take(v0, v1), take(v2, v3)) of the same rule: with no NaN the first maximum wins at
 * every step, else the last NaN does. Selects, not branches: the data is random. */
#define EVENS 0, 2, 4, 6, 8, 10, 12, 14
#define ODDS 1, 3, 5, 7, 9, 11, 13, 15
/* b where the mask m is set, else a */
#define SELECT(m, b, a) ((vf8)(((vi8)(b) & (m)) | ((vi8)(a) & ~(m))))
/* the scan's rule: b replaces a when b > a or b is NaN */
#define TAKES(b, a) (((b) > (a)) | ((b) != (b)))

/* y[0..8), a[0..8) of the windows whose top-left corners are r0[0], r0[2], ..., r0[14];
 * r1 is the row below. a = base + the window's offset (2 * lane, +1, +W, +W+1). */
static inline __attribute__((always_inline)) void window_2x2(float *y, int32_t *a, const float *r0,
                                                             const float *r1, int32_t base, int W, int relu)
{
    vf8 a0, a1, b0, b1;
    memcpy(&a0, r0, sizeof a0);
    memcpy(&a1, r0 + VL8, sizeof a1);
    memcpy(&b0, r1, sizeof b0);
    memcpy(&b1, r1 + VL8, sizeof b1);
    vf8 v0 = __builtin_shufflevector(a0, a1, EVENS), v1 = __builtin_shufflevector(a0, a1, ODDS);
    vf8 v2 = __builtin_shufflevector(b0, b1, EVENS), v3 = __builtin_shufflevector(b0, b1, ODDS);
    vi8 t01 = TAKES(v1, v0), t23 = TAKES(v3, v2);
    vf8 m01 = SELECT(t01, v1, v0), m23 = SELECT(t23, v3, v2);
    vi8 t = TAKES(m23, m01);
    vf8 max = SELECT(t, m23, m01);
    vi8 at0 = t01 & 1, at1 = (t23 & 1) + W;
    vi8 at = ((at1 & t) | (at0 & ~t)) + base + (vi8){ EVENS };
    if (relu) max = (vf8)((vi8)max & ~(max < 0.0f));     /* relu(max): NaN stays NaN */
    memcpy(y, &max, sizeof max);
    memcpy(a, &at, sizeof at);
}

/* MaxPool2d(2): 2 x 2 windows, stride 2, no padding, over H x W with rows ws floats apart
 * (argmax offset by a0: the plane's place in a larger one).
 * Each row goes 8 windows at a time (vl8_step); a narrow row's step writes past the row's
 * end onto outputs of later rows, written again when their turn comes. A step that would
 * read past the plane's last row or write past its last output goes through local copies. With relu, ReLU is applied to each
 * window's maximum, which equals the maximum of the ReLU'd window (NaN included); only the
 * argmax of a window whose values are all <= 0 can differ from ReLU-then-pool's first zero,
 * and there the output is 0 and no gradient flows back (relu_maxpool2d_backward). */
CN_MULTIVERSION
static void plane_2x2(float *yp, int32_t *ap, const float *xp, int H, int W, int ws, int32_t a0, int relu)
{
    int Ho = H / 2, Wo = W / 2;
    size_t in_end = (size_t)(H - 1) * ws + W, out_end = (size_t)Ho * Wo;
    for (int oh = 0; oh < Ho; oh++)
        for (int ow0 = 0; ow0 < Wo; ow0 += VL8) {
            int ow = vl8_step(ow0, Wo);
            const float *r0 = xp + (size_t)2 * oh * ws + 2 * ow;
            size_t o = (size_t)oh * Wo + ow;
            int32_t base = a0 + 2 * oh * W + 2 * ow;
            if ((size_t)(r0 - xp) + ws + 2 * VL8 <= in_end && o + VL8 <= out_end) {
                window_2x2(yp + o, ap + o, r0, r0 + ws, base, W, relu);
                continue;
            }
            int n = Wo - ow < VL8 ? Wo - ow : VL8;
            float t0[2 * VL8] = { 0 }, t1[2 * VL8] = { 0 }, y[VL8];
            int32_t a[VL8];
            memcpy(t0, r0, (size_t)2 * n * sizeof *t0);
            memcpy(t1, r0 + ws, (size_t)2 * n * sizeof *t1);
            window_2x2(y, a, t0, t1, base, W, relu);
            for (int i = 0; i < n; i++) {
                yp[o + i] = y[i];
                ap[o + i] = a[i];
            }
        }
}

/* One window, rows [h0, h1) and columns [w0, w1) of x (inside it; x's rows from row0 on at
 * xp), by PyTorch's scan: row by row, a new max when val > max or val is NaN, starting from
 * -inf at the first element (so the first max wins, and a window of -inf gives its first
 * element); with relu, on relu(val). */
static inline void window_scan(float *y, int32_t *a, const float *xp, int row0, int W, int ws, int h0, int h1,
                               int w0, int w1, int relu)
{
    float max = -INFINITY;
    int32_t at = h0 * W + w0;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++) {
            float v = xp[(size_t)(ih - row0) * ws + iw];
            if (relu && v < 0.0f) v = 0.0f;     /* relu(v): NaN stays NaN */
            if (v > max || isnan(v)) {
                max = v;
                at = ih * W + iw;
            }
        }
    *y = max;
    *a = at;
}

/* The three columns of one row of 8 windows 3 wide, stride 2, whose left columns are r[0],
 * r[2], ..., r[14] (r[0..17) read): their maximum by the scan's rule (c0, then c1, then c2)
 * and its column in the window (0, 1, 2); with relu, of the ReLU'd values. */
static inline __attribute__((always_inline)) void row_3s2(vf8 *max, vi8 *col, const float *r, int relu)
{
    vf8 a0, a1, tail = (vf8){ 0 } + r[2 * VL8];
    memcpy(&a0, r, sizeof a0);
    memcpy(&a1, r + VL8, sizeof a1);
    vf8 c0 = __builtin_shufflevector(a0, a1, EVENS), c1 = __builtin_shufflevector(a0, a1, ODDS);
    vf8 c2 = __builtin_shufflevector(c0, tail, 1, 2, 3, 4, 5, 6, 7, 8);
    if (relu) {
        c0 = RELU8(c0);
        c1 = RELU8(c1);
        c2 = RELU8(c2);
    }
    vi8 t1 = TAKES(c1, c0);
    vf8 m = SELECT(t1, c1, c0);
    vi8 t2 = TAKES(c2, m);
    *max = SELECT(t2, c2, m);
    *col = (t2 & 2) | (t1 & 1 & ~t2);
}

/* MaxPool2d(3, 2, padding 0 or 1) (ResNet's stem), output rows [oh0, oh1) of an H x W plane
 * whose rows from row0 on lie at xp, ws floats apart: the windows wholly inside their rows 8
 * at a time (a row's last step overlapping the one before it), each of a window's rows
 * inside x by row_3s2, the rows then merged by the scan's rule (the tree rule above); the
 * windows over a left or right padding column, and every window of a row narrower than 8
 * windows, by window_scan. */
CN_MULTIVERSION
static void plane_3x3s2(float *yp, int32_t *ap, const float *xp, int row0, int H, int W, int ws, int pad, int relu,
                        int oh0, int oh1)
{
    int Wo = window_out_size(W, 3, 2, pad);
    int lo = (pad + 1) / 2, hi = (W - 3 + pad) / 2 + 1;  /* [lo, hi): 0 <= 2 ow - pad, 2 ow - pad + 2 < W */
    if (hi > Wo) hi = Wo;
    if (hi - lo < VL8) lo = hi = Wo;
    for (int oh = oh0; oh < oh1; oh++) {
        int h0 = 2 * oh - pad, h1 = h0 + 3 < H ? h0 + 3 : H;
        if (h0 < 0) h0 = 0;
        float *y = yp + (size_t)oh * Wo;
        int32_t *a = ap + (size_t)oh * Wo;
        for (int ow = 0; ow < Wo; ow++) {
            if (ow == lo) ow = hi;
            if (ow >= Wo) break;
            int w0 = 2 * ow - pad, w1 = w0 + 3 < W ? w0 + 3 : W;
            window_scan(y + ow, a + ow, xp, row0, W, ws, h0, h1, w0 < 0 ? 0 : w0, w1, relu);
        }
        for (int ow0 = lo; ow0 < hi; ow0 += VL8) {
            int ow = ow0 + VL8 > hi ? hi - VL8 : ow0, w0 = 2 * ow - pad;
            vf8 max, m;
            vi8 at, col;
            row_3s2(&max, &col, xp + (size_t)(h0 - row0) * ws + w0, relu);
            at = col + h0 * W;
            for (int ih = h0 + 1; ih < h1; ih++) {
                row_3s2(&m, &col, xp + (size_t)(ih - row0) * ws + w0, relu);
                vi8 t = TAKES(m, max);
                max = SELECT(t, m, max);
                at = ((col + ih * W) & t) | (at & ~t);
            }
            at += w0 + (vi8){ EVENS };
            memcpy(y + ow, &max, sizeof max);
            memcpy(a + ow, &at, sizeof at);
        }
    }
}

/* y[n][c][oh][ow] = max of x[n][c] over rows oh*s-p .. +k, cols ow*s-p .. +k (inside x);
 * argmax = ih*W + iw of that max (window_scan's rule). Output rows [oh0, oh1). */
void maxpool2d_rows(float *yp, int32_t *ap, const float *xp, int row0, int H, int W, int ws, int k, int stride,
                    int pad, int relu, int oh0, int oh1)
{
    int Wo = window_out_size(W, k, stride, pad);
    if (k == 2 && stride == 2 && pad == 0) {
        plane_2x2(yp + (size_t)oh0 * Wo, ap + (size_t)oh0 * Wo, xp + (size_t)(2 * oh0 - row0) * ws, 2 * (oh1 - oh0),
                  W, ws, 2 * oh0 * W, relu);
        return;
    }
    if (k == 3 && stride == 2 && pad <= 1) {
        plane_3x3s2(yp, ap, xp, row0, H, W, ws, pad, relu, oh0, oh1);
        return;
    }
    for (int oh = oh0; oh < oh1; oh++) {
        int h0 = oh * stride - pad, h1 = h0 + k < H ? h0 + k : H;
        if (h0 < 0) h0 = 0;
        for (int ow = 0; ow < Wo; ow++) {
            int w0 = ow * stride - pad, w1 = w0 + k < W ? w0 + k : W;
            window_scan(yp + (size_t)oh * Wo + ow, ap + (size_t)oh * Wo + ow, xp, row0, W, ws, h0, h1,
                        w0 < 0 ? 0 : w0, w1, relu);
        }
    }
}

void maxpool2d_plane(float *yp, int32_t *ap, const float *xp, int H, int W, int ws, int k, int stride, int pad,
                     int relu)
{
    maxpool2d_rows(yp, ap, xp, 0, H, W, ws, k, stride, pad, relu, 0, window_out_size(H, k, stride, pad));
}

/* The general window: rows oh*sh - ph + i*dh for i < kh inside x (PyTorch's: the first
 * row inside, then every dh-th), likewise columns; the same scan and argmax rule. */
static void plane_general(float *yp, int32_t *ap, const float *xp, int H, int W, int Ho, int Wo, Window2d k)
{
    for (int oh = 0; oh < Ho; oh++) {
        int h0 = oh * k.sh - k.ph, h1 = h0 + (k.kh - 1) * k.dh + 1;
        if (h1 > H) h1 = H;
        while (h0 < 0) h0 += k.dh;
        for (int ow = 0; ow < Wo; ow++) {
            int w0 = ow * k.sw - k.pw, w1 = w0 + (k.kw - 1) * k.dw + 1;
            if (w1 > W) w1 = W;
            while (w0 < 0) w0 += k.dw;
            float max = -INFINITY;
            int32_t at = h0 * W + w0;
            for (int ih = h0; ih < h1; ih += k.dh)
                for (int iw = w0; iw < w1; iw += k.dw) {
                    float v = xp[(size_t)ih * W + iw];
                    if (v > max || isnan(v)) {
                        max = v;
                        at = ih * W + iw;
                    }
                }
            yp[(size_t)oh * Wo + ow] = max;
            ap[(size_t)oh * Wo + ow] = at;
        }
    }
}

typedef struct Pool {
    float *y;
    int32_t *am;
    const float *x;
    const int32_t *cam;
    int N, C, H, W, k, stride, pad, Ho, Wo;
    Window2d win;
    int general;
} Pool;

static void forward_share(void *ctx, int t, int T)
{
    const Pool *j = ctx;
    size_t in = (size_t)j->H * j->W, out = (size_t)j->Ho * j->Wo, planes = (size_t)j->N * j->C;
    for (size_t plane = par_lo(planes, t, T); plane < par_lo(planes, t + 1, T); plane++)
        if (j->general)
            plane_general(j->y + plane * out, j->am + plane * out, j->x + plane * in, j->H, j->W, j->Ho, j->Wo,
                          j->win);
        else
            maxpool2d_plane(j->y + plane * out, j->am + plane * out, j->x + plane * in, j->H, j->W, j->W, j->k, j->stride,
                        j->pad, 0);
}

void maxpool2d_forward(float *y, int32_t *argmax, const float *x,
                       int N, int C, int H, int W, int k, int stride, int pad)
{
    Pool j = { y, argmax, x, NULL, N, C, H, W, k, stride, pad, window_out_size(H, k, stride, pad),
               window_out_size(W, k, stride, pad), { 0 }, 0 };
    par_run((size_t)N * C * H * W > 32768 ? par_threads() : 1, forward_share, &j);
}

/* y, argmax[N,C,Ho,Wo] of x[N,C,H,W] under window k (pairs, dilation), Ho x Wo from
 * window_out_size_ex with or without ceil_mode */
void maxpool2d_general_forward(float *y, int32_t *argmax, const float *x, int N, int C, int H, int W, int Ho, int Wo,
                               Window2d k)
{
    Pool j = { y, argmax, x, NULL, N, C, H, W, 0, 0, 0, Ho, Wo, k, 1 };
    par_run((size_t)N * C * H * W > 32768 ? par_threads() : 1, forward_share, &j);
}

static void backward_share(void *ctx, int t, int T)
{
    const Pool *j = ctx;
    int H = j->H, W = j->W, Ho = j->Ho, Wo = j->Wo;
    float *dx = j->y;
    const float *dy = j->x;
    const int32_t *argmax = j->cam;
    size_t planes = (size_t)j->N * j->C;
    for (size_t plane = par_lo(planes, t, T); plane < par_lo(planes, t + 1, T); plane++) {
        float *dxp = dx + plane * H * W;
        memset(dxp, 0, (size_t)H * W * sizeof *dxp);
        const float *dyp = dy + plane * Ho * Wo;
        const int32_t *ap = argmax + plane * Ho * Wo;
        for (int i = 0; i < Ho * Wo; i++) dxp[ap[i]] += dyp[i];
    }
}

/* dx[N,C,H,W] = 0, then dx[n][c][argmax] += dy[n][c][oh][ow] for every output position */
void maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                        int N, int C, int H, int W, int Ho, int Wo)
{
    Pool j = { dx, NULL, dy, argmax, N, C, H, W, 0, 0, 0, Ho, Wo, { 0 }, 0 };
    par_run((size_t)N * C * H * W > 32768 ? par_threads() : 1, backward_share, &j);
}

/* Both forms of the window attributes from whichever the caller set (as conv2d.c) */
static void normalize_attrs(Attrs *a)
{
    Window2d w = attrs_window(a);
    a->kernel_hw[0] = w.kh, a->kernel_hw[1] = w.kw;
    a->stride_hw[0] = w.sh, a->stride_hw[1] = w.sw;
    a->padding_hw[0] = w.ph, a->padding_hw[1] = w.pw;
    a->dilation_hw[0] = w.dh, a->dilation_hw[1] = w.dw;
    if (w.kh == w.kw) a->kernel = w.kh;
    if (w.sh == w.sw) a->stride = w.sh;
    if (w.ph == w.pw) a->padding = w.ph;
}

/* Checks the window attributes against PyTorch's rules; gives the output size over H x W. */
static int pool_window(const Node *n, int H, int W, int *Ho, int *Wo, Error *e)
{
    const Attrs *a = &n->a;
    const char *op = op_table[n->op]->name;
    Window2d k = attrs_window(a);
    int square = k.kh == k.kw && k.sh == k.sw && k.ph == k.pw;
    if (square && k.dh == 1 && k.dw == 1 && !a->ceil_mode) {
        if (a->kernel < 1) return err_set(e, "%s: kernel size must be at least 1, got %d", op, a->kernel);
        if (a->stride < 1) return err_set(e, "%s: stride must be at least 1, got %d", op, a->stride);
        if (a->padding < 0 || a->padding > a->kernel / 2)
            return err_set(e, "%s: padding should be at most half of the kernel size (%d), but got %d",
                           op, a->kernel / 2, a->padding);
        *Ho = window_out_size(H, a->kernel, a->stride, a->padding);
        *Wo = window_out_size(W, a->kernel, a->stride, a->padding);
        if (*Ho < 1 || *Wo < 1)
            return err_set(e, "%s: a %dx%d window with padding %d does not fit the %dx%d input",
                           op, a->kernel, a->kernel, a->padding, H, W);
        return 0;
    }
    if (k.kh < 1 || k.kw < 1) return err_set(e, "%s: kernel size must be at least 1, got %dx%d", op, k.kh, k.kw);
    if (k.sh < 1 || k.sw < 1) return err_set(e, "%s: stride must be at least 1, got %dx%d", op, k.sh, k.sw);
    if (k.dh < 1 || k.dw < 1) return err_set(e, "%s: dilation must be at least 1, got %dx%d", op, k.dh, k.dw);
    if (k.ph < 0 || k.pw < 0 || k.ph > k.kh / 2 || k.pw > k.kw / 2)
        return err_set(e, "%s: padding should be at most half of the kernel size (%dx%d), but got %dx%d", op,
                       k.kh / 2, k.kw / 2, k.ph, k.pw);
    *Ho = window_out_size_ex(H, k.kh, k.sh, k.ph, k.dh, a->ceil_mode);
    *Wo = window_out_size_ex(W, k.kw, k.sw, k.pw, k.dw, a->ceil_mode);
    if (*Ho < 1 || *Wo < 1)
        return err_set(e, "%s: a %dx%d window with padding %dx%d and dilation %dx%d does not fit the %dx%d input",
                       op, k.kh, k.kw, k.ph, k.pw, k.dh, k.dw, H, W);
    return 0;
}

/* maxpool2d(x[N,C,H,W]) -> y[N,C,Ho,Wo], argmax[N,C,Ho,Wo] (int32) */
static int maxpool2d_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x (N x C x H x W)", DT_F32, 4, e) < 0)
        return -1;
    normalize_attrs(&n->a);
    const Value *x = &g->vals[n->in[0]];
    int Ho, Wo;
    if (pool_window(n, x->shape[2], x->shape[3], &Ho, &Wo, e) < 0) return -1;
    int shape[4] = { x->shape[0], x->shape[1], Ho, Wo }, batched = x->batched;
    graph_output(g, n, DT_F32, 4, shape, batched);
    graph_output(g, n, DT_I32, 4, shape, batched);
    return 0;
}

static void maxpool2d_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape;
    if (!maxpool2d_attrs_plain(&n->a)) {
        const int *y = g->vals[n->out[0]].shape;
        maxpool2d_general_forward(vf32(g, n->out[0]), vi32(g, n->out[1]), vf32(g, n->in[0]), x[0], x[1], x[2], x[3],
                                  y[2], y[3], attrs_window(&n->a));
        return;
    }
    maxpool2d_forward(vf32(g, n->out[0]), vi32(g, n->out[1]), vf32(g, n->in[0]),
                      x[0], x[1], x[2], x[3], n->a.kernel, n->a.stride, n->a.padding);
}

/* dx = maxpool2d_backward(dy, argmax) with hint = x's shape */
static int maxpool2d_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0];
    if (dout[0] < 0 || !g->vals[x].requires_grad) return 0;
    Attrs a = n.a;
    a.hint_ndim = 4;
    memcpy(a.hint, g->vals[x].shape, sizeof a.hint);
    int in[2] = { dout[0], n.out[1] };
    int dx = graph_apply(g, OP_maxpool2d_backward, in, 2, &a, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, x, dx, e);
}

const OpDef op_maxpool2d = { "maxpool2d", maxpool2d_infer, maxpool2d_run, maxpool2d_grad };

/* maxpool2d_backward(dy[N,C,Ho,Wo], argmax[N,C,Ho,Wo]) -> dx[N, hint...]; hint is x's shape */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy (N x C x Ho x Wo)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 1, "argmax (N x C x Ho x Wo)", DT_I32, 4, e) < 0 ||
        op_expect_same_shape(g, n, 0, "dy", 1, "argmax", e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]];
    const int *hint = n->a.hint;
    if (n->a.hint_ndim != 4)
        return err_set(e, "maxpool2d_backward needs x's shape (4 dims) as its hint, got %d dims", n->a.hint_ndim);
    int Ho, Wo;
    if (pool_window(n, hint[2], hint[3], &Ho, &Wo, e) < 0) return -1;
    if (dy->shape[1] != hint[1] || dy->shape[2] != Ho || dy->shape[3] != Wo)
        return err_set(e, "maxpool2d_backward: dy is %dx%dx%d, but pooling %dx%dx%d gives %dx%dx%d",
                       dy->shape[1], dy->shape[2], dy->shape[3], hint[1], hint[2], hint[3], hint[1], Ho, Wo);
    int shape[4] = { dy->shape[0], hint[1], hint[2], hint[3] };
    graph_output(g, n, DT_F32, 4, shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    const int *dx = g->vals[n->out[0]].shape, *dy = g->vals[n->in[0]].shape;
    maxpool2d_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vi32(g, n->in[1]),
                       dx[0], dx[1], dx[2], dx[3], dy[2], dy[3]);
}

const OpDef op_maxpool2d_backward = { "maxpool2d_backward", backward_infer, backward_run, NULL };
