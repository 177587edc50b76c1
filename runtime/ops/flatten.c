/* runtime/ops/flatten.c: Flatten (start_dim=1) as a view: the output shares its input's
 * storage, so there is no kernel. With a shape hint it reshapes instead, which is how its
 * backward "unflattens" dy. */
#include <string.h>

#include "../ops.h"
#include "kernels.h"

/* flatten(x[N,...]) -> y[N, prod(...)], or y[hint] (dim 0 following x's batch) when the
 * hint is set; y is a view of x. */
static int flatten_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0) return -1;
    const Value *x = &g->vals[n->in[0]];
    int ndim, shape[CN_MAX_DIMS];
    char xs[64];
    shape_str(x, 0, xs, sizeof xs);
    if (n->a.hint_ndim > 0) {
        ndim = n->a.hint_ndim;
        memcpy(shape, n->a.hint, sizeof shape);
        if (x->ndim < 1 || ndim > CN_MAX_DIMS)
            return err_set(e, "flatten cannot reshape %s to %d dims", xs, ndim);
        if (x->batched) shape[0] = x->shape[0];
        size_t numel = 1;
        for (int i = 0; i < ndim; i++) numel *= (size_t)shape[i];
        if (numel != value_numel(x))
            return err_set(e, "flatten cannot reshape %s (%zu elements) to the %d dims of its hint (%zu elements)",
                           xs, value_numel(x), ndim, numel);
    } else {
        if (x->ndim < 2) return err_set(e, "flatten expects a batch of at least 2 dims, but x is %s", xs);
        ndim = 2;
        shape[0] = x->shape[0];
        shape[1] = (int)value_item_numel(x);
    }
    int y = graph_output(g, n, x->dtype, ndim, shape, x->batched);
    g->vals[y].view_of = n->in[0];
    return 0;
}

/* A view: graph_bind already pointed y at x's storage. */
static void flatten_run(Graph *g, const Node *n)
{
    (void)g;
    (void)n;
}

/* dx = flatten(dy) with hint = x's shape */
static int flatten_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0];
    if (dout[0] < 0 || !g->vals[x].requires_grad) return 0;
    Attrs a = { 0 };
    a.hint_ndim = g->vals[x].ndim;
    memcpy(a.hint, g->vals[x].shape, sizeof a.hint);
    int dx = graph_apply(g, OP_flatten, &dout[0], 1, &a, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, x, dx, e);
}

const OpDef op_flatten = { "flatten", flatten_infer, flatten_run, flatten_grad };
