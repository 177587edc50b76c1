/* runtime/ops/cat.c: torch.cat(..., dim=1) of 2 to CN_MAX_IN values, and `slice`, which
 * takes a range of dim 1 back out: cat's backward is one slice of dy per input.
 *
 *   cat(x0, x1, ...) -> y        every x of one dtype, ndim (>= 2), batching and dims other
 *                                than dim 1; y's dim 1 is the sum of theirs
 *   slice(x) -> y                y = x[:, start:start+count] (Attrs start, count)
 *   slice_backward(dy) -> dx     dx = zeros of shape hint (x's) with dy at [:, start:start+count]
 *
 * Blocks are copied whole: dim 1 and the dims after it are contiguous in each item. */
#include <string.h>

#include "../ops.h"
#include "kernels.h"

/* y[n] = x0[n] ++ x1[n] ++ ... ; block[i] = elements of x_i per item, elem = bytes each */
void cat_forward(void *y, const void *const *x, const size_t *block, int nx, int N, size_t elem)
{
    char *out = y;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < nx; i++) {
            size_t b = block[i] * elem;
            memcpy(out, (const char *)x[i] + (size_t)n * b, b);
            out += b;
        }
}

/* y[n] = x[n][offset .. offset + block) with `item` elements per item of x */
void slice_forward(void *y, const void *x, size_t item, size_t offset, size_t block, int N, size_t elem)
{
    for (int n = 0; n < N; n++)
        memcpy((char *)y + (size_t)n * block * elem, (const char *)x + ((size_t)n * item + offset) * elem, block * elem);
}

static size_t elem_size(const Value *v) { return v->dtype == DT_F32 ? sizeof(float) : sizeof(int32_t); }

/* Elements per item after dim 1 */
static size_t inner_of(const Value *v)
{
    size_t inner = 1;
    for (int d = 2; d < v->ndim; d++) inner *= (size_t)v->shape[d];
    return inner;
}

static int cat_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, CN_MAX_IN, e) < 0) return -1;
    const Value *x0 = &g->vals[n->in[0]];
    char s0[64], si[64];
    shape_str(x0, 0, s0, sizeof s0);
    if (x0->ndim < 2) return err_set(e, "cat over dim 1 expects tensors of at least 2 dims, but x0 is %s", s0);
    int shape[CN_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    for (int i = 1; i < n->nin; i++) {
        const Value *x = &g->vals[n->in[i]];
        shape_str(x, 0, si, sizeof si);
        int fits = x->ndim == x0->ndim && x->dtype == x0->dtype && x->batched == x0->batched;
        for (int d = 0; fits && d < x->ndim; d++) fits = d == 1 || x->shape[d] == x0->shape[d];
        if (!fits)
            return err_set(e, "cat over dim 1 expects tensors that differ in dim 1 alone, but x0 is %s and x%d is %s",
                           s0, i, si);
        shape[1] += x->shape[1];
    }
    graph_output(g, n, x0->dtype, x0->ndim, shape, x0->batched);
    return 0;
}

static void cat_run(Graph *g, const Node *n)
{
    const void *x[CN_MAX_IN];
    size_t block[CN_MAX_IN];
    for (int i = 0; i < n->nin; i++) {
        const Value *v = &g->vals[n->in[i]];
        x[i] = v->data;
        block[i] = (size_t)v->shape[1] * inner_of(v);
    }
    const Value *y = &g->vals[n->out[0]];
    cat_forward(y->data, x, block, n->nin, y->shape[0], elem_size(y));
}

/* dx_i = slice(dy, start = the channels before x_i, count = x_i's) */
static int cat_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0) return 0;
    int start = 0;
    for (int i = 0; i < n.nin; i++) {
        int x = n.in[i], count = g->vals[x].shape[1];
        if (g->vals[x].requires_grad) {
            Attrs a;
            memset(&a, 0, sizeof a);
            a.start = start;
            a.count = count;
            int dx = graph_apply(g, OP_slice, &dout[0], 1, &a, e);
            if (dx < 0 || graph_accumulate_grad(g, x, dx, e) < 0) return -1;
        }
        start += count;
    }
    return 0;
}

const OpDef op_cat = { "cat", cat_infer, cat_run, cat_grad };

static int slice_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0) return -1;
    const Value *x = &g->vals[n->in[0]];
    char s[64];
    shape_str(x, 0, s, sizeof s);
    if (x->ndim < 2) return err_set(e, "slice over dim 1 expects a tensor of at least 2 dims, but x is %s", s);
    if (n->a.start < 0 || n->a.count < 1 || n->a.start > x->shape[1] - n->a.count)
        return err_set(e, "slice [%d, %d) of dim 1 does not fit in x (%s)", n->a.start, n->a.start + n->a.count, s);
    int shape[CN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[1] = n->a.count;
    graph_output(g, n, x->dtype, x->ndim, shape, x->batched);
    return 0;
}

static void slice_run(Graph *g, const Node *n)
{
    const Value *x = &g->vals[n->in[0]];
    size_t inner = inner_of(x);
    slice_forward(g->vals[n->out[0]].data, x->data, (size_t)x->shape[1] * inner, (size_t)n->a.start * inner,
                  (size_t)n->a.count * inner, x->shape[0], elem_size(x));
}

/* dx = slice_backward(dy) with x's shape as the hint */
static int slice_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0];
    if (dout[0] < 0 || !g->vals[x].requires_grad) return 0;
    Attrs a = n.a;
    a.hint_ndim = g->vals[x].ndim;
    memcpy(a.hint, g->vals[x].shape, sizeof a.hint);
    int dx = graph_apply(g, OP_slice_backward, &dout[0], 1, &a, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, x, dx, e);
}

const OpDef op_slice = { "slice", slice_infer, slice_run, slice_grad };

static int slice_backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "dy", DT_F32, 0, e) < 0) return -1;
    const Value *dy = &g->vals[n->in[0]];
    int fits = n->a.hint_ndim == dy->ndim && dy->ndim >= 2 && dy->shape[1] == n->a.count && n->a.start >= 0 &&
               n->a.start <= n->a.hint[1] - n->a.count;
    for (int d = 0; fits && d < dy->ndim; d++) fits = d == 1 || d == 0 || n->a.hint[d] == dy->shape[d];
    if (!fits) return err_set(e, "slice_backward: dy does not fit the hint's shape at [%d, +%d) of dim 1", n->a.start,
                              n->a.count);
    int shape[CN_MAX_DIMS];
    memcpy(shape, n->a.hint, sizeof shape);
    shape[0] = dy->shape[0];
    graph_output(g, n, DT_F32, dy->ndim, shape, dy->batched);
    return 0;
}

static void slice_backward_run(Graph *g, const Node *n)
{
    const Value *dx = &g->vals[n->out[0]];
    size_t inner = inner_of(dx), item = (size_t)dx->shape[1] * inner, block = (size_t)n->a.count * inner;
    float *out = vf32(g, n->out[0]);
    const float *dy = vf32(g, n->in[0]);
    memset(out, 0, value_bytes(dx));
    for (int i = 0; i < dx->shape[0]; i++)
        memcpy(out + (size_t)i * item + (size_t)n->a.start * inner, dy + (size_t)i * block, block * sizeof(float));
}

const OpDef op_slice_backward = { "slice_backward", slice_backward_infer, slice_backward_run, NULL };
