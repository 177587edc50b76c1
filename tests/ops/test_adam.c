/* tests/ops/test_adam.c: adam and adamw over 3 steps against torch.optim.Adam's and AdamW's
 * updates (1.13) computed independently in double, with and without weight decay and amsgrad. */
#include "testgraph.h"

typedef struct Hyper {
    double lr, beta1, beta2, eps, wd;     /* as written in Python */
    int amsgrad, adamw;
} Hyper;

/* Tolerances: the op runs in float32; each element's moments carry a few roundings of
 * 2^-24 relative per step, so 2e-6 relative after 3 steps is ample, yet it catches betas
 * taken from the float attributes as is (0.999f = 0.99900001287: 1 - beta2 off by 1.3e-5
 * relative). Parameters are within 1 (ulp 6e-8) and move by about lr per step. */
static void test_adam(const Hyper *h, uint64_t seed)
{
    Graph *g = graph_new();
    int shape[2] = { 3, 5 };
    int p = tg_value(g, "w", VK_PARAM, DT_F32, 0, 2, shape);
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 2, shape);
    int m = tg_value(g, "w.exp_avg", VK_STATE, DT_F32, 0, 2, shape);
    int v = tg_value(g, "w.exp_avg_sq", VK_STATE, DT_F32, 0, 2, shape);
    int vmax = tg_value(g, "w.max_exp_avg_sq", VK_STATE, DT_F32, 0, 2, shape);
    Attrs a = { .lr = h->lr, .beta1 = h->beta1, .beta2 = h->beta2, .eps = h->eps,
                .weight_decay = h->wd, .amsgrad = h->amsgrad };
    g->cur_phase = PHASE_UPDATE;
    int in[5] = { p, gr, m, v, vmax };
    int node = tg_node(g, h->adamw ? OP_adamw : OP_adam, in, h->amsgrad ? 5 : 4, &a);
    CHECK(g->nodes[node].nout == 0 && op_adam.backward == NULL, "adam has no outputs and no backward");
    tg_bind(g);

    enum { n = 15 };
    double rp[n], rm[n] = { 0 }, rv[n] = { 0 }, rvmax[n] = { 0 };
    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, p), n, -1, 1, &r);
    tg_to_double(rp, vf32(g, p), n);
    char what[96];
    for (int t = 1; t <= 3; t++) {
        float *grad = vf32(g, gr);
        tg_fill(grad, n, -1, 1, &r);
        grad[0] = 1e-9f;           /* v ~ 0: the denominator is about eps */
        float saved[n];
        memcpy(saved, grad, sizeof saved);
        g->step = t;
        tg_run(g, PHASE_UPDATE);
        tg_check_equal(grad, saved, n, "the stored gradient is not modified");

        double bc1 = 1 - pow(h->beta1, t), bc2 = 1 - pow(h->beta2, t);
        for (int i = 0; i < n; i++) {
            double d = (double)saved[i] + (h->adamw ? 0 : h->wd * rp[i]);
            if (h->adamw) rp[i] *= 1 - h->lr * h->wd;
            rm[i] = h->beta1 * rm[i] + (1 - h->beta1) * d;
            rv[i] = h->beta2 * rv[i] + (1 - h->beta2) * d * d;
            rvmax[i] = fmax(rvmax[i], rv[i]);
            rp[i] -= h->lr / bc1 * rm[i] / (sqrt(h->amsgrad ? rvmax[i] : rv[i]) / sqrt(bc2) + h->eps);
        }
        snprintf(what, sizeof what, "lr %g wd %g step %d: exp_avg", h->lr, h->wd, t);
        /* exp_avg can cancel to near 0: its terms (<= 0.1) round by ~1e-8 absolute */
        tg_check_array(vf32(g, m), rm, n, 3e-8, 2e-6, what);
        snprintf(what, sizeof what, "lr %g wd %g step %d: exp_avg_sq", h->lr, h->wd, t);
        tg_check_array(vf32(g, v), rv, n, 1e-12, 2e-6, what);
        if (h->amsgrad) {
            snprintf(what, sizeof what, "lr %g wd %g step %d: max_exp_avg_sq", h->lr, h->wd, t);
            tg_check_array(vf32(g, vmax), rvmax, n, 1e-12, 2e-6, what);
        }
        snprintf(what, sizeof what, "%s lr %g wd %g amsgrad %d step %d: param", h->adamw ? "adamw" : "adam", h->lr,
                 h->wd, h->amsgrad, t);
        tg_check_array(vf32(g, p), rp, n, 3e-7, 1e-6, what);
    }
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s[1] = { 4 }, s5[1] = { 5 };
    int p = tg_value(g, "w", VK_PARAM, DT_F32, 0, 1, s);
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 1, s);
    int m = tg_value(g, "m", VK_STATE, DT_F32, 0, 1, s);
    int v5 = tg_value(g, "v", VK_STATE, DT_F32, 0, 1, s5);
    Attrs a = { .lr = 0.001f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f };
    Error e = { "" };
    int in[4] = { p, gr, m, v5 };
    CHECK(graph_add(g, OP_adam, in, 4, &a, &e) < 0 && strstr(e.msg, "exp_avg_sq"), "shape: %s", e.msg);
    in[3] = m;
    a.beta2 = 1.0f;
    CHECK(graph_add(g, OP_adam, in, 4, &a, &e) < 0 && strstr(e.msg, "beta parameter at index 1"), "beta2: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    const Hyper plain = { 0.01, 0.9, 0.999, 1e-8, 0, 0, 0 };
    const Hyper decay = { 0.001, 0.9, 0.999, 1e-8, 0.01, 0, 0 };
    const Hyper other = { 0.1, 0.8, 0.99, 1e-6, 0.1, 0, 0 };
    const Hyper amsgrad = { 0.1, 0.8, 0.99, 1e-6, 0.1, 1, 0 };
    const Hyper adamw = { 0.01, 0.9, 0.999, 1e-8, 0.5, 0, 1 };
    const Hyper adamw_amsgrad = { 0.1, 0.8, 0.99, 1e-6, 0.1, 1, 1 };
    test_adam(&plain, 1);
    test_adam(&decay, 2);
    test_adam(&other, 3);
    test_adam(&amsgrad, 4);
    test_adam(&adamw, 5);
    test_adam(&adamw_amsgrad, 6);
    test_errors();
    return test_done("test_adam");
}
