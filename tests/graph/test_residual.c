/* tests/graph/test_residual.c: a small graph with branches, built through the graph API:
 *
 *   h = linear(x, W1, b1);  a = relu(h);  r = add(add(a, h), x);  s = tanh(r);
 *   c = cat(s, r);  z = linear(c, W2, b2);  loss = cross_entropy(z, labels)
 *
 * x, h and r are each read twice (x by the first linear and the residual add, h by relu
 * and add, r by tanh and cat), so autodiff (compiler/passes/autodiff.c) must sum two gradients
 * for each. The graph is planned (compiler/passes/plan.c, which shares storage by liveness) and
 * run by the executor; every entry of every gradient (W1, b1, W2, b2 and x) is checked
 * against central differences of the same network computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/passes/autodiff.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/ops.h"
#include "tests/test.h"

#define N 3
#define D 4
#define K 5

/* The network in double: parameters and x as arrays, as the graph holds them */
typedef struct Net {
    double W1[D * D], b1[D], W2[K * 2 * D], b2[K], x[N * D];
    int32_t labels[N];
} Net;

static double net_loss(const Net *p)
{
    double total = 0;
    for (int n = 0; n < N; n++) {
        double h[D], r[D], c[2 * D], z[K];
        for (int o = 0; o < D; o++) {
            h[o] = p->b1[o];
            for (int i = 0; i < D; i++) h[o] += p->W1[o * D + i] * p->x[n * D + i];
        }
        for (int o = 0; o < D; o++) {
            r[o] = (h[o] > 0 ? h[o] : 0) + h[o] + p->x[n * D + o];
            c[o] = tanh(r[o]);
            c[D + o] = r[o];
        }
        double max = -INFINITY, sum = 0;
        for (int k = 0; k < K; k++) {
            z[k] = p->b2[k];
            for (int i = 0; i < 2 * D; i++) z[k] += p->W2[k * 2 * D + i] * c[i];
            max = fmax(max, z[k]);
        }
        for (int k = 0; k < K; k++) sum += exp(z[k] - max);
        total += max + log(sum) - z[p->labels[n]];
    }
    return total / N;
}

static int apply(Graph *g, int op, const int *in, int nin)
{
    Error e;
    int v = graph_apply(g, op, in, nin, NULL, &e);
    if (v < 0) {
        fprintf(stderr, "test_residual: %s: %s\n", op_table[op]->name, e.msg);
        exit(2);
    }
    return v;
}

int main(void)
{
    Graph *g = graph_new();
    g->max_batch = g->batch = N;
    g->cur_phase = PHASE_FORWARD;
    int sx[2] = { N, D }, sw1[2] = { D, D }, sb1[1] = { D }, sw2[2] = { K, 2 * D }, sb2[1] = { K };
    int x = graph_value(g, "x", VK_INPUT, DT_F32, 2, sx, 1);
    g->vals[x].requires_grad = 1;
    int labels = graph_value(g, "labels", VK_LABEL, DT_I32, 1, sx, 1);
    int W1 = graph_value(g, "fc1.weight", VK_PARAM, DT_F32, 2, sw1, 0);
    int b1 = graph_value(g, "fc1.bias", VK_PARAM, DT_F32, 1, sb1, 0);
    int W2 = graph_value(g, "fc2.weight", VK_PARAM, DT_F32, 2, sw2, 0);
    int b2 = graph_value(g, "fc2.bias", VK_PARAM, DT_F32, 1, sb2, 0);
    g->input = x;
    g->label = labels;

    int in1[3] = { x, W1, b1 };
    int h = apply(g, OP_linear, in1, 3);
    int a = apply(g, OP_relu, &h, 1);
    int ah[2] = { a, h };
    int r0 = apply(g, OP_add, ah, 2);
    int rx[2] = { r0, x };
    int r = apply(g, OP_add, rx, 2);
    int s = apply(g, OP_tanh, &r, 1);
    int sr[2] = { s, r };
    int c = apply(g, OP_cat, sr, 2);
    int in2[3] = { c, W2, b2 };
    int z = apply(g, OP_linear, in2, 3);
    int zl[2] = { z, labels };
    Error e;
    int ce = graph_add(g, OP_cross_entropy, zl, 2, NULL, &e);
    CHECK(ce >= 0, "cross_entropy: %s", e.msg);
    g->logits = z;
    g->loss = g->nodes[ce].out[0];
    g->vals[g->loss].keep = 1;

    CHECK(autodiff(g, &e) == 0, "autodiff: %s", e.msg);
    int grads[5] = { W1, b1, W2, b2, x };
    for (int i = 0; i < 5; i++) {
        CHECK(g->vals[grads[i]].grad >= 0, "%s has a gradient", g->vals[grads[i]].name);
        if (g->vals[grads[i]].grad >= 0) g->vals[g->vals[grads[i]].grad].keep = 1;
    }
    /* x, h and r each get the sum of two gradients: an add node each, at least */
    int adds = 0;
    for (int i = 0; i < g->nnodes; i++) adds += g->nodes[i].phase == PHASE_BACKWARD && g->nodes[i].op == OP_add;
    CHECK(adds >= 3, "autodiff sums the gradients of x, h and r (%d add nodes)", adds);
    if (test_failures) return test_done("test_residual");

    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    Net p;
    Rng rng;
    rng_seed(&rng, 13);
    double *arrays[5] = { p.W1, p.b1, p.W2, p.b2, p.x };
    for (int i = 0; i < 5; i++) {
        float *v = g->vals[grads[i]].data;
        for (size_t k = 0; k < value_numel(&g->vals[grads[i]]); k++) {
            v[k] = 2 * rng_uniform(&rng) - 1;
            arrays[i][k] = v[k];
        }
    }
    for (int n = 0; n < N; n++) vi32(g, labels)[n] = p.labels[n] = (int32_t)rng_below(&rng, K);
    g->training = 1;
    exec_run(g, PHASE_FORWARD | PHASE_BACKWARD);

    double want_loss = net_loss(&p);
    CHECK_CLOSE(vf32(g, g->loss)[0], want_loss, 1e-6, 1e-5, "the loss against the double network");
    /* h = 1e-5 in double: truncation ~1e-10, rounding ~1e-11; a ReLU kink within 1e-5 of an
     * input is improbable with these values and would show as one entry off */
    for (int i = 0; i < 5; i++) {
        const Value *v = &g->vals[grads[i]];
        const float *gv = vf32(g, v->grad);
        for (size_t k = 0; k < value_numel(v); k++) {
            double saved = arrays[i][k];
            arrays[i][k] = saved + 1e-5;
            double up = net_loss(&p);
            arrays[i][k] = saved - 1e-5;
            double down = net_loss(&p);
            arrays[i][k] = saved;
            char what[sizeof v->name + 48];
            snprintf(what, sizeof what, "d loss / d %s[%zu]", v->name, k);
            CHECK_CLOSE(gv[k], (up - down) / 2e-5, 1e-6, 1e-4, what);
        }
    }
    graph_free(g);
    return test_done("test_residual");
}
