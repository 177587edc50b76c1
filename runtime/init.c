/* runtime/init.c: PyTorch's default initialisation of Conv2d and Linear (see init.h). */
#include "init.h"

#include <math.h>
#include <string.h>

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

void init_parameters(Graph *g, uint64_t seed)
{
    Rng r;
    rng_seed3(&r, seed, 1, 0);
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (v->kind != VK_PARAM) continue;   /* frozen ones too, as PyTorch; given values are copied over after */
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
}
