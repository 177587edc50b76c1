/* tests/graph/test_plan.c: the memory plan never lets two live tensors share bytes, and
 * a training step over the shared plan computes bit for bit what it computes when every
 * tensor has storage of its own; cached values (a BatchNorm fold's) share with none. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/ops.h"
#include "sea_program.h"
#include "tests/test.h"

static int base_of(const Graph *g, int v)
{
    while (g->vals[v].view_of >= 0) v = g->vals[v].view_of;
    return v;
}

/* lifetimes recomputed here, independently of plan.c */
static void check_no_overlap(const Graph *g)
{
    int n = g->nvals;
    int *first = calloc((size_t)n, sizeof *first), *last = calloc((size_t)n, sizeof *last);
    for (int i = 0; i < n; i++) first[i] = last[i] = g->vals[i].producer;
    for (int k = 0; k < g->nnodes; k++) {
        const Node *nd = &g->nodes[k];
        for (int j = 0; j < nd->nin; j++) {
            int b = base_of(g, nd->in[j]);
            if (k > last[b]) last[b] = k;
        }
        for (int j = 0; j < nd->nout; j++) {
            int b = base_of(g, nd->out[j]);
            if (k > last[b]) last[b] = k;
        }
    }
    for (int i = 0; i < n; i++) {
        if (g->vals[i].keep || g->vals[i].cached) last[base_of(g, i)] = g->nnodes;
        if (g->vals[i].cached) first[i] = -1;      /* kept from one run to the next */
    }
    int conflicts = 0, shared = 0;
    for (int a = 0; a < n; a++) {
        const Value *va = &g->vals[a];
        if (va->view_of >= 0 || !(va->kind == VK_ACT || va->kind == VK_INPUT || va->kind == VK_LABEL)) continue;
        for (int b = a + 1; b < n; b++) {
            const Value *vb = &g->vals[b];
            if (vb->view_of >= 0 || !(vb->kind == VK_ACT || vb->kind == VK_INPUT || vb->kind == VK_LABEL)) continue;
            int bytes_overlap = va->offset < vb->offset + value_bytes(vb) && vb->offset < va->offset + value_bytes(va);
            int live_overlap = !(last[a] < first[b] || last[b] < first[a]);
            shared += bytes_overlap;
            if (bytes_overlap && live_overlap) {
                conflicts++;
                CHECK(0, "values %d and %d share bytes while both live", a, b);
            }
            CHECK(va->offset + value_bytes(va) <= g->arena_bytes, "value %d beyond the arena", a);
        }
    }
    CHECK(conflicts == 0, "%d conflicts", conflicts);
    CHECK(shared > 0, "the plan shares no storage at all");
    free(first);
    free(last);
}

/* Whether value v's bytes overlap those of another arena value of g */
static int shares_bytes(const Graph *g, int v)
{
    const Value *c = &g->vals[v];
    for (int i = 0; i < g->nvals; i++) {
        const Value *u = &g->vals[i];
        if (i != v && (u->kind == VK_ACT || u->kind == VK_INPUT) && u->view_of < 0 &&
            c->offset < u->offset + value_bytes(u) && u->offset < c->offset + value_bytes(c))
            return 1;
    }
    return 0;
}

/* x -> relu -> a -> maxpool2d(2) -> b; batchnorm_fold(w, mean, var) -> w2, b2; conv2d(b, w2,
 * b2) -> y: the bytes of x and a, dead before the fold, would do for w2 but for its being
 * cached */
static void cached_values_kept(void)
{
    Graph *g = graph_new();
    Error e = { "" };
    int xs[4] = { 1, 4, 8, 8 }, ws[4] = { 4, 4, 3, 3 }, four = 4;
    int x = graph_value(g, "x", VK_INPUT, DT_F32, 4, xs, 1);
    int w = graph_value(g, "conv.weight", VK_PARAM, DT_F32, 4, ws, 0);
    int mean = graph_value(g, "bn.running_mean", VK_BUFFER, DT_F32, 1, &four, 0);
    int var = graph_value(g, "bn.running_var", VK_BUFFER, DT_F32, 1, &four, 0);
    Attrs pa = { .kernel = 2, .stride = 2 };
    int a = graph_apply(g, OP_relu, &x, 1, NULL, &e), b = a < 0 ? -1 : graph_apply(g, OP_maxpool2d, &a, 1, &pa, &e);
    int in[3] = { w, mean, var };
    Attrs fa = { .eps = 1e-5 };
    int f = b < 0 ? -1 : graph_add(g, OP_batchnorm_fold, in, 3, &fa, &e);
    Attrs ca = { .kernel = 3, .stride = 1, .padding = 1 };
    int cin[3] = { b, f < 0 ? -1 : g->nodes[f].out[0], f < 0 ? -1 : g->nodes[f].out[1] };
    int y = f < 0 ? -1 : graph_apply(g, OP_conv2d, cin, 3, &ca, &e);
    CHECK(y >= 0, "the graph builds: %s", e.msg);
    if (y < 0) {
        graph_free(g);
        return;
    }
    g->vals[y].keep = 1;
    PlanStats st;
    plan_memory(g, &st);
    CHECK(shares_bytes(g, cin[1]), "not cached, the fold's weight shares bytes (else this case tests nothing)");
    g->vals[cin[1]].cached = g->vals[cin[2]].cached = 1;
    plan_memory(g, &st);
    check_no_overlap(g);
    CHECK(!shares_bytes(g, cin[1]) && !shares_bytes(g, cin[2]), "a cached value shares bytes");
    graph_free(g);
}

typedef struct Snapshot { float *loss, *logits, *params; size_t nlogits, nparams; } Snapshot;

static Graph *build(Program *p, int shared, PlanStats *st)
{
    LowerOptions lo = { .batch = 4, .training = 1 };
    Error e;
    Graph *g = lower_program(p, &lo, &e);
    if (!g) return NULL;
    if (shared) plan_memory(g, st);
    else plan_unshared(g);
    graph_bind(g);
    init_parameters(g, 3);
    return g;
}

static void step(Graph *g, int n, int seed)
{
    Rng r;
    rng_seed(&r, (uint64_t)seed);
    graph_set_batch(g, n);
    float *x = vf32(g, g->input);
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = rng_uniform(&r);
    for (int i = 0; i < n; i++) vi32(g, g->label)[i] = (int32_t)rng_below(&r, 5);
    g->training = 1;
    g->step++;
    exec_run(g, PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE);
    /* the batch is still there after the step: the trainer counts correct labels from it */
    rng_seed(&r, (uint64_t)seed);
    int intact = 1;
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) intact &= x[i] == rng_uniform(&r);
    for (int i = 0; i < n; i++) intact &= vi32(g, g->label)[i] == (int32_t)rng_below(&r, 5);
    CHECK(intact, "the input or label batch was overwritten during the step");
}

int main(void)
{
    Program p;
    sea_program(&p, 3, 16, 20, 4, 6, 8, 5, 0.5f);
    PlanStats st;
    Graph *a = build(&p, 1, &st), *b = build(&p, 0, NULL);
    CHECK(a && b, "lowering failed");
    if (!a || !b) return test_done("test_plan");
    check_no_overlap(a);
    CHECK(st.arena_bytes < st.unshared_bytes, "arena %zu not smaller than %zu", st.arena_bytes, st.unshared_bytes);
    CHECK(st.param_bytes == b->param_bytes, "parameter block differs");
    rng_seed(&a->rng, 5);
    rng_seed(&b->rng, 5);
    /* three steps, the last with a partial batch */
    int sizes[3] = { 4, 4, 3 };
    for (int s = 0; s < 3; s++) {
        step(a, sizes[s], 100 + s);
        step(b, sizes[s], 100 + s);
        CHECK(vf32(a, a->loss)[0] == vf32(b, b->loss)[0], "step %d: loss %g vs %g", s, vf32(a, a->loss)[0],
              vf32(b, b->loss)[0]);
        CHECK(memcmp(vf32(a, a->logits), vf32(b, b->logits), value_bytes(&a->vals[a->logits])) == 0,
              "step %d: logits differ", s);
    }
    for (int i = 0; i < a->nvals; i++) {
        if (a->vals[i].kind != VK_PARAM) continue;
        CHECK(memcmp(a->vals[i].data, b->vals[i].data, value_bytes(&a->vals[i])) == 0, "%s differs after 3 steps",
              a->vals[i].name);
    }
    graph_free(a);
    graph_free(b);
    free(p.layers);
    cached_values_kept();
    return test_done("test_plan");
}
