/* runtime/ops/conv2d_gemm.c: Conv2d by im2col + sgemm over blocks of images. The columns of
 * g images lie side by side, col[C*k*k, g*Ho*Wo], so that one sgemm covers the block:
 *   forward:         y block (O x g*P)   = w (O x K) @ col
 *   input gradient:  dcol (K x g*P)      = w^T (K x O) @ dy block, then col2im image by image
 *   weight gradient: dw (O x K)         += dy block (O x g*P) @ col^T
 * (K = C*k*k, P = Ho*Wo). Large batches give the threads a contiguous share of the images
 * each, blocked within the share; small ones (fewer images than threads, e.g. one image at
 * inference) or large weights go a block at a time with the block's im2col, col2im and sgemm
 * split across the threads. The buffers are op_scratch slots: nothing is allocated once warm. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../parallel.h"

#include "../ops.h"
#include "kernels.h"

/* One row of im2col where the output is as wide as the input (stride 1, "same" padding):
 * r[oh*W + ow] = plane[oh*W + ow + off], one copy for the whole plane, then zeros where the
 * source falls outside the plane (rows above and below) and in the columns outside [lo, hi)
 * (read from the neighbouring row) */
static void shifted_plane(float *r, const float *plane, int H, int W, int Ho, ptrdiff_t off, int lo, int hi)
{
    ptrdiff_t P = (ptrdiff_t)Ho * W, HW = (ptrdiff_t)H * W;
    ptrdiff_t d0 = off < 0 ? -off : 0, d1 = HW - off < P ? HW - off : P;
    if (d0 > P) d0 = P;              /* a plane smaller than the shift (1x1 with padding) */
    if (d1 < d0) d1 = d0;
    memset(r, 0, (size_t)d0 * sizeof *r);
    memcpy(r + d0, plane + d0 + off, (size_t)(d1 - d0) * sizeof *r);
    memset(r + d1, 0, (size_t)(P - d1) * sizeof *r);
    if (lo == 0 && hi == W) return;
    for (int oh = 0; oh < Ho; oh++) {
        float *ro = r + (size_t)oh * W;
        for (int ow = 0; ow < lo; ow++) ro[ow] = 0.0f;
        for (int ow = hi; ow < W; ow++) ro[ow] = 0.0f;
    }
}

/* Rows of channels [c0, c1) of one image's columns: col[(c*k + i)*k + j][oh*Wo + ow] (rows
 * ld floats apart) = x[c][oh*s - p + i][ow*s - p + j], 0 where that falls in the padding.
 * The columns inside the image are copied without per-element tests. */
static void im2col_rows(float *col, size_t ld, const float *x, int c0, int c1, int H, int W, int k, int s, int p,
                        int Ho, int Wo)
{
    for (int c = c0; c < c1; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                float *row = col + ((size_t)(c * k + i) * k + j) * ld;
                /* ow range with 0 <= ow*s - p + j < W */
                int lo = p - j > 0 ? (p - j + s - 1) / s : 0;
                int hi = (W - 1 + p - j) >= 0 ? (W - 1 + p - j) / s + 1 : 0;
                if (hi > Wo) hi = Wo;
                if (lo > hi) lo = hi;
                if (s == 1 && Wo == W) {
                    shifted_plane(row, x + (size_t)c * H * W, H, W, Ho, (i - p) * W + j - p, lo, hi);
                    continue;
                }
                for (int oh = 0; oh < Ho; oh++) {
                    float *r = row + (size_t)oh * Wo;
                    int ih = oh * s - p + i;
                    if (ih < 0 || ih >= H) {
                        memset(r, 0, (size_t)Wo * sizeof *r);
                        continue;
                    }
                    const float *xr = x + ((size_t)c * H + ih) * W + j - p;
                    for (int ow = 0; ow < lo; ow++) r[ow] = 0.0f;
                    if (s == 1) memcpy(r + lo, xr + lo, (size_t)(hi - lo) * sizeof *r);
                    else
                        for (int ow = lo; ow < hi; ow++) r[ow] = xr[ow * s];
                    for (int ow = hi; ow < Wo; ow++) r[ow] = 0.0f;
                }
            }
}

/* The adjoint for channels [c0, c1) of one image: x[c] = 0, then x[c][ih][iw] += every col
 * entry that im2col_rows read from there. */
static void col2im_rows(float *x, const float *col, size_t ld, int c0, int c1, int H, int W, int k, int s, int p,
                        int Ho, int Wo)
{
    memset(x + (size_t)c0 * H * W, 0, (size_t)(c1 - c0) * H * W * sizeof *x);
    for (int c = c0; c < c1; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                const float *row = col + ((size_t)(c * k + i) * k + j) * ld;
                int lo = p - j > 0 ? (p - j + s - 1) / s : 0;
                int hi = (W - 1 + p - j) >= 0 ? (W - 1 + p - j) / s + 1 : 0;
                if (hi > Wo) hi = Wo;
                if (lo > hi) lo = hi;
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = oh * s - p + i;
                    if (ih < 0 || ih >= H) continue;
                    const float *r = row + (size_t)oh * Wo;
                    float *xr = x + ((size_t)c * H + ih) * W + j - p;
                    for (int ow = lo; ow < hi; ow++) xr[ow * s] += r[ow];
                }
            }
}

/* C (M x N) = op(A) (M x K) @ B (K x N) + beta C, B not transposed, as OpenBLAS runs it
 * fastest on this kind of shape: in chunks of columns. OpenBLAS 0.3's Zen sgemm on one
 * thread (CPU time, 2026-12-03) reaches 13 GFLOP/s on 32 x 196 x 288 whole and 28 in chunks
 * of 32 columns, 11 and 25 on 256 x 196 x 2304 (fashion_resnet's and resnet18's 14 x 14
 * layers), 22 and 32 on 64 x 3136 x 576 in chunks of 192; with fewer than 256 products a
 * sum (fashion_resnet's 16-channel layers, the input gradients' K = O) whole was faster.
 * With 128 rows or more (resnet18's layers) the chunks repack the weights once each: on a
 * quiet machine, 2 threads, resnet18 at batch 1 ran 8.2-9.5 images/s whole, 6.5-7.4 chunked. */
typedef struct Sgemm {
    CBLAS_TRANSPOSE ta;
    int M, N, K, lda, ldb, ldc, width, split_n;
    float beta;
    const float *A, *B;
    float *C;
} Sgemm;

static void sgemm_rows_cols(const Sgemm *s, int m0, int m1, int n0, int n1)
{
    const float *a = s->ta == CblasNoTrans ? s->A + (size_t)m0 * s->lda : s->A + m0;
    for (int lo = n0; lo < n1; lo += s->width) {
        int hi = n1 - lo < s->width ? n1 : lo + s->width;
        cblas_sgemm(CblasRowMajor, s->ta, CblasNoTrans, m1 - m0, hi - lo, s->K, 1.0f, a, s->lda, s->B + lo, s->ldb,
                    s->beta, s->C + (size_t)m0 * s->ldc + lo, s->ldc);
    }
}

/* share t: its chunks of columns, or its rows */
static void sgemm_share(void *ctx, int t, int T)
{
    const Sgemm *s = ctx;
    if (s->split_n) {
        size_t chunks = ((size_t)s->N + s->width - 1) / s->width;
        int n0 = (int)(par_lo(chunks, t, T) * s->width), n1 = (int)(par_lo(chunks, t + 1, T) * s->width);
        if (n1 > s->N) n1 = s->N;
        if (n1 > n0) sgemm_rows_cols(s, 0, s->M, n0, n1);
    } else {
        int m0 = (int)par_lo((size_t)s->M, t, T), m1 = (int)par_lo((size_t)s->M, t + 1, T);
        if (m1 > m0) sgemm_rows_cols(s, m0, m1, 0, s->N);
    }
}

/* across the threads when called outside par_run and the product is large enough: chunks
 * of columns when there are enough for every thread, else rows */
static void conv_sgemm(CBLAS_TRANSPOSE ta, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                       float beta, float *C, int ldc)
{
    int width = K < 256 || M >= 128 ? (N > 0 ? N : 1) : N <= 256 ? 32 : 192;
    int T = par_threads(), chunks = (N + width - 1) / width;
    Sgemm s = { ta, M, N, K, lda, ldb, ldc, width, chunks >= 2 * T || chunks >= M / 16, beta, A, B, C };
    if ((double)M * N * K < 200000.0 || (chunks < T && M < 2 * T)) T = 1;
    par_run(T, sgemm_share, &s);
}

/* im2col or col2im of g images, image i's columns at i * P in each row of ld = g * P */
typedef struct ColJob {
    const ConvShape *c;
    float *col, *x;       /* x: the images (read by im2col, written by col2im) */
    int g, to_col;
} ColJob;

/* A share of the (image, channel) pairs: each channel's rows and plane belong to one share */
static void col_share(void *ctx, int t, int T)
{
    const ColJob *j = ctx;
    const ConvShape *c = j->c;
    size_t ld = (size_t)j->g * c->P, xs = (size_t)c->C * c->H * c->W, pairs = (size_t)j->g * c->C;
    size_t lo = par_lo(pairs, t, T), hi = par_lo(pairs, t + 1, T);
    while (lo < hi) {
        int i = (int)(lo / c->C), c0 = (int)(lo % c->C), c1 = hi - lo < (size_t)(c->C - c0) ? c0 + (int)(hi - lo) : c->C;
        float *col = j->col + (size_t)i * c->P, *x = j->x + i * xs;
        if (j->to_col) im2col_rows(col, ld, x, c0, c1, c->H, c->W, c->k, c->s, c->p, c->Ho, c->Wo);
        else col2im_rows(x, col, ld, c0, c1, c->H, c->W, c->k, c->s, c->p, c->Ho, c->Wo);
        lo += (size_t)(c1 - c0);
    }
}

/* im2col (to_col) or col2im of g images, across the threads when called outside par_run
 * and there are at least 64K floats of columns (less is not worth waking a thread for) */
static void cols(const ConvShape *c, float *col, const float *x, int g, int to_col)
{
    ColJob j = { c, col, (float *)x, g, to_col };
    int T = par_threads(), pairs = g * c->C;
    if ((size_t)g * c->K * c->P < ((size_t)1 << 16)) T = 1;
    par_run(T < pairs ? T : pairs, col_share, &j);
}

static int block_forced;    /* conv2d_gemm_block's; 0: from the budget */
void conv2d_gemm_block(int images) { block_forced = images > 0 ? images : 0; }

/* How a convolution's images are split: each thread a share of the images (images_split),
 * blocks of at most `block` images */
typedef struct Blocking { int images_split, block; } Blocking;

/* Images go to the threads when there are at least as many images as threads, one image
 * per sgemm: measured on fashion_resnet's layers, blocks of 8-16 images side by side ran at
 * half the speed of one image at a time, their columns (MiBs) falling out of L2 between
 * im2col and sgemm; and on a quiet machine resnet18 at batch 16 ran 12.6-13.1 images/s so
 * against 11.8-12.4 with its deep layers (512 x 4608 weights, 4608 x 49 columns) in blocks.
 * Else (one image, or one thread) a block at a time, its sgemm split across the threads;
 * the block's columns within 4 MiB. */
static Blocking blocking(const ConvShape *c, int N, int T)
{
    size_t per = (size_t)c->K * c->P, budget = (size_t)1 << 20;   /* floats */
    int columns_outweigh = per * 2 >= (size_t)c->O * c->K;
    Blocking b = { T > 1 && N >= T, 1 };
    int share = b.images_split ? (N + T - 1) / T : N;
    int g = block_forced ? block_forced : columns_outweigh ? 1 : (int)(budget / (per ? per : 1));
    if (g < 1) g = 1;
    if (g > share) g = share > 0 ? share : 1;
    int nb = (share + g - 1) / g;                 /* even blocks: 10 images in 5 + 5, not 8 + 2 */
    b.block = block_forced ? g : (share + nb - 1) / nb;
    return b;
}

/* dst (O x g*P, row o: image i's plane at i * P) from the images src[n0 .. n0+g) (O x P each) */
static void gather_planes(float *dst, const float *src, int g, int O, int P)
{
    for (int o = 0; o < O; o++)
        for (int i = 0; i < g; i++)
            memcpy(dst + ((size_t)o * g + i) * P, src + ((size_t)i * O + o) * P, (size_t)P * sizeof *dst);
}

/* The forward of images [n0, n0+g): y (O x P each) = w @ col + b */
static void forward_block(const ConvShape *c, float *y, const float *x, const float *w, const float *b, int g)
{
    const float *col = x;
    size_t P = (size_t)c->P, ld = (size_t)g * P;
    if (!(c->identity && g == 1)) {
        float *buf = op_scratch(0, (size_t)c->K * ld);
        if (c->identity) gather_planes(buf, x, g, c->C, c->P);
        else cols(c, buf, x, g, 1);
        col = buf;
    }
    if (g == 1) {
        if (b)
            for (int o = 0; o < c->O; o++)
                for (size_t q = 0; q < P; q++) y[o * P + q] = b[o];
        conv_sgemm(CblasNoTrans, c->O, c->P, c->K, w, c->K, col, c->P, b ? 1.0f : 0.0f, y, c->P);
        return;
    }
    float *yb = op_scratch(3, (size_t)c->O * ld);
    conv_sgemm(CblasNoTrans, c->O, (int)ld, c->K, w, c->K, col, (int)ld, 0.0f, yb, (int)ld);
    for (int i = 0; i < g; i++)
        for (int o = 0; o < c->O; o++) {
            float *yr = y + ((size_t)i * c->O + o) * P;
            const float *r = yb + (size_t)o * ld + i * P;
            float bo = b ? b[o] : 0.0f;
            for (size_t q = 0; q < P; q++) yr[q] = r[q] + bo;
        }
}

/* The input gradient of images [n0, n0+g): dcol = w^T @ dy block, dx = col2im(dcol); with
 * c->accumulate, col2im into scratch slot 2 (the block's images), then added to dx */
static void backward_input_block(const ConvShape *c, float *dx, const float *dy, const float *w, int g)
{
    if (c->accumulate) {
        ConvShape once = *c;
        size_t n = (size_t)g * c->C * c->H * c->W;
        float *t = op_scratch(2, n);
        once.accumulate = 0;
        backward_input_block(&once, t, dy, w, g);
        add_forward(dx, dx, t, n);
        return;
    }
    size_t ld = (size_t)g * c->P;
    const float *dyb = dy;
    if (g > 1) {
        float *buf = op_scratch(3, (size_t)c->O * ld);
        gather_planes(buf, dy, g, c->O, c->P);
        dyb = buf;
    }
    if (c->identity && g == 1) {
        conv_sgemm(CblasTrans, c->K, c->P, c->O, w, c->K, dyb, c->P, 0.0f, dx, c->P);
        return;
    }
    float *dcol = op_scratch(0, (size_t)c->K * ld);
    conv_sgemm(CblasTrans, c->K, (int)ld, c->O, w, c->K, dyb, (int)ld, 0.0f, dcol, (int)ld);
    if (!c->identity) {
        cols(c, dcol, dx, g, 0);
        return;
    }
    for (int i = 0; i < g; i++)          /* a 1x1 kernel: dcol's image planes are dx's */
        for (int ch = 0; ch < c->C; ch++)
            memcpy(dx + ((size_t)i * c->C + ch) * c->P, dcol + (size_t)ch * ld + (size_t)i * c->P,
                   (size_t)c->P * sizeof *dx);
}

/* The weight gradient of images [n0, n0+g) into acc (O x K): acc = (add ? acc : 0) + dy
 * block @ col^T */
static void backward_weight_block(const ConvShape *c, float *acc, const float *dy, const float *x, int g, int add)
{
    size_t ld = (size_t)g * c->P;
    const float *dyb = dy, *col = x;
    if (g > 1) {
        float *buf = op_scratch(3, (size_t)c->O * ld);
        gather_planes(buf, dy, g, c->O, c->P);
        dyb = buf;
    }
    if (!(c->identity && g == 1)) {
        float *buf = op_scratch(0, (size_t)c->K * ld);
        if (c->identity) gather_planes(buf, x, g, c->C, c->P);
        else cols(c, buf, x, g, 1);
        col = buf;
    }
    par_sgemm(CblasNoTrans, CblasTrans, c->O, c->K, (int)ld, 1.0f, dyb, (int)ld, col, (int)ld, add ? 1.0f : 0.0f,
              acc, c->K);
}

/* Which of the three a job does, over the images of c (x, y, dy for the whole batch) */
enum { GEMM_FORWARD, GEMM_INPUT, GEMM_WEIGHT };
typedef struct GemmJob {
    const ConvShape *c;
    int what, block;
    float *out, *part;    /* out: y or dx; part: the weight gradient's partial of share 0 */
    const float *in, *x, *w, *b;
} GemmJob;

/* images [lo, hi) block by block */
static void gemm_images(const GemmJob *j, int lo, int hi, float *acc)
{
    const ConvShape *c = j->c;
    size_t xs = (size_t)c->C * c->H * c->W, ys = (size_t)c->O * c->P;
    for (int n0 = lo; n0 < hi; n0 += j->block) {
        int g = hi - n0 < j->block ? hi - n0 : j->block;
        if (j->what == GEMM_FORWARD) forward_block(c, j->out + n0 * ys, j->x + n0 * xs, j->w, j->b, g);
        else if (j->what == GEMM_INPUT) backward_input_block(c, j->out + n0 * xs, j->in + n0 * ys, j->w, g);
        else backward_weight_block(c, acc, j->in + n0 * ys, j->x + n0 * xs, g, n0 > lo);
    }
}

static void gemm_share(void *ctx, int t, int T)
{
    const GemmJob *j = ctx;
    size_t N = (size_t)j->c->N;
    size_t wn = (size_t)j->c->O * j->c->K;
    gemm_images(j, (int)par_lo(N, t, T), (int)par_lo(N, t + 1, T), j->part ? j->part + (size_t)t * wn : NULL);
}

/* Runs a forward or input-gradient job: shares of the images across the threads, or the
 * blocks in turn, each split across them */
static void gemm_run(GemmJob *j)
{
    int T = par_threads();
    Blocking b = blocking(j->c, j->c->N, T);
    j->block = b.block;
    if (b.images_split) par_run(T, gemm_share, j);
    else gemm_images(j, 0, j->c->N, NULL);
}

void conv2d_gemm_forward(const ConvShape *c, float *y, const float *x, const float *w, const float *b)
{
    GemmJob j = { c, GEMM_FORWARD, 1, y, NULL, NULL, x, w, b };
    gemm_run(&j);
}

void conv2d_gemm_backward_input(const ConvShape *c, float *dx, const float *dy, const float *w)
{
    GemmJob j = { c, GEMM_INPUT, 1, dx, NULL, dy, NULL, w, NULL };
    gemm_run(&j);
}

/* share t of dw[i] = part[0][i] + ... + part[T-1][i] (wn floats each), in share order */
typedef struct PartSum { float *dw; const float *part; size_t wn; } PartSum;

static void part_sum_share(void *ctx, int t, int T)
{
    const PartSum *s = ctx;
    for (size_t i = par_lo(s->wn, t, T); i < par_lo(s->wn, t + 1, T); i++) {
        float v = s->part[i];
        for (int u = 1; u < T; u++) v += s->part[(size_t)u * s->wn + i];
        s->dw[i] = v;
    }
}

void conv2d_gemm_backward_weight(const ConvShape *c, float *dw, const float *dy, const float *x)
{
    size_t wn = (size_t)c->O * c->K;
    int T = par_threads();
    Blocking b = blocking(c, c->N, T);
    GemmJob j = { c, GEMM_WEIGHT, b.block, NULL, dw, dy, x, NULL, NULL };
    if (c->N == 0) memset(dw, 0, wn * sizeof *dw);
    if (!b.images_split) {
        gemm_images(&j, 0, c->N, dw);
        return;
    }
    j.part = op_scratch(1, (size_t)T * wn);
    par_run(T, gemm_share, &j);
    PartSum s = { dw, j.part, wn };
    par_run(T, part_sum_share, &s);
}
