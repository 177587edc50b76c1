/* tests/graph/test_fuse_backward.c: compiler/passes/fuse.c's fuse_backward_graph, which
 * folds autodiff's sum of a value's two gradients (an add) into the conv2d_backward_input
 * that computes one of them, and a MaxPool2d's backward followed by the ReLU's before it
 * into one relu_maxpool2d_backward, on small residual networks in .cnn text:
 *   - a BasicBlock (BatchNorm between the convolutions, fashion_resnet's) then MaxPool2d(2)
 *     over odd sizes and Dropout: the block input's gradient is summed in place, no add is
 *     left in the backward phase, the pool's backward and the ReLU's are one node
 *     (add_relu_maxpool2d's);
 *   - F.relu(conv(x) + x) then F.max_pool2d(3, 2, 1): the other gradient is the
 *     convolution's own dy, read at and after it, so the add stays;
 *   - F.max_pool2d(F.relu(torch.cat(...)), 2): the pool's backward and the ReLU's fuse
 *     (after a residual sum fuse_training_graph's add_relu_maxpool2d already has them fused);
 *   - x read three times: one sum still read after the convolution stays an add, the next
 *     one, into that add's output, fuses.
 * BatchNorm's backward writes dx over dy where nothing reads dy after it (bn1's and the
 * stem's in the BasicBlock; not bn2's, whose dy is also the sum's acc).
 * Three Adam steps (the last on a partial batch) on the fused and the unfused (no_fuse)
 * graph give the same loss, logits, parameter gradients and parameters bit for bit, with
 * the input gradients on Winograd and on im2col + sgemm; the fused plan is no larger. */
#include <string.h>

#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/ops.h"
#include "runtime/ops/kernels.h"
#include "tests/test.h"

#define HEAD                                                                          \
    "criterion = CrossEntropyLoss()\n"                                                \
    "optimizer = optim.Adam(model.parameters(), lr=0.01)\n"

static const char basic[] =
    "model Block(c) {\n"
    "    conv1 = Conv2d(c, c, 3, padding=1, bias=False)\n"
    "    bn1 = BatchNorm2d(c)\n"
    "    conv2 = Conv2d(c, c, 3, padding=1, bias=False)\n"
    "    bn2 = BatchNorm2d(c)\n"
    "    forward(x) {\n"
    "        out = F.relu(self.bn1(self.conv1(x)))\n"
    "        out = self.bn2(self.conv2(out))\n"
    "        return F.relu(out + x)\n"
    "    }\n"
    "}\n"
    "model Net {\n"
    "    input [3, 7, 5]\n"
    "    stem = Sequential(Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), ReLU())\n"
    "    block = Sequential(Block(8), MaxPool2d(2))\n"
    "    head = Sequential(Flatten(), Dropout(0.5), Linear(8 * 3 * 2, 3))\n"
    "}\n" HEAD;

static const char direct[] =
    "model Net {\n"
    "    input [3, 6, 5]\n"
    "    stem = Sequential(Conv2d(3, 8, 3, padding=1), ReLU())\n"
    "    conv = Conv2d(8, 8, 3, padding=1)\n"
    "    head = Sequential(Flatten(), Linear(8 * 3 * 3, 3))\n"
    "    forward(x) {\n"
    "        x = self.stem(x)\n"
    "        return self.head(F.max_pool2d(F.relu(self.conv(x) + x), 3, 2, 1))\n"
    "    }\n"
    "}\n" HEAD;

static const char thrice[] =
    "model Net {\n"
    "    input [3, 7, 5]\n"
    "    stem = Sequential(Conv2d(3, 8, 3, padding=1), ReLU())\n"
    "    conv1 = Conv2d(8, 8, 3, padding=1, bias=False)\n"
    "    bn1 = BatchNorm2d(8)\n"
    "    conv2 = Conv2d(8, 8, 3, padding=1, bias=False)\n"
    "    bn2 = BatchNorm2d(8)\n"
    "    head = Sequential(Flatten(), Linear(8 * 7 * 5, 3))\n"
    "    forward(x) {\n"
    "        x = self.stem(x)\n"
    "        out = self.bn1(self.conv1(x))\n"
    "        y = self.bn2(self.conv2(x))\n"
    "        s = out + y\n"
    "        return self.head(F.relu(s + x))\n"
    "    }\n"
    "}\n" HEAD;

static const char catpool[] =
    "model Net {\n"
    "    input [3, 6, 7]\n"
    "    a = Conv2d(3, 4, 3, padding=1)\n"
    "    b = Conv2d(3, 4, 3, padding=1)\n"
    "    head = Sequential(Flatten(), Linear(8 * 3 * 3, 3))\n"
    "    forward(x) {\n"
    "        return self.head(F.max_pool2d(F.relu(torch.cat([self.a(x), self.b(x)], dim=1)), 2))\n"
    "    }\n"
    "}\n" HEAD;

static Graph *build(const Program *p, int no_fuse)
{
    LowerOptions lo = { .batch = 5, .training = 1, .no_fuse = no_fuse };
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

/* adds in the backward phase, conv2d_backward_input nodes with an acc input,
 * maxpool2d_backward (fused: relu_maxpool2d_backward) nodes, and BatchNorm backward nodes
 * writing dx over dy */
static void count(const Graph *g, int *adds, int *accs, int *pools, int *unpools, int *in_place)
{
    *adds = *accs = *pools = *unpools = *in_place = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        *adds += n->op == OP_add && n->phase == PHASE_BACKWARD;
        *pools += n->op == OP_maxpool2d_backward;
        *unpools += n->op == OP_relu_maxpool2d_backward;
        if ((n->op == OP_batchnorm_backward || n->op == OP_batchnorm_relu_backward) &&
            g->vals[n->out[0]].view_of == n->in[0]) {
            ++*in_place;
            for (int j = i + 1; j < g->nnodes; j++)
                for (int k = 0; k < g->nodes[j].nin; k++)
                    CHECK(g->nodes[j].in[k] != n->in[0], "node %d reads dy after node %d writes dx over it", j, i);
        }
        if (n->op == OP_conv2d_backward_input && n->nin == 3) {
            ++*accs;
            CHECK(g->vals[n->out[0]].view_of == n->in[2], "node %d: the sum is not in acc's storage", i);
            for (int j = i; j < g->nnodes; j++)
                for (int k = 0; k < g->nodes[j].nin; k++)
                    CHECK(j == i || g->nodes[j].in[k] != n->in[2], "node %d reads acc after node %d writes over it",
                          j, i);
        }
    }
}

static void run(Graph *g, int n, int seed)
{
    Rng r;
    rng_seed(&r, (uint64_t)seed);
    graph_set_batch(g, n);
    float *x = vf32(g, g->input);
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = 2 * rng_uniform(&r) - 1;
    for (int i = 0; i < n; i++) vi32(g, g->label)[i] = (int32_t)rng_below(&r, 3);
    g->training = 1;
    g->step++;
    exec_run(g, PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE);
}

/* every value of kind k in f equal, bit for bit, to u's of that name; returns how many */
static int same(const Graph *f, const Graph *u, ValueKind kind, const char *when)
{
    int compared = 0;
    for (int i = 0; i < f->nvals; i++) {
        if (f->vals[i].kind != kind) continue;
        int j = -1;
        for (int k = 0; k < u->nvals; k++)
            if (u->vals[k].kind == kind && strcmp(u->vals[k].name, f->vals[i].name) == 0) j = k;
        CHECK(j >= 0, "%s missing from the unfused graph", f->vals[i].name);
        if (j < 0) continue;
        compared++;
        CHECK(memcmp(f->vals[i].data, u->vals[j].data, value_bytes(&f->vals[i])) == 0, "%s: %s differs", when,
              f->vals[i].name);
    }
    return compared;
}

static void test_model(const char *name, const char *src, size_t len, int want_adds, int want_accs, int want_pools,
                       int want_in_place)
{
    Program p;
    if (check_source(name, src, len, NULL, &p, stderr) < 0) {
        CHECK(0, "%s does not check", name);
        return;
    }
    for (int wino = 0; wino <= 1; wino++) {
        conv2d_use_winograd(wino);
        Graph *f = build(&p, 0), *u = build(&p, 1);
        if (f && u) {
            int adds, accs, pools, unpools, in_place, uadds, uaccs, upools, uunpools, uin_place;
            count(f, &adds, &accs, &pools, &unpools, &in_place);
            count(u, &uadds, &uaccs, &upools, &uunpools, &uin_place);
            CHECK(in_place == want_in_place && uin_place == 0, "%s: %d BatchNorm backward in place, expected %d (%d unfused)",
                  name, in_place, want_in_place, uin_place);
            CHECK(adds == want_adds && accs == want_accs, "%s: %d adds and %d accumulating gradients, expected %d and %d",
                  name, adds, accs, want_adds, want_accs);
            CHECK(uaccs == 0 && uadds == want_adds + want_accs, "%s unfused: %d adds, %d accumulating", name, uadds,
                  uaccs);
            CHECK(pools == 0 && unpools == want_pools && upools == want_pools && uunpools == 0,
                  "%s: %d maxpool2d_backward and %d relu_maxpool2d_backward fused, %d and %d unfused, expected %d",
                  name, pools, unpools, upools, uunpools, want_pools);
            CHECK(f->arena_bytes <= u->arena_bytes, "%s: the plan's arena grew (%zu vs %zu bytes)", name,
                  f->arena_bytes, u->arena_bytes);
            int sizes[3] = { 5, 5, 3 };
            for (int s = 0; s < 3; s++) {
                char when[96];
                snprintf(when, sizeof when, "%s, Winograd %d, step %d", name, wino, s);
                run(f, sizes[s], 20 + s);
                run(u, sizes[s], 20 + s);
                CHECK(vf32(f, f->loss)[0] == vf32(u, u->loss)[0], "%s: loss %.9g fused, %.9g plain", when,
                      vf32(f, f->loss)[0], vf32(u, u->loss)[0]);
                CHECK(memcmp(vf32(f, f->logits), vf32(u, u->logits), value_bytes(&f->vals[f->logits])) == 0,
                      "%s: logits differ", when);
                CHECK(same(f, u, VK_GRAD, when) > 0, "%s: no gradients compared", when);
                CHECK(same(f, u, VK_PARAM, when) > 0, "%s: no parameters compared", when);
            }
        }
        graph_free(f);
        graph_free(u);
    }
    conv2d_use_winograd(-1);
    program_free(&p);
}

int main(void)
{
    conv2d_use_direct(0);
    test_model("basic.cnn", basic, sizeof basic - 1, 0, 1, 1, 2);
    test_model("direct.cnn", direct, sizeof direct - 1, 1, 0, 1, 0);
    test_model("thrice.cnn", thrice, sizeof thrice - 1, 1, 1, 0, 1);
    test_model("catpool.cnn", catpool, sizeof catpool - 1, 0, 0, 1, 0);
    return test_done("test_fuse_backward");
}
