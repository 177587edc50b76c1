/* tests/ops/test_conv2d_winograd4.c: runtime/ops/conv2d_winograd4.c's F(4x4,3x3) forward and
 * input gradient against direct-loop double references and against the im2col + sgemm path,
 * on sizes that are not multiples of the 4x4 tile (1x1, 5x7, 13x13, 15x15, 28x28, 3x139),
 * paddings 0 to 2 (3 and 7 for the forward), channel counts that are not multiples of 8,
 * batches of 1 to 3, on 1 and 2 threads, with the cache budget's blocks of tiles and with
 * small ones that straddle tile rows and images; inputs of up to 1000 bound the error
 * relative to the sums' magnitude; where the CPU has AVX-512, the 16-lane and 8-lane kernels
 * equal bit for bit; conv2d.c's choice between F(4x4) and F(2x2) (the fused
 * conv2d_relu_maxpool2d forward on F(4x4): test_conv2d_winograd). */
#include "testgraph.h"
#include "../../runtime/parallel.h"

typedef struct Case { int N, C, H, W, O, p, bias; float scale; } Case;

/* F(4x4,3x3)'s transforms scale the products by up to 100 and more before the sums come back
 * down: it rounded to under 1e-5 of the sum of the products' magnitudes here; an
 * indexing mistake is off by a whole product, about 1 / (9 C) of that sum */
#define REL 5e-5

/* the sums of products of one output (and of their magnitudes): conv2d_forward's y[n][o][oh][ow]
 * = b[o] + sum of w[o][c][i][j] x[n][c][oh-p+i][ow-p+j] */
static double ref_y(const Case *c, const double *x, const double *w, const double *b, int n, int o, int oh, int ow,
                    double *mag)
{
    double s = b ? b[o] : 0, m = b ? fabs(b[o]) : 0;
    for (int ci = 0; ci < c->C; ci++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                int ih = oh - c->p + i, iw = ow - c->p + j;
                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                double t = w[((o * c->C + ci) * 3 + i) * 3 + j] * x[((n * c->C + ci) * c->H + ih) * c->W + iw];
                s += t, m += fabs(t);
            }
    *mag = m;
    return s;
}

/* dx[n][ci][ih][iw] = sum of w[o][ci][i][j] dy[n][o][ih+p-i][iw+p-j] (the forward's adjoint) */
static double ref_dx(const Case *c, int Ho, int Wo, const double *dy, const double *w, int n, int ci, int ih, int iw,
                     double *mag)
{
    double s = 0, m = 0;
    for (int o = 0; o < c->O; o++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                int oh = ih + c->p - i, ow = iw + c->p - j;
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                double t = w[((o * c->C + ci) * 3 + i) * 3 + j] * dy[((n * c->O + o) * Ho + oh) * Wo + ow];
                s += t, m += fabs(t);
            }
    *mag = m;
    return s;
}

/* |got[i] - want[i]| <= REL * (mag[i] + 1e-3) for every i */
static void check_rel(const float *got, const double *want, const double *mag, size_t n, const char *what)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= REL * (mag[i] + 1e-3)) && bad++ == 0) first = i;
    CHECK(bad == 0, "%s: %zu of %zu off, first [%zu] %.9g, want %.9g (magnitude %.3g)", what, bad, n, first,
          bad ? got[first] : 0.0, bad ? want[first] : 0.0, bad ? mag[first] : 0.0);
}

static double *to_double(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    tg_to_double(d, a, n);
    return d;
}

/* Where the CPU has AVX-512: the 16-lane and the 8-lane kernels (transforms and products)
 * give the same floats, bit for bit (winograd.h: one text of the arithmetic for both) */
static void same_widths(const ConvShape *s, const float *x, const float *w, const float *b, const float *dy,
                        const char *name)
{
    int was = wino_wide();
    wino_gemm_wide(1);
    if (!wino_wide()) {    /* no AVX-512: one width only */
        wino_gemm_wide(was);
        return;
    }
    size_t nx = (size_t)s->N * s->C * s->H * s->W, ny = (size_t)s->N * s->O * s->P;
    float *y[2], *dx[2];
    for (int k = 0; k < 2; k++) {
        y[k] = malloc(ny * sizeof *y[k]);
        dx[k] = malloc(nx * sizeof *dx[k]);
        wino_gemm_wide(k == 0);
        conv2d_winograd4_forward(s, y[k], x, w, b);
        if (s->p <= 2) conv2d_winograd4_backward_input(s, dx[k], dy, w);
    }
    CHECK(memcmp(y[0], y[1], ny * sizeof *y[0]) == 0, "%s: y in 16 lanes differs from y in 8", name);
    if (s->p <= 2)
        CHECK(memcmp(dx[0], dx[1], nx * sizeof *dx[0]) == 0, "%s: dx in 16 lanes differs from dx in 8", name);
    wino_gemm_wide(was);
    for (int k = 0; k < 2; k++) {
        free(y[k]);
        free(dx[k]);
    }
}

static void test_case(const Case *c, uint64_t seed, const char *config)
{
    ConvShape s = conv_shape(c->N, c->C, c->H, c->W, c->O, 3, 1, c->p);
    if (s.Ho < 1 || s.Wo < 1) return;
    char name[128], what[192];
    snprintf(name, sizeof name, "%s N%d C%d %dx%d O%d p%d%s x%g", config, c->N, c->C, c->H, c->W, c->O, c->p,
             c->bias ? " bias" : "", c->scale);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * 9, ny = (size_t)c->N * c->O * s.P;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc((size_t)c->O * sizeof *b);
    float *dy = malloc(ny * sizeof *dy), *y = malloc(ny * sizeof *y), *y2 = malloc(ny * sizeof *y2);
    float *dx = malloc(nx * sizeof *dx), *dx2 = malloc(nx * sizeof *dx2);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(x, nx, -c->scale, c->scale, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(b, (size_t)c->O, -1, 1, &r);
    tg_fill(dy, ny, -c->scale, c->scale, &r);
    tg_fill(y, ny, 100, 200, &r);     /* stale values must be overwritten */
    tg_fill(dx, nx, 100, 200, &r);
    double *xd = to_double(x, nx), *wd = to_double(w, nw), *bd = to_double(b, (size_t)c->O), *dyd = to_double(dy, ny);
    size_t most = nx > ny ? nx : ny;
    double *want = malloc(most * sizeof *want), *mag = malloc(most * sizeof *mag);

    conv2d_winograd4_forward(&s, y, x, w, c->bias ? b : NULL);
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->O; o++)
            for (int oh = 0; oh < s.Ho; oh++)
                for (int ow = 0; ow < s.Wo; ow++) {
                    size_t i = (((size_t)n * c->O + o) * s.Ho + oh) * s.Wo + ow;
                    want[i] = ref_y(c, xd, wd, c->bias ? bd : NULL, n, o, oh, ow, &mag[i]);
                }
    snprintf(what, sizeof what, "%s: y against the reference", name);
    check_rel(y, want, mag, ny, what);
    conv2d_gemm_forward(&s, y2, x, w, c->bias ? b : NULL);
    tg_to_double(want, y2, ny);
    snprintf(what, sizeof what, "%s: y against im2col", name);
    check_rel(y, want, mag, ny, what);

    if (c->p <= 2) {
        conv2d_winograd4_backward_input(&s, dx, dy, w);
        for (int n = 0; n < c->N; n++)
            for (int ci = 0; ci < c->C; ci++)
                for (int ih = 0; ih < c->H; ih++)
                    for (int iw = 0; iw < c->W; iw++) {
                        size_t i = (((size_t)n * c->C + ci) * c->H + ih) * c->W + iw;
                        want[i] = ref_dx(c, s.Ho, s.Wo, dyd, wd, n, ci, ih, iw, &mag[i]);
                    }
        snprintf(what, sizeof what, "%s: dx against the reference", name);
        check_rel(dx, want, mag, nx, what);
        conv2d_gemm_backward_input(&s, dx2, dy, w);
        tg_to_double(want, dx2, nx);
        snprintf(what, sizeof what, "%s: dx against im2col", name);
        check_rel(dx, want, mag, nx, what);
    }
    same_widths(&s, x, w, c->bias ? b : NULL, dy, name);
    free(want);
    free(mag);
    free(xd);
    free(wd);
    free(bd);
    free(dyd);
    free(x);
    free(w);
    free(b);
    free(dy);
    free(y);
    free(y2);
    free(dx);
    free(dx2);
}

/* conv2d_forward and conv2d_backward_input with F(4x4) forced and with F(2x2) forced: both
 * near im2col's values, and not the same values (each took its own path) */
static void test_dispatch(void)
{
    enum { N = 2, C = 9, H = 29, W = 27, O = 10 };
    size_t nx = (size_t)N * C * H * W, nw = (size_t)O * C * 9, ny = (size_t)N * O * H * W;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *dy = malloc(ny * sizeof *dy);
    float *y[3], *dx[3];
    Rng r;
    rng_seed(&r, 5);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(dy, ny, -1, 1, &r);
    conv2d_use_direct(0);                /* forced direct kernels would take every 3x3 from Winograd */
    for (int k = 0; k < 3; k++) {        /* F(4x4), F(2x2), im2col */
        y[k] = malloc(ny * sizeof *y[k]);
        dx[k] = malloc(nx * sizeof *dx[k]);
        conv2d_use_winograd(k < 2);
        conv2d_use_winograd4(k == 0);
        CHECK(conv_shape(N, C, H, W, O, 3, 1, 1).winograd == (k == 0 ? 4 : k == 1 ? 2 : 0),
              "conv_shape: forcing path %d", k);
        conv2d_forward(y[k], x, w, NULL, N, C, H, W, O, 3, 1, 1);
        conv2d_backward_input(dx[k], dy, w, N, C, H, W, O, 3, 1, 1);
    }
    conv2d_use_winograd(-1);
    conv2d_use_winograd4(-1);
    double *want = malloc((nx > ny ? nx : ny) * sizeof *want);
    for (int k = 0; k < 2; k++) {
        tg_to_double(want, y[2], ny);
        tg_check_array(y[k], want, ny, 2e-4, 2e-4, k ? "conv2d_forward on F(2x2)" : "conv2d_forward on F(4x4)");
        tg_to_double(want, dx[2], nx);
        tg_check_array(dx[k], want, nx, 2e-4, 2e-4,
                       k ? "conv2d_backward_input on F(2x2)" : "conv2d_backward_input on F(4x4)");
    }
    CHECK(memcmp(y[0], y[1], ny * sizeof *y[0]) != 0, "conv2d_forward: F(4x4) and F(2x2) took the same path");
    CHECK(memcmp(dx[0], dx[1], nx * sizeof *dx[0]) != 0, "conv2d_backward_input: F(4x4) and F(2x2) the same");
    /* the size rule: F(4x4) for planes of 24 and more and for batches of 14x14, F(2x2) for
     * one 14x14 image and for smaller planes (Winograd forced on: with AVX-512 one 14x14
     * image goes to im2col by the cost rule) */
    conv2d_use_winograd(1);
    CHECK(conv_shape(64, 16, 28, 28, 16, 3, 1, 1).winograd == 4, "the rule: 28x28 on F(4x4)");
    CHECK(conv_shape(1, 64, 56, 56, 64, 3, 1, 1).winograd == 4, "the rule: one 56x56 image on F(4x4)");
    CHECK(conv_shape(64, 32, 14, 14, 32, 3, 1, 1).winograd == 4, "the rule: 64 14x14 images on F(4x4)");
    CHECK(conv_shape(1, 256, 14, 14, 256, 3, 1, 1).winograd == 2, "the rule: one 14x14 image on F(2x2)");
    CHECK(conv_shape(64, 64, 7, 7, 64, 3, 1, 1).winograd == 2, "the rule: 7x7 on F(2x2)");
    conv2d_use_winograd(-1);
    for (int k = 0; k < 3; k++) {
        free(y[k]);
        free(dx[k]);
    }
    free(want);
    free(x);
    free(w);
    free(dy);
}

int main(void)
{
    static const Case cases[] = {
        { 1, 3, 1, 1, 5, 1, 1, 1 },       /* one pixel: one tile, 15 of its 16 outputs clipped */
        { 1, 3, 1, 1, 2, 2, 0, 1 },       /* padding 2: the 1x1 input's 3x3 output */
        { 3, 5, 5, 7, 6, 0, 1, 1 },       /* odd sizes, no padding: 3x5 outputs */
        { 2, 5, 5, 7, 3, 1, 0, 1 },
        { 1, 10, 5, 7, 9, 2, 1, 1 },      /* padding 2: dx from dy unpadded */
        { 1, 3, 13, 13, 4, 1, 1, 1 },     /* 4 x 4 tiles, the last row and column 1 of 4 */
        { 3, 2, 13, 13, 3, 0, 1, 1 },
        { 2, 17, 15, 15, 11, 2, 0, 1 },   /* 17 x 17 outputs: 5 x 5 tiles */
        { 1, 3, 15, 15, 9, 0, 1, 1 },
        { 3, 10, 14, 14, 9, 1, 1, 1 },    /* rows of 4 tiles: two rows to a vector */
        { 2, 3, 11, 15, 5, 1, 0, 1 },     /* 3 rows of 4 tiles: a pair, then a row alone */
        { 1, 9, 28, 28, 10, 1, 1, 1 },    /* fashion_resnet's plane: 7 x 7 whole tiles */
        { 1, 2, 6, 6, 3, 3, 1, 1 },       /* padding 3: the forward only */
        { 1, 2, 3, 139, 2, 1, 0, 1 },     /* 35 tiles a row: a row in two segments of at most 32 */
        { 1, 2, 2, 9, 2, 7, 1, 1 },       /* padding 7: tiles that see no input at all */
        { 2, 12, 13, 13, 7, 1, 1, 1000 }, /* large values: the error bound scales with them */
    };
    /* threads, tiles per block (0: the cache budget's), the 16-lane kernels where the CPU has them */
    static const int configs[][3] = { { 1, 0, 1 }, { 2, 0, 1 }, { 1, 5, 1 }, { 2, 13, 1 }, { 1, 0, 0 }, { 2, 13, 0 } };
    for (size_t k = 0; k < sizeof configs / sizeof *configs; k++) {
        char config[48];
        snprintf(config, sizeof config, "T%d block %d%s", configs[k][0], configs[k][1],
                 configs[k][2] ? "" : ", 8 lanes");
        par_set_threads(configs[k][0]);
        conv2d_winograd4_block(configs[k][1]);
        wino_gemm_wide(configs[k][2]);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 400 + i, config);
    }
    conv2d_winograd4_block(0);
    wino_gemm_wide(1);
    par_set_threads(2);
    test_dispatch();
    par_set_threads(0);
    return test_done("test_conv2d_winograd4");
}
