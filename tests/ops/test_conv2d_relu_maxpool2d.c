/* tests/ops/test_conv2d_relu_maxpool2d.c: the fused Conv2d -> ReLU -> MaxPool2d kernels
 * against the three plain kernels run one after the other: the same outputs bit for bit,
 * and the same gradient of the convolution's output, over shapes with odd sizes (rows and
 * columns no window reads), overlapping and padded windows, stride-2 convolutions (the
 * im2col path) and stride-1 ones (the direct path), one image and several. */
#include "testgraph.h"

typedef struct Case {
    int N, C, H, W, O, k, s, p, pk, ps, pp;
} Case;

static void test_case(const Case *c, uint64_t seed)
{
    int Ho = window_out_size(c->H, c->k, c->s, c->p), Wo = window_out_size(c->W, c->k, c->s, c->p);
    int Hp = window_out_size(Ho, c->pk, c->ps, c->pp), Wp = window_out_size(Wo, c->pk, c->ps, c->pp);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->k * c->k;
    size_t nconv = (size_t)c->N * c->O * Ho * Wo, ny = (size_t)c->N * c->O * Hp * Wp;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)c->O * 4);
    float *conv = malloc(nconv * 4), *relu = malloc(nconv * 4), *y = malloc(ny * 4), *fy = malloc(ny * 4);
    float *dy = malloc(ny * 4), *dr = malloc(nconv * 4), *dconv = malloc(nconv * 4), *fdconv = malloc(nconv * 4);
    int32_t *am = malloc(ny * 4), *fam = malloc(ny * 4);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(b, (size_t)c->O, -1, 1, &r);
    tg_fill(dy, ny, -1, 1, &r);

    conv2d_forward(conv, x, w, b, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    relu_forward(relu, conv, nconv);
    maxpool2d_forward(y, am, relu, c->N, c->O, Ho, Wo, c->pk, c->ps, c->pp);
    conv2d_relu_maxpool2d_forward(fy, fam, x, w, b, c->N, c->C, c->H, c->W, c->O, c->k, c->s, c->p,
                                  c->pk, c->ps, c->pp);
    char what[160];
    snprintf(what, sizeof what, "N%d C%d %dx%d O%d k%d s%d p%d, pool k%d s%d p%d: forward", c->N, c->C, c->H,
             c->W, c->O, c->k, c->s, c->p, c->pk, c->ps, c->pp);
    tg_check_equal(fy, y, ny, what);
    size_t moved = 0;        /* an argmax may differ only where the window's maximum is 0 */
    for (size_t i = 0; i < ny; i++) moved += fam[i] != am[i] && y[i] != 0.0f;
    CHECK(moved == 0, "%s: %zu argmax differ at a positive maximum", what, moved);

    maxpool2d_backward(dr, dy, am, c->N, c->O, Ho, Wo, Hp, Wp);
    relu_backward(dconv, dr, relu, nconv);
    relu_maxpool2d_backward(fdconv, dy, fy, fam, c->N, c->O, Ho, Wo, Hp, Wp, c->pk, c->ps, c->pp);
    snprintf(what, sizeof what, "N%d C%d %dx%d O%d k%d s%d p%d, pool k%d s%d p%d: backward", c->N, c->C, c->H,
             c->W, c->O, c->k, c->s, c->p, c->pk, c->ps, c->pp);
    tg_check_equal(fdconv, dconv, nconv, what);
    free(x), free(w), free(b), free(conv), free(relu), free(y), free(fy);
    free(dy), free(dr), free(dconv), free(fdconv), free(am), free(fam);
}

int main(void)
{
    static const Case cases[] = {
        { 2, 3, 10, 10, 16, 3, 1, 1, 2, 2, 0 },    /* the notebook's shape, smaller */
        { 1, 3, 9, 11, 5, 3, 1, 1, 2, 2, 0 },      /* odd: the last row and column unread */
        { 3, 4, 12, 12, 6, 3, 1, 1, 3, 2, 1 },     /* overlapping, padded windows */
        { 2, 2, 13, 12, 4, 3, 2, 1, 2, 2, 0 },     /* stride-2 convolution (im2col path) */
        { 2, 3, 15, 14, 7, 5, 1, 2, 2, 2, 0 },     /* k5, odd convolution output */
        { 1, 1, 28, 28, 32, 3, 1, 1, 2, 2, 0 },    /* fashion.cnn's first layer, one image */
        { 3, 4, 14, 14, 9, 3, 1, 1, 2, 2, 0 },     /* fashion.cnn's second: 7 windows a row */
        { 2, 3, 21, 37, 5, 3, 1, 1, 2, 2, 0 },     /* 18 windows a row, odd sizes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 300 + i);
    return test_done("test_conv2d_relu_maxpool2d");
}
