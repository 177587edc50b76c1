/* tests/ops/test_adaptive_pool2d.c: adaptive_avgpool2d and adaptive_maxpool2d (and their
 * backward ops) through the op table against a direct double-precision reference of
 * PyTorch's start/end index rule (outputs that divide the input, that do not, larger
 * than it, 1x1), argmax and NaN rule, dx against central differences. */
#include "testpool.h"

typedef struct Case {
    int N, C, H, W, Ho, Wo;
} Case;

/* the max pool when f->argmax is set, else the average */
static void ref_forward(PoolRef *f)
{
    const Case *c = f->c;
    for (int plane = 0; plane < c->N * c->C; plane++)
        for (int oh = 0; oh < c->Ho; oh++)
            for (int ow = 0; ow < c->Wo; ow++) {
                int h0 = (int)floor((double)oh * c->H / c->Ho), h1 = (int)ceil((double)(oh + 1) * c->H / c->Ho);
                int w0 = (int)floor((double)ow * c->W / c->Wo), w1 = (int)ceil((double)(ow + 1) * c->W / c->Wo);
                double s = 0, m = -INFINITY;
                int at = h0 * c->W + w0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        double v = f->x[(plane * c->H + ih) * c->W + iw];
                        s += v;
                        if (v > m || isnan(v)) m = v, at = ih * c->W + iw;
                    }
                int o = (plane * c->Ho + oh) * c->Wo + ow;
                f->y[o] = f->argmax ? m : s / ((h1 - h0) * (w1 - w0));
                if (f->argmax) f->argmax[o] = at;
            }
}

static void run_case(const Case *c, int max, Rng *rng)
{
    int xs[4] = { c->N, c->C, c->H, c->W };
    Attrs a = { 0 };
    a.out_hw[0] = c->Ho, a.out_hw[1] = c->Wo;
    char what[120];
    snprintf(what, sizeof what, "%s N%d C%d %dx%d -> %dx%d", max ? "max" : "avg", c->N, c->C, c->H, c->W, c->Ho,
             c->Wo);
    PoolRef f = { .c = c, .forward = ref_forward };
    tp_run(&f, max ? OP_adaptive_maxpool2d : OP_adaptive_avgpool2d, &a, xs, max, 1e-6, what, rng);
    CHECK(f.Ho == c->Ho && f.Wo == c->Wo, "%s: output %dx%d", what, f.Ho, f.Wo);
}

int main(void)
{
    Rng rng;
    rng_seed(&rng, 11);
    const Case cases[] = {
        { 2, 3, 8, 8, 4, 4 },       /* divides */
        { 1, 2, 7, 5, 3, 2 },       /* does not: overlapping windows */
        { 3, 2, 5, 6, 1, 1 },       /* global pooling */
        { 2, 1, 3, 4, 5, 7 },       /* larger than the input */
        { 1, 2, 10, 7, 7, 7 },      /* ResNet's AdaptiveAvgPool2d((7, 7)) over a smaller plane */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i], 0, &rng);
        run_case(&cases[i], 1, &rng);
    }

    /* PyTorch's NaN rule: a NaN is the max, the last NaN of the scan wins */
    Graph *g = graph_new();
    int xs[4] = { 1, 1, 2, 3 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    Attrs a = { 0 };
    a.out_hw[0] = a.out_hw[1] = 1;
    int node = tg_node(g, OP_adaptive_maxpool2d, &x, 1, &a);
    tg_bind(g);
    const float in[6] = { 1, NAN, 5, 2, NAN, 3 };
    memcpy(vf32(g, x), in, sizeof in);
    tg_run(g, PHASE_FORWARD);
    CHECK(isnan(vf32(g, tg_out(g, node, 0))[0]) && vi32(g, tg_out(g, node, 1))[0] == 4, "NaN max at 4, got %d",
          vi32(g, tg_out(g, node, 1))[0]);
    a.out_hw[0] = 0;
    Error e;
    CHECK(graph_add(g, OP_adaptive_avgpool2d, &x, 1, &a, &e) < 0 && strstr(e.msg, "at least 1x1"), "output 0x1");
    graph_free(g);
    return test_done("test_adaptive_pool2d");
}
