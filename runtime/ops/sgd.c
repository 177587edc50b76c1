/* runtime/ops/sgd.c: one torch.optim.SGD step (PyTorch 1.13: momentum, dampening, Nesterov,
 * weight decay) on a parameter, its gradient and its momentum buffer, in place. */
#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* param, grad, momentum_buffer [n]; step t >= 1. Element by element, in float like
 * PyTorch's tensor ops:
 *   d = grad + wd*param                       (when wd != 0; grad itself is left unchanged)
 *   when momentum != 0:
 *     buf = t == 1 ? d : buf*momentum + (1-dampening)*d
 *     d = nesterov ? d + momentum*buf : buf
 *   param += -lr * d */
typedef struct Sgd {
    float *param, *momentum_buffer;
    const float *grad;
    size_t n;
    const SgdHyper *h;
    int64_t step;
} Sgd;

static void sgd_share(void *ctx, int t, int T)
{
    const Sgd *j = ctx;
    const SgdHyper *h = j->h;
    float *param = j->param, *momentum_buffer = j->momentum_buffer;
    const float *grad = j->grad;
    int64_t step = j->step;
    float neg_lr = (float)-h->lr, momentum = (float)h->momentum, wd = (float)h->weight_decay;
    float one_minus_dampening = (float)(1.0 - h->dampening);
    size_t hi = par_lo(j->n, t + 1, T);
#pragma omp simd
    for (size_t i = par_lo(j->n, t, T); i < hi; i++) {
        float d = h->weight_decay != 0 ? grad[i] + wd * param[i] : grad[i];
        if (h->momentum != 0) {
            float *buf = &momentum_buffer[i];
            *buf = step == 1 ? d : *buf * momentum + one_minus_dampening * d;
            d = h->nesterov ? d + momentum * *buf : *buf;
        }
        param[i] += neg_lr * d;
    }
}

void sgd_update(float *param, const float *grad, float *momentum_buffer, size_t n,
                const SgdHyper *h, int64_t step)
{
    Sgd j = { param, momentum_buffer, grad, n, h, step };
    par_run(n > 32768 ? par_threads() : 1, sgd_share, &j);
}

/* The hyperparameters as the Python floats they were written as. */
static SgdHyper sgd_hyper(const Attrs *a)
{
    SgdHyper h = { a->lr, a->momentum, a->dampening,
                   a->weight_decay, a->nesterov };
    return h;
}

/* sgd(param, grad) or sgd(param, grad, momentum_buffer) when momentum != 0: no outputs,
 * updates in place */
static int sgd_infer(Graph *g, Node *n, Error *e)
{
    static const char *what[3] = { "the parameter", "its gradient", "momentum_buffer" };
    SgdHyper h = sgd_hyper(&n->a);
    int nin = h.momentum != 0 ? 3 : 2;
    if (op_expect_param_state(g, n, nin, what, e) < 0) return -1;
    if (!(h.lr >= 0)) return err_set(e, "Invalid learning rate: %g", h.lr);
    if (!(h.momentum >= 0)) return err_set(e, "Invalid momentum value: %g", h.momentum);
    if (!(h.weight_decay >= 0)) return err_set(e, "Invalid weight_decay value: %g", h.weight_decay);
    if (h.nesterov && (h.momentum <= 0 || h.dampening != 0))
        return err_set(e, "Nesterov momentum requires a momentum and zero dampening");
    return 0;
}

static void sgd_run(Graph *g, const Node *n)
{
    SgdHyper h = sgd_hyper(&n->a);
    sgd_update(vf32(g, n->in[0]), vf32(g, n->in[1]), n->nin == 3 ? vf32(g, n->in[2]) : NULL,
               value_numel(&g->vals[n->in[0]]), &h, g->step);
}

const OpDef op_sgd = { "sgd", sgd_infer, sgd_run, NULL };
