/* tests/ops/test_conv2d_depthwise.c: the depthwise kernels (conv2d_depthwise.c) against the
 * general grouped kernel (conv2d_general.c, sums in double) on the same inputs: y, dx, dw
 * and db, over rows narrower than, as wide as and wider than a vector, strides 1 to 3,
 * dilation, non-square windows, padding wider than the window and channel multipliers 1 to
 * 3; which shapes conv2d_general_* send there. Finite differences through the op table are
 * in test_conv2d_general.c (depthwise cases included). */
#include "testgraph.h"

typedef struct Case {
    int N, C, H, W, m, kh, kw, sh, sw, ph, pw, dh, dw;
} Case;

static void compare(const float *got, const float *want, size_t n, const char *what, const char *part)
{
    double *w = xcalloc(n, sizeof *w);
    tg_to_double(w, want, n);
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %s", what, part);
    tg_check_array(got, w, n, 1e-5, 1e-5, msg);
    free(w);
}

static void run_case(const Case *t, Rng *rng)
{
    Window2d k = { t->kh, t->kw, t->sh, t->sw, t->ph, t->pw, t->dh, t->dw };
    int O = t->C * t->m, Ho = window_out_size_ex(t->H, t->kh, t->sh, t->ph, t->dh, 0),
        Wo = window_out_size_ex(t->W, t->kw, t->sw, t->pw, t->dw, 0);
    ConvGeneral c = { t->N, t->C, t->H, t->W, O, t->C, Ho, Wo, 0, k };
    char what[200];
    snprintf(what, sizeof what, "N%d C%d %dx%d m%d k %dx%d s %dx%d p %dx%d d %dx%d", t->N, t->C, t->H, t->W, t->m,
             t->kh, t->kw, t->sh, t->sw, t->ph, t->pw, t->dh, t->dw);
    CHECK(conv2d_depthwise_applies(&c), "%s: goes to the depthwise kernel", what);
    size_t nx = (size_t)t->N * t->C * t->H * t->W, nw = (size_t)O * t->kh * t->kw, ny = (size_t)t->N * O * Ho * Wo;
    float *x = xcalloc(nx, sizeof *x), *w = xcalloc(nw, sizeof *w), *b = xcalloc((size_t)O, sizeof *b);
    float *dy = xcalloc(ny, sizeof *dy);
    float *y1 = xcalloc(ny, sizeof *y1), *y2 = xcalloc(ny, sizeof *y2), *dx1 = xcalloc(nx, sizeof *dx1),
          *dx2 = xcalloc(nx, sizeof *dx2), *dw1 = xcalloc(nw, sizeof *dw1), *dw2 = xcalloc(nw, sizeof *dw2),
          *db1 = xcalloc((size_t)O, sizeof *db1), *db2 = xcalloc((size_t)O, sizeof *db2);
    tg_fill(x, nx, -1, 1, rng);
    tg_fill(w, nw, -1, 1, rng);
    tg_fill(b, (size_t)O, -1, 1, rng);
    tg_fill(dy, ny, -1, 1, rng);
    /* stale values in the outputs must not leak into the results */
    for (size_t i = 0; i < ny; i++) y1[i] = 1e30f;
    for (size_t i = 0; i < nx; i++) dx1[i] = 1e30f;
    for (size_t i = 0; i < nw; i++) dw1[i] = 1e30f;
    conv2d_depthwise_forward(&c, y1, x, w, b);
    conv2d_grouped_forward(&c, y2, x, w, b);
    compare(y1, y2, ny, what, "y");
    conv2d_depthwise_backward_input(&c, dx1, dy, w);
    conv2d_grouped_backward_input(&c, dx2, dy, w);
    compare(dx1, dx2, nx, what, "dx");
    conv2d_depthwise_backward_weight(&c, dw1, db1, dy, x);
    conv2d_grouped_backward_weight(&c, dw2, db2, dy, x);
    compare(dw1, dw2, nw, what, "dw");
    compare(db1, db2, (size_t)O, what, "db");
    /* without a bias: y has none added, dw is the same without db */
    conv2d_depthwise_forward(&c, y1, x, w, NULL);
    conv2d_grouped_forward(&c, y2, x, w, NULL);
    compare(y1, y2, ny, what, "y without bias");
    conv2d_depthwise_backward_weight(&c, dw1, NULL, dy, x);
    compare(dw1, dw2, nw, what, "dw without db");
    free(x), free(w), free(b), free(dy), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dw2), free(db1), free(db2);
}

int main(void)
{
    Rng rng;
    rng_seed(&rng, 13);
    const Case cases[] = {
        /* N  C   H   W  m kh kw sh sw ph pw dh dw */
        { 2, 3, 9, 7, 1, 3, 3, 1, 1, 1, 1, 1, 1 },      /* a row narrower than a vector */
        { 2, 4, 16, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    /* exactly one vector */
        { 3, 5, 37, 35, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    /* several vectors and a tail */
        { 2, 4, 70, 69, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    /* more than one register block */
        { 2, 3, 33, 34, 1, 3, 3, 2, 2, 1, 1, 1, 1 },    /* stride 2 */
        { 1, 2, 29, 40, 1, 5, 5, 2, 2, 2, 2, 1, 1 },    /* 5x5 stride 2: two passes of taps */
        { 2, 3, 21, 23, 1, 3, 3, 1, 1, 2, 2, 2, 2 },    /* dilation 2 */
        { 1, 2, 19, 41, 1, 3, 3, 3, 3, 0, 0, 1, 1 },    /* stride 3, no padding */
        { 2, 2, 17, 30, 1, 3, 5, 1, 2, 1, 2, 2, 1 },    /* 3x5, stride 1x2, dilation 2x1 */
        { 2, 3, 20, 18, 2, 3, 3, 1, 1, 1, 1, 1, 1 },    /* channel multiplier 2 */
        { 1, 2, 15, 22, 3, 3, 3, 2, 2, 1, 1, 1, 1 },    /* multiplier 3, stride 2 */
        { 1, 2, 6, 8, 1, 3, 3, 1, 1, 4, 3, 1, 1 },      /* padding wider than the window */
        { 2, 1, 12, 19, 4, 3, 3, 1, 1, 1, 1, 1, 1 },    /* one input channel, four filters */
        { 2, 3, 8, 20, 1, 1, 1, 1, 1, 0, 0, 1, 1 },     /* 1x1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], &rng);

    /* reflect padding and grouped (not depthwise) shapes stay with the general kernel */
    ConvGeneral c = { 1, 4, 8, 8, 4, 4, 8, 8, 1, { 3, 3, 1, 1, 1, 1, 1, 1 } };
    CHECK(!conv2d_depthwise_applies(&c), "reflect padding is not taken");
    c.reflect = 0, c.G = 2;
    CHECK(!conv2d_depthwise_applies(&c), "groups 2 of 4 channels is not taken");
    return test_done("test_conv2d_depthwise");
}
