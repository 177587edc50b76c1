/* tests/ops/test_avgpool2d.c: avgpool2d and avgpool2d_backward through the op table against
 * a direct double-precision reference of PyTorch's rule (padded count or not, ceil_mode's
 * last windows, non-square pairs, stride=None), dx against central differences. */
#include "testgraph.h"

typedef struct Case {
    int N, C, H, W, kh, kw, sh, sw, ph, pw, ceil, include_pad;
} Case;

typedef struct Ref {
    const Case *c;
    int Ho, Wo;
    double *x, *r, *y;
} Ref;

/* PyTorch's output size: floor or ceil, a last window starting inside the input or its
 * left padding */
static int out_size(int n, int k, int s, int p, int ceil)
{
    int o = (n + 2 * p - k + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
}

static void ref_forward(Ref *f)
{
    const Case *c = f->c;
    int sh = c->sh ? c->sh : c->kh, sw = c->sw ? c->sw : c->kw;
    for (int plane = 0; plane < c->N * c->C; plane++)
        for (int oh = 0; oh < f->Ho; oh++)
            for (int ow = 0; ow < f->Wo; ow++) {
                double s = 0;
                int inside = 0, padded = 0;
                for (int i = 0; i < c->kh; i++)
                    for (int j = 0; j < c->kw; j++) {
                        int ih = oh * sh - c->ph + i, iw = ow * sw - c->pw + j;
                        if (ih >= c->H + c->ph || iw >= c->W + c->pw) continue;    /* past the right padding */
                        padded++;
                        if (ih < 0 || iw < 0 || ih >= c->H || iw >= c->W) continue;
                        inside++;
                        s += f->x[(plane * c->H + ih) * c->W + iw];
                    }
                f->y[(plane * f->Ho + oh) * f->Wo + ow] = inside ? s / (c->include_pad ? padded : inside) : 0;
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
    a.ceil_mode = c->ceil;
    a.count_include_pad = c->include_pad;
    int node = tg_node(g, OP_avgpool2d, &x, 1, &a);
    int y = tg_out(g, node, 0);
    Ref f = { c, g->vals[y].shape[2], g->vals[y].shape[3], NULL, NULL, NULL };
    int sh = c->sh ? c->sh : c->kh, sw = c->sw ? c->sw : c->kw;
    CHECK(f.Ho == out_size(c->H, c->kh, sh, c->ph, c->ceil) && f.Wo == out_size(c->W, c->kw, sw, c->pw, c->ceil),
          "output %dx%d", f.Ho, f.Wo);
    int dy = tg_value(g, "dy", VK_ACT, DT_F32, 1, 4, g->vals[y].shape);
    int dout[1] = { dy };
    tg_backward(g, node, dout);
    tg_bind(g);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, ny = (size_t)c->N * c->C * f.Ho * f.Wo;
    f.x = xcalloc(nx, sizeof *f.x);
    f.r = xcalloc(ny, sizeof *f.r);
    f.y = xcalloc(ny, sizeof *f.y);
    tg_fill(vf32(g, x), nx, -1, 1, rng);
    tg_fill(vf32(g, dy), ny, -1, 1, rng);
    tg_to_double(f.x, vf32(g, x), nx);
    tg_to_double(f.r, vf32(g, dy), ny);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    ref_forward(&f);
    char what[160];
    snprintf(what, sizeof what, "N%d C%d %dx%d k %dx%d s %dx%d p %dx%d ceil %d include_pad %d", c->N, c->C, c->H,
             c->W, c->kh, c->kw, sh, sw, c->ph, c->pw, c->ceil, c->include_pad);
    tg_check_array(vf32(g, y), f.y, ny, 1e-6, 1e-5, what);
    double *num = xcalloc(nx, sizeof *num);
    tg_numeric_grad(num, f.x, nx, 1e-3, ref_loss, &f);
    tg_check_array(vf32(g, g->vals[x].grad), num, nx, 1e-6, 1e-5, what);
    free(num);
    free(f.x);
    free(f.r);
    free(f.y);
    graph_free(g);
}

int main(void)
{
    Rng rng;
    rng_seed(&rng, 5);
    const Case cases[] = {
        /* N C  H  W kh kw sh sw ph pw ceil include_pad */
        { 1, 2, 6, 6, 2, 2, 0, 0, 0, 0, 0, 1 },     /* AvgPool2d(2) */
        { 3, 2, 7, 5, 3, 3, 2, 2, 1, 1, 0, 1 },     /* padding counted */
        { 2, 3, 7, 5, 3, 3, 2, 2, 1, 1, 0, 0 },     /* padding not counted */
        { 2, 1, 7, 8, 3, 2, 2, 3, 1, 1, 1, 1 },     /* ceil_mode: last windows clipped */
        { 1, 2, 5, 5, 2, 2, 2, 2, 1, 1, 1, 0 },     /* ceil_mode, padding not counted */
        { 2, 2, 9, 6, 5, 2, 1, 2, 2, 0, 0, 1 },     /* non-square, LeNet's 2x2 stride 2 elsewhere */
        { 4, 2, 10, 10, 2, 2, 2, 2, 0, 0, 1, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], &rng);

    Graph *g = graph_new();
    int xs[4] = { 1, 1, 4, 4 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    Attrs a = { 0 };
    a.kernel = 3, a.padding = 2;
    Error e;
    CHECK(graph_add(g, OP_avgpool2d, &x, 1, &a, &e) < 0 && strstr(e.msg, "half of the kernel"), "padding 2 of 3");
    a.kernel = 5, a.padding = 0;
    CHECK(graph_add(g, OP_avgpool2d, &x, 1, &a, &e) < 0 && strstr(e.msg, "does not fit"), "5x5 over 4x4");
    graph_free(g);
    return test_done("test_avgpool2d");
}
