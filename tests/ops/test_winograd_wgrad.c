/* tests/ops/test_winograd_wgrad.c: the Winograd F(3x3, 2x2) weight gradient of 3x3 stride-1
 * convolutions (conv2d_winograd_wgrad.c) against the direct sum in double, over planes whose
 * output is odd-sized (tiles hanging over the edge), 1 x 1 and 2 x 2 outputs, paddings 0, 1
 * and 2, channel counts that are not multiples of the 4 x 2 blocks, batches of 1 and 3, and
 * 1, 2 and 3 threads (chunks shared unevenly); and conv2d_backward_weight's choice of it. */
#include <math.h>

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

static void run_case(const Case *k, Rng *r)
{
    ConvShape c = conv_shape(k->N, k->C, k->H, k->W, k->O, 3, 1, k->p);
    size_t nx = (size_t)k->N * k->C * k->H * k->W, ny = (size_t)k->N * k->O * c.P, nw = (size_t)k->O * k->C * 9;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy), *dw = malloc(nw * sizeof *dw);
    double *want = malloc(nw * sizeof *want), *mag = malloc(nw * sizeof *mag);
    tg_fill(x, nx, -1, 1, r);
    tg_fill(dy, ny, -1, 1, r);
    reference(want, mag, k, c.Ho, c.Wo, dy, x);
    char what[160];
    for (int threads = 1; threads <= 3; threads++) {
        par_set_threads(threads);
        for (size_t i = 0; i < nw; i++) dw[i] = NAN;      /* every element must be written */
        conv2d_winograd_backward_weight(&c, dw, dy, x);
        size_t bad = 0, worst = 0;
        double worst_ratio = 0;
        for (size_t i = 0; i < nw; i++) {
            /* float sums of up to N*Ho*Wo products, through transforms of 4 x 4 terms each */
            double err = fabs(dw[i] - want[i]), allowed = 1e-6 + 2e-6 * mag[i];
            if (!(err <= allowed)) bad++;
            double ratio = isnan(err) ? INFINITY : err / allowed;
            if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
        }
        snprintf(what, sizeof what, "N=%d C=%d %dx%d O=%d p=%d, %d threads", k->N, k->C, k->H, k->W, k->O, k->p,
                 threads);
        CHECK(bad == 0, "%s: %zu of %zu off, worst [%zu] got %.9g, expected %.9g (scale %.3g)", what, bad, nw, worst,
              (double)dw[worst], want[worst], mag[worst]);
    }
    free(x), free(dy), free(dw), free(want), free(mag);
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
    };
    Rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], &r);

    /* conv2d_backward_weight takes it where the forward's rule does, and
     * conv2d_use_winograd(0) (CNNC_CONV_WINOGRAD=0) sends such shapes to im2col; both agree
     * with the reference to rounding */
    Case k = { 2, 8, 9, 11, 8, 1 };
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
    conv2d_use_winograd(0);
    CHECK(!conv_shape(k.N, k.C, k.H, k.W, k.O, 3, 1, k.p).winograd, "conv2d_use_winograd(0) turns it off");
    conv2d_backward_weight(a, NULL, dy, x, k.N, k.C, k.H, k.W, k.O, 3, 1, k.p);
    tg_check_array(a, want, nw, 1e-5, 1e-5, "conv2d_backward_weight without Winograd");
    conv2d_use_winograd(-1);
    free(x), free(dy), free(a), free(b), free(want), free(mag);
    return test_done("test_winograd_wgrad");
}
