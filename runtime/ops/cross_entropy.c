/* runtime/ops/cross_entropy.c: CrossEntropyLoss over logits and int32 labels (torch 1.13's
 * class weights, ignore_index, reduction, label smoothing), saving the softmax, and its
 * backward ((probs - onehot) / N without options); the loss options both losses share. */
#include <math.h>

#include "../ops.h"
#include "kernels.h"

LossOpts loss_opts(const Attrs *a)
{
    LossOpts o = { a->class_weight, a->ignore, a->ignore_index, a->reduction_sum, a->label_smoothing };
    return o;
}

static int ignored(const LossOpts *o, int y)
{
    return o && o->ignore && y == o->ignore_index;
}

double loss_weight_sum(const int32_t *labels, int N, int K, const LossOpts *o)
{
    double sum = 0;
    for (int i = 0; i < N; i++) {
        int y = labels[i];
        if (!ignored(o, y)) sum += o && o->weight && y >= 0 && y < K ? (double)o->weight[y] : 1.0;
    }
    return sum;
}

/* Whether o is the default criterion: unweighted mean, no label ignored, no smoothing. */
static int plain(const LossOpts *o)
{
    return !o || (!o->weight && !o->ignore && !o->sum && o->label_smoothing == 0);
}

/* probs[N,K] = softmax(logits), with the max subtracted and sums in double. The loss, as
 * torch 1.13's cross_entropy with lp = log_softmax(z), eps = label_smoothing, w the class
 * weights (1 without), over the rows whose label is not ignored:
 *   nll = sum_i w[y_i] * -lp[i][y_i],  smooth = sum_i sum_j w[j] * -lp[i][j]
 *   mean: nll / W and smooth / W, W = sum_i w[y_i] (the rows' count without weights);
 *   sum: as they are
 *   loss = (1 - eps) * nll + eps / K * smooth
 * A label outside [0, K) that is not ignored makes the loss NaN. */
float cross_entropy_forward(float *probs, const float *logits, const int32_t *labels, int N, int K,
                            const LossOpts *o)
{
    double nll = 0, smooth = 0, eps = o ? o->label_smoothing : 0;
    const float *w = o ? o->weight : NULL;
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
        if (ignored(o, y)) continue;
        double lse = max + log(sum);
        if (y < 0 || y >= K) {
            nll = NAN;
            continue;
        }
        nll += (w ? w[y] : 1.0) * (lse - z[y]);
        if (eps != 0)
            for (int j = 0; j < K; j++) smooth += (w ? w[j] : 1.0) * (lse - z[j]);
    }
    if (N <= 0) return NAN;
    if (!(o && o->sum)) {
        double W = loss_weight_sum(labels, N, K, o);
        nll /= W;
        smooth /= W;
    }
    return (float)(eps != 0 ? (1 - eps) * nll + eps / K * smooth : nll);
}

/* d loss / d z[i][k] = p[i][k] * (a*w[y] + b*sum_j w[j]) - a*w[y]*[k == y] - b*w[k] for a row
 * not ignored (0 for an ignored one), a = (1-eps) and b = eps/K divided by the forward's
 * denominators; without options (probs - onehot(labels)) / N. A row whose label is outside
 * [0, K) is NaN. */
void cross_entropy_backward(float *dlogits, const float *probs, const int32_t *labels, int N, int K,
                            const LossOpts *o)
{
    if (plain(o)) {
        for (int i = 0; i < N; i++) {
            const float *p = probs + (size_t)i * K;
            float *d = dlogits + (size_t)i * K;
            int y = labels[i];
            int ok = y >= 0 && y < K;
            for (int j = 0; j < K; j++) d[j] = ok ? (p[j] - (j == y ? 1.0f : 0.0f)) / (float)N : NAN;
        }
        return;
    }
    const float *w = o->weight;
    double eps = o->label_smoothing, a = 1 - eps, b = eps / K, wtot = 0;
    for (int j = 0; j < K; j++) wtot += w ? w[j] : 1.0;
    if (!o->sum) {
        double W = loss_weight_sum(labels, N, K, o);
        a /= W;
        b /= W;
    }
    for (int i = 0; i < N; i++) {
        const float *p = probs + (size_t)i * K;
        float *d = dlogits + (size_t)i * K;
        int y = labels[i];
        if (ignored(o, y)) {
            for (int j = 0; j < K; j++) d[j] = 0;
            continue;
        }
        if (y < 0 || y >= K) {
            for (int j = 0; j < K; j++) d[j] = NAN;
            continue;
        }
        double ay = a * (w ? w[y] : 1.0), c = ay + b * wtot;
        for (int j = 0; j < K; j++) d[j] = (float)(p[j] * c - (j == y ? ay : 0.0) - b * (w ? w[j] : 1.0));
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
    if (!(n->a.label_smoothing >= 0 && n->a.label_smoothing <= 1))
        return err_set(e, "label_smoothing must be between 0.0 and 1.0, got %g", n->a.label_smoothing);
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
    LossOpts o = loss_opts(&n->a);
    vf32(g, n->out[0])[0] = cross_entropy_forward(vf32(g, n->out[1]), vf32(g, n->in[0]),
                                                  vi32(g, n->in[1]), z[0], z[1], &o);
    if (!o.sum) op_loss_share(g, vf32(g, n->out[0]), 1, z[0]);
}

/* The root of autodiff: d(loss)/d(loss) = 1, so dout's value is not read.
 * dlogits = cross_entropy_backward(probs, labels) */
static int cross_entropy_grad(Graph *g, Node n, const int *dout, Error *e)
{
    (void)dout;
    if (!g->vals[n.in[0]].requires_grad) return 0;
    int in[2] = { n.out[1], n.in[1] };
    int dz = graph_apply(g, OP_cross_entropy_backward, in, 2, &n.a, e);
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
    LossOpts o = loss_opts(&n->a);
    cross_entropy_backward(vf32(g, n->out[0]), vf32(g, n->in[0]), vi32(g, n->in[1]), p[0], p[1], &o);
    if (!o.sum) op_loss_share(g, vf32(g, n->out[0]), (size_t)p[0] * p[1], p[0]);
}

const OpDef op_cross_entropy_backward = { "cross_entropy_backward", backward_infer, backward_run, NULL };
