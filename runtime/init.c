/* runtime/init.c: PyTorch's default initialisation of Conv2d, Linear and BatchNorm (see init.h). */
#include "init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static size_t fan_in(const Value *w)
{
    size_t f = 1;
    for (int i = 1; i < w->ndim; i++) f *= (size_t)w->shape[i];
    return f;
}

static void fill_uniform(float *x, size_t n, double bound, Rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)((2.0 * rng_uniform_double(r) - 1.0) * bound);
}

static void fill_const(Value *v, double c)
{
    if (v->dtype == DT_I64) {
        for (size_t i = 0; i < value_numel(v); i++) ((int64_t *)v->data)[i] = (int64_t)c;
        return;
    }
    for (size_t i = 0; i < value_numel(v); i++) ((float *)v->data)[i] = (float)c;
}

/* BatchNorm's values, which take constants and no random draws: weight 1, bias 0,
 * running_mean 0, running_var 1, num_batches_tracked 0 (PyTorch's reset_parameters).
 * Marks them in done[]. */
static void init_batchnorm(Graph *g, char *done)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op == OP_batchnorm_fold) {
            /* BatchNorm folded into a convolution (compiler/passes/fuse.c): w, running_mean,
             * running_var [, weight, bias] [, the conv's bias] */
            double fill[5] = { 0, 0, 1, 1, 0 };
            for (int k = 1; k < n->nin && k < 5; k++) {
                if (n->nin == 4 && k == 3) break;       /* the conv's bias: drawn as usual */
                fill_const(&g->vals[n->in[k]], fill[k]);
                done[n->in[k]] = 1;
            }
            continue;
        }
        if (n->op != OP_batchnorm2d && n->op != OP_batchnorm1d && n->op != OP_batchnorm2d_relu) continue;
        /* x [, weight, bias] [, running_mean, running_var, num_batches_tracked] */
        double fill[6] = { 0, 1, 0, 0, 1, 0 };
        int first = n->nin == 4 ? 3 : 1;
        for (int k = 1; k < n->nin; k++) {
            fill_const(&g->vals[n->in[k]], fill[first + k - 1]);
            done[n->in[k]] = 1;
        }
    }
}

void init_parameters(Graph *g, uint64_t seed)
{
    graph_params_changed(g);
    Rng r;
    rng_seed3(&r, seed, 1, 0);
    char *done = xcalloc((size_t)g->nvals + 1, 1);
    init_batchnorm(g, done);
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (v->kind != VK_PARAM || done[i]) continue;   /* frozen ones too, as PyTorch; given values are copied over after */
        double bound;
        if (has_suffix(v->name, ".bias")) {
            /* the weight of the same layer: "<layer>.weight" */
            size_t plen = strlen(v->name) - strlen(".bias");
            size_t f = 0;
            for (int j = 0; j < g->nvals; j++) {
                const Value *w = &g->vals[j];
                if (w->kind == VK_PARAM && strncmp(w->name, v->name, plen) == 0 &&
                    strcmp(w->name + plen, ".weight") == 0)
                    f = fan_in(w);
            }
            bound = f ? 1.0 / sqrt((double)f) : 0.0;
        } else {
            /* kaiming_uniform_(a=sqrt(5)): gain = sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in) */
            bound = sqrt(2.0 / 6.0) * sqrt(3.0 / (double)fan_in(v));
        }
        fill_uniform(v->data, value_numel(v), bound, &r);
    }
    free(done);
}
