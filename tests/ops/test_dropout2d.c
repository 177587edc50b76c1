/* tests/ops/test_dropout2d.c: dropout2d: whole channels zeroed with probability p and the
 * others scaled by 1/(1-p), the fraction kept, the backward through the same mask, the
 * evaluation pass (y = x, dy passes), p = 0 and p = 1, and the checks of p and shape. */
#include "testgraph.h"

/* dropout2d over x[N,C,H,W] with its backward; training as given */
static Graph *run(double p, int training, int N, int C, int H, int W, int *x, int *dy, int *node, uint64_t seed)
{
    Graph *g = graph_new();
    int shape[4] = { N, C, H, W };
    g->max_batch = g->batch = N;
    *x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, shape);
    g->vals[*x].requires_grad = 1;
    *dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, shape);
    Attrs a = { 0 };
    a.p = p;
    *node = tg_node(g, OP_dropout2d, x, 1, &a);
    tg_backward(g, *node, dy);
    tg_bind(g);
    Rng r;
    rng_seed(&r, seed);
    size_t n = value_numel(&g->vals[*x]);
    tg_fill(vf32(g, *x), n, 0.5f, 2, &r);      /* never 0: a zero output means dropped */
    tg_fill(vf32(g, *dy), n, -1, 1, &r);
    rng_seed(&g->rng, seed + 1);
    g->training = training;
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    return g;
}

static void test_training(double p)
{
    int N = 16, C = 32, H = 3, W = 5, x, dy, node;
    Graph *g = run(p, 1, N, C, H, W, &x, &dy, &node, 7);
    int y = tg_out(g, node, 0), mask = tg_out(g, node, 1);
    CHECK(g->vals[mask].ndim == 2 && g->vals[mask].shape[1] == C && g->vals[mask].batched, "mask is N x C");
    float scale = 1.0f / (float)(1.0 - p);
    size_t plane = (size_t)H * W, kept = 0, bad_mask = 0, bad_y = 0, bad_dx = 0;
    const float *xv = vf32(g, x), *yv = vf32(g, y), *m = vf32(g, mask), *d = vf32(g, dy);
    const float *dx = vf32(g, g->vals[x].grad);
    for (size_t c = 0; c < (size_t)N * C; c++) {
        bad_mask += m[c] != 0 && m[c] != scale;
        kept += m[c] != 0;
        for (size_t i = 0; i < plane; i++) {
            size_t k = c * plane + i;
            bad_y += yv[k] != xv[k] * m[c];
            bad_dx += dx[k] != d[k] * m[c];
        }
    }
    CHECK(bad_mask == 0 && bad_y == 0 && bad_dx == 0, "p=%g: %zu mask values, %zu outputs, %zu gradients wrong", p,
          bad_mask, bad_y, bad_dx);
    /* 512 channels: the kept fraction within 5 standard deviations of 1 - p */
    double frac = (double)kept / (N * C), sd = sqrt(p * (1 - p) / (N * C));
    CHECK(fabs(frac - (1 - p)) <= 5 * sd + 1e-12, "p=%g: kept %.3f of the channels", p, frac);
    graph_free(g);
}

static void test_eval_and_extremes(void)
{
    int x, dy, node;
    Graph *g = run(0.5, 0, 2, 3, 4, 4, &x, &dy, &node, 3);
    size_t n = value_numel(&g->vals[x]);
    CHECK(!memcmp(vf32(g, tg_out(g, node, 0)), vf32(g, x), n * sizeof(float)), "evaluation: y = x");
    CHECK(!memcmp(vf32(g, g->vals[x].grad), vf32(g, dy), n * sizeof(float)), "evaluation: dx = dy");
    graph_free(g);
    g = run(1.0, 1, 2, 3, 4, 4, &x, &dy, &node, 3);
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += vf32(g, tg_out(g, node, 0))[i] != 0 || vf32(g, g->vals[x].grad)[i] != 0;
    CHECK(nonzero == 0, "p=1 zeroes everything (%zu not)", nonzero);
    graph_free(g);
    g = run(0.0, 1, 2, 3, 4, 4, &x, &dy, &node, 3);
    CHECK(!memcmp(vf32(g, tg_out(g, node, 0)), vf32(g, x), n * sizeof(float)), "p=0 keeps everything");
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s4[4] = { 2, 3, 4, 4 }, s1[1] = { 6 };
    int a = tg_value(g, "a", VK_INPUT, DT_F32, 1, 4, s4), b = tg_value(g, "b", VK_INPUT, DT_F32, 1, 1, s1);
    Error e = { "" };
    Attrs at = { 0 };
    at.p = 1.5;
    CHECK(graph_add(g, OP_dropout2d, &a, 1, &at, &e) < 0 && strstr(e.msg, "between 0 and 1, but got 1.5"), "%s", e.msg);
    at.p = 0.5;
    CHECK(graph_add(g, OP_dropout2d, &b, 1, &at, &e) < 0 && strstr(e.msg, "N x C), but x is 6"), "%s", e.msg);
    graph_free(g);
}

int main(void)
{
    test_training(0.3);
    test_training(0.5);
    test_training(0.8);
    test_eval_and_extremes();
    test_errors();
    return test_done("test_dropout2d");
}
