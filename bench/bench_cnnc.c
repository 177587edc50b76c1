/* bench/bench_cnnc.c: times cnnc's compiled graph on random tensors in memory (no data
 * loading): training steps (forward, backward, optimizer) or inference batches. Prints
 * "MODE median_seconds images/s". The profile mode times every node of a training step (its
 * median over the repetitions), sets each GEMM-shaped node beside OpenBLAS's sgemm alone on
 * the same shape (all threads: the ceiling), and prints the share of the step spent outside
 * GEMM-shaped nodes.
 * "profile-infer" does the same for the forward pass alone. "--sgemm N THREADS" prints the
 * GFLOP/s of OpenBLAS's sgemm on N x N x N alone, the machine's practical peak.
 * usage: bench_cnnc MODEL.cnn train|infer|profile|profile-infer BATCH REPEATS [THREADS]
 *        bench_cnnc --sgemm N THREADS */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_clock.h"
#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/ops.h"
#include "runtime/parallel.h"

/* The GEMMs a node amounts to (M x N x K each, at most 2): how many, 0 when it is not
 * GEMM-shaped. */
static int gemm_shape(const Graph *g, const Node *n, double *m, double *nn, double *k)
{
    const Value *in0 = &g->vals[n->in[0]];
    switch (n->op) {
    case OP_conv2d: case OP_conv2d_relu_maxpool2d: {
        const Value *w = &g->vals[n->in[1]];
        int Ho = window_out_size(in0->shape[2], n->a.kernel, n->a.stride, n->a.padding);
        int Wo = window_out_size(in0->shape[3], n->a.kernel, n->a.stride, n->a.padding);
        *m = w->shape[0];
        *nn = (double)in0->shape[0] * Ho * Wo;
        *k = (double)w->shape[1] * w->shape[2] * w->shape[3];
        return 1;
    }
    case OP_conv2d_backward_input: {   /* dy [N,O,Ho,Wo], w */
        const Value *w = &g->vals[n->in[1]];
        *m = (double)w->shape[1] * w->shape[2] * w->shape[3];
        *nn = (double)in0->shape[0] * in0->shape[2] * in0->shape[3];
        *k = w->shape[0];
        return 1;
    }
    case OP_conv2d_backward_weight: {  /* dy, x */
        const Value *x = &g->vals[n->in[1]];
        *m = in0->shape[1];
        *k = (double)in0->shape[0] * in0->shape[2] * in0->shape[3];
        *nn = (double)x->shape[1] * n->a.kernel * n->a.kernel;
        return 1;
    }
    case OP_conv2d_relu_maxpool2d_backward: {  /* dy [N,O,Hp,Wp], y, argmax, x, w?: dw, then dx */
        const Value *x = &g->vals[n->in[3]];
        double taps = (double)x->shape[1] * n->a.kernel * n->a.kernel;
        double P = (double)window_out_size(x->shape[2], n->a.kernel, 1, n->a.padding) *
                   window_out_size(x->shape[3], n->a.kernel, 1, n->a.padding);
        m[0] = in0->shape[1], k[0] = x->shape[0] * P, nn[0] = taps;
        if (n->nin < 5) return 1;
        m[1] = taps, nn[1] = (double)x->shape[0] * x->shape[2] * x->shape[3], k[1] = in0->shape[1];
        return 2;
    }
    case OP_linear:                    /* x [N,in], w [out,in] */
        *m = in0->shape[0];
        *nn = g->vals[n->in[1]].shape[0];
        *k = in0->shape[1];
        return 1;
    case OP_linear_backward_input:     /* dy [N,out], w [out,in] */
        *m = in0->shape[0];
        *nn = g->vals[n->in[1]].shape[1];
        *k = in0->shape[1];
        return 1;
    case OP_linear_backward_weight:    /* dy [N,out], x [N,in] */
        *m = in0->shape[1];
        *nn = g->vals[n->in[1]].shape[1];
        *k = in0->shape[0];
        return 1;
    default:
        return 0;
    }
}

/* a[0..n) filled with small values: calloc's untouched pages all map one zero page, which
 * stays in cache and made sgemm's inputs read faster than any real tensor's */
static float *filled(size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = (float)(i % 7) * 0.125f - 0.375f;
    return a;
}

/* seconds of one cblas_sgemm of that shape, all threads in OpenBLAS (median of 5) */
static double sgemm_alone(int m, int n, int k, int threads)
{
    float *a = filled((size_t)m * k), *b = filled((size_t)k * n), *c = filled((size_t)m * n);
    double t[5];
    openblas_set_num_threads(threads);
    for (int r = 0; r < 6; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        if (r) t[r - 1] = bench_now() - t0;
    }
    openblas_set_num_threads(1);
    qsort(t, 5, sizeof *t, bench_cmp_double);
    free(a);
    free(b);
    free(c);
    return t[2];
}

static void profile(Graph *g, int reps, int phases)
{
    /* each node's median over the repetitions (one preempted repetition would skew a mean) */
    double *t = calloc((size_t)g->nnodes * reps, sizeof *t), *acc = calloc((size_t)g->nnodes, sizeof *acc);
    double total = 0, gemm_time = 0;
    for (int r = 0; r < reps; r++) {
        g->step++;
        for (int i = 0; i < g->nnodes; i++) {
            const Node *n = &g->nodes[i];
            /* cached values (BatchNorm folded) stay from the warm-up runs, as exec_run keeps them */
            if (!(n->phase & phases) || node_cached(g, n)) continue;
            double t0 = bench_now();
            op_table[n->op]->forward(g, n);
            t[(size_t)i * reps + r] = bench_now() - t0;
        }
    }
    for (int i = 0; i < g->nnodes; i++) {
        qsort(t + (size_t)i * reps, (size_t)reps, sizeof *t, bench_cmp_double);
        acc[i] = t[(size_t)i * reps + reps / 2];
    }
    free(t);
    printf("%-4s %-30s %-16s %9s %9s %12s %9s\n", "node", "op", "layer", "ms", "GFLOP/s", "sgemm GFLOP/s", "ratio");
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        double ms = 1e3 * acc[i], m[2], nn[2], k[2];
        total += ms;
        printf("%-4d %-30s %-16s %9.3f", i, op_table[n->op]->name, n->label, ms);
        int gemms = gemm_shape(g, n, m, nn, k);
        if (gemms) {
            double flops = 0, secs = 0;         /* a fused node: its GEMMs' flops over their time alone */
            for (int j = 0; j < gemms; j++) {
                flops += 2 * m[j] * nn[j] * k[j];
                secs += sgemm_alone((int)m[j], (int)nn[j], (int)k[j], g->threads);
            }
            double ceil = flops / secs;
            gemm_time += ms;
            printf(" %9.1f %12.1f %8.0f%%", flops / (ms * 1e6), ceil / 1e9, 100 * flops / (ms * 1e6) / (ceil / 1e9));
        }
        putchar('\n');
    }
    printf("step %.3f ms, GEMM-shaped nodes %.3f ms, outside them %.1f%%\n", total, gemm_time,
           100 * (total - gemm_time) / total);
    free(acc);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--sgemm") == 0) {
        int n = atoi(argv[2]), threads = atoi(argv[3]);
        if (n < 1 || threads < 1) return 2;
        printf("sgemm %d %.1f GFLOP/s\n", n, 2.0 * n * n * n / sgemm_alone(n, n, n, threads) / 1e9);
        return 0;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: bench_cnnc MODEL.cnn train|infer|profile|profile-infer BATCH REPEATS [THREADS]\n");
        return 2;
    }
    const char *mode = argv[2];
    int batch = atoi(argv[3]), reps = atoi(argv[4]), threads = argc > 5 ? atoi(argv[5]) : 0;
    int prof = strncmp(mode, "profile", 7) == 0;
    int train = strcmp(mode, "profile") == 0 || strcmp(mode, "train") == 0;
    Program p;
    if (check_file(argv[1], NULL, &p, stderr) < 0) return 1;
    LowerOptions lo = { .batch = batch, .training = train };
    Error e;
    Graph *g = lower_program(&p, &lo, &e);
    if (!g) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    exec_set_threads(g, threads);
    init_parameters(g, 1);
    Rng r;
    rng_seed(&r, 5);
    float *x = vf32(g, g->input);
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = 2 * rng_uniform(&r) - 1;
    int k = g->vals[g->logits].shape[1];
    for (int i = 0; i < batch; i++) vi32(g, g->label)[i] = (int32_t)rng_below(&r, (uint32_t)k);
    graph_set_batch(g, batch);
    g->training = train;
    int phases = train ? PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE : PHASE_FORWARD;
    double *t = malloc((size_t)reps * sizeof *t);
    for (int i = 0; i < 3; i++) {           /* warm up */
        g->step++;
        exec_run(g, phases);
    }
    if (prof) {
        profile(g, reps, phases);
        free(t);
        graph_free(g);
        program_free(&p);
        return 0;
    }
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        g->step++;
        exec_run(g, phases);
        t[i] = bench_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    double med = t[reps / 2];
    printf("%s %.6f %.1f min %.6f\n", mode, med, batch / med, t[0]);
    free(t);
    graph_free(g);
    program_free(&p);
    return 0;
}
