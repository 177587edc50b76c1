/* tests/ops/test_maxpool2d_general.c: maxpool2d with ceil_mode, dilation and non-square
 * pairs (maxpool2d.c's general scan) through the op table against a direct double
 * reference of PyTorch's rule (output size, window, argmax), dx against central
 * differences; the plain MaxPool2d(2) given through the pairs still takes the 2x2 kernel. */
#include "testgraph.h"

typedef struct Case {
    int N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil;
} Case;

typedef struct Ref {
    const Case *c;
    int Ho, Wo;
    double *x, *r, *y;
    int *argmax;
} Ref;

static int out_size(int n, int k, int s, int p, int d, int ceil)
{
    int o = (n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
}

static void ref_forward(Ref *f)
{
    const Case *c = f->c;
    for (int plane = 0; plane < c->N * c->C; plane++)
        for (int oh = 0; oh < f->Ho; oh++)
            for (int ow = 0; ow < f->Wo; ow++) {
                double m = -INFINITY;
                int at = -1;
                for (int i = 0; i < c->kh; i++)
                    for (int j = 0; j < c->kw; j++) {
                        int ih = oh * c->sh - c->ph + i * c->dh, iw = ow * c->sw - c->pw + j * c->dw;
                        if (ih < 0 || iw < 0 || ih >= c->H || iw >= c->W) continue;
                        double v = f->x[(plane * c->H + ih) * c->W + iw];
                        if (at < 0) at = ih * c->W + iw;
                        if (v > m || isnan(v)) m = v, at = ih * c->W + iw;
                    }
                f->y[(plane * f->Ho + oh) * f->Wo + ow] = m;
                f->argmax[(plane * f->Ho + oh) * f->Wo + ow] = at;
            }
}

static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    ref_forward(f);
    double s = 0;
    for (int i = 0; i < f->c->N * f->c->C * f->Ho * f->Wo; i++) s += f->y[i] * f->r[i];
    return s;
}

static void run_case(const Case *c, Rng *rng)
{
    Graph *g = graph_new();
    int xs[4] = { c->N, c->C, c->H, c->W };
    int x = tg_value(g, "x", VK_ACT, DT_F32, 1, 4, xs);
    g->vals[x].requires_grad = 1;
    Attrs a = { 0 };
    a.kernel_hw[0] = c->kh, a.kernel_hw[1] = c->kw;
    a.stride_hw[0] = c->sh, a.stride_hw[1] = c->sw;
    a.padding_hw[0] = c->ph, a.padding_hw[1] = c->pw;
    a.dilation_hw[0] = c->dh, a.dilation_hw[1] = c->dw;
    a.ceil_mode = c->ceil;
    int node = tg_node(g, OP_maxpool2d, &x, 1, &a);
    int y = tg_out(g, node, 0);
    Ref f = { c, g->vals[y].shape[2], g->vals[y].shape[3], NULL, NULL, NULL, NULL };
    CHECK(f.Ho == out_size(c->H, c->kh, c->sh, c->ph, c->dh, c->ceil) &&
              f.Wo == out_size(c->W, c->kw, c->sw, c->pw, c->dw, c->ceil),
          "output %dx%d", f.Ho, f.Wo);
    int dy = tg_value(g, "dy", VK_ACT, DT_F32, 1, 4, g->vals[y].shape);
    int dout[2] = { dy, -1 };
    tg_backward(g, node, dout);
    tg_bind(g);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, ny = (size_t)c->N * c->C * f.Ho * f.Wo;
    f.x = xcalloc(nx, sizeof *f.x);
    f.r = xcalloc(ny, sizeof *f.r);
    f.y = xcalloc(ny, sizeof *f.y);
    f.argmax = xcalloc(ny, sizeof *f.argmax);
    float *xv = vf32(g, x);
    for (size_t i = 0; i < nx; i++) xv[i] = (float)i * 0.01f - 1;    /* distinct, shuffled */
    for (size_t i = nx - 1; i > 0; i--) {
        size_t j = (size_t)(rng_uniform(rng) * (float)(i + 1)) % (i + 1);
        float t = xv[i];
        xv[i] = xv[j], xv[j] = t;
    }
    tg_fill(vf32(g, dy), ny, -1, 1, rng);
    tg_to_double(f.x, xv, nx);
    tg_to_double(f.r, vf32(g, dy), ny);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    ref_forward(&f);
    char what[160];
    snprintf(what, sizeof what, "N%d C%d %dx%d k %dx%d s %dx%d p %dx%d d %dx%d ceil %d", c->N, c->C, c->H, c->W,
             c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->ceil);
    tg_check_array(vf32(g, y), f.y, ny, 0, 0, what);
    size_t bad = 0;
    for (size_t i = 0; i < ny; i++) bad += vi32(g, tg_out(g, node, 1))[i] != f.argmax[i];
    CHECK(bad == 0, "%s: %zu argmax differ", what, bad);
    double *num = xcalloc(nx, sizeof *num);
    tg_numeric_grad(num, f.x, nx, 1e-3, ref_loss, &f);
    tg_check_array(vf32(g, g->vals[x].grad), num, nx, 1e-6, 1e-5, what);
    free(num);
    free(f.x);
    free(f.r);
    free(f.y);
    free(f.argmax);
    graph_free(g);
}

int main(void)
{
    Rng rng;
    rng_seed(&rng, 3);
    const Case cases[] = {
        /* N C  H  W kh kw sh sw ph pw dh dw ceil */
        { 2, 2, 7, 7, 2, 2, 2, 2, 0, 0, 1, 1, 1 },     /* MaxPool2d(2, ceil_mode=True) over odd sizes */
        { 1, 3, 8, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1 },
        { 2, 1, 9, 8, 3, 3, 1, 1, 1, 1, 2, 2, 0 },     /* dilation 2 */
        { 1, 2, 10, 9, 3, 2, 2, 3, 1, 1, 2, 3, 1 },    /* everything at once */
        { 3, 1, 6, 11, 1, 3, 1, 2, 0, 1, 1, 1, 0 },    /* 1x3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], &rng);

    /* MaxPool2d(2) through the pairs: plain, normalised to the square fields */
    Graph *g = graph_new();
    int xs[4] = { 1, 1, 4, 4 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    Attrs a = { 0 };
    a.kernel_hw[0] = a.kernel_hw[1] = a.stride_hw[0] = a.stride_hw[1] = 2;
    int node = tg_node(g, OP_maxpool2d, &x, 1, &a);
    CHECK(maxpool2d_attrs_plain(&g->nodes[node].a) && g->nodes[node].a.kernel == 2 && g->nodes[node].a.stride == 2,
          "MaxPool2d(2) through the pairs is plain");
    Attrs c = a;
    c.ceil_mode = 1;
    CHECK(!maxpool2d_attrs_plain(&c), "ceil_mode is not plain");
    graph_free(g);
    return test_done("test_maxpool2d_general");
}
