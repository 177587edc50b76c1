/* runtime/ops/batchnorm.c: BatchNorm2d and BatchNorm1d (torch.nn 1.13) over x[N, C, L]
 * (L = H*W, the length, or 1), with the running statistics they keep, and the backward.
 * In a data-parallel run (runtime/dist.h) the batch statistics and the backward's two sums
 * are over every process's samples (SyncBatchNorm), so the result does not depend on them.
 *
 * Op rows batchnorm2d (x: N x C x H x W) and batchnorm1d (x: N x C or N x C x L) share
 * this file. Inputs: x [, weight[C], bias[C]] [, running_mean[C], running_var[C],
 * num_batches_tracked (int64, 1 element)]: 1, 3 (affine, track_running_stats=False), 4
 * (affine=False) or 6 inputs. The three running values are buffers (VK_BUFFER).
 * Attrs: eps, momentum, momentum_none (momentum=None: the cumulative average).
 * Outputs: y (x's shape), save_mean[C], save_invstd[C] (the statistics y was normalised
 * with: the batch's, or the running ones in eval mode).
 * In training (g->training), and always without running statistics, y is normalised with
 * the batch's mean and biased variance; with running statistics, training also adds one
 * to num_batches_tracked and moves running_mean and running_var (the unbiased variance)
 * by momentum, or by 1 / num_batches_tracked when momentum is None. In eval mode y uses
 * running_mean and running_var. Sums are in double.
 *
 * batchnorm_backward(dy, x, save_mean, save_invstd [, weight]) -> dx [, dweight, dbias];
 * Attrs track_running_stats says whether the forward had running statistics (then eval
 * mode's dx treats the statistics as constants, as PyTorch's eval-mode backward does).
 *
 * The fused pair for training graphs (compiler/passes/fuse.c): batchnorm2d_relu, batchnorm2d's
 * inputs and outputs with y = relu(batchnorm2d(x)) written in the same pass, and its backward
 * batchnorm_relu_backward(dy, y, x, save_mean, save_invstd [, weight]), batchnorm_backward of
 * relu_backward(dy, y) without the intermediate gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dist.h"
#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

typedef struct Bn {
    float *y, *mean, *invstd, *rmean, *rvar, *dw, *db;
    const float *x, *w, *b, *dy, *cmean, *cinvstd;
    /* relu: the forward applies ReLU to y (batchnorm2d_relu); ry: the backward's dy passes
     * only where this fused output is positive (batchnorm_relu_backward), else NULL */
    const float *ry;
    int N, C, L, batch_stats, relu;
    double eps, factor;
    /* a data-parallel run (SyncBatchNorm): gstat, the statistics over every rank's samples
     * (forward: mean[C], var[C]; backward: sum dy[C], sum dy * xhat[C]); lstat, where the
     * backward leaves this rank's sums; M, the elements per channel over the ranks */
    const double *gstat;
    double *lstat, M;
} Bn;

/* The row loops: one channel's L floats of one sample. Sums run in 16 float lanes and are
 * added up in double per row (as PyTorch's CPU kernel: a vectorised float sum per plane,
 * accumulated in double); elementwise work is in float, 8 lanes at a time. */
CN_MULTIVERSION static double row_sum(const float *p, int L)
{
    vf acc = { 0 };
    int i = 0;
    for (; i + VL <= L; i += VL) {
        vf v;
        LOAD(v, p + i);
        acc += v;
    }
    double s = 0;
    for (int k = 0; k < VL; k++) s += acc[k];
    for (; i < L; i++) s += p[i];
    return s;
}

/* sum of (p - m)^2 */
CN_MULTIVERSION static double row_sqdev(const float *p, int L, float m)
{
    vf acc = { 0 }, mv;
    SPLAT(mv, m);
    int i = 0;
    for (; i + VL <= L; i += VL) {
        vf v;
        LOAD(v, p + i);
        v -= mv;
        acc += v * v;
    }
    double s = 0;
    for (int k = 0; k < VL; k++) s += acc[k];
    for (; i < L; i++) s += ((double)p[i] - m) * ((double)p[i] - m);
    return s;
}

/* s[0] += sum of (p - k), s[1] += sum of (p - k)^2: two float vectors of each (shorter
 * chains), added up in double */
CN_MULTIVERSION static void row_shifted(const float *p, int L, float k, double *s)
{
    vf8 a0 = { 0 }, a1 = { 0 }, q0 = { 0 }, q1 = { 0 }, kv = (vf8){ 0 } + k;
    int i = 0;
    for (; i + 2 * VL8 <= L; i += 2 * VL8) {
        vf8 v0, v1;
        memcpy(&v0, p + i, sizeof v0);
        memcpy(&v1, p + i + VL8, sizeof v1);
        v0 -= kv;
        v1 -= kv;
        a0 += v0;
        a1 += v1;
        q0 += v0 * v0;
        q1 += v1 * v1;
    }
    a0 += a1;
    q0 += q1;
    double sd = 0, sq = 0;
    for (int l = 0; l < VL8; l++) sd += a0[l], sq += q0[l];
    for (; i < L; i++) {
        double d = (double)p[i] - k;
        sd += d;
        sq += d * d;
    }
    s[0] += sd;
    s[1] += sq;
}

/* y = x * a + b, then ReLU when relu is set */
CN_MULTIVERSION static void row_affine(float *y, const float *x, int L, float a, float b, int relu)
{
    vf8 av = (vf8){ 0 } + a, bv = (vf8){ 0 } + b;
    int i = 0;
    for (; i + VL8 <= L; i += VL8) {
        vf8 v;
        memcpy(&v, x + i, sizeof v);
        v = v * av + bv;
        if (relu) v = RELU8(v);
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < L; i++) {
        float v = x[i] * a + b;
        y[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

/* s[0] += sum dy, s[1] += sum dy * (x - m), dy taken as 0 where ry (when not NULL) <= 0 */
CN_MULTIVERSION static void row_dysums(const float *dy, const float *x, const float *ry, int L, float m, double *s)
{
    vf8 a0 = { 0 }, a1 = { 0 }, b0 = { 0 }, b1 = { 0 }, mv = (vf8){ 0 } + m;
    int i = 0;
    for (; i + 2 * VL8 <= L; i += 2 * VL8) {     /* two accumulators each: shorter chains */
        vf8 d0, d1, x0, x1;
        memcpy(&d0, dy + i, sizeof d0);
        memcpy(&d1, dy + i + VL8, sizeof d1);
        memcpy(&x0, x + i, sizeof x0);
        memcpy(&x1, x + i + VL8, sizeof x1);
        if (ry) {
            vf8 r0, r1;
            memcpy(&r0, ry + i, sizeof r0);
            memcpy(&r1, ry + i + VL8, sizeof r1);
            d0 = RELU_GRAD8(d0, r0);
            d1 = RELU_GRAD8(d1, r1);
        }
        a0 += d0;
        a1 += d1;
        b0 += d0 * (x0 - mv);
        b1 += d1 * (x1 - mv);
    }
    a0 += a1;
    b0 += b1;
    double sd = 0, sx = 0;
    for (int k = 0; k < VL8; k++) sd += a0[k], sx += b0[k];
    for (; i < L; i++) {
        float d = dy[i];
        if (ry && ry[i] <= 0.0f) d = 0.0f;
        sd += d;
        sx += (double)d * ((double)x[i] - m);
    }
    s[0] += sd;
    s[1] += sx;
}

/* dx = ((dy - c) - (x - m) * k) * g, dy taken as 0 where ry (when not NULL) <= 0 */
CN_MULTIVERSION static void row_dx(float *dx, const float *dy, const float *x, const float *ry, int L, float m,
                                   float c, float k, float g)
{
    vf8 mv = (vf8){ 0 } + m, cv = (vf8){ 0 } + c, kv = (vf8){ 0 } + k, gv = (vf8){ 0 } + g;
    int i = 0;
    for (; i + VL8 <= L; i += VL8) {
        vf8 d, v;
        memcpy(&d, dy + i, sizeof d);
        memcpy(&v, x + i, sizeof v);
        if (ry) {
            vf8 r;
            memcpy(&r, ry + i, sizeof r);
            d = RELU_GRAD8(d, r);
        }
        d = ((d - cv) - (v - mv) * kv) * gv;
        memcpy(dx + i, &d, sizeof d);
    }
    for (; i < L; i++) {
        float d = dy[i];
        if (ry && ry[i] <= 0.0f) d = 0.0f;
        dx[i] = ((d - c) - (x[i] - m) * k) * g;
    }
}

/* Into the cache: a channel's next row (L floats at p, when p is not NULL). A channel's rows
 * lie C * L floats apart, each a short stream that the hardware prefetchers learn late;
 * fetched one row ahead, fashion_resnet's 64 x 32 x 14 x 14 BatchNorm2d+ReLU (rows of 784
 * bytes) took 0.075 ms forward, 0.143 backward against 0.087 and 0.162 (best of 6 processes,
 * two threads, caches flushed before each call); at 28 x 28 (3 KiB rows) the same. */
static inline void prefetch_row(const float *p, int L)
{
    if (!p) return;
    const char *a = (const char *)p, *end = (const char *)(p + L);
    for (; a < end; a += 64) __builtin_prefetch(a);
}

/* sums over the channel's N x L elements of x, and of (x - mean)^2 */
static double channel_sum(const float *x, int N, int C, int L, int c)
{
    double s = 0;
    for (int n = 0; n < N; n++) s += row_sum(x + ((size_t)n * C + c) * L, L);
    return s;
}

static double channel_sqdev(const float *x, int N, int C, int L, int c, double mean)
{
    double s = 0;
    for (int n = 0; n < N; n++) s += row_sqdev(x + ((size_t)n * C + c) * L, L, (float)mean);
    return s;
}

/* The channel's mean and biased variance in one pass over x: the sums of x - k and (x -
 * k)^2, k the mean of the channel's first row; a shift near the mean keeps the variance,
 * their difference, as accurate as the sum of squared deviations from the mean (with a
 * channel's 200 KiB in L2 the two passes over it cost as much as the normalisation) */
static void channel_stats(const float *x, int N, int C, int L, int c, double *mean, double *var)
{
    double M = (double)N * L, s[2] = { 0, 0 };
    float k = (float)(row_sum(x + (size_t)c * L, L) / L);
    for (int n = 0; n < N; n++) {
        if (n + 1 < N) prefetch_row(x + ((size_t)(n + 1) * C + c) * L, L);
        row_shifted(x + ((size_t)n * C + c) * L, L, k, s);
    }
    double d = s[0] / M;
    *mean = k + d;
    *var = s[1] / M - d * d;
    if (*var < 0) *var = 0;
}

static void forward_share(void *ctx, int t, int T)
{
    const Bn *j = ctx;
    int N = j->N, C = j->C, L = j->L;
    double M = j->M > 0 ? j->M : (double)N * L;
    for (int c = (int)par_lo((size_t)C, t, T); c < (int)par_lo((size_t)C, t + 1, T); c++) {
        double mean, invstd;
        if (j->batch_stats) {
            double var;
            if (j->gstat) mean = j->gstat[c], var = j->gstat[C + c];
            else channel_stats(j->x, N, C, L, c, &mean, &var);
            invstd = 1.0 / sqrt(var + j->eps);
            if (j->rmean) {
                /* unbiased; a single value per channel gives NaN (PyTorch refuses that batch) */
                double unbiased = M > 1 ? var * M / (M - 1) : NAN;
                j->rmean[c] = (float)((1 - j->factor) * j->rmean[c] + j->factor * mean);
                j->rvar[c] = (float)((1 - j->factor) * j->rvar[c] + j->factor * unbiased);
            }
        } else {
            mean = j->rmean[c];
            invstd = 1.0 / sqrt((double)j->rvar[c] + j->eps);
        }
        j->mean[c] = (float)mean;
        j->invstd[c] = (float)invstd;
        /* as PyTorch: y = x * alpha + beta in float, alpha and beta per channel */
        double alpha = invstd * (j->w ? j->w[c] : 1.0f);
        double beta = (j->b ? j->b[c] : 0.0f) - mean * alpha;
        for (int n = 0; n < N; n++) {
            size_t o = ((size_t)n * C + c) * L;
            row_affine(j->y + o, j->x + o, L, (float)alpha, (float)beta, j->relu);
        }
    }
}

/* SyncBatchNorm's statistics: each channel's mean and biased variance over the samples of
 * every rank (two passes: the mean, then the squared deviations), and *M, the elements per channel
 * over the ranks. Returns mean[C], var[C] (to free). */
static double *sync_stats(const float *x, int N, int C, int L, double *M)
{
    double *st = xcalloc(2 * (size_t)C + 1, sizeof *st);
    for (int c = 0; c < C; c++) st[c] = channel_sum(x, N, C, L, c);
    st[C] = (double)N * L;
    dist_sum_f64(st, (size_t)C + 1);
    *M = st[C];
    for (int c = 0; c < C; c++) st[c] /= *M;
    for (int c = 0; c < C; c++) st[C + c] = channel_sqdev(x, N, C, L, c, st[c]);
    dist_sum_f64(st + C, (size_t)C);
    for (int c = 0; c < C; c++) st[C + c] /= *M;
    return st;
}

static void bn_forward(float *y, float *mean, float *invstd, const float *x, const float *w, const float *b,
                       float *rmean, float *rvar, int64_t *nbt, int N, int C, int L, int training,
                       double momentum, int momentum_none, double eps, int relu)
{
    int batch_stats = training || !rmean;
    double factor = momentum;
    if (training && rmean) {
        if (nbt) ++*nbt;
        if (momentum_none) factor = nbt && *nbt > 0 ? 1.0 / (double)*nbt : 0.0;
    }
    Bn j = { y, mean, invstd, training ? rmean : NULL, training ? rvar : NULL, NULL, NULL, x, w, b,
             NULL, NULL, NULL, NULL, N, C, L, batch_stats, relu, eps, factor, NULL, NULL, 0 };
    if (!batch_stats) {
        j.rmean = rmean;
        j.rvar = rvar;
    }
    double *st = batch_stats && dist_size() > 1 ? sync_stats(x, N, C, L, &j.M) : NULL;
    j.gstat = st;
    par_run((size_t)N * C * L > 32768 ? par_threads() : 1, forward_share, &j);
    free(st);
}

/* y[N,C,L] = (x - mean) * invstd * w + b per channel c; w, b may be NULL (affine=False);
 * rmean, rvar, nbt may be NULL (track_running_stats=False). training: batch statistics,
 * and the running ones updated (nbt += 1, then momentum or 1/nbt); else the running ones
 * (batch statistics when there are none). mean, invstd[C]: the statistics used. */
void batchnorm_forward(float *y, float *mean, float *invstd, const float *x, const float *w, const float *b,
                       float *rmean, float *rvar, int64_t *nbt, int N, int C, int L, int training,
                       double momentum, int momentum_none, double eps)
{
    bn_forward(y, mean, invstd, x, w, b, rmean, rvar, nbt, N, C, L, training, momentum, momentum_none, eps, 0);
}

/* batchnorm_forward, then y = max(y, 0) (NaN kept) in the same pass */
void batchnorm_relu_forward(float *y, float *mean, float *invstd, const float *x, const float *w, const float *b,
                            float *rmean, float *rvar, int64_t *nbt, int N, int C, int L, int training,
                            double momentum, int momentum_none, double eps)
{
    bn_forward(y, mean, invstd, x, w, b, rmean, rvar, nbt, N, C, L, training, momentum, momentum_none, eps, 1);
}

static void backward_share(void *ctx, int t, int T)
{
    const Bn *j = ctx;
    int N = j->N, C = j->C, L = j->L;
    double M = j->M > 0 ? j->M : (double)N * L;
    for (int c = (int)par_lo((size_t)C, t, T); c < (int)par_lo((size_t)C, t + 1, T); c++) {
        float mean = j->cmean[c];
        double invstd = j->cinvstd[c], s[2] = { 0, 0 };
        if (j->batch_stats || j->dw || j->db || j->lstat)
            for (int n = 0; n < N; n++) {
                size_t o = ((size_t)n * C + c) * L;
                if (n + 1 < N) {
                    size_t o1 = o + (size_t)C * L;
                    prefetch_row(j->dy + o1, L);
                    prefetch_row(j->x + o1, L);
                    prefetch_row(j->ry ? j->ry + o1 : NULL, L);
                }
                row_dysums(j->dy + o, j->x + o, j->ry ? j->ry + o : NULL, L, mean, s);
            }
        double sdy = s[0], sdyx = s[1] * invstd;
        if (j->dw) j->dw[c] = (float)sdyx;
        if (j->db) j->db[c] = (float)sdy;
        if (j->lstat) j->lstat[c] = sdy, j->lstat[C + c] = sdyx;
        if (j->gstat) sdy = j->gstat[c], sdyx = j->gstat[C + c];
        if (!j->y) continue;
        /* as PyTorch: dx = ((dy - sum dy / M) - (x - mean) * k) * invstd * w, k = sum(dy *
         * xhat) * invstd / M; without batch statistics dx = dy * invstd * w */
        double g = invstd * (j->w ? j->w[c] : 1.0f);
        float cst = j->batch_stats ? (float)(sdy / M) : 0.0f, k = j->batch_stats ? (float)(sdyx * invstd / M) : 0.0f;
        for (int n = 0; n < N; n++) {
            size_t o = ((size_t)n * C + c) * L;
            row_dx(j->y + o, j->dy + o, j->x + o, j->ry ? j->ry + o : NULL, L, mean, cst, k, (float)g);
        }
    }
}

static void bn_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                        const float *invstd, const float *w, const float *ry, int N, int C, int L, int batch_stats)
{
    Bn j = { dx, NULL, NULL, NULL, NULL, dw, db, x, w, NULL, dy, mean, invstd, ry, N, C, L, batch_stats, 0, 0, 0,
             NULL, NULL, 0 };
    int T = (size_t)N * C * L > 32768 ? par_threads() : 1;
    if (!(dx && batch_stats && dist_size() > 1)) {
        par_run(T, backward_share, &j);
        return;
    }
    /* SyncBatchNorm: dx's sums over every rank's samples; dw, db stay this rank's (the
     * gradient sum over the ranks adds them) */
    double *st = xcalloc(2 * (size_t)C + 1, sizeof *st);
    j.y = NULL;
    j.lstat = st;
    par_run(T, backward_share, &j);
    st[2 * C] = (double)N * L;
    dist_sum_f64(st, 2 * (size_t)C + 1);
    j.y = dx;
    j.lstat = NULL;
    j.gstat = st;
    j.M = st[2 * C];
    par_run(T, backward_share, &j);
    free(st);
}

/* From dy[N,C,L], x, and the forward's mean, invstd[C]: dw[c] = sum dy * xhat, db[c] =
 * sum dy (NULL: not wanted), dx (NULL: not wanted) = w * invstd * (dy - [sum dy / M +
 * xhat * sum(dy * xhat) / M]) where xhat = (x - mean) * invstd, M = N * L; the bracket only
 * with batch_stats (the statistics depended on x). w may be NULL (1). */
void batchnorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                        const float *invstd, const float *w, int N, int C, int L, int batch_stats)
{
    bn_backward(dx, dw, db, dy, x, mean, invstd, w, NULL, N, C, L, batch_stats);
}

/* batchnorm_backward of relu_backward(dy, y) in one pass: y is batchnorm2d_relu's output */
void batchnorm_relu_backward(float *dx, float *dw, float *db, const float *dy, const float *y, const float *x,
                             const float *mean, const float *invstd, const float *w, int N, int C, int L,
                             int batch_stats)
{
    bn_backward(dx, dw, db, dy, x, mean, invstd, w, y, N, C, L, batch_stats);
}

/* Input positions: weight, bias (-1 when absent); running_mean, running_var, nbt (-1) */
typedef struct BnInputs { int w, b, rm, rv, nbt; } BnInputs;

static BnInputs bn_inputs(int nin)
{
    BnInputs p = { -1, -1, -1, -1, -1 };
    if (nin == 3 || nin == 6) p.w = 1, p.b = 2;
    if (nin == 4) p.rm = 1, p.rv = 2, p.nbt = 3;
    if (nin == 6) p.rm = 3, p.rv = 4, p.nbt = 5;
    return p;
}

static int bn_length(const Value *x)
{
    int L = 1;
    for (int d = 2; d < x->ndim; d++) L *= x->shape[d];
    return L;
}

static int batchnorm_infer(Graph *g, Node *n, Error *e)
{
    const char *op = op_table[n->op]->name;
    int is2d = n->op != OP_batchnorm1d;
    if (n->nin != 1 && n->nin != 3 && n->nin != 4 && n->nin != 6)
        return err_set(e, "%s takes x [, weight, bias] [, running_mean, running_var, num_batches_tracked]: "
                          "1, 3, 4 or 6 inputs, got %d", op, n->nin);
    const Value *x = &g->vals[n->in[0]];
    if (x->dtype != DT_F32 || (is2d ? x->ndim != 4 : x->ndim != 2 && x->ndim != 3)) {
        char s[64];
        shape_str(x, 0, s, sizeof s);
        return err_set(e, "%s expects x as a float32 tensor of %s, but it is %s", op,
                       is2d ? "N x C x H x W" : "N x C or N x C x L", s);
    }
    int C = x->shape[1];
    BnInputs p = bn_inputs(n->nin);
    int vec[5] = { p.w, p.b, p.rm, p.rv, p.nbt };
    const char *what[5] = { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" };
    for (int k = 0; k < 5; k++) {
        if (vec[k] < 0) continue;
        const Value *v = &g->vals[n->in[vec[k]]];
        int want = k == 4 ? 1 : C;
        DType dt = k == 4 ? DT_I64 : DT_F32;
        if (v->dtype != dt || v->batched || value_numel(v) != (size_t)want || v->ndim > 1)
            return err_set(e, "%s expects %s as %d %s value%s, one per channel of x's %d", op, what[k], want,
                           dt == DT_I64 ? "int64" : "float32", want == 1 ? "" : "s", C);
    }
    if (!(n->a.eps > 0)) return err_set(e, "%s: eps must be positive, got %g", op, n->a.eps);
    if (!n->a.momentum_none && !(n->a.momentum >= 0 && n->a.momentum <= 1))
        return err_set(e, "%s: momentum must be between 0 and 1, got %g", op, n->a.momentum);
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    int cs[1] = { C };
    graph_output(g, n, DT_F32, 1, cs, 0);
    graph_output(g, n, DT_F32, 1, cs, 0);
    return 0;
}

static const float *opt_f32(Graph *g, const Node *n, int i) { return i < 0 ? NULL : vf32(g, n->in[i]); }

static void batchnorm_run(Graph *g, const Node *n)
{
    const Value *x = &g->vals[n->in[0]];
    BnInputs p = bn_inputs(n->nin);
    (n->op == OP_batchnorm2d_relu ? batchnorm_relu_forward : batchnorm_forward)(vf32(g, n->out[0]), vf32(g, n->out[1]), vf32(g, n->out[2]), vf32(g, n->in[0]),
                      opt_f32(g, n, p.w), opt_f32(g, n, p.b), p.rm < 0 ? NULL : vf32(g, n->in[p.rm]),
                      p.rv < 0 ? NULL : vf32(g, n->in[p.rv]), p.nbt < 0 ? NULL : vi64(g, n->in[p.nbt]),
                      x->shape[0], x->shape[1], bn_length(x), g->training, n->a.momentum, n->a.momentum_none,
                      n->a.eps);
}

/* dx, dweight, dbias = batchnorm_backward(dy, x, save_mean, save_invstd [, weight]), or for
 * batchnorm2d_relu batchnorm_relu_backward(dy, y, x, save_mean, save_invstd [, weight]) */
static int batchnorm_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0) return 0;
    BnInputs p = bn_inputs(n.nin);
    Attrs a = n.a;
    a.track_running_stats = p.rm >= 0;
    int relu = n.op == OP_batchnorm2d_relu, in[6], nin = 0;
    in[nin++] = dout[0];
    if (relu) in[nin++] = n.out[0];
    in[nin++] = n.in[0];
    in[nin++] = n.out[1];
    in[nin++] = n.out[2];
    if (p.w >= 0) in[nin++] = n.in[p.w];
    int node = graph_add(g, relu ? OP_batchnorm_relu_backward : OP_batchnorm_backward, in, nin, &a, e);
    if (node < 0) return -1;
    const Node *b = &g->nodes[node];
    int dx = b->out[0], dw = p.w >= 0 ? b->out[1] : -1, db = p.w >= 0 ? b->out[2] : -1;
    if (g->vals[n.in[0]].requires_grad && graph_accumulate_grad(g, n.in[0], dx, e) < 0) return -1;
    if (p.w >= 0 && g->vals[n.in[p.w]].requires_grad && graph_accumulate_grad(g, n.in[p.w], dw, e) < 0) return -1;
    if (p.b >= 0 && g->vals[n.in[p.b]].requires_grad && graph_accumulate_grad(g, n.in[p.b], db, e) < 0) return -1;
    return 0;
}

const OpDef op_batchnorm2d = { "batchnorm2d", batchnorm_infer, batchnorm_run, batchnorm_grad };
const OpDef op_batchnorm1d = { "batchnorm1d", batchnorm_infer, batchnorm_run, batchnorm_grad };
/* batchnorm2d then relu, one pass (compiler/passes/fuse.c's fuse_training_graph): batchnorm2d's
 * inputs, attributes and outputs, y being relu's result */
const OpDef op_batchnorm2d_relu = { "batchnorm2d_relu", batchnorm_infer, batchnorm_run, batchnorm_grad };

/* batchnorm_backward(dy, x, mean, invstd [, w]) and batchnorm_relu_backward(dy, y, x, mean,
 * invstd [, w]) -> dx [, dw, db] */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    int r = n->op == OP_batchnorm_relu_backward;     /* y's place shifts the rest by one */
    const char *op = op_table[n->op]->name;
    if (op_expect_inputs(g, n, 4 + r, 5 + r, e) < 0 || op_expect(g, n, 0, "dy", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1 + r, "x", DT_F32, 0, e) < 0 || op_expect_same_shape(g, n, 0, "dy", 1 + r, "x", e) < 0)
        return -1;
    if (r && (op_expect(g, n, 1, "y", DT_F32, 0, e) < 0 || op_expect_same_shape(g, n, 0, "dy", 1, "y", e) < 0))
        return -1;
    const Value *x = &g->vals[n->in[1 + r]];
    if (x->ndim < 2) return err_set(e, "%s expects x with a channel dim", op);
    int C = x->shape[1];
    for (int i = 2 + r; i < n->nin; i++)
        if (g->vals[n->in[i]].dtype != DT_F32 || value_numel(&g->vals[n->in[i]]) != (size_t)C)
            return err_set(e, "%s expects input %d as %d float32 values", op, i, C);
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    if (n->nin == 5 + r) {
        int cs[1] = { C };
        graph_output(g, n, DT_F32, 1, cs, 0);
        graph_output(g, n, DT_F32, 1, cs, 0);
    }
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    int r = n->op == OP_batchnorm_relu_backward, affine = n->nin == 5 + r;
    const Value *x = &g->vals[n->in[1 + r]];
    bn_backward(vf32(g, n->out[0]), affine ? vf32(g, n->out[1]) : NULL, affine ? vf32(g, n->out[2]) : NULL,
                vf32(g, n->in[0]), vf32(g, n->in[1 + r]), vf32(g, n->in[2 + r]), vf32(g, n->in[3 + r]),
                affine ? vf32(g, n->in[4 + r]) : NULL, r ? vf32(g, n->in[1]) : NULL, x->shape[0], x->shape[1],
                bn_length(x), g->training || !n->a.track_running_stats);
}

const OpDef op_batchnorm_backward = { "batchnorm_backward", backward_infer, backward_run, NULL };
/* the backward of batchnorm2d_relu: relu_backward and batchnorm_backward in one pass */
const OpDef op_batchnorm_relu_backward = { "batchnorm_relu_backward", backward_infer, backward_run, NULL };

/* w2[O,...] = w * s, b2[O] = (b - running_mean) * s + beta with s = gamma / sqrt(running_var
 * + eps) per output channel (in double): the convolution whose output equals eval-mode
 * batchnorm(conv(x, w, b)). gamma, beta, b may be NULL (1, 0, 0). */
void batchnorm_fold(float *w2, float *b2, const float *w, const float *b, const float *gamma, const float *beta,
                    const float *rmean, const float *rvar, int O, size_t per_out, double eps)
{
    for (int o = 0; o < O; o++) {
        double s = (gamma ? gamma[o] : 1.0) / sqrt((double)rvar[o] + eps);
        for (size_t i = 0; i < per_out; i++) w2[(size_t)o * per_out + i] = (float)(w[(size_t)o * per_out + i] * s);
        b2[o] = (float)(((b ? b[o] : 0.0) - rmean[o]) * s + (beta ? beta[o] : 0.0));
    }
}

/* batchnorm_fold(w, running_mean, running_var [, gamma, beta] [, b]) -> w2 (w's shape),
 * b2[O]: 3 to 6 inputs (4: with b; 5: with gamma, beta; 6: both). Attrs eps. Added by
 * compiler/passes/fuse.c's fold_batchnorm for graphs that only infer; no backward. */
static int fold_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 3, 6, e) < 0 || op_expect(g, n, 0, "the weight", DT_F32, 0, e) < 0) return -1;
    const Value *w = &g->vals[n->in[0]];
    int O = w->shape[0];
    for (int i = 1; i < n->nin; i++)
        if (g->vals[n->in[i]].dtype != DT_F32 || value_numel(&g->vals[n->in[i]]) != (size_t)O)
            return err_set(e, "batchnorm_fold expects input %d as %d float32 values", i, O);
    graph_output(g, n, DT_F32, w->ndim, w->shape, 0);
    graph_output(g, n, DT_F32, 1, &O, 0);
    return 0;
}

static void fold_run(Graph *g, const Node *n)
{
    const Value *w = &g->vals[n->in[0]];
    int affine = n->nin >= 5, bias = n->nin == 4 || n->nin == 6;
    batchnorm_fold(vf32(g, n->out[0]), vf32(g, n->out[1]), vf32(g, n->in[0]), bias ? vf32(g, n->in[n->nin - 1]) : NULL,
                   affine ? vf32(g, n->in[3]) : NULL, affine ? vf32(g, n->in[4]) : NULL, vf32(g, n->in[1]),
                   vf32(g, n->in[2]), w->shape[0], value_item_numel(w), n->a.eps);
}

const OpDef op_batchnorm_fold = { "batchnorm_fold", fold_infer, fold_run, NULL };

int batchnorm_check_batch(const Graph *g, int n, const char *path, Error *e)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *nd = &g->nodes[i];
        if (nd->op != OP_batchnorm2d && nd->op != OP_batchnorm1d && nd->op != OP_batchnorm2d_relu) continue;
        const Value *x = &g->vals[nd->in[0]];
        if (!x->batched || (long)n * bn_length(x) > 1) continue;
        const char *layer = nd->op == OP_batchnorm1d ? "BatchNorm1d" : "BatchNorm2d";
        return err_set(e, "%s:%d:%d: error: %s%s%s: a training batch of %d sample%s gives it one value per channel, "
                          "which PyTorch refuses (\"Expected more than 1 value per channel when training\"): "
                          "choose a batch_size that leaves no batch of 1",
                       path, nd->line, nd->col, layer, nd->label[0] ? " " : "", nd->label, n, n == 1 ? "" : "s");
    }
    return 0;
}
