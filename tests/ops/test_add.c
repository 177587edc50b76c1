/* tests/ops/test_add.c: add: the elementwise sum, its backward (dout to both inputs, summed
 * when both are the same value), and its shape checks; add_relu (relu(a + b), fused for
 * training graphs): its values, NaN, -0 and infinities included, against relu of the sum in
 * double, and its gradient, dy where a + b > 0 (one relu_backward node) to both inputs;
 * add_relu_maxpool2d: the pooled values and argmax of add_relu then maxpool2d, and its
 * gradient that of relu_backward(maxpool2d_backward), bit for bit, for 2x2, 3x3 stride 2
 * padded and 3x3 stride 1 windows over odd sizes, on 1 and 2 threads. */
#include "testgraph.h"
#include "../../runtime/parallel.h"

static void test_forward_backward(void)
{
    Graph *g = graph_new();
    g->max_batch = g->batch = 3;
    int shape[3] = { 3, 4, 5 };
    int a = tg_value(g, "a", VK_INPUT, DT_F32, 1, 3, shape);
    int b = tg_value(g, "b", VK_INPUT, DT_F32, 1, 3, shape);
    int c = tg_value(g, "c", VK_INPUT, DT_F32, 1, 3, shape);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 3, shape);
    g->vals[a].requires_grad = 1;
    g->vals[c].requires_grad = 1;
    int in[2] = { a, b };
    int n1 = tg_node(g, OP_add, in, 2, NULL);
    int y = tg_out(g, n1, 0);
    CHECK(g->vals[y].batched && g->vals[y].ndim == 3 && g->vals[y].shape[2] == 5, "y has a's shape");
    tg_backward(g, n1, &dy);
    CHECK(g->vals[a].grad == dy && g->vals[b].grad < 0, "da = dy, nothing for b (no requires_grad)");

    /* c + c: both inputs are c, so its gradient is dy + dy through an add node */
    int cc[2] = { c, c };
    int n2 = tg_node(g, OP_add, cc, 2, NULL);
    int y2 = tg_out(g, n2, 0);
    tg_backward(g, n2, &dy);
    int dc = g->vals[c].grad;
    CHECK(dc >= 0 && dc != dy && g->nodes[g->vals[dc].producer].op == OP_add, "dc = dy + dy");
    tg_bind(g);

    Rng r;
    rng_seed(&r, 3);
    size_t n = value_numel(&g->vals[a]);
    tg_fill(vf32(g, a), n, -1, 1, &r);
    tg_fill(vf32(g, b), n, -1, 1, &r);
    tg_fill(vf32(g, c), n, -1, 1, &r);
    tg_fill(vf32(g, dy), n, -1, 1, &r);
    graph_set_batch(g, 2);      /* only the first two items */
    for (size_t i = 0; i < n; i++) vf32(g, y)[i] = 9;
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    size_t item = 20, bad_y = 0, bad_y2 = 0, bad_dc = 0, beyond = 0;
    for (size_t i = 0; i < 2 * item; i++) {
        bad_y += vf32(g, y)[i] != vf32(g, a)[i] + vf32(g, b)[i];
        bad_y2 += vf32(g, y2)[i] != vf32(g, c)[i] + vf32(g, c)[i];
        bad_dc += vf32(g, dc)[i] != 2 * vf32(g, dy)[i];
    }
    for (size_t i = 2 * item; i < n; i++) beyond += vf32(g, y)[i] != 9;
    CHECK(bad_y == 0 && bad_y2 == 0 && bad_dc == 0, "sums: %zu %zu %zu wrong", bad_y, bad_y2, bad_dc);
    CHECK(beyond == 0, "rows past the batch untouched (%zu written)", beyond);
    graph_free(g);
}

static void test_add_relu(void)
{
    Graph *g = graph_new();
    g->max_batch = g->batch = 3;
    int shape[3] = { 3, 5, 7 };     /* 35 per item: the 8-lane loop and its tail */
    int a = tg_value(g, "a", VK_INPUT, DT_F32, 1, 3, shape);
    int b = tg_value(g, "b", VK_INPUT, DT_F32, 1, 3, shape);
    int c = tg_value(g, "c", VK_INPUT, DT_F32, 1, 3, shape);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 3, shape);
    g->vals[a].requires_grad = g->vals[b].requires_grad = g->vals[c].requires_grad = 1;
    int in[2] = { a, b }, cc[2] = { c, c };
    int n1 = tg_node(g, OP_add_relu, in, 2, NULL);
    int y = tg_out(g, n1, 0);
    CHECK(g->vals[y].batched && g->vals[y].ndim == 3 && g->vals[y].shape[2] == 7, "y has a's shape");
    tg_backward(g, n1, &dy);
    int da = g->vals[a].grad, db = g->vals[b].grad;
    CHECK(da >= 0 && da == db && g->nodes[g->vals[da].producer].op == OP_relu_backward,
          "da = db = relu_backward(dy, y), one node");
    int n2 = tg_node(g, OP_add_relu, cc, 2, NULL);
    int y2 = tg_out(g, n2, 0);
    tg_backward(g, n2, &dy);
    int dc = g->vals[c].grad;
    CHECK(dc >= 0 && g->nodes[g->vals[dc].producer].op == OP_add, "add_relu(c, c): dc sums two gradients");
    tg_bind(g);

    Rng r;
    rng_seed(&r, 5);
    size_t n = value_numel(&g->vals[a]);
    tg_fill(vf32(g, a), n, -1, 1, &r);
    tg_fill(vf32(g, b), n, -1, 1, &r);
    tg_fill(vf32(g, c), n, -1, 1, &r);
    tg_fill(vf32(g, dy), n, -1, 1, &r);
    const float special[8][2] = { { NAN, 1 }, { -0.0f, -0.0f }, { 0, -0.0f }, { INFINITY, -1 },
                                  { -INFINITY, 5 }, { 1e-30f, 0 }, { INFINITY, -INFINITY }, { 2, -2 } };
    for (int k = 0; k < 8; k++) vf32(g, a)[3 * k + 1] = special[k][0], vf32(g, b)[3 * k + 1] = special[k][1];
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    size_t bad_y = 0, bad_y2 = 0, bad_d = 0, bad_dc = 0;
    for (size_t i = 0; i < n; i++) {
        double s = (double)vf32(g, a)[i] + vf32(g, b)[i], s2 = 2.0 * vf32(g, c)[i];
        float want = (float)(s < 0 ? 0 : s), want2 = (float)(s2 < 0 ? 0 : s2), got = vf32(g, y)[i];
        bad_y += isnan(want) ? !isnan(got) : got != want;
        bad_y2 += vf32(g, y2)[i] != want2;
        bad_d += vf32(g, da)[i] != (got > 0 || isnan(got) ? vf32(g, dy)[i] : 0.0f);
        bad_dc += vf32(g, dc)[i] != (want2 > 0 ? 2 * vf32(g, dy)[i] : 0.0f);
    }
    CHECK(bad_y == 0 && bad_y2 == 0, "relu(a + b): %zu and %zu wrong of %zu", bad_y, bad_y2, n);
    CHECK(bad_d == 0 && bad_dc == 0, "gradients: %zu and %zu wrong of %zu", bad_d, bad_dc, n);
    CHECK(vf32(g, y)[4] == 0 && signbit(vf32(g, y)[4]) && vf32(g, y)[10] == INFINITY && isnan(vf32(g, y)[19]),
          "-0 + -0 gives -0, kept as relu_forward keeps it; inf - 1 = inf; inf - inf = NaN: %g %g %g", vf32(g, y)[4],
          vf32(g, y)[10], vf32(g, y)[19]);
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s1[2] = { 2, 3 }, s2[2] = { 3, 2 };
    int a = tg_value(g, "a", VK_INPUT, DT_F32, 1, 2, s1);
    int b = tg_value(g, "b", VK_INPUT, DT_F32, 1, 2, s2);
    int l = tg_value(g, "l", VK_LABEL, DT_I32, 1, 2, s1);
    Error e = { "" };
    int in[2] = { a, b };
    CHECK(graph_add(g, OP_add, in, 2, NULL, &e) < 0 && strstr(e.msg, "2x3 and 3x2"), "shape: %s", e.msg);
    in[1] = l;
    CHECK(graph_add(g, OP_add, in, 2, NULL, &e) < 0 && strstr(e.msg, "float32"), "dtype: %s", e.msg);
    graph_free(g);
}

/* add_relu_maxpool2d(a, b) against maxpool2d(add_relu(a, b)), forward and backward */
static void test_add_pool(int k, int stride, int pad, int H, int W, int threads)
{
    par_set_threads(threads);
    Graph *g = graph_new();
    int shape[4] = { 3, 5, H, W };
    int a = tg_value(g, "a", VK_INPUT, DT_F32, 1, 4, shape), b = tg_value(g, "b", VK_INPUT, DT_F32, 1, 4, shape);
    g->vals[a].requires_grad = g->vals[b].requires_grad = 1;
    Attrs pa = { .kernel = k, .stride = stride, .padding = pad };
    int fused = tg_node(g, OP_add_relu_maxpool2d, (int[]){ a, b }, 2, &pa);
    int sum = tg_node(g, OP_add_relu, (int[]){ a, b }, 2, NULL);
    int pool = tg_node(g, OP_maxpool2d, (int[]){ tg_out(g, sum, 0) }, 1, &pa);
    const Value *y = &g->vals[tg_out(g, fused, 0)];
    CHECK(y->shape[2] == window_out_size(H, k, stride, pad) && y->shape[3] == window_out_size(W, k, stride, pad) &&
              g->vals[tg_out(g, fused, 1)].dtype == DT_I32, "k%d s%d p%d: the pooled shape", k, stride, pad);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, y->shape);
    tg_backward(g, fused, (int[]){ dy, -1, -1 });
    int da = g->vals[a].grad;
    CHECK(da >= 0 && da == g->vals[b].grad && g->vals[da].producer >= 0 &&
              g->nodes[g->vals[da].producer].op == OP_relu_maxpool2d_backward,
          "k%d: da = db = one relu_maxpool2d_backward", k);
    Attrs ha = { .kernel = k, .stride = stride, .padding = pad, .hint_ndim = 4, .hint = { 3, 5, H, W } };
    int unpool = tg_node(g, OP_maxpool2d_backward, (int[]){ dy, tg_out(g, pool, 1) }, 2, &ha);
    int mask = tg_node(g, OP_relu_backward, (int[]){ tg_out(g, unpool, 0), tg_out(g, sum, 0) }, 2, NULL);
    tg_bind(g);
    Rng r;
    rng_seed(&r, (uint64_t)(100 + k * 10 + H));
    size_t n = value_numel(&g->vals[a]), m = value_numel(&g->vals[dy]);
    tg_fill(vf32(g, a), n, -1, 1, &r);
    tg_fill(vf32(g, b), n, -1, 1, &r);
    tg_fill(vf32(g, dy), m, -1, 1, &r);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    char what[96];
    snprintf(what, sizeof what, "k%d s%d p%d %dx%d T%d: pooled", k, stride, pad, H, W, threads);
    tg_check_equal(vf32(g, tg_out(g, fused, 0)), vf32(g, tg_out(g, pool, 0)), m, what);
    CHECK(memcmp(vi32(g, tg_out(g, fused, 1)), vi32(g, tg_out(g, pool, 1)), m * sizeof(int32_t)) == 0,
          "%s: argmax differs", what);
    snprintf(what, sizeof what, "k%d s%d p%d %dx%d T%d: gradient", k, stride, pad, H, W, threads);
    tg_check_equal(vf32(g, da), vf32(g, tg_out(g, mask, 0)), n, what);
    graph_free(g);
    par_set_threads(0);
}

int main(void)
{
    test_forward_backward();
    test_add_relu();
    test_errors();
    for (int T = 1; T <= 2; T++) {
        test_add_pool(2, 2, 0, 7, 9, T);
        test_add_pool(2, 2, 0, 28, 28, T);
        test_add_pool(3, 2, 1, 7, 6, T);
        test_add_pool(3, 1, 1, 5, 4, T);
    }
    return test_done("test_add");
}
