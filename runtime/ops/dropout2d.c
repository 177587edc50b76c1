/* runtime/ops/dropout2d.c: Dropout2d: in training, each whole channel (n, c) is zeroed with
 * probability p and the others scaled by 1/(1-p); in evaluation y = x. And its backward.
 *
 *   dropout2d(x[N,C,...]) -> y[N,C,...], mask[N,C]      Attrs p
 *   dropout2d_backward(dy[N,C,...], mask[N,C]) -> dx
 * As torch 1.13's feature_dropout: a 3-dim input is N x C x L (with a warning in torch that
 * this will change), a 2-dim one N x C (each element its own channel).
 *
 * One rng_uniform per channel, in order. The mask is per channel, so it costs N x C floats. */
#include <string.h>

#include "../ops.h"
#include "kernels.h"

/* mask[N*C] = u >= p ? 1/(1-p) : 0, one u = rng_uniform(rng) per channel in order;
 * y = x * mask of its channel (plane floats each); p == 1 zeroes everything */
void dropout2d_forward(float *y, float *mask, const float *x, size_t NC, size_t plane, double p, Rng *rng)
{
    float scale = p < 1.0 ? 1.0f / (float)(1.0 - p) : 0.0f;   /* as dropout.c, as PyTorch */
    for (size_t c = 0; c < NC; c++) {
        float m = mask[c] = rng_uniform(rng) >= p ? scale : 0.0f;
        for (size_t i = 0; i < plane; i++) y[c * plane + i] = x[c * plane + i] * m;
    }
}

/* dx = dy * mask of its channel */
void dropout2d_backward(float *dx, const float *dy, const float *mask, size_t NC, size_t plane)
{
    for (size_t c = 0; c < NC; c++)
        for (size_t i = 0; i < plane; i++) dx[c * plane + i] = dy[c * plane + i] * mask[c];
}

static size_t plane_of(const Value *v)
{
    size_t plane = 1;
    for (int d = 2; d < v->ndim; d++) plane *= (size_t)v->shape[d];
    return plane;
}

static int dropout2d_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x", DT_F32, 0, e) < 0) return -1;
    double p = n->a.p;
    if (!(p >= 0.0 && p <= 1.0))
        return err_set(e, "dropout probability has to be between 0 and 1, but got %g", p);
    const Value *x = &g->vals[n->in[0]];
    if (x->ndim < 2) {
        char s[64];
        shape_str(x, 0, s, sizeof s);
        return err_set(e, "dropout2d expects N x C x H x W (or N x C x L, N x C), but x is %s", s);
    }
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    graph_output(g, n, DT_F32, 2, x->shape, x->batched);
    return 0;
}

/* Training: a fresh mask from g->rng. Evaluation: y = x and a mask of ones (N x C floats),
 * so that a backward in evaluation passes dy through, as torch's does. */
static void dropout2d_run(Graph *g, const Node *n)
{
    const Value *x = &g->vals[n->in[0]];
    size_t NC = (size_t)x->shape[0] * x->shape[1], plane = plane_of(x);
    if (g->training) {
        op_rng_skip_shard(g, (size_t)x->shape[1], 1);
        dropout2d_forward(vf32(g, n->out[0]), vf32(g, n->out[1]), vf32(g, n->in[0]), NC, plane, n->a.p, &g->rng);
        op_rng_skip_shard(g, (size_t)x->shape[1], 0);
    } else {
        memcpy(vf32(g, n->out[0]), x->data, NC * plane * sizeof(float));
        float *mask = vf32(g, n->out[1]);
        for (size_t c = 0; c < NC; c++) mask[c] = 1.0f;
    }
}

/* dx = dropout2d_backward(dy, mask) */
static int dropout2d_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0 || !g->vals[n.in[0]].requires_grad) return 0;
    int in[2] = { dout[0], n.out[1] };
    int dx = graph_apply(g, OP_dropout2d_backward, in, 2, NULL, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, n.in[0], dx, e);
}

const OpDef op_dropout2d = { "dropout2d", dropout2d_infer, dropout2d_run, dropout2d_grad };

static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1, "mask", DT_F32, 2, e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]], *m = &g->vals[n->in[1]];
    if (dy->ndim < 2 || m->shape[0] != dy->shape[0] || m->shape[1] != dy->shape[1])
        return err_set(e, "dropout2d_backward expects a mask of dy's first two dims");
    graph_output(g, n, DT_F32, dy->ndim, dy->shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    const Value *dy = &g->vals[n->in[0]];
    dropout2d_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                       (size_t)dy->shape[0] * dy->shape[1], plane_of(dy));
}

const OpDef op_dropout2d_backward = { "dropout2d_backward", backward_infer, backward_run, NULL };
