/* tests/ops/test_softmax.c: softmax and log_softmax over dim 1 (N x K and N x C x H x W):
 * forward against a double reference, backward against central differences, rows that sum
 * to 1, large and NaN inputs, and the shape checks. */
#include "testgraph.h"

typedef struct Ref { int N, C, inner, log_form; double *x, *r; } Ref;

/* y = (log_)softmax of x[N,C,inner] over C, in double */
static void ref_softmax(double *y, const double *x, int N, int C, int inner, int log_form)
{
    for (int n = 0; n < N; n++)
        for (int i = 0; i < inner; i++) {
            const double *xc = x + (size_t)n * C * inner + i;
            double *yc = y + (size_t)n * C * inner + i;
            double max = xc[0], sum = 0;
            for (int c = 1; c < C; c++) max = fmax(max, xc[c * inner]);
            for (int c = 0; c < C; c++) sum += exp(xc[c * inner] - max);
            for (int c = 0; c < C; c++)
                yc[c * inner] = log_form ? xc[c * inner] - max - log(sum) : exp(xc[c * inner] - max) / sum;
        }
}

/* sum(y * r) */
static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    size_t n = (size_t)f->N * f->C * f->inner;
    double *y = malloc(n * sizeof *y), sum = 0;
    ref_softmax(y, f->x, f->N, f->C, f->inner, f->log_form);
    for (size_t i = 0; i < n; i++) sum += y[i] * f->r[i];
    free(y);
    return sum;
}

static void test_gradient(int op, int ndim, const int *shape, float scale, uint64_t seed)
{
    Graph *g = graph_new();
    g->max_batch = g->batch = shape[0];
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, ndim, shape);
    g->vals[x].requires_grad = 1;
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, ndim, shape);
    int node = tg_node(g, op, &x, 1, NULL);
    tg_backward(g, node, &dy);
    int y = tg_out(g, node, 0), dx = g->vals[x].grad;
    const Node *b = &g->nodes[g->vals[dx].producer];
    CHECK(b->in[1] == y, "the backward reads y");
    tg_bind(g);
    size_t n = value_numel(&g->vals[x]);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, x), n, -scale, scale, &r);
    tg_fill(vf32(g, dy), n, -1, 1, &r);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    int inner = 1;
    for (int d = 2; d < ndim; d++) inner *= shape[d];
    Ref f = { shape[0], shape[1], inner, op == OP_log_softmax, malloc(n * sizeof(double)), malloc(n * sizeof(double)) };
    tg_to_double(f.x, vf32(g, x), n);
    tg_to_double(f.r, vf32(g, dy), n);
    double *want = malloc(n * sizeof *want);
    ref_softmax(want, f.x, f.N, f.C, inner, f.log_form);
    char what[64];
    snprintf(what, sizeof what, "%s forward (%d dims)", op_table[op]->name, ndim);
    tg_check_array(vf32(g, y), want, n, 1e-6, 2e-6, what);
    if (op == OP_softmax) {       /* each column sums to 1 */
        double worst = 0;
        for (int i = 0; i < f.N; i++)
            for (int k = 0; k < inner; k++) {
                double s = 0;
                for (int c = 0; c < f.C; c++) s += vf32(g, y)[((size_t)i * f.C + c) * inner + k];
                worst = fmax(worst, fabs(s - 1));
            }
        CHECK(worst < 1e-6, "softmax columns sum to 1 (worst off by %g)", worst);
    }
    tg_numeric_grad(want, f.x, n, 1e-4, ref_loss, &f);
    snprintf(what, sizeof what, "%s dx vs differences (%d dims)", op_table[op]->name, ndim);
    tg_check_array(vf32(g, dx), want, n, 1e-5, 1e-5, what);
    free(want);
    free(f.x);
    free(f.r);
    graph_free(g);
}

/* large logits do not overflow; a NaN makes its own row NaN and no other */
static void test_special_values(void)
{
    for (int log_form = 0; log_form < 2; log_form++) {
        float x[6] = { 1000, 1001, 999, 1, NAN, 2 }, y[6];
        softmax_forward(y, x, 2, 3, 1, log_form);
        double e = exp(-1), s = e + 1 + exp(-2);
        if (log_form)
            CHECK(fabs(y[1] + log(s)) < 1e-6 && fabs(y[0] - (-1 - log(s))) < 1e-5, "log_softmax of 1000s: %g %g",
                  y[0], y[1]);
        else
            CHECK(fabs(y[1] - 1 / s) < 1e-6 && fabs(y[0] - e / s) < 1e-6, "softmax of 1000s: %g %g", y[0], y[1]);
        CHECK(isnan(y[3]) && isnan(y[4]) && isnan(y[5]), "a NaN row is NaN");
    }
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s1[1] = { 4 }, s2[2] = { 2, 3 }, s3[2] = { 3, 2 };
    int a = tg_value(g, "a", VK_INPUT, DT_F32, 1, 1, s1);
    Error e = { "" };
    CHECK(graph_add(g, OP_softmax, &a, 1, NULL, &e) < 0 && strstr(e.msg, "at least 2 dims"), "1 dim: %s", e.msg);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 2, s2), y = tg_value(g, "y", VK_INPUT, DT_F32, 1, 2, s3);
    int in[2] = { dy, y };
    CHECK(graph_add(g, OP_log_softmax_backward, in, 2, NULL, &e) < 0 && strstr(e.msg, "2x3 and 3x2"), "shapes: %s",
          e.msg);
    graph_free(g);
}

int main(void)
{
    int s2[2] = { 5, 7 }, s4[4] = { 2, 4, 3, 2 };
    test_gradient(OP_softmax, 2, s2, 4, 1);
    test_gradient(OP_log_softmax, 2, s2, 4, 2);
    test_gradient(OP_softmax, 4, s4, 2, 3);
    test_gradient(OP_log_softmax, 4, s4, 2, 4);
    test_special_values();
    test_errors();
    return test_done("test_softmax");
}
