/* runtime/ops/conv2d.c: Conv2d (square kernel, stride, zero padding) with its two backward
 * ops, the gradient of the input and the gradients of the weight and bias. 3x3 stride 1
 * where it pays (winograd_pays) runs the forward and the input gradient by Winograd,
 * F(4x4,3x3) (conv2d_winograd4.c) or F(2x2,3x3) (conv2d_winograd.c) as winograd_kind says.
 * Other stride-1 kernels larger than 1x1 run, where the CPU has AVX-512 (direct_pays), on
 * the direct kernels of conv2d_direct.c (the backward where
 * the padding is at most k-1, through conv2d_backward_direct, which the fused
 * conv2d_relu_maxpool2d_backward shares); other shapes use im2col + sgemm over blocks of
 * images (conv2d_gemm.c). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../parallel.h"

#include "../ops.h"
#include "kernels.h"

/* A 1x1 kernel with stride 1 and no padding: im2col is the identity. */
static int im2col_is_identity(int k, int s, int p) { return k == 1 && s == 1 && p == 0; }

/* Whether the direct kernels run here: 0 no; 1 forced (CNNC_CONV_DIRECT=1 or
 * conv2d_use_direct(1), for tests and benchmarks): every stride-1 kernel larger than 1x1,
 * Winograd never; 2 the CPU's choice, with AVX-512, where shape_of says. They compute on
 * 16-float vectors: with AVX-512 they beat im2col + sgemm on many shapes (bench/RESULTS.md:
 * 139-365% of sgemm on Zen 4); without it GCC splits those vectors into narrow code and
 * im2col + sgemm was 3-10x faster (an AVX2-only EPYC, 2026-12-03: fashion_resnet's 16-channel
 * 3x3 convolutions at 2.3 GFLOP/s direct, 22.6 by im2col). CNNC_CONV_DIRECT=0 turns them off. */
static _Atomic int direct_choice = -1;     /* -1: not decided yet */

/* Whether the CPU has AVX-512 (the direct kernels' and the Winograd cost rule's condition) */
static int cpu_avx512(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void conv2d_use_direct(int on) { direct_choice = on ? 1 : 0; }

static int direct_pays(void)
{
    int v = direct_choice;
    if (v < 0) {
        const char *env = getenv("CNNC_CONV_DIRECT");
        if (env && (env[0] == '0' || env[0] == '1')) v = env[0] == '1';
        else
            v = cpu_avx512() ? 2 : 0;
        direct_choice = v;
    }
    return v;
}

/* Whether Winograd's F(2x2,3x3) (conv2d_winograd.c) replaces im2col + sgemm for a 3x3
 * stride-1 convolution of N images, C -> O channels, Ho x Wo outputs, where the direct
 * kernels do not run. CNNC_CONV_WINOGRAD=0 or 1 (or conv2d_use_winograd) forces the choice
 * for every such convolution; otherwise it takes those with at least 8 channels in and out
 * (not a stem) and enough tiles to pay for transforming the filters (32 tiles of 2x2
 * outputs; 64 where the CPU has AVX-512). */
static _Atomic int winograd_choice = -2;   /* -2: not read yet; -1: the cost rule */

void conv2d_use_winograd(int on) { winograd_choice = on < 0 ? -1 : on ? 1 : 0; }

static int winograd_pays(int N, int C, int O, int Ho, int Wo, int direct)
{
    int v = winograd_choice;
    if (v == -2) {
        const char *env = getenv("CNNC_CONV_WINOGRAD");
        v = env && (env[0] == '0' || env[0] == '1') ? env[0] == '1' : -1;
        winograd_choice = v;
    }
    if (direct || v >= 0) return !direct && v;
    /* with AVX-512, sgemm's im2col product is the stronger: resnet18's 256-channel 14x14
     * layers at one image (49 tiles) 1.13-1.15 ms by im2col + sgemm against 1.34-1.43 by
     * Winograd, its 128-channel 28x28 ones (196) 1.24-1.41 against 0.82-0.96 (2 threads, a
     * Xeon, 2026-12-04) */
    size_t tiles = (size_t)N * ((Ho + 1) / 2) * ((Wo + 1) / 2), least = cpu_avx512() ? 64 : 32;
    return C >= 8 && O >= 8 && tiles >= least;
}

/* Which Winograd runs where winograd_pays says one does, for N images of Ho x Wo outputs:
 * F(4x4,3x3) (conv2d_winograd4.c; 4) or F(2x2,3x3) (conv2d_winograd.c; 2). F(4x4) does 0.56x
 * the products, its transforms take 8 tiles of a tile row at a time (two rows of 4 tiles
 * where rows have 4): it pays on outputs 24 and more wide, and on 13 to 16 wide ones with
 * 64 tiles or more; on narrower ones, or one 14x14 image (its filter transforms, 36 per
 * channel pair, outweigh 16 tiles), F(2x2) was faster. One thread's CPU time, AMD EPYC with
 * AVX2, 2026-12-04, F(2x2) / F(4x4) forward: 64x16x28x28 1.2-1.3, 64x32x14x14 1.25-1.3,
 * 1x64x56x56 1.3-1.4, 1x128x28x28 1.25-1.4, 1x256x14x14 0.92-0.97, 1x512x7x7 0.5.
 * CNNC_CONV_WINOGRAD4=0 or 1 (or conv2d_use_winograd4) forces the choice. */
static _Atomic int winograd4_choice = -2;   /* -2: not read yet; -1: the size rule */

void conv2d_use_winograd4(int on) { winograd4_choice = on < 0 ? -1 : on ? 1 : 0; }

static int winograd_kind(int N, int Ho, int Wo)
{
    int v = winograd4_choice;
    if (v == -2) {
        const char *env = getenv("CNNC_CONV_WINOGRAD4");
        v = env && (env[0] == '0' || env[0] == '1') ? env[0] == '1' : -1;
        winograd4_choice = v;
    }
    if (v >= 0) return v ? 4 : 2;
    int th = (Ho + 3) / 4, tw = (Wo + 3) / 4;
    if (Ho >= 24 && Wo >= 24) return 4;
    return tw == 4 && th >= 2 && (size_t)N * th * tw >= 64 ? 4 : 2;
}

/* The paths of a convolution: Winograd where it pays, unless the direct kernels are forced,
 * or chosen (AVX-512) for one followed by ReLU and MaxPool2d (pooled: conv2d_relu_maxpool2d,
 * whose direct backward skips the positions the pool did not pick); the direct kernels for
 * the other stride-1 kernels larger than 1x1, pooled or with outputs 32 and more wide. A Xeon
 * with AVX-512, 2026-12-04, two threads, ms direct / Winograd or im2col: pooled, sea's
 * 3 -> 16 at 100x100 forward 1.74 / 3.46, 16 -> 32 at 50x50 forward and backward 7.3 / 10.6,
 * fashion's 1 -> 32 at 28x28 0.92 / 1.26; plain, 3 -> 16 at 100x100 forward 1.9 / 2.9,
 * 16 -> 32 at 50x50 9.5 / 8.9 (Winograd), fashion_resnet's 1 -> 16 at 28x28 forward 0.27 /
 * 0.13, resnet18's 512 -> 512 at 7x7 2.1 / 1.2. */
static ConvShape shape_of(int N, int C, int H, int W, int O, int k, int s, int p, int pooled)
{
    ConvShape c = { N, C, H, W, O, k, s, p, window_out_size(H, k, s, p), window_out_size(W, k, s, p), 0, 0, 0, 0, 0, 0 };
    c.K = C * k * k;
    c.P = c.Ho * c.Wo;
    c.identity = im2col_is_identity(k, s, p);
    int d = s == 1 && k > 1 ? direct_pays() : 0;
    c.winograd = s == 1 && k == 3 && winograd_pays(N, C, O, c.Ho, c.Wo, d == 1 || (d && pooled))
                     ? winograd_kind(N, c.Ho, c.Wo) : 0;
    c.direct = d && !c.winograd && (d == 1 || pooled || c.Wo >= 32);
    return c;
}

ConvShape conv_shape(int N, int C, int H, int W, int O, int k, int s, int p)
{
    return shape_of(N, C, H, W, O, k, s, p, 0);
}

ConvShape conv_shape_pooled(int N, int C, int H, int W, int O, int k, int s, int p)
{
    return shape_of(N, C, H, W, O, k, s, p, 1);
}

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* floats after the padded planes that the direct kernels may read */
static size_t corr_tail(int k) { return (size_t)k + 64; }

typedef struct CorrSplit {
    float *ye;
    size_t Q;
    const float *xp;
    size_t plane;
    int wp, nc, k;
    const float *w, *b;
    int O;
} CorrSplit;

static void corr_split_share(void *ctx, int t, int T)
{
    const CorrSplit *j = ctx;
    size_t blocks = j->Q / 64, lo = par_lo(blocks, t, T) * 64, hi = par_lo(blocks, t + 1, T) * 64;
    if (hi > lo) corr_forward(j->ye, j->Q, j->xp, j->plane, j->wp, j->nc, j->k, j->w, j->b, j->O, lo, hi);
}

/* corr_forward over positions [0, Q) of one image, split across the threads when called
 * outside a parallel region (one image: latency); every output is summed alike either way */
static void corr_forward_split(float *ye, size_t Q, const float *xp, size_t plane, int wp, int nc, int k,
                               const float *w, const float *b, int O)
{
    int T = par_threads();
    size_t blocks = Q / 64;
    if (T <= 1 || blocks < 2) {
        corr_forward(ye, Q, xp, plane, wp, nc, k, w, b, O, 0, Q);
        return;
    }
    CorrSplit j = { ye, Q, xp, plane, wp, nc, k, w, b, O };
    par_run(T, corr_split_share, &j);
}

/* How the direct kernels lay out g images of nc x H x W, padded by p, for a k x k kernel
 * whose output is Ho rows high. Unstacked (one image of the forward): planes of H + 2p rows
 * W + 2p apart. Stacked (p <= k-1): the g images side by side in one wide plane per channel,
 * image i's columns starting at column i * (W + p), rows g * (W + p) apart: the p columns
 * between two images are the right padding of one and the left padding of the next, and
 * those at a row's start the last image's right padding of the row above. Output rows are
 * as wide: image i's outputs start at column i * (W + p), and the k-1-p columns after
 * each are computed and dropped. A stacked plane ends with 16 more zeros, so a weight
 * gradient may read dy 16 positions past its last output (corr_weight sums whole vectors).
 * img: floats from one image's rows to the next's (0 unstacked); Q: output positions per
 * plane (a multiple of 64). */
typedef struct CorrLayout { int g, wp; size_t plane, img, Q; } CorrLayout;

static CorrLayout corr_layout(int H, int W, int p, int Ho, int g, int stacked)
{
    CorrLayout l = { g, 0, 0, 0, 0 };
    if (!stacked) {
        l.wp = W + 2 * p;
        l.plane = (size_t)(H + 2 * p) * l.wp;
    } else {
        l.wp = g * (W + p);
        l.img = (size_t)(W + p);
        l.plane = (size_t)(H + 2 * p) * l.wp + 16;
    }
    l.Q = round_up((size_t)Ho * l.wp, 64);
    return l;
}

/* Images per group for the direct kernels: planes under 1024 positions go up to 8 at a
 * time (stacked, corr_layout), so fewer positions are computed per output (fashion.cnn's
 * 14 x 14 planes: 210 per 196 outputs, against 256 one image at a time). */
static int corr_group(int H, int W, int k, int p, int N)
{
    size_t per = (size_t)(H + p) * (W + p);
    if (p > k - 1 || per >= 1024 || N < 2) return 1;
    int g = (int)(2048 / per);
    return g > 8 ? 8 : g < 1 ? 1 : g > N ? N : g;
}

/* src (nc planes of H x W) into dst: plane c's row h at dst + c * plane + h * ws */
static void copy_rows(float *dst, size_t plane, int ws, const float *src, int nc, int H, int W)
{
    for (int c = 0; c < nc; c++)
        for (int h = 0; h < H; h++)
            memcpy(dst + (size_t)c * plane + (size_t)h * ws, src + ((size_t)c * H + h) * W, (size_t)W * sizeof *dst);
}

/* image i of the layout (nc x H x W at src) into its place in dst; the rest is left alone */
static void corr_place_image(float *dst, const CorrLayout *l, int p, const float *src, int i, int nc, int H, int W)
{
    copy_rows(dst + (size_t)p * l->wp + i * l->img + p, l->plane, l->wp, src, nc, H, W);
}

/* Zeroes every float of the stacked layout l's nc planes in dst (images H x W, padded by p)
 * that is no image's: the bands above and below the rows (with the 16 after them), the p
 * columns before each image in each row, and tail floats after the last plane. */
static void corr_zero_padding(float *dst, const CorrLayout *l, int p, int nc, int H, size_t tail)
{
    size_t below = (size_t)(p + H) * l->wp;
    for (int c = 0; c < nc; c++) {
        float *d = dst + (size_t)c * l->plane;
        memset(d, 0, (size_t)p * l->wp * sizeof *d);
        for (int h = 0; h < H && p > 0; h++)
            for (int i = 0; i < l->g; i++) memset(d + (size_t)(p + h) * l->wp + i * l->img, 0, (size_t)p * sizeof *d);
        memset(d + below, 0, (l->plane - below) * sizeof *d);
    }
    memset(dst + (size_t)nc * l->plane, 0, tail * sizeof *dst);
}

/* src (l.g images of nc x H x W, img floats apart) into the padded planes of l (dst: nc
 * planes of l.plane floats and tail floats after them, all else zero) */
static void corr_place_layout(float *dst, const CorrLayout *l, int p, const float *src, size_t img, int nc, int H,
                              int W, size_t tail)
{
    if (l->img == 0) {
        corr_place(dst, l->plane, l->wp, p, p, src, nc, H, W, tail);
        return;
    }
    corr_zero_padding(dst, l, p, nc, H, tail);
    for (int i = 0; i < l->g; i++) corr_place_image(dst, l, p, src + i * img, i, nc, H, W);
}

/* the direct forward of g images (g > 1: stacked, as corr_group chose): pad x, correlate */
const float *conv2d_forward_rows(const ConvShape *c, const float *xn, int g, const float *w, const float *b,
                                 size_t *plane, int *ws, size_t *img)
{
    CorrLayout l = corr_layout(c->H, c->W, c->p, c->Ho, g, g > 1);
    float *xp = op_scratch(0, (size_t)c->C * l.plane + corr_tail(c->k));
    corr_place_layout(xp, &l, c->p, xn, (size_t)c->C * c->H * c->W, c->C, c->H, c->W, corr_tail(c->k));
    float *ye = op_scratch(3, (size_t)c->O * l.Q);
    corr_forward_split(ye, l.Q, xp, l.plane, l.wp, c->C, c->k, w, b, c->O);
    *plane = l.Q;
    *ws = l.wp;
    *img = l.img;
    return ye;
}

int conv2d_group(const ConvShape *c) { return c->direct ? corr_group(c->H, c->W, c->k, c->p, c->N) : 1; }

void conv2d_forward_image(const ConvShape *c, float *yn, const float *xn, const float *w, const float *b)
{
    if (c->direct) {
        size_t Q, img;
        int wp;
        const float *ye = conv2d_forward_rows(c, xn, 1, w, b, &Q, &wp, &img);
        corr_extract(yn, ye, Q, wp, c->O, c->Ho, c->Wo);
        return;
    }
    ConvShape one = conv_shape(1, c->C, c->H, c->W, c->O, c->k, c->s, c->p);
    if (one.winograd == 4) conv2d_winograd4_forward(&one, yn, xn, w, b);
    else if (one.winograd) conv2d_winograd_forward(&one, yn, xn, w, b);
    else conv2d_gemm_forward(&one, yn, xn, w, b);
}

/* a share of the images of a plain convolution's forward or input gradient */
typedef struct ConvImages {
    const ConvShape *c;
    float *out;
    const float *in, *w, *b;
} ConvImages;

/* A share of the groups of images (conv2d_group: small planes go several at a time, side
 * by side, as in the fused forward), each group's rows then copied out image by image */
static void forward_images_share(void *ctx, int t, int T)
{
    const ConvImages *j = ctx;
    const ConvShape *c = j->c;
    int G = conv2d_group(c), groups = (c->N + G - 1) / G;
    size_t xs = (size_t)c->C * c->H * c->W, ys = (size_t)c->O * c->P;
    for (int gi = (int)par_lo((size_t)groups, t, T); gi < (int)par_lo((size_t)groups, t + 1, T); gi++) {
        int n0 = gi * G, g = c->N - n0 < G ? c->N - n0 : G;
        if (g == 1) {
            conv2d_forward_image(c, j->out + (size_t)n0 * ys, j->in + (size_t)n0 * xs, j->w, j->b);
            continue;
        }
        size_t plane, img;
        int ws;
        const float *ye = conv2d_forward_rows(c, j->in + (size_t)n0 * xs, g, j->w, j->b, &plane, &ws, &img);
        for (int i = 0; i < g; i++)
            corr_extract(j->out + (size_t)(n0 + i) * ys, ye + i * img, plane, ws, c->O, c->Ho, c->Wo);
    }
}

/* y[n] (O x Ho*Wo) = w (O x C*k*k) @ col(x[n]) (C*k*k x Ho*Wo) + b; groups of images in
 * parallel, or one group's positions */
void conv2d_forward(float *y, const float *x, const float *w, const float *b,
                    int N, int C, int H, int W, int O, int k, int stride, int pad)
{
    ConvShape c = conv_shape(N, C, H, W, O, k, stride, pad);
    if (c.winograd) {
        if (c.winograd == 4) conv2d_winograd4_forward(&c, y, x, w, b);
        else conv2d_winograd_forward(&c, y, x, w, b);
        return;
    }
    if (!c.direct) {
        conv2d_gemm_forward(&c, y, x, w, b);
        return;
    }
    ConvImages j = { &c, y, x, w, b };
    par_run(N > conv2d_group(&c) ? par_threads() : 1, forward_images_share, &j);
}

int conv2d_backward_direct_ok(const ConvShape *c) { return c->direct && c->p <= c->k - 1; }

/* r[0] + ... + r[n-1] in double: 8 running sums (r[i] goes to sum i mod 8), then added in
 * order; vectorised, and the same on every machine */
CN_MULTIVERSION
static double sum_f64(const float *r, size_t n)
{
    double lane[8] = { 0 };
    size_t m = n / 8 * 8;
    for (size_t i = 0; i < m; i += 8)
#pragma omp simd
        for (int l = 0; l < 8; l++) lane[l] += r[i + l];
    for (size_t i = m; i < n; i++) lane[i - m] += r[i];
    double s = 0;
    for (int l = 0; l < 8; l++) s += lane[l];
    return s;
}

/* The same sum over H rows of W floats, ws apart, that may be read up to 7 floats past
 * their end: r[h][w] goes to sum w mod 8, the sums then added in order */
typedef double vd8 __attribute__((vector_size(64)));
CN_MULTIVERSION
static double sum_rows_f64(const float *r, int ws, int H, int W)
{
    vd8 acc = { 0 };
    vi8 lane = { 0, 1, 2, 3, 4, 5, 6, 7 };
    for (int h = 0; h < H; h++) {
        const float *row = r + (size_t)h * ws;
        vf8 v;
        int w = 0;
        for (; w + VL8 <= W; w += VL8) {
            memcpy(&v, row + w, sizeof v);
            acc += __builtin_convertvector(v, vd8);
        }
        if (w < W) {
            memcpy(&v, row + w, sizeof v);
            v = (vf8)((vi8)v & (lane < ((vi8){ 0 } + (W - w))));
            acc += __builtin_convertvector(v, vd8);
        }
    }
    double s = 0;
    for (int l = 0; l < 8; l++) s += acc[l];
    return s;
}

/* Both gradients on the direct kernels, a group of images at a time while its dy is in
 * cache. dy (padded by q = k-1-p) and x (padded by p) are stacked alike (corr_layout): images
 * W + p columns apart (Wo + q is the same), so dy's plane, read from q rows and q columns
 * in, is zero wherever the forward had no output, and
 *   dx = the stride-1 convolution of the padded dy with the kernel flipped and its channels
 *        swapped, wf[c][o][i][j] = w[o][c][k-1-i][k-1-j];
 *   dw[o][tap] = the sum over images and positions of that dy times the x under the tap;
 *   db[o] = the sum of dy's planes (in double, plane by plane in image order).
 * Each par_run share takes a contiguous part of the images and sums its dw into a partial
 * of its own; the partials are added in share order, so dw depends on the share count
 * (the thread count) only. */
typedef struct BackDirect {
    const ConvShape *c;
    float *dx, *dw, *db, *part;
    const float *x, *wf;
    double *plane_sum;
    ConvDyPlace dy_place;
    void *ctx;
} BackDirect;

static void backward_direct_share(void *arg, int t, int T)
{
    const BackDirect *j = arg;
    const ConvShape *c = j->c;
    int N = c->N, C = c->C, H = c->H, W = c->W, O = c->O, k = c->k, p = c->p, q = k - 1 - p;
    int G = corr_group(c->Ho, c->Wo, k, q, N);
    size_t wn = (size_t)O * c->K, tail = corr_tail(k);
    float *dx = j->dx, *dw = j->dw, *db = j->db, *part = j->part;
    double *plane_sum = j->plane_sum;
    int lo = (int)par_lo((size_t)N, t, T), hi = (int)par_lo((size_t)N, t + 1, T);
    for (int n0 = lo; n0 < hi; n0 += G) {
        int g = hi - n0 < G ? hi - n0 : G;
        CorrLayout ld = corr_layout(c->Ho, c->Wo, q, H, g, 1);
        float *dyp = op_scratch(0, (size_t)O * ld.plane + tail);
        corr_zero_padding(dyp, &ld, q, O, c->Ho, tail);
        for (int i = 0; i < g; i++) {
            float *rows = dyp + (size_t)q * ld.wp + i * ld.img + q;
            j->dy_place(j->ctx, rows, ld.plane, ld.wp, n0 + i);
            for (int o = 0; db && o < O; o++)
                plane_sum[(size_t)(n0 + i) * O + o] = sum_rows_f64(rows + o * ld.plane, ld.wp, c->Ho, c->Wo);
        }
        if (dx) {
            float *dxe = op_scratch(3, (size_t)C * ld.Q);
            corr_forward_split(dxe, ld.Q, dyp, ld.plane, ld.wp, O, k, j->wf, NULL, C);
            for (int i = 0; i < g; i++)
                corr_extract(dx + (size_t)(n0 + i) * C * H * W, dxe + i * ld.img, ld.Q, ld.wp, C, H, W);
        }
        if (dw) {
            CorrLayout lx = corr_layout(H, W, p, c->Ho, g, 1);
            float *xp = op_scratch(3, (size_t)C * lx.plane + tail);
            corr_place_layout(xp, &lx, p, j->x + (size_t)n0 * C * H * W, (size_t)C * H * W, C, H, W, tail);
            size_t Q = round_up((size_t)c->Ho * lx.wp, 16);
            corr_weight(part + (size_t)t * wn, dyp + (size_t)q * ld.wp + q, ld.plane, Q, xp, lx.plane, lx.wp, C, k,
                        O, n0 > lo, 1, 0, 0);
        }
    }
}

/* share t of dw[i] = part[0][i] + part[1][i] + ... + part[T-1][i] (wn floats each) */
static void sum_partials(float *dw, const float *part, size_t wn, int t, int T)
{
    for (size_t i = par_lo(wn, t, T); i < par_lo(wn, t + 1, T); i++) {
        float s = part[i];
        for (int u = 1; u < T; u++) s += part[(size_t)u * wn + i];
        dw[i] = s;
    }
}

void conv2d_bias_from_planes(float *db, const double *plane_sum, int N, int O, int o0, int o1)
{
    for (int o = o0; o < o1; o++) {
        double sum = 0;
        for (int n = 0; n < N; n++) sum += plane_sum[(size_t)n * O + o];
        db[o] = (float)sum;
    }
}

/* then the partials of dw added in share order, and the bias, a share of each per share */
static void backward_direct_sum(void *arg, int t, int T)
{
    const BackDirect *j = arg;
    int N = j->c->N, O = j->c->O;
    size_t wn = (size_t)O * j->c->K;
    if (j->dw && j->part != j->dw) sum_partials(j->dw, j->part, wn, t, T);
    if (j->db)
        conv2d_bias_from_planes(j->db, j->plane_sum, N, O, (int)par_lo((size_t)O, t, T),
                                (int)par_lo((size_t)O, t + 1, T));
}

void conv2d_backward_direct(const ConvShape *c, float *dx, float *dw, float *db, const float *x, const float *w,
                            ConvDyPlace dy_place, void *ctx)
{
    int N = c->N, C = c->C, O = c->O, k = c->k, T = par_threads();
    if (T > N) T = N > 0 ? N : 1;
    size_t wn = (size_t)O * c->K;
    /* one buffer of the calling thread: the flipped kernel, the partial dw of each share,
     * and each plane's sum (doubles, so at an even offset) */
    size_t nwf = dx ? wn : 0, npart = dw && T > 1 ? (size_t)T * wn : 0;
    size_t nsum = db ? (size_t)2 * N * O : 0, at = round_up(nwf + npart, 2);
    float *shared = op_scratch(1, at + nsum), *wf = shared;
    if (dx)
        for (int o = 0; o < O; o++)
            for (int ch = 0; ch < C; ch++)
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++)
                        wf[(((size_t)ch * O + o) * k + i) * k + j] = w[(((size_t)o * C + ch) * k + k - 1 - i) * k + k - 1 - j];
    if (N == 0 && dw) memset(dw, 0, wn * sizeof *dw);
    BackDirect j = { c, dx, dw, db, T > 1 ? shared + nwf : dw, x, wf, (double *)(void *)(shared + at), dy_place, ctx };
    par_run(T, backward_direct_share, &j);
    if (dw || db) par_run(T, backward_direct_sum, &j);
}

/* dy_place for the plain backward ops: image n of dy copied row by row */
typedef struct DyRows { const float *dy; int O, Ho, Wo; } DyRows;
static void dy_rows(void *ctx, float *dst, size_t plane, int ws, int n)
{
    const DyRows *d = ctx;
    copy_rows(dst, plane, ws, d->dy + (size_t)n * d->O * d->Ho * d->Wo, d->O, d->Ho, d->Wo);
}

/* The plain backward ops on the direct kernels where they apply (1), else 0 */
static int backward_direct(const ConvShape *c, float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w)
{
    if (!conv2d_backward_direct_ok(c)) return 0;
    DyRows d = { dy, c->O, c->Ho, c->Wo };
    conv2d_backward_direct(c, dx, dw, db, x, w, dy_rows, &d);
    return 1;
}

/* Stride 1, pad <= k-1: conv2d_backward_direct. 3x3, stride 1, pad <= 2 where Winograd
 * pays: its forward of dy with the flipped, transposed kernel (conv2d_winograd4.c or
 * conv2d_winograd.c, as winograd_kind says for dx's H x W).
 * Otherwise dcol (C*k*k x Ho*Wo) = w^T (C*k*k x O) @ dy[n] (O x Ho*Wo); dx[n] =
 * col2im(dcol), blocks of images at a time (conv2d_gemm.c). */
void conv2d_backward_input(float *dx, const float *dy, const float *w,
                           int N, int C, int H, int W, int O, int k, int stride, int pad)
{
    conv2d_backward_input_acc(dx, dy, w, N, C, H, W, O, k, stride, pad, 0);
}

typedef void (*InputGrad)(const ConvShape *c, float *dx, const float *dy, const float *w);

static void direct_input(const ConvShape *c, float *dx, const float *dy, const float *w)
{
    backward_direct(c, dx, NULL, NULL, dy, NULL, w);
}

/* fn's input gradient; with c->accumulate, added to dx: by fn itself where it honours
 * c->accumulate (native), else written into scratch slot 2 and added after */
static void input_grad(const ConvShape *c, InputGrad fn, int native, float *dx, const float *dy, const float *w)
{
    if (!c->accumulate || native) {
        fn(c, dx, dy, w);
        return;
    }
    ConvShape once = *c;
    once.accumulate = 0;
    size_t n = (size_t)c->N * c->C * c->H * c->W;
    float *t = op_scratch(2, n);
    fn(&once, t, dy, w);
    add_forward(dx, dx, t, n);
}

/* Accumulating: Winograd F(2x2) and F(4x4) add as their output transforms write, im2col + sgemm image
 * block by image block (conv2d_gemm.c); the direct kernels go through scratch. */
void conv2d_backward_input_acc(float *dx, const float *dy, const float *w,
                               int N, int C, int H, int W, int O, int k, int stride, int pad, int accumulate)
{
    ConvShape c = conv_shape(N, C, H, W, O, k, stride, pad);
    c.accumulate = accumulate;
    if (c.winograd && pad <= 2 && winograd_pays(N, O, C, H, W, 0))
        input_grad(&c, winograd_kind(N, H, W) == 4 ? conv2d_winograd4_backward_input : conv2d_winograd_backward_input,
                   1, dx, dy, w);
    else if (conv2d_backward_direct_ok(&c)) input_grad(&c, direct_input, 0, dx, dy, w);
    else input_grad(&c, conv2d_gemm_backward_input, 1, dx, dy, w);
}

/* db[o] = the sum over the images and the plane of dy[n][o], a share of the channels each */
typedef struct BiasSum { const ConvShape *c; float *db; const float *dy; } BiasSum;

static void bias_sum_share(void *ctx, int t, int T)
{
    const BiasSum *j = ctx;
    const ConvShape *c = j->c;
    for (int o = (int)par_lo((size_t)c->O, t, T); o < (int)par_lo((size_t)c->O, t + 1, T); o++) {
        double sum = 0;
        for (int n = 0; n < c->N; n++) sum += sum_f64(j->dy + ((size_t)n * c->O + o) * c->P, (size_t)c->P);
        j->db[o] = (float)sum;
    }
}

/* Stride 1, pad <= k-1: conv2d_backward_direct. Otherwise a 3x3 stride-1 kernel by
 * Winograd (conv2d_winograd_wgrad.c), or dw (O x C*k*k) = sum over n of dy[n] (O x Ho*Wo)
 * @ col(x[n])^T (Ho*Wo x C*k*k), blocks of images at a time (conv2d_gemm.c); db[o] = the
 * sum over n and the plane of dy[n][o]. */
void conv2d_backward_weight(float *dw, float *db, const float *dy, const float *x,
                            int N, int C, int H, int W, int O, int k, int stride, int pad)
{
    ConvShape c = conv_shape(N, C, H, W, O, k, stride, pad);
    if (backward_direct(&c, NULL, dw, db, dy, x, NULL)) return;
    if (c.winograd) conv2d_winograd_backward_weight(&c, dw, dy, x);
    else conv2d_gemm_backward_weight(&c, dw, dy, x);
    BiasSum j = { &c, db, dy };
    if (db) par_run(par_threads(), bias_sum_share, &j);
}

/* Fills both forms of the window attributes (the square fields the original kernels read,
 * the pairs conv2d_general.c reads) from whichever the caller set */
static void normalize_attrs(Attrs *a)
{
    Window2d w = attrs_window(a);
    a->kernel_hw[0] = w.kh, a->kernel_hw[1] = w.kw;
    a->stride_hw[0] = w.sh, a->stride_hw[1] = w.sw;
    a->padding_hw[0] = w.ph, a->padding_hw[1] = w.pw;
    a->dilation_hw[0] = w.dh, a->dilation_hw[1] = w.dw;
    if (w.kh == w.kw) a->kernel = w.kh;
    if (w.sh == w.sw) a->stride = w.sh;
    if (w.ph == w.pw) a->padding = w.ph;
    if (a->groups < 1) a->groups = 1;
}

/* Checks the window attributes and gives the output size of the window over H x W. */
static int conv_window(const Node *n, int H, int W, int *Ho, int *Wo, Error *e)
{
    const Attrs *a = &n->a;
    const char *op = op_table[n->op]->name;
    Window2d w = attrs_window(a);
    if (w.kh < 1 || w.kw < 1) return err_set(e, "%s: kernel size must be at least 1, got %dx%d", op, w.kh, w.kw);
    if (w.sh < 1 || w.sw < 1) return err_set(e, "%s: stride must be at least 1, got %dx%d", op, w.sh, w.sw);
    if (w.ph < 0 || w.pw < 0) return err_set(e, "%s: padding must not be negative, got %dx%d", op, w.ph, w.pw);
    if (w.dh < 1 || w.dw < 1) return err_set(e, "%s: dilation must be at least 1, got %dx%d", op, w.dh, w.dw);
    if (a->padding_mode == PADDING_REFLECT && (w.ph >= H || w.pw >= W))
        return err_set(e, "%s: reflect padding %dx%d must be smaller than the %dx%d input", op, w.ph, w.pw, H, W);
    if (a->padding_mode != PADDING_ZEROS && a->padding_mode != PADDING_REFLECT)
        return err_set(e, "%s: padding_mode must be 'zeros' or 'reflect'", op);
    *Ho = window_out_size_ex(H, w.kh, w.sh, w.ph, w.dh, 0);
    *Wo = window_out_size_ex(W, w.kw, w.sw, w.pw, w.dw, 0);
    if (*Ho < 1 || *Wo < 1) {
        if (w.kh == w.kw && w.ph == w.pw && w.dh == 1 && w.dw == 1)
            return err_set(e, "%s: a %dx%d kernel with padding %d does not fit the %dx%d input",
                           op, w.kh, w.kw, w.ph, H, W);
        return err_set(e, "%s: a %dx%d kernel with padding %dx%d and dilation %dx%d does not fit the %dx%d input",
                       op, w.kh, w.kw, w.ph, w.pw, w.dh, w.dw, H, W);
    }
    return 0;
}

/* Checks w (O x C/groups x kh x kw) against x's C channels and the kernel attributes. */
static int check_weight(const Graph *g, const Node *n, int w, int C, Error *e)
{
    const Value *wv = &g->vals[w];
    Window2d k = attrs_window(&n->a);
    int G = n->a.groups > 1 ? n->a.groups : 1;
    if (C % G != 0 || wv->shape[0] % G != 0)
        return err_set(e, "%s: groups (%d) must divide both the %d input and the %d output channels",
                       op_table[n->op]->name, G, C, wv->shape[0]);
    if (wv->shape[1] * G != C)
        return err_set(e, "%s expects %d input channels, but its input has %d",
                       op_table[n->op]->name, wv->shape[1] * G, C);
    if (wv->shape[2] != k.kh || wv->shape[3] != k.kw) {
        if (k.kh == k.kw)
            return err_set(e, "%s: the weight's window is %dx%d, but the kernel size is %d",
                           op_table[n->op]->name, wv->shape[2], wv->shape[3], k.kh);
        return err_set(e, "%s: the weight's window is %dx%d, but the kernel size is %dx%d",
                       op_table[n->op]->name, wv->shape[2], wv->shape[3], k.kh, k.kw);
    }
    return 0;
}

int conv2d_check(const Graph *g, const Node *n, int *O, int *Ho, int *Wo, Error *e)
{
    if (op_expect_inputs(g, n, 2, 3, e) < 0 || op_expect(g, n, 0, "x (N x C x H x W)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 1, "the weight (O x C x k x k)", DT_F32, 4, e) < 0 ||
        (n->nin == 3 && op_expect(g, n, 2, "the bias (O)", DT_F32, 1, e) < 0))
        return -1;
    const Value *x = &g->vals[n->in[0]];
    *O = g->vals[n->in[1]].shape[0];
    if (conv_window(n, x->shape[2], x->shape[3], Ho, Wo, e) < 0) return -1;
    if (check_weight(g, n, n->in[1], x->shape[1], e) < 0) return -1;
    if (n->nin == 3 && g->vals[n->in[2]].shape[0] != *O)
        return err_set(e, "%s: the bias has %d elements, but there are %d output channels",
                       op_table[n->op]->name, g->vals[n->in[2]].shape[0], *O);
    return 0;
}

/* The general kernels' sizes of a node whose x is N x C x H x W and output O x Ho x Wo */
static ConvGeneral general_shape(const Attrs *a, int N, int C, int H, int W, int O, int Ho, int Wo)
{
    ConvGeneral c = { N, C, H, W, O, a->groups > 1 ? a->groups : 1, Ho, Wo, a->padding_mode == PADDING_REFLECT,
                      attrs_window(a) };
    return c;
}

/* conv2d(x[N,C,H,W], w[O,C,k,k], b[O]?) -> y[N,O,Ho,Wo] */
static int conv2d_infer(Graph *g, Node *n, Error *e)
{
    normalize_attrs(&n->a);
    int O, Ho, Wo;
    if (conv2d_check(g, n, &O, &Ho, &Wo, e) < 0) return -1;
    const Value *x = &g->vals[n->in[0]];
    int shape[4] = { x->shape[0], O, Ho, Wo };
    graph_output(g, n, DT_F32, 4, shape, x->batched);
    return 0;
}

static void conv2d_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[0]].shape, *w = g->vals[n->in[1]].shape;
    if (!conv2d_attrs_plain(&n->a)) {
        const int *y = g->vals[n->out[0]].shape;
        ConvGeneral c = general_shape(&n->a, x[0], x[1], x[2], x[3], w[0], y[2], y[3]);
        conv2d_general_forward(&c, vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                               n->nin == 3 ? vf32(g, n->in[2]) : NULL);
        return;
    }
    conv2d_forward(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                   n->nin == 3 ? vf32(g, n->in[2]) : NULL,
                   x[0], x[1], x[2], x[3], w[0], n->a.kernel, n->a.stride, n->a.padding);
}

/* dx = conv2d_backward_input(dy, w) with hint = x's shape; dw (and db) =
 * conv2d_backward_weight(dy, x) with hint = the bias's shape [O] when there is a bias. */
int conv2d_grad(Graph *g, Node n, const int *dout, Error *e)
{
    int x = n.in[0], w = n.in[1], b = n.nin == 3 ? n.in[2] : -1, dy = dout[0];
    if (dy < 0) return 0;
    if (g->vals[x].requires_grad) {
        Attrs a = n.a;
        a.hint_ndim = 4;
        memcpy(a.hint, g->vals[x].shape, sizeof a.hint);
        int in[2] = { dy, w };
        int dx = graph_apply(g, OP_conv2d_backward_input, in, 2, &a, e);
        if (dx < 0 || graph_accumulate_grad(g, x, dx, e) < 0) return -1;
    }
    int want_w = g->vals[w].requires_grad, want_b = b >= 0 && g->vals[b].requires_grad;
    if (want_w || want_b) {
        Attrs a = n.a;
        a.hint_ndim = b >= 0 ? 1 : 0;
        a.hint[0] = g->vals[w].shape[0];
        int in[2] = { dy, x };
        int node = graph_add(g, OP_conv2d_backward_weight, in, 2, &a, e);
        if (node < 0) return -1;
        int dw = g->nodes[node].out[0], db = b >= 0 ? g->nodes[node].out[1] : -1;
        if (want_w && graph_accumulate_grad(g, w, dw, e) < 0) return -1;
        if (want_b && graph_accumulate_grad(g, b, db, e) < 0) return -1;
    }
    return 0;
}

const OpDef op_conv2d = { "conv2d", conv2d_infer, conv2d_run, conv2d_grad };

/* conv2d_backward_input(dy[N,O,Ho,Wo], w[O,C,k,k] [, acc]) -> dx[N, hint...]; hint is x's
 * shape. With acc (x's gradient so far, compiler/passes/fuse.c's fuse_backward_graph), dx =
 * acc + the gradient, in acc's storage (a view of it: acc is read by nothing after) */
static int backward_input_infer(Graph *g, Node *n, Error *e)
{
    normalize_attrs(&n->a);
    if (op_expect_inputs(g, n, 2, 3, e) < 0 || op_expect(g, n, 0, "dy (N x O x Ho x Wo)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 1, "the weight (O x C x k x k)", DT_F32, 4, e) < 0)
        return -1;
    if (n->nin == 3 && op_expect(g, n, 2, "acc (N x C x H x W)", DT_F32, 4, e) < 0) return -1;
    if (n->nin == 3 && !conv2d_attrs_plain(&n->a))
        return err_set(e, "conv2d_backward_input accumulates (acc) only with plain attributes");
    const Value *dy = &g->vals[n->in[0]], *w = &g->vals[n->in[1]];
    const int *hint = n->a.hint;
    if (n->a.hint_ndim != 4)
        return err_set(e, "conv2d_backward_input needs x's shape (4 dims) as its hint, got %d dims", n->a.hint_ndim);
    int Ho, Wo;
    if (conv_window(n, hint[2], hint[3], &Ho, &Wo, e) < 0 || check_weight(g, n, n->in[1], hint[1], e) < 0)
        return -1;
    if (dy->shape[1] != w->shape[0] || dy->shape[2] != Ho || dy->shape[3] != Wo)
        return err_set(e, "conv2d_backward_input: dy is %dx%dx%d, but x (%dx%dx%d) and the weight give %dx%dx%d",
                       dy->shape[1], dy->shape[2], dy->shape[3], hint[1], hint[2], hint[3], w->shape[0], Ho, Wo);
    int shape[4] = { dy->shape[0], hint[1], hint[2], hint[3] };
    if (n->nin == 3) {
        const Value *acc = &g->vals[n->in[2]];
        if (memcmp(acc->shape, shape, sizeof shape) != 0 || acc->batched != dy->batched)
            return err_set(e, "conv2d_backward_input: acc is not x's shape");
    }
    int dx = graph_output(g, n, DT_F32, 4, shape, dy->batched);
    if (n->nin == 3) g->vals[dx].view_of = n->in[2];
    return 0;
}

static void backward_input_run(Graph *g, const Node *n)
{
    const int *dx = g->vals[n->out[0]].shape, *w = g->vals[n->in[1]].shape;
    if (!conv2d_attrs_plain(&n->a)) {
        const int *dy = g->vals[n->in[0]].shape;
        ConvGeneral c = general_shape(&n->a, dx[0], dx[1], dx[2], dx[3], w[0], dy[2], dy[3]);
        conv2d_general_backward_input(&c, vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]));
        return;
    }
    conv2d_backward_input_acc(vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]), dx[0], dx[1], dx[2], dx[3],
                              w[0], n->a.kernel, n->a.stride, n->a.padding, n->nin == 3);
}

const OpDef op_conv2d_backward_input = { "conv2d_backward_input", backward_input_infer, backward_input_run, NULL };

/* conv2d_backward_weight(dy[N,O,Ho,Wo], x[N,C,H,W]) -> dw[O,C,k,k], and db[O] when the hint
 * is [O] (the layer has a bias) */
static int backward_weight_infer(Graph *g, Node *n, Error *e)
{
    normalize_attrs(&n->a);
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy (N x O x Ho x Wo)", DT_F32, 4, e) < 0 ||
        op_expect(g, n, 1, "x (N x C x H x W)", DT_F32, 4, e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]], *x = &g->vals[n->in[1]];
    Window2d k = attrs_window(&n->a);
    int O = dy->shape[1], C = x->shape[1], G = n->a.groups > 1 ? n->a.groups : 1, Ho, Wo;
    if (conv_window(n, x->shape[2], x->shape[3], &Ho, &Wo, e) < 0) return -1;
    if (dy->shape[0] != x->shape[0] || dy->shape[2] != Ho || dy->shape[3] != Wo)
        return err_set(e, "conv2d_backward_weight: dy is %dx%dx%dx%d, but x %dx%dx%dx%d gives %dx%dx%dx%d",
                       dy->shape[0], O, dy->shape[2], dy->shape[3], x->shape[0], C, x->shape[2], x->shape[3],
                       x->shape[0], O, Ho, Wo);
    if (n->a.hint_ndim != 0 && (n->a.hint_ndim != 1 || n->a.hint[0] != O))
        return err_set(e, "conv2d_backward_weight: the hint must be the bias's shape [%d] or empty", O);
    if (C % G != 0 || O % G != 0)
        return err_set(e, "conv2d_backward_weight: groups (%d) must divide both %d and %d channels", G, C, O);
    int wshape[4] = { O, C / G, k.kh, k.kw };
    graph_output(g, n, DT_F32, 4, wshape, 0);
    if (n->a.hint_ndim == 1) graph_output(g, n, DT_F32, 1, &O, 0);
    return 0;
}

static void backward_weight_run(Graph *g, const Node *n)
{
    const int *x = g->vals[n->in[1]].shape;
    if (!conv2d_attrs_plain(&n->a)) {
        const int *dy = g->vals[n->in[0]].shape;
        ConvGeneral c = general_shape(&n->a, x[0], x[1], x[2], x[3], dy[1], dy[2], dy[3]);
        conv2d_general_backward_weight(&c, vf32(g, n->out[0]), n->nout == 2 ? vf32(g, n->out[1]) : NULL,
                                       vf32(g, n->in[0]), vf32(g, n->in[1]));
        return;
    }
    conv2d_backward_weight(vf32(g, n->out[0]), n->nout == 2 ? vf32(g, n->out[1]) : NULL,
                           vf32(g, n->in[0]), vf32(g, n->in[1]), x[0], x[1], x[2], x[3],
                           g->vals[n->in[0]].shape[1], n->a.kernel, n->a.stride, n->a.padding);
}

const OpDef op_conv2d_backward_weight = { "conv2d_backward_weight", backward_weight_infer, backward_weight_run, NULL };
