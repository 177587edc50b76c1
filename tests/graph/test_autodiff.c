/* tests/graph/test_autodiff.c: the whole sea model's gradients (autodiff over the op
 * table's backward rules, through the memory plan) against central finite differences. */
#include <math.h>
#include <stdlib.h>

#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "sea_program.h"
#include "tests/test.h"

static double loss_at(Graph *g)
{
    exec_run(g, PHASE_FORWARD);
    return vf32(g, g->loss)[0];
}

int main(void)
{
    Program p;
    sea_program(&p, 3, 12, 12, 4, 6, 8, 5, 0);
    LowerOptions lo = { .batch = 3, .training = 1 };
    Error e;
    Graph *g = sea_graph(&p, &lo, 7, &e);
    CHECK(g != NULL, "lowering failed: %s", e.msg);
    if (!g) return test_done("test_autodiff");
    Rng r;
    rng_seed(&r, 11);
    float *x = vf32(g, g->input);
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = 2 * rng_uniform(&r) - 1;
    int32_t *y = vi32(g, g->label);
    for (int i = 0; i < 3; i++) y[i] = (int32_t)rng_below(&r, 5);
    graph_set_batch(g, 3);
    g->training = 1;
    exec_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    /* every parameter has a gradient of its own shape */
    int nparams = 0;
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (v->kind != VK_PARAM) continue;
        nparams++;
        CHECK(v->grad >= 0, "%s has no gradient", v->name);
        if (v->grad >= 0) CHECK(value_numel(&g->vals[v->grad]) == value_numel(v), "%s gradient size", v->name);
    }
    CHECK(nparams == 8, "expected 8 parameters, got %d", nparams);

    /* Copy the analytic gradients, then perturb a sample of each parameter's entries.
     * float32 loss (accumulated in double): with h = 1e-2 the rounding error of the
     * difference quotient is about 1e-7 * 1.6 / 1e-2 ~ 2e-5 and the truncation error is
     * O(h^2) ~ 1e-4 relative, well inside atol 2e-3 + rtol 3e-2. A perturbation can cross a
     * ReLU or max-pool kink, where the one-sided slopes differ; so an entry that misses at
     * h = 1e-2 is retried at h = 3e-3 and 1e-3 (a kink is crossed at one step size, a wrong
     * gradient is wrong at all of them), and every entry must agree at one of them. */
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (v->kind != VK_PARAM || v->grad < 0) continue;
        size_t n = value_numel(v);
        float *grad = malloc(n * sizeof *grad);
        for (size_t k = 0; k < n; k++) grad[k] = vf32(g, v->grad)[k];
        float *w = v->data;
        for (int t = 0; t < 12; t++) {
            size_t k = rng_below(&r, (uint32_t)n);
            static const float steps[3] = { 1e-2f, 3e-3f, 1e-3f };
            double fd = 0;
            int ok = 0;
            for (int s = 0; s < 3 && !ok; s++) {
                float saved = w[k], h = steps[s];
                w[k] = saved + h;
                double lp = loss_at(g);
                w[k] = saved - h;
                double lm = loss_at(g);
                w[k] = saved;
                fd = (lp - lm) / (2 * (double)h);
                ok = fabs(grad[k] - fd) <= 2e-3 + 3e-2 * fabs(fd);
            }
            char what[160];
            snprintf(what, sizeof what, "d loss / d %s[%zu]", v->name, k);
            CHECK_CLOSE(grad[k], fd, 2e-3, 3e-2, what);
        }
        free(grad);
    }
    graph_free(g);
    free(p.layers);
    return test_done("test_autodiff");
}
