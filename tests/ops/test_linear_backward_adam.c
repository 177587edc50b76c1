/* tests/ops/test_linear_backward_adam.c: the fused Linear backward + Adam kernel against
 * linear_backward_input, linear_backward_weight and adam_update run one after the other on
 * copies of the same weight and moments: dx, db, the updated weight and both moments equal
 * bit for bit, for the small-batch chunked path (column and output tails, the notebook's
 * 20000 x 128 layer) and the sgemm path, with and without weight decay. */
#include "testgraph.h"

typedef struct Case {
    int N, in, out;
    double weight_decay;
    int64_t step;
} Case;

static float *copy(const float *a, size_t n)
{
    float *c = malloc(n * sizeof *c);
    memcpy(c, a, n * sizeof *c);
    return c;
}

static void test_case(const Case *c, uint64_t seed)
{
    size_t nx = (size_t)c->N * c->in, nw = (size_t)c->out * c->in, ny = (size_t)c->N * c->out;
    float *x = malloc(nx * 4), *dy = malloc(ny * 4), *w = malloc(nw * 4), *m = malloc(nw * 4), *v = malloc(nw * 4);
    Rng r;
    rng_seed(&r, seed);
    tg_fill(x, nx, -1, 1, &r);
    tg_fill(dy, ny, -1, 1, &r);
    tg_fill(w, nw, -1, 1, &r);
    tg_fill(m, nw, -0.01f, 0.01f, &r);
    tg_fill(v, nw, 0, 0.001f, &r);
    float *w2 = copy(w, nw), *m2 = copy(m, nw), *v2 = copy(v, nw);
    float *dx = malloc(nx * 4), *dx2 = malloc(nx * 4), *db = malloc((size_t)c->out * 4), *db2 = malloc((size_t)c->out * 4);
    float *dw = malloc(nw * 4);
    AdamHyper h = { 0.001, 0.9, 0.999, 1e-8, c->weight_decay };

    linear_backward_input(dx, dy, w, c->N, c->in, c->out);
    linear_backward_weight(dw, db, dy, x, c->N, c->in, c->out);
    adam_update(w, dw, m, v, nw, &h, c->step);
    linear_backward_adam(dx2, db2, dy, x, w2, m2, v2, c->N, c->in, c->out, &h, c->step);

    char what[128];
    const char *names[5] = { "dx", "db", "weight", "exp_avg", "exp_avg_sq" };
    const float *got[5] = { dx2, db2, w2, m2, v2 }, *want[5] = { dx, db, w, m, v };
    size_t n[5] = { nx, (size_t)c->out, nw, nw, nw };
    for (int i = 0; i < 5; i++) {
        snprintf(what, sizeof what, "N%d in%d out%d wd=%g step %lld: %s", c->N, c->in, c->out, c->weight_decay,
                 (long long)c->step, names[i]);
        tg_check_equal(got[i], want[i], n[i], what);
    }
    free(x), free(dy), free(w), free(m), free(v), free(w2), free(m2), free(v2);
    free(dx), free(dx2), free(db), free(db2), free(dw);
}

int main(void)
{
    static const Case cases[] = {
        { 10, 20000, 128, 0, 1 },      /* the notebook's fc_layers.1 */
        { 3, 300, 7, 0.01, 5 },        /* a column tail, a partial output block, weight decay */
        { 16, 600, 9, 0, 2 },          /* the largest small batch, three chunks */
        { 1, 17, 1, 0, 3 },            /* one row, one output, less than a vector */
        { 20, 70, 6, 0.1, 1 },         /* above the small batches: the three kernels in turn */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i], 400 + i);
    return test_done("test_linear_backward_adam");
}
