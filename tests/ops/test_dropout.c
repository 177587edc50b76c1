/* tests/ops/test_dropout.c: dropout and dropout_backward: the rate of zeros within a
 * statistical bound, the 1/(1-p) scale, masks drawn from g->rng in order, evaluation as the
 * identity, p = 0 and p = 1, and dx = dy * mask. */
#include "testgraph.h"

typedef struct Built {
    Graph *g;
    int x, y, mask, dy;
    size_t n;
} Built;

static Built build(double p, int N, int D)
{
    Built b;
    b.g = graph_new();
    b.g->max_batch = b.g->batch = N;
    b.g->training = 1;
    int shape[2] = { N, D };
    b.x = tg_value(b.g, "x", VK_INPUT, DT_F32, 1, 2, shape);
    b.g->vals[b.x].requires_grad = 1;
    b.dy = tg_value(b.g, "dy", VK_INPUT, DT_F32, 1, 2, shape);
    Attrs a = { .p = p };
    int node = tg_node(b.g, OP_dropout, &b.x, 1, &a);
    b.y = tg_out(b.g, node, 0);
    b.mask = tg_out(b.g, node, 1);
    int dout[2] = { b.dy, -1 };
    tg_backward(b.g, node, dout);
    tg_bind(b.g);
    b.n = (size_t)N * D;
    Rng r;
    rng_seed(&r, 7);
    tg_fill(vf32(b.g, b.x), b.n, 0.5f, 1.5f, &r);     /* no zeros of its own */
    tg_fill(vf32(b.g, b.dy), b.n, -1, 1, &r);
    return b;
}

/* python_p is p as written in Python; the attribute holds it as a float */
static void test_training(double python_p)
{
    double p = python_p;
    Built b = build(p, 4, 25000);
    Graph *g = b.g;
    rng_seed(&g->rng, 42);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    const float *x = vf32(g, b.x), *y = vf32(g, b.y), *mask = vf32(g, b.mask);
    /* PyTorch: noise.div_(1 - p), the Python float 1 - p rounded to float */
    const float scale = 1.0f / (float)(1.0 - python_p);
    size_t zeros = 0, odd_mask = 0, bad_y = 0, bad_draw = 0, bad_dx = 0;
    Rng replay;                      /* the same stream: keep element i iff its draw >= p */
    rng_seed(&replay, 42);
    for (size_t i = 0; i < b.n; i++) {
        int keep = rng_uniform(&replay) >= p;
        zeros += y[i] == 0;
        odd_mask += mask[i] != 0 && mask[i] != scale;
        bad_y += y[i] != x[i] * mask[i];
        bad_draw += (mask[i] != 0) != keep;
        bad_dx += vf32(g, g->vals[b.x].grad)[i] != vf32(g, b.dy)[i] * mask[i];
    }
    /* zeros ~ Binomial(n, p): within 5 standard deviations */
    double mean = (double)b.n * p, sd = sqrt((double)b.n * p * (1 - p));
    CHECK(fabs((double)zeros - mean) <= 5 * sd, "p=%g: %zu zeros of %zu, expected %.0f +- %.0f", p, zeros, b.n,
          mean, 5 * sd);
    CHECK(odd_mask == 0, "p=%g: %zu mask values are neither 0 nor 1/(1-p) = %.9g", p, odd_mask, scale);
    CHECK(bad_y == 0, "p=%g: %zu elements where y != x * mask", p, bad_y);
    CHECK(bad_draw == 0, "p=%g: %zu elements not kept iff rng_uniform >= p", p, bad_draw);
    CHECK(bad_dx == 0, "p=%g: %zu elements where dx != dy * mask", p, bad_dx);

    /* the next step draws a new mask */
    float *first = malloc(b.n * sizeof *first);
    memcpy(first, mask, b.n * sizeof *first);
    tg_run(g, PHASE_FORWARD);
    CHECK(memcmp(first, mask, b.n * sizeof *first) != 0, "p=%g: a second step reuses the mask", p);
    free(first);
    graph_free(g);
}

/* sum(y * dy) through the op itself, with the mask drawn from the same seed every time */
static double op_loss(Built *b)
{
    rng_seed(&b->g->rng, 99);
    tg_run(b->g, PHASE_FORWARD);
    double sum = 0;
    for (size_t i = 0; i < b->n; i++) sum += (double)vf32(b->g, b->y)[i] * vf32(b->g, b->dy)[i];
    return sum;
}

/* The backward against central differences of the forward (a fixed seed makes the forward a
 * function of x). y = x * mask is linear: with h = 2^-6, x +- h is exact in float and each
 * product rounds by 2^-24 relative, so the differences are within ~1e-5 * scale of dy * mask. */
static void test_gradient(void)
{
    Built b = build(0.4f, 2, 40);
    Graph *g = b.g;
    op_loss(&b);
    tg_run(g, PHASE_BACKWARD);
    double *num = malloc(b.n * sizeof *num);
    const float h = 1.0f / 64;
    for (size_t i = 0; i < b.n; i++) {
        float saved = vf32(g, b.x)[i];
        vf32(g, b.x)[i] = saved + h;
        double up = op_loss(&b);
        vf32(g, b.x)[i] = saved - h;
        double down = op_loss(&b);
        vf32(g, b.x)[i] = saved;
        num[i] = (up - down) / (2.0 * h);
    }
    tg_check_array(vf32(g, g->vals[b.x].grad), num, b.n, 1e-4, 1e-4, "dropout dx vs differences");
    free(num);
    graph_free(g);
}

static void test_eval(void)
{
    Built b = build(0.5f, 3, 17);
    Graph *g = b.g;
    g->training = 0;
    for (size_t i = 0; i < b.n; i++) vf32(g, b.mask)[i] = 7;
    Rng before = g->rng;
    tg_run(g, PHASE_FORWARD);
    tg_check_equal(vf32(g, b.y), vf32(g, b.x), b.n, "eval: y = x");
    size_t touched = 0;
    for (size_t i = 0; i < b.n; i++) touched += vf32(g, b.mask)[i] != 7;
    CHECK(touched == 0, "eval: the mask is left alone (%zu changed)", touched);
    CHECK(memcmp(&before, &g->rng, sizeof before) == 0, "eval: no random draws");
    graph_free(g);
}

static void test_edges(void)
{
    Built b = build(0.0f, 2, 50);
    tg_run(b.g, PHASE_FORWARD);
    tg_check_equal(vf32(b.g, b.y), vf32(b.g, b.x), b.n, "p=0: y = x");
    size_t not_one = 0;
    for (size_t i = 0; i < b.n; i++) not_one += vf32(b.g, b.mask)[i] != 1.0f;
    CHECK(not_one == 0, "p=0: mask is all 1 (%zu not)", not_one);
    graph_free(b.g);

    b = build(1.0f, 2, 50);
    tg_run(b.g, PHASE_FORWARD | PHASE_BACKWARD);
    size_t nonzero = 0;
    for (size_t i = 0; i < b.n; i++)
        nonzero += vf32(b.g, b.y)[i] != 0 || vf32(b.g, b.mask)[i] != 0 || vf32(b.g, b.g->vals[b.x].grad)[i] != 0;
    CHECK(nonzero == 0, "p=1: y, mask and dx all zero (%zu not)", nonzero);
    graph_free(b.g);

    /* a smaller batch draws only for the rows it has */
    b = build(0.5f, 4, 10);
    graph_set_batch(b.g, 2);
    for (size_t i = 0; i < b.n; i++) vf32(b.g, b.y)[i] = -1;
    tg_run(b.g, PHASE_FORWARD);
    size_t beyond = 0;
    for (size_t i = 20; i < b.n; i++) beyond += vf32(b.g, b.y)[i] != -1;
    CHECK(beyond == 0, "batch 2 of 4: rows past the batch untouched (%zu written)", beyond);
    graph_free(b.g);
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int shape[2] = { 2, 3 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 2, shape);
    Attrs a = { .p = 1.5f };
    Error e = { "" };
    CHECK(graph_add(g, OP_dropout, &x, 1, &a, &e) < 0 && strstr(e.msg, "between 0 and 1"), "p=1.5: %s", e.msg);
    a.p = -0.1f;
    CHECK(graph_add(g, OP_dropout, &x, 1, &a, &e) < 0, "p=-0.1 accepted");
    graph_free(g);
}

int main(void)
{
    test_training(0.5);
    test_training(0.3);
    test_training(0.9);     /* 1/(1 - 0.9f) would be 9.999998, PyTorch's scale is 10 */
    test_gradient();
    test_eval();
    test_edges();
    test_errors();
    return test_done("test_dropout");
}
