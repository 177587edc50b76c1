/* tests/ops/test_cross_entropy.c: cross_entropy (loss and softmax) against a direct double
 * computation, its stability on large logits, bad labels, and cross_entropy_backward against
 * central differences of the double loss; the same with torch's options (class weights,
 * ignore_index, reduction='sum', label smoothing) against their definition. */
#include "testgraph.h"

typedef struct Ref {
    int N, K;
    double *z;
    const int32_t *labels;
} Ref;

/* mean over i of log(sum_j exp(z_ij)) - z_i[y_i], directly (the test logits are small) */
static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    double total = 0;
    for (int i = 0; i < f->N; i++) {
        double sum = 0;
        for (int j = 0; j < f->K; j++) sum += exp(f->z[i * f->K + j]);
        total += log(sum) - f->z[i * f->K + f->labels[i]];
    }
    return total / f->N;
}

typedef struct Built {
    Graph *g;
    int z, labels, loss, probs;
} Built;

static Built build_with(int N, int K, const Attrs *a)
{
    Built b;
    b.g = graph_new();
    b.g->max_batch = b.g->batch = N;
    int zs[2] = { N, K };
    b.z = tg_value(b.g, "logits", VK_INPUT, DT_F32, 1, 2, zs);
    b.g->vals[b.z].requires_grad = 1;
    b.labels = tg_value(b.g, "labels", VK_LABEL, DT_I32, 1, 1, &N);
    int in[2] = { b.z, b.labels };
    int node = tg_node(b.g, OP_cross_entropy, in, 2, a);
    b.loss = tg_out(b.g, node, 0);
    b.probs = tg_out(b.g, node, 1);
    int dout[2] = { b.loss, -1 };      /* as autodiff calls the root */
    tg_backward(b.g, node, dout);
    tg_bind(b.g);
    return b;
}

static Built build(int N, int K)
{
    return build_with(N, K, NULL);
}

/* torch's documented definition: with q_i = (1 - eps) * onehot(y_i) + eps / K and the class
 * weights w, loss_i = -sum_c w_c q_ic log softmax(z_i)_c over rows not ignored; 'mean'
 * divides the sum by sum_i w[y_i] over those rows */
typedef struct OptRef {
    Ref r;
    const float *w;
    int ignore_index, sum;
    double eps;
} OptRef;

static double ref_loss_opts(void *ctx)
{
    OptRef *f = ctx;
    int K = f->r.K;
    double total = 0, W = 0;
    for (int i = 0; i < f->r.N; i++) {
        int y = f->r.labels[i];
        if (y == f->ignore_index) continue;
        double sum = 0;
        for (int j = 0; j < K; j++) sum += exp(f->r.z[i * K + j]);
        for (int c = 0; c < K; c++) {
            double q = (1 - f->eps) * (c == y) + f->eps / K;
            total -= (f->w ? f->w[c] : 1.0) * q * (f->r.z[i * K + c] - log(sum));
        }
        W += f->w ? f->w[y] : 1.0;
    }
    return f->sum ? total : total / W;
}

static void test_options(const float *w, int ignore_index, int sum, double eps, uint64_t seed)
{
    enum { N = 6, K = 4 };
    Attrs a = { .class_weight = w, .ignore = 1, .ignore_index = ignore_index, .reduction_sum = sum,
                .label_smoothing = eps };
    Built b = build_with(N, K, &a);
    Graph *g = b.g;
    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, b.z), (size_t)N * K, -3, 3, &r);
    int32_t *y = vi32(g, b.labels);
    for (int i = 0; i < N; i++) y[i] = (int32_t)rng_below(&r, K);
    y[1] = 1;     /* the ignored class occurs */
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    OptRef f = { { N, K, malloc(N * K * sizeof(double)), y }, w, ignore_index, sum, eps };
    tg_to_double(f.r.z, vf32(g, b.z), N * K);
    char what[128];
    snprintf(what, sizeof what, "weights %s ignore_index %d sum %d eps %g: loss", w ? "yes" : "no", ignore_index,
             sum, eps);
    CHECK_CLOSE(vf32(g, b.loss)[0], ref_loss_opts(&f), 1e-6, 1e-6, what);
    double want[N * K];
    tg_numeric_grad(want, f.r.z, N * K, 1e-4, ref_loss_opts, &f);
    snprintf(what, sizeof what, "weights %s ignore_index %d sum %d eps %g: dlogits vs differences", w ? "yes" : "no",
             ignore_index, sum, eps);
    tg_check_array(vf32(g, g->vals[b.z].grad), want, N * K, 1e-7, 1e-5, what);
    if (ignore_index == 1) CHECK(vf32(g, g->vals[b.z].grad)[K] == 0, "an ignored row's gradient is 0");
    free(f.r.z);
    graph_free(g);
}

static void test_against_ref(int N, int K, uint64_t seed)
{
    Built b = build(N, K);
    Graph *g = b.g;
    const Value *loss = &g->vals[b.loss], *probs = &g->vals[b.probs];
    CHECK(loss->ndim == 1 && loss->shape[0] == 1 && !loss->batched, "loss is [1], not batched");
    CHECK(probs->ndim == 2 && probs->shape[0] == N && probs->shape[1] == K && probs->batched, "probs is NxK");
    CHECK(tg_count_op(g, OP_cross_entropy_backward) == 1 && g->vals[b.z].grad >= 0, "dlogits node");

    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, b.z), (size_t)N * K, -3, 3, &r);
    for (int i = 0; i < N; i++) vi32(g, b.labels)[i] = (int32_t)rng_below(&r, (uint32_t)K);
    tg_fill(vf32(g, g->vals[b.z].grad), (size_t)N * K, 100, 200, &r);   /* stale */

    for (int n = N; n >= N - 1 && n >= 1; n--) {
        graph_set_batch(g, n);
        tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
        size_t nz = (size_t)n * K;
        Ref f = { n, K, malloc(nz * sizeof(double)), vi32(g, b.labels) };
        tg_to_double(f.z, vf32(g, b.z), nz);
        char what[96];
        /* float32 results of double sums: rounding ~1e-7 relative */
        snprintf(what, sizeof what, "N=%d K=%d: loss", n, K);
        CHECK_CLOSE(vf32(g, b.loss)[0], ref_loss(&f), 1e-6, 1e-6, what);
        double *want = malloc(nz * sizeof *want);
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < K; j++) sum += exp(f.z[i * K + j]);
            for (int j = 0; j < K; j++) want[i * K + j] = exp(f.z[i * K + j]) / sum;
        }
        snprintf(what, sizeof what, "N=%d K=%d: probs", n, K);
        tg_check_array(vf32(g, b.probs), want, nz, 1e-7, 1e-6, what);
        /* the loss is smooth: central differences with h = 1e-4 are accurate to ~1e-9 */
        tg_numeric_grad(want, f.z, nz, 1e-4, ref_loss, &f);
        snprintf(what, sizeof what, "N=%d K=%d: dlogits vs differences", n, K);
        tg_check_array(vf32(g, g->vals[b.z].grad), want, nz, 1e-7, 1e-5, what);
        free(want);
        free(f.z);
    }
    graph_free(g);
}

/* Large logits: the max is subtracted, so nothing overflows. */
static void test_stability(void)
{
    Built b = build(3, 3);
    Graph *g = b.g;
    const float z[9] = { 1000, 999, 998, -1000, -1001, -1002, 50, -50, 0 };
    const int32_t y[3] = { 0, 2, 1 };
    memcpy(vf32(g, b.z), z, sizeof z);
    memcpy(vi32(g, b.labels), y, sizeof y);
    tg_run(g, PHASE_FORWARD);
    double l0 = log(1 + exp(-1.0) + exp(-2.0));       /* rows 0 and 1 differ by a shift */
    double l1 = 2 + l0;
    double l2 = 100 + log(1 + exp(-100.0) + exp(-50.0));
    CHECK_CLOSE(vf32(g, b.loss)[0], (l0 + l1 + l2) / 3, 1e-5, 1e-6, "loss of large logits");
    const float *p = vf32(g, b.probs);
    CHECK_CLOSE(p[0], 1 / (1 + exp(-1.0) + exp(-2.0)), 1e-7, 1e-6, "softmax of large logits");
    CHECK_CLOSE(p[3], p[0], 1e-7, 1e-6, "softmax is shift-invariant");
    CHECK(p[7] >= 0 && p[7] < 1e-40 && p[6] == 1.0f, "a 100 gap: probabilities %g and %g", p[6], p[7]);
    graph_free(g);
}

/* A label outside [0, K) is detectable (NaN) and never read out of bounds (ASan). */
static void test_bad_labels(void)
{
    Built b = build(3, 4);
    Graph *g = b.g;
    Rng r;
    rng_seed(&r, 5);
    tg_fill(vf32(g, b.z), 12, -1, 1, &r);
    const int32_t cases[2] = { -1, 4 };
    for (int c = 0; c < 2; c++) {
        int32_t y[3] = { 0, cases[c], 3 };
        memcpy(vi32(g, b.labels), y, sizeof y);
        tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
        const float *dz = vf32(g, g->vals[b.z].grad);
        CHECK(isnan(vf32(g, b.loss)[0]), "label %d: loss is NaN (got %g)", cases[c], vf32(g, b.loss)[0]);
        CHECK(isnan(dz[4]) && isnan(dz[7]) && !isnan(dz[0]) && !isnan(dz[11]),
              "label %d: only its row of dlogits is NaN", cases[c]);
    }
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int zs[2] = { 4, 10 }, n3 = 3, n4 = 4;
    int z = tg_value(g, "z", VK_INPUT, DT_F32, 1, 2, zs);
    int l3 = tg_value(g, "l3", VK_LABEL, DT_I32, 1, 1, &n3);
    int lf = tg_value(g, "lf", VK_INPUT, DT_F32, 1, 1, &n4);
    Error e = { "" };
    int in[2] = { z, l3 };
    CHECK(graph_add(g, OP_cross_entropy, in, 2, NULL, &e) < 0 && strstr(e.msg, "4 rows and 3 labels"),
          "count: %s", e.msg);
    in[1] = lf;
    CHECK(graph_add(g, OP_cross_entropy, in, 2, NULL, &e) < 0 && strstr(e.msg, "int32"), "dtype: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    test_against_ref(1, 2, 1);
    test_against_ref(4, 10, 2);
    test_against_ref(7, 3, 3);
    test_stability();
    test_bad_labels();
    test_errors();
    static const float w[4] = { 1.0f, 2.5f, 0.5f, 3.0f };
    test_options(w, -100, 0, 0, 11);
    test_options(NULL, 1, 0, 0, 12);
    test_options(NULL, -100, 1, 0, 13);
    test_options(NULL, -100, 0, 0.1, 14);
    test_options(NULL, 1, 0, 0.3, 15);
    test_options(w, 1, 0, 0.2, 16);
    test_options(w, 1, 1, 0.2, 17);
    test_options(w, -100, 1, 1.0, 18);
    return test_done("test_cross_entropy");
}
