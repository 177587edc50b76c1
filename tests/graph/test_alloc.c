/* tests/graph/test_alloc.c: once the first training step has run, further steps (full and
 * partial batches, training and evaluation) make no heap allocation: neither the runtime's
 * own counter (alloc_count) nor a count of every malloc, calloc and realloc called from
 * cnnc's code (linked with --wrap, so the C library's functions are counted at each call
 * site in the runtime, not only those that go through xmalloc) moves. */
#include <stdlib.h>

static unsigned long raw_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { raw_allocs++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { raw_allocs++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { raw_allocs++; return __real_realloc(p, n); }

#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "sea_program.h"
#include "tests/test.h"

static void step(Graph *g, int n, int training)
{
    graph_set_batch(g, n);
    for (int i = 0; i < n; i++) vi32(g, g->label)[i] = i % 5;
    g->training = training;
    if (training) g->step++;
    exec_run(g, training ? PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE : PHASE_FORWARD);
}

int main(void)
{
    Program p;
    sea_program(&p, 3, 24, 24, 4, 6, 8, 5, 0.5f);
    LowerOptions lo = { .batch = 6, .training = 1 };
    Error e;
    Graph *g = sea_graph(&p, &lo, 1, &e);
    CHECK(g != NULL, "lowering failed");
    if (!g) return test_done("test_alloc");
    Rng r;
    rng_seed(&r, 3);
    float *x = vf32(g, g->input);
    for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = rng_uniform(&r);
    step(g, 6, 1);                       /* the first step warms the scratch buffers */
    step(g, 1, 0);
    unsigned long before = alloc_count(), raw_before = raw_allocs;
    step(g, 6, 1);
    step(g, 4, 1);
    step(g, 6, 0);
    step(g, 1, 0);
    step(g, 6, 1);
    CHECK(alloc_count() == before, "%lu heap allocations during steps after the first", alloc_count() - before);
    CHECK(raw_allocs == raw_before, "%lu malloc/calloc/realloc calls during steps after the first",
          raw_allocs - raw_before);
    CHECK(before > 0 && raw_before > 0, "the counters count nothing");
    graph_free(g);
    free(p.layers);
    return test_done("test_alloc");
}
