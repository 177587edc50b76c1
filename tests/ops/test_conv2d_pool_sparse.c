/* tests/ops/test_conv2d_pool_sparse.c: conv2d_relu_maxpool2d_backward on the shapes that take
 * conv2d_pool_sparse.c's path (3 x 3, stride 1, 8 or more input channels) against dx, dw
 * and db summed in double from the convolution's output gradient (relu_maxpool2d_backward
 * of the fused forward's y and argmax): channel counts that fill 1, 2 and 3 vectors and
 * leave lanes over, paddings 0 to 2, overlapping and padded pooling windows (a place that
 * gets two windows' gradients), one image and several. dw alone must equal dw with the
 * rest, bit for bit. Where x or w holds an infinity or NaN, the dense kernels' result (and
 * their NaNs) is given, bit for bit. */
#include "testgraph.h"

typedef struct Case {
    int N, C, H, W, O, p, pk, ps, pp;
} Case;

#define ATOL 1e-4
#define RTOL 1e-4

/* dx, dw, db in double from dconv [N,O,Ho,Wo] */
static void reference(const Case *c, int Ho, int Wo, const float *dconv, const float *x, const float *w, double *dx,
                      double *dw, double *db)
{
    int N = c->N, C = c->C, H = c->H, W = c->W, O = c->O, p = c->p;
    memset(dx, 0, (size_t)N * C * H * W * sizeof *dx);
    memset(dw, 0, (size_t)O * C * 9 * sizeof *dw);
    memset(db, 0, (size_t)O * sizeof *db);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double g = dconv[(((size_t)n * O + o) * Ho + oh) * Wo + ow];
                    db[o] += g;
                    for (int ch = 0; ch < C; ch++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                int h = oh + i - p, v = ow + j - p;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                size_t xi = (((size_t)n * C + ch) * H + h) * W + v;
                                size_t wi = (((size_t)o * C + ch) * 3 + i) * 3 + j;
                                dw[wi] += g * x[xi];
                                dx[xi] += g * w[wi];
                            }
                }
}

/* 1 when a and b hold the same bits */
static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void test_case(const Case *c, uint64_t seed)
{
    int Ho = c->H + 2 * c->p - 2, Wo = c->W + 2 * c->p - 2;
    int Hp = window_out_size(Ho, c->pk, c->ps, c->pp), Wp = window_out_size(Wo, c->pk, c->ps, c->pp);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * 9;
    size_t nconv = (size_t)c->N * c->O * Ho * Wo, ny = (size_t)c->N * c->O * Hp * Wp;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)c->O * 4), *y = malloc(ny * 4);
    float *dy = malloc(ny * 4), *dconv = malloc(nconv * 4);
    float *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc((size_t)c->O * 4), *dw1 = malloc(nw * 4);
    double *rdx = malloc(nx * 8), *rdw = malloc(nw * 8), *rdb = malloc((size_t)c->O * 8);
    int32_t *am = malloc(ny * 4);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(b, (size_t)c->O, -0.5f, 0.5f, &r);
    tg_fill(dy, ny, -1, 1, &r);
    char what[160];
    snprintf(what, sizeof what, "N%d C%d %dx%d O%d p%d, pool k%d s%d p%d", c->N, c->C, c->H, c->W, c->O, c->p,
             c->pk, c->ps, c->pp);
    ConvShape cs = conv_shape(c->N, c->C, c->H, c->W, c->O, 3, 1, c->p);
    CHECK(conv2d_pool_sparse_ok(&cs, x, w), "%s: the sparse path not taken", what);

    conv2d_relu_maxpool2d_forward(y, am, x, w, b, c->N, c->C, c->H, c->W, c->O, 3, 1, c->p, c->pk, c->ps, c->pp);
    relu_maxpool2d_backward(dconv, dy, y, am, c->N, c->O, Ho, Wo, Hp, Wp, c->pk, c->ps, c->pp);
    reference(c, Ho, Wo, dconv, x, w, rdx, rdw, rdb);
    tg_fill(dx, nx, 100, 200, &r);         /* garbage that must be overwritten */
    tg_fill(dw, nw, 100, 200, &r);
    tg_fill(db, (size_t)c->O, 100, 200, &r);
    conv2d_relu_maxpool2d_backward(dx, dw, db, dy, y, am, x, w, c->N, c->C, c->H, c->W, c->O, 3, c->p, c->pk, c->ps,
                                   c->pp);
    char sub[200];
    snprintf(sub, sizeof sub, "%s: dx", what);
    tg_check_array(dx, rdx, nx, ATOL, RTOL, sub);
    snprintf(sub, sizeof sub, "%s: dw", what);
    tg_check_array(dw, rdw, nw, ATOL, RTOL, sub);
    snprintf(sub, sizeof sub, "%s: db", what);
    tg_check_array(db, rdb, (size_t)c->O, ATOL, RTOL, sub);
    tg_fill(dw1, nw, 100, 200, &r);
    conv2d_relu_maxpool2d_backward(NULL, dw1, NULL, dy, y, am, x, NULL, c->N, c->C, c->H, c->W, c->O, 3, c->p, c->pk,
                                   c->ps, c->pp);
    CHECK(same_bits(dw1, dw, nw), "%s: dw alone differs from dw with dx and db", what);

    /* an infinity in x: the dense kernels' answer, NaNs and all */
    x[nx / 2] = INFINITY;
    CHECK(!conv2d_pool_sparse_ok(&cs, x, w), "%s: the sparse path taken with an infinity in x", what);
    float *pdx = malloc(nx * 4), *pdw = malloc(nw * 4), *pdb = malloc((size_t)c->O * 4);
    conv2d_backward_input(pdx, dconv, w, c->N, c->C, c->H, c->W, c->O, 3, 1, c->p);
    conv2d_backward_weight(pdw, pdb, dconv, x, c->N, c->C, c->H, c->W, c->O, 3, 1, c->p);
    conv2d_relu_maxpool2d_backward(dx, dw, db, dy, y, am, x, w, c->N, c->C, c->H, c->W, c->O, 3, c->p, c->pk, c->ps,
                                   c->pp);
    CHECK(same_bits(dx, pdx, nx) && same_bits(dw, pdw, nw) && same_bits(db, pdb, (size_t)c->O),
          "%s: with an infinity in x, not the dense kernels' result", what);
    x[nx / 2] = 0.5f;
    /* a NaN in w matters to dx only */
    w[nw / 3] = NAN;
    CHECK(!conv2d_pool_sparse_ok(&cs, x, w) && conv2d_pool_sparse_ok(&cs, x, NULL),
          "%s: a NaN in w decides the path wrongly", what);
    conv2d_backward_input(pdx, dconv, w, c->N, c->C, c->H, c->W, c->O, 3, 1, c->p);
    conv2d_backward_weight(pdw, pdb, dconv, x, c->N, c->C, c->H, c->W, c->O, 3, 1, c->p);
    conv2d_relu_maxpool2d_backward(dx, dw, db, dy, y, am, x, w, c->N, c->C, c->H, c->W, c->O, 3, c->p, c->pk, c->ps,
                                   c->pp);
    CHECK(same_bits(dx, pdx, nx) && same_bits(dw, pdw, nw), "%s: with a NaN in w, not the dense kernels' result",
          what);
    free(pdx), free(pdw), free(pdb);
    free(x), free(w), free(b), free(y), free(dy), free(dconv), free(dx), free(dw), free(db), free(dw1);
    free(rdx), free(rdw), free(rdb), free(am);
}

int main(void)
{
    conv2d_use_direct(1);   /* the paths tested here are the direct kernels', whatever this CPU would choose */
    static const Case cases[] = {
        { 3, 8, 14, 14, 9, 1, 2, 2, 0 },      /* 8 channels: one vector, half of it unused */
        { 2, 20, 9, 11, 5, 1, 2, 2, 0 },      /* two vectors, odd sizes: a row and column unread */
        { 5, 40, 8, 8, 6, 1, 2, 2, 0 },       /* three vectors: a pass of two, then one */
        { 2, 16, 10, 12, 7, 0, 2, 2, 0 },     /* no padding */
        { 2, 9, 7, 9, 4, 2, 2, 2, 0 },        /* padding 2: outputs wider than the input */
        { 3, 12, 12, 12, 5, 1, 3, 2, 1 },     /* overlapping, padded windows */
        { 2, 8, 9, 9, 5, 1, 2, 1, 0 },        /* stride-1 windows: most places get two or more */
        { 1, 32, 14, 14, 64, 1, 2, 2, 0 },    /* fashion.cnn's second layer, one image */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 500 + i);
    return test_done("test_conv2d_pool_sparse");
}
