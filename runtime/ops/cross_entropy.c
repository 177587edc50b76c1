/* runtime/ops/cross_entropy.c: CrossEntropyLoss (mean reduction) over logits and int32
 * labels, saving the softmax, and its backward (probs - onehot) / N. */
#include <math.h>

#include "../ops.h"
#include "kernels.h"

/* probs[N,K] = softmax(logits); returns mean over i of logsumexp(z_i) - z_i[y_i], with the
 * max subtracted and sums in double. A label outside [0, K) makes the loss NaN. */
float cross_entropy_forward(float *probs, const float *logits, const int32_t *labels, int N, int K)
{
    double total = 0;
    for (int i = 0; i < N; i++) {
        const float *z = logits + (size_t)i * K;
        float *p = probs + (size_t)i * K;
        float max = z[0];
        for (int j = 1; j < K; j++)
            if (z[j] > max) max = z[j];
        double sum = 0;
        for (int j = 0; j < K; j++) sum += exp((double)z[j] - max);
        for (int j = 0; j < K; j++) p[j] = (float)(exp((double)z[j] - max) / sum);
        int y = labels[i];
        total += y >= 0 && y < K ? max + log(sum) - z[y] : NAN;
    }
    return N > 0 ? (float)(total / N) : NAN;
}

/* dlogits[N,K] = (probs - onehot(labels)) / N; a row whose label is outside [0, K) is NaN */
void cross_entropy_backward(float *dlogits, const float *probs, const int32_t *labels, int N, int K)
{
    for (int i = 0; i < N; i++) {
        const float *p = probs + (size_t)i * K;
        float *d = dlogits + (size_t)i * K;
        int y = labels[i];
        int ok = y >= 0 && y < K;
        for (int j = 0; j < K; j++) d[j] = ok ? (p[j] - (j == y ? 1.0f : 0.0f)) / (float)N : NAN;
    }
}

/* Checks the inputs (scores[N,K], labels[N]), naming the scores `what` */
static int check_logits_labels(Graph *g, Node *n, const char *what, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, what, DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "the labels (N)", DT_I32, 1, e) < 0)
        return -1;
    const Value *z = &g->vals[n->in[0]], *y = &g->vals[n->in[1]];
    if (z->shape[0] != y->shape[0] || z->batched != y->batched)
        return err_set(e, "%s expects one label per row of %s, but there are %d rows and %d labels",
                       op_table[n->op]->name, what, z->shape[0], y->shape[0]);
    if (z->shape[1] < 1) return err_set(e, "%s expects at least one class", op_table[n->op]->name);
    return 0;
}

/* cross_entropy(logits[N,K], labels[N]) -> loss[1] (not batched), probs[N,K] */
static int cross_entropy_infer(Graph *g, Node *n, Error *e)
{
    if (check_logits_labels(g, n, "the logits (N x classes)", e) < 0) return -1;
    const Value *z = &g->vals[n->in[0]];
    int one = 1, shape[2] = { z->shape[0], z->shape[1] }, batched = z->batched;
    graph_output(g, n, DT_F32, 1, &one, 0);
    graph_output(g, n, DT_F32, 2, shape, batched);
    return 0;
}

static void cross_entropy_run(Graph *g, const Node *n)
{
    const int *z = g->vals[n->in[0]].shape;
    vf32(g, n->out[0])[0] = cross_entropy_forward(vf32(g, n->out[1]), vf32(g, n->in[0]),
                                                  vi32(g, n->in[1]), z[0], z[1]);
    op_loss_share(g, vf32(g, n->out[0]), 1, z[0]);
}

/* The root of autodiff: d(loss)/d(loss) = 1, so dout's value is not read.
 * dlogits = cross_entropy_backward(probs, labels) */
static int cross_entropy_grad(Graph *g, Node n, const int *dout, Error *e)
{
    (void)dout;
    if (!g->vals[n.in[0]].requires_grad) return 0;
    int in[2] = { n.out[1], n.in[1] };
    int dz = graph_apply(g, OP_cross_entropy_backward, in, 2, NULL, e);
    if (dz < 0) return -1;
    return graph_accumulate_grad(g, n.in[0], dz, e);
}

const OpDef op_cross_entropy = { "cross_entropy", cross_entropy_infer, cross_entropy_run, cross_entropy_grad };

/* cross_entropy_backward(probs[N,K], labels[N]) -> dlogits[N,K] */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (check_logits_labels(g, n, "the probabilities (N x classes)", e) < 0) return -1;
    const Value *p = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, 2, p->shape, p->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    const int *p = g->vals[n->in[0]].shape;
    cross_entropy_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vi32(g, n->in[1]), p[0], p[1]);
    op_loss_share(g, vf32(g, n->out[0]), (size_t)p[0] * p[1], p[0]);
}

const OpDef op_cross_entropy_backward = { "cross_entropy_backward", backward_infer, backward_run, NULL };
