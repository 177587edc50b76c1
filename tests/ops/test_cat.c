/* tests/ops/test_cat.c: cat over dim 1 and slice: the copies element by element against
 * direct indexing, cat's backward (a slice of dy per input that needs one) and slice's
 * (dy in place, zeros elsewhere) against central differences, int32 values, and the shape
 * checks. */
#include "testgraph.h"

typedef struct Ref { int N, inner, nx; const int *C; double *x[CN_MAX_IN]; const double *r; } Ref;

/* sum over the cat of x_i along dim 1 times r */
static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    double sum = 0;
    int Ct = 0;
    for (int i = 0; i < f->nx; i++) Ct += f->C[i];
    for (int n = 0; n < f->N; n++) {
        int c0 = 0;
        for (int i = 0; i < f->nx; i++) {
            for (int c = 0; c < f->C[i]; c++)
                for (int k = 0; k < f->inner; k++)
                    sum += f->x[i][((size_t)n * f->C[i] + c) * f->inner + k] *
                           f->r[((size_t)n * Ct + c0 + c) * f->inner + k];
            c0 += f->C[i];
        }
    }
    return sum;
}

/* cat of nx inputs [N, C[i], H, W], input 1 without requires_grad */
static void test_cat(int nx, const int *C, uint64_t seed)
{
    Graph *g = graph_new();
    int N = 3, H = 2, W = 3, inner = H * W, Ct = 0;
    g->max_batch = g->batch = N;
    int x[CN_MAX_IN];
    for (int i = 0; i < nx; i++) {
        int shape[4] = { N, C[i], H, W };
        x[i] = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, shape);
        g->vals[x[i]].requires_grad = i != 1;
        Ct += C[i];
    }
    int shape[4] = { N, Ct, H, W };
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 4, shape);
    int node = tg_node(g, OP_cat, x, nx, NULL);
    int y = tg_out(g, node, 0);
    CHECK(g->vals[y].shape[1] == Ct && g->vals[y].shape[3] == W && g->vals[y].batched, "y is N x %d x H x W", Ct);
    tg_backward(g, node, &dy);
    CHECK(g->vals[x[1]].grad < 0 && tg_count_op(g, OP_slice) == nx - 1, "a slice per input that needs a gradient");
    tg_bind(g);
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < nx; i++) tg_fill(vf32(g, x[i]), value_numel(&g->vals[x[i]]), -1, 1, &r);
    tg_fill(vf32(g, dy), value_numel(&g->vals[dy]), -1, 1, &r);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    size_t bad = 0;
    for (int n = 0; n < N; n++) {
        int c0 = 0;
        for (int i = 0; i < nx; i++) {
            for (int c = 0; c < C[i]; c++)
                for (int k = 0; k < inner; k++)
                    bad += vf32(g, y)[((size_t)n * Ct + c0 + c) * inner + k] !=
                           vf32(g, x[i])[((size_t)n * C[i] + c) * inner + k];
            c0 += C[i];
        }
    }
    CHECK(bad == 0, "cat of %d: %zu elements misplaced", nx, bad);

    Ref f = { N, inner, nx, C, { 0 }, NULL };
    size_t ny = value_numel(&g->vals[dy]);
    double *rd = malloc(ny * sizeof *rd);
    tg_to_double(rd, vf32(g, dy), ny);
    f.r = rd;
    for (int i = 0; i < nx; i++) {
        size_t ni = value_numel(&g->vals[x[i]]);
        f.x[i] = malloc(ni * sizeof(double));
        tg_to_double(f.x[i], vf32(g, x[i]), ni);
    }
    for (int i = 0; i < nx; i++) {
        if (i == 1) continue;
        size_t ni = value_numel(&g->vals[x[i]]);
        double *want = malloc(ni * sizeof *want);
        tg_numeric_grad(want, f.x[i], ni, 1e-3, ref_loss, &f);
        char what[64];
        snprintf(what, sizeof what, "cat of %d: dx%d vs differences", nx, i);
        tg_check_array(vf32(g, g->vals[x[i]].grad), want, ni, 1e-9, 1e-9, what);
        free(want);
    }
    for (int i = 0; i < nx; i++) free(f.x[i]);
    free(rd);
    graph_free(g);
}

/* slice of an N x 6 x 2 value and its backward, and of int32 values */
static void test_slice(void)
{
    Graph *g = graph_new();
    int shape[3] = { 2, 6, 2 };
    g->max_batch = g->batch = 2;
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 3, shape);
    g->vals[x].requires_grad = 1;
    int l = tg_value(g, "l", VK_INPUT, DT_I32, 1, 3, shape);
    int dshape[3] = { 2, 3, 2 };
    int dy = tg_value(g, "dy", VK_INPUT, DT_F32, 1, 3, dshape);
    Attrs a = { 0 };
    a.start = 2;
    a.count = 3;
    int node = tg_node(g, OP_slice, &x, 1, &a);
    int li = tg_node(g, OP_slice, &l, 1, &a);
    tg_backward(g, node, &dy);
    int y = tg_out(g, node, 0), ly = tg_out(g, li, 0), dx = g->vals[x].grad;
    CHECK(g->vals[y].shape[1] == 3 && g->vals[ly].dtype == DT_I32, "slices are N x 3 x 2");
    CHECK(dx >= 0 && g->vals[dx].shape[1] == 6, "dx has x's shape");
    tg_bind(g);
    for (int i = 0; i < 24; i++) {
        vf32(g, x)[i] = (float)i;
        vi32(g, l)[i] = 100 + i;
    }
    for (int i = 0; i < 12; i++) vf32(g, dy)[i] = (float)(i + 1);
    vf32(g, dx)[0] = 99;     /* must be overwritten with 0 */
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    size_t bad = 0, badl = 0, badd = 0;
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 6; c++)
            for (int k = 0; k < 2; k++) {
                int in_slice = c >= 2 && c < 5;
                int xi = (n * 6 + c) * 2 + k, yi = (n * 3 + c - 2) * 2 + k;
                if (in_slice) {
                    bad += vf32(g, y)[yi] != (float)xi;
                    badl += vi32(g, ly)[yi] != 100 + xi;
                }
                badd += vf32(g, dx)[xi] != (in_slice ? vf32(g, dy)[yi] : 0.0f);
            }
    CHECK(bad == 0 && badl == 0 && badd == 0, "slice: %zu, int32: %zu, backward: %zu wrong", bad, badl, badd);
    graph_free(g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s1[4] = { 2, 3, 4, 4 }, s2[4] = { 2, 3, 4, 5 }, s3[2] = { 2, 3 };
    int a = tg_value(g, "a", VK_INPUT, DT_F32, 1, 4, s1), b = tg_value(g, "b", VK_INPUT, DT_F32, 1, 4, s2);
    int c = tg_value(g, "c", VK_INPUT, DT_F32, 1, 2, s3);
    Error e = { "" };
    int in[2] = { a, b };
    CHECK(graph_add(g, OP_cat, in, 2, NULL, &e) < 0 && strstr(e.msg, "2x3x4x4 and x1 is 2x3x4x5"), "%s", e.msg);
    in[1] = c;
    CHECK(graph_add(g, OP_cat, in, 2, NULL, &e) < 0 && strstr(e.msg, "differ in dim 1 alone"), "%s", e.msg);
    char want[32];
    snprintf(want, sizeof want, "2 to %d inputs", CN_MAX_IN);
    CHECK(graph_add(g, OP_cat, in, 1, NULL, &e) < 0 && strstr(e.msg, want), "%s", e.msg);
    Attrs at = { 0 };
    at.start = 2;
    at.count = 2;
    CHECK(graph_add(g, OP_slice, &a, 1, &at, &e) < 0 && strstr(e.msg, "[2, 4)"), "%s", e.msg);
    graph_free(g);
}

int main(void)
{
    int C2[2] = { 3, 2 }, C5[5] = { 1, 4, 2, 1, 3 };
    test_cat(2, C2, 1);
    test_cat(5, C5, 2);
    test_slice();
    test_errors();
    return test_done("test_cat");
}
