/* runtime/ops/dropout.c: Dropout (inverted: kept elements scaled by 1/(1-p)) with the mask it
 * saves, and its backward (dy * mask). */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* y[n] = x * mask, mask[n] = u >= p ? 1/(1-p) : 0 with u = rng_uniform(rng) drawn per element
 * in order; p == 1 drops everything (y = x * 0, as PyTorch). The draws are made first (into
 * mask), then turned into the mask 8 at a time with no branch. */
CN_MULTIVERSION void dropout_forward(float *y, float *mask, const float *x, size_t n, double p, Rng *rng)
{
    /* as PyTorch: 1 - p in double (a Python float), divided in float */
    float scale = p < 1.0 ? 1.0f / (float)(1.0 - p) : 0.0f;
    /* u is a multiple of 2^-24, so u >= p (in double) is u >= the first multiple not below p */
    float keep_from = (float)(ceil(p * 16777216.0) / 16777216.0);
    rng_uniform_fill(rng, mask, n);
    vf8 s = (vf8){ 0 } + scale, from = (vf8){ 0 } + keep_from;
    size_t i = 0;
    for (; i + VL8 <= n; i += VL8) {
        vf8 u, v;
        memcpy(&u, mask + i, sizeof u);
        memcpy(&v, x + i, sizeof v);
        u = (vf8)((vi8)s & (u >= from));
        v *= u;
        memcpy(mask + i, &u, sizeof u);
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++) {
        mask[i] = mask[i] >= keep_from ? scale : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

typedef struct Mul { float *dx; const float *dy, *mask; size_t n; } Mul;

static void backward_share(void *ctx, int t, int T)
{
    const Mul *j = ctx;
    size_t hi = par_lo(j->n, t + 1, T);
#pragma omp simd
    for (size_t i = par_lo(j->n, t, T); i < hi; i++) j->dx[i] = j->dy[i] * j->mask[i];
}

/* dx[n] = dy * mask */
void dropout_backward(float *dx, const float *dy, const float *mask, size_t n)
{
    Mul j = { dx, dy, mask, n };
    par_run(n > 32768 ? par_threads() : 1, backward_share, &j);
}

/* dropout(x) -> y, mask; same shape as x */
static int dropout_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x", DT_F32, 0, e) < 0) return -1;
    double p = n->a.p;
    if (!(p >= 0.0 && p <= 1.0))
        return err_set(e, "dropout probability has to be between 0 and 1, but got %g", p);
    const Value *x = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    return 0;
}

/* Training: a fresh mask from g->rng. Evaluation: y = x, the mask is left alone. */
static void dropout_run(Graph *g, const Node *n)
{
    size_t count = value_numel(&g->vals[n->in[0]]);
    if (g->training) {
        size_t per = value_item_numel(&g->vals[n->in[0]]);
        op_rng_skip_shard(g, per, 1);
        dropout_forward(vf32(g, n->out[0]), vf32(g, n->out[1]), vf32(g, n->in[0]), count, n->a.p, &g->rng);
        op_rng_skip_shard(g, per, 0);
    } else
        memcpy(vf32(g, n->out[0]), vf32(g, n->in[0]), count * sizeof(float));
}

/* dx = dropout_backward(dy, mask) */
static int dropout_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0 || !g->vals[n.in[0]].requires_grad) return 0;
    int in[2] = { dout[0], n.out[1] };
    int dx = graph_apply(g, OP_dropout_backward, in, 2, NULL, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, n.in[0], dx, e);
}

const OpDef op_dropout = { "dropout", dropout_infer, dropout_run, dropout_grad };

/* dropout_backward(dy, mask) -> dx, all the same shape */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1, "mask", DT_F32, 0, e) < 0 || op_expect_same_shape(g, n, 0, "dy", 1, "mask", e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, dy->ndim, dy->shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    dropout_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                     value_numel(&g->vals[n->in[0]]));
}

const OpDef op_dropout_backward = { "dropout_backward", backward_infer, backward_run, NULL };
