/* tests/ops/test_conv2d_general.c: conv2d with groups (depthwise included), dilation,
 * non-square kernel, stride and padding, and padding_mode 'reflect' (conv2d_general.c),
 * through the op table: the output against a direct double-precision sum, dx, dw and db
 * against central differences; a plain convolution written with the pairs still takes the
 * original kernels (the same output bit for bit as with the square fields). */
#include "testgraph.h"

typedef struct Case {
    int N, C, H, W, O, G, kh, kw, sh, sw, ph, pw, dh, dw, reflect, bias;
} Case;

typedef struct Ref {
    const Case *c;
    int Ho, Wo;
    double *x, *w, *b, *r, *y;
} Ref;

/* PyTorch's reflect: -1 -> 1, H -> H - 2 */
static int at(int i, int n, int reflect)
{
    if (reflect) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
    }
    return i >= 0 && i < n ? i : -1;
}

static void ref_forward(Ref *f)
{
    const Case *c = f->c;
    int Cg = c->C / c->G, Og = c->O / c->G;
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->O; o++)
            for (int oh = 0; oh < f->Ho; oh++)
                for (int ow = 0; ow < f->Wo; ow++) {
                    double s = c->bias ? f->b[o] : 0;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = at(oh * c->sh - c->ph + i * c->dh, c->H, c->reflect);
                                int iw = at(ow * c->sw - c->pw + j * c->dw, c->W, c->reflect);
                                if (ih < 0 || iw < 0) continue;
                                int ch = o / Og * Cg + ci;
                                s += f->w[((o * Cg + ci) * c->kh + i) * c->kw + j] *
                                     f->x[((n * c->C + ch) * c->H + ih) * c->W + iw];
                            }
                    f->y[((n * c->O + o) * f->Ho + oh) * f->Wo + ow] = s;
                }
}

static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    ref_forward(f);
    double s = 0;
    for (int i = 0; i < f->c->N * f->c->O * f->Ho * f->Wo; i++) s += f->y[i] * f->r[i];
    return s;
}

static void set_attrs(Attrs *a, const Case *c)
{
    memset(a, 0, sizeof *a);
    a->kernel_hw[0] = c->kh, a->kernel_hw[1] = c->kw;
    a->stride_hw[0] = c->sh, a->stride_hw[1] = c->sw;
    a->padding_hw[0] = c->ph, a->padding_hw[1] = c->pw;
    a->dilation_hw[0] = c->dh, a->dilation_hw[1] = c->dw;
    a->groups = c->G;
    a->padding_mode = c->reflect ? PADDING_REFLECT : PADDING_ZEROS;
}

static void run_case(const Case *c, Rng *rng)
{
    Graph *g = graph_new();
    int xs[4] = { c->N, c->C, c->H, c->W }, ws[4] = { c->O, c->C / c->G, c->kh, c->kw }, bs[1] = { c->O };
    int in[3] = { tg_value(g, "x", VK_ACT, DT_F32, 1, 4, xs), tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws),
                  c->bias ? tg_value(g, "b", VK_PARAM, DT_F32, 0, 1, bs) : -1 };
    g->vals[in[0]].requires_grad = 1;
    Attrs a;
    set_attrs(&a, c);
    int node = tg_node(g, OP_conv2d, in, c->bias ? 3 : 2, &a);
    int y = tg_out(g, node, 0);
    const int *yshape = g->vals[y].shape;
    int Ho = yshape[2], Wo = yshape[3];
    int dy = tg_value(g, "dy", VK_ACT, DT_F32, 1, 4, yshape);
    int dout[1] = { dy };
    tg_backward(g, node, dout);
    tg_bind(g);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * (c->C / c->G) * c->kh * c->kw;
    size_t ny = (size_t)c->N * c->O * Ho * Wo;
    double *x = xcalloc(nx, sizeof *x), *w = xcalloc(nw, sizeof *w), *b = xcalloc((size_t)c->O, sizeof *b);
    double *r = xcalloc(ny, sizeof *r), *yd = xcalloc(ny, sizeof *yd);
    tg_fill(vf32(g, in[0]), nx, -1, 1, rng);
    tg_fill(vf32(g, in[1]), nw, -1, 1, rng);
    if (c->bias) tg_fill(vf32(g, in[2]), (size_t)c->O, -1, 1, rng);
    tg_fill(vf32(g, dy), ny, -1, 1, rng);
    tg_to_double(x, vf32(g, in[0]), nx);
    tg_to_double(w, vf32(g, in[1]), nw);
    if (c->bias) tg_to_double(b, vf32(g, in[2]), (size_t)c->O);
    tg_to_double(r, vf32(g, dy), ny);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    Ref f = { c, Ho, Wo, x, w, b, r, yd };
    ref_forward(&f);
    char what[200];
    snprintf(what, sizeof what, "N%d C%d %dx%d O%d groups %d k %dx%d s %dx%d p %dx%d d %dx%d %s", c->N, c->C, c->H,
             c->W, c->O, c->G, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw,
             c->reflect ? "reflect" : "zeros");
    char w2[240];
    snprintf(w2, sizeof w2, "%s: y", what);
    tg_check_array(vf32(g, y), yd, ny, 1e-5, 1e-5, w2);
    double *num = xcalloc(nx > nw ? nx : nw, sizeof *num);
    tg_numeric_grad(num, x, nx, 1e-3, ref_loss, &f);
    snprintf(w2, sizeof w2, "%s: dx", what);
    tg_check_array(vf32(g, g->vals[in[0]].grad), num, nx, 1e-5, 1e-5, w2);
    tg_numeric_grad(num, w, nw, 1e-3, ref_loss, &f);
    snprintf(w2, sizeof w2, "%s: dw", what);
    tg_check_array(vf32(g, g->vals[in[1]].grad), num, nw, 1e-5, 1e-5, w2);
    if (c->bias) {
        tg_numeric_grad(num, b, (size_t)c->O, 1e-3, ref_loss, &f);
        snprintf(w2, sizeof w2, "%s: db", what);
        tg_check_array(vf32(g, g->vals[in[2]].grad), num, (size_t)c->O, 1e-5, 1e-5, w2);
    }
    free(num);
    free(x);
    free(w);
    free(b);
    free(r);
    free(yd);
    graph_free(g);
}

/* A square 3x3, stride 1, padding 1 convolution given through the pairs runs the original
 * kernels: the same output, bit for bit, as given through the square fields */
static void plain_through_pairs(Rng *rng)
{
    Graph *g = graph_new();
    int xs[4] = { 2, 4, 9, 7 }, ws[4] = { 5, 4, 3, 3 };
    int in[2] = { tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs), tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws) };
    Attrs sq = { 0 }, pairs = { 0 };
    sq.kernel = 3, sq.stride = 1, sq.padding = 1;
    pairs.kernel_hw[0] = pairs.kernel_hw[1] = 3;
    pairs.stride_hw[0] = pairs.stride_hw[1] = 1;
    pairs.padding_hw[0] = pairs.padding_hw[1] = 1;
    int n1 = tg_node(g, OP_conv2d, in, 2, &sq), n2 = tg_node(g, OP_conv2d, in, 2, &pairs);
    CHECK(conv2d_attrs_plain(&g->nodes[n2].a) && g->nodes[n2].a.kernel == 3 && g->nodes[n2].a.padding == 1,
          "pairs of equal values are the plain convolution");
    tg_bind(g);
    tg_fill(vf32(g, in[0]), 2 * 4 * 9 * 7, -1, 1, rng);
    tg_fill(vf32(g, in[1]), 5 * 4 * 9, -1, 1, rng);
    tg_run(g, PHASE_FORWARD);
    tg_check_equal(vf32(g, tg_out(g, n2, 0)), vf32(g, tg_out(g, n1, 0)), 2 * 5 * 9 * 7, "square through pairs");
    /* and the general kernel agrees with the original one on it within rounding */
    Attrs gen = sq;
    gen.dilation_hw[0] = 1, gen.dilation_hw[1] = 1, gen.groups = 1;
    gen.kernel_hw[0] = 3, gen.kernel_hw[1] = 3;
    ConvGeneral c = { 2, 4, 9, 7, 5, 1, 9, 7, 0, attrs_window(&gen) };
    float *y = xcalloc(2 * 5 * 9 * 7, sizeof *y);
    conv2d_general_forward(&c, y, vf32(g, in[0]), vf32(g, in[1]), NULL);
    double *want = xcalloc(2 * 5 * 9 * 7, sizeof *want);
    tg_to_double(want, vf32(g, tg_out(g, n1, 0)), 2 * 5 * 9 * 7);
    tg_check_array(y, want, 2 * 5 * 9 * 7, 1e-5, 1e-5, "general kernel on a plain convolution");
    free(y);
    free(want);
    graph_free(g);
}

int main(void)
{
    Rng rng;
    rng_seed(&rng, 7);
    const Case cases[] = {
        /* N  C  H  W  O  G kh kw sh sw ph pw dh dw reflect bias */
        { 1, 4, 6, 5, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1 },    /* groups 2 */
        { 2, 3, 7, 6, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1 },    /* depthwise */
        { 3, 4, 8, 7, 8, 4, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0 },    /* depthwise x2, stride 2, no bias */
        { 2, 2, 9, 8, 3, 1, 3, 3, 1, 1, 2, 2, 2, 2, 0, 1 },    /* dilation 2 */
        { 1, 3, 7, 9, 2, 1, 1, 3, 1, 2, 0, 1, 1, 1, 0, 1 },    /* 1x3, stride 1x2, padding 0x1 */
        { 2, 2, 6, 7, 2, 1, 3, 2, 2, 1, 1, 0, 1, 3, 0, 1 },    /* 3x2 with dilation 1x3 */
        { 2, 3, 5, 6, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1 },    /* reflect */
        { 1, 2, 6, 5, 2, 2, 5, 3, 2, 1, 2, 1, 1, 1, 1, 0 },    /* reflect, 5x3, grouped */
        { 1, 2, 7, 7, 2, 1, 3, 3, 1, 1, 3, 2, 2, 2, 1, 1 },    /* reflect with dilation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], &rng);
    plain_through_pairs(&rng);

    Graph *g = graph_new();
    int xs[4] = { 1, 6, 5, 5 }, ws[4] = { 4, 3, 3, 3 }, w4[4] = { 4, 2, 3, 3 };
    int in[2] = { tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs), tg_value(g, "w", VK_PARAM, DT_F32, 0, 4, ws) };
    Attrs a = { 0 };
    a.kernel = 3, a.stride = 1, a.groups = 4;
    Error e;
    CHECK(graph_add(g, OP_conv2d, in, 2, &a, &e) < 0 && strstr(e.msg, "groups"), "groups 4 over 6 channels");
    a.groups = 2, a.padding = 5, a.padding_mode = PADDING_REFLECT;
    CHECK(graph_add(g, OP_conv2d, in, 2, &a, &e) < 0 && strstr(e.msg, "reflect"), "reflect padding 5 of 5 rows");
    a.groups = 3, a.padding = 1;
    in[1] = tg_value(g, "w4", VK_PARAM, DT_F32, 0, 4, w4);
    CHECK(graph_add(g, OP_conv2d, in, 2, &a, &e) < 0, "a weight of C/groups = 2 channels for groups 3");
    graph_free(g);
    return test_done("test_conv2d_general");
}
