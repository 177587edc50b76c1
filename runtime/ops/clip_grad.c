/* runtime/ops/clip_grad.c: gradient clipping between the backward pass and the optimizer
 * (torch.nn.utils 1.13): clip_grad_norm_ as a chain of grad_norm nodes, one per gradient,
 * then clip_grad_norm on each gradient in place; clip_grad_value_ as clip_grad_value on each.
 *
 *   grad_norm(grad [, acc]) -> acc[1]      acc ⊕ n^p, n = ||grad||_p rounded to float as
 *                                           torch.norm's result (p = inf: max(acc, n))
 *   clip_grad_norm(grad, acc)               total = acc^(1/p) (inf: acc) in float,
 *                                           coef = min(max_norm / (total + 1e-6), 1), grad *= coef
 *   clip_grad_value(grad)                   grad = clamp(grad, -clip_value, clip_value)
 * Attrs: max_norm, norm_type (INFINITY for 'inf'), clip_value. No backward: update phase. */
#include <math.h>

#include "../ops.h"
#include "kernels.h"

/* ||x||_p of n floats, summed in double, as a float (torch.norm's result) */
float grad_norm_p(const float *x, size_t n, double p)
{
    double s = 0;
    if (isinf(p)) {
        for (size_t i = 0; i < n; i++) s = fabs((double)x[i]) > s || isnan(x[i]) ? fabs((double)x[i]) : s;
        return (float)s;
    }
    for (size_t i = 0; i < n; i++) s += p == 2 ? (double)x[i] * x[i] : pow(fabs((double)x[i]), p);
    return (float)(p == 2 ? sqrt(s) : p == 1 ? s : pow(s, 1 / p));
}

/* the factor clip_grad_norm_ multiplies every gradient by, from acc (the norms' p-th powers
 * summed, or their max for inf), in float as torch computes it */
float clip_grad_norm_coef(float acc, double max_norm, double p)
{
    float total = isinf(p) ? acc : (float)(p == 2 ? sqrt((double)acc) : pow((double)acc, 1 / p));
    float coef = (float)max_norm / (total + 1e-6f);
    return coef > 1.0f ? 1.0f : coef;   /* torch.clamp(max=1.0): NaN stays NaN */
}

static int check_grad(Graph *g, Node *n, int nin_min, int nin_max, Error *e)
{
    if (op_expect_inputs(g, n, nin_min, nin_max, e) < 0 || op_expect(g, n, 0, "the gradient", DT_F32, 0, e) < 0)
        return -1;
    if (n->nin > 1) {
        const Value *acc = &g->vals[n->in[1]];
        if (op_expect(g, n, 1, "the norms so far", DT_F32, 1, e) < 0) return -1;
        if (acc->shape[0] != 1 || acc->batched)
            return err_set(e, "%s expects the norms so far as one number", op_table[n->op]->name);
    }
    return 0;
}

static int grad_norm_infer(Graph *g, Node *n, Error *e)
{
    if (check_grad(g, n, 1, 2, e) < 0) return -1;
    if (!(n->a.norm_type > 0)) return err_set(e, "grad_norm: norm_type must be above 0, got %g", n->a.norm_type);
    int one = 1;
    graph_output(g, n, DT_F32, 1, &one, 0);
    return 0;
}

static void grad_norm_run(Graph *g, const Node *n)
{
    double p = n->a.norm_type;
    float norm = grad_norm_p(vf32(g, n->in[0]), value_numel(&g->vals[n->in[0]]), p);
    float prev = n->nin > 1 ? vf32(g, n->in[1])[0] : 0.0f, *acc = vf32(g, n->out[0]);
    if (isinf(p)) acc[0] = n->nin > 1 && (isnan(prev) || prev >= norm) ? prev : norm;   /* NaN wins */
    else acc[0] = prev + (float)(p == 2 ? (double)norm * norm : pow((double)norm, p));
}

const OpDef op_grad_norm = { "grad_norm", grad_norm_infer, grad_norm_run, NULL };

static int clip_grad_norm_infer(Graph *g, Node *n, Error *e)
{
    if (check_grad(g, n, 2, 2, e) < 0) return -1;
    if (!(n->a.max_norm >= 0)) return err_set(e, "clip_grad_norm: max_norm must be 0 or more, got %g", n->a.max_norm);
    return 0;
}

static void clip_grad_norm_run(Graph *g, const Node *n)
{
    float coef = clip_grad_norm_coef(vf32(g, n->in[1])[0], n->a.max_norm, n->a.norm_type);
    float *x = vf32(g, n->in[0]);
    size_t count = value_numel(&g->vals[n->in[0]]);
    for (size_t i = 0; i < count; i++) x[i] *= coef;
}

const OpDef op_clip_grad_norm = { "clip_grad_norm", clip_grad_norm_infer, clip_grad_norm_run, NULL };

static int clip_grad_value_infer(Graph *g, Node *n, Error *e)
{
    if (check_grad(g, n, 1, 1, e) < 0) return -1;
    if (!(n->a.clip_value >= 0))
        return err_set(e, "clip_grad_value: clip_value must be 0 or more, got %g", n->a.clip_value);
    return 0;
}

static void clip_grad_value_run(Graph *g, const Node *n)
{
    float hi = (float)n->a.clip_value, lo = -hi, *x = vf32(g, n->in[0]);
    size_t count = value_numel(&g->vals[n->in[0]]);
    for (size_t i = 0; i < count; i++) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];   /* NaN stays */
}

const OpDef op_clip_grad_value = { "clip_grad_value", clip_grad_value_infer, clip_grad_value_run, NULL };
