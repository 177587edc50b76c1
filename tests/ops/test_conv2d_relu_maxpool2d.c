/* tests/ops/test_conv2d_relu_maxpool2d.c: the fused Conv2d -> ReLU -> MaxPool2d kernels
 * against the three plain kernels run one after the other: the same outputs bit for bit,
 * the same gradient of the convolution's output, and (direct shapes) the same dx, dw and db
 * from the fused backward as from the plain backward ops, over shapes with odd sizes (rows
 * and columns no window reads), overlapping and padded windows, stride-2 convolutions (the
 * im2col path, in bands of rows: the same outputs within float rounding, the sgemm's
 * columns split otherwise) and stride-1 ones (the direct path), one image and several, on
 * one thread and two. Then the
 * backward rule: which nodes it adds, and those nodes run through a graph. The shapes here
 * have fewer than 8 input channels; the backward of those with more is not the plain ops'
 * bit for bit (conv2d_pool_sparse.c), and test_conv2d_pool_sparse holds it. */
#include "testgraph.h"

#include "../../runtime/parallel.h"

typedef struct Case {
    int N, C, H, W, O, k, s, p, pk, ps, pp;
} Case;

/* The fused backward against conv2d_backward_input and conv2d_backward_weight on dconv,
 * bit for bit, with every output and with dw alone; outputs start as garbage, which must
 * be overwritten */
static void check_fused_backward(const Case *c, const float *dy, const float *y, const int32_t *am, const float *x,
                                 const float *w, const float *dconv, const char *what, Rng *r)
{
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->k * c->k;
    float *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc((size_t)c->O * 4);
    float *fdx = malloc(nx * 4), *fdw = malloc(nw * 4), *fdb = malloc((size_t)c->O * 4);
    conv2d_backward_input(dx, dconv, w, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    conv2d_backward_weight(dw, db, dconv, x, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    tg_fill(fdx, nx, 100, 200, r);
    tg_fill(fdw, nw, 100, 200, r);
    tg_fill(fdb, (size_t)c->O, 100, 200, r);
    conv2d_relu_maxpool2d_backward(fdx, fdw, fdb, dy, y, am, x, w, c->N, c->C, c->H, c->W, c->O, c->k, c->p,
                                   c->pk, c->ps, c->pp);
    char sub[200];
    snprintf(sub, sizeof sub, "%s: fused dx", what);
    tg_check_equal(fdx, dx, nx, sub);
    snprintf(sub, sizeof sub, "%s: fused dw", what);
    tg_check_equal(fdw, dw, nw, sub);
    snprintf(sub, sizeof sub, "%s: fused db", what);
    tg_check_equal(fdb, db, (size_t)c->O, sub);
    tg_fill(fdw, nw, 100, 200, r);
    conv2d_relu_maxpool2d_backward(NULL, fdw, NULL, dy, y, am, x, NULL, c->N, c->C, c->H, c->W, c->O, c->k, c->p,
                                   c->pk, c->ps, c->pp);
    snprintf(sub, sizeof sub, "%s: fused dw alone", what);
    tg_check_equal(fdw, dw, nw, sub);
    free(dx), free(dw), free(db), free(fdx), free(fdw), free(fdb);
}

static void test_case(const Case *c, uint64_t seed)
{
    int Ho = window_out_size(c->H, c->k, c->s, c->p), Wo = window_out_size(c->W, c->k, c->s, c->p);
    int Hp = window_out_size(Ho, c->pk, c->ps, c->pp), Wp = window_out_size(Wo, c->pk, c->ps, c->pp);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->k * c->k;
    size_t nconv = (size_t)c->N * c->O * Ho * Wo, ny = (size_t)c->N * c->O * Hp * Wp;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)c->O * 4);
    float *conv = malloc(nconv * 4), *relu = malloc(nconv * 4), *y = malloc(ny * 4), *fy = malloc(ny * 4);
    float *dy = malloc(ny * 4), *dr = malloc(nconv * 4), *dconv = malloc(nconv * 4), *fdconv = malloc(nconv * 4);
    int32_t *am = malloc(ny * 4), *fam = malloc(ny * 4);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(b, (size_t)c->O, -1, 1, &r);
    tg_fill(dy, ny, -1, 1, &r);

    conv2d_forward(conv, x, w, b, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    relu_forward(relu, conv, nconv);
    maxpool2d_forward(y, am, relu, c->N, c->O, Ho, Wo, c->pk, c->ps, c->pp);
    conv2d_relu_maxpool2d_forward(fy, fam, x, w, b, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p,
                                  c->pk, c->ps, c->pp);
    char what[160];
    snprintf(what, sizeof what, "N%d C%d %dx%d O%d k%d s%d p%d, pool k%d s%d p%d, %d thread%s: forward", c->N, c->C,
             c->H, c->W, c->O, c->k, c->s, c->p, c->pk, c->ps, c->pp, par_threads(), par_threads() > 1 ? "s" : "");
    ConvShape cs = conv_shape(c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    if (c->s > 1) {
        /* the banded forward: its sgemm over other columns rounds otherwise; an argmax may move
         * only to a value within that rounding of the maximum */
        double *want = malloc(ny * sizeof *want);
        size_t moved = 0;
        for (size_t i = 0; i < ny; i++) {
            want[i] = y[i];
            size_t plane = i / ((size_t)Hp * Wp);
            float at = relu[plane * Ho * Wo + (size_t)fam[i]];
            moved += fam[i] != am[i] && y[i] != 0.0f && !(fabsf(at - y[i]) <= 1e-5f * (1 + fabsf(y[i])));
        }
        tg_check_array(fy, want, ny, 1e-5, 1e-5, what);
        CHECK(moved == 0, "%s: %zu argmax away from the maximum", what, moved);
        free(want);
    } else {
        tg_check_equal(fy, y, ny, what);
        size_t moved = 0;        /* an argmax may differ only where the window's maximum is 0 */
        for (size_t i = 0; i < ny; i++) moved += fam[i] != am[i] && y[i] != 0.0f;
        CHECK(moved == 0, "%s: %zu argmax differ at a positive maximum", what, moved);
    }

    maxpool2d_backward(dr, dy, am, c->N, c->O, Ho, Wo, Hp, Wp);
    relu_backward(dconv, dr, relu, nconv);
    relu_maxpool2d_backward(fdconv, dy, fy, fam, c->N, c->O, Ho, Wo, Hp, Wp, c->pk, c->ps, c->pp);
    snprintf(what, sizeof what, "N%d C%d %dx%d O%d k%d s%d p%d, pool k%d s%d p%d: backward", c->N, c->C, c->H,
             c->W, c->O, c->k, c->s, c->p, c->pk, c->ps, c->pp);
    tg_check_equal(fdconv, dconv, nconv, what);
    if (conv2d_backward_direct_ok(&cs)) check_fused_backward(c, dy, fy, fam, x, w, dconv, what, &r);
    free(x), free(w), free(b), free(conv), free(relu), free(y), free(fy);
    free(dy), free(dr), free(dconv), free(fdconv), free(am), free(fam);
}

/* The backward rule of a conv2d_relu_maxpool2d node of shape c (bias, x requiring a
 * gradient as given): the nodes it adds; then the graph run forward and backward, its
 * gradients against the plain kernels', bit for bit. */
static void check_rule(const Case *c, int want_x, int fused, uint64_t seed)
{
    char name[120];
    snprintf(name, sizeof name, "rule N%d C%d %dx%d O%d k%d s%d p%d%s", c->N, c->C, c->H, c->W, c->O, c->k, c->s,
             c->p, want_x ? " dx" : "");
    int Ho = window_out_size(c->H, c->k, c->s, c->p), Wo = window_out_size(c->W, c->k, c->s, c->p);
    int Hp = window_out_size(Ho, c->pk, c->ps, c->pp), Wp = window_out_size(Wo, c->pk, c->ps, c->pp);
    Graph *g = graph_new();
    g->max_batch = g->batch = c->N;
    int xs[4] = { c->N, c->C, c->H, c->W }, ws[4] = { c->O, c->C, c->k, c->k }, ys[4] = { c->N, c->O, Hp, Wp };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    g->vals[x].requires_grad = want_x;
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws), b = tg_value(g, "b", VK_PARAM, DT_F32, 0, 1, &c->O);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, ys);
    Attrs a = { .kernel = c->k, .stride = c->s, .padding = c->p, .pool_kernel = c->pk, .pool_stride = c->ps,
                .pool_padding = c->pp };
    int in[3] = { x, w, b };
    int node = tg_node(g, OP_conv2d_relu_maxpool2d, in, 3, &a);
    int dout[CN_MAX_OUT] = { dy, -1, -1 };
    tg_backward(g, node, dout);
    CHECK(tg_count_op(g, OP_conv2d_relu_maxpool2d_backward) == fused && tg_count_op(g, OP_relu_maxpool2d_backward) == !fused,
          "%s: %s backward expected", name, fused ? "a fused" : "the plain");
    if (fused) {
        const Node *bn = &g->nodes[g->nnodes - 1];
        CHECK(bn->nin == 4 + want_x && bn->nout == 2 + want_x, "%s: %d inputs, %d outputs", name, bn->nin, bn->nout);
    }
    CHECK((g->vals[x].grad >= 0) == want_x && g->vals[w].grad >= 0 && g->vals[b].grad >= 0, "%s: gradients", name);
    tg_bind(g);
    Rng r;
    rng_seed(&r, seed);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->k * c->k;
    size_t nconv = (size_t)c->N * c->O * Ho * Wo, ny = (size_t)c->N * c->O * Hp * Wp;
    tg_fill(vf32(g, x), nx, -1, 1, &r);
    tg_fill(vf32(g, w), nw, -1, 1, &r);
    tg_fill(vf32(g, b), (size_t)c->O, -1, 1, &r);
    tg_fill(vf32(g, dy), ny, -1, 1, &r);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    float *conv = malloc(nconv * 4), *relu = malloc(nconv * 4), *y = malloc(ny * 4), *dr = malloc(nconv * 4);
    float *dconv = malloc(nconv * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc((size_t)c->O * 4);
    int32_t *am = malloc(ny * 4);
    conv2d_forward(conv, vf32(g, x), vf32(g, w), vf32(g, b), c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    relu_forward(relu, conv, nconv);
    maxpool2d_forward(y, am, relu, c->N, c->O, Ho, Wo, c->pk, c->ps, c->pp);
    maxpool2d_backward(dr, vf32(g, dy), am, c->N, c->O, Ho, Wo, Hp, Wp);
    relu_backward(dconv, dr, relu, nconv);
    conv2d_backward_input(dx, dconv, vf32(g, w), c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    conv2d_backward_weight(dw, db, dconv, vf32(g, x), c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    char what[160];
    snprintf(what, sizeof what, "%s: dw", name);
    tg_check_equal(vf32(g, g->vals[w].grad), dw, nw, what);
    snprintf(what, sizeof what, "%s: db", name);
    tg_check_equal(vf32(g, g->vals[b].grad), db, (size_t)c->O, what);
    snprintf(what, sizeof what, "%s: dx", name);
    if (want_x) tg_check_equal(vf32(g, g->vals[x].grad), dx, nx, what);
    free(conv), free(relu), free(y), free(dr), free(dconv), free(dx), free(dw), free(db), free(am);
    graph_free(g);
}

/* The fused backward's shape rule turns away convolutions the direct kernels do not take. */
static void test_backward_errors(void)
{
    Graph *g = graph_new();
    int xs[4] = { 2, 3, 10, 10 }, ys[4] = { 2, 4, 4, 4 }, ws[4] = { 4, 3, 3, 3 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs), w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, ys), y = tg_value(g, "y", VK_INPUT, DT_F32, 1, 4, ys);
    int am = tg_value(g, "am", VK_INPUT, DT_I32, 1, 4, ys);
    Attrs a = { .kernel = 3, .stride = 2, .padding = 1, .pool_kernel = 2, .pool_stride = 2 };
    int in[5] = { dy, y, am, x, w };
    Error e = { "" };
    int nv = g->nvals;
    CHECK(graph_add(g, OP_conv2d_relu_maxpool2d_backward, in, 5, &a, &e) < 0 && strstr(e.msg, "needs stride 1"),
          "stride 2 accepted (\"%s\")", e.msg);
    a.stride = 1;                      /* 10x10 -> 10x10 -> 5x5, not dy's 4x4 */
    CHECK(graph_add(g, OP_conv2d_relu_maxpool2d_backward, in, 5, &a, &e) < 0 && strstr(e.msg, "dy is"),
          "a dy of the wrong shape accepted (\"%s\")", e.msg);
    CHECK(g->nvals == nv, "no outputs left behind");
    graph_free(g);
}

int main(void)
{
    conv2d_use_direct(1);   /* the paths tested here are the direct kernels', whatever this CPU would choose */
    static const Case cases[] = {
        { 2, 3, 10, 10, 16, 3, 1, 1, 2, 2, 0 },    /* the notebook's shape, smaller */
        { 1, 3, 9, 11, 5, 3, 1, 1, 2, 2, 0 },      /* odd: the last row and column unread */
        { 3, 4, 12, 12, 6, 3, 1, 1, 3, 2, 1 },     /* overlapping, padded windows */
        { 2, 2, 13, 12, 4, 3, 2, 1, 2, 2, 0 },     /* stride-2 convolution (im2col path) */
        { 2, 3, 15, 14, 7, 5, 1, 2, 2, 2, 0 },     /* k5, odd convolution output */
        { 1, 1, 28, 28, 32, 3, 1, 1, 2, 2, 0 },    /* fashion.cnn's first layer, one image */
        { 3, 4, 14, 14, 9, 3, 1, 1, 2, 2, 0 },     /* fashion.cnn's second: 7 windows a row */
        { 2, 3, 21, 37, 5, 3, 1, 1, 2, 2, 0 },     /* 18 windows a row, odd sizes */
        { 11, 4, 14, 14, 9, 3, 1, 1, 2, 2, 0 },    /* stacked groups of images, a short last one */
        { 5, 2, 12, 10, 5, 3, 1, 0, 2, 2, 0 },     /* no padding: stacked images with no rows between */
        { 3, 2, 9, 9, 4, 5, 1, 4, 2, 2, 0 },       /* padding k-1: the backward's dy unpadded */
        { 1, 2, 30, 34, 3, 3, 1, 2, 2, 2, 0 },     /* ... and one image: dy's rows with no gap */
        { 1, 1, 10, 10, 2, 3, 1, 2, 2, 2, 0 },     /* ... with 6 windows a row */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 300 + i);
    /* strided convolutions (the banded forward) on one thread and two: each thread's share
     * of the pooled rows in bands, the rows two bands' windows share kept */
    static const Case strided[] = {
        { 1, 3, 40, 46, 8, 7, 2, 3, 3, 2, 1 },     /* ResNet's stem, smaller: one band a share */
        { 1, 16, 90, 80, 4, 7, 2, 3, 3, 2, 1 },    /* bands of 2 pooled rows, one conv row kept */
        { 2, 16, 90, 80, 3, 7, 2, 3, 3, 1, 1 },    /* 3 x 3 stride-1 pooling: two rows kept */
        { 1, 16, 90, 80, 4, 7, 2, 3, 2, 2, 0 },    /* 2 x 2 pooling: nothing kept, odd conv height */
        { 3, 2, 21, 19, 5, 3, 2, 0, 3, 2, 0 },     /* no padding anywhere, three images */
    };
    for (int threads = 1; threads <= 2; threads++) {
        par_set_threads(threads);
        for (size_t i = 0; i < sizeof strided / sizeof *strided; i++) test_case(&strided[i], 500 + i);
    }
    check_rule(&cases[0], 1, 1, 400);
    check_rule(&cases[0], 0, 1, 401);
    check_rule(&cases[8], 1, 1, 402);
    check_rule(&cases[3], 1, 0, 403);      /* stride 2: relu_maxpool2d_backward, then conv2d's rule */
    test_backward_errors();
    return test_done("test_conv2d_relu_maxpool2d");
}
