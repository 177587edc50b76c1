/* runtime/ops/softmax.c: Softmax(dim=1) and LogSoftmax(dim=1) and their backward rules,
 * over x[N, C, inner...] (N x K for class scores; any dims after the first two are
 * `inner`, each position normalised over C on its own, as torch does with dim=1).
 *
 *   softmax(x) -> y                      log_softmax(x) -> y          same shape as x
 *   softmax_backward(dy, y) -> dx        log_softmax_backward(dy, y) -> dx
 *
 * Both backward rules read the result y, as torch's do. No Attrs. */
#include <math.h>

#include "../ops.h"
#include "kernels.h"

/* One column of C values, `stride` floats apart: the max subtracted, the sum in double.
 * A NaN anywhere in the column makes the sum, so the whole column, NaN, as in torch. */
static void softmax_column(float *y, const float *x, int C, size_t stride, int log_form)
{
    float max = x[0];
    for (int c = 1; c < C; c++)
        if (x[c * stride] > max) max = x[c * stride];
    double sum = 0;
    for (int c = 0; c < C; c++) sum += exp((double)x[c * stride] - max);
    if (log_form) {
        double lse = log(sum);
        for (int c = 0; c < C; c++) y[c * stride] = (float)((double)x[c * stride] - max - lse);
    } else {
        for (int c = 0; c < C; c++) y[c * stride] = (float)(exp((double)x[c * stride] - max) / sum);
    }
}

/* y = softmax (or log_softmax) of x[N, C, inner] over C */
void softmax_forward(float *y, const float *x, int N, int C, size_t inner, int log_form)
{
    for (int n = 0; n < N; n++)
        for (size_t i = 0; i < inner; i++) {
            size_t at = (size_t)n * C * inner + i;
            softmax_column(y + at, x + at, C, inner, log_form);
        }
}

/* softmax:     dx = y * (dy - sum_c dy * y)
 * log_softmax: dx = dy - exp(y) * sum_c dy       (sums over C in double) */
void softmax_backward(float *dx, const float *dy, const float *y, int N, int C, size_t inner, int log_form)
{
    for (int n = 0; n < N; n++)
        for (size_t i = 0; i < inner; i++) {
            size_t at = (size_t)n * C * inner + i;
            const float *d = dy + at, *r = y + at;
            float *o = dx + at;
            double sum = 0;
            for (int c = 0; c < C; c++) sum += log_form ? (double)d[c * inner] : (double)d[c * inner] * r[c * inner];
            float s = (float)sum;
            for (int c = 0; c < C; c++)
                o[c * inner] = log_form ? d[c * inner] - expf(r[c * inner]) * s : r[c * inner] * (d[c * inner] - s);
        }
}

/* N, C and inner of a value of at least 2 dims */
static void dims(const Value *v, int *N, int *C, size_t *inner)
{
    *N = v->shape[0];
    *C = v->shape[1];
    *inner = 1;
    for (int d = 2; d < v->ndim; d++) *inner *= (size_t)v->shape[d];
}

/* softmax(x) -> y, same shape, x of at least 2 dims */
static int softmax_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x", DT_F32, 0, e) < 0) return -1;
    const Value *x = &g->vals[n->in[0]];
    if (x->ndim < 2 || x->shape[1] < 1) {
        char s[64];
        shape_str(x, 0, s, sizeof s);
        return err_set(e, "%s over dim 1 expects a batch of at least 2 dims, but x is %s", op_table[n->op]->name, s);
    }
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    return 0;
}

static void softmax_run(Graph *g, const Node *n)
{
    int N, C;
    size_t inner;
    dims(&g->vals[n->in[0]], &N, &C, &inner);
    softmax_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), N, C, inner, n->op == OP_log_softmax);
}

/* dx = (log_)softmax_backward(dy, y) */
static int softmax_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0 || !g->vals[n.in[0]].requires_grad) return 0;
    int in[2] = { dout[0], n.out[0] };
    int dx = graph_apply(g, n.op == OP_log_softmax ? OP_log_softmax_backward : OP_softmax_backward, in, 2, NULL, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, n.in[0], dx, e);
}

/* (log_)softmax_backward(dy, y) -> dx, all the same shape */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1, "y", DT_F32, 0, e) < 0 || op_expect_same_shape(g, n, 0, "dy", 1, "y", e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]];
    if (dy->ndim < 2) return err_set(e, "%s expects a batch of at least 2 dims", op_table[n->op]->name);
    graph_output(g, n, DT_F32, dy->ndim, dy->shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    int N, C;
    size_t inner;
    dims(&g->vals[n->in[0]], &N, &C, &inner);
    softmax_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]), N, C, inner,
                     n->op == OP_log_softmax_backward);
}

const OpDef op_softmax = { "softmax", softmax_infer, softmax_run, softmax_grad };
const OpDef op_softmax_backward = { "softmax_backward", backward_infer, backward_run, NULL };
const OpDef op_log_softmax = { "log_softmax", softmax_infer, softmax_run, softmax_grad };
const OpDef op_log_softmax_backward = { "log_softmax_backward", backward_infer, backward_run, NULL };
