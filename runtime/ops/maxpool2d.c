/* runtime/ops/maxpool2d.c: MaxPool2d (square window, stride, -inf padding) with the argmax
 * it saves, and its backward (scatter-add of dy at the argmax). */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "kernels.h"

/* y[n][c][oh][ow] = max of x[n][c] over rows oh*s-p .. +k, cols ow*s-p .. +k (inside x);
 * argmax = ih*W + iw of that max. PyTorch's scan: row by row, a new max when val > max or
 * val is NaN, starting from -inf at the first element inside x (so the first max wins, and
 * a window of -inf gives its first element). */
/* one row of 2 x 2 windows: the scan of maxpool2d_plane with selects instead of branches
 * (the data is random, branches would mispredict), vectorised across the row */
static inline void row_2x2(float *restrict y, int32_t *restrict a, const float *restrict r0, const float *restrict r1,
                           int Wo, int32_t base, int W)
{
#pragma omp simd
    for (int ow = 0; ow < Wo; ow++) {
        float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
        float max = v0;                  /* > -inf, or -inf itself: either way the first wins */
        int32_t at = 0;
        int take = (v1 > max) | (v1 != v1);
        max = take ? v1 : max;
        at = take ? 1 : at;
        take = (v2 > max) | (v2 != v2);
        max = take ? v2 : max;
        at = take ? W : at;
        take = (v3 > max) | (v3 != v3);
        max = take ? v3 : max;
        at = take ? W + 1 : at;
        y[ow] = max;
        a[ow] = base + 2 * ow + at;
    }
}

/* MaxPool2d(2): 2 x 2 windows, stride 2, no padding. With relu, ReLU is applied to each
 * window's maximum, which equals the maximum of the ReLU'd window (NaN included); only the
 * argmax of a window whose values are all <= 0 can differ from ReLU-then-pool's first zero,
 * and there the output is 0 and no gradient flows back (relu_maxpool2d_backward). */
CN_MULTIVERSION
static void plane_2x2(float *yp, int32_t *ap, const float *xp, int H, int W, int ws, int relu)
{
    int Ho = H / 2, Wo = W / 2;
    for (int oh = 0; oh < Ho; oh++) {
        const float *r0 = xp + (size_t)2 * oh * ws;
        float *y = yp + oh * Wo;
        row_2x2(y, ap + oh * Wo, r0, r0 + ws, Wo, 2 * oh * W, W);
        if (relu)
#pragma omp simd
            for (int ow = 0; ow < Wo; ow++) y[ow] = y[ow] < 0.0f ? 0.0f : y[ow];
    }
}

void maxpool2d_plane(float *yp, int32_t *ap, const float *xp, int H, int W, int ws, int k, int stride, int pad,
                     int relu)
{
    if (k == 2 && stride == 2 && pad == 0) {
        plane_2x2(yp, ap, xp, H, W, ws, relu);
        return;
    }
    int Ho = window_out_size(H, k, stride, pad), Wo = window_out_size(W, k, stride, pad);
    for (int oh = 0; oh < Ho; oh++) {
        int h0 = oh * stride - pad, h1 = h0 + k < H ? h0 + k : H;
        if (h0 < 0) h0 = 0;
        for (int ow = 0; ow < Wo; ow++) {
            int w0 = ow * stride - pad, w1 = w0 + k < W ? w0 + k : W;
            if (w0 < 0) w0 = 0;
            float max = -INFINITY;
            int32_t at = h0 * W + w0;
            for (int ih = h0; ih < h1; ih++)
                for (int iw = w0; iw < w1; iw++) {
                    float v = xp[(size_t)ih * ws + iw];
                    if (relu && v < 0.0f) v = 0.0f;     /* relu(v): NaN stays NaN */
                    if (v > max || isnan(v)) {
                        max = v;
                        at = ih * W + iw;
                    }
                }
            yp[oh * Wo + ow] = max;
            ap[oh * Wo + ow] = at;
        }
    }
}

void maxpool2d_forward(float *y, int32_t *argmax, const float *x,
                       int N, int C, int H, int W, int k, int stride, int pad)
{
    size_t in = (size_t)H * W, out = (size_t)window_out_size(H, k, stride, pad) * window_out_size(W, k, stride, pad);
#pragma omp parallel for schedule(static) if ((size_t)N * C * H * W > 32768)
    for (size_t plane = 0; plane < (size_t)N * C; plane++)
        maxpool2d_plane(y + plane * out, argmax + plane * out, x + plane * in, H, W, W, k, stride, pad, 0);
}

/* dx[N,C,H,W] = 0, then dx[n][c][argmax] += dy[n][c][oh][ow] for every output position */
void maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                        int N, int C, int H, int W, int Ho, int Wo)
{
#pragma omp parallel for schedule(static) if ((size_t)N * C * H * W > 32768)
    for (size_t plane = 0; plane < (size_t)N * C; plane++) {
        float *dxp = dx + plane * H * W;
        memset(dxp, 0, (size_t)H * W * sizeof *dxp);
        const float *dyp = dy + plane * Ho * Wo;
        const int32_t *ap = argmax + plane * Ho * Wo;
        for (int i = 0; i < Ho * Wo; i++) dxp[ap[i]] += dyp[i];
    }
}

/* Checks the window attributes against PyTorch's rules; gives the output size over H x W. */
static int pool_window(const Node *n, int H, int W, int *Ho, int *Wo, Error *e)
{
    const Attrs *a = &n->a;
    const char *op = op_table[n->op]->name;
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

/* maxpool2d(x[N,C,H,W]) -> y[N,C,Ho,Wo], argmax[N,C,Ho,Wo] (int32) */
static int maxpool2d_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x (N x C x H x W)", DT_F32, 4, e) < 0)
        return -1;
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
