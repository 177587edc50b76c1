/* runtime/ops/linear.c: Linear (y = x W^T + b) as one sgemm, with its two backward ops:
 * the gradient of the input and the gradients of the weight and bias. */
#include <string.h>

#include "../parallel.h"

#include "../ops.h"
#include "kernels.h"

/* y[N,out] = x[N,in] @ w[out,in]^T + b[out] */
void linear_forward(float *y, const float *x, const float *w, const float *b, int N, int in, int out)
{
    if (b)
        for (int n = 0; n < N; n++) memcpy(y + (size_t)n * out, b, (size_t)out * sizeof *y);
    par_sgemm(CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

/* dx[N,in] = dy[N,out] @ w[out,in] */
void linear_backward_input(float *dx, const float *dy, const float *w, int N, int in, int out)
{
    par_sgemm(CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

/* dw[out,in] = dy[N,out]^T @ x[N,in]; db[out] = sum over n of dy[n] */
void linear_backward_weight(float *dw, float *db, const float *dy, const float *x, int N, int in, int out)
{
    if (N == 0) memset(dw, 0, (size_t)out * in * sizeof *dw);
    else
        par_sgemm(CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, out, x, in, 0.0f, dw, in);
    if (!db) return;
    for (int o = 0; o < out; o++) {
        double sum = 0;
        for (int n = 0; n < N; n++) sum += dy[(size_t)n * out + o];
        db[o] = (float)sum;
    }
}

/* linear(x[N,in], w[out,in], b[out]?) -> y[N,out] */
static int linear_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 3, e) < 0 || op_expect(g, n, 0, "x (N x in_features)", DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "the weight (out_features x in_features)", DT_F32, 2, e) < 0 ||
        (n->nin == 3 && op_expect(g, n, 2, "the bias (out_features)", DT_F32, 1, e) < 0))
        return -1;
    const Value *x = &g->vals[n->in[0]], *w = &g->vals[n->in[1]];
    if (w->shape[1] != x->shape[1])
        return err_set(e, "linear expects %d input features, but the layer before it produces %d",
                       w->shape[1], x->shape[1]);
    if (n->nin == 3 && g->vals[n->in[2]].shape[0] != w->shape[0])
        return err_set(e, "linear: the bias has %d elements, but there are %d output features",
                       g->vals[n->in[2]].shape[0], w->shape[0]);
    int shape[2] = { x->shape[0], w->shape[0] };
    graph_output(g, n, DT_F32, 2, shape, x->batched);
    return 0;
}

static void linear_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape, *w = g->vals[n->in[1]].shape;
    linear_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                   n->nin == 3 ? vf32(g, n->in[2]) : NULL, x[0], x[1], w[0]);
}

/* dx = linear_backward_input(dy, w); dw (and db) = linear_backward_weight(dy, x) with
 * hint = the bias's shape [out] when there is a bias. */
static int linear_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0], w = n.in[1], b = n.nin == 3 ? n.in[2] : -1, dy = dout[0];
    if (dy < 0) return 0;
    if (g->vals[x].requires_grad) {
        int in[2] = { dy, w };
        int dx = graph_apply(g, OP_linear_backward_input, in, 2, NULL, e);
        if (dx < 0 || graph_accumulate_grad(g, x, dx, e) < 0) return -1;
    }
    int want_w = g->vals[w].requires_grad, want_b = b >= 0 && g->vals[b].requires_grad;
    if (want_w || want_b) {
        Attrs a = { 0 };
        a.hint_ndim = b >= 0 ? 1 : 0;
        a.hint[0] = g->vals[w].shape[0];
        int in[2] = { dy, x };
        int node = graph_add(g, OP_linear_backward_weight, in, 2, &a, e);
        if (node < 0) return -1;
        int dw = g->nodes[node].out[0], db = b >= 0 ? g->nodes[node].out[1] : -1;
        if (want_w && graph_accumulate_grad(g, w, dw, e) < 0) return -1;
        if (want_b && graph_accumulate_grad(g, b, db, e) < 0) return -1;
    }
    return 0;
}

const OpDef op_linear = { "linear", linear_infer, linear_run, linear_grad };

/* linear_backward_input(dy[N,out], w[out,in]) -> dx[N,in] */
static int backward_input_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy (N x out_features)", DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "the weight (out_features x in_features)", DT_F32, 2, e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]], *w = &g->vals[n->in[1]];
    if (dy->shape[1] != w->shape[0])
        return err_set(e, "linear_backward_input: dy has %d features, but the weight has %d outputs",
                       dy->shape[1], w->shape[0]);
    int shape[2] = { dy->shape[0], w->shape[1] };
    graph_output(g, n, DT_F32, 2, shape, dy->batched);
    return 0;
}

static void backward_input_run(Graph *g, const Node *n)
{
    const int *dy = g->vals[n->in[0]].shape, *w = g->vals[n->in[1]].shape;
    linear_backward_input(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]), dy[0], w[1], w[0]);
}

const OpDef op_linear_backward_input = { "linear_backward_input", backward_input_infer, backward_input_run, NULL };

/* linear_backward_weight(dy[N,out], x[N,in]) -> dw[out,in], and db[out] when the hint is
 * [out] (the layer has a bias) */
static int backward_weight_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy (N x out_features)", DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "x (N x in_features)", DT_F32, 2, e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]], *x = &g->vals[n->in[1]];
    int out = dy->shape[1];
    if (dy->shape[0] != x->shape[0])
        return err_set(e, "linear_backward_weight: dy has %d rows but x has %d", dy->shape[0], x->shape[0]);
    if (n->a.hint_ndim != 0 && (n->a.hint_ndim != 1 || n->a.hint[0] != out))
        return err_set(e, "linear_backward_weight: the hint must be the bias's shape [%d] or empty", out);
    int wshape[2] = { out, x->shape[1] };
    graph_output(g, n, DT_F32, 2, wshape, 0);
    if (n->a.hint_ndim == 1) graph_output(g, n, DT_F32, 1, &out, 0);
    return 0;
}

static void backward_weight_run(Graph *g, const Node *n)
{
    const int *dy = g->vals[n->in[0]].shape, *x = g->vals[n->in[1]].shape;
    linear_backward_weight(vf32(g, n->out[0]), n->nout == 2 ? vf32(g, n->out[1]) : NULL,
                           vf32(g, n->in[0]), vf32(g, n->in[1]), dy[0], x[1], dy[1]);
}

const OpDef op_linear_backward_weight = { "linear_backward_weight", backward_weight_infer, backward_weight_run, NULL };
