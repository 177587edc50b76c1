/* tests/ops/test_relu.c: relu and relu_backward: exact values at 0, -0, NaN and both signs,
 * and the gradient against central differences of a double reference. */
#include "testgraph.h"

typedef struct Ref {
    size_t n;
    double *x, *r;
} Ref;

/* sum(relu(x) * r) */
static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    double sum = 0;
    for (size_t i = 0; i < f->n; i++) sum += (f->x[i] > 0 ? f->x[i] : 0) * f->r[i];
    return sum;
}

/* Builds relu over x[shape] with its backward for dy; returns the node. */
static int build(Graph *g, int ndim, const int *shape, int *x, int *dy)
{
    *x = tg_value(g, "x", VK_INPUT, DT_F32, 1, ndim, shape);
    g->vals[*x].requires_grad = 1;
    *dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, ndim, shape);
    int node = tg_node(g, OP_relu, x, 1, NULL);
    tg_backward(g, node, dy);
    return node;
}

static void test_special_values(void)
{
    Graph *g = graph_new();
    int shape[2] = { 1, 8 }, x, dy;
    int node = build(g, 2, shape, &x, &dy);
    int y = tg_out(g, node, 0);
    CHECK(g->vals[y].ndim == 2 && g->vals[y].shape[1] == 8 && g->vals[y].batched, "y has x's shape");
    tg_bind(g);
    const float in[8] = { -2.5f, -0.0f, 0.0f, 1e-30f, 3.0f, NAN, -INFINITY, INFINITY };
    memcpy(vf32(g, x), in, sizeof in);
    for (int i = 0; i < 8; i++) vf32(g, dy)[i] = (float)(i + 1);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    const float *yv = vf32(g, y), *dx = vf32(g, g->vals[x].grad);
    CHECK(yv[0] == 0 && yv[1] == 0 && yv[2] == 0 && yv[3] == 1e-30f && yv[4] == 3.0f && isnan(yv[5]) &&
          yv[6] == 0 && yv[7] == INFINITY, "relu values: %g %g %g %g %g %g %g %g", yv[0], yv[1], yv[2], yv[3],
          yv[4], yv[5], yv[6], yv[7]);
    /* threshold_backward(dy, y, 0) is y <= 0 ? 0 : dy, so a NaN result passes dy */
    const float want[8] = { 0, 0, 0, 4, 5, 6, 0, 8 };
    tg_check_equal(dx, want, 8, "relu_backward values");
    graph_free(g);
}

static void test_gradient(int ndim, const int *shape, uint64_t seed)
{
    Graph *g = graph_new();
    g->max_batch = g->batch = shape[0];
    int x, dy;
    int node = build(g, ndim, shape, &x, &dy);
    int y = tg_out(g, node, 0);
    tg_bind(g);
    size_t n = value_numel(&g->vals[x]);
    Rng r;
    rng_seed(&r, seed);
    float *xv = vf32(g, x);
    tg_fill(xv, n, -1, 1, &r);
    for (size_t i = 0; i < n; i++)      /* keep away from the kink, where differences mislead */
        if (fabsf(xv[i]) < 0.05f) xv[i] = 0.5f;
    tg_fill(vf32(g, dy), n, -1, 1, &r);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    double *want = calloc(n, sizeof *want);
    for (size_t i = 0; i < n; i++) want[i] = xv[i] > 0 ? xv[i] : 0;
    tg_check_array(vf32(g, y), want, n, 0, 0, "relu forward");
    Ref f = { n, malloc(n * sizeof(double)), malloc(n * sizeof(double)) };
    tg_to_double(f.x, xv, n);
    tg_to_double(f.r, vf32(g, dy), n);
    tg_numeric_grad(want, f.x, n, 1e-3, ref_loss, &f);
    /* dx is a copy of dy or 0, so it matches the differences up to their rounding (~1e-12) */
    tg_check_array(vf32(g, g->vals[x].grad), want, n, 1e-9, 1e-9, "relu dx vs differences");
    free(want);
    free(f.x);
    free(f.r);
    graph_free(g);
}

static void test_no_grad(void)
{
    Graph *g = graph_new();
    int shape[2] = { 2, 3 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 2, shape);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 2, shape);
    int node = tg_node(g, OP_relu, &x, 1, NULL);
    tg_backward(g, node, &dy);
    CHECK(g->nnodes == 1 && g->vals[x].grad < 0, "no gradient for an input that does not require one");
    int lab = tg_value(g, "labels", VK_LABEL, DT_I32, 1, 1, shape);
    Error e = { "" };
    CHECK(graph_add(g, OP_relu, &lab, 1, NULL, &e) < 0 && strstr(e.msg, "float32"), "int input: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    test_special_values();
    int s4[4] = { 3, 4, 5, 7 }, s2[2] = { 5, 33 };
    test_gradient(4, s4, 1);
    test_gradient(2, s2, 2);
    test_no_grad();
    return test_done("test_relu");
}
