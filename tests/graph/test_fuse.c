/* tests/graph/test_fuse.c: the fusion pass. The fused graph has one conv2d_relu_maxpool2d
 * node per Conv2d -> ReLU -> MaxPool2d chain and none of the chain's nodes, and training it
 * computes bit for bit what the plain graph computes: logits, loss and every parameter
 * after three Adam steps with dropout, the last on a partial batch. With 8 channels into
 * the second convolution its backward takes the sparse path (conv2d_pool_sparse.c), which
 * sums in another order: there the gradients agree to 1e-5 of each tensor's largest.
 * (test_autodiff holds the fused graph's gradients against finite differences.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/ops/kernels.h"
#include "sea_program.h"
#include "tests/test.h"

static Graph *build(Program *p, int no_fuse)
{
    LowerOptions lo = { .batch = 5, .training = 1, .no_fuse = no_fuse };
    Error e;
    Graph *g = sea_graph(p, &lo, 9, &e);
    CHECK(g != NULL, "lowering failed: %s", g ? "" : e.msg);
    if (g) rng_seed(&g->rng, 4);
    return g;
}

static int count_op(const Graph *g, int op, int phase)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) n += g->nodes[i].op == op && (int)g->nodes[i].phase == phase;
    return n;
}

static void step(Graph *g, int n, int seed)
{
    Rng r;
    rng_seed(&r, (uint64_t)seed);
    graph_set_batch(g, n);
    float *x = vf32(g, g->input);
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = 2 * rng_uniform(&r) - 1;
    for (int i = 0; i < n; i++) vi32(g, g->label)[i] = (int32_t)rng_below(&r, 5);
    g->training = 1;
    g->step++;
    exec_run(g, PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE);
}

/* The fused and plain graphs of a model whose second convolution has 8 input channels: one
 * forward and backward on the same batch, the same logits bit for bit and every
 * parameter's gradient within 1e-5 of that gradient's largest magnitude. */
static void test_sparse_backward(void)
{
    Program p;
    sea_program(&p, 3, 20, 16, 8, 6, 8, 5, 0.0f);
    Graph *f = build(&p, 0), *u = build(&p, 1);
    if (f && u) {
        for (Graph *g = f; g; g = g == f ? u : NULL) {
            Rng r;
            rng_seed(&r, 77);
            graph_set_batch(g, 4);
            float *x = vf32(g, g->input);
            for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = 2 * rng_uniform(&r) - 1;
            for (int i = 0; i < 4; i++) vi32(g, g->label)[i] = (int32_t)rng_below(&r, 5);
            g->training = 1;
            exec_run(g, PHASE_FORWARD | PHASE_BACKWARD);
        }
        CHECK(memcmp(vf32(f, f->logits), vf32(u, u->logits), value_bytes(&f->vals[f->logits])) == 0,
              "sparse: logits differ");
        int compared = 0;
        for (int i = 0; i < f->nvals; i++) {
            if (f->vals[i].kind != VK_PARAM) continue;
            int j = -1;
            for (int k = 0; k < u->nvals; k++)
                if (u->vals[k].kind == VK_PARAM && strcmp(u->vals[k].name, f->vals[i].name) == 0) j = k;
            if (j < 0 || f->vals[i].grad < 0 || u->vals[j].grad < 0) continue;
            const float *a = vf32(f, f->vals[i].grad), *b = vf32(u, u->vals[j].grad);
            size_t n = value_numel(&f->vals[i]);
            double big = 0, diff = 0;
            for (size_t k = 0; k < n; k++) {
                big = fabs(b[k]) > big ? fabs(b[k]) : big;
                diff = fabs((double)a[k] - b[k]) > diff ? fabs((double)a[k] - b[k]) : diff;
            }
            CHECK(big > 0 && diff <= 1e-5 * big, "sparse: %s's gradient off by %g of %g", f->vals[i].name, diff, big);
            compared++;
        }
        CHECK(compared == 8, "sparse: %d gradients compared, expected 8", compared);
    }
    graph_free(f);
    graph_free(u);
    free(p.layers);
}

int main(void)
{
    conv2d_use_direct(1);   /* the paths tested here are the direct kernels', whatever this CPU would choose */
    Program p;
    sea_program(&p, 3, 20, 16, 4, 6, 8, 5, 0.5f);
    Graph *f = build(&p, 0), *u = build(&p, 1);
    if (!f || !u) return test_done("test_fuse");
    CHECK(count_op(f, OP_conv2d_relu_maxpool2d, PHASE_FORWARD) == 2, "expected 2 fused nodes");
    CHECK(count_op(f, OP_conv2d, PHASE_FORWARD) == 0 && count_op(f, OP_maxpool2d, PHASE_FORWARD) == 0,
          "plain conv2d or maxpool2d left in the fused graph");
    CHECK(count_op(f, OP_relu, PHASE_FORWARD) == 1, "the Linear's ReLU is not part of a chain and stays");
    CHECK(count_op(f, OP_conv2d_relu_maxpool2d_backward, PHASE_BACKWARD) == 2 &&
              count_op(f, OP_relu_maxpool2d_backward, PHASE_BACKWARD) == 0, "fused backward nodes");
    CHECK(count_op(u, OP_conv2d_relu_maxpool2d, PHASE_FORWARD) == 0, "no_fuse still fused");
    CHECK(f->nvals < u->nvals, "fusion dropped no values (%d vs %d)", f->nvals, u->nvals);
    for (int i = 0; i < f->nnodes; i++)         /* every reference is a live value */
        for (int k = 0; k < f->nodes[i].nin; k++)
            CHECK(f->nodes[i].in[k] >= 0 && f->nodes[i].in[k] < f->nvals, "node %d input %d dangling", i, k);
    for (int i = 0; i < f->nvals; i++) {       /* Flatten still views the fused node's output */
        int b = f->vals[i].view_of;
        CHECK(b < f->nvals && (b < 0 || f->vals[b].producer >= 0), "value %d views a dropped value", i);
    }
    int sizes[3] = { 5, 5, 2 };
    for (int s = 0; s < 3; s++) {
        step(f, sizes[s], 50 + s);
        step(u, sizes[s], 50 + s);
        CHECK(vf32(f, f->loss)[0] == vf32(u, u->loss)[0], "step %d: loss %.9g fused, %.9g plain", s,
              vf32(f, f->loss)[0], vf32(u, u->loss)[0]);
        CHECK(memcmp(vf32(f, f->logits), vf32(u, u->logits), value_bytes(&f->vals[f->logits])) == 0,
              "step %d: logits differ", s);
    }
    for (int i = 0; i < f->nvals; i++) {
        if (f->vals[i].kind != VK_PARAM) continue;
        int j = -1;
        for (int k = 0; k < u->nvals; k++)
            if (u->vals[k].kind == VK_PARAM && strcmp(u->vals[k].name, f->vals[i].name) == 0) j = k;
        CHECK(j >= 0, "%s missing from the plain graph", f->vals[i].name);
        if (j >= 0)
            CHECK(memcmp(f->vals[i].data, u->vals[j].data, value_bytes(&f->vals[i])) == 0,
                  "%s differs after 3 steps", f->vals[i].name);
    }
    graph_free(f);
    graph_free(u);
    free(p.layers);
    test_sparse_backward();
    return test_done("test_fuse");
}
