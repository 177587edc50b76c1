/* tests/ops/test_activations.c: the activations of activations.c: each forward against a
 * double-precision reference, each backward against central differences of it, the values
 * torch 1.13 defines at the kinks (Hardswish at -3 and 3, ReLU6 at 0 and 6, ...), NaN, and
 * which saved value each backward reads. */
#include "../../runtime/parallel.h"
#include "testgraph.h"

typedef struct Act {
    const char *name;
    int op;
    double alpha;
    int approximate;
    double lo, hi;          /* the range of the random inputs */
    double kinks[2];        /* inputs are kept 0.05 away from these */
    int nkinks;
} Act;

static const Act ACTS[] = {
    { "leaky_relu", OP_leaky_relu, 0.01, 0, -3, 3, { 0 }, 1 },
    { "leaky_relu(0.3)", OP_leaky_relu, 0.3, 0, -3, 3, { 0 }, 1 },
    { "elu", OP_elu, 1.0, 0, -4, 3, { 0 }, 1 },
    { "elu(0.5)", OP_elu, 0.5, 0, -4, 3, { 0 }, 1 },
    { "gelu", OP_gelu, 0, 0, -5, 5, { 0 }, 0 },
    { "gelu(tanh)", OP_gelu, 0, 1, -5, 5, { 0 }, 0 },
    { "silu", OP_silu, 0, 0, -8, 8, { 0 }, 0 },
    { "sigmoid", OP_sigmoid, 0, 0, -8, 8, { 0 }, 0 },
    { "tanh", OP_tanh, 0, 0, -4, 4, { 0 }, 0 },
    { "relu6", OP_relu6, 0, 0, -3, 9, { 0, 6 }, 2 },
    { "hardswish", OP_hardswish, 0, 0, -5, 5, { -3, 3 }, 2 },
    { "hardsigmoid", OP_hardsigmoid, 0, 0, -5, 5, { -3, 3 }, 2 },
};

/* The activation in double, from torch.nn's definitions */
static double ref(const Act *a, double x)
{
    switch (a->op) {
    case OP_leaky_relu: return x > 0 ? x : a->alpha * x;
    case OP_elu: return x > 0 ? x : a->alpha * expm1(x);
    case OP_gelu:
        if (a->approximate) return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1 + erf(x / sqrt(2)));
    case OP_silu: return x / (1 + exp(-x));
    case OP_sigmoid: return 1 / (1 + exp(-x));
    case OP_tanh: return tanh(x);
    case OP_relu6: return fmin(fmax(x, 0), 6);
    case OP_hardswish: return x * fmin(fmax(x + 3, 0), 6) / 6;
    case OP_hardsigmoid: return fmin(fmax(x + 3, 0), 6) / 6;
    }
    return NAN;
}

typedef struct Ref { const Act *a; size_t n; double *x, *r; } Ref;

/* sum(f(x) * r) */
static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    double sum = 0;
    for (size_t i = 0; i < f->n; i++) sum += ref(f->a, f->x[i]) * f->r[i];
    return sum;
}

/* act(x) with its backward for dy; returns the forward node */
static int build(Graph *g, const Act *a, int ndim, const int *shape, int *x, int *dy)
{
    *x = tg_value(g, "x", VK_INPUT, DT_F32, 1, ndim, shape);
    g->vals[*x].requires_grad = 1;
    *dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, ndim, shape);
    Attrs at = { 0 };
    at.alpha = a->alpha;
    at.approximate = a->approximate;
    int node = tg_node(g, a->op, x, 1, &at);
    tg_backward(g, node, dy);
    return node;
}

static void test_gradient(const Act *a, uint64_t seed)
{
    Graph *g = graph_new();
    int shape[4] = { 2, 3, 4, 5 }, x, dy;
    g->max_batch = g->batch = shape[0];
    int node = build(g, a, 4, shape, &x, &dy);
    int y = tg_out(g, node, 0);
    tg_bind(g);
    size_t n = value_numel(&g->vals[x]);
    Rng r;
    rng_seed(&r, seed);
    float *xv = vf32(g, x);
    tg_fill(xv, n, (float)a->lo, (float)a->hi, &r);
    for (size_t i = 0; i < n; i++)      /* away from the kinks, where differences mislead */
        for (int k = 0; k < a->nkinks; k++)
            if (fabs(xv[i] - a->kinks[k]) < 0.05) xv[i] = (float)a->kinks[k] + 0.5f;
    tg_fill(vf32(g, dy), n, -1, 1, &r);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    char what[96];
    double *want = calloc(n, sizeof *want);
    for (size_t i = 0; i < n; i++) want[i] = ref(a, xv[i]);
    snprintf(what, sizeof what, "%s forward", a->name);
    tg_check_array(vf32(g, y), want, n, 1e-6, 2e-6, what);
    Ref f = { a, n, malloc(n * sizeof(double)), malloc(n * sizeof(double)) };
    tg_to_double(f.x, xv, n);
    tg_to_double(f.r, vf32(g, dy), n);
    tg_numeric_grad(want, f.x, n, 1e-4, ref_loss, &f);
    snprintf(what, sizeof what, "%s dx vs differences", a->name);
    CHECK(g->vals[x].grad >= 0, "%s: no gradient", a->name);
    tg_check_array(vf32(g, g->vals[x].grad), want, n, 1e-5, 1e-5, what);
    free(want);
    free(f.x);
    free(f.r);
    graph_free(g);
}

/* forward and backward (dy = 1) of one activation over the given x */
static void run_values(const Act *a, const float *xs, float *ys, float *dxs, int n)
{
    Graph *g = graph_new();
    int shape[2] = { 1, n }, x, dy;
    g->max_batch = g->batch = 1;
    int node = build(g, a, 2, shape, &x, &dy);
    tg_bind(g);
    memcpy(vf32(g, x), xs, (size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) vf32(g, dy)[i] = 1;
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    memcpy(ys, vf32(g, tg_out(g, node, 0)), (size_t)n * sizeof(float));
    memcpy(dxs, vf32(g, g->vals[x].grad), (size_t)n * sizeof(float));
    graph_free(g);
}

static const Act *find(const char *name)
{
    for (size_t i = 0; i < sizeof ACTS / sizeof ACTS[0]; i++)
        if (!strcmp(ACTS[i].name, name)) return &ACTS[i];
    return NULL;
}

/* torch 1.13's values where the derivative is not defined, and NaN */
static void test_kinks(void)
{
    float y[8], dx[8];
    /* hardswish_backward: x < -3: 0; x < 3: x/3 + 0.5; else 1 (so -0.5 at -3, 1 at 3) */
    const float hs[6] = { -3.0001f, -3.0f, 0.0f, 2.9999f, 3.0f, NAN };
    run_values(find("hardswish"), hs, y, dx, 6);
    CHECK(dx[0] == 0 && dx[1] == -0.5f && dx[2] == 0.5f && fabsf(dx[3] - 1.49997f) < 1e-5f && dx[4] == 1 &&
          dx[5] == 1, "hardswish grads %g %g %g %g %g %g", dx[0], dx[1], dx[2], dx[3], dx[4], dx[5]);
    CHECK(y[1] == 0 && y[4] == 3 && isnan(y[5]), "hardswish values %g %g %g", y[1], y[4], y[5]);
    /* hardsigmoid_backward: 1/6 strictly inside (-3, 3), else 0 (NaN too) */
    run_values(find("hardsigmoid"), hs, y, dx, 6);
    CHECK(dx[0] == 0 && dx[1] == 0 && dx[2] == 1.0f / 6 && dx[4] == 0 && dx[5] == 0,
          "hardsigmoid grads %g %g %g %g %g", dx[0], dx[1], dx[2], dx[4], dx[5]);
    CHECK(y[1] == 0 && y[2] == 0.5f && y[4] == 1 && isnan(y[5]), "hardsigmoid values");
    /* relu6 = hardtanh(0, 6): no gradient at 0 and 6, NaN passes dy and stays NaN */
    const float r6[6] = { -1, 0, 3, 6, 7, NAN };
    run_values(find("relu6"), r6, y, dx, 6);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 3 && y[3] == 6 && y[4] == 6 && isnan(y[5]), "relu6 values");
    CHECK(dx[0] == 0 && dx[1] == 0 && dx[2] == 1 && dx[3] == 0 && dx[4] == 0 && dx[5] == 1,
          "relu6 grads %g %g %g %g %g %g", dx[0], dx[1], dx[2], dx[3], dx[4], dx[5]);
    /* leaky_relu: slope alpha at 0 (x > 0 is false); elu: alpha * exp(0) at 0 */
    const float z[3] = { 0, -0.0f, NAN };
    run_values(find("leaky_relu(0.3)"), z, y, dx, 3);
    CHECK(dx[0] == 0.3f && dx[1] == 0.3f && isnan(y[2]) && dx[2] == 0.3f, "leaky_relu at 0: %g %g", dx[0], dx[2]);
    run_values(find("elu(0.5)"), z, y, dx, 3);
    CHECK(dx[0] == 0.5f && y[0] == 0 && isnan(y[2]) && dx[2] == 1, "elu at 0: %g, NaN: %g", dx[0], dx[2]);
    /* saturation: no NaN from exp's overflow */
    const float big[4] = { -100, 100, -INFINITY, INFINITY };
    run_values(find("sigmoid"), big, y, dx, 4);
    CHECK(y[0] == 0 && y[1] == 1 && y[2] == 0 && y[3] == 1 && dx[0] == 0 && dx[1] == 0, "sigmoid saturates");
    run_values(find("tanh"), big, y, dx, 4);
    CHECK(y[0] == -1 && y[1] == 1 && dx[0] == 0 && dx[1] == 0, "tanh saturates");
    run_values(find("gelu"), big, y, dx, 2);
    CHECK(y[0] == 0 && y[1] == 100 && dx[0] == 0 && dx[1] == 1, "gelu saturates: %g %g %g %g", y[0], y[1], dx[0],
          dx[1]);
}

/* sigmoid and tanh's backward read y (as torch saves the result), the others x */
static void test_saved_value(void)
{
    for (size_t i = 0; i < sizeof ACTS / sizeof ACTS[0]; i++) {
        Graph *g = graph_new();
        int shape[2] = { 2, 3 }, x, dy;
        int node = build(g, &ACTS[i], 2, shape, &x, &dy);
        const Node *b = &g->nodes[g->vals[g->vals[x].grad].producer];
        int reads_y = ACTS[i].op == OP_sigmoid || ACTS[i].op == OP_tanh;
        CHECK(b->in[0] == dy && b->in[1] == (reads_y ? tg_out(g, node, 0) : x), "%s backward reads %s",
              ACTS[i].name, reads_y ? "y" : "x");
        CHECK(b->a.approximate == ACTS[i].approximate && b->a.alpha == ACTS[i].alpha, "%s attrs carried",
              ACTS[i].name);
        graph_free(g);
    }
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int shape[2] = { 2, 3 };
    int lab = tg_value(g, "labels", VK_LABEL, DT_I32, 1, 1, shape);
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 2, shape);
    Error e = { "" };
    CHECK(graph_add(g, OP_tanh, &lab, 1, NULL, &e) < 0 && strstr(e.msg, "float32"), "int input: %s", e.msg);
    Attrs a = { 0 };
    a.approximate = 2;
    CHECK(graph_add(g, OP_gelu, &x, 1, &a, &e) < 0 && strstr(e.msg, "approximate"), "gelu mode: %s", e.msg);
    graph_free(g);
}

/* Large enough to split across threads: the same values as one thread */
static void test_threads(void)
{
    size_t n = 100000;
    float *x = malloc(n * sizeof *x), *y1 = malloc(n * sizeof *y1), *yT = malloc(n * sizeof *yT);
    float *d1 = malloc(n * sizeof *d1), *dT = malloc(n * sizeof *dT);
    Rng r;
    rng_seed(&r, 9);
    tg_fill(x, n, -6, 6, &r);
    for (int k = ACT_LEAKY_RELU; k <= ACT_HARDSIGMOID; k++) {
        par_set_threads(1);
        activation_forward((Activation)k, y1, x, n, 0.2f);
        activation_backward((Activation)k, d1, x, y1, n, 0.2f);
        par_set_threads(4);
        activation_forward((Activation)k, yT, x, n, 0.2f);
        activation_backward((Activation)k, dT, x, y1, n, 0.2f);
        CHECK(!memcmp(y1, yT, n * sizeof *y1), "kind %d: threads change the result", k);
        CHECK(!memcmp(d1, dT, n * sizeof *d1), "kind %d backward: threads change the result", k);
    }
    par_set_threads(1);
    free(x);
    free(y1);
    free(yT);
    free(d1);
    free(dT);
}

int main(void)
{
    for (size_t i = 0; i < sizeof ACTS / sizeof ACTS[0]; i++) test_gradient(&ACTS[i], 100 + i);
    test_kinks();
    test_saved_value();
    test_errors();
    test_threads();
    return test_done("test_activations");
}
