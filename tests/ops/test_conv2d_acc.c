/* tests/ops/test_conv2d_acc.c: runtime/ops/conv2d.c's accumulating input gradient
 * (conv2d_backward_input_acc, and conv2d_backward_input's third input acc, which
 * compiler/passes/fuse.c's fuse_backward_graph gives it): dx = acc + the input gradient,
 * bit for bit the floats that conv2d_backward_input followed by an add gives, on each way of
 * computing it (Winograd F(2x2) and F(4x4), im2col + sgemm image by image and in blocks of images,
 * the direct kernels), on sizes that are not multiples of the tiles, 1x1, 5x5 and strided
 * kernels, 1 and 2 threads; and the shape rule's refusals. */
#include "testgraph.h"
#include "../../runtime/parallel.h"

typedef struct Case { int N, C, H, W, O, k, s, p; } Case;

/* conv2d_backward_input_acc on acc against acc + conv2d_backward_input */
static void test_case(const Case *c, uint64_t seed, const char *path)
{
    int Ho = window_out_size(c->H, c->k, c->s, c->p), Wo = window_out_size(c->W, c->k, c->s, c->p);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, ny = (size_t)c->N * c->O * Ho * Wo, nw = (size_t)c->O * c->C * c->k * c->k;
    float *dy = malloc(ny * sizeof *dy), *w = malloc(nw * sizeof *w), *acc = malloc(nx * sizeof *acc);
    float *dx = malloc(nx * sizeof *dx), *want = malloc(nx * sizeof *want), *got = malloc(nx * sizeof *got);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(dy, ny, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(acc, nx, -2, 2, &r);
    conv2d_backward_input(dx, dy, w, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    for (size_t i = 0; i < nx; i++) want[i] = acc[i] + dx[i];
    memcpy(got, acc, nx * sizeof *got);
    conv2d_backward_input_acc(got, dy, w, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p, 1);
    char what[160];
    snprintf(what, sizeof what, "%s: N%d C%d %dx%d O%d k%d s%d p%d: acc + dx", path, c->N, c->C, c->H, c->W, c->O,
             c->k, c->s, c->p);
    tg_check_equal(got, want, nx, what);
    double moved = 0;
    for (size_t i = 0; i < nx; i++) moved += fabs((double)got[i] - acc[i]);
    CHECK(nx == 0 || moved > 0, "%s: the gradient added nothing", what);
    memcpy(got, dx, nx * sizeof *got);
    conv2d_backward_input_acc(got, dy, w, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p, 0);
    snprintf(what, sizeof what, "%s: N%d C%d %dx%d O%d k%d: accumulate 0 writes", path, c->N, c->C, c->H, c->W, c->O,
             c->k);
    tg_check_equal(got, dx, nx, what);
    free(dy);
    free(w);
    free(acc);
    free(dx);
    free(want);
    free(got);
}

/* conv2d_backward_input(dy, w, acc) in a graph: its output shares acc's storage and holds
 * acc + the gradient; the shape rule refuses an acc of another shape and attributes that
 * only conv2d_general.c takes */
static void test_node(void)
{
    Graph *g = graph_new();
    int dys[4] = { 2, 6, 5, 7 }, ws[4] = { 6, 4, 3, 3 }, xs[4] = { 2, 4, 5, 7 }, bad[4] = { 2, 4, 5, 6 };
    int dy = tg_value(g, "dy", VK_ACT, DT_F32, 1, 4, dys), w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws);
    int acc = tg_value(g, "acc", VK_ACT, DT_F32, 1, 4, xs), wrong = tg_value(g, "wrong", VK_ACT, DT_F32, 1, 4, bad);
    Attrs a = { .kernel = 3, .stride = 1, .padding = 1, .hint_ndim = 4, .hint = { 2, 4, 5, 7 } };
    int plain = tg_node(g, OP_conv2d_backward_input, (int[]){ dy, w }, 2, &a);
    int fused = tg_node(g, OP_conv2d_backward_input, (int[]){ dy, w, acc }, 3, &a);
    int out = tg_out(g, fused, 0);
    CHECK(g->vals[out].view_of == acc, "the accumulating output is not a view of acc");
    Error e;
    CHECK(graph_add(g, OP_conv2d_backward_input, (int[]){ dy, w, wrong }, 3, &a, &e) < 0 &&
              strstr(e.msg, "acc is not x's shape"),
          "an acc of another shape was taken");
    Attrs gen = a;
    gen.dilation_hw[0] = gen.dilation_hw[1] = 1;
    gen.stride_hw[0] = 1, gen.stride_hw[1] = 2;
    int dy2s[4] = { 2, 6, 5, 4 }, dy2 = tg_value(g, "dy2", VK_ACT, DT_F32, 1, 4, dy2s);
    CHECK(graph_add(g, OP_conv2d_backward_input, (int[]){ dy2, w, acc }, 3, &gen, &e) < 0 &&
              strstr(e.msg, "plain attributes"),
          "an accumulating gradient with a 1x2 stride was taken");
    tg_bind(g);
    Rng r;
    rng_seed(&r, 7);
    tg_fill(vf32(g, dy), value_numel(&g->vals[dy]), -1, 1, &r);
    tg_fill(vf32(g, w), value_numel(&g->vals[w]), -1, 1, &r);
    tg_fill(vf32(g, acc), value_numel(&g->vals[acc]), -1, 1, &r);
    size_t n = value_numel(&g->vals[acc]);
    float *want = malloc(n * sizeof *want);
    memcpy(want, vf32(g, acc), n * sizeof *want);
    op_table[OP_conv2d_backward_input]->forward(g, &g->nodes[plain]);
    op_table[OP_conv2d_backward_input]->forward(g, &g->nodes[fused]);
    const float *dx = vf32(g, tg_out(g, plain, 0));
    for (size_t i = 0; i < n; i++) want[i] += dx[i];
    CHECK(vf32(g, out) == vf32(g, acc), "the output is not in acc's storage");
    tg_check_equal(vf32(g, out), want, n, "node: acc + conv2d_backward_input(dy, w)");
    free(want);
    graph_free(g);
}

int main(void)
{
    static const Case cases[] = {
        { 3, 5, 5, 7, 6, 3, 1, 1 },      /* odd sizes: clipped Winograd tiles */
        { 2, 9, 13, 11, 10, 3, 1, 2 },   /* padding 2 */
        { 2, 3, 6, 5, 4, 3, 1, 0 },      /* no padding */
        { 2, 16, 28, 28, 16, 3, 1, 1 },  /* fashion_resnet's 16-channel layers, two images */
        { 3, 4, 7, 6, 5, 1, 1, 0 },      /* 1x1: im2col is the identity */
        { 2, 3, 9, 8, 4, 3, 2, 1 },      /* stride 2 */
        { 2, 3, 8, 9, 5, 5, 1, 2 },      /* 5x5 */
    };
    /* CNNC_CONV_DIRECT, CNNC_CONV_WINOGRAD, CNNC_CONV_WINOGRAD4 as conv2d_use_direct,
     * conv2d_use_winograd, conv2d_use_winograd4; images per sgemm block */
    static const struct { int direct, winograd, winograd4, block; const char *name; } paths[] = {
        { 0, 1, 0, 0, "winograd F(2x2)" }, { 0, 1, 1, 0, "winograd F(4x4)" }, { 0, 0, -1, 0, "im2col" },
        { 0, 0, -1, 2, "im2col blocks of 2" }, { 1, -1, -1, 0, "direct" },
    };
    for (int T = 1; T <= 2; T++) {
        par_set_threads(T);
        for (size_t k = 0; k < sizeof paths / sizeof *paths; k++) {
            char path[64];
            snprintf(path, sizeof path, "%s T%d", paths[k].name, T);
            conv2d_use_direct(paths[k].direct);
            conv2d_use_winograd(paths[k].winograd);
            conv2d_use_winograd4(paths[k].winograd4);
            conv2d_gemm_block(paths[k].block);
            for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 40 + i, path);
        }
    }
    conv2d_use_direct(0);
    conv2d_use_winograd(-1);
    conv2d_use_winograd4(-1);
    conv2d_gemm_block(0);
    par_set_threads(1);
    test_node();
    par_set_threads(0);
    return test_done("test_conv2d_acc");
}
