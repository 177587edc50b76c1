/* runtime/ops/conv2d_direct.c: stride-1 convolutions without im2col. The input is copied
 * once into zero-padded planes whose rows lie wp floats apart; in an output laid out with
 * the same row stride, the input under kernel tap (c, i, j) of output position q is then
 * xp[c*plane + i*wp + j + q]: each output row is a weighted sum of shifted, contiguous
 * input rows, and each weight gradient a dot product of dy with such a row. The (wp - Wo)
 * extra columns of every output row are computed and dropped. The loops are register
 * blocked with GCC vector types (16 floats), so one source serves AVX-512, AVX2 and SSE.
 * conv2d.c uses these for Conv2d's forward, its input gradient (a stride-1 convolution of
 * the padded dy with the flipped kernel) and its weight gradient. */
#include <string.h>

#include "kernels.h"

static inline int imin(int a, int b) { return a < b ? a : b; }

void corr_place(float *dst, size_t dplane, int ws, int top, int left, const float *src,
                int nc, int H, int W, size_t tail)
{
    for (int c = 0; c < nc; c++) {
        float *d = dst + (size_t)c * dplane;
        const float *s = src + (size_t)c * H * W;
        size_t head = (size_t)top * ws + left;
        memset(d, 0, head * sizeof *d);
        for (int h = 0; h < H; h++) {
            float *r = d + head + (size_t)h * ws;
            memcpy(r, s + (size_t)h * W, (size_t)W * sizeof *r);
            if (h + 1 < H) memset(r + W, 0, (size_t)(ws - W) * sizeof *r);
        }
        size_t used = head + (size_t)(H - 1) * ws + W;       /* end of the last copied row */
        memset(d + used, 0, (dplane - used) * sizeof *d);
    }
    memset(dst + (size_t)nc * dplane, 0, tail * sizeof *dst);
}

void corr_extract(float *dst, const float *src, size_t splane, int ws, int nc, int H, int W)
{
    for (int c = 0; c < nc; c++)
        for (int h = 0; h < H; h++)
            memcpy(dst + ((size_t)c * H + h) * W, src + (size_t)c * splane + (size_t)h * ws, (size_t)W * sizeof *dst);
}

/* output channels and 16-float vectors of positions per register block of corr_forward */
#define FOB 4
#define FQB 4

CN_MULTIVERSION CN_CONTRACT
void corr_forward(float *ye, size_t ys, const float *xp, size_t plane, int wp, int nc, int k,
                  const float *w, const float *b, int O, size_t q0, size_t q1)
{
    size_t J = (size_t)nc * k * k;
    for (int o0 = 0; o0 < O; o0 += FOB) {
        const float *wr[FOB];
        float bias[FOB];
        for (int a = 0; a < FOB; a++) {
            int o = imin(o0 + a, O - 1);   /* past O: recompute the last channel, store nothing */
            wr[a] = w + (size_t)o * J;
            bias[a] = b ? b[o] : 0.0f;
        }
        for (size_t q = q0; q < q1; q += FQB * VL) {
            vf acc[FOB][FQB];
#pragma GCC unroll 8
            for (int a = 0; a < FOB; a++)
#pragma GCC unroll 8
                for (int v = 0; v < FQB; v++) SPLAT(acc[a][v], bias[a]);
            size_t j = 0;
            for (int c = 0; c < nc; c++)
                for (int i = 0; i < k; i++) {
                    const float *row = xp + (size_t)c * plane + (size_t)i * wp + q;
                    for (int jj = 0; jj < k; jj++, j++) {
                        vf r[FQB];
#pragma GCC unroll 8
                        for (int v = 0; v < FQB; v++) LOAD(r[v], row + jj + VL * v);
#pragma GCC unroll 8
                        for (int a = 0; a < FOB; a++) {
                            float s = wr[a][j];
#pragma GCC unroll 8
                            for (int v = 0; v < FQB; v++) acc[a][v] += s * r[v];
                        }
                    }
                }
            for (int a = 0; a < FOB && o0 + a < O; a++)
                memcpy(ye + (size_t)(o0 + a) * ys + q, acc[a], sizeof acc[a]);
        }
    }
}

/* the 16 lanes of *p added as a tree (halves, quarters, ...): four shuffles and adds, not
 * sixteen dependent adds */
#define LANE_SUM_STEP(v, ...) ((v) += __builtin_shufflevector((v), (v), __VA_ARGS__))
static inline __attribute__((always_inline)) float lane_sum(const vf *p)
{
    vf v = *p;
    LANE_SUM_STEP(v, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
    LANE_SUM_STEP(v, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7);
    LANE_SUM_STEP(v, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    LANE_SUM_STEP(v, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    return v[0];
}

/* output channels and kernel taps per register block of corr_weight: 24 sums, 4 rows of dy
 * and one input row in registers (4 x 7 needed 33 of AVX-512's 32 and spilled a sum) */
#define WOB 4
#define WJB 6

CN_MULTIVERSION CN_CONTRACT
void corr_weight(float *g, const float *de, size_t ds, size_t Q, const float *xp, size_t plane, int wp,
                 int nc, int k, int O, int accumulate, int nimg, size_t de_img, size_t xp_img)
{
    int kk = k * k, J = nc * kk;
    for (int o0 = 0; o0 < O; o0 += WOB)
        for (int j0 = 0; j0 < J; j0 += WJB) {
            const float *dp[WOB], *xr[WJB];
            for (int a = 0; a < WOB; a++) dp[a] = de + (size_t)imin(o0 + a, O - 1) * ds;
            for (int t = 0; t < WJB; t++) {
                int j = imin(j0 + t, J - 1);
                xr[t] = xp + (size_t)(j / kk) * plane + (size_t)(j % kk / k) * wp + j % k;
            }
            vf acc[WOB][WJB];
#pragma GCC unroll 8
            for (int a = 0; a < WOB; a++)
#pragma GCC unroll 8
                for (int t = 0; t < WJB; t++) SPLAT(acc[a][t], 0.0f);
            for (int im = 0; im < nimg; im++) {
                size_t di = im * de_img, xi = im * xp_img;
                for (size_t q = 0; q < Q; q += VL) {
                    vf d[WOB];
#pragma GCC unroll 8
                    for (int a = 0; a < WOB; a++) LOAD(d[a], dp[a] + di + q);
#pragma GCC unroll 8
                    for (int t = 0; t < WJB; t++) {
                        vf r;
                        LOAD(r, xr[t] + xi + q);
#pragma GCC unroll 8
                        for (int a = 0; a < WOB; a++) acc[a][t] += d[a] * r;
                    }
                }
            }
            for (int a = 0; a < WOB && o0 + a < O; a++)
                for (int t = 0; t < WJB && j0 + t < J; t++) {
                    float s = lane_sum(&acc[a][t]);
                    float *gi = g + (size_t)(o0 + a) * J + j0 + t;
                    *gi = accumulate ? *gi + s : s;
                }
        }
}
