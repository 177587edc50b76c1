/* runtime/ops/add.c: elementwise sum of two tensors of one shape: a residual connection
 * `out + x` (differentiable: dy goes to both inputs, summed when they are one value), and
 * how autodiff accumulates the gradients of a value read twice. */
#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

typedef struct Add { float *y; const float *a, *b; size_t n; } Add;

static void add_share(void *ctx, int t, int T)
{
    const Add *j = ctx;
    size_t hi = par_lo(j->n, t + 1, T);
#pragma omp simd
    for (size_t i = par_lo(j->n, t, T); i < hi; i++) j->y[i] = j->a[i] + j->b[i];
}

/* y[n] = a + b */
void add_forward(float *y, const float *a, const float *b, size_t n)
{
    Add j = { y, a, b, n };
    par_run(n > 32768 ? par_threads() : 1, add_share, &j);
}

/* add(a, b) -> y, all the same shape */
static int add_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "a", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1, "b", DT_F32, 0, e) < 0 || op_expect_same_shape(g, n, 0, "a", 1, "b", e) < 0)
        return -1;
    const Value *a = &g->vals[n->in[0]], *b = &g->vals[n->in[1]];
    if (a->batched != b->batched)
        return err_set(e, "add expects a and b both batched or both not");
    graph_output(g, n, DT_F32, a->ndim, a->shape, a->batched);
    return 0;
}

static void add_run(Graph *g, const Node *n)
{
    add_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]), value_numel(&g->vals[n->in[0]]));
}

/* da = dy, db = dy */
static int add_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0) return 0;
    for (int i = 0; i < 2; i++)
        if (g->vals[n.in[i]].requires_grad && graph_accumulate_grad(g, n.in[i], dout[0], e) < 0) return -1;
    return 0;
}

const OpDef op_add = { "add", add_infer, add_run, add_grad };
