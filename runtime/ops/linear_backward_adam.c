/* runtime/ops/linear_backward_adam.c: a Linear layer's backward fused with the Adam step of
 * its weight. Each thread takes a share of the columns and four rows of the weight at a
 * time: their terms of the input gradient (from the weight before it changes), their
 * gradient (never stored whole) and their Adam step, while the rows are in cache: the
 * weight is read from memory once instead of three times, and its gradient (4 bytes per
 * parameter) is neither written nor read back. The
 * results are those of linear_backward_input, linear_backward_weight and adam, bit for bit
 * (the fusion pass, compiler/fuse.c, puts it in place of the three). Batches above
 * LINEAR_SMALL_N run the three kernels one after the other. */
#include <omp.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* columns at a time: the chunk's dx and x rows and four weight rows stay in cache */
#define CHUNK 4096

void linear_backward_adam(float *dx, float *db, const float *dy, const float *x, float *w, float *exp_avg,
                          float *exp_avg_sq, int N, int in, int out, const AdamHyper *h, int64_t step)
{
    if (N == 0 || N > LINEAR_SMALL_N) {
        float *g = op_scratch(1, (size_t)out * in);
        linear_backward_input(dx, dy, w, N, in, out);
        linear_backward_weight(g, db, dy, x, N, in, out);
        adam_update(w, g, exp_avg, exp_avg_sq, (size_t)out * in, h, step);
        return;
    }
    AdamScalars s = adam_scalars(h, step);
    int blocks = (in + 63) / 64, T = par_threads();
    if (T > blocks) T = blocks;
    /* each thread its share of the columns, CHUNK columns and four rows of the weight at a
     * time: their terms of dx, their gradient (into a buffer of 4 x CHUNK) and their Adam
     * step, while the rows are still in cache */
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = T > 1 ? omp_get_thread_num() : 0;
        int lo = blocks * t / T * 64, hi = blocks * (t + 1) / T * 64;
        if (hi > in) hi = in;
        float *g = op_scratch(1, 4 * CHUNK);
        for (int c0 = lo; c0 < hi; c0 += CHUNK) {
            int c1 = c0 + CHUNK < hi ? c0 + CHUNK : hi;
            size_t len = (size_t)(c1 - c0);
            for (int o0 = 0; o0 < out; o0 += 4) {
                int o1 = o0 + 4 < out ? o0 + 4 : out;
                linear_small_backward_input(dx, dy, w, N, in, out, o0, o1, c0, c1);
                linear_small_backward_weight(g, len, dy, x, N, in, out, o0, o1, c0, c1);
                for (int o = o0; o < o1; o++) {
                    size_t at = (size_t)o * in + c0;
                    adam_apply(w + at, g + (size_t)(o - o0) * len, exp_avg + at, exp_avg_sq + at, len, &s);
                }
            }
        }
    }
    if (db) linear_backward_bias(db, dy, N, out);
}

/* linear_backward_adam(dy[N,out], x[N,in], w[out,in], exp_avg, exp_avg_sq) -> dx[N,in], and
 * db[out] when the hint is [out]; updates w and the moments in place (attributes: Adam's) */
static int fused_infer(Graph *g, Node *n, Error *e)
{
    static const char *what[5] = { "dy (N x out_features)", "x (N x in_features)",
                                   "the weight (out_features x in_features)", "exp_avg", "exp_avg_sq" };
    if (op_expect_inputs(g, n, 5, 5, e) < 0) return -1;
    for (int i = 0; i < 5; i++)
        if (op_expect(g, n, i, what[i], DT_F32, 2, e) < 0) return -1;
    if (op_expect_same_shape(g, n, 2, "the weight", 3, "exp_avg", e) < 0 ||
        op_expect_same_shape(g, n, 2, "the weight", 4, "exp_avg_sq", e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]], *x = &g->vals[n->in[1]], *w = &g->vals[n->in[2]];
    if (dy->shape[0] != x->shape[0] || dy->shape[1] != w->shape[0] || x->shape[1] != w->shape[1])
        return err_set(e, "linear_backward_adam: dy %dx%d and x %dx%d do not fit the %dx%d weight", dy->shape[0],
                       dy->shape[1], x->shape[0], x->shape[1], w->shape[0], w->shape[1]);
    int out = w->shape[0], xs[2] = { x->shape[0], x->shape[1] }, batched = dy->batched;
    if (n->a.hint_ndim != 0 && (n->a.hint_ndim != 1 || n->a.hint[0] != out))
        return err_set(e, "linear_backward_adam: the hint must be the bias's shape [%d] or empty", out);
    graph_output(g, n, DT_F32, 2, xs, batched);
    if (n->a.hint_ndim == 1) graph_output(g, n, DT_F32, 1, &out, 0);
    return 0;
}

static void fused_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[1]].shape, *w = g->vals[n->in[2]].shape;
    AdamHyper h = adam_hyper(&n->a);
    linear_backward_adam(vf32(g, n->out[0]), n->nout == 2 ? vf32(g, n->out[1]) : NULL, vf32(g, n->in[0]),
                         vf32(g, n->in[1]), vf32(g, n->in[2]), vf32(g, n->in[3]), vf32(g, n->in[4]), x[0], x[1],
                         w[0], &h, g->step);
}

const OpDef op_linear_backward_adam = { "linear_backward_adam", fused_infer, fused_run, NULL };
