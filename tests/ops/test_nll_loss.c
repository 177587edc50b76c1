/* tests/ops/test_nll_loss.c: nll_loss: the loss against a double reference, its gradient
 * against central differences, log_softmax then nll_loss equal to cross_entropy (loss and
 * gradient) through autodiff's rules, a label outside the classes, and the shape checks. */
#include "testgraph.h"

typedef struct Ref { int N, K; const int32_t *labels; double *x; } Ref;

/* -mean_i x[i][labels[i]] */
static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    double s = 0;
    for (int i = 0; i < f->N; i++) s -= f->x[(size_t)i * f->K + f->labels[i]];
    return s / f->N;
}

static void test_gradient(void)
{
    Graph *g = graph_new();
    int N = 6, K = 4, shape[2] = { N, K };
    g->max_batch = g->batch = N;
    int x = tg_value(g, "logp", VK_INPUT, DT_F32, 1, 2, shape);
    g->vals[x].requires_grad = 1;
    int lab = tg_value(g, "labels", VK_LABEL, DT_I32, 1, 1, shape);
    int in[2] = { x, lab };
    int node = tg_node(g, OP_nll_loss, in, 2, NULL);
    int loss = tg_out(g, node, 0);
    CHECK(g->vals[loss].ndim == 1 && g->vals[loss].shape[0] == 1 && !g->vals[loss].batched, "loss is one number");
    int root = loss;
    tg_backward(g, node, &root);
    tg_bind(g);
    Rng r;
    rng_seed(&r, 5);
    tg_fill(vf32(g, x), (size_t)N * K, -3, 0, &r);
    for (int i = 0; i < N; i++) vi32(g, lab)[i] = (int32_t)rng_below(&r, (uint32_t)K);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    Ref f = { N, K, vi32(g, lab), malloc((size_t)N * K * sizeof(double)) };
    tg_to_double(f.x, vf32(g, x), (size_t)N * K);
    CHECK_CLOSE(vf32(g, loss)[0], ref_loss(&f), 1e-6, 1e-6, "nll_loss forward");
    double *want = malloc((size_t)N * K * sizeof *want);
    tg_numeric_grad(want, f.x, (size_t)N * K, 1e-3, ref_loss, &f);
    tg_check_array(vf32(g, g->vals[x].grad), want, (size_t)N * K, 1e-7, 1e-6, "nll_loss dlogp vs differences");
    free(want);
    free(f.x);
    graph_free(g);
}

/* log_softmax + nll_loss is cross_entropy: the same loss, the same gradient of the logits,
 * also with the options both take (a: class weights, ignore_index, reduction='sum'), which
 * test_cross_entropy holds to their definition and to differences */
static void test_equals_cross_entropy(const Attrs *a)
{
    Graph *g = graph_new();
    int N = 5, K = 7, shape[2] = { N, K };
    g->max_batch = g->batch = N;
    int z = tg_value(g, "z", VK_INPUT, DT_F32, 1, 2, shape), z2 = tg_value(g, "z2", VK_INPUT, DT_F32, 1, 2, shape);
    g->vals[z].requires_grad = g->vals[z2].requires_grad = 1;
    int lab = tg_value(g, "labels", VK_LABEL, DT_I32, 1, 1, shape);
    int ls = tg_node(g, OP_log_softmax, &z, 1, NULL);
    int in[2] = { tg_out(g, ls, 0), lab };
    int nll = tg_node(g, OP_nll_loss, in, 2, a);
    int in2[2] = { z2, lab };
    int ce = tg_node(g, OP_cross_entropy, in2, 2, a);
    int l1 = tg_out(g, nll, 0), l2 = tg_out(g, ce, 0);
    tg_backward(g, nll, &l1);
    int dls = g->vals[tg_out(g, ls, 0)].grad;
    tg_backward(g, ls, &dls);
    tg_backward(g, ce, &l2);
    tg_bind(g);
    Rng r;
    rng_seed(&r, 8);
    tg_fill(vf32(g, z), (size_t)N * K, -5, 5, &r);
    memcpy(vf32(g, z2), vf32(g, z), (size_t)N * K * sizeof(float));
    for (int i = 0; i < N; i++) vi32(g, lab)[i] = (int32_t)rng_below(&r, (uint32_t)K);
    vi32(g, lab)[2] = 3;     /* the class test_options ignores occurs */
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    CHECK_CLOSE(vf32(g, l1)[0], vf32(g, l2)[0], 1e-6, 1e-6, "log_softmax + nll_loss = cross_entropy");
    if (a && a->ignore) CHECK(vf32(g, g->vals[z].grad)[2 * K] == 0, "the ignored row's gradient is 0");
    double *want = malloc((size_t)N * K * sizeof *want);
    tg_to_double(want, vf32(g, g->vals[z2].grad), (size_t)N * K);
    tg_check_array(vf32(g, g->vals[z].grad), want, (size_t)N * K, 1e-7, 1e-5, "their gradients agree");
    free(want);
    graph_free(g);
}

static void test_bad_label(void)
{
    float logp[6] = { -1, -2, -3, -0.5f, -1.5f, -2.5f }, d[6];
    int32_t labels[2] = { 1, 3 };
    CHECK(isnan(nll_loss_forward(logp, labels, 2, 3, NULL)), "a label outside the classes: NaN loss");
    nll_loss_backward(d, labels, 2, 3, NULL);
    CHECK(d[0] == 0 && d[1] == -0.5f && d[2] == 0 && isnan(d[3]) && isnan(d[5]), "its row NaN, the other -1/N");
}

static void test_errors(void)
{
    Graph *g = graph_new();
    int s2[2] = { 4, 3 }, s1[1] = { 5 };
    int x = tg_value(g, "x", VK_INPUT, DT_F32, 1, 2, s2), lab = tg_value(g, "l", VK_LABEL, DT_I32, 1, 1, s1);
    int in[2] = { x, lab };
    Error e = { "" };
    CHECK(graph_add(g, OP_nll_loss, in, 2, NULL, &e) < 0 && strstr(e.msg, "4 rows and 5 labels"), "%s", e.msg);
    in[1] = x;
    CHECK(graph_add(g, OP_nll_loss, in, 2, NULL, &e) < 0 && strstr(e.msg, "int32"), "%s", e.msg);
    graph_free(g);
}

int main(void)
{
    test_gradient();
    static const float w[7] = { 1.0f, 2.0f, 0.5f, 3.0f, 1.5f, 0.25f, 4.0f };
    const Attrs with_weights = { .class_weight = w };
    const Attrs ignored_sum = { .ignore = 1, .ignore_index = 3, .reduction_sum = 1 };
    const Attrs all = { .class_weight = w, .ignore = 1, .ignore_index = 3 };
    test_equals_cross_entropy(NULL);
    test_equals_cross_entropy(&with_weights);
    test_equals_cross_entropy(&ignored_sum);
    test_equals_cross_entropy(&all);
    test_bad_label();
    test_errors();
    return test_done("test_nll_loss");
}
