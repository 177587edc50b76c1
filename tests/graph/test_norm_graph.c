/* tests/graph/test_norm_graph.c: issue 13's layers wired into the graph, built through the
 * graph API:
 *
 *   c = conv2d(x, Wc, bc; 3x2 kernel, padding 1x0, groups 2);  b = batchnorm2d(c, gamma,
 *   beta, running_mean, running_var, num_batches_tracked);  p = avgpool2d(b, 2);
 *   z = linear(flatten(p), Wl, bl);  loss = cross_entropy(z, labels)
 *
 * autodiff (compiler/passes/autodiff.c) walks the op table's backward rules; the plan
 * (compiler/passes/plan.c) keeps the buffers persistent beside the parameters; the executor runs
 * it. Every entry of every gradient (Wc, bc, gamma, beta, Wl, bl, x) is checked against
 * central differences of the same network in double (BatchNorm with batch statistics), the
 * running statistics and num_batches_tracked after two steps against the double ones, and
 * an eval-mode forward against the network normalised with those running statistics.
 * Then compiler/passes/fuse.c's fold_batchnorm on an inference graph conv2d -> batchnorm2d ->
 * relu -> maxpool2d (with and without the conv's bias, and BatchNorm without affine):
 * one batchnorm_fold and one fused conv2d_relu_maxpool2d left, the same outputs as the
 * unfolded graph within 1e-5; the fold cached between runs (runtime/exec.c), and done again
 * after the parameters change by hand, by a model file loaded or by an update phase. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/passes/autodiff.h"
#include "compiler/passes/fuse.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/modelfile.h"
#include "runtime/ops.h"
#include "tests/test.h"

#define N 3
#define C 2
#define H 6
#define W 5
#define O 4
#define KH 3
#define KW 2
#define HO 6 /* H + 2 - 3 + 1 */
#define WO 4 /* W - 2 + 1 */
#define HP 3
#define WP 2
#define F (O * HP * WP)
#define K 3

typedef struct Net {
    double Wc[O * (C / 2) * KH * KW], bc[O], gamma[O], beta[O], Wl[K * F], bl[K], x[N * C * H * W];
    double rm[O], rv[O];        /* eval mode: the running statistics */
    int32_t labels[N];
} Net;

/* The loss of the network in double; training: batch statistics (mean and var written to
 * bm, bv when not NULL), else rm, rv */
static double net_loss(const Net *p, int training, double *bm, double *bv, double *logits)
{
    static double c[N][O][HO][WO];
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int oh = 0; oh < HO; oh++)
                for (int ow = 0; ow < WO; ow++) {
                    double s = p->bc[o];
                    int ch = o / 2;     /* groups 2: outputs 0,1 read channel 0; 2,3 channel 1 */
                    for (int i = 0; i < KH; i++)
                        for (int j = 0; j < KW; j++) {
                            int ih = oh - 1 + i, iw = ow + j;
                            if (ih < 0 || ih >= H) continue;
                            s += p->Wc[(o * KH + i) * KW + j] * p->x[((n * C + ch) * H + ih) * W + iw];
                        }
                    c[n][o][oh][ow] = s;
                }
    double total = 0, pooled[N][F];
    for (int o = 0; o < O; o++) {
        double m = 0, v = 0, M = N * HO * WO;
        for (int n = 0; n < N; n++)
            for (int q = 0; q < HO * WO; q++) m += c[n][o][q / WO][q % WO];
        m /= M;
        for (int n = 0; n < N; n++)
            for (int q = 0; q < HO * WO; q++) v += pow(c[n][o][q / WO][q % WO] - m, 2);
        v /= M;
        if (bm) bm[o] = m, bv[o] = v;
        if (!training) m = p->rm[o], v = p->rv[o];
        for (int n = 0; n < N; n++)
            for (int ph = 0; ph < HP; ph++)
                for (int pw = 0; pw < WP; pw++) {
                    double s = 0;
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++)
                            s += (c[n][o][2 * ph + i][2 * pw + j] - m) / sqrt(v + 1e-5) * p->gamma[o] + p->beta[o];
                    pooled[n][(o * HP + ph) * WP + pw] = s / 4;
                }
    }
    for (int n = 0; n < N; n++) {
        double z[K], max = -INFINITY, sum = 0;
        for (int k = 0; k < K; k++) {
            z[k] = p->bl[k];
            for (int f = 0; f < F; f++) z[k] += p->Wl[k * F + f] * pooled[n][f];
            max = fmax(max, z[k]);
            if (logits) logits[n * K + k] = z[k];
        }
        for (int k = 0; k < K; k++) sum += exp(z[k] - max);
        total += max + log(sum) - z[p->labels[n]];
    }
    return total / N;
}

static int apply(Graph *g, int op, const int *in, int nin, const Attrs *a)
{
    Error e;
    int n = graph_add(g, op, in, nin, a, &e);
    if (n < 0) {
        fprintf(stderr, "test_norm_graph: %s: %s\n", op_table[op]->name, e.msg);
        exit(2);
    }
    return g->nodes[n].out[0];
}

/* conv2d(3x3, padding 1) -> batchnorm2d -> relu -> maxpool2d(2), planned and bound, its
 * parameters and buffers filled from seed; folded (and fused) when fold is set */
enum { FILL_PARAMS = 1, FILL_INPUTS = 2 };
/* The float parameters and buffers (FILL_PARAMS) and inputs (FILL_INPUTS) of g from seed, in
 * value order: running_var and BatchNorm's weight in [0.5, 1.5), the others in [-1, 1) */
static void fill_values(Graph *g, uint64_t seed, int what)
{
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        int param = v->kind == VK_PARAM || v->kind == VK_BUFFER;
        if (!(param ? what & FILL_PARAMS : v->kind == VK_INPUT && (what & FILL_INPUTS))) continue;
        if (v->dtype == DT_I64) continue;
        int positive = strstr(v->name, "running_var") || strstr(v->name, "bn.weight");
        for (size_t k = 0; k < value_numel(v); k++)
            vf32(g, i)[k] = positive ? 0.5f + rng_uniform(&rng) : 2 * rng_uniform(&rng) - 1;
    }
}

static Graph *inference_graph(int bias, int affine, int fold, int *out)
{
    Graph *g = graph_new();
    g->max_batch = g->batch = 2;
    int sx[4] = { 2, 3, 8, 6 }, sw[4] = { 5, 3, 3, 3 }, so[1] = { 5 }, one[1] = { 1 };
    int x = graph_value(g, "x", VK_INPUT, DT_F32, 4, sx, 1);
    int in_c[3] = { x, graph_value(g, "conv.weight", VK_PARAM, DT_F32, 4, sw, 0),
                    bias ? graph_value(g, "conv.bias", VK_PARAM, DT_F32, 1, so, 0) : -1 };
    g->input = x;
    Attrs ca = { 0 };
    ca.kernel = 3, ca.stride = 1, ca.padding = 1;
    int c = apply(g, OP_conv2d, in_c, bias ? 3 : 2, &ca);
    int in_b[6] = { c }, nb = 1;
    if (affine) {
        in_b[nb++] = graph_value(g, "bn.weight", VK_PARAM, DT_F32, 1, so, 0);
        in_b[nb++] = graph_value(g, "bn.bias", VK_PARAM, DT_F32, 1, so, 0);
    }
    in_b[nb++] = graph_value(g, "bn.running_mean", VK_BUFFER, DT_F32, 1, so, 0);
    in_b[nb++] = graph_value(g, "bn.running_var", VK_BUFFER, DT_F32, 1, so, 0);
    in_b[nb++] = graph_value(g, "bn.num_batches_tracked", VK_BUFFER, DT_I64, 0, one, 0);
    Attrs ba = { 0 };
    ba.eps = 1e-3, ba.momentum = 0.1;
    int b = apply(g, OP_batchnorm2d, in_b, nb, &ba);
    int r = apply(g, OP_relu, &b, 1, NULL);
    Attrs pa = { 0 };
    pa.kernel = 2, pa.stride = 2;
    int y = apply(g, OP_maxpool2d, &r, 1, &pa);
    g->logits = y;
    g->vals[y].keep = 1;
    Error e;
    if (fold) {
        CHECK(fold_batchnorm(g, &e) == 1, "one conv2d -> batchnorm2d folded");
        CHECK(fuse_graph(g, &e) == 1, "the folded conv2d fuses with relu and maxpool2d");
    }
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    fill_values(g, 99, FILL_PARAMS | FILL_INPUTS);
    *out = g->logits;
    return g;
}

/* Outputs y1 of g1 against y0 of g0 (within 1e-5): how many differ, the worst in *worst */
static size_t outputs_differ(const Graph *g0, int y0, const Graph *g1, int y1, double *worst)
{
    size_t n = value_numel(&g0->vals[y0]), bad = n != value_numel(&g1->vals[y1]);
    *worst = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        double a = vf32(g1, y1)[i], b = vf32(g0, y0)[i], err = fabs(a - b);
        if (!(err <= 1e-5 + 1e-5 * fabs(b))) bad++;
        if (err > *worst) *worst = err;
    }
    return bad;
}

static void fold_matches(int bias, int affine)
{
    int y0, y1;
    Graph *g0 = inference_graph(bias, affine, 0, &y0), *g1 = inference_graph(bias, affine, 1, &y1);
    int folds = 0, bns = 0, fused = 0;
    for (int i = 0; i < g1->nnodes; i++) {
        folds += g1->nodes[i].op == OP_batchnorm_fold;
        bns += g1->nodes[i].op == OP_batchnorm2d;
        fused += g1->nodes[i].op == OP_conv2d_relu_maxpool2d;
    }
    CHECK(folds == 1 && bns == 0 && fused == 1, "folded graph: %d batchnorm_fold, %d batchnorm2d, %d fused", folds,
          bns, fused);
    g0->training = g1->training = 0;
    exec_run(g0, PHASE_FORWARD);
    exec_run(g1, PHASE_FORWARD);
    double worst;
    size_t bad = outputs_differ(g0, y0, g1, y1, &worst);
    CHECK(bad == 0, "folded outputs (bias %d, affine %d): %zu off, worst %g", bias, affine, bad, worst);
    graph_free(g0);
    graph_free(g1);
}

/* After a forward run of each graph on new inputs (a run may overwrite its input), the
 * folded graph g1's outputs against the unfolded g0's: the same (same), or not (a fold
 * left stale) */
static void check_run(Graph *g0, int y0, Graph *g1, int y1, int same, const char *what)
{
    static uint64_t seed = 1000;
    fill_values(g0, seed, FILL_INPUTS);
    fill_values(g1, seed++, FILL_INPUTS);
    exec_run(g0, PHASE_FORWARD);
    exec_run(g1, PHASE_FORWARD);
    double worst;
    size_t bad = outputs_differ(g0, y0, g1, y1, &worst);
    if (same) CHECK(bad == 0, "%s: %zu outputs off the unfolded graph's, worst %g", what, bad, worst);
    else CHECK(bad > 0, "%s: the outputs follow parameters never announced: the fold ran again", what);
}

/* g1's running_var: set to NaN (poison), or back to g0's */
static void running_var(Graph *g1, const Graph *g0, int poison)
{
    for (int i = 0; i < g1->nvals; i++)
        for (int j = 0; j < g0->nvals; j++)
            if (!strcmp(g1->vals[i].name, "bn.running_var") && !strcmp(g0->vals[j].name, "bn.running_var"))
                for (size_t k = 0; k < value_numel(&g1->vals[i]); k++) vf32(g1, i)[k] = poison ? NAN : vf32(g0, j)[k];
}

/* BatchNorm folded once and kept (Value.cached, runtime/exec.c): the fold runs at the first
 * run, not again while the parameters stay (new inputs), and again, the outputs the
 * unfolded graph's, after graph_params_changed, a model file loaded into the graph, an
 * update phase or init_parameters */
static void fold_cache(void)
{
    int y0, y1;
    Graph *g0 = inference_graph(1, 1, 0, &y0), *g1 = inference_graph(1, 1, 1, &y1);
    g0->training = g1->training = 0;
    const Node *fold = NULL;
    for (int i = 0; i < g1->nnodes; i++)
        if (g1->nodes[i].op == OP_batchnorm_fold) fold = &g1->nodes[i];
    CHECK(fold && g1->vals[fold->out[0]].cached && g1->vals[fold->out[1]].cached, "the fold's outputs are cached");
    if (!fold) {
        graph_free(g0);
        graph_free(g1);
        return;
    }
    check_run(g0, y0, g1, y1, 1, "first run");
    running_var(g1, g0, 1);     /* read by the fold alone: a second run does not see it */
    check_run(g0, y0, g1, y1, 1, "second run, running_var poisoned but not announced");
    check_run(g0, y0, g1, y1, 1, "third run");
    running_var(g1, g0, 0);
    fill_values(g0, 6, FILL_PARAMS);
    fill_values(g1, 6, FILL_PARAMS);
    check_run(g0, y0, g1, y1, 0, "parameters written but not announced");
    graph_params_changed(g1);
    check_run(g0, y0, g1, y1, 1, "graph_params_changed");
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_norm_graph.%d.safetensors", (int)getpid());
    Error e;
    fill_values(g0, 7, FILL_PARAMS);
    CHECK(model_save(g0, path, NULL, 0, "", &e) == 0, "model_save: %s", e.msg);
    CHECK(model_load(g1, path, NULL, &e) == 0, "model_load: %s", e.msg);
    remove(path);
    check_run(g0, y0, g1, y1, 1, "a model file loaded");
    fill_values(g0, 8, FILL_PARAMS);
    fill_values(g1, 8, FILL_PARAMS);
    exec_run(g1, PHASE_UPDATE);     /* an optimizer step's phase (none here): the parameters change */
    check_run(g0, y0, g1, y1, 1, "an update phase");
    init_parameters(g0, 3);
    init_parameters(g1, 3);
    check_run(g0, y0, g1, y1, 1, "init_parameters");
    graph_free(g0);
    graph_free(g1);
}

/* init_parameters gives a folded graph PyTorch's BatchNorm init too (weight 1, bias 0,
 * running_mean 0, running_var 1), and every value as the unfolded graph */
static void init_after_fold(void)
{
    int y0, y1;
    Graph *g0 = inference_graph(1, 1, 0, &y0), *g1 = inference_graph(1, 1, 1, &y1);
    init_parameters(g0, 7);
    init_parameters(g1, 7);
    int compared = 0;
    for (int i = 0; i < g0->nvals; i++) {
        const Value *a = &g0->vals[i];
        if (a->kind != VK_PARAM && a->kind != VK_BUFFER) continue;
        for (int j = 0; j < g1->nvals; j++)
            if (!strcmp(g1->vals[j].name, a->name)) {
                CHECK(memcmp(a->data, g1->vals[j].data, value_bytes(a)) == 0, "%s initialised alike when folded",
                      a->name);
                compared++;
            }
    }
    CHECK(compared == 7, "7 parameters and buffers compared, %d", compared);
    for (int j = 0; j < g1->nvals; j++) {
        if (!strcmp(g1->vals[j].name, "bn.running_var")) CHECK(vf32(g1, j)[0] == 1, "folded running_var is 1");
        if (!strcmp(g1->vals[j].name, "bn.weight")) CHECK(vf32(g1, j)[4] == 1, "folded bn.weight is 1");
    }
    graph_free(g0);
    graph_free(g1);
}

int main(void)
{
    init_after_fold();
    fold_matches(1, 1);
    fold_matches(0, 1);
    fold_matches(1, 0);
    fold_cache();
    Graph *g = graph_new();
    g->max_batch = g->batch = N;
    g->cur_phase = PHASE_FORWARD;
    int sx[4] = { N, C, H, W }, swc[4] = { O, C / 2, KH, KW }, so[1] = { O }, one[1] = { 1 };
    int swl[2] = { K, F }, sk[1] = { K }, sl[1] = { N };
    int x = graph_value(g, "x", VK_INPUT, DT_F32, 4, sx, 1);
    g->vals[x].requires_grad = 1;
    int labels = graph_value(g, "labels", VK_LABEL, DT_I32, 1, sl, 1);
    int Wc = graph_value(g, "conv.weight", VK_PARAM, DT_F32, 4, swc, 0);
    int bc = graph_value(g, "conv.bias", VK_PARAM, DT_F32, 1, so, 0);
    int gamma = graph_value(g, "bn.weight", VK_PARAM, DT_F32, 1, so, 0);
    int beta = graph_value(g, "bn.bias", VK_PARAM, DT_F32, 1, so, 0);
    int rm = graph_value(g, "bn.running_mean", VK_BUFFER, DT_F32, 1, so, 0);
    int rv = graph_value(g, "bn.running_var", VK_BUFFER, DT_F32, 1, so, 0);
    int nbt = graph_value(g, "bn.num_batches_tracked", VK_BUFFER, DT_I64, 0, one, 0);
    int Wl = graph_value(g, "fc.weight", VK_PARAM, DT_F32, 2, swl, 0);
    int bl = graph_value(g, "fc.bias", VK_PARAM, DT_F32, 1, sk, 0);
    g->input = x;
    g->label = labels;

    Attrs ca = { 0 };
    ca.kernel_hw[0] = KH, ca.kernel_hw[1] = KW, ca.stride = 1, ca.padding_hw[0] = 1, ca.padding_hw[1] = 0;
    ca.groups = 2;
    int in_c[3] = { x, Wc, bc };
    int c = apply(g, OP_conv2d, in_c, 3, &ca);
    Attrs ba = { 0 };
    ba.eps = 1e-5, ba.momentum = 0.1;
    int in_b[6] = { c, gamma, beta, rm, rv, nbt };
    int b = apply(g, OP_batchnorm2d, in_b, 6, &ba);
    Attrs pa = { 0 };
    pa.kernel = 2, pa.stride = 2, pa.count_include_pad = 1;
    int p = apply(g, OP_avgpool2d, &b, 1, &pa);
    int f = apply(g, OP_flatten, &p, 1, NULL);
    int in_l[3] = { f, Wl, bl };
    int z = apply(g, OP_linear, in_l, 3, NULL);
    int zl[2] = { z, labels };
    Error e;
    int ce = graph_add(g, OP_cross_entropy, zl, 2, NULL, &e);
    CHECK(ce >= 0, "cross_entropy: %s", e.msg);
    g->logits = z;
    g->vals[z].keep = 1;
    g->loss = g->nodes[ce].out[0];
    g->vals[g->loss].keep = 1;

    CHECK(autodiff(g, &e) == 0, "autodiff: %s", e.msg);
    int params[7] = { Wc, bc, gamma, beta, Wl, bl, x };
    for (int i = 0; i < 7; i++) {
        CHECK(g->vals[params[i]].grad >= 0, "%s has a gradient", g->vals[params[i]].name);
        if (g->vals[params[i]].grad >= 0) g->vals[g->vals[params[i]].grad].keep = 1;
    }
    CHECK(g->vals[rm].grad < 0 && g->vals[rv].grad < 0 && g->vals[nbt].grad < 0, "buffers get no gradient");
    if (test_failures) return test_done("test_norm_graph");

    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    CHECK((char *)g->vals[rv].data >= (char *)g->param_block &&
              (char *)g->vals[nbt].data + 8 <= (char *)g->param_block + g->param_bytes,
          "the buffers live in the persistent parameter block");
    init_parameters(g, 1);
    CHECK(vf32(g, gamma)[0] == 1 && vf32(g, beta)[0] == 0 && vf32(g, rv)[O - 1] == 1 && vf32(g, rm)[0] == 0 &&
              vi64(g, nbt)[0] == 0,
          "BatchNorm's init: weight 1, bias 0, running_var 1, running_mean 0");
    Net net;
    Rng rng;
    rng_seed(&rng, 13);
    double *arrays[7] = { net.Wc, net.bc, net.gamma, net.beta, net.Wl, net.bl, net.x };
    double rmd[O], rvd[O];
    for (int o = 0; o < O; o++) rmd[o] = 0, rvd[o] = 1;
    g->training = 1;
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < 7; i++) {
            float *v = g->vals[params[i]].data;
            for (size_t k = 0; k < value_numel(&g->vals[params[i]]); k++) {
                v[k] = 2 * rng_uniform(&rng) - 1 + (i == 2 ? 1.0f : 0.0f);     /* gamma around 1 */
                arrays[i][k] = v[k];
            }
        }
        for (int n = 0; n < N; n++) vi32(g, labels)[n] = net.labels[n] = (int32_t)rng_below(&rng, K);
        exec_run(g, PHASE_FORWARD | PHASE_BACKWARD);
        double bm[O], bv[O];
        double want = net_loss(&net, 1, bm, bv, NULL);
        CHECK_CLOSE(vf32(g, g->loss)[0], want, 1e-6, 1e-5, "the training loss against the double network");
        for (int o = 0; o < O; o++) {
            double M = N * HO * WO;
            rmd[o] = 0.9 * rmd[o] + 0.1 * bm[o];
            rvd[o] = 0.9 * rvd[o] + 0.1 * bv[o] * M / (M - 1);
        }
    }
    for (int o = 0; o < O; o++) {
        CHECK_CLOSE(vf32(g, rm)[o], rmd[o], 1e-6, 1e-5, "running_mean after 2 steps");
        CHECK_CLOSE(vf32(g, rv)[o], rvd[o], 1e-6, 1e-5, "running_var after 2 steps");
    }
    CHECK(vi64(g, nbt)[0] == 2, "num_batches_tracked after 2 steps: %lld", (long long)vi64(g, nbt)[0]);

    /* the last step's gradients: h = 1e-5 in double (the network is smooth: no ReLU) */
    for (int i = 0; i < 7; i++) {
        const Value *v = &g->vals[params[i]];
        const float *gv = vf32(g, v->grad);
        for (size_t k = 0; k < value_numel(v); k++) {
            double saved = arrays[i][k];
            arrays[i][k] = saved + 1e-5;
            double up = net_loss(&net, 1, NULL, NULL, NULL);
            arrays[i][k] = saved - 1e-5;
            double down = net_loss(&net, 1, NULL, NULL, NULL);
            arrays[i][k] = saved;
            char what[sizeof v->name + 48];
            snprintf(what, sizeof what, "d loss / d %s[%zu]", v->name, k);
            CHECK_CLOSE(gv[k], (up - down) / 2e-5, 1e-6, 1e-4, what);
        }
    }

    /* eval: the running statistics normalise, and stay as they are */
    for (int o = 0; o < O; o++) net.rm[o] = vf32(g, rm)[o], net.rv[o] = vf32(g, rv)[o];
    g->training = 0;
    exec_run(g, PHASE_FORWARD);
    double logits[N * K];
    net_loss(&net, 0, NULL, NULL, logits);
    for (int i = 0; i < N * K; i++) CHECK_CLOSE(vf32(g, z)[i], logits[i], 1e-5, 1e-5, "eval logits");
    CHECK(vi64(g, nbt)[0] == 2 && vf32(g, rm)[0] == (float)net.rm[0], "eval leaves the buffers alone");
    graph_free(g);
    return test_done("test_norm_graph");
}
