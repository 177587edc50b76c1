/* tests/ops/test_maxpool2d.c: maxpool2d and maxpool2d_backward against a direct-loop
 * reference (values and argmax), PyTorch's tie and NaN rules, -inf padding, and the
 * gradient against central differences over inputs with distinct values. */
#include "testgraph.h"

#include "../../runtime/parallel.h"

typedef struct Case {
    int N, C, H, W, k, s, p;
} Case;

typedef struct Ref {
    const Case *c;
    int Ho, Wo;
    double *x, *r, *y;
    int *argmax;
} Ref;

/* The direct rule: the max over the window's elements inside x, scanned row by row, a new
 * max when v > max or v is NaN, starting at -inf on the window's first element inside x. */
static void pool_ref(Ref *f)
{
    const Case *c = f->c;
    for (int plane = 0; plane < c->N * c->C; plane++)
        for (int oh = 0; oh < f->Ho; oh++)
            for (int ow = 0; ow < f->Wo; ow++) {
                double max = -INFINITY;
                int at = -1;
                for (int i = 0; i < c->k; i++)
                    for (int j = 0; j < c->k; j++) {
                        int ih = oh * c->s - c->p + i, iw = ow * c->s - c->p + j;
                        if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                        double v = f->x[(plane * c->H + ih) * c->W + iw];
                        if (at < 0) at = ih * c->W + iw;
                        if (v > max || isnan(v)) {
                            max = v;
                            at = ih * c->W + iw;
                        }
                    }
                f->y[(plane * f->Ho + oh) * f->Wo + ow] = max;
                f->argmax[(plane * f->Ho + oh) * f->Wo + ow] = at;
            }
}

static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    pool_ref(f);
    double sum = 0;
    for (int i = 0; i < f->c->N * f->c->C * f->Ho * f->Wo; i++) sum += f->y[i] * f->r[i];
    return sum;
}

typedef struct Built {
    Graph *g;
    int x, y, argmax, dy, Ho, Wo;
} Built;

static Built build(const Case *c)
{
    Built b;
    b.g = graph_new();
    b.g->max_batch = b.g->batch = c->N;
    b.Ho = window_out_size(c->H, c->k, c->s, c->p);
    b.Wo = window_out_size(c->W, c->k, c->s, c->p);
    int xs[4] = { c->N, c->C, c->H, c->W }, ys[4] = { c->N, c->C, b.Ho, b.Wo };
    b.x = tg_value(b.g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    b.g->vals[b.x].requires_grad = 1;
    b.dy = tg_value(b.g, "dy", VK_INPUT, DT_F32, 1, 4, ys);
    Attrs a = { .kernel = c->k, .stride = c->s, .padding = c->p };
    int node = tg_node(b.g, OP_maxpool2d, &b.x, 1, &a);
    b.y = tg_out(b.g, node, 0);
    b.argmax = tg_out(b.g, node, 1);
    int dout[2] = { b.dy, -1 };
    tg_backward(b.g, node, dout);
    tg_bind(b.g);
    return b;
}

/* Values against the reference; with distinct inputs also the gradient. */
static void check_case(const Case *c, Built *b, int distinct, const char *name)
{
    Graph *g = b->g;
    size_t nx = (size_t)c->N * c->C * c->H * c->W, ny = (size_t)c->N * c->C * b->Ho * b->Wo;
    Ref f = { c, b->Ho, b->Wo, malloc(nx * sizeof(double)), malloc(ny * sizeof(double)),
              malloc(ny * sizeof(double)), malloc(ny * sizeof(int)) };
    tg_to_double(f.x, vf32(g, b->x), nx);
    tg_to_double(f.r, vf32(g, b->dy), ny);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    pool_ref(&f);
    char what[128];
    snprintf(what, sizeof what, "%s: y", name);
    tg_check_array(vf32(g, b->y), f.y, ny, 0, 0, what);
    size_t bad = 0;
    for (size_t i = 0; i < ny; i++) bad += vi32(g, b->argmax)[i] != f.argmax[i];
    CHECK(bad == 0, "%s: %zu argmax entries differ", name, bad);
    CHECK(g->vals[b->argmax].dtype == DT_I32 && g->vals[b->argmax].batched, "%s: argmax is batched int32", name);

    double *want = malloc(nx * sizeof *want);
    if (distinct) {
        tg_numeric_grad(want, f.x, nx, 1e-3, ref_loss, &f);
        /* dx sums at most k*k float values of dy: rounding ~1e-7 */
        snprintf(what, sizeof what, "%s: dx vs differences", name);
        tg_check_array(vf32(g, g->vals[b->x].grad), want, nx, 1e-5, 1e-5, what);
    }
    /* the scatter-add itself, against the reference's argmax */
    memset(want, 0, nx * sizeof *want);
    for (size_t i = 0; i < ny; i++) {
        size_t plane = i / ((size_t)b->Ho * b->Wo);
        want[plane * c->H * c->W + (size_t)f.argmax[i]] += f.r[i];
    }
    snprintf(what, sizeof what, "%s: dx scatter-add", name);
    tg_check_array(vf32(g, g->vals[b->x].grad), want, nx, 1e-6, 1e-6, what);
    free(want);
    free(f.x);
    free(f.r);
    free(f.y);
    free(f.argmax);
}

static void test_case(const Case *c, uint64_t seed)
{
    char name[96];
    snprintf(name, sizeof name, "N%d C%d %dx%d k%d s%d p%d", c->N, c->C, c->H, c->W, c->k, c->s, c->p);
    Built b = build(c);
    Rng r;
    rng_seed(&r, seed);
    /* distinct values 0.01 apart (a shuffled ramp), so steps of 1e-3 never change an argmax */
    int nx = c->N * c->C * c->H * c->W;
    int *perm = malloc((size_t)nx * sizeof *perm);
    for (int i = 0; i < nx; i++) perm[i] = i;
    rng_shuffle(&r, perm, nx);
    for (int i = 0; i < nx; i++) vf32(b.g, b.x)[i] = 0.01f * (float)(perm[i] - nx / 2);
    tg_fill(vf32(b.g, b.dy), value_numel(&b.g->vals[b.dy]), -1, 1, &r);
    tg_fill(vf32(b.g, b.g->vals[b.x].grad), (size_t)nx, 100, 200, &r);   /* stale: must be zeroed */
    check_case(c, &b, 1, name);

    /* ties everywhere: a few levels only */
    for (int i = 0; i < nx; i++) vf32(b.g, b.x)[i] = (float)(perm[i] % 3);
    snprintf(name + strlen(name), sizeof name - strlen(name), " ties");
    check_case(c, &b, 0, name);
    free(perm);
    graph_free(b.g);
}

/* Hand-made windows for the rules PyTorch follows. */
static void test_rules(void)
{
    /* one 4x4 plane, 2x2 windows, stride 2: four windows */
    Case c = { 1, 1, 4, 4, 2, 2, 0 };
    Built b = build(&c);
    const float x[16] = {
        5, 5, /**/ 1, 3,
        5, 5, /**/ 3, 2,
        NAN, 1, /**/ -INFINITY, -INFINITY,
        2, NAN, /**/ -INFINITY, -INFINITY,
    };
    memcpy(vf32(b.g, b.x), x, sizeof x);
    tg_run(b.g, PHASE_FORWARD);
    const float *y = vf32(b.g, b.y);
    const int32_t *am = vi32(b.g, b.argmax);
    CHECK(y[0] == 5 && am[0] == 0, "all equal: the first wins (got %g at %d)", y[0], am[0]);
    CHECK(y[1] == 3 && am[1] == 3, "tie 3/3: the first in row order wins (got %g at %d)", y[1], am[1]);
    CHECK(isnan(y[2]) && am[2] == 13, "NaN wins, and a later NaN replaces it (got %g at %d)", y[2], am[2]);
    CHECK(y[3] == -INFINITY && am[3] == 10, "all -inf: the first element (got %g at %d)", y[3], am[3]);
    graph_free(b.g);

    /* padding acts as -inf: negative inputs, 3x3 windows with padding 1 */
    Case cp = { 1, 1, 3, 4, 3, 2, 1 };
    b = build(&cp);
    for (int i = 0; i < 12; i++) vf32(b.g, b.x)[i] = -10.0f + (float)((i * 7) % 12) * 0.5f;
    vf32(b.g, b.x)[0] = -1.0f;     /* the corner window holds x[0], x[1], x[4], x[5] */
    tg_run(b.g, PHASE_FORWARD);
    CHECK(vf32(b.g, b.y)[0] == -1.0f && vi32(b.g, b.argmax)[0] == 0,
          "a padded corner takes the real max, not 0 (got %g at %d)", vf32(b.g, b.y)[0], vi32(b.g, b.argmax)[0]);
    for (int i = 0; i < b.Ho * b.Wo; i++)
        CHECK(vf32(b.g, b.y)[i] < 0, "window %d: padding never wins (got %g)", i, vf32(b.g, b.y)[i]);
    graph_free(b.g);

    /* overlapping windows that share a max: its gradient is the sum */
    Case co = { 1, 1, 3, 3, 3, 1, 1 };
    b = build(&co);
    for (int i = 0; i < 9; i++) vf32(b.g, b.x)[i] = 0;
    vf32(b.g, b.x)[4] = 1;        /* the centre is the max of all nine windows */
    for (int i = 0; i < 9; i++) vf32(b.g, b.dy)[i] = (float)(i + 1);
    tg_run(b.g, PHASE_FORWARD | PHASE_BACKWARD);
    const float *dx = vf32(b.g, b.g->vals[b.x].grad);
    CHECK(dx[4] == 45 && dx[0] == 0 && dx[8] == 0, "scatter-add: dx[4] = %g (want 45)", dx[4]);
    graph_free(b.g);
}

/* The fused kernels' form of 3 x 3 stride-2 pooling on the input x of f's case: with ReLU
 * (maxpool2d_plane's relu), against the scan over relu(x) (NaN kept), values and argmax
 * exact; and in bands of 2 output rows (maxpool2d_rows, each band given only the rows from
 * its windows' first on), the same as the whole plane's */
static void check_relu_rows(const Case *c, Ref *f, const float *x)
{
    size_t nx = (size_t)c->N * c->C * c->H * c->W, plane = (size_t)f->Ho * f->Wo, ny = (size_t)c->N * c->C * plane;
    for (size_t i = 0; i < nx; i++) f->x[i] = x[i] < 0 ? 0.0 : x[i];
    pool_ref(f);
    float *y = malloc(ny * sizeof *y), *yb = malloc(ny * sizeof *yb);
    int32_t *a = malloc(ny * sizeof *a), *ab = malloc(ny * sizeof *ab);
    for (int p = 0; p < c->N * c->C; p++) {
        const float *xp = x + (size_t)p * c->H * c->W;
        maxpool2d_plane(y + p * plane, a + p * plane, xp, c->H, c->W, c->W, 3, 2, c->p, 1);
        for (int oh0 = 0; oh0 < f->Ho; oh0 += 2) {
            int row0 = 2 * oh0 - c->p < 0 ? 0 : 2 * oh0 - c->p, oh1 = oh0 + 2 < f->Ho ? oh0 + 2 : f->Ho;
            maxpool2d_rows(yb + p * plane, ab + p * plane, xp + (size_t)row0 * c->W, row0, c->H, c->W, c->W, 3, 2,
                           c->p, 1, oh0, oh1);
        }
    }
    size_t bad = 0, banded = 0;
    for (size_t i = 0; i < ny; i++) {
        bad += (isnan(f->y[i]) ? !isnan(y[i]) : (double)y[i] != f->y[i]) || a[i] != f->argmax[i];
        banded += memcmp(&y[i], &yb[i], sizeof *y) != 0 || a[i] != ab[i];
    }
    CHECK(bad == 0, "ReLU'd k3 p%d %dx%d: %zu of %zu windows differ from the scan", c->p, c->H, c->W, bad, ny);
    CHECK(banded == 0, "k3 p%d %dx%d in bands of rows: %zu of %zu windows differ", c->p, c->H, c->W, banded, ny);
    free(y), free(yb), free(a), free(ab);
}

/* 2 x 2 windows and 3 x 3 windows of stride 2 over wide rows (several vector steps, the last
 * overlapping) with NaNs, -inf and ties sprinkled in: values (NaN where the reference has
 * NaN) and argmax exact */
static void test_nan_vector(void)
{
    static const Case cases[] = { { 2, 3, 12, 41, 2, 2, 0 }, { 1, 2, 7, 14, 2, 2, 0 }, { 1, 1, 2, 34, 2, 2, 0 },
                                  { 2, 3, 12, 41, 3, 2, 1 }, { 1, 2, 7, 36, 3, 2, 0 }, { 1, 1, 2, 34, 3, 2, 1 } };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const Case *c = &cases[k];
        Built b = build(c);
        Rng r;
        rng_seed(&r, 700 + k);
        size_t nx = (size_t)c->N * c->C * c->H * c->W, ny = (size_t)c->N * c->C * b.Ho * b.Wo;
        float *x = vf32(b.g, b.x);
        for (size_t i = 0; i < nx; i++) {
            double u = rng_uniform(&r);
            x[i] = u < 0.1 ? NAN : u < 0.15 ? -INFINITY : u < 0.4 ? 1.0f : (float)(u * 4 - 2);
        }
        Ref f = { c, b.Ho, b.Wo, malloc(nx * sizeof(double)), NULL, malloc(ny * sizeof(double)),
                  malloc(ny * sizeof(int)) };
        tg_to_double(f.x, x, nx);
        pool_ref(&f);
        tg_run(b.g, PHASE_FORWARD);
        size_t bad = 0;
        for (size_t i = 0; i < ny; i++) {
            float y = vf32(b.g, b.y)[i];
            bad += (isnan(f.y[i]) ? !isnan(y) : (double)y != f.y[i]) || vi32(b.g, b.argmax)[i] != f.argmax[i];
        }
        CHECK(bad == 0, "NaN k%d p%d %dx%d: %zu of %zu windows differ from the scan", c->k, c->p, c->H, c->W, bad,
              ny);
        if (c->k == 3) check_relu_rows(c, &f, x);
        free(f.x);
        free(f.y);
        free(f.argmax);
        graph_free(b.g);
    }
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int xs[4] = { 1, 2, 5, 5 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs);
    Error e = { "" };
    Attrs a = { .kernel = 2, .stride = 2, .padding = 2 };
    CHECK(graph_add(g, OP_maxpool2d, &x, 1, &a, &e) < 0 && strstr(e.msg, "at most half"), "padding: %s", e.msg);
    Attrs big = { .kernel = 6, .stride = 1 };
    CHECK(graph_add(g, OP_maxpool2d, &x, 1, &big, &e) < 0 && strstr(e.msg, "does not fit"), "too big: %s", e.msg);
    graph_free(g);
}

int main(void)
{
    static const Case cases[] = {
        { 2, 3, 6, 6, 2, 2, 0 },      /* the usual MaxPool2d(2) */
        { 1, 2, 7, 5, 3, 2, 1 },      /* padding, non-square, odd */
        { 2, 1, 5, 5, 3, 1, 1 },      /* overlapping windows: scatter-add */
        { 1, 1, 7, 7, 2, 2, 0 },      /* floor drops the last row and column */
        { 3, 2, 4, 6, 1, 1, 0 },      /* 1x1: the identity */
        { 1, 1, 5, 4, 3, 3, 1 },      /* stride 3 with padding */
        { 2, 3, 10, 37, 2, 2, 0 },    /* 2x2 over 18 windows a row: vector steps, the last overlapping */
        { 3, 2, 9, 14, 2, 2, 0 },     /* 2x2, 7 windows a row: one vector step, odd height */
        /* 3x3 stride 2 (ResNet's stem MaxPool2d(3, 2, 1)): the windows inside a row 8 at a time */
        { 1, 2, 8, 112, 3, 2, 1 },    /* the stem's width: 56 windows, the first over the padding */
        { 2, 2, 7, 41, 3, 2, 1 },     /* odd width: 20 windows, the last step overlapping */
        { 1, 3, 6, 18, 3, 2, 1 },     /* 9 windows, 8 inside: one vector step */
        { 1, 1, 5, 19, 3, 2, 1 },     /* the last window over the right padding */
        { 1, 2, 9, 17, 3, 2, 1 },     /* 7 windows inside a row: all scalar */
        { 2, 1, 9, 38, 3, 2, 0 },     /* no padding: every window inside, the last column unread */
    };
    /* the plain cases on one thread and on two (planes split across the threads) */
    for (int threads = 1; threads <= 2; threads++) {
        par_set_threads(threads);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 300 + i);
    }
    test_rules();
    test_nan_vector();
    test_errors();
    return test_done("test_maxpool2d");
}
