/* runtime/ops/rmsprop.c: one torch.optim.RMSprop step (PyTorch 1.13, single-tensor: weight
 * decay, momentum, centered) on a parameter, its gradient and its state, in place. */
#include <math.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* param, grad, square_avg [, momentum_buffer] [, grad_avg] [n]. Element by element, in
 * float like PyTorch's tensor ops:
 *   g = grad + wd*param                         (when wd != 0; grad is left unchanged)
 *   sq = sq*alpha + (1-alpha)*g*g
 *   centered: ga = ga*alpha + (1-alpha)*g; avg = sqrt(sq + -1*ga*ga) + eps
 *   else:     avg = sqrt(sq) + eps
 *   momentum > 0: buf = buf*momentum + g/avg; param += -lr*buf
 *   else:         param += -lr*g/avg */
typedef struct RmspropJob {
    float *param, *square_avg, *momentum_buffer, *grad_avg;
    const float *grad;
    size_t n;
    const RmspropHyper *h;
} RmspropJob;

CN_MULTIVERSION
static void rmsprop_range(const RmspropJob *j, size_t lo, size_t hi)
{
    const RmspropHyper *h = j->h;
    float *restrict param = j->param, *restrict sq = j->square_avg, *restrict buf = j->momentum_buffer;
    float *restrict ga = j->grad_avg;
    const float *restrict grad = j->grad;
    float neg_lr = (float)-h->lr, alpha = (float)h->alpha, one_minus_alpha = (float)(1.0 - h->alpha);
    float eps = (float)h->eps, wd = (float)h->weight_decay, momentum = (float)h->momentum;
    int decay = h->weight_decay != 0;
#pragma omp simd
    for (size_t i = lo; i < hi; i++) {
        float g = decay ? grad[i] + wd * param[i] : grad[i];
        sq[i] = sq[i] * alpha + one_minus_alpha * g * g;
        float avg;
        if (ga) {
            ga[i] = ga[i] * alpha + one_minus_alpha * g;
            avg = sqrtf(sq[i] + -1.0f * ga[i] * ga[i]) + eps;
        } else {
            avg = sqrtf(sq[i]) + eps;
        }
        if (buf) {
            buf[i] = buf[i] * momentum + g / avg;
            param[i] += neg_lr * buf[i];
        } else {
            param[i] += neg_lr * g / avg;
        }
    }
}

static void rmsprop_share(void *ctx, int t, int T)
{
    const RmspropJob *j = ctx;
    rmsprop_range(j, par_lo(j->n, t, T), par_lo(j->n, t + 1, T));
}

void rmsprop_update(float *param, const float *grad, float *square_avg, float *momentum_buffer,
                    float *grad_avg, size_t n, const RmspropHyper *h)
{
    RmspropJob j = { param, square_avg, momentum_buffer, grad_avg, grad, n, h };
    par_run(n > 32768 ? par_threads() : 1, rmsprop_share, &j);
}

/* The hyperparameters as the Python floats they were written as. */
static RmspropHyper rmsprop_hyper(const Attrs *a)
{
    RmspropHyper h = { a->lr, a->alpha, a->eps, a->weight_decay, a->momentum };
    return h;
}

/* rmsprop(param, grad, square_avg [, momentum_buffer when momentum > 0] [, grad_avg when
 * centered]): no outputs, updates param and the state in place */
static int rmsprop_infer(Graph *g, Node *n, Error *e)
{
    const char *what[5] = { "the parameter", "its gradient", "square_avg", NULL, NULL };
    RmspropHyper h = rmsprop_hyper(&n->a);
    int nin = 3;
    if (h.momentum > 0) what[nin++] = "momentum_buffer";
    if (n->a.centered) what[nin++] = "grad_avg";
    if (op_expect_param_state(g, n, nin, what, e) < 0) return -1;
    if (!(h.lr >= 0)) return err_set(e, "Invalid learning rate: %g", h.lr);
    if (!(h.eps >= 0)) return err_set(e, "Invalid epsilon value: %g", h.eps);
    if (!(h.momentum >= 0)) return err_set(e, "Invalid momentum value: %g", h.momentum);
    if (!(h.weight_decay >= 0)) return err_set(e, "Invalid weight_decay value: %g", h.weight_decay);
    if (!(h.alpha >= 0)) return err_set(e, "Invalid alpha value: %g", h.alpha);
    return 0;
}

static void rmsprop_run(Graph *g, const Node *n)
{
    RmspropHyper h = rmsprop_hyper(&n->a);
    int k = 3;
    float *buf = h.momentum > 0 ? vf32(g, n->in[k++]) : NULL;
    float *ga = n->a.centered ? vf32(g, n->in[k++]) : NULL;
    rmsprop_update(vf32(g, n->in[0]), vf32(g, n->in[1]), vf32(g, n->in[2]), buf, ga,
                   value_numel(&g->vals[n->in[0]]), &h);
}

const OpDef op_rmsprop = { "rmsprop", rmsprop_infer, rmsprop_run, NULL };
