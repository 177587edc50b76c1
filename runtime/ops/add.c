/* runtime/ops/add.c: elementwise sum of two tensors of one shape: a residual connection
 * `out + x` (differentiable: dy goes to both inputs, summed when they are one value), and
 * how autodiff accumulates the gradients of a value read twice; add_relu, relu(a + b) in
 * one pass (the residual's F.relu(out + x), fused for training graphs); and
 * add_relu_maxpool2d, the MaxPool2d of that, a plane at a time without the sum in memory. */
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

typedef struct Add { float *y; const float *a, *b; size_t n; int relu; } Add;

/* y[lo, hi) = a + b, then ReLU (NaN kept) when relu is set; 8 lanes at a time */
CN_MULTIVERSION static void add_span(float *y, const float *a, const float *b, size_t lo, size_t hi, int relu)
{
    size_t i = lo;
    for (; i + VL8 <= hi; i += VL8) {
        vf8 u, v;
        memcpy(&u, a + i, sizeof u);
        memcpy(&v, b + i, sizeof v);
        u += v;
        if (relu) u = RELU8(u);
        memcpy(y + i, &u, sizeof u);
    }
    for (; i < hi; i++) {
        float s = a[i] + b[i];
        y[i] = relu && s < 0.0f ? 0.0f : s;
    }
}

static void add_share(void *ctx, int t, int T)
{
    const Add *j = ctx;
    add_span(j->y, j->a, j->b, par_lo(j->n, t, T), par_lo(j->n, t + 1, T), j->relu);
}

/* y[n] = a + b */
void add_forward(float *y, const float *a, const float *b, size_t n)
{
    Add j = { y, a, b, n, 0 };
    par_run(n > 32768 ? par_threads() : 1, add_share, &j);
}

/* y[n] = relu(a + b): the residual's F.relu(out + x) in one pass */
void add_relu_forward(float *y, const float *a, const float *b, size_t n)
{
    Add j = { y, a, b, n, 1 };
    par_run(n > 32768 ? par_threads() : 1, add_share, &j);
}

/* add(a, b) -> y, all the same shape */
static int add_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "a", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1, "b", DT_F32, 0, e) < 0 || op_expect_same_shape(g, n, 0, "a", 1, "b", e) < 0)
        return -1;
    const Value *a = &g->vals[n->in[0]], *b = &g->vals[n->in[1]];
    if (a->batched != b->batched)
        return err_set(e, "add expects a and b both batched or both not");
    graph_output(g, n, DT_F32, a->ndim, a->shape, a->batched);
    return 0;
}

static void add_run(Graph *g, const Node *n)
{
    (n->op == OP_add_relu ? add_relu_forward : add_forward)(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]), value_numel(&g->vals[n->in[0]]));
}

/* da = dy, db = dy */
static int add_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0) return 0;
    for (int i = 0; i < 2; i++)
        if (g->vals[n.in[i]].requires_grad && graph_accumulate_grad(g, n.in[i], dout[0], e) < 0) return -1;
    return 0;
}

const OpDef op_add = { "add", add_infer, add_run, add_grad };

/* da = db = relu_backward(dy, y) */
static int add_relu_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0 || !(g->vals[n.in[0]].requires_grad || g->vals[n.in[1]].requires_grad)) return 0;
    int in[2] = { dout[0], n.out[0] };
    int d = graph_apply(g, OP_relu_backward, in, 2, NULL, e);
    if (d < 0) return -1;
    for (int i = 0; i < 2; i++)
        if (g->vals[n.in[i]].requires_grad && graph_accumulate_grad(g, n.in[i], d, e) < 0) return -1;
    return 0;
}

/* add_relu(a, b) -> relu(a + b): add then relu in one pass (compiler/passes/fuse.c's
 * fuse_training_graph), add's shape rule */
const OpDef op_add_relu = { "add_relu", add_infer, add_run, add_relu_grad };

typedef struct AddPool {
    float *y;
    int32_t *argmax;
    const float *a, *b;
    int H, W, k, stride, pad;
    size_t planes;
} AddPool;

/* share t of the planes: relu(a + b) into scratch (one plane, in L1), then its MaxPool2d */
static void add_pool_share(void *ctx, int t, int T)
{
    const AddPool *j = ctx;
    size_t in = (size_t)j->H * j->W, out = (size_t)window_out_size(j->H, j->k, j->stride, j->pad) *
                                            window_out_size(j->W, j->k, j->stride, j->pad);
    float *sum = op_scratch(2, in);
    for (size_t plane = par_lo(j->planes, t, T); plane < par_lo(j->planes, t + 1, T); plane++) {
        add_span(sum, j->a + plane * in, j->b + plane * in, 0, in, 1);
        maxpool2d_plane(j->y + plane * out, j->argmax + plane * out, sum, j->H, j->W, j->W, j->k, j->stride, j->pad,
                        0);
    }
}

/* y, argmax[N,C,Ho,Wo] = maxpool2d(relu(a + b)) over a, b [N,C,H,W] (k, stride, pad as
 * maxpool2d_forward): the same floats and argmax as add_relu_forward then maxpool2d_forward */
void add_relu_maxpool2d_forward(float *y, int32_t *argmax, const float *a, const float *b, int N, int C, int H, int W,
                                int k, int stride, int pad)
{
    AddPool j = { y, argmax, a, b, H, W, k, stride, pad, (size_t)N * C };
    par_run(j.planes * H * W > 32768 ? par_threads() : 1, add_pool_share, &j);
}

/* add_relu_maxpool2d(a, b [N,C,H,W]) -> y, argmax [N,C,Ho,Wo]; Attrs kernel, stride,
 * padding: the MaxPool2d's (plain) */
static int add_pool_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "a (N x C x H x W)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 1, "b (N x C x H x W)", DT_F32, 4, e) < 0 || op_expect_same_shape(g, n, 0, "a", 1, "b", e) < 0)
        return -1;
    if (!maxpool2d_attrs_plain(&n->a) || n->a.padding > n->a.kernel / 2)
        return err_set(e, "internal: add_relu_maxpool2d takes a plain MaxPool2d window");
    const Value *a = &g->vals[n->in[0]];
    int Ho = window_out_size(a->shape[2], n->a.kernel, n->a.stride, n->a.padding);
    int Wo = window_out_size(a->shape[3], n->a.kernel, n->a.stride, n->a.padding);
    if (Ho < 1 || Wo < 1)
        return err_set(e, "add_relu_maxpool2d: a %dx%d window does not fit %dx%d", n->a.kernel, n->a.kernel,
                       a->shape[2], a->shape[3]);
    int shape[4] = { a->shape[0], a->shape[1], Ho, Wo };
    graph_output(g, n, DT_F32, 4, shape, a->batched);
    graph_output(g, n, DT_I32, 4, shape, a->batched);
    return 0;
}

static void add_pool_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape;
    add_relu_maxpool2d_forward(vf32(g, n->out[0]), vi32(g, n->out[1]), vf32(g, n->in[0]), vf32(g, n->in[1]), x[0],
                               x[1], x[2], x[3], n->a.kernel, n->a.stride, n->a.padding);
}

/* da = db = relu_maxpool2d_backward(dy, y, argmax) with hint = a's shape: unpooled where
 * the window's maximum is positive */
static int add_pool_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0 || !(g->vals[n.in[0]].requires_grad || g->vals[n.in[1]].requires_grad)) return 0;
    Attrs a = { 0 };
    a.hint_ndim = 4;
    memcpy(a.hint, g->vals[n.in[0]].shape, sizeof a.hint);
    a.pool_kernel = n.a.kernel;
    a.pool_stride = n.a.stride;
    a.pool_padding = n.a.padding;
    int in[3] = { dout[0], n.out[0], n.out[1] };
    int d = graph_apply(g, OP_relu_maxpool2d_backward, in, 3, &a, e);
    if (d < 0) return -1;
    for (int i = 0; i < 2; i++)
        if (g->vals[n.in[i]].requires_grad && graph_accumulate_grad(g, n.in[i], d, e) < 0) return -1;
    return 0;
}

/* add_relu then a plain MaxPool2d that alone reads its result (fuse_training_graph) */
const OpDef op_add_relu_maxpool2d = { "add_relu_maxpool2d", add_pool_infer, add_pool_run, add_pool_grad };
