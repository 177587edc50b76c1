/* tests/ops/test_adaptive_pool2d.c: adaptive_avgpool2d and adaptive_maxpool2d (and their
 * backward ops) through the op table against a direct double-precision reference of
 * PyTorch's start/end index rule (outputs that divide the input, that do not, larger
 * than it, 1x1), argmax and NaN rule, dx against central differences. */
#include "testgraph.h"

typedef struct Case {
    int N, C, H, W, Ho, Wo;
} Case;

typedef struct Ref {
    const Case *c;
    int max;
    double *x, *r, *y;
    int *argmax;
} Ref;

static void ref_forward(Ref *f)
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
                f->y[o] = f->max ? m : s / ((h1 - h0) * (w1 - w0));
                if (f->argmax) f->argmax[o] = at;
            }
}

static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    ref_forward(f);
    double s = 0;
    for (int i = 0; i < f->c->N * f->c->C * f->c->Ho * f->c->Wo; i++) s += f->y[i] * f->r[i];
    return s;
}

static void run_case(const Case *c, int max, Rng *rng)
{
    Graph *g = graph_new();
    int xs[4] = { c->N, c->C, c->H, c->W };
    int x = tg_value(g, "x", VK_ACT, DT_F32, 1, 4, xs);
    g->vals[x].requires_grad = 1;
    Attrs a = { 0 };
    a.out_hw[0] = c->Ho, a.out_hw[1] = c->Wo;
    int node = tg_node(g, max ? OP_adaptive_maxpool2d : OP_adaptive_avgpool2d, &x, 1, &a);
    int y = tg_out(g, node, 0);
    int dy = tg_value(g, "dy", VK_ACT, DT_F32, 1, 4, g->vals[y].shape);
    int dout[2] = { dy, -1 };
    tg_backward(g, node, dout);
    tg_bind(g);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, ny = (size_t)c->N * c->C * c->Ho * c->Wo;
    Ref f = { c, max, xcalloc(nx, sizeof(double)), xcalloc(ny, sizeof(double)), xcalloc(ny, sizeof(double)),
              max ? xcalloc(ny, sizeof(int)) : NULL };
    /* distinct values 0.01 apart, shuffled: the max of a window is unique and stays put
     * under the differences' step */
    float *xv = vf32(g, x);
    for (size_t i = 0; i < nx; i++) xv[i] = (float)i * 0.01f - 1;
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
    char what[120];
    snprintf(what, sizeof what, "%s N%d C%d %dx%d -> %dx%d", max ? "max" : "avg", c->N, c->C, c->H, c->W, c->Ho,
             c->Wo);
    tg_check_array(vf32(g, y), f.y, ny, 1e-6, 1e-6, what);
    if (max) {
        size_t bad = 0;
        for (size_t i = 0; i < ny; i++) bad += vi32(g, tg_out(g, node, 1))[i] != f.argmax[i];
        CHECK(bad == 0, "%s: %zu argmax differ", what, bad);
    }
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
