/* runtime/ops/avgpool2d.c: AvgPool2d (torch.nn 1.13) and its backward.
 * avgpool2d(x[N,C,H,W]) -> y[N,C,Ho,Wo]. Attrs: the window (kernel, stride, padding, each
 * a square field or a pair; a stride of 0 is the kernel size, PyTorch's stride=None),
 * ceil_mode, count_include_pad (set it to 1 for PyTorch's default). PyTorch's rule: the
 * window rows oh*sh - ph .. + kh, clipped to H + ph, give the padded count; clipped to the
 * input they give the elements summed and, without count_include_pad, the divisor. An
 * empty window (ceil_mode's last, inside the padding) gives 0.
 * avgpool2d_backward(dy) -> dx[N, hint...] (hint: x's shape): dy / divisor to each
 * element of the window. */
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

static Window2d avg_window(const Attrs *a)
{
    Window2d w = attrs_window(a);
    if (w.sh == 0) w.sh = w.kh;
    if (w.sw == 0) w.sw = w.kw;
    w.dh = w.dw = 1;
    return w;
}

/* The clipped window of output o along one dim and its divisor's factor */
static void span(int o, int n, int k, int s, int p, int include_pad, int *lo, int *hi, int *count)
{
    int start = o * s - p, end = start + k < n + p ? start + k : n + p;
    int padded = end - start;
    if (start < 0) start = 0;
    if (end > n) end = n;
    *lo = start;
    *hi = end;
    *count = include_pad ? padded : end - start;
}

typedef struct Avg {
    float *out;
    const float *in;
    int N, C, H, W, Ho, Wo, include_pad, backward;
    Window2d k;
} Avg;

static void share(void *ctx, int t, int T)
{
    const Avg *j = ctx;
    size_t planes = (size_t)j->N * j->C, HW = (size_t)j->H * j->W, P = (size_t)j->Ho * j->Wo;
    for (size_t plane = par_lo(planes, t, T); plane < par_lo(planes, t + 1, T); plane++) {
        if (j->backward) memset(j->out + plane * HW, 0, HW * sizeof *j->out);
        for (int oh = 0; oh < j->Ho; oh++) {
            int h0, h1, ch;
            span(oh, j->H, j->k.kh, j->k.sh, j->k.ph, j->include_pad, &h0, &h1, &ch);
            for (int ow = 0; ow < j->Wo; ow++) {
                int w0, w1, cw;
                span(ow, j->W, j->k.kw, j->k.sw, j->k.pw, j->include_pad, &w0, &w1, &cw);
                size_t o = plane * P + (size_t)oh * j->Wo + ow;
                int empty = h0 >= h1 || w0 >= w1;
                double div = (double)ch * cw;
                if (j->backward) {
                    if (empty) continue;
                    float g = (float)(j->in[o] / div);
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) j->out[plane * HW + (size_t)ih * j->W + iw] += g;
                    continue;
                }
                double s = 0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) s += j->in[plane * HW + (size_t)ih * j->W + iw];
                j->out[o] = empty ? 0.0f : (float)(s / div);
            }
        }
    }
}

/* y[N,C,Ho,Wo] = the mean of each window of x[N,C,H,W] (see the file's top), sums in double */
void avgpool2d_forward(float *y, const float *x, int N, int C, int H, int W, int Ho, int Wo, Window2d k,
                       int count_include_pad)
{
    Avg j = { y, x, N, C, H, W, Ho, Wo, count_include_pad, 0, k };
    par_run((size_t)N * C * H * W > 32768 ? par_threads() : 1, share, &j);
}

/* dx[N,C,H,W] = 0, then dy / divisor added to each element of its window */
void avgpool2d_backward(float *dx, const float *dy, int N, int C, int H, int W, int Ho, int Wo, Window2d k,
                        int count_include_pad)
{
    Avg j = { dx, dy, N, C, H, W, Ho, Wo, count_include_pad, 1, k };
    par_run((size_t)N * C * H * W > 32768 ? par_threads() : 1, share, &j);
}

/* PyTorch's checks; the output size over H x W */
static int avg_size(const Node *n, int H, int W, int *Ho, int *Wo, Error *e)
{
    const char *op = op_table[n->op]->name;
    Window2d k = avg_window(&n->a);
    if (k.kh < 1 || k.kw < 1) return err_set(e, "%s: kernel size must be at least 1, got %dx%d", op, k.kh, k.kw);
    if (k.sh < 1 || k.sw < 1) return err_set(e, "%s: stride must be at least 1, got %dx%d", op, k.sh, k.sw);
    if (k.ph < 0 || k.pw < 0 || k.ph > k.kh / 2 || k.pw > k.kw / 2)
        return err_set(e, "%s: padding should be at most half of the kernel size (%dx%d), but got %dx%d", op,
                       k.kh / 2, k.kw / 2, k.ph, k.pw);
    *Ho = window_out_size_ex(H, k.kh, k.sh, k.ph, 1, n->a.ceil_mode);
    *Wo = window_out_size_ex(W, k.kw, k.sw, k.pw, 1, n->a.ceil_mode);
    if (*Ho < 1 || *Wo < 1)
        return err_set(e, "%s: a %dx%d window with padding %dx%d does not fit the %dx%d input", op, k.kh, k.kw, k.ph,
                       k.pw, H, W);
    return 0;
}

static int avgpool2d_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x (N x C x H x W)", DT_F32, 4, e) < 0)
        return -1;
    const Value *x = &g->vals[n->in[0]];
    int Ho, Wo;
    if (avg_size(n, x->shape[2], x->shape[3], &Ho, &Wo, e) < 0) return -1;
    int shape[4] = { x->shape[0], x->shape[1], Ho, Wo };
    graph_output(g, n, DT_F32, 4, shape, x->batched);
    return 0;
}

static void avgpool2d_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape, *y = g->vals[n->out[0]].shape;
    avgpool2d_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), x[0], x[1], x[2], x[3], y[2], y[3],
                      avg_window(&n->a), n->a.count_include_pad);
}

static int avgpool2d_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0];
    if (dout[0] < 0 || !g->vals[x].requires_grad) return 0;
    Attrs a = n.a;
    a.hint_ndim = 4;
    memcpy(a.hint, g->vals[x].shape, sizeof a.hint);
    int dx = graph_apply(g, OP_avgpool2d_backward, &dout[0], 1, &a, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, x, dx, e);
}

const OpDef op_avgpool2d = { "avgpool2d", avgpool2d_infer, avgpool2d_run, avgpool2d_grad };

static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "dy (N x C x Ho x Wo)", DT_F32, 4, e) < 0)
        return -1;
    if (n->a.hint_ndim != 4) return err_set(e, "avgpool2d_backward needs x's shape (4 dims) as its hint");
    const Value *dy = &g->vals[n->in[0]];
    const int *hint = n->a.hint;
    int Ho, Wo;
    if (avg_size(n, hint[2], hint[3], &Ho, &Wo, e) < 0) return -1;
    if (dy->shape[1] != hint[1] || dy->shape[2] != Ho || dy->shape[3] != Wo)
        return err_set(e, "avgpool2d_backward: dy is %dx%dx%d, but x gives %dx%dx%d", dy->shape[1], dy->shape[2],
                       dy->shape[3], hint[1], Ho, Wo);
    int shape[4] = { dy->shape[0], hint[1], hint[2], hint[3] };
    graph_output(g, n, DT_F32, 4, shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    const int *dx = g->vals[n->out[0]].shape, *dy = g->vals[n->in[0]].shape;
    avgpool2d_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), dx[0], dx[1], dx[2], dx[3], dy[2], dy[3],
                       avg_window(&n->a), n->a.count_include_pad);
}

const OpDef op_avgpool2d_backward = { "avgpool2d_backward", backward_infer, backward_run, NULL };
