/* tests/ops/test_flatten.c: flatten as a view (shape, batching, shared storage), its hinted
 * reshape, and its backward (dy reshaped to x's shape, sharing dy's storage). */
#include "testgraph.h"

static void test_view_and_backward(void)
{
    Graph *g = graph_new();
    g->max_batch = g->batch = 3;
    int xs[4] = { 3, 2, 5, 7 }, ys[2] = { 3, 70 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    g->vals[x].requires_grad = 1;
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 2, ys);
    int node = tg_node(g, OP_flatten, &x, 1, NULL);
    int y = tg_out(g, node, 0);
    const Value *yv = &g->vals[y];
    CHECK(yv->ndim == 2 && yv->shape[0] == 3 && yv->shape[1] == 70 && yv->batched && yv->dtype == DT_F32,
          "y is Nx70, batched");
    CHECK(yv->view_of == x, "y is a view of x (view_of %d)", yv->view_of);
    CHECK(yv->requires_grad, "y requires a gradient like x");

    tg_backward(g, node, &dy);
    int dx = g->vals[x].grad;
    CHECK(dx >= 0 && g->nodes[g->vals[dx].producer].op == OP_flatten, "dx comes from a flatten node");
    const Value *dxv = &g->vals[dx];
    CHECK(dxv->ndim == 4 && dxv->shape[0] == 3 && dxv->shape[1] == 2 && dxv->shape[2] == 5 && dxv->shape[3] == 7 &&
          dxv->batched, "dx has x's shape");
    CHECK(dxv->view_of == dy, "dx is a view of dy");

    tg_bind(g);
    CHECK(vf32(g, y) == vf32(g, x) && vf32(g, dx) == vf32(g, dy), "views share their base's storage");
    Rng r;
    rng_seed(&r, 1);
    tg_fill(vf32(g, x), value_numel(&g->vals[x]), -1, 1, &r);
    float first = vf32(g, x)[0];
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    CHECK(vf32(g, y)[0] == first, "forward changes nothing");

    graph_set_batch(g, 2);
    CHECK(g->vals[y].shape[0] == 2 && g->vals[dx].shape[0] == 2, "views follow the batch");
    graph_free(g);
}

static void test_shapes(void)
{
    Graph *g = graph_new();
    int s2[2] = { 4, 9 }, s1[1] = { 4 }, s3[3] = { 4, 3, 3 };
    int x2 = tg_value(g, "x2", VK_INPUT, DT_F32, 1, 2, s2);
    int y2 = tg_out(g, tg_node(g, OP_flatten, &x2, 1, NULL), 0);
    CHECK(g->vals[y2].ndim == 2 && g->vals[y2].shape[1] == 9, "a 2-d input stays Nx9");
    /* a view of a view binds to the base */
    int y3 = tg_out(g, tg_node(g, OP_flatten, &y2, 1, NULL), 0);
    Attrs a = { .hint_ndim = 3 };
    memcpy(a.hint, s3, sizeof s3);
    int y4 = tg_out(g, tg_node(g, OP_flatten, &y3, 1, &a), 0);
    CHECK(g->vals[y4].ndim == 3 && g->vals[y4].shape[1] == 3 && g->vals[y4].shape[2] == 3, "hinted reshape");
    tg_bind(g);
    CHECK(vf32(g, y4) == vf32(g, x2), "a chain of views shares the base's storage");

    Error e = { "" };
    int x1 = tg_value(g, "x1", VK_INPUT, DT_F32, 1, 1, s1);
    CHECK(graph_add(g, OP_flatten, &x1, 1, NULL, &e) < 0 && strstr(e.msg, "at least 2 dims"), "1-d: %s", e.msg);
    Attrs bad = { .hint_ndim = 2, .hint = { 4, 10 } };
    CHECK(graph_add(g, OP_flatten, &x2, 1, &bad, &e) < 0 && strstr(e.msg, "36 elements"), "hint: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    test_view_and_backward();
    test_shapes();
    return test_done("test_flatten");
}
