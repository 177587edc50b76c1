/* tests/graph/test_fuse_training.c: compiler/passes/fuse.c's fuse_training_graph on a small
 * residual network in .cnn text (BatchNorm2d + ReLU, a BasicBlock's F.relu(out + x), a
 * BatchNorm2d read by the residual sum, which stays, and a ReLU after a Linear, which
 * stays). The training graph holds batchnorm2d_relu and add_relu in place of those pairs,
 * batchnorm_relu_backward in place of relu_backward + batchnorm_backward, and fewer values;
 * an inference graph keeps the plain ops (the back ends read it). Three Adam steps on the
 * fused and the unfused (no_fuse) graph, the last on a partial batch, then one eval-mode
 * forward, give the same loss, logits, parameters, running statistics and
 * num_batches_tracked bit for bit: the fused kernels compute the same floats in the same
 * order. (tests/ops/test_batchnorm_relu.c holds the gradients against finite differences.) */
#include <string.h>

#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/ops.h"
#include "tests/test.h"

static const char src[] =
    "model Block(c) {\n"
    "    conv1 = Conv2d(c, c, 3, padding=1, bias=False)\n"
    "    bn1 = BatchNorm2d(c)\n"
    "    conv2 = Conv2d(c, c, 3, padding=1, bias=False)\n"
    "    bn2 = BatchNorm2d(c, momentum=None)\n"
    "    forward(x) {\n"
    "        out = F.relu(self.bn1(self.conv1(x)))\n"
    "        out = self.bn2(self.conv2(out))\n"
    "        return F.relu(out + x)\n"
    "    }\n"
    "}\n"
    "model Net {\n"
    "    input [3, 6, 5]\n"
    "    stem = Sequential(Conv2d(3, 4, 3, padding=1), BatchNorm2d(4), ReLU())\n"
    "    block = Block(4)\n"
    "    head = Sequential(Flatten(), Linear(4 * 6 * 5, 7), ReLU(), Linear(7, 3))\n"
    "}\n"
    "criterion = CrossEntropyLoss()\n"
    "optimizer = optim.Adam(model.parameters(), lr=0.01)\n";

static Graph *build(const Program *p, int training, int no_fuse)
{
    LowerOptions lo = { .batch = 5, .training = training, .no_fuse = no_fuse };
    Error e;
    Graph *g = lower_program(p, &lo, &e);
    CHECK(g != NULL, "lowering failed: %s", g ? "" : e.msg);
    if (!g) return NULL;
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    init_parameters(g, 3);
    rng_seed(&g->rng, 4);
    return g;
}

static int count_op(const Graph *g, int op)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) n += g->nodes[i].op == op;
    return n;
}

static void run(Graph *g, int n, int seed, int training)
{
    Rng r;
    rng_seed(&r, (uint64_t)seed);
    graph_set_batch(g, n);
    float *x = vf32(g, g->input);
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = 2 * rng_uniform(&r) - 1;
    for (int i = 0; i < n; i++) vi32(g, g->label)[i] = (int32_t)rng_below(&r, 3);
    g->training = training;
    if (training) g->step++;
    exec_run(g, training ? PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE : PHASE_FORWARD);
}

/* every parameter and buffer of f equal, bit for bit, to the one of u with its name */
static void same_state(const Graph *f, const Graph *u, const char *when)
{
    int compared = 0;
    for (int i = 0; i < f->nvals; i++) {
        if (f->vals[i].kind != VK_PARAM && f->vals[i].kind != VK_BUFFER) continue;
        int j = -1;
        for (int k = 0; k < u->nvals; k++)
            if (u->vals[k].kind == f->vals[i].kind && strcmp(u->vals[k].name, f->vals[i].name) == 0) j = k;
        CHECK(j >= 0, "%s missing from the plain graph", f->vals[i].name);
        if (j < 0) continue;
        compared++;
        CHECK(memcmp(f->vals[i].data, u->vals[j].data, value_bytes(&f->vals[i])) == 0, "%s: %s differs", when,
              f->vals[i].name);
    }
    /* stem 0.weight, 0.bias, BN x3 (weight, bias, 3 buffers), 2 convs, 2 linears x 2 */
    CHECK(compared == 2 + 3 * 5 + 2 + 4, "%s: %d parameters and buffers compared", when, compared);
}

int main(void)
{
    Program p;
    if (check_source("fuse_training.cnn", src, sizeof src - 1, NULL, &p, stderr) < 0) {
        CHECK(0, "the test's model does not check");
        return test_done("test_fuse_training");
    }
    Graph *f = build(&p, 1, 0), *u = build(&p, 1, 1), *inf = build(&p, 0, 0);
    if (f && u && inf) {
        CHECK(count_op(f, OP_batchnorm2d_relu) == 2, "stem.1 and block.bn1 fuse with their ReLU (%d fused)",
              count_op(f, OP_batchnorm2d_relu));
        CHECK(count_op(f, OP_batchnorm2d) == 1, "block.bn2, read by the residual sum, stays batchnorm2d");
        CHECK(count_op(f, OP_add_relu) == 1, "F.relu(out + x) is one add_relu (%d)", count_op(f, OP_add_relu));
        CHECK(count_op(f, OP_relu) == 1, "the ReLU after a Linear stays (%d relu)", count_op(f, OP_relu));
        CHECK(count_op(f, OP_batchnorm_relu_backward) == 2 && count_op(f, OP_batchnorm_backward) == 1,
              "backward: 2 batchnorm_relu_backward, 1 batchnorm_backward");
        CHECK(count_op(f, OP_relu_backward) == 2, "backward: relu_backward for add_relu and the Linear's ReLU (%d)",
              count_op(f, OP_relu_backward));
        CHECK(count_op(u, OP_batchnorm2d_relu) == 0 && count_op(u, OP_add_relu) == 0, "no_fuse still fused");
        CHECK(count_op(inf, OP_batchnorm2d_relu) == 0 && count_op(inf, OP_add_relu) == 0,
              "an inference graph has a fused training op");
        CHECK(f->nvals < u->nvals, "fusion dropped no values (%d vs %d)", f->nvals, u->nvals);
        CHECK(f->arena_bytes <= u->arena_bytes, "the plan's arena grew (%zu vs %zu bytes)", f->arena_bytes,
              u->arena_bytes);
        for (int i = 0; i < f->nnodes; i++)
            for (int k = 0; k < f->nodes[i].nin; k++)
                CHECK(f->nodes[i].in[k] >= 0 && f->nodes[i].in[k] < f->nvals, "node %d input %d dangling", i, k);
        int sizes[3] = { 5, 5, 3 };
        for (int s = 0; s < 3; s++) {
            run(f, sizes[s], 20 + s, 1);
            run(u, sizes[s], 20 + s, 1);
            CHECK(vf32(f, f->loss)[0] == vf32(u, u->loss)[0], "step %d: loss %.9g fused, %.9g plain", s,
                  vf32(f, f->loss)[0], vf32(u, u->loss)[0]);
            CHECK(memcmp(vf32(f, f->logits), vf32(u, u->logits), value_bytes(&f->vals[f->logits])) == 0,
                  "step %d: logits differ", s);
        }
        same_state(f, u, "after 3 steps");
        run(f, 4, 30, 0);
        run(u, 4, 30, 0);
        CHECK(memcmp(vf32(f, f->logits), vf32(u, u->logits), value_bytes(&f->vals[f->logits])) == 0,
              "eval mode: logits differ");
    }
    graph_free(f);
    graph_free(u);
    graph_free(inf);
    program_free(&p);
    return test_done("test_fuse_training");
}
