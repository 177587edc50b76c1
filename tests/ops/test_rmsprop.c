/* tests/ops/test_rmsprop.c: rmsprop over 3 steps against torch.optim.RMSprop's update (1.13)
 * computed independently in double: plain, weight decay, momentum, centered, all together. */
#include "testgraph.h"

typedef struct Hyper {
    double lr, alpha, eps, wd, momentum;    /* as written in Python */
    int    centered;
} Hyper;

/* Tolerances: float32 arithmetic of a few terms per step; the step g/avg divides by a
 * square root near |g|, so each is about lr: 1e-6 relative after 3 steps is ample while a
 * wrong rule (eps inside the root, the centered term left out, momentum not divided) is off
 * by far more. */
static void test_rmsprop(const Hyper *h, uint64_t seed)
{
    Graph *g = graph_new();
    int shape[2] = { 4, 5 };
    int p = tg_value(g, "w", VK_PARAM, DT_F32, 0, 2, shape);
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 2, shape);
    int sq = tg_value(g, "w.square_avg", VK_STATE, DT_F32, 0, 2, shape);
    int in[5] = { p, gr, sq }, nin = 3, buf = -1, ga = -1;
    if (h->momentum > 0) in[nin++] = buf = tg_value(g, "w.momentum_buffer", VK_STATE, DT_F32, 0, 2, shape);
    if (h->centered) in[nin++] = ga = tg_value(g, "w.grad_avg", VK_STATE, DT_F32, 0, 2, shape);
    Attrs a = { .lr = h->lr, .alpha = h->alpha, .eps = h->eps, .weight_decay = h->wd, .momentum = h->momentum,
                .centered = h->centered };
    g->cur_phase = PHASE_UPDATE;
    int node = tg_node(g, OP_rmsprop, in, nin, &a);
    CHECK(g->nodes[node].nout == 0 && op_rmsprop.backward == NULL, "rmsprop has no outputs and no backward");
    tg_bind(g);

    enum { n = 20 };
    double rp[n], rs[n] = { 0 }, rb[n] = { 0 }, rg[n] = { 0 };
    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, p), n, -1, 1, &r);
    tg_to_double(rp, vf32(g, p), n);
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
            rs[i] = h->alpha * rs[i] + (1 - h->alpha) * d * d;
            double avg;
            if (h->centered) {
                rg[i] = h->alpha * rg[i] + (1 - h->alpha) * d;
                avg = sqrt(rs[i] - rg[i] * rg[i]) + h->eps;
            } else {
                avg = sqrt(rs[i]) + h->eps;
            }
            if (h->momentum > 0) {
                rb[i] = h->momentum * rb[i] + d / avg;
                rp[i] -= h->lr * rb[i];
            } else {
                rp[i] -= h->lr * d / avg;
            }
        }
        snprintf(what, sizeof what, "lr %g alpha %g wd %g momentum %g centered %d step %d: param", h->lr, h->alpha,
                 h->wd, h->momentum, h->centered, t);
        tg_check_array(vf32(g, p), rp, n, 1e-7, 1e-6, what);
        tg_check_array(vf32(g, sq), rs, n, 1e-9, 1e-6, "square_avg");
        /* the buffer sums terms g/avg of about 1/sqrt(1-alpha) that can cancel: absolute 1e-5 */
        if (buf >= 0) tg_check_array(vf32(g, buf), rb, n, 1e-5, 1e-6, "momentum_buffer");
        if (ga >= 0) tg_check_array(vf32(g, ga), rg, n, 1e-8, 1e-6, "grad_avg");
    }
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s[1] = { 4 };
    int p = tg_value(g, "w", VK_PARAM, DT_F32, 0, 1, s);
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 1, s);
    int sq = tg_value(g, "w.square_avg", VK_STATE, DT_F32, 0, 1, s);
    Attrs a = { .lr = 0.01, .alpha = 0.99, .eps = 1e-8, .momentum = 0.9 };
    Error e = { "" };
    int in[3] = { p, gr, sq };
    CHECK(graph_add(g, OP_rmsprop, in, 3, &a, &e) < 0 && strstr(e.msg, "takes 4 inputs"), "momentum: %s", e.msg);
    a.momentum = 0;
    a.alpha = -1;
    CHECK(graph_add(g, OP_rmsprop, in, 3, &a, &e) < 0 && strstr(e.msg, "Invalid alpha value"), "alpha: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    const Hyper cases[] = {
        { 0.01, 0.99, 1e-8, 0, 0, 0 },
        { 0.001, 0.9, 1e-6, 0.1, 0, 0 },
        { 0.01, 0.99, 1e-8, 0, 0.9, 0 },
        { 0.01, 0.99, 1e-8, 0, 0, 1 },
        { 0.05, 0.8, 1e-8, 0.01, 0.5, 1 },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) test_rmsprop(&cases[i], (uint64_t)i + 1);
    test_errors();
    return test_done("test_rmsprop");
}
