/* tests/ops/test_linear.c: linear and its backward ops against a direct-loop double
 * reference and central differences of it, for batches on the small-batch kernels and on
 * sgemm; and the kernels alone on the notebook's 20000 x 128 layer against double sums. */
#include "testgraph.h"

typedef struct Case {
    int N, in, out, bias;
} Case;

/* Tolerances: float32 dot products of up to 64 values in [-1, 1) round to well under 1e-4
 * (about 1e-6 in practice); an indexing mistake is off by O(0.1). The loss sum(y * r) is
 * linear in each variable, so central differences of the double reference are exact up to
 * rounding. */
#define ATOL 1e-4
#define RTOL 1e-4

typedef struct Ref {
    const Case *c;
    int N;
    double *x, *w, *b, *r, *y;
} Ref;

/* y[n][o] = b[o] + sum over i of x[n][i] * w[o][i] */
static void linear_ref(Ref *f)
{
    const Case *c = f->c;
    for (int n = 0; n < f->N; n++)
        for (int o = 0; o < c->out; o++) {
            double sum = c->bias ? f->b[o] : 0;
            for (int i = 0; i < c->in; i++) sum += f->x[n * c->in + i] * f->w[o * c->in + i];
            f->y[n * c->out + o] = sum;
        }
}

static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    linear_ref(f);
    double sum = 0;
    for (int i = 0; i < f->N * f->c->out; i++) sum += f->y[i] * f->r[i];
    return sum;
}

static double *dup_double(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    tg_to_double(d, a, n);
    return d;
}

static void check_against_ref(Graph *g, const Case *c, int N, int x, int w, int b, int y, int dy, const char *name)
{
    size_t nx = (size_t)N * c->in, nw = (size_t)c->out * c->in, ny = (size_t)N * c->out;
    Ref f = { c, N, dup_double(vf32(g, x), nx), dup_double(vf32(g, w), nw),
              c->bias ? dup_double(vf32(g, b), c->out) : NULL, dup_double(vf32(g, dy), ny),
              malloc(ny * sizeof(double)) };
    char what[128];
    tg_run(g, PHASE_FORWARD);
    linear_ref(&f);
    snprintf(what, sizeof what, "%s N=%d: y", name, N);
    tg_check_array(vf32(g, y), f.y, ny, ATOL, RTOL, what);

    tg_run(g, PHASE_BACKWARD);
    double *num = malloc((nx > nw ? nx : nw) * sizeof *num);
    tg_numeric_grad(num, f.x, nx, 1e-3, ref_loss, &f);
    snprintf(what, sizeof what, "%s N=%d: dx", name, N);
    tg_check_array(vf32(g, g->vals[x].grad), num, nx, ATOL, RTOL, what);
    tg_numeric_grad(num, f.w, nw, 1e-3, ref_loss, &f);
    snprintf(what, sizeof what, "%s N=%d: dw", name, N);
    tg_check_array(vf32(g, g->vals[w].grad), num, nw, ATOL, RTOL, what);
    if (c->bias) {
        tg_numeric_grad(num, f.b, (size_t)c->out, 1e-3, ref_loss, &f);
        snprintf(what, sizeof what, "%s N=%d: db", name, N);
        tg_check_array(vf32(g, g->vals[b].grad), num, (size_t)c->out, ATOL, RTOL, what);
    }
    free(num);
    free(f.x);
    free(f.w);
    free(f.b);
    free(f.r);
    free(f.y);
}

static void test_case(const Case *c, uint64_t seed)
{
    char name[64];
    snprintf(name, sizeof name, "N%d in%d out%d%s", c->N, c->in, c->out, c->bias ? " bias" : "");
    Graph *g = graph_new();
    g->max_batch = g->batch = c->N;
    int xs[2] = { c->N, c->in }, ws[2] = { c->out, c->in }, ys[2] = { c->N, c->out };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 2, xs);
    g->vals[x].requires_grad = 1;
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 2, ws);
    int b = c->bias ? tg_value(g, "b", VK_PARAM, DT_F32, 0, 1, &c->out) : -1;
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 2, ys);
    int in[3] = { x, w, b };
    int node = tg_node(g, OP_linear, in, c->bias ? 3 : 2, NULL);
    int y = tg_out(g, node, 0);
    CHECK(g->vals[y].ndim == 2 && g->vals[y].shape[0] == c->N && g->vals[y].shape[1] == c->out &&
          g->vals[y].batched, "%s: y shape", name);
    tg_backward(g, node, &dy);
    CHECK(tg_count_op(g, OP_linear_backward_input) == 1 && tg_count_op(g, OP_linear_backward_weight) == 1,
          "%s: backward nodes", name);
    CHECK(g->nodes[g->nnodes - 1].nout == (c->bias ? 2 : 1), "%s: db only with a bias", name);
    tg_bind(g);

    Rng r;
    rng_seed(&r, seed);
    tg_fill(vf32(g, x), value_numel(&g->vals[x]), -1, 1, &r);
    tg_fill(vf32(g, w), value_numel(&g->vals[w]), -1, 1, &r);
    if (c->bias) tg_fill(vf32(g, b), (size_t)c->out, -1, 1, &r);
    tg_fill(vf32(g, dy), value_numel(&g->vals[dy]), -1, 1, &r);
    for (int v = 0; v < g->nvals; v++)      /* stale gradients must be overwritten */
        if (g->vals[v].producer >= 0 && g->nodes[g->vals[v].producer].phase == PHASE_BACKWARD)
            tg_fill(vf32(g, v), value_numel(&g->vals[v]), 100, 200, &r);

    check_against_ref(g, c, c->N, x, w, b, y, dy, name);
    if (c->N > 1) {
        graph_set_batch(g, c->N - 1);
        check_against_ref(g, c, c->N - 1, x, w, b, y, dy, name);
    }
    graph_free(g);
}

static void test_requires_grad(void)
{
    Graph *g = graph_new();
    int xs[2] = { 2, 4 }, ws[2] = { 3, 4 }, ys[2] = { 2, 3 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 2, xs);
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 2, ws);
    int in[2] = { x, w };
    int node = tg_node(g, OP_linear, in, 2, NULL);
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 2, ys);
    tg_backward(g, node, &dy);
    CHECK(tg_count_op(g, OP_linear_backward_input) == 0, "no dx for an input that does not require it");
    CHECK(g->vals[w].grad >= 0 && g->vals[x].grad < 0, "only w gets a gradient");
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int xs[2] = { 2, 20000 }, ws[2] = { 128, 18432 }, four[4] = { 2, 3, 4, 4 }, nb = 64;
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 2, xs);
    int w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 2, ws);
    int b = tg_value(g, "b", VK_PARAM, DT_F32, 0, 1, &nb);
    int x4 = tg_value(g, "x4", VK_INPUT, DT_F32, 1, 4, four);
    Error e = { "" };
    int in[3] = { x, w, b };
    CHECK(graph_add(g, OP_linear, in, 2, NULL, &e) < 0 && strstr(e.msg, "18432 input features") &&
          strstr(e.msg, "20000"), "feature mismatch: %s", e.msg);
    int xs2[2] = { 2, 18432 };
    in[0] = tg_value(g, "x2", VK_INPUT, DT_F32, 1, 2, xs2);
    CHECK(graph_add(g, OP_linear, in, 3, NULL, &e) < 0 && strstr(e.msg, "64 elements"), "bias mismatch: %s", e.msg);
    in[0] = x4;
    CHECK(graph_add(g, OP_linear, in, 2, NULL, &e) < 0 && strstr(e.msg, "2 dims"), "4-d input: %s", e.msg);
    graph_free(g);
}

/* The kernels alone on shapes too large for central differences (split across threads):
 * against the double-precision products dy w and dy^T x. */
static void test_large(int N, int in, int out, uint64_t seed)
{
    size_t nx = (size_t)N * in, nw = (size_t)out * in, ny = (size_t)N * out;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)out * 4), *y = malloc(ny * 4);
    float *dy = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc((size_t)out * 4);
    double *ry = malloc(ny * 8), *rdx = calloc(nx, 8), *rdw = calloc(nw, 8), *rdb = calloc((size_t)out, 8);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(b, (size_t)out, -1, 1, &r);
    tg_fill(dy, ny, -1, 1, &r);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < out; o++) {
            double s = b[o], d = dy[(size_t)n * out + o];
            for (int i = 0; i < in; i++) {
                s += (double)x[(size_t)n * in + i] * w[(size_t)o * in + i];
                rdx[(size_t)n * in + i] += d * w[(size_t)o * in + i];
                rdw[(size_t)o * in + i] += d * x[(size_t)n * in + i];
            }
            ry[(size_t)n * out + o] = s;
            rdb[o] += d;
        }
    linear_forward(y, x, w, b, N, in, out);
    linear_backward_input(dx, dy, w, N, in, out);
    linear_backward_weight(dw, db, dy, x, N, in, out);
    char what[96];
    double tol = 1e-6 * in;      /* float sums of `in` products of values in [-1, 1) */
    snprintf(what, sizeof what, "N%d in%d out%d: y", N, in, out);
    tg_check_array(y, ry, ny, tol, 1e-5, what);
    snprintf(what, sizeof what, "N%d in%d out%d: dx", N, in, out);
    tg_check_array(dx, rdx, nx, 1e-6 * out, 1e-5, what);
    snprintf(what, sizeof what, "N%d in%d out%d: dw", N, in, out);
    tg_check_array(dw, rdw, nw, 1e-6 * N, 1e-5, what);
    snprintf(what, sizeof what, "N%d in%d out%d: db", N, in, out);
    tg_check_array(db, rdb, (size_t)out, 1e-6 * N, 1e-5, what);
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
    free(ry), free(rdx), free(rdw), free(rdb);
}

int main(void)
{
    static const Case cases[] = {
        { 1, 5, 3, 1 }, { 3, 7, 4, 1 }, { 4, 6, 2, 0 }, { 2, 1, 1, 1 }, { 5, 64, 10, 1 },
        { 6, 1100, 7, 1 },      /* two column chunks, a vector tail, partial row and output blocks */
        { 16, 150, 9, 1 },      /* the largest batch of the small kernels */
        { 17, 40, 5, 1 },       /* sgemm, then (N-1 = 16) the small kernels */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 200 + i);
    test_large(3, 20000, 128, 300);
    test_large(13, 3000, 37, 301);
    test_requires_grad();
    test_errors();
    return test_done("test_linear");
}
