/* tests/ops/test_clip_grad.c: grad_norm's chain and clip_grad_norm against torch's
 * clip_grad_norm_ arithmetic computed in double (p = 2, 1, 3, inf; clipping and not), and
 * clip_grad_value against a direct clamp. */
#include "testgraph.h"

/* two gradients of 6 and 4 elements; returns the graph with the chain and the clip nodes */
static void test_norm(double p, double max_norm, uint64_t seed)
{
    Graph *g = graph_new();
    int s0[2] = { 2, 3 }, s1[1] = { 4 };
    int g0 = tg_value(g, "a.grad", VK_GRAD, DT_F32, 0, 2, s0), g1 = tg_value(g, "b.grad", VK_GRAD, DT_F32, 0, 1, s1);
    Attrs a = { .max_norm = max_norm, .norm_type = p };
    g->cur_phase = PHASE_UPDATE;
    int acc0 = tg_out(g, tg_node(g, OP_grad_norm, &g0, 1, &a), 0);
    int in1[2] = { g1, acc0 };
    int acc = tg_out(g, tg_node(g, OP_grad_norm, in1, 2, &a), 0);
    int c0[2] = { g0, acc }, c1[2] = { g1, acc };
    tg_node(g, OP_clip_grad_norm, c0, 2, &a);
    tg_node(g, OP_clip_grad_norm, c1, 2, &a);
    tg_bind(g);
    Rng r;
    rng_seed(&r, seed);
    float *x0 = vf32(g, g0), *x1 = vf32(g, g1);
    tg_fill(x0, 6, -1, 1, &r);
    tg_fill(x1, 4, -2, 2, &r);
    double d[10];
    tg_to_double(d, x0, 6);
    tg_to_double(d + 6, x1, 4);
    tg_run(g, PHASE_UPDATE);
    /* torch: total = ||(||a||_p, ||b||_p)||_p; coef = min(max_norm / (total + 1e-6), 1) */
    double n[2] = { 0, 0 };
    for (int i = 0; i < 10; i++) {
        double v = fabs(d[i]);
        int k = i >= 6;
        n[k] = isinf(p) ? fmax(n[k], v) : n[k] + pow(v, p);
    }
    if (!isinf(p)) n[0] = pow(n[0], 1 / p), n[1] = pow(n[1], 1 / p);
    double total = isinf(p) ? fmax(n[0], n[1]) : pow(pow(n[0], p) + pow(n[1], p), 1 / p);
    double coef = fmin(max_norm / (total + 1e-6), 1.0);
    char what[64];
    snprintf(what, sizeof what, "p %g: the norms' chain", p);
    CHECK_CLOSE(vf32(g, acc)[0], isinf(p) ? total : pow(total, p), 1e-6, 1e-6, what);
    double want[10];
    for (int i = 0; i < 10; i++) want[i] = d[i] * coef;
    snprintf(what, sizeof what, "p %g max_norm %g: clipped a", p, max_norm);
    tg_check_array(x0, want, 6, 1e-7, 1e-6, what);
    snprintf(what, sizeof what, "p %g max_norm %g: clipped b", p, max_norm);
    tg_check_array(x1, want + 6, 4, 1e-7, 1e-6, what);
    graph_free(g);
}

static void test_value(void)
{
    Graph *g = graph_new();
    int s[1] = { 5 };
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 1, s);
    Attrs a = { .clip_value = 0.5 };
    g->cur_phase = PHASE_UPDATE;
    tg_node(g, OP_clip_grad_value, &gr, 1, &a);
    tg_bind(g);
    const float x[5] = { -2, -0.5f, 0.25f, 0.5001f, 3 };
    const double want[5] = { -0.5, -0.5, 0.25, 0.5, 0.5 };
    memcpy(vf32(g, gr), x, sizeof x);
    tg_run(g, PHASE_UPDATE);
    tg_check_array(vf32(g, gr), want, 5, 0, 0, "clip_grad_value clamps to [-0.5, 0.5]");
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s[1] = { 3 };
    int gr = tg_value(g, "w.grad", VK_GRAD, DT_F32, 0, 1, s);
    Attrs a = { .norm_type = 0 };
    Error e = { "" };
    CHECK(graph_add(g, OP_grad_norm, &gr, 1, &a, &e) < 0 && strstr(e.msg, "norm_type"), "norm_type 0: %s", e.msg);
    a.norm_type = 2;
    int acc = graph_apply(g, OP_grad_norm, &gr, 1, &a, &e);
    int in[2] = { gr, acc };
    a.max_norm = -1;
    CHECK(graph_add(g, OP_clip_grad_norm, in, 2, &a, &e) < 0 && strstr(e.msg, "max_norm"), "max_norm: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    test_norm(2, 0.5, 1);       /* clips */
    test_norm(2, 100, 2);       /* does not: coef 1 */
    test_norm(1, 0.5, 3);
    test_norm(3, 0.5, 4);
    test_norm(INFINITY, 0.5, 5);
    test_value();
    test_errors();
    return test_done("test_clip_grad");
}
