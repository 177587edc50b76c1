/* tests/ops/test_avgpool2d.c: avgpool2d and avgpool2d_backward through the op table against
 * a direct double-precision reference of PyTorch's rule (padded count or not, ceil_mode's
 * last windows, non-square pairs, stride=None), dx against central differences. */
#include "testpool.h"

typedef struct Case {
    int N, C, H, W, kh, kw, sh, sw, ph, pw, ceil, include_pad;
} Case;

/* PyTorch's output size: floor or ceil, a last window starting inside the input or its
 * left padding */
static int out_size(int n, int k, int s, int p, int ceil)
{
    int o = (n + 2 * p - k + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
}

static void ref_forward(PoolRef *f)
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

static void run_case(const Case *c, Rng *rng)
{
    int xs[4] = { c->N, c->C, c->H, c->W };
    Attrs a = { 0 };
    a.kernel_hw[0] = c->kh, a.kernel_hw[1] = c->kw;
    a.stride_hw[0] = c->sh, a.stride_hw[1] = c->sw;
    a.padding_hw[0] = c->ph, a.padding_hw[1] = c->pw;
    a.ceil_mode = c->ceil;
    a.count_include_pad = c->include_pad;
    int sh = c->sh ? c->sh : c->kh, sw = c->sw ? c->sw : c->kw;
    char what[160];
    snprintf(what, sizeof what, "N%d C%d %dx%d k %dx%d s %dx%d p %dx%d ceil %d include_pad %d", c->N, c->C, c->H,
             c->W, c->kh, c->kw, sh, sw, c->ph, c->pw, c->ceil, c->include_pad);
    PoolRef f = { .c = c, .forward = ref_forward };
    tp_run(&f, OP_avgpool2d, &a, xs, 0, 1e-6, what, rng);
    CHECK(f.Ho == out_size(c->H, c->kh, sh, c->ph, c->ceil) && f.Wo == out_size(c->W, c->kw, sw, c->pw, c->ceil),
          "%s: output %dx%d", what, f.Ho, f.Wo);
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
