/* runtime/ops/kernels.h: the plain kernels behind the op table (float32 NCHW, explicit sizes,
 * no graph), so tests and later fused kernels can call them directly, plus the few helpers
 * the op rows share (input checks for shape rules, scratch memory, hyperparameters).
 *
 * Conventions: every kernel writes its outputs (=, never +=); backward outputs are fresh
 * buffers. Ho = window_out_size(H, k, stride, pad) (ops.h), likewise Wo. */
#ifndef CN_OPS_KERNELS_H
#define CN_OPS_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../graph.h"
#include "../ops.h"
#include "../rng.h"

#include "../multiversion.h"     /* CN_MULTIVERSION: hot loops for AVX-512, AVX2 and x86-64 */

/* The direct convolution kernels may fuse a multiply and an add into one rounding (FMA):
 * every x86-64-v3 or later CPU, and so the AVX-512 and AVX2 versions, do so alike. */
#if defined(__GNUC__) && !defined(__clang__)
#define CN_CONTRACT __attribute__((optimize("fp-contract=fast")))
#else
#define CN_CONTRACT
#endif

/* Hand-blocked kernels (conv2d_direct.c, linear.c) hold 16 floats per GCC vector; loads and
 * stores go through memcpy (any alignment). Macros, not functions: passing a vf by value
 * would change the ABI between the clones. */
typedef float vf __attribute__((vector_size(64)));
#define VL 16
#define LOAD(v, p) memcpy(&(v), (p), sizeof(vf))
#define SPLAT(v, x) ((v) = (vf){ 0 } + (x))
/* 8 floats or int32s per vector, for kernels that compare and select (maxpool2d.c,
 * conv2d_relu_maxpool2d.c): GCC 12 turns such code on 16 lanes into scalar code in the
 * AVX-512 and AVX2 clones, but not on 8. */
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
#define VL8 8
/* Where a step of VL8 that would start at i0 of a row n wide starts: a row wider than VL8
 * ends with a step that ends at the row's end, overlapping the one before it (the same
 * values written twice); a narrower row is one step from 0. */
static inline int vl8_step(int i0, int n) { return i0 + VL8 > n && n > VL8 ? n - VL8 : i0; }
/* ReLU on 8 lanes, NaN kept (relu_forward's rule: x < 0 ? 0 : x), and ReLU's gradient
 * (threshold_backward: y <= 0 ? 0 : dy) as bit masks, with no branch per element; macros,
 * as LOAD above */
#define RELU8(x) ((vf8)((vi8)(x) & ~((x) < (vf8){ 0 })))
#define RELU_GRAD8(dy, y) ((vf8)((vi8)(dy) & ~((y) <= (vf8){ 0 })))
/* 4 floats, and the F(4x4) Winograd transforms' moves between 8 tiles of 4 and their 4 phases */
typedef float vf4 __attribute__((vector_size(16)));
/* r[j] lane l = the 4x4 transposes within each half: for in[i] = (tile i | tile i + 4) of 4
 * floats each, r[j] = phase j of tiles 0 .. 7; applied to phases, it gives back the tiles
 * (the F(4x4) Winograd transforms') */
static inline __attribute__((always_inline)) void transpose4_halves(const vf8 *in, vf8 *r)
{
    vf8 t0 = __builtin_shufflevector(in[0], in[1], 0, 8, 1, 9, 4, 12, 5, 13);
    vf8 t1 = __builtin_shufflevector(in[0], in[1], 2, 10, 3, 11, 6, 14, 7, 15);
    vf8 t2 = __builtin_shufflevector(in[2], in[3], 0, 8, 1, 9, 4, 12, 5, 13);
    vf8 t3 = __builtin_shufflevector(in[2], in[3], 2, 10, 3, 11, 6, 14, 7, 15);
    r[0] = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    r[1] = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    r[2] = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    r[3] = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
}
/* e[j] lane l = lo[4l + j] for tiles l < 4 and hi[4(l-4) + j] for the others (j < 4; lo and hi:
 * 4 tiles of 4 columns each, hi = lo + 16 along a row) */
static inline __attribute__((always_inline)) void phases4(const float *lo, const float *hi, vf8 *e)
{
    vf4 h[8];
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {
        memcpy(&h[i], lo + 4 * i, sizeof h[i]);
        memcpy(&h[i + 4], hi + 4 * i, sizeof h[i]);
    }
    vf8 in[4];
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) in[i] = __builtin_shufflevector(h[i], h[i + 4], 0, 1, 2, 3, 4, 5, 6, 7);
    transpose4_halves(in, e);
}

/* conv2d.c: x[N,C,H,W], w[O,C,k,k], b[O] (or NULL), y[N,O,Ho,Wo]; zero padding. */
void conv2d_forward(float *y, const float *x, const float *w, const float *b,
                    int N, int C, int H, int W, int O, int k, int stride, int pad);
/* The sizes of one convolution; K = C*k*k, P = Ho*Wo; identity: a 1x1 kernel needs no
 * im2col; direct: stride 1 with a larger kernel, done by conv2d_direct.c's kernels;
 * winograd: 3x3 stride 1 where Winograd pays, 4 for F(4x4,3x3) (conv2d_winograd4.c), 2 for
 * F(2x2,3x3) (conv2d_winograd.c), 0 for neither (never with direct);
 * accumulate: the input gradient is added to what dx holds (dx += ...: the sum of the
 * gradients of a value read twice, conv2d_backward_input's third input); the Winograd
 * and im2col + sgemm input gradients honour it; conv2d.c's input_grad runs any other path
 * (the direct kernels) into scratch and adds after (its native flag: 0 unless the path adds) */
typedef struct ConvShape { int N, C, H, W, O, k, s, p, Ho, Wo, K, P, identity, direct, winograd, accumulate; } ConvShape;
/* Forces Conv2d's choice of the direct kernels for stride 1 (1) or im2col + sgemm (0) in this
 * process; by default they are used where the CPU has AVX-512 and the shape suits them (or as
 * CNNC_CONV_DIRECT says). For the tests of the direct paths; call it before any graph is built. */
void conv2d_use_direct(int on);
ConvShape conv_shape(int N, int C, int H, int W, int O, int k, int s, int p);
/* the same for a convolution followed by ReLU and MaxPool2d (conv2d_relu_maxpool2d) */
ConvShape conv_shape_pooled(int N, int C, int H, int W, int O, int k, int s, int p);
/* yn (O x Ho*Wo) of one image xn (C x H x W); the work is split across threads when called
 * outside a parallel region (one image: latency) */
void conv2d_forward_image(const ConvShape *c, float *yn, const float *xn, const float *w, const float *b);
/* The same for g consecutive images of a direct shape (g from conv2d_group: small planes
 * go several at a time), left in scratch slot 3: plane o at o * *plane floats, its rows *ws
 * floats apart (ws >= Wo), image i's rows starting *img floats after image i-1's */
const float *conv2d_forward_rows(const ConvShape *c, const float *xn, int g, const float *w, const float *b,
                                 size_t *plane, int *ws, size_t *img);
int conv2d_group(const ConvShape *c);
/* Forces Conv2d's choice of Winograd (conv2d_winograd.c) for every 3x3 stride-1 convolution
 * not on the direct kernels (1) or for none (0) in this process; -1: where the cost rule
 * (conv2d.c) says it pays, as by default (or as CNNC_CONV_WINOGRAD says). For tests; call
 * it before any graph is built. */
void conv2d_use_winograd(int on);
/* Forces which Winograd runs where one does: F(4x4,3x3) (1) or F(2x2,3x3) (0) for every
 * shape; -1: conv2d.c's size rule, as by default (or as CNNC_CONV_WINOGRAD4 says). For tests */
void conv2d_use_winograd4(int on);
/* conv2d_winograd.c: F(2x2,3x3) for 3x3 stride-1 shapes (c->k == 3, c->s == 1; the input
 * gradient also needs c->p <= 2) of c->N images, any zero padding */
void conv2d_winograd_forward(const ConvShape *c, float *y, const float *x, const float *w, const float *b);
void conv2d_winograd_backward_input(const ConvShape *c, float *dx, const float *dy, const float *w);
/* The input transform both use: V[xi][ch][t - t0] (at V + xi xs + ch ld, ld >= nt + 7) = (B^T d
 * B)[xi], d the 4x4 patch of x (c->C channels, zero-padded by c->p) under 2x2 output tile t
 * of c->Ho x c->Wo, tiles numbered over (image, tile row, tile column), for t in [t0, t0+nt);
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Whole vectors are stored: up to 7 lanes
 * past the last tile hold whatever (finite) values they carried. */
void conv2d_winograd_input(const ConvShape *c, float *V, size_t ld, size_t xs, const float *x, size_t t0, size_t nt);
/* e[t] = r[2t], o[t] = r[2t+1] for t < n (n a multiple of 8; r holds 2n floats) */
void conv2d_winograd_deinterleave(float *e, float *o, const float *r, int n);
/* The floats the Winograd kernels add to V[xi] and M[xi]'s whole rows between xi and xi + 1:
 * with rows * ld a multiple of 1024 (16 channels of 256 tiles), the 16 rows that the
 * transforms write and read together would otherwise share their cache sets and 4 KiB
 * offsets (1.2-1.5x the transforms' time, one thread, AMD EPYC, 2026-12-04) */
#define XI_SKEW 32
/* Forces the tiles per block in this process (0: chosen from a cache budget); for the tests */
void conv2d_winograd_block(int tiles);
/* conv2d_winograd4.c: F(4x4,3x3), as conv2d_winograd.c's F(2x2,3x3) (same shapes, same
 * arguments) with 36 products per 4x4 outputs instead of 64 */
void conv2d_winograd4_forward(const ConvShape *c, float *y, const float *x, const float *w, const float *b);
void conv2d_winograd4_backward_input(const ConvShape *c, float *dx, const float *dy, const float *w);
/* Forces F(4x4)'s tiles per block in this process (0: chosen from a cache budget); for the tests */
void conv2d_winograd4_block(int tiles);
/* Its input transform, as conv2d_winograd_input's: V[xi][ch][t - t0] (at V + xi xs + ch ld,
 * ld >= nt + 7; xi = 6 a + b, a down the patch) = (B^T d B)[xi], d the 6x6 patch of x under
 * 4x4 output tile t, for t in [t0, t0+nt); up to 7 lanes past the last tile hold whatever
 * (finite) values they carried */
void conv2d_winograd4_input(const ConvShape *c, float *V, size_t ld, size_t xs, const float *x, size_t t0,
                            size_t nt);
/* wino_gemm.c: the Winograd products, M (O x cols, rows ld floats apart) = U (O x C) @ V
 * (C x cols, the same), cols a multiple of 8 */
void wino_gemm(float *M, const float *U, const float *V, int O, int C, size_t ld, size_t cols);
/* Whether the Winograd kernels (wino_gemm, F(4x4)'s transforms) take their 16-lane AVX-512
 * paths where the CPU has them (1, the default) or the 8-lane loops everywhere (0), in this
 * process: for the tests of both */
void wino_gemm_wide(int on);
/* Compilers that build those paths (GCC's target attribute, x86-64), and whether they run:
 * allowed, and the CPU has the AVX-512 of x86-64-v4 (F, DQ, BW, VL; not under valgrind) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CN_WINO_WIDE 1
#endif
int wino_wide(void);
/* conv2d_gemm.c: the im2col + sgemm paths of c->N images (x, y, dx, dy: the whole batch),
 * blocks of images per sgemm; dw is written, not accumulated into */
void conv2d_gemm_forward(const ConvShape *c, float *y, const float *x, const float *w, const float *b);
void conv2d_gemm_backward_input(const ConvShape *c, float *dx, const float *dy, const float *w);
void conv2d_gemm_backward_weight(const ConvShape *c, float *dw, const float *dy, const float *x);
/* conv2d_winograd_wgrad.c: dw (written) of a 3x3 stride-1 convolution by Winograd's
 * F(3x3, 4x4) where c->winograd == 4, F(3x3, 2x2) otherwise; conv2d.c takes it where
 * c->winograd says (the forward's choice) */
void conv2d_winograd_backward_weight(const ConvShape *c, float *dw, const float *dy, const float *x);
/* Forces the images per sgemm in this process (0: chosen from a cache budget); for the tests */
void conv2d_gemm_block(int images);
/* conv2d's shape rule without declaring the output: x, w, b? against the kernel attributes */
int conv2d_check(const Graph *g, const Node *n, int *O, int *Ho, int *Wo, Error *e);
/* conv2d's backward rule, for fused ops that end in a convolution's gradient */
int conv2d_grad(Graph *g, Node n, const int *dout, Error *e);
/* dx[N,C,H,W] from dy[N,O,Ho,Wo] and w[O,C,k,k] */
void conv2d_backward_input(float *dx, const float *dy, const float *w,
                           int N, int C, int H, int W, int O, int k, int stride, int pad);
/* The same, added to dx when accumulate is set: dx[i] = dx[i] + the gradient, the floats
 * that an add of the two would give */
void conv2d_backward_input_acc(float *dx, const float *dy, const float *w,
                               int N, int C, int H, int W, int O, int k, int stride, int pad, int accumulate);
/* dw[O,C,k,k] and db[O] (or NULL) from dy[N,O,Ho,Wo] and x[N,C,H,W] */
void conv2d_backward_weight(float *dw, float *db, const float *dy, const float *x,
                            int N, int C, int H, int W, int O, int k, int stride, int pad);

/* The direct backward (conv2d_backward_direct_ok: stride 1, a kernel larger than 1x1, pad
 * <= k-1) of c->N images: dx (NULL: not wanted), dw and db (NULL: not wanted) from x and w,
 * dy coming an image at a time from dy_place(ctx, dst, plane, ws, n): image n's O planes of
 * Ho x Wo into dst (plane o's rows at dst + o * plane + h * ws), every float of the rows
 * written, every other float of dst left as it is (zero; the rows' own floats hold
 * whatever was there before), nothing written past 16 floats after the last row's start.
 * The plain backward ops copy dy; the fused conv2d_relu_maxpool2d_backward unpools
 * straight into dst. db sums each plane row by row (sum_rows_f64). */
typedef void (*ConvDyPlace)(void *ctx, float *dst, size_t plane, int ws, int n);
int conv2d_backward_direct_ok(const ConvShape *c);
void conv2d_backward_direct(const ConvShape *c, float *dx, float *dw, float *db, const float *x, const float *w,
                            ConvDyPlace dy_place, void *ctx);
/* db[o] for o in [o0, o1) from the sums of dy's planes (plane_sum[n][o], N x O, doubles):
 * added in image order in double, as both the direct and the sparse backward do */
void conv2d_bias_from_planes(float *db, const double *plane_sum, int N, int O, int o0, int o1);

/* conv2d_direct.c: stride-1 correlation over zero-padded planes of row stride wp (plane
 * floats apart, nc of them, followed by at least k + 64 zeros). Output position q of a
 * plane with the same row stride reads xp[c*plane + i*wp + j + q] under tap (c, i, j).
 * corr_place: dst[c*dplane + (top + h)*ws + left + w] = src[c][h][w] (src: nc planes of
 * H x W), every other float of dst's nc planes and of the tail after them zero.
 * corr_extract: dst[c][h][w] = src[c*splane + h*ws + w], the inverse for H x W.
 * corr_forward: ye[o*ys + q] = b[o] (0 without b) + sum over taps of w[o][tap] * xp[...],
 * for q in [q0, q1), both multiples of 64; w is O x (nc*k*k).
 * corr_weight: g[o][tap] (+ g[o][tap] when accumulate) = sum over nimg images i and q < Q
 * (a multiple of 16) of de[i*de_img + o*ds + q] * xp[i*xp_img + ...]; de must be zero at
 * positions that are not outputs. */
void corr_place(float *dst, size_t dplane, int ws, int top, int left, const float *src,
                int nc, int H, int W, size_t tail);
void corr_extract(float *dst, const float *src, size_t splane, int ws, int nc, int H, int W);
void corr_forward(float *ye, size_t ys, const float *xp, size_t plane, int wp, int nc, int k,
                  const float *w, const float *b, int O, size_t q0, size_t q1);
void corr_weight(float *g, const float *de, size_t ds, size_t Q, const float *xp, size_t plane, int wp,
                 int nc, int k, int O, int accumulate, int nimg, size_t de_img, size_t xp_img);

/* conv2d_pool_sparse.c: conv2d_relu_maxpool2d_backward's gradients (dx, db: NULL when not
 * wanted; dw wanted) from the pooled gradient's places alone, for the shapes and values
 * conv2d_pool_sparse_ok accepts (3 x 3, stride 1, 8 or more input channels; x, and w where
 * given, finite). Hp x Wp: the pooled size; pk, ps, pp: the pooling window. */
int conv2d_pool_sparse_ok(const ConvShape *c, const float *x, const float *w);
void conv2d_pool_sparse_backward(const ConvShape *c, float *dx, float *dw, float *db, const float *dy,
                                 const float *y, const int32_t *argmax, const float *x, const float *w, int Hp,
                                 int Wp, int pk, int ps, int pp);

/* conv2d_relu_maxpool2d.c: y, argmax[N,O,Hp,Wp] = maxpool(relu(conv2d(x, w, b))), argmax
 * indexing the convolution's Ho x Wo plane; and its backward to the convolution's output */
void conv2d_relu_maxpool2d_forward(float *y, int32_t *argmax, const float *x, const float *w, const float *b,
                                   int N, int C, int H, int W, int O, int k, int stride, int pad,
                                   int pk, int ps, int pp);
void relu_maxpool2d_backward(float *dconv, const float *dy, const float *y, const int32_t *argmax,
                             int N, int O, int Ho, int Wo, int Hp, int Wp, int pk, int ps, int pp);

/* dx (NULL: not wanted), dw, db (NULL: not wanted) of the stride-1 convolution under y,
 * argmax = conv2d_relu_maxpool2d_forward(x, w, ...) from dy [N,O,Hp,Wp], for shapes
 * conv2d_backward_direct_ok accepts: the same as relu_maxpool2d_backward, then
 * conv2d_backward_input and conv2d_backward_weight, bit for bit, without dconv in memory */
void conv2d_relu_maxpool2d_backward(float *dx, float *dw, float *db, const float *dy, const float *y,
                                    const int32_t *argmax, const float *x, const float *w, int N, int C, int H,
                                    int W, int O, int k, int pad, int pk, int ps, int pp);

/* linear.c: x[N,in], w[out,in], b[out] (or NULL), y[N,out] = x w^T + b */
void linear_forward(float *y, const float *x, const float *w, const float *b, int N, int in, int out);
/* dx[N,in] = dy[N,out] w[out,in] */
void linear_backward_input(float *dx, const float *dy, const float *w, int N, int in, int out);
/* dw[out,in] = dy^T x, db[out] (or NULL) = column sums of dy (in double) */
void linear_backward_weight(float *dw, float *db, const float *dy, const float *x, int N, int in, int out);

/* relu.c: y[n] = max(x, 0) (NaN stays NaN); dx[n] = y > 0 ? dy : 0 */
void relu_forward(float *y, const float *x, size_t n);
void relu_backward(float *dx, const float *dy, const float *y, size_t n);

/* maxpool2d.c: x[N,C,H,W] -> y, argmax[N,C,Ho,Wo]; padding counts as -inf; argmax is the
 * index within x's H*W plane. */
void maxpool2d_forward(float *y, int32_t *argmax, const float *x,
                       int N, int C, int H, int W, int k, int stride, int pad);
/* One H x W plane of it, rows ws floats apart in xp; with relu set, the window's values go through ReLU first (the
 * fused conv2d_relu_maxpool2d): the same outputs as ReLU then MaxPool2d, NaNs included (for
 * 2 x 2 windows the argmax of an all-non-positive window may differ; its output is 0 and it
 * passes no gradient). */
void maxpool2d_plane(float *yp, int32_t *ap, const float *xp, int H, int W, int ws, int k, int stride, int pad,
                     int relu);
/* Output rows [oh0, oh1) of it (yp, ap: the whole output plane), x's rows from row0 on at xp:
 * those the windows of these rows read */
void maxpool2d_rows(float *yp, int32_t *ap, const float *xp, int row0, int H, int W, int ws, int k, int stride,
                    int pad, int relu, int oh0, int oh1);
/* Any window (pairs, dilation; Ho x Wo with or without ceil_mode), PyTorch's scan */
void maxpool2d_general_forward(float *y, int32_t *argmax, const float *x, int N, int C, int H, int W, int Ho, int Wo,
                               Window2d k);
/* dx[N,C,H,W] = scatter-add of dy[N,C,Ho,Wo] at argmax */
void maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                        int N, int C, int H, int W, int Ho, int Wo);

/* dropout.c: y[n] = x * mask, mask[n] = 0 with probability p, else 1/(1-p), drawing one
 * rng_uniform per element in order; dx = dy * mask */
void dropout_forward(float *y, float *mask, const float *x, size_t n, double p, Rng *rng);
void dropout_backward(float *dx, const float *dy, const float *mask, size_t n);

/* The options of CrossEntropyLoss and NLLLoss (torch 1.13): class weights (NULL: all 1), a
 * label left out (when ignore), reduction 'sum' instead of 'mean', label smoothing
 * (CrossEntropyLoss). NULL stands for the defaults. */
typedef struct LossOpts {
    const float *weight;
    int    ignore, ignore_index, sum;
    double label_smoothing;
} LossOpts;

/* cross_entropy.c: logits[N,K], labels[N] -> probs[N,K] = softmax; returns torch's
 * cross_entropy under o (NaN if a label is outside [0, K) and not ignored). Default: the mean
 * over the batch of logsumexp(z_i) - z_i[y_i]. */
float cross_entropy_forward(float *probs, const float *logits, const int32_t *labels, int N, int K,
                            const LossOpts *o);
/* dlogits[N,K]: its gradient; default (probs - onehot(labels)) / N; a row with a bad label
 * becomes NaN, an ignored row 0 */
void cross_entropy_backward(float *dlogits, const float *probs, const int32_t *labels, int N, int K,
                            const LossOpts *o);

/* add.c: y[n] = a + b; add_relu: y[n] = relu(a + b) (NaN kept) */
void add_forward(float *y, const float *a, const float *b, size_t n);
void add_relu_forward(float *y, const float *a, const float *b, size_t n);
/* y, argmax[N,C,Ho,Wo] = maxpool2d_forward(relu(a + b)), a plane at a time */
void add_relu_maxpool2d_forward(float *y, int32_t *argmax, const float *a, const float *b, int N, int C, int H, int W,
                                int k, int stride, int pad);

/* activations.c: y[n] = f(x) and dx[n] = dy * f'(s), s = x (y for sigmoid and tanh:
 * activation_backward_reads_result), torch 1.13's formulas; alpha: LeakyReLU's
 * negative_slope, ELU's alpha (ignored by the others) */
typedef enum {
    ACT_LEAKY_RELU, ACT_ELU, ACT_GELU, ACT_GELU_TANH, ACT_SILU, ACT_SIGMOID, ACT_TANH,
    ACT_RELU6, ACT_HARDSWISH, ACT_HARDSIGMOID
} Activation;
void activation_forward(Activation kind, float *y, const float *x, size_t n, float alpha);
void activation_backward(Activation kind, float *dx, const float *dy, const float *s, size_t n, float alpha);
int  activation_backward_reads_result(Activation kind);

/* softmax.c: y = softmax (log_form: log_softmax) of x[N,C,inner] over C; backward from y */
void softmax_forward(float *y, const float *x, int N, int C, size_t inner, int log_form);
void softmax_backward(float *dx, const float *dy, const float *y, int N, int C, size_t inner, int log_form);

/* nll_loss.c: torch's nll_loss under o (its label_smoothing unused); default
 * -mean_i logp[i][labels[i]] (NaN for a label outside [0, K) and not ignored);
 * dlogp = -1/N at each row's label, 0 elsewhere (a bad label's row NaN) */
float nll_loss_forward(const float *logp, const int32_t *labels, int N, int K, const LossOpts *o);
void  nll_loss_backward(float *dlogp, const int32_t *labels, int N, int K, const LossOpts *o);

/* The loss options an op's attributes give (cross_entropy.c) */
LossOpts loss_opts(const Attrs *a);
/* Over the rows not ignored: the sum of their labels' weights (the count when unweighted),
 * and the count; a label outside [0, K) counts 1 (its row is NaN anyway) */
double loss_weight_sum(const int32_t *labels, int N, int K, const LossOpts *o);

/* cat.c: y[n] = x_0[n] ++ ... ++ x_{nx-1}[n], block[i] elements of elem bytes per item;
 * slice: y[n] = x[n][offset, offset + block) of items of `item` elements */
void cat_forward(void *y, const void *const *x, const size_t *block, int nx, int N, size_t elem);
void slice_forward(void *y, const void *x, size_t item, size_t offset, size_t block, int N, size_t elem);

/* dropout2d.c: mask[NC] = 0 with probability p, else 1/(1-p), one rng_uniform per channel
 * in order; y = x * its channel's mask (plane floats a channel); dx = dy * mask */
void dropout2d_forward(float *y, float *mask, const float *x, size_t NC, size_t plane, double p, Rng *rng);
void dropout2d_backward(float *dx, const float *dy, const float *mask, size_t NC, size_t plane);

/* adam.c: one torch.optim.Adam or AdamW (1.13, single-tensor) step t >= 1 over n
 * elements, in place. grad is not modified. */
typedef struct AdamHyper {
    double lr, beta1, beta2, eps, weight_decay;
    int    decoupled;       /* AdamW: param *= 1 - lr*weight_decay instead of grad += wd*param */
} AdamHyper;
void adam_update(float *param, const float *grad, float *exp_avg, float *exp_avg_sq, float *max_exp_avg_sq,
                 size_t n, const AdamHyper *h, int64_t step);

/* rmsprop.c: one torch.optim.RMSprop (1.13, single-tensor) step, in place; momentum_buffer
 * is NULL when momentum == 0, grad_avg NULL unless centered. grad is not modified. */
typedef struct RmspropHyper {
    double lr, alpha, eps, weight_decay, momentum;
} RmspropHyper;
void rmsprop_update(float *param, const float *grad, float *square_avg, float *momentum_buffer,
                    float *grad_avg, size_t n, const RmspropHyper *h);

/* clip_grad.c: ||x||_p (p may be INFINITY) summed in double, as a float; the factor
 * clip_grad_norm_ scales by, from the norms' p-th powers summed (their max for inf) */
float grad_norm_p(const float *x, size_t n, double p);
float clip_grad_norm_coef(float acc, double max_norm, double p);

/* sgd.c: one torch.optim.SGD (1.13) step t >= 1, in place; momentum_buffer may be NULL
 * when momentum == 0. grad is not modified. */
typedef struct SgdHyper {
    double lr, momentum, dampening, weight_decay;
    int    nesterov;
} SgdHyper;
void sgd_update(float *param, const float *grad, float *momentum_buffer, size_t n,
                const SgdHyper *h, int64_t step);

/* conv2d_general.c: conv2d with groups G (C and O multiples of G; w[O, C/G, kh, kw]),
 * dilation, non-square window k and 'zeros' or 'reflect' padding (reflect set); Ho, Wo by
 * window_out_size_ex (ops.h). x[N,C,H,W], y[N,O,Ho,Wo]. */
typedef struct ConvGeneral { int N, C, H, W, O, G, Ho, Wo, reflect; Window2d k; } ConvGeneral;
void conv2d_general_forward(const ConvGeneral *c, float *y, const float *x, const float *w, const float *b);
void conv2d_general_backward_input(const ConvGeneral *c, float *dx, const float *dy, const float *w);
void conv2d_general_backward_weight(const ConvGeneral *c, float *dw, float *db, const float *dy, const float *x);
/* the general kernel itself, depthwise shapes included (tests and bench/ compare the two) */
void conv2d_grouped_forward(const ConvGeneral *c, float *y, const float *x, const float *w, const float *b);
void conv2d_grouped_backward_input(const ConvGeneral *c, float *dx, const float *dy, const float *w);
void conv2d_grouped_backward_weight(const ConvGeneral *c, float *dw, float *db, const float *dy, const float *x);
/* conv2d_depthwise.c: the same three for G == C (w[O, 1, kh, kw], O = m*C) with 'zeros'
 * padding, which conv2d_depthwise_applies says; the conv2d_general_ functions call them */
int  conv2d_depthwise_applies(const ConvGeneral *c);
void conv2d_depthwise_forward(const ConvGeneral *c, float *y, const float *x, const float *w, const float *b);
void conv2d_depthwise_backward_input(const ConvGeneral *c, float *dx, const float *dy, const float *w);
void conv2d_depthwise_backward_weight(const ConvGeneral *c, float *dw, float *db, const float *dy, const float *x);

/* avgpool2d.c: x[N,C,H,W] -> y[N,C,Ho,Wo], k's stride and padding (dilation ignored) */
void avgpool2d_forward(float *y, const float *x, int N, int C, int H, int W, int Ho, int Wo, Window2d k,
                       int count_include_pad);
void avgpool2d_backward(float *dx, const float *dy, int N, int C, int H, int W, int Ho, int Wo, Window2d k,
                        int count_include_pad);
/* adaptive_pool2d.c: PyTorch's adaptive windows of x[N,C,H,W] for an Ho x Wo output */
void adaptive_avgpool2d_forward(float *y, const float *x, int N, int C, int H, int W, int Ho, int Wo);
void adaptive_avgpool2d_backward(float *dx, const float *dy, int N, int C, int H, int W, int Ho, int Wo);
void adaptive_maxpool2d_forward(float *y, int32_t *argmax, const float *x, int N, int C, int H, int W, int Ho,
                                int Wo);

/* batchnorm.c: x[N,C,L] -> y, with the statistics used in mean, invstd[C]; w, b NULL when
 * affine=False, rmean, rvar, nbt NULL without running statistics (see the file's top) */
void batchnorm_forward(float *y, float *mean, float *invstd, const float *x, const float *w, const float *b,
                       float *rmean, float *rvar, int64_t *nbt, int N, int C, int L, int training,
                       double momentum, int momentum_none, double eps);
void batchnorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                        const float *invstd, const float *w, int N, int C, int L, int batch_stats);
/* The fused batchnorm2d_relu: batchnorm_forward then y = max(y, 0); its backward is
 * batchnorm_backward of relu_backward(dy, y), y being that fused output */
void batchnorm_relu_forward(float *y, float *mean, float *invstd, const float *x, const float *w, const float *b,
                            float *rmean, float *rvar, int64_t *nbt, int N, int C, int L, int training,
                            double momentum, int momentum_none, double eps);
void batchnorm_relu_backward(float *dx, float *dw, float *db, const float *dy, const float *y, const float *x,
                             const float *mean, const float *invstd, const float *w, int N, int C, int L,
                             int batch_stats);
/* eval-mode BatchNorm folded into the convolution before it: w2 = w * s, b2 = (b - rmean)
 * * s + beta, s = gamma / sqrt(rvar + eps); per_out floats of w per output channel */
void batchnorm_fold(float *w2, float *b2, const float *w, const float *b, const float *gamma, const float *beta,
                    const float *rmean, const float *rvar, int O, size_t per_out, double eps);

/* common.c: helpers shared by the op rows. */

/* For shape rules: checks that n has between lo and hi inputs. */
int op_expect_inputs(const Graph *g, const Node *n, int lo, int hi, Error *e);
/* For shape rules: checks that input i of n has dtype dt and ndim dims (any when ndim is
 * 0), naming it `what` (e.g. "x (N x C x H x W)") in the error. */
int op_expect(const Graph *g, const Node *n, int i, const char *what, DType dt, int ndim, Error *e);
/* For shape rules: checks that inputs i and j of n have the same shape, naming them. */
int op_expect_same_shape(const Graph *g, const Node *n, int i, const char *what_i, int j,
                         const char *what_j, Error *e);
/* For an optimizer's shape rule: checks that n has exactly nin inputs, each float32 of the
 * shape of input 0 (the parameter), naming them what[i]. */
int op_expect_param_state(const Graph *g, const Node *n, int nin, const char *const *what, Error *e);
/* A growing buffer of at least n floats, one per slot, of the par_run share the caller is
 * running (parallel.h par_share) or, outside one, of the calling thread; valid until the
 * next call for the same slot there: kernels use it for im2col and partial sums so that no
 * call allocates once warmed up. Slot 0: im2col columns or padded planes; slot 1: partial
 * gradients, or what all shares read (a flipped kernel); slot 2: a fused kernel's
 * intermediate, or an accumulating input gradient's (conv2d.c, conv2d_gemm.c); slot 3: a
 * direct convolution's output rows. */
#define OP_SCRATCH_SLOTS 4
float *op_scratch(int slot, size_t n);
/* A data-parallel run (graph.h's global_batch): a mean over this rank's N samples becomes
 * its share of the mean over the global batch (x[0..n) times N / global_batch); a no-op in
 * one process. */
void op_loss_share(const Graph *g, float *x, size_t n, int N);
/* A data-parallel run: skips the random draws of the samples on the other ranks, before
 * (before = 1) or after this rank's share, per_sample draws each, so that every sample gets
 * the draws it gets in one process and the ranks' generators stay the same. */
void op_rng_skip_shard(Graph *g, size_t per_sample, int before);

#endif
