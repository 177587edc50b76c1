/* runtime/ops/nll_loss.c: NLLLoss (torch 1.13's class weights, ignore_index, reduction) over
 * log-probabilities and int32 labels, the criterion after LogSoftmax, and its backward.
 *
 *   nll_loss(logp[N,K], labels[N]) -> loss[1] (not batched)
 *   nll_loss_backward(logp[N,K], labels[N]) -> dlogp[N,K]   (logp for its shape only)
 *
 * Like cross_entropy, nll_loss is autodiff's root: its backward rule does not read dout.
 * A label outside [0, K) makes the loss NaN and its row of the gradient NaN (torch raises;
 * the data sets never produce one). Attrs: the loss options (graph.h). */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "kernels.h"

/* -sum_i w[y_i] * logp[i][y_i] over the rows not ignored, summed in double; divided by
 * W = sum_i w[y_i] for 'mean' (w: the class weights, 1 without) */
float nll_loss_forward(const float *logp, const int32_t *labels, int N, int K, const LossOpts *o)
{
    double total = 0;
    const float *w = o ? o->weight : NULL;
    for (int i = 0; i < N; i++) {
        int y = labels[i];
        if (o && o->ignore && y == o->ignore_index) continue;
        total += y >= 0 && y < K ? -(w ? w[y] : 1.0) * (double)logp[(size_t)i * K + y] : NAN;
    }
    if (N <= 0) return NAN;
    return (float)(o && o->sum ? total : total / loss_weight_sum(labels, N, K, o));
}

/* dlogp[i][j] = -w[y_i] / W ('sum': -w[y_i]) where j == labels[i], else 0; an ignored row 0 */
void nll_loss_backward(float *dlogp, const int32_t *labels, int N, int K, const LossOpts *o)
{
    const float *w = o ? o->weight : NULL;
    int plain = !w && !(o && (o->ignore || o->sum));
    double W = o && o->sum ? 1.0 : loss_weight_sum(labels, N, K, o);
    for (int i = 0; i < N; i++) {
        float *d = dlogp + (size_t)i * K;
        int y = labels[i];
        int ok = y >= 0 && y < K, skip = o && o->ignore && y == o->ignore_index;
        float dy = plain ? -1.0f / (float)N : (float)(-(w && ok ? w[y] : 1.0) / W);
        for (int j = 0; j < K; j++) d[j] = skip ? 0.0f : ok ? (j == y ? dy : 0.0f) : NAN;
    }
}

/* Checks logp[N,K] and labels[N] */
static int check_inputs(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 ||
        op_expect(g, n, 0, "the log-probabilities (N x classes)", DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "the labels (N)", DT_I32, 1, e) < 0)
        return -1;
    const Value *z = &g->vals[n->in[0]], *y = &g->vals[n->in[1]];
    if (z->shape[0] != y->shape[0] || z->batched != y->batched)
        return err_set(e, "%s expects one label per row of the log-probabilities, but there are %d rows and %d labels",
                       op_table[n->op]->name, z->shape[0], y->shape[0]);
    if (z->shape[1] < 1) return err_set(e, "%s expects at least one class", op_table[n->op]->name);
    return 0;
}

static int nll_loss_infer(Graph *g, Node *n, Error *e)
{
    if (check_inputs(g, n, e) < 0) return -1;
    int one = 1;
    graph_output(g, n, DT_F32, 1, &one, 0);
    return 0;
}

static void nll_loss_run(Graph *g, const Node *n)
{
    const int *z = g->vals[n->in[0]].shape;
    LossOpts o = loss_opts(&n->a);
    vf32(g, n->out[0])[0] = nll_loss_forward(vf32(g, n->in[0]), vi32(g, n->in[1]), z[0], z[1], &o);
    if (!o.sum) op_loss_share(g, vf32(g, n->out[0]), 1, z[0]);
}

/* The root: d(loss)/d(loss) = 1, dout not read. dlogp = nll_loss_backward(logp, labels) */
static int nll_loss_grad(Graph *g, Node n, const int *dout, Error *e)
{
    (void)dout;
    if (!g->vals[n.in[0]].requires_grad) return 0;
    int in[2] = { n.in[0], n.in[1] };
    int d = graph_apply(g, OP_nll_loss_backward, in, 2, &n.a, e);
    if (d < 0) return -1;
    return graph_accumulate_grad(g, n.in[0], d, e);
}

const OpDef op_nll_loss = { "nll_loss", nll_loss_infer, nll_loss_run, nll_loss_grad };

static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (check_inputs(g, n, e) < 0) return -1;
    const Value *z = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, 2, z->shape, z->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    const int *z = g->vals[n->in[0]].shape;
    LossOpts o = loss_opts(&n->a);
    nll_loss_backward(vf32(g, n->out[0]), vi32(g, n->in[1]), z[0], z[1], &o);
    if (!o.sum) op_loss_share(g, vf32(g, n->out[0]), (size_t)z[0] * z[1], z[0]);
}

const OpDef op_nll_loss_backward = { "nll_loss_backward", backward_infer, backward_run, NULL };
