/* bench/bench_winograd.c: Winograd F(4x4,3x3) (runtime/ops/conv2d_winograd4.c) against
 * F(2x2,3x3) (conv2d_winograd.c) on one 3x3 stride-1 padding-1 shape, in the same run on the
 * same random tensors, calls of the two alternating: forward, input gradient and weight
 * gradient (conv2d_winograd_wgrad.c's F(3x3, 2x2) and F(3x3, 4x4)), the median
 * of REPEATS calls each in ms (the calling thread's CPU time on one thread, wall time on
 * several), the ratio, and each one's largest difference from im2col + sgemm (conv2d_gemm.c)
 * beside the largest value.
 * usage: bench_winograd [N C H W O [REPEATS [THREADS]]]
 *        (default: fashion_resnet's 64x16x28x28 and 64x32x14x14 layers, 9 repeats, 1 thread) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/bench_clock.h"
#include "runtime/ops/kernels.h"
#include "runtime/parallel.h"

/* one thread: its CPU time (the machine is shared), several: wall time */
static clockid_t clock_id = CLOCK_MONOTONIC;

/* largest |a - b| over n floats */
static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

static void shape(int N, int C, int H, int W, int O, int reps)
{
    ConvShape c = conv_shape(N, C, H, W, O, 3, 1, 1);
    size_t nx = (size_t)N * C * H * W, ny = (size_t)N * O * c.Ho * c.Wo, nw = (size_t)O * C * 9;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *dy = malloc(ny * sizeof *dy);
    float *y[3], *dx[3], *dw[3];
    for (int k = 0; k < 3; k++) {
        y[k] = malloc(ny * sizeof *y[k]);
        dx[k] = malloc(nx * sizeof *dx[k]);
        dw[k] = malloc(nw * sizeof *dw[k]);
    }
    ConvShape c2 = c, c4 = c;    /* the weight gradient's choice */
    c2.winograd = 2, c4.winograd = 4;
    srand(1);
    for (size_t i = 0; i < nx; i++) x[i] = 2.0f * rand() / (float)RAND_MAX - 1.0f;
    for (size_t i = 0; i < ny; i++) dy[i] = 2.0f * rand() / (float)RAND_MAX - 1.0f;
    for (size_t i = 0; i < nw; i++) w[i] = 0.4f * rand() / (float)RAND_MAX - 0.2f;
    conv2d_gemm_forward(&c, y[2], x, w, NULL);
    conv2d_gemm_backward_input(&c, dx[2], dy, w);
    conv2d_gemm_backward_weight(&c, dw[2], dy, x);
    double *t = malloc((size_t)6 * reps * sizeof *t), med[6];
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < 6; k++) {    /* forward, dx, dw: F(2x2), then F(4x4) */
            double t0 = bench_seconds(clock_id);
            if (k == 0) conv2d_winograd_forward(&c, y[0], x, w, NULL);
            else if (k == 1) conv2d_winograd4_forward(&c, y[1], x, w, NULL);
            else if (k == 2) conv2d_winograd_backward_input(&c, dx[0], dy, w);
            else if (k == 3) conv2d_winograd4_backward_input(&c, dx[1], dy, w);
            else conv2d_winograd_backward_weight(k == 4 ? &c2 : &c4, dw[k - 4], dy, x);
            t[k * reps + r] = bench_seconds(clock_id) - t0;
        }
    for (int k = 0; k < 6; k++) {
        qsort(t + k * reps, (size_t)reps, sizeof *t, bench_cmp_double);
        med[k] = 1e3 * t[k * reps + reps / 2];
    }
    printf("%dx%dx%dx%d -> %d: forward F(2x2) %.3f ms F(4x4) %.3f ms (%.2fx); input gradient F(2x2) %.3f ms "
           "F(4x4) %.3f ms (%.2fx)\n", N, C, H, W, O, med[0], med[1], med[0] / med[1], med[2], med[3],
           med[2] / med[3]);
    printf("  weight gradient F(3x3, 2x2) %.3f ms F(3x3, 4x4) %.3f ms (%.2fx)\n", med[4], med[5], med[4] / med[5]);
    printf("  off im2col by: y F(2x2) %.2g F(4x4) %.2g (largest |y| %.2g); dx F(2x2) %.2g F(4x4) %.2g "
           "(largest |dx| %.2g)\n", max_diff(y[0], y[2], ny), max_diff(y[1], y[2], ny), max_abs(y[2], ny),
           max_diff(dx[0], dx[2], nx), max_diff(dx[1], dx[2], nx), max_abs(dx[2], nx));
    printf("  off im2col by: dw F(3x3, 2x2) %.2g F(3x3, 4x4) %.2g (largest |dw| %.2g)\n", max_diff(dw[0], dw[2], nw),
           max_diff(dw[1], dw[2], nw), max_abs(dw[2], nw));
    for (int k = 0; k < 3; k++) {
        free(y[k]);
        free(dx[k]);
        free(dw[k]);
    }
    free(t);
    free(x);
    free(w);
    free(dy);
}

int main(int argc, char **argv)
{
    int reps = argc > 6 ? atoi(argv[6]) : 9, threads = argc > 7 ? atoi(argv[7]) : 1;
    if (reps < 1 || threads < 1 || (argc > 1 && argc < 6)) {
        fprintf(stderr, "usage: bench_winograd [N C H W O [REPEATS [THREADS]]]\n");
        return 2;
    }
    par_set_threads(threads);
    if (threads == 1) clock_id = CLOCK_THREAD_CPUTIME_ID;    /* not OpenBLAS's idle threads */
    printf("%d thread%s, %s, median of %d\n", threads, threads > 1 ? "s" : "",
           threads == 1 ? "CPU time" : "wall time", reps);
    if (argc > 1) {
        int v[5];
        for (int i = 0; i < 5; i++) v[i] = atoi(argv[1 + i]);
        if (v[0] < 1 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[4] < 1) {
            fprintf(stderr, "bench_winograd: N C H W O must be positive\n");
            return 2;
        }
        shape(v[0], v[1], v[2], v[3], v[4], reps);
        return 0;
    }
    shape(64, 16, 28, 28, 16, reps);
    shape(64, 32, 14, 14, 32, reps);
    return 0;
}
