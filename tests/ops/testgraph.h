/* tests/ops/testgraph.h: helpers shared by the op tests: build a small graph, give every
 * value its own storage without the memory planner, run its nodes, call backward rules,
 * fill arrays at random and compare them against double-precision references. */
#ifndef CN_TESTS_OPS_TESTGRAPH_H
#define CN_TESTS_OPS_TESTGRAPH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/graph.h"
#include "../../runtime/ops.h"
#include "../../runtime/ops/kernels.h"
#include "../test.h"

/* A value with no producer; shape given as dims. */
static inline int tg_value(Graph *g, const char *name, ValueKind kind, DType dt, int batched,
                           int ndim, const int *shape)
{
    return graph_value(g, name, kind, dt, ndim, shape, batched);
}

/* graph_add that stops the test on error: the tests build graphs that must fit. */
static inline int tg_node(Graph *g, int op, const int *in, int nin, const Attrs *a)
{
    Error e;
    int n = graph_add(g, op, in, nin, a, &e);
    if (n < 0) {
        fprintf(stderr, "test graph: %s: %s\n", op_table[op]->name, e.msg);
        exit(2);
    }
    return n;
}

/* Output k of node n */
static inline int tg_out(const Graph *g, int n, int k) { return g->nodes[n].out[k]; }

/* Gives every value that is not a view its own storage at the current shapes: offsets
 * within the block of its kind (params, grads, state, arena for the rest), then binds. */
static inline void tg_bind(Graph *g)
{
    size_t blocks[4] = { 0, 0, 0, 0 };   /* param, grad, state, arena */
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (v->view_of >= 0) continue;
        int b = v->kind == VK_PARAM || v->kind == VK_BUFFER ? 0 : v->kind == VK_GRAD ? 1 : v->kind == VK_STATE ? 2 : 3;
        v->offset = blocks[b];
        blocks[b] += (value_bytes(v) + 63) / 64 * 64;
    }
    g->param_bytes = blocks[0];
    g->grad_bytes = blocks[1];
    g->state_bytes = blocks[2];
    g->arena_bytes = blocks[3];
    graph_bind(g);
}

/* Runs the nodes whose phase is in the mask, in order. */
static inline void tg_run(Graph *g, int phases)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].phase & phases) op_table[g->nodes[i].op]->forward(g, &g->nodes[i]);
}

/* Calls node n's backward rule with its outputs' gradients dout (as autodiff does, in the
 * backward phase); stops the test on error. */
static inline void tg_backward(Graph *g, int n, const int *dout)
{
    Error e;
    Phase saved = g->cur_phase;
    g->cur_phase = PHASE_BACKWARD;
    Node copy = g->nodes[n];
    if (op_table[copy.op]->backward(g, copy, dout, &e) < 0) {
        fprintf(stderr, "test graph: backward of %s: %s\n", op_table[copy.op]->name, e.msg);
        exit(2);
    }
    g->cur_phase = saved;
}

/* Number of nodes applying op */
static inline int tg_count_op(const Graph *g, int op)
{
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) c += g->nodes[i].op == op;
    return c;
}

static inline void tg_fill(float *a, size_t n, float lo, float hi, Rng *r)
{
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng_uniform(r);
}

static inline void tg_to_double(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = f[i];
}

/* One check that every got[i] is within atol + rtol * |want[i]|; reports the worst. */
static inline void tg_check_array(const float *got, const double *want, size_t n, double atol,
                                  double rtol, const char *what)
{
    size_t worst = 0, bad = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]), allowed = atol + rtol * fabs(want[i]);
        if (!(err <= allowed)) bad++;
        double excess = isnan(err) ? INFINITY : err - allowed;
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    CHECK(bad == 0, "%s: %zu of %zu elements off, worst [%zu] got %.9g, expected %.9g", what, bad, n,
          worst, n ? (double)got[worst] : 0.0, n ? want[worst] : 0.0);
}

/* One check that got equals want exactly (bitwise for non-NaN floats). */
static inline void tg_check_equal(const float *got, const float *want, size_t n, const char *what)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i] && !bad++) first = i;
    CHECK(bad == 0, "%s: %zu of %zu elements differ, first [%zu] got %.9g, expected %.9g", what, bad, n,
          first, n ? (double)got[first] : 0.0, n ? (double)want[first] : 0.0);
}

/* d(loss)/d(x[i]) by central differences of a double-precision loss(ctx) */
static inline double tg_central_diff(double *x, size_t i, double h, double (*loss)(void *ctx), void *ctx)
{
    double saved = x[i];
    x[i] = saved + h;
    double up = loss(ctx);
    x[i] = saved - h;
    double down = loss(ctx);
    x[i] = saved;
    return (up - down) / (2 * h);
}

/* Every d(loss)/d(x[i]) by central differences into grad[n] */
static inline void tg_numeric_grad(double *grad, double *x, size_t n, double h,
                                   double (*loss)(void *ctx), void *ctx)
{
    for (size_t i = 0; i < n; i++) grad[i] = tg_central_diff(x, i, h, loss, ctx);
}

#endif
