/* tests/ops/test_sgd.c: sgd over 3 steps against torch.optim.SGD's update (1.13) computed
 * independently in double: plain, momentum with dampening, Nesterov, weight decay. */
#include "testgraph.h"

typedef struct Hyper {
    double lr, momentum, dampening, wd;    /* as written in Python */
    int    nesterov;
} Hyper;

/* Tolerances: float32 arithmetic of a few terms per step on values within about 2: a few
 * ulps (2^-24 relative) per step. 1e-6 relative after 3 steps is ample while a wrong rule
 * (dampening on the first step, momentum applied twice, decay left out) is off by > 1e-3. */
static void test_sgd(const Hyper *h, uint64_t seed)
{
    Graph *g = graph_new();
    int shape[3] = { 2, 3, 4 };
    int p = tg_value(g, "w", VK_PARAM, DT_F32, 0, 3, shape);
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 3, shape);
    int buf = h->momentum != 0 ? tg_value(g, "w.momentum_buffer", VK_STATE, DT_F32, 0, 3, shape) : -1;
    Attrs a = { .lr = h->lr, .momentum = h->momentum, .dampening = h->dampening,
                .weight_decay = h->wd, .nesterov = h->nesterov };
    g->cur_phase = PHASE_UPDATE;
    int in[3] = { p, gr, buf };
    int node = tg_node(g, OP_sgd, in, buf >= 0 ? 3 : 2, &a);
    CHECK(g->nodes[node].nout == 0 && op_sgd.backward == NULL, "sgd has no outputs and no backward");
    tg_bind(g);

    enum { n = 24 };
    double rp[n], rb[n];
    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, p), n, -1, 1, &r);
    tg_to_double(rp, vf32(g, p), n);
    if (buf >= 0)        /* whatever the buffer holds, step 1 replaces it (PyTorch: buf is None) */
        for (int i = 0; i < n; i++) vf32(g, buf)[i] = 100;
    char what[128];
    for (int t = 1; t <= 3; t++) {
        float *grad = vf32(g, gr);
        tg_fill(grad, n, -1, 1, &r);
        float saved[n];
        memcpy(saved, grad, sizeof saved);
        g->step = t;
        tg_run(g, PHASE_UPDATE);
        tg_check_equal(grad, saved, n, "the stored gradient is not modified");

        for (int i = 0; i < n; i++) {
            double d = (double)saved[i] + h->wd * rp[i];
            if (h->momentum != 0) {
                rb[i] = t == 1 ? d : h->momentum * rb[i] + (1 - h->dampening) * d;
                d = h->nesterov ? d + h->momentum * rb[i] : rb[i];
            }
            rp[i] -= h->lr * d;
        }
        snprintf(what, sizeof what, "lr %g momentum %g dampening %g wd %g nesterov %d step %d: param", h->lr,
                 h->momentum, h->dampening, h->wd, h->nesterov, t);
        tg_check_array(vf32(g, p), rp, n, 1e-7, 1e-6, what);
        if (buf >= 0) {
            snprintf(what, sizeof what, "momentum %g dampening %g step %d: momentum_buffer", h->momentum,
                     h->dampening, t);
            tg_check_array(vf32(g, buf), rb, n, 1e-7, 1e-6, what);
        }
    }
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s[1] = { 4 };
    int p = tg_value(g, "w", VK_PARAM, DT_F32, 0, 1, s);
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 1, s);
    int b = tg_value(g, "b", VK_STATE, DT_F32, 0, 1, s);
    Error e = { "" };
    int in[3] = { p, gr, b };
    Attrs a = { .lr = 0.1f, .momentum = 0.9f };
    CHECK(graph_add(g, OP_sgd, in, 2, &a, &e) < 0 && strstr(e.msg, "3 inputs"), "no buffer: %s", e.msg);
    a.nesterov = 1;
    a.dampening = 0.1f;
    CHECK(graph_add(g, OP_sgd, in, 3, &a, &e) < 0 && strstr(e.msg, "Nesterov"), "nesterov: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    const Hyper cases[] = {
        { 0.1, 0, 0, 0, 0 },                /* plain */
        { 0.1, 0, 0, 0.01, 0 },             /* weight decay only */
        { 0.05, 0.9, 0.1, 0.01, 0 },        /* momentum, dampening, decay */
        { 0.05, 0.9, 0, 0.001, 1 },         /* Nesterov with decay */
        { 0.2, 0.5, 0.5, 0, 0 },            /* heavy dampening */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_sgd(&cases[i], 10 + i);
    test_errors();
    return test_done("test_sgd");
}
