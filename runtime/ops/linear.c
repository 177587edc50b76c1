/* runtime/ops/linear.c: Linear (y = x W^T + b) with its two backward ops: the gradient of
 * the input and the gradients of the weight and bias. Batches of up to SMALL_N rows run on
 * kernels of our own that stream the (large) weight once in long contiguous runs; larger
 * batches are one sgemm each. */
#include <string.h>

#include "../parallel.h"

#include "../ops.h"
#include "kernels.h"

#define SMALL_N 16

static inline int imin(int a, int b) { return a < b ? a : b; }

/* The threads to use for `work` multiply-adds split into `parts` pieces (1 inside a parallel
 * region, or when the work is too small to be worth waking them) */
static int threads_for(double work, int parts)
{
    int T = par_threads();
    if (work < 100000.0) T = 1;
    return T < parts ? T : parts;
}

/* y[n][o] = b[o] + x[n] . w[o] for o in [o0, o1): 4 outputs x 4 rows per register block */
CN_MULTIVERSION CN_CONTRACT
static void small_forward(float *y, const float *x, const float *w, const float *b, int N, int in, int out,
                          int o0, int o1)
{
    int kv = in / VL * VL;
    for (int o = o0; o < o1; o += 4)
        for (int n0 = 0; n0 < N; n0 += 4) {
            const float *wr[4], *xr[4];
            for (int a = 0; a < 4; a++) wr[a] = w + (size_t)imin(o + a, o1 - 1) * in;
            for (int m = 0; m < 4; m++) xr[m] = x + (size_t)imin(n0 + m, N - 1) * in;
            vf acc[4][4];
#pragma GCC unroll 4
            for (int a = 0; a < 4; a++)
#pragma GCC unroll 4
                for (int m = 0; m < 4; m++) SPLAT(acc[a][m], 0.0f);
            for (int k = 0; k < kv; k += VL) {
                vf wv[4], xv[4];
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++) LOAD(wv[a], wr[a] + k);
#pragma GCC unroll 4
                for (int m = 0; m < 4; m++) LOAD(xv[m], xr[m] + k);
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++)
#pragma GCC unroll 4
                    for (int m = 0; m < 4; m++) acc[a][m] += wv[a] * xv[m];
            }
            for (int a = 0; a < 4 && o + a < o1; a++)
                for (int m = 0; m < 4 && n0 + m < N; m++) {
                    float s = 0.0f;
                    for (int l = 0; l < VL; l++) s += acc[a][m][l];
                    for (int k = kv; k < in; k++) s += wr[a][k] * xr[m][k];
                    y[(size_t)(n0 + m) * out + o + a] = b ? b[o + a] + s : s;
                }
        }
}

/* dx[n][k] = sum over o of dy[n][o] * w[o][k] for k in [k0, k1). Four rows of the weight at
 * a time, read front to back (four streams the prefetcher follows), added into dx (which
 * stays in cache): every dx[n][k] is the same chain of fused multiply-adds over o = 0, 1,
 * ... as a sum kept in a register would be. */
CN_MULTIVERSION CN_CONTRACT
static void small_backward_input(float *dx, const float *dy, const float *w, int N, int in, int out,
                                 int k0, int k1)
{
    int kv = k0 + (k1 - k0) / VL * VL;
    for (int o0 = 0; o0 < out; o0 += 4) {
        int rows = imin(4, out - o0);
        const float *wr = w + (size_t)o0 * in;
        for (int n = 0; n < N; n++) {
            float *d = dx + (size_t)n * in;
            const float *g = dy + (size_t)n * out + o0;
            if (rows == 4) {
                float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
                for (int k = k0; k < kv; k += VL) {
                    vf acc, w0, w1, w2, w3;
                    if (o0) LOAD(acc, d + k);
                    else SPLAT(acc, 0.0f);
                    LOAD(w0, wr + k);
                    LOAD(w1, wr + in + k);
                    LOAD(w2, wr + 2 * (size_t)in + k);
                    LOAD(w3, wr + 3 * (size_t)in + k);
                    acc += g0 * w0;
                    acc += g1 * w1;
                    acc += g2 * w2;
                    acc += g3 * w3;
                    memcpy(d + k, &acc, sizeof acc);
                }
            } else
                for (int k = k0; k < kv; k += VL) {
                    vf acc, wa;
                    if (o0) LOAD(acc, d + k);
                    else SPLAT(acc, 0.0f);
                    for (int a = 0; a < rows; a++) {
                        LOAD(wa, wr + (size_t)a * in + k);
                        acc += g[a] * wa;
                    }
                    memcpy(d + k, &acc, sizeof acc);
                }
            for (int k = kv; k < k1; k++) {
                float s = o0 ? d[k] : 0.0f;
                for (int a = 0; a < rows; a++) s += g[a] * wr[(size_t)a * in + k];
                d[k] = s;
            }
        }
    }
}

/* dw[o][k] = sum over n of dy[n][o] * x[n][k] for k in [k0, k1): 4 outputs x 64 columns
 * per register block, each output row written front to back */
CN_MULTIVERSION CN_CONTRACT
static void small_backward_weight(float *dw, const float *dy, const float *x, int N, int in, int out,
                                  int k0, int k1)
{
    int cv = k0 + (k1 - k0) / (4 * VL) * (4 * VL);
    for (int ob = 0; ob < out; ob += 4) {
        int oa[4];
        for (int a = 0; a < 4; a++) oa[a] = imin(ob + a, out - 1);
        float *row = dw + (size_t)ob * in;
        for (int k = k0; k < cv; k += 4 * VL) {
            vf acc[4][4];
#pragma GCC unroll 4
            for (int a = 0; a < 4; a++)
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) SPLAT(acc[a][v], 0.0f);
            for (int n = 0; n < N; n++) {
                vf xv[4];
                const float *d = dy + (size_t)n * out;
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) LOAD(xv[v], x + (size_t)n * in + k + VL * v);
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++) {
                    float s = d[oa[a]];
#pragma GCC unroll 4
                    for (int v = 0; v < 4; v++) acc[a][v] += s * xv[v];
                }
            }
            for (int a = 0; a < 4 && ob + a < out; a++)
                memcpy(row + (size_t)a * in + k, acc[a], sizeof acc[a]);
        }
        for (int a = 0; a < 4 && ob + a < out; a++)
            for (int k = cv; k < k1; k++) {
                float s = 0.0f;
                for (int n = 0; n < N; n++) s += dy[(size_t)n * out + ob + a] * x[(size_t)n * in + k];
                row[(size_t)a * in + k] = s;
            }
    }
}

/* [lo, hi) of thread t's share of `len`, cut at multiples of `step` */
static void share(int len, int step, int t, int T, int *lo, int *hi)
{
    int blocks = (len + step - 1) / step;
    *lo = imin(blocks * t / T * step, len);
    *hi = imin(blocks * (t + 1) / T * step, len);
}

/* One small kernel's work, split by share() across the threads */
typedef struct Small {
    float *out;
    const float *a, *b, *bias;
    int N, in, outf, which;       /* which: 0 forward, 1 input gradient, 2 weight gradient */
} Small;

static void small_share(void *ctx, int t, int T)
{
    const Small *j = ctx;
    int lo, hi;
    if (j->which == 0) {
        share(j->outf, 4, t, T, &lo, &hi);
        if (hi > lo) small_forward(j->out, j->a, j->b, j->bias, j->N, j->in, j->outf, lo, hi);
        return;
    }
    share(j->in, 4 * VL, t, T, &lo, &hi);
    if (hi <= lo) return;
    if (j->which == 1) small_backward_input(j->out, j->a, j->b, j->N, j->in, j->outf, lo, hi);
    else small_backward_weight(j->out, j->a, j->b, j->N, j->in, j->outf, lo, hi);
}

/* y[N,out] = x[N,in] @ w[out,in]^T + b[out] */
void linear_forward(float *y, const float *x, const float *w, const float *b, int N, int in, int out)
{
    if (N > 0 && N <= SMALL_N) {
        Small j = { y, x, w, b, N, in, out, 0 };
        par_run(threads_for((double)N * in * out, (out + 3) / 4), small_share, &j);
        return;
    }
    if (b)
        for (int n = 0; n < N; n++) memcpy(y + (size_t)n * out, b, (size_t)out * sizeof *y);
    par_sgemm(CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

/* dx[N,in] = dy[N,out] @ w[out,in] */
void linear_backward_input(float *dx, const float *dy, const float *w, int N, int in, int out)
{
    if (N > 0 && N <= SMALL_N) {
        Small j = { dx, dy, w, NULL, N, in, out, 1 };
        par_run(threads_for((double)N * in * out, (in + 4 * VL - 1) / (4 * VL)), small_share, &j);
        return;
    }
    par_sgemm(CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

/* dw[out,in] = dy[N,out]^T @ x[N,in]; db[out] = sum over n of dy[n] */
void linear_backward_weight(float *dw, float *db, const float *dy, const float *x, int N, int in, int out)
{
    if (N == 0) memset(dw, 0, (size_t)out * in * sizeof *dw);
    else if (N <= SMALL_N) {
        Small j = { dw, dy, x, NULL, N, in, out, 2 };
        par_run(threads_for((double)N * in * out, (in + 4 * VL - 1) / (4 * VL)), small_share, &j);
    } else
        par_sgemm(CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, out, x, in, 0.0f, dw, in);
    if (!db) return;
    for (int o = 0; o < out; o++) {
        double sum = 0;
        for (int n = 0; n < N; n++) sum += dy[(size_t)n * out + o];
        db[o] = (float)sum;
    }
}

/* linear(x[N,in], w[out,in], b[out]?) -> y[N,out] */
static int linear_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 3, e) < 0 || op_expect(g, n, 0, "x (N x in_features)", DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "the weight (out_features x in_features)", DT_F32, 2, e) < 0 ||
        (n->nin == 3 && op_expect(g, n, 2, "the bias (out_features)", DT_F32, 1, e) < 0))
        return -1;
    const Value *x = &g->vals[n->in[0]], *w = &g->vals[n->in[1]];
    if (w->shape[1] != x->shape[1])
        return err_set(e, "linear expects %d input features, but the layer before it produces %d",
                       w->shape[1], x->shape[1]);
    if (n->nin == 3 && g->vals[n->in[2]].shape[0] != w->shape[0])
        return err_set(e, "linear: the bias has %d elements, but there are %d output features",
                       g->vals[n->in[2]].shape[0], w->shape[0]);
    int shape[2] = { x->shape[0], w->shape[0] };
    graph_output(g, n, DT_F32, 2, shape, x->batched);
    return 0;
}

static void linear_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape, *w = g->vals[n->in[1]].shape;
    linear_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                   n->nin == 3 ? vf32(g, n->in[2]) : NULL, x[0], x[1], w[0]);
}

/* dx = linear_backward_input(dy, w); dw (and db) = linear_backward_weight(dy, x) with
 * hint = the bias's shape [out] when there is a bias. */
static int linear_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0], w = n.in[1], b = n.nin == 3 ? n.in[2] : -1, dy = dout[0];
    if (dy < 0) return 0;
    if (g->vals[x].requires_grad) {
        int in[2] = { dy, w };
        int dx = graph_apply(g, OP_linear_backward_input, in, 2, NULL, e);
        if (dx < 0 || graph_accumulate_grad(g, x, dx, e) < 0) return -1;
    }
    int want_w = g->vals[w].requires_grad, want_b = b >= 0 && g->vals[b].requires_grad;
    if (want_w || want_b) {
        Attrs a = { 0 };
        a.hint_ndim = b >= 0 ? 1 : 0;
        a.hint[0] = g->vals[w].shape[0];
        int in[2] = { dy, x };
        int node = graph_add(g, OP_linear_backward_weight, in, 2, &a, e);
        if (node < 0) return -1;
        int dw = g->nodes[node].out[0], db = b >= 0 ? g->nodes[node].out[1] : -1;
        if (want_w && graph_accumulate_grad(g, w, dw, e) < 0) return -1;
        if (want_b && graph_accumulate_grad(g, b, db, e) < 0) return -1;
    }
    return 0;
}

const OpDef op_linear = { "linear", linear_infer, linear_run, linear_grad };

/* linear_backward_input(dy[N,out], w[out,in]) -> dx[N,in] */
static int backward_input_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy (N x out_features)", DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "the weight (out_features x in_features)", DT_F32, 2, e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]], *w = &g->vals[n->in[1]];
    if (dy->shape[1] != w->shape[0])
        return err_set(e, "linear_backward_input: dy has %d features, but the weight has %d outputs",
                       dy->shape[1], w->shape[0]);
    int shape[2] = { dy->shape[0], w->shape[1] };
    graph_output(g, n, DT_F32, 2, shape, dy->batched);
    return 0;
}

static void backward_input_run(Graph *g, const Node *n)
{
    const int *dy = g->vals[n->in[0]].shape, *w = g->vals[n->in[1]].shape;
    linear_backward_input(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]), dy[0], w[1], w[0]);
}

const OpDef op_linear_backward_input = { "linear_backward_input", backward_input_infer, backward_input_run, NULL };

/* linear_backward_weight(dy[N,out], x[N,in]) -> dw[out,in], and db[out] when the hint is
 * [out] (the layer has a bias) */
static int backward_weight_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy (N x out_features)", DT_F32, 2, e) < 0 ||
        op_expect(g, n, 1, "x (N x in_features)", DT_F32, 2, e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]], *x = &g->vals[n->in[1]];
    int out = dy->shape[1];
    if (dy->shape[0] != x->shape[0])
        return err_set(e, "linear_backward_weight: dy has %d rows but x has %d", dy->shape[0], x->shape[0]);
    if (n->a.hint_ndim != 0 && (n->a.hint_ndim != 1 || n->a.hint[0] != out))
        return err_set(e, "linear_backward_weight: the hint must be the bias's shape [%d] or empty", out);
    int wshape[2] = { out, x->shape[1] };
    graph_output(g, n, DT_F32, 2, wshape, 0);
    if (n->a.hint_ndim == 1) graph_output(g, n, DT_F32, 1, &out, 0);
    return 0;
}

static void backward_weight_run(Graph *g, const Node *n)
{
    const int *dy = g->vals[n->in[0]].shape, *x = g->vals[n->in[1]].shape;
    linear_backward_weight(vf32(g, n->out[0]), n->nout == 2 ? vf32(g, n->out[1]) : NULL,
                           vf32(g, n->in[0]), vf32(g, n->in[1]), dy[0], x[1], dy[1]);
}

const OpDef op_linear_backward_weight = { "linear_backward_weight", backward_weight_infer, backward_weight_run, NULL };
