/* tests/ops/test_conv2d_winograd.c: runtime/ops/conv2d_winograd.c's F(2x2,3x3) forward and
 * input gradient against a direct-loop double reference (the input gradient by central
 * differences of it) and against the im2col + sgemm path, on sizes that are not multiples
 * of the 2x2 tile (1x1, 5x7, 13x13, 28x28, 3x139), paddings 0 to 3 and 7, channel counts that are
 * not multiples of 8, batches of 1 and 3, on 1 and 2 threads, with the cache budget's
 * blocks of tiles and with small blocks that straddle tile rows and images; and the fused
 * conv2d_relu_maxpool2d forward on F(2x2) and on F(4x4) against im2col. */
#include "testgraph.h"
#include "../../runtime/parallel.h"

typedef struct Case { int N, C, H, W, O, p, bias; } Case;

/* F(2x2,3x3) rounds differently from a plain sum, a few float ulps of sums of up to 9 * C
 * products of values in [-1, 1); an indexing mistake is off by O(0.1) */
#define ATOL 1e-4
#define RTOL 1e-4

typedef struct Ref {
    const Case *c;
    int Ho, Wo;
    double *x, *w, *b, *r;
    size_t i;            /* the x element whose gradient is being differenced */
} Ref;

/* y[n][o][oh][ow] of the reference: b[o] + sum over c, i, j of w[o][c][i][j] x[n][c][oh-p+i][ow-p+j] */
static double ref_out(const Ref *f, int n, int o, int oh, int ow)
{
    const Case *c = f->c;
    double s = f->b ? f->b[o] : 0;
    for (int ci = 0; ci < c->C; ci++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                int ih = oh - c->p + i, iw = ow - c->p + j;
                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                s += f->w[((o * c->C + ci) * 3 + i) * 3 + j] * f->x[((n * c->C + ci) * c->H + ih) * c->W + iw];
            }
    return s;
}

/* sum(y * r) over the outputs that x element f->i reaches (the rest of the loss does not
 * depend on it): its derivative in x[i] is dx[i] for dy = r */
static double local_loss(void *ctx)
{
    const Ref *f = ctx;
    const Case *c = f->c;
    int w = (int)(f->i % c->W), h = (int)(f->i / c->W % c->H), n = (int)(f->i / ((size_t)c->W * c->H * c->C));
    double s = 0;
    for (int o = 0; o < c->O; o++)
        for (int oh = h + c->p - 2; oh <= h + c->p; oh++)
            for (int ow = w + c->p - 2; ow <= w + c->p; ow++)
                if (oh >= 0 && oh < f->Ho && ow >= 0 && ow < f->Wo)
                    s += f->r[((n * c->O + o) * f->Ho + oh) * f->Wo + ow] * ref_out(f, n, o, oh, ow);
    return s;
}

static double *to_double(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    tg_to_double(d, a, n);
    return d;
}

/* fd: the input gradient also against central differences (once per case: they are slow) */
static void test_case(const Case *c, uint64_t seed, const char *config, int fd)
{
    ConvShape s = conv_shape(c->N, c->C, c->H, c->W, c->O, 3, 1, c->p);
    if (s.Ho < 1 || s.Wo < 1) return;
    char name[128];
    snprintf(name, sizeof name, "%s N%d C%d %dx%d O%d p%d%s", config, c->N, c->C, c->H, c->W, c->O, c->p,
             c->bias ? " bias" : "");
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * 9, ny = (size_t)c->N * c->O * s.P;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc((size_t)c->O * sizeof *b);
    float *dy = malloc(ny * sizeof *dy), *y = malloc(ny * sizeof *y), *y2 = malloc(ny * sizeof *y2);
    float *dx = malloc(nx * sizeof *dx), *dx2 = malloc(nx * sizeof *dx2);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(b, (size_t)c->O, -1, 1, &r);
    tg_fill(dy, ny, -1, 1, &r);
    tg_fill(y, ny, 100, 200, &r);     /* stale values must be overwritten */
    tg_fill(dx, nx, 100, 200, &r);

    Ref f = { c, s.Ho, s.Wo, to_double(x, nx), to_double(w, nw), c->bias ? to_double(b, (size_t)c->O) : NULL,
              to_double(dy, ny), 0 };
    double *want = malloc((nx > ny ? nx : ny) * sizeof *want);
    char what[192];

    conv2d_winograd_forward(&s, y, x, w, c->bias ? b : NULL);
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->O; o++)
            for (int oh = 0; oh < s.Ho; oh++)
                for (int ow = 0; ow < s.Wo; ow++)
                    want[((n * c->O + o) * s.Ho + oh) * s.Wo + ow] = ref_out(&f, n, o, oh, ow);
    snprintf(what, sizeof what, "%s: y against the reference", name);
    tg_check_array(y, want, ny, ATOL, RTOL, what);
    conv2d_gemm_forward(&s, y2, x, w, c->bias ? b : NULL);
    tg_to_double(want, y2, ny);
    snprintf(what, sizeof what, "%s: y against im2col", name);
    tg_check_array(y, want, ny, ATOL, RTOL, what);

    if (c->p <= 2) {
        conv2d_winograd_backward_input(&s, dx, dy, w);
        if (fd) {
            for (f.i = 0; f.i < nx; f.i++) want[f.i] = tg_central_diff(f.x, f.i, 1e-3, local_loss, &f);
            snprintf(what, sizeof what, "%s: dx against differences of the reference", name);
            tg_check_array(dx, want, nx, ATOL, RTOL, what);
        }
        conv2d_gemm_backward_input(&s, dx2, dy, w);
        tg_to_double(want, dx2, nx);
        snprintf(what, sizeof what, "%s: dx against im2col", name);
        tg_check_array(dx, want, nx, ATOL, RTOL, what);
    }
    free(want);
    free(f.x);
    free(f.w);
    free(f.b);
    free(f.r);
    free(x);
    free(w);
    free(b);
    free(dy);
    free(y);
    free(y2);
    free(dx);
    free(dx2);
}

/* Through the graph: a conv2d node and its input-gradient node on Winograd (forced) give
 * what they give on im2col + sgemm (forced off), to rounding */
static void run_graph(int winograd, float *y, float *dx, const Case *c)
{
    conv2d_use_winograd(winograd);
    Graph *g = graph_new();
    g->max_batch = g->batch = c->N;
    int Ho = c->H + 2 * c->p - 2, Wo = c->W + 2 * c->p - 2;
    int xs[4] = { c->N, c->C, c->H, c->W }, ws[4] = { c->O, c->C, 3, 3 }, ys[4] = { c->N, c->O, Ho, Wo };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    g->vals[x].requires_grad = 1;
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, ys);
    Attrs a = { .kernel = 3, .stride = 1, .padding = c->p };
    int in[2] = { x, w };
    int node = tg_node(g, OP_conv2d, in, 2, &a);
    tg_backward(g, node, &dy);
    tg_bind(g);
    Rng r;
    rng_seed(&r, 7);
    tg_fill(vf32(g, x), value_numel(&g->vals[x]), -1, 1, &r);
    tg_fill(vf32(g, w), value_numel(&g->vals[w]), -1, 1, &r);
    tg_fill(vf32(g, dy), value_numel(&g->vals[dy]), -1, 1, &r);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    memcpy(y, vf32(g, tg_out(g, node, 0)), value_numel(&g->vals[tg_out(g, node, 0)]) * sizeof *y);
    memcpy(dx, vf32(g, g->vals[x].grad), value_numel(&g->vals[x]) * sizeof *dx);
    graph_free(g);
}

static void test_graph(void)
{
    const Case c = { 2, 9, 10, 11, 12, 1, 0 };
    size_t ny = (size_t)c.N * c.O * c.H * c.W, nx = (size_t)c.N * c.C * c.H * c.W;
    float *y1 = malloc(ny * sizeof *y1), *y0 = malloc(ny * sizeof *y0);
    float *dx1 = malloc(nx * sizeof *dx1), *dx0 = malloc(nx * sizeof *dx0);
    conv2d_use_direct(0);                /* forced direct kernels would take every 3x3 from Winograd */
    run_graph(1, y1, dx1, &c);
    run_graph(0, y0, dx0, &c);
    conv2d_use_winograd(-1);
    double *want = malloc((nx > ny ? nx : ny) * sizeof *want);
    tg_to_double(want, y0, ny);
    tg_check_array(y1, want, ny, ATOL, RTOL, "graph: conv2d on Winograd against im2col");
    tg_to_double(want, dx0, nx);
    tg_check_array(dx1, want, nx, ATOL, RTOL, "graph: conv2d_backward_input on Winograd against im2col");
    double d = 0;
    for (size_t i = 0; i < ny; i++) d += fabs((double)y1[i] - y0[i]);
    CHECK(d > 0, "graph: the two runs took different paths (Winograd rounds differently)");
    free(want);
    free(y1);
    free(y0);
    free(dx1);
    free(dx0);
}

/* conv2d_relu_maxpool2d's forward takes Winograd image by image (conv2d_forward_image) on
 * F(2x2) (f4 0) or F(4x4) (f4 1): the same pooled values as on im2col, to rounding (atol and
 * rtol tol), and the same argmax where the window's winner is clear */
typedef struct Fused { int N, H, W, f4; unsigned seed; double tol; } Fused;

static void test_fused(const Fused *f)
{
    enum { C = 9, O = 10 };
    int N = f->N, H = f->H, W = f->W, HP = H / 2, WP = W / 2;
    size_t nx = (size_t)N * C * H * W, nw = (size_t)O * C * 9, ny = (size_t)N * O * HP * WP;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), b[O];
    float *y1 = malloc(ny * sizeof *y1), *y0 = malloc(ny * sizeof *y0);
    int32_t *a1 = malloc(ny * sizeof *a1), *a0 = malloc(ny * sizeof *a0);
    Rng r;
    rng_seed(&r, f->seed);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(b, O, -1, 1, &r);
    conv2d_use_direct(0);
    conv2d_use_winograd(1);
    conv2d_use_winograd4(f->f4);
    conv2d_relu_maxpool2d_forward(y1, a1, x, w, b, N, C, H, W, O, 3, 1, 1, 2, 2, 0);
    conv2d_use_winograd(0);
    conv2d_relu_maxpool2d_forward(y0, a0, x, w, b, N, C, H, W, O, 3, 1, 1, 2, 2, 0);
    conv2d_use_winograd(-1);
    conv2d_use_winograd4(-1);
    double *want = malloc(ny * sizeof *want);
    tg_to_double(want, y0, ny);
    const char *path = f->f4 ? "F(4x4)" : "F(2x2)";
    tg_check_array(y1, want, ny, f->tol, f->tol, path);
    size_t same = 0, diff = 0;
    for (size_t i = 0; i < ny; i++) {
        same += a1[i] == a0[i];
        diff += y1[i] != y0[i];
    }
    CHECK(same >= ny * 9 / 10, "conv2d_relu_maxpool2d on %s: %zu of %zu argmax the same", path, same, ny);
    CHECK(diff > 0, "conv2d_relu_maxpool2d on %s: the two runs took the same path", path);
    free(want);
    free(x);
    free(w);
    free(y1);
    free(y0);
    free(a1);
    free(a0);
}

int main(void)
{
    static const Case cases[] = {
        { 1, 3, 1, 1, 5, 1, 1 },       /* one pixel: one tile, three of its four outputs clipped */
        { 1, 3, 1, 1, 2, 2, 0 },       /* padding 2: the 1x1 input's 3x3 output */
        { 3, 5, 5, 7, 6, 0, 1 },       /* odd sizes, no padding: 3x5 outputs */
        { 3, 5, 5, 7, 3, 1, 0 },
        { 1, 10, 5, 7, 9, 2, 1 },      /* padding 2: dx from dy unpadded */
        { 1, 3, 13, 13, 4, 1, 1 },     /* 7 x 7 tiles, the last row and column half clipped */
        { 3, 2, 13, 13, 3, 0, 1 },
        { 1, 9, 28, 28, 10, 1, 1 },    /* fashion_resnet's plane size */
        { 3, 2, 28, 28, 3, 2, 0 },
        { 1, 2, 6, 6, 3, 3, 1 },       /* padding 3: the forward only */
        { 1, 2, 3, 139, 2, 1, 0 },     /* 70 tiles a row: a row in two segments of at most 64 */
        { 1, 2, 2, 9, 2, 7, 1 },       /* padding 7: tiles that see no input at all */
    };
    /* threads, tiles per block (0: the cache budget's), the 16-lane products where the CPU has them */
    static const int configs[][3] = { { 1, 0, 1 }, { 2, 0, 1 }, { 1, 5, 1 }, { 2, 13, 1 }, { 1, 0, 0 }, { 2, 13, 0 } };
    for (size_t k = 0; k < sizeof configs / sizeof *configs; k++) {
        char config[48];
        snprintf(config, sizeof config, "T%d block %d%s", configs[k][0], configs[k][1],
                 configs[k][2] ? "" : ", 8-lane products");
        par_set_threads(configs[k][0]);
        conv2d_winograd_block(configs[k][1]);
        wino_gemm_wide(configs[k][2]);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 300 + i, config, k == 0);
    }
    conv2d_winograd_block(0);
    wino_gemm_wide(1);
    par_set_threads(2);
    test_graph();
    static const Fused fused[] = { { 3, 12, 10, 0, 11, ATOL }, { 2, 28, 26, 1, 12, 2e-4 } };
    for (size_t i = 0; i < sizeof fused / sizeof *fused; i++) test_fused(&fused[i]);
    par_set_threads(0);
    return test_done("test_conv2d_winograd");
}
