/* tests/ops/test_batchnorm.c: batchnorm2d, batchnorm1d and batchnorm_backward through the
 * op table against a double-precision reference: training (batch statistics) and eval
 * (running statistics) outputs, the running statistics and num_batches_tracked after 3
 * steps (momentum 0.1 and None), affine=False and track_running_stats=False, and the
 * gradients of x, weight and bias against central differences in both modes. The same for
 * the fused batchnorm2d_relu and batchnorm_relu_backward, the reference then ending in ReLU.
 * The statistics of values far from zero with a small spread, to float rounding. */
#include "testgraph.h"

#include <unistd.h>

#include "../../runtime/modelfile.h"

typedef struct Case {
    int N, C, dims[2], ndim;    /* x: N x C x dims[0..ndim-2) */
    int affine, track, momentum_none;
    int relu;                   /* batchnorm2d_relu: y = relu(batchnorm2d(x)) */
} Case;

static int length(const Case *c)
{
    int L = 1;
    for (int d = 0; d < c->ndim - 2; d++) L *= c->dims[d];
    return L;
}

/* The reference: y = (x - m) / sqrt(v + eps) * w + b with m, v the batch's (training or
 * no running stats) or rm, rv. */
typedef struct Ref {
    const Case *c;
    int training;
    double *x, *w, *b, *rm, *rv, *r, *y, eps;
} Ref;

static void ref_forward(Ref *f, double *bmean, double *bvar)
{
    const Case *c = f->c;
    int L = length(c), N = c->N, C = c->C;
    for (int ch = 0; ch < C; ch++) {
        double m = 0, v = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < L; i++) m += f->x[(n * C + ch) * L + i];
        m /= N * L;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < L; i++) v += pow(f->x[(n * C + ch) * L + i] - m, 2);
        v /= N * L;
        if (bmean) bmean[ch] = m, bvar[ch] = v;
        if (!f->training && c->track) m = f->rm[ch], v = f->rv[ch];
        for (int n = 0; n < N; n++)
            for (int i = 0; i < L; i++) {
                int o = (n * C + ch) * L + i;
                f->y[o] = (f->x[o] - m) / sqrt(v + f->eps) * (c->affine ? f->w[ch] : 1) + (c->affine ? f->b[ch] : 0);
                if (c->relu && f->y[o] < 0) f->y[o] = 0;
            }
    }
}

static double ref_loss(void *ctx)
{
    Ref *f = ctx;
    ref_forward(f, NULL, NULL);
    double s = 0;
    for (int i = 0; i < f->c->N * f->c->C * length(f->c); i++) s += f->y[i] * f->r[i];
    return s;
}

static void run_case(const Case *c, int training, Rng *rng)
{
    int N = c->N, C = c->C, L = length(c);
    size_t nx = (size_t)N * C * L;
    Graph *g = graph_new();
    int xs[4] = { N, C, c->dims[0], c->dims[1] }, cs[1] = { C }, one[1] = { 1 };
    int in[6], nin = 0;
    in[nin++] = tg_value(g, "x", VK_ACT, DT_F32, 1, c->ndim, xs);
    g->vals[in[0]].requires_grad = 1;
    int w = -1, b = -1, rm = -1, rv = -1, nbt = -1;
    if (c->affine) {
        in[nin++] = w = tg_value(g, "bn.weight", VK_PARAM, DT_F32, 0, 1, cs);
        in[nin++] = b = tg_value(g, "bn.bias", VK_PARAM, DT_F32, 0, 1, cs);
    }
    if (c->track) {
        in[nin++] = rm = tg_value(g, "bn.running_mean", VK_BUFFER, DT_F32, 0, 1, cs);
        in[nin++] = rv = tg_value(g, "bn.running_var", VK_BUFFER, DT_F32, 0, 1, cs);
        in[nin++] = nbt = tg_value(g, "bn.num_batches_tracked", VK_BUFFER, DT_I64, 0, 0, one);
    }
    Attrs a = { 0 };
    a.eps = 1e-5;
    a.momentum = 0.1;
    a.momentum_none = c->momentum_none;
    int node = tg_node(g, c->relu ? OP_batchnorm2d_relu : c->ndim == 4 ? OP_batchnorm2d : OP_batchnorm1d, in, nin, &a);
    CHECK(!c->relu || g->vals[tg_out(g, node, 0)].ndim == 4, "batchnorm2d_relu's y has x's shape");
    int y = tg_out(g, node, 0);
    int dy = tg_value(g, "dy", VK_ACT, DT_F32, 1, c->ndim, xs);
    int dout[3] = { dy, -1, -1 };
    tg_backward(g, node, dout);
    CHECK(tg_count_op(g, c->relu ? OP_batchnorm_relu_backward : OP_batchnorm_backward) == 1 &&
              tg_count_op(g, OP_relu_backward) == 0, "one %s node", c->relu ? "batchnorm_relu_backward" : "batchnorm_backward");
    CHECK(rm < 0 || (!g->vals[rm].requires_grad && g->vals[rm].grad < 0), "buffers get no gradient");
    tg_bind(g);

    double *xd = xcalloc(nx, sizeof *xd), *yd = xcalloc(nx, sizeof *yd), *rd = xcalloc(nx, sizeof *rd);
    double wd[8], bd[8], rmd[8], rvd[8], bm[8], bv[8];
    tg_fill(vf32(g, in[0]), nx, -2, 3, rng);
    tg_fill(vf32(g, dy), nx, -1, 1, rng);
    tg_to_double(rd, vf32(g, dy), nx);
    if (c->affine) {
        tg_fill(vf32(g, w), C, 0.5f, 1.5f, rng);
        tg_fill(vf32(g, b), C, -1, 1, rng);
        tg_to_double(wd, vf32(g, w), C);
        tg_to_double(bd, vf32(g, b), C);
    }
    for (int ch = 0; ch < C; ch++) rmd[ch] = 0, rvd[ch] = 1;
    if (c->track) {
        for (int ch = 0; ch < C; ch++) vf32(g, rm)[ch] = 0, vf32(g, rv)[ch] = 1;
        vi64(g, nbt)[0] = 0;
    }
    Ref f = { c, 1, xd, wd, bd, rmd, rvd, rd, yd, 1e-5 };
    char what[160];
    const char *mode = training ? "train" : "eval";
    /* three training steps on fresh inputs: the running statistics follow */
    g->training = 1;
    for (int step = 1; step <= 3; step++) {
        tg_fill(vf32(g, in[0]), nx, -2 + step, 3 + step, rng);
        tg_to_double(xd, vf32(g, in[0]), nx);
        tg_run(g, PHASE_FORWARD);
        ref_forward(&f, bm, bv);
        for (int ch = 0; ch < C; ch++) {
            double m = c->momentum_none ? 1.0 / step : 0.1;
            rmd[ch] = (1 - m) * rmd[ch] + m * bm[ch];
            rvd[ch] = (1 - m) * rvd[ch] + m * bv[ch] * N * L / (N * L - 1);
        }
        snprintf(what, sizeof what, "%s step %d y (N=%d C=%d L=%d affine=%d track=%d relu=%d)", mode, step, N, C,
                 L, c->affine, c->track, c->relu);
        tg_check_array(vf32(g, y), yd, nx, 1e-5, 1e-5, what);
    }
    if (c->track) {
        snprintf(what, sizeof what, "running_mean after 3 steps (momentum %s)", c->momentum_none ? "None" : "0.1");
        tg_check_array(vf32(g, rm), rmd, C, 1e-6, 1e-5, what);
        snprintf(what, sizeof what, "running_var after 3 steps (momentum %s)", c->momentum_none ? "None" : "0.1");
        tg_check_array(vf32(g, rv), rvd, C, 1e-6, 1e-5, what);
        CHECK(vi64(g, nbt)[0] == 3, "num_batches_tracked after 3 steps: %lld", (long long)vi64(g, nbt)[0]);
    }
    /* the mode under test: one more forward, then the backward */
    g->training = training;
    f.training = training;
    tg_fill(vf32(g, in[0]), nx, -1, 2, rng);
    tg_to_double(xd, vf32(g, in[0]), nx);
    float rm_before = c->track ? vf32(g, rm)[0] : 0;
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    if (c->track && !training) {
        CHECK(vf32(g, rm)[0] == rm_before && vi64(g, nbt)[0] == 3, "eval leaves the running statistics alone");
        for (int ch = 0; ch < C; ch++) rmd[ch] = vf32(g, rm)[ch], rvd[ch] = vf32(g, rv)[ch];
    }
    ref_forward(&f, NULL, NULL);
    snprintf(what, sizeof what, "%s y (N=%d C=%d L=%d)", mode, N, C, L);
    tg_check_array(vf32(g, y), yd, nx, 1e-5, 1e-5, what);

    double *num = xcalloc(nx, sizeof *num);
    tg_numeric_grad(num, xd, nx, 1e-4, ref_loss, &f);
    snprintf(what, sizeof what, "%s dx (N=%d C=%d L=%d affine=%d track=%d relu=%d)", mode, N, C, L, c->affine,
             c->track, c->relu);
    tg_check_array(vf32(g, g->vals[in[0]].grad), num, nx, 2e-4, 1e-3, what);
    if (c->affine) {
        double nw[8], nb[8];
        tg_numeric_grad(nw, wd, C, 1e-4, ref_loss, &f);
        tg_numeric_grad(nb, bd, C, 1e-4, ref_loss, &f);
        snprintf(what, sizeof what, "%s dweight (N=%d C=%d L=%d)", mode, N, C, L);
        tg_check_array(vf32(g, g->vals[w].grad), nw, C, 2e-4, 1e-4, what);
        snprintf(what, sizeof what, "%s dbias (N=%d C=%d L=%d)", mode, N, C, L);
        tg_check_array(vf32(g, g->vals[b].grad), nb, C, 2e-4, 1e-4, what);
    }
    free(num);
    free(xd);
    free(yd);
    free(rd);
    graph_free(g);
}

/* A graph of one batchnorm2d over C channels with its parameters and buffers */
static Graph *bn_graph(int C, DType nbt_dtype)
{
    Graph *g = graph_new();
    int xs[4] = { 2, C, 3, 3 }, cs[1] = { C }, one[1] = { 1 };
    int in[6] = { tg_value(g, "x", VK_INPUT, DT_F32, 1, 4, xs), tg_value(g, "bn.weight", VK_PARAM, DT_F32, 0, 1, cs),
                  tg_value(g, "bn.bias", VK_PARAM, DT_F32, 0, 1, cs),
                  tg_value(g, "bn.running_mean", VK_BUFFER, DT_F32, 0, 1, cs),
                  tg_value(g, "bn.running_var", VK_BUFFER, DT_F32, 0, 1, cs),
                  tg_value(g, "bn.num_batches_tracked", nbt_dtype == DT_I64 ? VK_BUFFER : VK_PARAM, nbt_dtype, 0,
                           0, one) };
    Attrs a = { 0 };
    a.eps = 1e-5;
    a.momentum = 0.1;
    if (nbt_dtype == DT_I64) tg_node(g, OP_batchnorm2d, in, 6, &a);
    tg_bind(g);
    return g;
}

/* Buffers go to model files under their state_dict keys, num_batches_tracked as I64, and
 * come back; a file whose num_batches_tracked is not int64 is refused naming it. */
static void modelfile_round_trip(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_batchnorm.%d.safetensors", (int)getpid());
    Graph *g = bn_graph(3, DT_I64);
    for (int i = 1; i <= 5; i++)
        for (size_t k = 0; k < value_numel(&g->vals[i]); k++) {
            if (g->vals[i].dtype == DT_I64) vi64(g, i)[k] = 5000000000LL + i;
            else vf32(g, i)[k] = (float)(i * 10 + k) / 7;
        }
    Error e;
    CHECK(model_save(g, path, NULL, 0, "", &e) == 0, "model_save: %s", e.msg);
    StFile f;
    CHECK(safetensors_read(&f, path, &e) == 0, "read back: %s", e.msg);
    const StEntry *t = safetensors_find(&f, "bn.num_batches_tracked");
    CHECK(t && t->dtype == ST_I64 && t->nbytes == 8, "num_batches_tracked saved as one I64");
    CHECK(safetensors_find(&f, "bn.running_var") && f.nt == 5, "5 tensors saved (weight, bias, 3 buffers): %d", f.nt);
    safetensors_free(&f);
    Graph *h = bn_graph(3, DT_I64);
    CHECK(model_load(h, path, NULL, &e) == 0, "model_load: %s", e.msg);
    for (int i = 1; i <= 5; i++)
        CHECK(memcmp(g->vals[i].data, h->vals[i].data, value_bytes(&g->vals[i])) == 0, "%s round trip",
              g->vals[i].name);
    CHECK(vi64(h, 5)[0] == 5000000005LL, "num_batches_tracked keeps 64 bits");
    /* a file with num_batches_tracked as float32 (an int64 expected) */
    Graph *bad = bn_graph(3, DT_F32);
    CHECK(model_save(bad, path, NULL, 0, "", &e) == 0, "model_save: %s", e.msg);
    CHECK(model_load(h, path, NULL, &e) < 0 && strstr(e.msg, "num_batches_tracked") && strstr(e.msg, "int64"),
          "float32 num_batches_tracked refused: %s", e.msg);
    unlink(path);
    graph_free(g);
    graph_free(h);
    graph_free(bad);
}

/* PyTorch refuses a training batch with one value per channel; so does the check */
static void one_value_per_channel(void)
{
    Graph *g = graph_new();
    int xs1[2] = { 4, 3 }, xs2[4] = { 4, 3, 2, 1 }, xs3[4] = { 4, 3, 1, 1 };
    int x1 = tg_value(g, "x1", VK_ACT, DT_F32, 1, 2, xs1), x2 = tg_value(g, "x2", VK_ACT, DT_F32, 1, 4, xs2);
    Attrs a = { 0 };
    a.eps = 1e-5;
    a.momentum = 0.1;
    g->cur_line = 12, g->cur_col = 9;
    snprintf(g->cur_label, sizeof g->cur_label, "fc.1");
    tg_node(g, OP_batchnorm1d, &x1, 1, &a);
    tg_node(g, OP_batchnorm2d, &x2, 1, &a);
    Error e;
    CHECK(batchnorm_check_batch(g, 2, "m.cnn", &e) == 0, "a batch of 2 is fine");
    CHECK(batchnorm_check_batch(g, 1, "m.cnn", &e) < 0 &&
              !strcmp(e.msg, "m.cnn:12:9: error: BatchNorm1d fc.1: a training batch of 1 sample gives it one value "
                             "per channel, which PyTorch refuses (\"Expected more than 1 value per channel when "
                             "training\"): choose a batch_size that leaves no batch of 1"),
          "a batch of 1 before BatchNorm1d over N x C: %s", e.msg);
    graph_free(g);
    g = graph_new();
    x2 = tg_value(g, "x2", VK_ACT, DT_F32, 1, 4, xs2);
    int x3 = tg_value(g, "x3", VK_ACT, DT_F32, 1, 4, xs3);
    tg_node(g, OP_batchnorm2d, &x2, 1, &a);
    CHECK(batchnorm_check_batch(g, 1, "m.cnn", &e) == 0, "a batch of 1 over 2x1 planes is fine");
    tg_node(g, OP_batchnorm2d, &x3, 1, &a);
    CHECK(batchnorm_check_batch(g, 1, "m.cnn", &e) < 0 && strstr(e.msg, "BatchNorm2d"), "1x1 planes, batch 1");
    graph_free(g);
}

/* The batch statistics of values far from zero with a small spread (1000 + c, the first
 * image 0.05 lower than the rest, noise of 0.01): the mean and the biased variance, from
 * which invstd comes, to float rounding of the double reference, whatever the order and
 * shift of the sums (a plain sum of squares in float would lose the variance entirely) */
static void offset_statistics(Rng *rng)
{
    enum { N = 5, C = 2, L = 37 };
    float *x = xcalloc((size_t)N * C * L, sizeof *x), *y = xcalloc((size_t)N * C * L, sizeof *y);
    float mean[C], invstd[C], rm[C] = { 0, 0 }, rv[C] = { 1, 1 };
    int64_t nbt = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int l = 0; l < L; l++)
                x[((size_t)n * C + c) * L + l] = 1000.0f + (float)c + (n ? 0.05f : 0.0f) + 0.01f * rng_uniform(rng);
    batchnorm_forward(y, mean, invstd, x, NULL, NULL, rm, rv, &nbt, N, C, L, 1, 1.0, 0, 1e-5);
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int n = 0; n < N; n++)
            for (int l = 0; l < L; l++) m += x[((size_t)n * C + c) * L + l];
        m /= N * L;
        for (int n = 0; n < N; n++)
            for (int l = 0; l < L; l++) v += (x[((size_t)n * C + c) * L + l] - m) * (x[((size_t)n * C + c) * L + l] - m);
        v /= N * L;
        CHECK_CLOSE(mean[c], m, 1e-4, 0, "offset channel: mean");
        CHECK_CLOSE(invstd[c], 1 / sqrt(v + 1e-5), 0, 1e-5, "offset channel: invstd");
        CHECK_CLOSE(rv[c], v * N * L / (N * L - 1), 0, 1e-5, "offset channel: running_var (momentum 1)");
    }
    free(x);
    free(y);
}

int main(void)
{
    one_value_per_channel();
    modelfile_round_trip();
    Rng rng;
    rng_seed(&rng, 13);
    const Case cases[] = {
        { 1, 3, { 4, 5 }, 4, 1, 1, 0, 0 },  /* batch 1, odd plane */
        { 4, 2, { 3, 3 }, 4, 1, 1, 0, 0 },
        { 3, 5, { 1, 7 }, 4, 1, 1, 1, 0 },  /* momentum=None */
        { 2, 3, { 3, 2 }, 4, 0, 1, 0, 0 },  /* affine=False */
        { 3, 2, { 2, 3 }, 4, 1, 0, 0, 0 },  /* track_running_stats=False */
        { 2, 2, { 2, 2 }, 4, 0, 0, 0, 0 },  /* neither */
        { 5, 3, { 0, 0 }, 2, 1, 1, 0, 0 },  /* BatchNorm1d over N x C */
        { 3, 4, { 7, 0 }, 3, 1, 1, 1, 0 },  /* BatchNorm1d over N x C x L */
        { 2, 3, { 6, 6 }, 4, 1, 1, 0, 0 },  /* planes of 36: the 16- and 8-lane loops and their tails */
        { 4, 2, { 3, 3 }, 4, 1, 1, 0, 1 },  /* batchnorm2d_relu */
        { 3, 2, { 5, 7 }, 4, 1, 1, 1, 1 },  /* batchnorm2d_relu, planes of 35, momentum=None */
        { 2, 3, { 3, 2 }, 4, 0, 1, 0, 1 },  /* batchnorm2d_relu, affine=False */
        { 3, 2, { 2, 3 }, 4, 1, 0, 0, 1 },  /* batchnorm2d_relu, track_running_stats=False */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i], 1, &rng);
        run_case(&cases[i], 0, &rng);
    }
    offset_statistics(&rng);

    /* the shape rule refuses what PyTorch refuses */
    Graph *g = graph_new();
    int xs[4] = { 2, 3, 4, 4 }, four[1] = { 4 };
    int x = tg_value(g, "x", VK_ACT, DT_F32, 1, 4, xs), w = tg_value(g, "w", VK_PARAM, DT_F32, 0, 1, four);
    Attrs a = { 0 };
    a.eps = 1e-5;
    a.momentum = 0.1;
    Error e;
    int in[3] = { x, w, w };
    CHECK(graph_add(g, OP_batchnorm2d, in, 3, &a, &e) < 0 && strstr(e.msg, "weight"), "a weight of 4 for 3 channels");
    CHECK(graph_add(g, OP_batchnorm1d, in, 1, &a, &e) < 0 && strstr(e.msg, "N x C"), "batchnorm1d over 4 dims");
    CHECK(graph_add(g, OP_batchnorm2d, in, 2, &a, &e) < 0, "2 inputs");
    CHECK(graph_add(g, OP_batchnorm2d_relu, in, 3, &a, &e) < 0 && strstr(e.msg, "batchnorm2d_relu"),
          "batchnorm2d_relu: a weight of 4 for 3 channels");
    int c3[1] = { 3 }, xs2[4] = { 2, 3, 4, 3 };
    int st = tg_value(g, "s", VK_ACT, DT_F32, 0, 1, c3), y2 = tg_value(g, "y2", VK_ACT, DT_F32, 1, 4, xs2);
    int bin[5] = { x, y2, x, st, st };
    CHECK(graph_add(g, OP_batchnorm_relu_backward, bin, 5, &a, &e) < 0 && strstr(e.msg, "y"),
          "batchnorm_relu_backward: y of another shape than dy");
    bin[1] = x;
    CHECK(graph_add(g, OP_batchnorm_relu_backward, bin, 5, &a, &e) >= 0, "batchnorm_relu_backward(dy, y, x, mean, invstd)");
    graph_free(g);
    return test_done("test_batchnorm");
}
