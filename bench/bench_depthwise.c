/* bench/bench_depthwise.c: the depthwise convolution kernels (runtime/ops/conv2d_depthwise.c)
 * against the general grouped kernel they replace for depthwise shapes (conv2d_general.c),
 * in the same run on the same random tensors: forward, input gradient and weight gradient
 * (with the bias's), the median of REPEATS calls each, in ms (CPU time on one thread, wall
 * time on several), and the ratio.
 * usage: bench_depthwise [N C H W K STRIDE [MULTIPLIER [REPEATS [THREADS]]]]
 *        (default 8 32 112 112 3 1 1 10 2: MobileNet's first depthwise layer at batch 8) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/bench_clock.h"
#include "runtime/ops/kernels.h"
#include "runtime/parallel.h"

/* one thread: the process's CPU time (the machine is shared; a preempted call costs
 * nothing), several: wall time */
static clockid_t clock_id = CLOCK_MONOTONIC;

typedef struct Bufs { float *x, *w, *b, *y, *dy, *dx, *dw, *db; } Bufs;

/* which: 0 forward, 1 input gradient, 2 weight gradient; depthwise or the general kernel */
static void call(const ConvGeneral *c, const Bufs *t, int which, int depthwise)
{
    if (which == 0)
        (depthwise ? conv2d_depthwise_forward : conv2d_grouped_forward)(c, t->y, t->x, t->w, t->b);
    else if (which == 1)
        (depthwise ? conv2d_depthwise_backward_input : conv2d_grouped_backward_input)(c, t->dx, t->dy, t->w);
    else
        (depthwise ? conv2d_depthwise_backward_weight : conv2d_grouped_backward_weight)(c, t->dw, t->db, t->dy, t->x);
}

static double median_ms(const ConvGeneral *c, const Bufs *t, int which, int depthwise, int reps)
{
    double *ms = xmalloc((size_t)reps * sizeof *ms);
    call(c, t, which, depthwise);   /* warm-up: scratch memory, pages */
    for (int r = 0; r < reps; r++) {
        double t0 = bench_seconds(clock_id);
        call(c, t, which, depthwise);
        ms[r] = 1e3 * (bench_seconds(clock_id) - t0);
    }
    qsort(ms, (size_t)reps, sizeof *ms, bench_cmp_double);
    double m = ms[reps / 2];
    free(ms);
    return m;
}

static float *filled(size_t n, Rng *rng)
{
    float *a = xmalloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = (float)(rng_uniform(rng) * 2 - 1);
    return a;
}

int main(int argc, char **argv)
{
    int v[9] = { 8, 32, 112, 112, 3, 1, 1, 10, 2 };
    if (argc != 1 && argc != 7 && argc != 8 && argc != 9 && argc != 10) {
        fprintf(stderr, "usage: bench_depthwise [N C H W K STRIDE [MULTIPLIER [REPEATS [THREADS]]]]\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) v[i - 1] = atoi(argv[i]);
    int N = v[0], C = v[1], H = v[2], W = v[3], k = v[4], s = v[5], m = v[6], reps = v[7], threads = v[8];
    if (N < 1 || C < 1 || k < 1 || s < 1 || m < 1 || reps < 1 || threads < 1 || H < k || W < k) {
        fprintf(stderr, "bench_depthwise: sizes must be positive and the image at least the kernel\n");
        return 2;
    }
    par_set_threads(threads);
    if (threads == 1) clock_id = CLOCK_PROCESS_CPUTIME_ID;
    Window2d win = { k, k, s, s, k / 2, k / 2, 1, 1 };
    int Ho = window_out_size_ex(H, k, s, k / 2, 1, 0), Wo = window_out_size_ex(W, k, s, k / 2, 1, 0);
    ConvGeneral c = { N, C, H, W, C * m, C, Ho, Wo, 0, win };
    size_t nx = (size_t)N * C * H * W, ny = (size_t)N * C * m * Ho * Wo, nw = (size_t)C * m * k * k;
    Rng rng;
    rng_seed(&rng, 1);
    Bufs t = { filled(nx, &rng), filled(nw, &rng), filled((size_t)C * m, &rng), filled(ny, &rng),
               filled(ny, &rng), filled(nx, &rng), filled(nw, &rng), filled((size_t)C * m, &rng) };
    printf("depthwise %dx%dx%dx%d, %dx%d kernel, stride %d, padding %d, %d filter(s) per channel, %d threads, "
           "median of %d (ms, %s)\n", N, C, H, W, k, k, s, k / 2, m, threads, reps,
           threads == 1 ? "CPU time" : "wall time");
    const char *what[3] = { "forward", "input gradient", "weight gradient" };
    for (int which = 0; which < 3; which++) {
        double general = median_ms(&c, &t, which, 0, reps), depthwise = median_ms(&c, &t, which, 1, reps);
        printf("%-16s general %8.2f  depthwise %8.2f  %5.1fx faster\n", what[which], general, depthwise,
               general / depthwise);
    }
    free(t.x), free(t.w), free(t.b), free(t.y), free(t.dy), free(t.dx), free(t.dw), free(t.db);
    return 0;
}
