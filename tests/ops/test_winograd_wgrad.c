/* tests/ops/test_winograd_wgrad.c: the Winograd F(3x3, 2x2) and F(3x3, 4x4) weight gradients
 * of 3x3 stride-1 convolutions (conv2d_winograd_wgrad.c) against the direct sum in double,
 * over planes whose output is odd-sized (tiles hanging over the edge), 1 x 1 and 2 x 2
 * outputs, paddings 0, 1 and 2, channel counts that are not multiples of the 4 x 2 blocks,
 * rows of 4 tiles (F(4x4) pairs them) in odd counts, batches of 1 to 4, and 1, 2 and 3
 * threads (chunks shared unevenly); where the CPU has AVX-512, the 16-lane kernels equal the
 * 8-lane ones bit for bit; and conv2d_backward_weight's choice of them. */
#include <math.h>
#include <string.h>

#include "testgraph.h"
#include "../../runtime/parallel.h"

typedef struct Case { int N, C, H, W, O, p; } Case;

/* dw[o][c][i][j] = sum over n, oh, ow of dy[n][o][oh][ow] * x[n][c][oh-p+i][ow-p+j] in double,
 * and mag = the same sum of absolute values (the scale of the rounding error) */
static void reference(double *dw, double *mag, const Case *k, int Ho, int Wo, const float *dy, const float *x)
{
    for (int o = 0; o < k->O; o++)
        for (int c = 0; c < k->C; c++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    double s = 0, a = 0;
                    for (int n = 0; n < k->N; n++)
                        for (int oh = 0; oh < Ho; oh++)
                            for (int ow = 0; ow < Wo; ow++) {
                                int h = oh - k->p + i, w = ow - k->p + j;
                                if (h < 0 || h >= k->H || w < 0 || w >= k->W) continue;
                                double t = (double)dy[((size_t)(n * k->O + o) * Ho + oh) * Wo + ow] *
                                           x[((size_t)(n * k->C + c) * k->H + h) * k->W + w];
                                s += t;
                                a += fabs(t);
                            }
                    size_t at = (((size_t)o * k->C + c) * 3 + i) * 3 + j;
                    dw[at] = s;
                    mag[at] = a;
                }
}

/* the largest error seen, F(2x2) and F(4x4), in units of what each is allowed */
static double worst_seen[2];

static void run_case(const Case *k, Rng *r)
{
    ConvShape c = conv_shape(k->N, k->C, k->H, k->W, k->O, 3, 1, k->p);
    size_t nx = (size_t)k->N * k->C * k->H * k->W, ny = (size_t)k->N * k->O * c.P, nw = (size_t)k->O * k->C * 9;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy), *dw = malloc(nw * sizeof *dw);
    float *dw8 = malloc(nw * sizeof *dw8);
    double *want = malloc(nw * sizeof *want), *mag = malloc(nw * sizeof *mag);
    tg_fill(x, nx, -1, 1, r);
    tg_fill(dy, ny, -1, 1, r);
    reference(want, mag, k, c.Ho, c.Wo, dy, x);
    char what[160];
    for (int run = 0; run < 6; run++) {    /* F(2x2) then F(4x4), each on 1, 2 and 3 threads */
        int kind = run < 3 ? 2 : 4, threads = run % 3 + 1;
        par_set_threads(threads);
        c.winograd = kind;
        for (size_t i = 0; i < nw; i++) dw[i] = NAN;      /* every element must be written */
        conv2d_winograd_backward_weight(&c, dw, dy, x);
        size_t bad = 0, worst = 0;
        double worst_ratio = 0;
        for (size_t i = 0; i < nw; i++) {
            /* float sums of up to N*Ho*Wo products, through transforms of 4 x 4 terms each
             * (F(4x4): 6 x 6, with factors up to 8 and back by 1/24) */
            double err = fabs(dw[i] - want[i]), allowed = kind == 4 ? 3e-6 + 3e-6 * mag[i] : 1e-6 + 2e-6 * mag[i];
            if (!(err <= allowed)) bad++;
            double ratio = isnan(err) ? INFINITY : err / allowed;
            if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
        }
        snprintf(what, sizeof what, "F(3x3, %dx%d) N=%d C=%d %dx%d O=%d p=%d, %d threads", kind, kind, k->N, k->C,
                 k->H, k->W, k->O, k->p, threads);
        if (worst_ratio > worst_seen[kind / 4]) worst_seen[kind / 4] = worst_ratio;
        CHECK(bad == 0, "%s: %zu of %zu off, worst [%zu] got %.9g, expected %.9g (scale %.3g)", what, bad, nw, worst,
              (double)dw[worst], want[worst], mag[worst]);
        if (wino_wide()) {    /* AVX-512: the 16-lane products and transforms equal the 8-lane ones */
            wino_gemm_wide(0);
            conv2d_winograd_backward_weight(&c, dw8, dy, x);
            wino_gemm_wide(1);
            CHECK(memcmp(dw, dw8, nw * sizeof *dw) == 0, "%s: 16 lanes and 8 differ", what);
        }
    }
    free(x), free(dy), free(dw), free(dw8), free(want), free(mag);
}

int main(void)
{
    static const Case cases[] = {
        { 1, 1, 1, 1, 1, 1 },     /* one output, all but the centre tap in the padding */
        { 1, 2, 4, 4, 3, 0 },     /* 2 x 2 output: one tile */
        { 1, 3, 5, 7, 2, 0 },     /* 3 x 5: tiles over both edges */
        { 3, 9, 13, 13, 10, 1 },
        { 1, 5, 6, 9, 7, 2 },     /* pad 2: output larger than the input */
        { 2, 8, 28, 28, 16, 1 },  /* fashion_resnet's layer1 shape, two images */
        { 3, 16, 14, 14, 32, 1 }, /* and its down convolution's */
        { 2, 4, 3, 40, 5, 1 },    /* wide rows: tile rows longer than a vector */
        { 4, 8, 14, 14, 12, 1 },  /* rows of 4 tiles (F(4x4) pairs them), 4 images */
        { 3, 5, 10, 13, 6, 1 },   /* and 3 tile rows an image: pairs across images broken */
        { 1, 3, 31, 70, 4, 0 },   /* 18 F(4x4) tiles a row, 29 x 68 (partial tiles both ways) */
    };
    Rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], &r);
    printf("largest error / allowed: F(3x3, 2x2) %.3g, F(3x3, 4x4) %.3g\n", worst_seen[0], worst_seen[1]);

    /* conv2d_backward_weight takes it where the forward's rule does, and
     * conv2d_use_winograd(0) (CNNC_CONV_WINOGRAD=0) sends such shapes to im2col; both agree
     * with the reference to rounding */
    Case k = { 3, 8, 9, 11, 8, 1 };    /* 90 tiles of 2x2: Winograd's by the cost rule, with AVX-512 too */
    ConvShape c = conv_shape(k.N, k.C, k.H, k.W, k.O, 3, 1, k.p);
    CHECK(c.winograd || c.direct, "a 3x3 stride-1 convolution of 8 channels takes Winograd (or the direct kernels)");
    size_t nx = (size_t)k.N * k.C * k.H * k.W, ny = (size_t)k.N * k.O * c.P, nw = (size_t)k.O * k.C * 9;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy), *a = malloc(nw * sizeof *a),
          *b = malloc(nw * sizeof *b);
    double *want = malloc(nw * sizeof *want), *mag = malloc(nw * sizeof *mag);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(dy, ny, -1, 1, &r);
    reference(want, mag, &k, c.Ho, c.Wo, dy, x);
    par_set_threads(2);
    conv2d_backward_weight(a, NULL, dy, x, k.N, k.C, k.H, k.W, k.O, 3, 1, k.p);
    conv2d_winograd_backward_weight(&c, b, dy, x);
    if (!c.direct) tg_check_equal(a, b, nw, "conv2d_backward_weight is the Winograd path");
    /* and the forward's F(4x4) or F(2x2) (conv2d_use_winograd4), whose roundings differ */
    float *f[2] = { malloc(nw * sizeof *a), malloc(nw * sizeof *a) };
    for (int f4 = 0; f4 <= 1 && !c.direct; f4++) {
        conv2d_use_winograd4(f4);
        ConvShape cf = conv_shape(k.N, k.C, k.H, k.W, k.O, 3, 1, k.p);
        CHECK(cf.winograd == (f4 ? 4 : 2), "conv2d_use_winograd4(%d) gives winograd %d", f4, cf.winograd);
        conv2d_backward_weight(f[f4], NULL, dy, x, k.N, k.C, k.H, k.W, k.O, 3, 1, k.p);
        conv2d_winograd_backward_weight(&cf, b, dy, x);
        tg_check_equal(f[f4], b, nw, f4 ? "conv2d_backward_weight takes F(3x3, 4x4)" : "and F(3x3, 2x2)");
        tg_check_array(f[f4], want, nw, 1e-4, 1e-4, f4 ? "F(3x3, 4x4) against the sum" : "F(3x3, 2x2) against the sum");
    }
    CHECK(c.direct || memcmp(f[0], f[1], nw * sizeof *a) != 0, "F(3x3, 4x4) and F(3x3, 2x2) are different sums");
    conv2d_use_winograd4(-1);
    free(f[0]), free(f[1]);
    conv2d_use_winograd(0);
    CHECK(!conv_shape(k.N, k.C, k.H, k.W, k.O, 3, 1, k.p).winograd, "conv2d_use_winograd(0) turns it off");
    conv2d_backward_weight(a, NULL, dy, x, k.N, k.C, k.H, k.W, k.O, 3, 1, k.p);
    tg_check_array(a, want, nw, 1e-5, 1e-5, "conv2d_backward_weight without Winograd");
    conv2d_use_winograd(-1);
    free(x), free(dy), free(a), free(b), free(want), free(mag);
    return test_done("test_winograd_wgrad");
}
