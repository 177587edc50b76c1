/* runtime/ops/adam.c: one torch.optim.Adam or torch.optim.AdamW step (PyTorch 1.13,
 * single-tensor, with or without amsgrad) on a parameter, its gradient and its moments, in place. */
#include <math.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* param, grad, exp_avg, exp_avg_sq [, max_exp_avg_sq] [n]; step t >= 1 (the trainer counts
 * it). Element by element, in float like PyTorch's tensor ops, with the scalars of its Python
 * code in double:
 *   Adam:  g = grad + wd*param           (when wd != 0; grad itself is left unchanged)
 *   AdamW: param *= 1 - lr*wd; g = grad
 *   m = m*beta1 + (1-beta1)*g
 *   v = v*beta2 + (1-beta2)*g*g
 *   amsgrad: vmax = max(vmax, v), used below in place of v
 *   param += -(lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps),  bc1 = 1-beta1^t, bc2 = 1-beta2^t */
typedef struct AdamScalars {
    float neg_step_size, bc2_sqrt, beta1, beta2, eps, one_minus_beta1, one_minus_beta2, wd, decay_factor;
} AdamScalars;

static inline void adam_elem(float *param, float *exp_avg, float *exp_avg_sq, float *max_exp_avg_sq, float g,
                             const AdamScalars *s)
{
    float m = *exp_avg * s->beta1 + s->one_minus_beta1 * g;
    float v = *exp_avg_sq * s->beta2 + s->one_minus_beta2 * g * g;
    *exp_avg = m;
    *exp_avg_sq = v;
    if (max_exp_avg_sq) {
        if (!(*max_exp_avg_sq >= v)) *max_exp_avg_sq = v;    /* torch.maximum: NaN wins */
        v = *max_exp_avg_sq;
    }
    *param += s->neg_step_size * m / (sqrtf(v) / s->bc2_sqrt + s->eps);
}

typedef struct AdamJob {
    float *param;
    const float *grad;
    float *exp_avg, *exp_avg_sq, *max_exp_avg_sq;
    size_t n;
    AdamScalars s;
    int mode;       /* ADAM_PLAIN, ADAM_L2 (Adam's weight decay), ADAM_DECOUPLED (AdamW's) */
} AdamJob;

enum { ADAM_PLAIN, ADAM_L2, ADAM_DECOUPLED };

/* elements [lo, hi): one loop per mode, each free of branches but amsgrad's maximum */
CN_MULTIVERSION
static void adam_range(const AdamJob *j, size_t lo, size_t hi)
{
    AdamScalars s = j->s;
    float *restrict param = j->param, *restrict exp_avg = j->exp_avg, *restrict exp_avg_sq = j->exp_avg_sq;
    float *restrict vmax = j->max_exp_avg_sq;
    const float *restrict grad = j->grad;
    if (j->mode == ADAM_L2)
#pragma omp simd
        for (size_t i = lo; i < hi; i++)
            adam_elem(param + i, exp_avg + i, exp_avg_sq + i, vmax ? vmax + i : NULL, grad[i] + s.wd * param[i], &s);
    else if (j->mode == ADAM_DECOUPLED)
#pragma omp simd
        for (size_t i = lo; i < hi; i++) {
            param[i] *= s.decay_factor;
            adam_elem(param + i, exp_avg + i, exp_avg_sq + i, vmax ? vmax + i : NULL, grad[i], &s);
        }
    else
#pragma omp simd
        for (size_t i = lo; i < hi; i++)
            adam_elem(param + i, exp_avg + i, exp_avg_sq + i, vmax ? vmax + i : NULL, grad[i], &s);
}

static void adam_share(void *ctx, int t, int T)
{
    const AdamJob *j = ctx;
    adam_range(j, par_lo(j->n, t, T), par_lo(j->n, t + 1, T));
}

void adam_update(float *param, const float *grad, float *exp_avg, float *exp_avg_sq, float *max_exp_avg_sq,
                 size_t n, const AdamHyper *h, int64_t step)
{
    double bc1 = 1.0 - pow(h->beta1, (double)step), bc2 = 1.0 - pow(h->beta2, (double)step);
    AdamScalars s = { (float)(-(h->lr / bc1)), (float)sqrt(bc2), (float)h->beta1, (float)h->beta2, (float)h->eps,
                      (float)(1.0 - h->beta1), (float)(1.0 - h->beta2), (float)h->weight_decay,
                      (float)(1.0 - h->lr * h->weight_decay) };
    int mode = h->decoupled ? ADAM_DECOUPLED : h->weight_decay != 0 ? ADAM_L2 : ADAM_PLAIN;
    AdamJob j = { param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, s, mode };
    par_run(n > 32768 ? par_threads() : 1, adam_share, &j);
}

/* The hyperparameters as the Python floats they were written as. */
static AdamHyper adam_hyper(const Node *n)
{
    AdamHyper h = { n->a.lr, n->a.beta1, n->a.beta2, n->a.eps, n->a.weight_decay, n->op == OP_adamw };
    return h;
}

/* adam|adamw(param, grad, exp_avg, exp_avg_sq [, max_exp_avg_sq when amsgrad]): no outputs,
 * updates param and the moments in place */
static int adam_infer(Graph *g, Node *n, Error *e)
{
    static const char *what[5] = { "the parameter", "its gradient", "exp_avg", "exp_avg_sq", "max_exp_avg_sq" };
    int nin = n->a.amsgrad ? 5 : 4;
    if (op_expect_param_state(g, n, nin, what, e) < 0) return -1;
    AdamHyper h = adam_hyper(n);
    if (!(h.lr >= 0)) return err_set(e, "Invalid learning rate: %g", h.lr);
    if (!(h.eps >= 0)) return err_set(e, "Invalid epsilon value: %g", h.eps);
    if (!(h.beta1 >= 0 && h.beta1 < 1)) return err_set(e, "Invalid beta parameter at index 0: %g", h.beta1);
    if (!(h.beta2 >= 0 && h.beta2 < 1)) return err_set(e, "Invalid beta parameter at index 1: %g", h.beta2);
    if (!(h.weight_decay >= 0)) return err_set(e, "Invalid weight_decay value: %g", h.weight_decay);
    return 0;
}

static void adam_run(Graph *g, const Node *n)
{
    AdamHyper h = adam_hyper(n);
    adam_update(vf32(g, n->in[0]), vf32(g, n->in[1]), vf32(g, n->in[2]), vf32(g, n->in[3]),
                n->nin == 5 ? vf32(g, n->in[4]) : NULL, value_numel(&g->vals[n->in[0]]), &h, g->step);
}

const OpDef op_adam = { "adam", adam_infer, adam_run, NULL };
const OpDef op_adamw = { "adamw", adam_infer, adam_run, NULL };
