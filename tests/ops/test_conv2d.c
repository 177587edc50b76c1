/* tests/ops/test_conv2d.c: conv2d and its backward ops against a direct-loop double
 * reference and central differences of it, over shapes with stride, padding, non-square
 * inputs, batch > 1 and sizes where the output size's floor drops rows; stride-1 shapes
 * run on the direct kernels (conv2d_direct.c) where CNNC_CONV_DIRECT=1 says
 * (test_conv2d_paths.sh) or the path rule picks them (AVX-512; test_path_rule), the others
 * on im2col + sgemm over blocks of images (conv2d_gemm.c), run here with 1, 2 and 3 threads
 * and blocks that leave a remainder. */
#include "testgraph.h"
#include "../../runtime/parallel.h"

typedef struct Case {
    int N, C, H, W, O, k, s, p, bias;
} Case;

/* Tolerances: the op computes in float32 with sums of up to C*k*k = 100 products of values
 * in [-1, 1), so its rounding error stays far below 1e-4 (about 1e-6 in practice), while an
 * indexing mistake is off by O(0.1). The reference and its differences are in double: the
 * loss is linear in each variable, so central differences are exact up to rounding
 * (~1e-12 with h = 1e-3). */
#define ATOL 1e-4
#define RTOL 1e-4

typedef struct Ref {
    const Case *c;
    int N, Ho, Wo;
    double *x, *w, *b, *r, *y;
} Ref;

/* y[n][o][oh][ow] = b[o] + sum over c, i, j of w[o][c][i][j] * x[n][c][oh*s-p+i][ow*s-p+j] */
static void conv_ref(Ref *f)
{
    const Case *c = f->c;
    for (int n = 0; n < f->N; n++)
        for (int o = 0; o < c->O; o++)
            for (int oh = 0; oh < f->Ho; oh++)
                for (int ow = 0; ow < f->Wo; ow++) {
                    double sum = c->bias ? f->b[o] : 0;
                    for (int ci = 0; ci < c->C; ci++)
                        for (int i = 0; i < c->k; i++)
                            for (int j = 0; j < c->k; j++) {
                                int ih = oh * c->s - c->p + i, iw = ow * c->s - c->p + j;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                sum += f->w[((o * c->C + ci) * c->k + i) * c->k + j] *
                                       f->x[((n * c->C + ci) * c->H + ih) * c->W + iw];
                            }
                    f->y[((n * c->O + o) * f->Ho + oh) * f->Wo + ow] = sum;
                }
}

/* sum(y * r): its gradient with respect to y is r */
static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    conv_ref(f);
    double sum = 0;
    size_t ny = (size_t)f->N * f->c->O * f->Ho * f->Wo;
    for (size_t i = 0; i < ny; i++) sum += f->y[i] * f->r[i];
    return sum;
}

static double *dup_double(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    tg_to_double(d, a, n);
    return d;
}

/* The reference of one case at one batch: y and the central differences of the loss with
 * respect to x, w and b. Every thread/block setting runs the same inputs (the same seed), so
 * it is computed once, by the first setting, and kept (the differences are most of the
 * test's time, under valgrind above all). */
typedef struct Expected { double *y, *dx, *dw, *db; } Expected;

static void expected_compute(Expected *r, Graph *g, const Case *c, int N, int x, int w, int b, int dy)
{
    int Ho = window_out_size(c->H, c->k, c->s, c->p), Wo = window_out_size(c->W, c->k, c->s, c->p);
    size_t nx = (size_t)N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->k * c->k;
    size_t ny = (size_t)N * c->O * Ho * Wo;
    Ref f = { c, N, Ho, Wo, dup_double(vf32(g, x), nx), dup_double(vf32(g, w), nw),
              c->bias ? dup_double(vf32(g, b), c->O) : NULL, dup_double(vf32(g, dy), ny),
              malloc((ny ? ny : 1) * sizeof(double)) };
    r->dx = malloc((nx ? nx : 1) * sizeof *r->dx);
    r->dw = malloc((nw ? nw : 1) * sizeof *r->dw);
    r->db = c->bias ? malloc((size_t)c->O * sizeof *r->db) : NULL;
    tg_numeric_grad(r->dx, f.x, nx, 1e-3, ref_loss, &f);
    tg_numeric_grad(r->dw, f.w, nw, 1e-3, ref_loss, &f);
    if (c->bias) tg_numeric_grad(r->db, f.b, (size_t)c->O, 1e-3, ref_loss, &f);
    conv_ref(&f);      /* y at the inputs themselves (the differences left it perturbed) */
    r->y = f.y;
    free(f.x);
    free(f.w);
    free(f.b);
    free(f.r);
}

/* Forward and every gradient of the graph at the current batch N against the reference r
 * (computed here when r->y is still NULL). */
static void check_against_ref(Graph *g, const Case *c, int N, int x, int w, int b, int y, int dy, const char *name,
                              Expected *r)
{
    int Ho = window_out_size(c->H, c->k, c->s, c->p), Wo = window_out_size(c->W, c->k, c->s, c->p);
    size_t nx = (size_t)N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->k * c->k;
    size_t ny = (size_t)N * c->O * Ho * Wo;
    if (!r->y) expected_compute(r, g, c, N, x, w, b, dy);
    char what[160];

    tg_run(g, PHASE_FORWARD);
    snprintf(what, sizeof what, "%s N=%d: y", name, N);
    tg_check_array(vf32(g, y), r->y, ny, ATOL, RTOL, what);

    tg_run(g, PHASE_BACKWARD);
    snprintf(what, sizeof what, "%s N=%d: dx", name, N);
    tg_check_array(vf32(g, g->vals[x].grad), r->dx, nx, ATOL, RTOL, what);
    snprintf(what, sizeof what, "%s N=%d: dw", name, N);
    tg_check_array(vf32(g, g->vals[w].grad), r->dw, nw, ATOL, RTOL, what);
    if (c->bias) {
        snprintf(what, sizeof what, "%s N=%d: db", name, N);
        tg_check_array(vf32(g, g->vals[b].grad), r->db, (size_t)c->O, ATOL, RTOL, what);
    }
}

/* expected[0] at the case's batch, expected[1] at one image fewer */
static void test_case(const Case *c, uint64_t seed, Expected expected[2])
{
    char name[96];
    snprintf(name, sizeof name, "N%d C%d %dx%d O%d k%d s%d p%d%s", c->N, c->C, c->H, c->W, c->O, c->k,
             c->s, c->p, c->bias ? " bias" : "");
    Graph *g = graph_new();
    g->max_batch = g->batch = c->N;
    int Ho = window_out_size(c->H, c->k, c->s, c->p), Wo = window_out_size(c->W, c->k, c->s, c->p);
    int xs[4] = { c->N, c->C, c->H, c->W }, ws[4] = { c->O, c->C, c->k, c->k }, ys[4] = { c->N, c->O, Ho, Wo };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    g->vals[x].requires_grad = 1;
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws);
    int b = c->bias ? tg_value(g, "b", VK_PARAM, DT_F32, 0, 1, &c->O) : -1;
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, ys);
    Attrs a = { 0 };
    a.kernel = c->k;
    a.stride = c->s;
    a.padding = c->p;
    int in[3] = { x, w, b };
    int node = tg_node(g, OP_conv2d, in, c->bias ? 3 : 2, &a);
    int y = tg_out(g, node, 0);
    CHECK(g->vals[y].ndim == 4 && g->vals[y].shape[0] == c->N && g->vals[y].shape[1] == c->O &&
          g->vals[y].shape[2] == Ho && g->vals[y].shape[3] == Wo && g->vals[y].batched,
          "%s: y is %dx%dx%dx%d", name, g->vals[y].shape[0], g->vals[y].shape[1], g->vals[y].shape[2], g->vals[y].shape[3]);
    tg_backward(g, node, &dy);
    CHECK(tg_count_op(g, OP_conv2d_backward_input) == 1 && tg_count_op(g, OP_conv2d_backward_weight) == 1,
          "%s: backward nodes", name);
    CHECK(g->vals[x].grad >= 0 && g->vals[w].grad >= 0 && (!c->bias || g->vals[b].grad >= 0),
          "%s: every input that requires a gradient has one", name);
    tg_bind(g);

    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, x), value_numel(&g->vals[x]), -1, 1, &r);
    tg_fill(vf32(g, w), value_numel(&g->vals[w]), -1, 1, &r);
    if (c->bias) tg_fill(vf32(g, b), (size_t)c->O, -1, 1, &r);
    tg_fill(vf32(g, dy), value_numel(&g->vals[dy]), -1, 1, &r);
    /* stale values in the gradients must be overwritten, not accumulated into */
    for (int v = 0; v < g->nvals; v++)
        if (g->vals[v].producer >= 0 && g->nodes[g->vals[v].producer].phase == PHASE_BACKWARD)
            tg_fill(vf32(g, v), value_numel(&g->vals[v]), 100, 200, &r);

    check_against_ref(g, c, c->N, x, w, b, y, dy, name, &expected[0]);
    if (c->N > 1) {
        /* a smaller batch through the same storage: kernels must read the current shape */
        graph_set_batch(g, c->N - 1);
        check_against_ref(g, c, c->N - 1, x, w, b, y, dy, name, &expected[1]);
    }
    graph_free(g);
}

/* Gradients only for the inputs that require one. */
static void test_requires_grad(void)
{
    Graph *g = graph_new();
    int xs[4] = { 1, 2, 5, 5 }, ws[4] = { 3, 2, 3, 3 }, O = 3;
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws);
    int b = tg_value(g, "b", VK_PARAM, DT_F32, 0, 1, &O);
    g->vals[w].requires_grad = 0;          /* a frozen weight with a trainable bias */
    Attrs a = { .kernel = 3, .stride = 1 };
    int in[3] = { x, w, b };
    int node = tg_node(g, OP_conv2d, in, 3, &a);
    int ys[4] = { 1, 3, 3, 3 };
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, ys);
    tg_backward(g, node, &dy);
    CHECK(tg_count_op(g, OP_conv2d_backward_input) == 0, "no dx for an input that does not require it");
    CHECK(tg_count_op(g, OP_conv2d_backward_weight) == 1, "db needs the weight-gradient node");
    CHECK(g->vals[x].grad < 0 && g->vals[w].grad < 0 && g->vals[b].grad >= 0, "only b gets a gradient");

    /* no bias: the weight-gradient node has one output */
    Graph *h = graph_new();
    x = tg_value(h, "x", VK_INPUT, DT_F32, 1, 4, xs);
    w = tg_value(h, "w", VK_PARAM, DT_F32, 0, 4, ws);
    in[0] = x;
    in[1] = w;
    node = tg_node(h, OP_conv2d, in, 2, &a);
    dy = tg_value(h, "dy", VK_INPUT, DT_F32, 1, 4, ys);
    tg_backward(h, node, &dy);
    int bw = h->nnodes - 1;
    CHECK(h->nodes[bw].op == OP_conv2d_backward_weight && h->nodes[bw].nout == 1, "no db without a bias");
    graph_free(g);
    graph_free(h);
}

static void expect_error(Graph *g, int op, const int *in, int nin, const Attrs *a, const char *needle)
{
    Error e = { "" };
    int nv = g->nvals;
    int n = graph_add(g, op, in, nin, a, &e);
    CHECK(n < 0, "%s: accepted bad inputs", op_table[op]->name);
    CHECK(strstr(e.msg, needle) != NULL, "message \"%s\" should mention \"%s\"", e.msg, needle);
    CHECK(g->nvals == nv, "no outputs left behind");
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int xs[4] = { 2, 3, 6, 6 }, w4[4] = { 8, 4, 3, 3 }, w3[4] = { 8, 3, 3, 3 }, b7 = 7;
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    int wbad = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, w4);
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, w3);
    int b = tg_value(g, "b", VK_PARAM, DT_F32, 0, 1, &b7);
    int flat = tg_value(g, "flat", VK_INPUT, DT_F32, 1, 2, xs);
    Attrs a = { .kernel = 3, .stride = 1 };
    int in[3] = { x, wbad, -1 };
    expect_error(g, OP_conv2d, in, 2, &a, "expects 4 input channels, but its input has 3");
    in[1] = w;
    in[2] = b;
    expect_error(g, OP_conv2d, in, 3, &a, "7 elements");
    in[0] = flat;
    expect_error(g, OP_conv2d, in, 2, &a, "4 dims");
    in[0] = x;
    Attrs big = { .kernel = 7, .stride = 1 };
    int w7s[4] = { 8, 3, 7, 7 };
    int w7 = tg_value(g, "w7", VK_PARAM, DT_F32, 0, 4, w7s);
    in[1] = w7;
    expect_error(g, OP_conv2d, in, 2, &big, "does not fit");
    Attrs s0 = { .kernel = 3, .stride = 0 };
    in[1] = w;
    expect_error(g, OP_conv2d, in, 2, &s0, "stride");
    /* the backward ops check their hint against dy */
    int ys[4] = { 2, 8, 4, 4 };
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, ys);
    Attrs hint = a;
    hint.hint_ndim = 4;
    int hs[4] = { 2, 3, 7, 7 };    /* 7x7 gives 5x5, not dy's 4x4 */
    memcpy(hint.hint, hs, sizeof hs);
    int bin[2] = { dy, w };
    expect_error(g, OP_conv2d_backward_input, bin, 2, &hint, "dy is");
    graph_free(g);
}

/* The im2col scratch is reused: no allocation once it has grown. */
static void test_scratch(void)
{
    float *p = op_scratch(0, 1000);
    CHECK(op_scratch(0, 10) == p && op_scratch(0, 1000) == p, "scratch reused for smaller requests");
    float *q = op_scratch(0, 5000);
    q[4999] = 1;      /* ASan checks the size */
    CHECK(op_scratch(0, 4000) == q, "scratch kept after growing");
    float *r = op_scratch(1, 100);
    CHECK(r != op_scratch(0, 100), "slots are distinct buffers");
}

/* Which path conv_shape takes (conv2d.c's shape_of): never Winograd and the direct kernels
 * both, never either at stride 2; CNNC_CONV_DIRECT=1 gives every stride-1 kernel above 1x1 to
 * the direct kernels; left to the CPU, with AVX-512: Winograd where it pays unless a ReLU and
 * MaxPool2d follow (conv_shape_pooled), the direct kernels where pooled or 32 and more wide,
 * im2col + sgemm otherwise; without AVX-512 (or CNNC_CONV_DIRECT=0) never the direct kernels.
 * Called before anything forces a choice. */
static void test_path_rule(void)
{
    const char *direct = getenv("CNNC_CONV_DIRECT"), *wino = getenv("CNNC_CONV_WINOGRAD");
    ConvShape plain = conv_shape(64, 16, 28, 28, 16, 3, 1, 1), pooled = conv_shape_pooled(64, 16, 28, 28, 16, 3, 1, 1);
    ConvShape narrow = conv_shape(1, 512, 7, 7, 512, 3, 1, 1), wide = conv_shape(32, 3, 100, 100, 16, 3, 1, 1);
    ConvShape strided = conv_shape(2, 16, 28, 28, 16, 3, 2, 1), deep = conv_shape(1, 256, 14, 14, 256, 3, 1, 1);
    ConvShape deep16 = conv_shape(16, 256, 14, 14, 256, 3, 1, 1);
    const ConvShape *all[] = { &plain, &pooled, &narrow, &wide, &strided, &deep, &deep16 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        CHECK(!(all[i]->direct && all[i]->winograd), "path rule: shape %zu takes both Winograd and the direct kernels", i);
    CHECK(!strided.direct && !strided.winograd, "path rule: a stride-2 kernel is not im2col's");
    if (direct && direct[0] == '1') {
        CHECK(plain.direct && pooled.direct && narrow.direct && wide.direct, "path rule: CNNC_CONV_DIRECT=1 is not obeyed");
        return;
    }
    int avx512 = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    avx512 = __builtin_cpu_supports("avx512f");
#endif
    if (!avx512 || (direct && direct[0] == '0')) {
        CHECK(!plain.direct && !pooled.direct && !narrow.direct && !wide.direct,
              "path rule: the direct kernels run without AVX-512 or with CNNC_CONV_DIRECT=0");
        return;
    }
    if (wino) return;    /* a forced Winograd choice: the invariants above only */
    CHECK(plain.winograd && !plain.direct, "path rule: a plain 3x3 convolution where Winograd pays is not Winograd's");
    CHECK(pooled.direct, "path rule: a convolution before ReLU and MaxPool2d is not the direct kernels'");
    CHECK(!narrow.direct && !narrow.winograd, "path rule: resnet18's 7x7 layer at batch 1 is not im2col's");
    CHECK(wide.direct, "path rule: a 100-wide 3-channel convolution is not the direct kernels'");
    CHECK(!deep.direct && !deep.winograd, "path rule: resnet18's 14x14 layer at batch 1 (49 tiles) is not im2col's");
    CHECK(deep16.winograd, "path rule: resnet18's 14x14 layer at batch 16 is not Winograd's");
}

int main(void)
{
    test_path_rule();
    static const Case cases[] = {
        { 2, 3, 7, 5, 4, 3, 1, 0, 1 },      /* non-square, batch 2 */
        { 3, 2, 8, 9, 3, 3, 2, 1, 1 },      /* stride 2, padding, floor: (8+2-3)/2+1 = 4 */
        { 1, 1, 5, 6, 2, 1, 1, 0, 0 },      /* 1x1 stride 1: im2col skipped, no bias */
        { 2, 4, 6, 6, 5, 5, 3, 2, 0 },      /* k5 s3 p2: floor drops a row and a column */
        { 2, 2, 7, 7, 3, 2, 2, 0, 1 },      /* k2 s2 on odd sizes: last row/col unread, dx = 0 there */
        { 2, 3, 5, 4, 2, 1, 2, 0, 1 },      /* 1x1 with stride 2 */
        { 1, 2, 4, 3, 3, 3, 1, 2, 1 },      /* padding 2 with k3: rows entirely in the padding */
        { 4, 3, 11, 10, 8, 3, 1, 1, 1 },    /* larger, same padding */
        { 2, 3, 9, 37, 19, 3, 1, 1, 1 },    /* wide rows, more channels */
        { 2, 1, 6, 20, 9, 5, 1, 2, 0 },     /* k5, one channel, no bias */
        { 1, 2, 5, 6, 3, 3, 1, 3, 1 },      /* padding 3 > k-1: dx by sgemm + col2im, the rest direct */
        { 2, 16, 5, 6, 6, 3, 1, 1, 1 },     /* 144 taps, 6 outputs: partial register blocks */
        { 1, 3, 30, 28, 5, 2, 1, 0, 1 },    /* even kernel, one image split across threads */
        { 20, 2, 4, 5, 3, 3, 1, 1, 1 },     /* many small images: weight gradient in groups of 8 */
        { 2, 3, 8, 9, 4, 5, 1, 1, 1 },      /* k5 p1: dy padded by 3 for the input gradient */
        { 5, 4, 6, 6, 24, 3, 2, 1, 1 },     /* weights outweigh an image's columns: blocks split across threads */
        { 6, 3, 4, 5, 4, 1, 1, 0, 1 },      /* 1x1 in blocks: the planes gathered side by side */
        { 5, 3, 2, 2, 16, 1, 1, 0, 0 },     /* 1x1, weights outweigh the columns */
        { 1, 29, 9, 9, 10, 3, 1, 1, 1 },    /* 261 products a sum: sgemm in chunks of 32 columns, across threads */
    };
    /* threads, images per block (0: the cache budget's choice): remainders (20 images: 3 + 3 + 3 + 1 a share);
     * the others over the cases of 3 images or more only */
    static const int configs[][2] = { { 2, 0 }, { 2, 3 }, { 1, 2 } };
    enum { NCASES = sizeof cases / sizeof *cases };
    static Expected expected[NCASES][2];
    for (size_t k = 0; k < sizeof configs / sizeof *configs; k++) {
        par_set_threads(configs[k][0]);
        conv2d_gemm_block(configs[k][1]);
        for (size_t i = 0; i < NCASES; i++)
            if (k == 0 || cases[i].N >= 3) test_case(&cases[i], 100 + i, expected[i]);
    }
    for (size_t i = 0; i < NCASES; i++)
        for (int h = 0; h < 2; h++) {
            free(expected[i][h].y);
            free(expected[i][h].dx);
            free(expected[i][h].dw);
            free(expected[i][h].db);
        }
    par_set_threads(0);
    conv2d_gemm_block(0);
    test_requires_grad();
    test_errors();
    test_scratch();
    return test_done("test_conv2d");
}
