/* runtime/ops/relu.c: ReLU and its backward (PyTorch's threshold_backward on the result). */
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

typedef struct Relu { float *out; const float *a, *b; size_t n; } Relu;

/* y[lo, hi) = relu(x) and dx[lo, hi) = relu_backward(dy, y): 8 lanes at a time, no branch
 * per element (a branch on the sign of the data mispredicts half the time) */
CN_MULTIVERSION static void relu_span(float *y, const float *x, size_t lo, size_t hi)
{
    size_t i = lo;
    for (; i + VL8 <= hi; i += VL8) {
        vf8 v;
        memcpy(&v, x + i, sizeof v);
        v = RELU8(v);
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < hi; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

CN_MULTIVERSION static void relu_grad_span(float *dx, const float *dy, const float *y, size_t lo, size_t hi)
{
    size_t i = lo;
    for (; i + VL8 <= hi; i += VL8) {
        vf8 d, v;
        memcpy(&d, dy + i, sizeof d);
        memcpy(&v, y + i, sizeof v);
        d = RELU_GRAD8(d, v);
        memcpy(dx + i, &d, sizeof d);
    }
    for (; i < hi; i++) {
        float d = dy[i];
        dx[i] = y[i] <= 0.0f ? 0.0f : d;
    }
}

static void forward_share(void *ctx, int t, int T)
{
    const Relu *j = ctx;
    relu_span(j->out, j->a, par_lo(j->n, t, T), par_lo(j->n, t + 1, T));
}

/* y[n] = max(x, 0); NaN stays NaN, as torch.relu */
void relu_forward(float *y, const float *x, size_t n)
{
    Relu j = { y, x, NULL, n };
    par_run(n > 32768 ? par_threads() : 1, forward_share, &j);
}

static void backward_share(void *ctx, int t, int T)
{
    const Relu *j = ctx;
    relu_grad_span(j->out, j->a, j->b, par_lo(j->n, t, T), par_lo(j->n, t + 1, T));
}

/* dx[n] = dy where y > 0, else 0 (y is relu's result) */
void relu_backward(float *dx, const float *dy, const float *y, size_t n)
{
    Relu j = { dx, dy, y, n };
    par_run(n > 32768 ? par_threads() : 1, backward_share, &j);
}

/* relu(x) -> y, same shape */
static int relu_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x", DT_F32, 0, e) < 0) return -1;
    const Value *x = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    return 0;
}

static void relu_run(Graph *g, const Node *n)
{
    relu_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), value_numel(&g->vals[n->in[0]]));
}

/* dx = relu_backward(dy, y) */
static int relu_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0 || !g->vals[n.in[0]].requires_grad) return 0;
    int in[2] = { dout[0], n.out[0] };
    int dx = graph_apply(g, OP_relu_backward, in, 2, NULL, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, n.in[0], dx, e);
}

const OpDef op_relu = { "relu", relu_infer, relu_run, relu_grad };

/* relu_backward(dy, y) -> dx, all the same shape */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1, "y", DT_F32, 0, e) < 0 || op_expect_same_shape(g, n, 0, "dy", 1, "y", e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, dy->ndim, dy->shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    relu_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                  value_numel(&g->vals[n->in[0]]));
}

const OpDef op_relu_backward = { "relu_backward", backward_infer, backward_run, NULL };
