/* tests/ops/test_maxpool2d_general.c: maxpool2d with ceil_mode, dilation and non-square
 * pairs (maxpool2d.c's general scan) through the op table against a direct double
 * reference of PyTorch's rule (output size, window, argmax), dx against central
 * differences; the plain MaxPool2d(2) given through the pairs still takes the 2x2 kernel. */
#include "testpool.h"

typedef struct Case {
    int N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil;
} Case;

static int out_size(int n, int k, int s, int p, int d, int ceil)
{
    int o = (n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
}

static void ref_forward(PoolRef *f)
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

static void run_case(const Case *c, Rng *rng)
{
    int xs[4] = { c->N, c->C, c->H, c->W };
    Attrs a = { 0 };
    a.kernel_hw[0] = c->kh, a.kernel_hw[1] = c->kw;
    a.stride_hw[0] = c->sh, a.stride_hw[1] = c->sw;
    a.padding_hw[0] = c->ph, a.padding_hw[1] = c->pw;
    a.dilation_hw[0] = c->dh, a.dilation_hw[1] = c->dw;
    a.ceil_mode = c->ceil;
    char what[160];
    snprintf(what, sizeof what, "N%d C%d %dx%d k %dx%d s %dx%d p %dx%d d %dx%d ceil %d", c->N, c->C, c->H, c->W,
             c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->ceil);
    PoolRef f = { .c = c, .forward = ref_forward };
    tp_run(&f, OP_maxpool2d, &a, xs, 1, 0, what, rng);
    CHECK(f.Ho == out_size(c->H, c->kh, c->sh, c->ph, c->dh, c->ceil) &&
              f.Wo == out_size(c->W, c->kw, c->sw, c->pw, c->dw, c->ceil),
          "%s: output %dx%d", what, f.Ho, f.Wo);
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
