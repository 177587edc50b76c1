/* runtime/ops/adaptive_pool2d.c: AdaptiveAvgPool2d and AdaptiveMaxPool2d (torch.nn 1.13)
 * and their backward ops. Attrs out_hw: the output H x W. Output row o of Ho over H reads
 * rows floor(o*H/Ho) .. ceil((o+1)*H/Ho) (PyTorch's start and end index rule), likewise
 * columns.
 * adaptive_avgpool2d(x[N,C,H,W]) -> y[N,C,Ho,Wo], the window's mean (sum in double);
 * adaptive_avgpool2d_backward(dy) -> dx[N, hint...] (hint: x's shape), dy / count to each
 * element of the window.
 * adaptive_maxpool2d(x) -> y, argmax[N,C,Ho,Wo] (int32, ih*W + iw; PyTorch's scan: a new
 * max when v > max or v is NaN); adaptive_maxpool2d_backward(dy, argmax) -> dx (hint: x's
 * shape), maxpool2d_backward's scatter-add. */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

static int start_index(int o, int out, int n) { return (int)((long)o * n / out); }
static int end_index(int o, int out, int n) { return (int)(((long)(o + 1) * n + out - 1) / out); }

typedef struct Ad {
    float *out;
    int32_t *am;
    const float *in;
    int N, C, H, W, Ho, Wo, mode;       /* 0 avg forward, 1 avg backward, 2 max forward */
} Ad;

static void share(void *ctx, int t, int T)
{
    const Ad *j = ctx;
    size_t planes = (size_t)j->N * j->C, HW = (size_t)j->H * j->W, P = (size_t)j->Ho * j->Wo;
    for (size_t plane = par_lo(planes, t, T); plane < par_lo(planes, t + 1, T); plane++) {
        if (j->mode == 1) memset(j->out + plane * HW, 0, HW * sizeof *j->out);
        for (int oh = 0; oh < j->Ho; oh++) {
            int h0 = start_index(oh, j->Ho, j->H), h1 = end_index(oh, j->Ho, j->H);
            for (int ow = 0; ow < j->Wo; ow++) {
                int w0 = start_index(ow, j->Wo, j->W), w1 = end_index(ow, j->Wo, j->W);
                size_t o = plane * P + (size_t)oh * j->Wo + ow;
                const float *xp = j->in + plane * HW;
                if (j->mode == 0) {
                    double s = 0;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) s += xp[(size_t)ih * j->W + iw];
                    j->out[o] = (float)(s / ((double)(h1 - h0) * (w1 - w0)));
                } else if (j->mode == 1) {
                    float g = (float)(j->in[o] / ((double)(h1 - h0) * (w1 - w0)));
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) j->out[plane * HW + (size_t)ih * j->W + iw] += g;
                } else {
                    float max = -INFINITY;
                    int32_t at = h0 * j->W + w0;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) {
                            float v = xp[(size_t)ih * j->W + iw];
                            if (v > max || isnan(v)) {
                                max = v;
                                at = ih * j->W + iw;
                            }
                        }
                    j->out[o] = max;
                    j->am[o] = at;
                }
            }
        }
    }
}

static void run(Ad *j)
{
    par_run((size_t)j->N * j->C * j->H * j->W > 32768 ? par_threads() : 1, share, j);
}

/* y[N,C,Ho,Wo] = the mean of each adaptive window of x[N,C,H,W] */
void adaptive_avgpool2d_forward(float *y, const float *x, int N, int C, int H, int W, int Ho, int Wo)
{
    Ad j = { y, NULL, x, N, C, H, W, Ho, Wo, 0 };
    run(&j);
}

/* dx[N,C,H,W] = 0, then dy / the window's count added over each window */
void adaptive_avgpool2d_backward(float *dx, const float *dy, int N, int C, int H, int W, int Ho, int Wo)
{
    Ad j = { dx, NULL, dy, N, C, H, W, Ho, Wo, 1 };
    run(&j);
}

/* y, argmax[N,C,Ho,Wo] = the max of each adaptive window and where it is in the H x W plane */
void adaptive_maxpool2d_forward(float *y, int32_t *argmax, const float *x, int N, int C, int H, int W, int Ho,
                                int Wo)
{
    Ad j = { y, argmax, x, N, C, H, W, Ho, Wo, 2 };
    run(&j);
}

static int check_out(const Node *n, Error *e)
{
    if (n->a.out_hw[0] < 1 || n->a.out_hw[1] < 1)
        return err_set(e, "%s: the output size must be at least 1x1, got %dx%d", op_table[n->op]->name,
                       n->a.out_hw[0], n->a.out_hw[1]);
    return 0;
}

static int adaptive_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x (N x C x H x W)", DT_F32, 4, e) < 0 ||
        check_out(n, e) < 0)
        return -1;
    const Value *x = &g->vals[n->in[0]];
    int shape[4] = { x->shape[0], x->shape[1], n->a.out_hw[0], n->a.out_hw[1] };
    graph_output(g, n, DT_F32, 4, shape, x->batched);
    if (n->op == OP_adaptive_maxpool2d) graph_output(g, n, DT_I32, 4, shape, x->batched);
    return 0;
}

static void avg_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape;
    adaptive_avgpool2d_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), x[0], x[1], x[2], x[3], n->a.out_hw[0],
                               n->a.out_hw[1]);
}

static void max_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape;
    adaptive_maxpool2d_forward(vf32(g, n->out[0]), vi32(g, n->out[1]), vf32(g, n->in[0]), x[0], x[1], x[2], x[3],
                               n->a.out_hw[0], n->a.out_hw[1]);
}

/* dx = adaptive_*pool2d_backward(dy [, argmax]) with hint = x's shape */
static int adaptive_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0];
    if (dout[0] < 0 || !g->vals[x].requires_grad) return 0;
    Attrs a = n.a;
    a.hint_ndim = 4;
    memcpy(a.hint, g->vals[x].shape, sizeof a.hint);
    int max = n.op == OP_adaptive_maxpool2d;
    int in[2] = { dout[0], max ? n.out[1] : -1 };
    int dx = graph_apply(g, max ? OP_adaptive_maxpool2d_backward : OP_adaptive_avgpool2d_backward, in, max ? 2 : 1,
                         &a, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, x, dx, e);
}

const OpDef op_adaptive_avgpool2d = { "adaptive_avgpool2d", adaptive_infer, avg_run, adaptive_grad };
const OpDef op_adaptive_maxpool2d = { "adaptive_maxpool2d", adaptive_infer, max_run, adaptive_grad };

static int backward_infer(Graph *g, Node *n, Error *e)
{
    int max = n->op == OP_adaptive_maxpool2d_backward;
    if (op_expect_inputs(g, n, 1 + max, 1 + max, e) < 0 ||
        op_expect(g, n, 0, "dy (N x C x Ho x Wo)", DT_F32, 4, e) < 0 ||
        (max && (op_expect(g, n, 1, "argmax (N x C x Ho x Wo)", DT_I32, 4, e) < 0 ||
                 op_expect_same_shape(g, n, 0, "dy", 1, "argmax", e) < 0)) ||
        check_out(n, e) < 0)
        return -1;
    if (n->a.hint_ndim != 4) return err_set(e, "%s needs x's shape (4 dims) as its hint", op_table[n->op]->name);
    const Value *dy = &g->vals[n->in[0]];
    if (dy->shape[1] != n->a.hint[1] || dy->shape[2] != n->a.out_hw[0] || dy->shape[3] != n->a.out_hw[1])
        return err_set(e, "%s: dy is %dx%dx%d, expected %dx%dx%d", op_table[n->op]->name, dy->shape[1], dy->shape[2],
                       dy->shape[3], n->a.hint[1], n->a.out_hw[0], n->a.out_hw[1]);
    int shape[4] = { dy->shape[0], n->a.hint[1], n->a.hint[2], n->a.hint[3] };
    graph_output(g, n, DT_F32, 4, shape, dy->batched);
    return 0;
}

static void avg_backward_run(Graph *g, const Node *n)
{
    const int *dx = g->vals[n->out[0]].shape, *dy = g->vals[n->in[0]].shape;
    adaptive_avgpool2d_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), dx[0], dx[1], dx[2], dx[3], dy[2], dy[3]);
}

static void max_backward_run(Graph *g, const Node *n)
{
    const int *dx = g->vals[n->out[0]].shape, *dy = g->vals[n->in[0]].shape;
    maxpool2d_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vi32(g, n->in[1]), dx[0], dx[1], dx[2], dx[3], dy[2],
                       dy[3]);
}

const OpDef op_adaptive_avgpool2d_backward = { "adaptive_avgpool2d_backward", backward_infer, avg_backward_run,
                                               NULL };
const OpDef op_adaptive_maxpool2d_backward = { "adaptive_maxpool2d_backward", backward_infer, max_backward_run,
                                               NULL };
