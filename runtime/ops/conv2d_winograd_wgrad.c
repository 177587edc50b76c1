/* runtime/ops/conv2d_winograd_wgrad.c: the weight gradient of a 3x3, stride-1 Conv2d by
 * Winograd's minimal filtering F(3x3, 2x2) (Lavin and Gray, 2016): dy is cut into 2x2 tiles
 * and x (zero-padded) into the 4x4 tiles under them; per tile U = G d G^T (from dy) and
 * V = B^T x B (from x), and for each of the 16 positions xi
 *     M[xi][o][c] = sum over the tiles of U[xi][o] * V[xi][c],      dw[o][c] = A^T M[o][c] A:
 * 16 multiplies per tile and channel pair where the direct sum takes 36.
 *     B^T = | 1  0 -1  0 |    G = | 1    0  |    A^T = | 1 1  1 0 |
 *           | 0  1  1  0 |        | 1/2 1/2 |          | 0 1 -1 0 |
 *           | 0 -1  1  0 |        | 1/2 -1/2|          | 0 1  1 1 |
 *           | 0 -1  0  1 |        | 0    1  |
 * V comes from the forward's input transform (conv2d_winograd_input), whose B^T has the last
 * row negated; that sign and G's halves are applied to M at the end (a power of two and a
 * sign move through the sums exactly).
 * Tiles go in chunks of whole tile rows sized to stay in cache, U and V laid out tile-fastest
 * so that the sums over tiles are 8-float vector dot products; each thread sums a contiguous
 * share of the chunks into its own M, and the Ms are added in thread order. */
#include <string.h>

#include "../parallel.h"
#include "kernels.h"

typedef struct Wgrad {
    const ConvShape *c;
    const float *dy, *x;
    float *part;          /* per share: M[16][O][C] */
    int TH, TW, rows;     /* tiles per column and per row of a plane; tile rows per chunk */
    size_t tb;            /* tile slots per chunk summed: rows * TW rounded up to 8 */
    size_t ld;            /* floats from one channel's row of U or V to the next: tb + 8 */
    size_t us, vs;        /* floats from U[xi] to U[xi+1], V[xi] to V[xi+1]: O ld, C ld, + XI_SKEW */
} Wgrad;

#define LD8(v, p) memcpy(&(v), (p), sizeof(vf8))
#define ST8(p, v) memcpy((p), &(v), sizeof(vf8))

/* row[0..n) = plane row h (W wide) from column `first` on, zero outside the plane or when
 * the row is not there (h outside [0, H)) */
static void padded_row(float *row, const float *plane, int h, int H, int W, int first, int n)
{
    memset(row, 0, (size_t)n * sizeof *row);
    if (h < 0 || h >= H) return;
    int lo = first < 0 ? -first : 0, hi = W - first < n ? W - first : n;
    if (hi > lo) memcpy(row + lo, plane + (size_t)h * W + first + lo, (size_t)(hi - lo) * sizeof *row);
}

/* U = G' d G'^T (G' = G with its middle rows doubled) of the tiles of one tile row of dy's
 * plane: tile t is rows h0, h0+1 and columns 2t, 2t+1 (zero past the plane); u[xi * ld + t]
 * for t < TW, and whatever for t up to the next multiple of 8 (the caller's next row, or
 * slack, takes those). tmp: 8 * tw8 floats, tw8 = TW rounded up to 8. */
static CN_MULTIVERSION void transform_dy(float *u, size_t ld, const float *plane, int Ho, int Wo, int h0, int TW,
                                         float *tmp)
{
    int tw8 = (TW + 7) / 8 * 8, len = 2 * tw8;
    float *r0 = tmp, *r1 = r0 + len, *e0 = r1 + len, *o0 = e0 + tw8, *e1 = o0 + tw8, *o1 = e1 + tw8;
    const float *s0 = r0, *s1 = r1;
    if (Wo % 2 == 0 && h0 + 1 < Ho && (size_t)(h0 + 1) * Wo + len <= (size_t)Ho * Wo) {
        /* the tiles' columns all inside the rows, the floats read past them inside the plane:
         * straight from the plane (the lanes past TW are whatever) */
        s0 = plane + (size_t)h0 * Wo;
        s1 = s0 + Wo;
    } else {
        padded_row(r0, plane, h0, Ho, Wo, 0, len);
        padded_row(r1, plane, h0 + 1, Ho, Wo, 0, len);
    }
    conv2d_winograd_deinterleave(e0, o0, s0, tw8);
    conv2d_winograd_deinterleave(e1, o1, s1, tw8);
    for (int t = 0; t < tw8; t += 8) {
        vf8 a0, b0, a1, b1, q[4][2];
        LD8(a0, e0 + t), LD8(b0, o0 + t), LD8(a1, e1 + t), LD8(b1, o1 + t);
        q[0][0] = a0, q[0][1] = b0;
        q[1][0] = a0 + a1, q[1][1] = b0 + b1;
        q[2][0] = a0 - a1, q[2][1] = b0 - b1;
        q[3][0] = a1, q[3][1] = b1;
        for (int i = 0; i < 4; i++) {
            float *ui = u + (size_t)(4 * i) * ld + t;
            vf8 x = q[i][0] + q[i][1], y = q[i][0] - q[i][1];
            ST8(ui, q[i][0]);
            ST8(ui + ld, x);
            ST8(ui + 2 * ld, y);
            ST8(ui + 3 * ld, q[i][1]);
        }
    }
}

/* pairwise sums within halves: [x0+x1, x2+x3, y0+y1, y2+y3 | x4+x5, x6+x7, y4+y5, y6+y7] */
#define PAIRS(x, y) (__builtin_shufflevector(x, y, 0, 2, 8, 10, 4, 6, 12, 14) + \
                     __builtin_shufflevector(x, y, 1, 3, 9, 11, 5, 7, 13, 15))

/* m[o][c] (ldm floats a row) += sum over t < n of u[o][t] * v[c][t] for 4 rows of u and 2
 * of v (u0..u3, v0, v1: rows n floats long, n a multiple of 8); the 8 sums' lanes added
 * together in one tree of in-half shuffles */
static CN_MULTIVERSION void dot_4x2(float *m0, float *m1, float *m2, float *m3, const float *u0, const float *u1,
                                    const float *u2, const float *u3, const float *v0, const float *v1, size_t n)
{
    vf8 a00 = { 0 }, a01 = { 0 }, a10 = { 0 }, a11 = { 0 }, a20 = { 0 }, a21 = { 0 }, a30 = { 0 }, a31 = { 0 };
    for (size_t t = 0; t < n; t += 8) {
        vf8 x0, x1, y;
        memcpy(&x0, v0 + t, sizeof x0);
        memcpy(&x1, v1 + t, sizeof x1);
        memcpy(&y, u0 + t, sizeof y);
        a00 += y * x0, a01 += y * x1;
        memcpy(&y, u1 + t, sizeof y);
        a10 += y * x0, a11 += y * x1;
        memcpy(&y, u2 + t, sizeof y);
        a20 += y * x0, a21 += y * x1;
        memcpy(&y, u3 + t, sizeof y);
        a30 += y * x0, a31 += y * x1;
    }
    vf8 g0 = PAIRS(PAIRS(a00, a01), PAIRS(a10, a11)), g1 = PAIRS(PAIRS(a20, a21), PAIRS(a30, a31));
    vf8 r = __builtin_shufflevector(g0, g1, 0, 1, 2, 3, 8, 9, 10, 11) +
            __builtin_shufflevector(g0, g1, 4, 5, 6, 7, 12, 13, 14, 15);
    m0[0] += r[0], m0[1] += r[1];
    m1[0] += r[2], m1[1] += r[3];
    m2[0] += r[4], m2[1] += r[5];
    m3[0] += r[6], m3[1] += r[7];
}

/* M[xi] += U[xi] V[xi]^T over one chunk: blocks of 4 output x 2 input channels, the rows
 * past O or C read the chunk's zero row and their sums go to a sink */
static void chunk_products(float *m, const float *u, const float *v, const float *zero, const ConvShape *c,
                           size_t tb, size_t ld, size_t us, size_t vs)
{
    int O = c->O, C = c->C;
    for (int xi = 0; xi < 16; xi++) {
        const float *uxi = u + (size_t)xi * us, *vxi = v + (size_t)xi * vs;
        float *mxi = m + (size_t)xi * O * C;
        for (int o = 0; o < O; o += 4)
            for (int ci = 0; ci < C; ci += 2) {
                const float *ur[4], *vr[2];
                float *mr[4];
                float pair[4][2];
                for (int a = 0; a < 4; a++) ur[a] = o + a < O ? uxi + (size_t)(o + a) * ld : zero;
                for (int b = 0; b < 2; b++) vr[b] = ci + b < C ? vxi + (size_t)(ci + b) * ld : zero;
                int whole = o + 4 <= O && ci + 2 <= C;
                for (int a = 0; a < 4; a++) {
                    mr[a] = whole ? mxi + (size_t)(o + a) * C + ci : pair[a];
                    if (!whole) pair[a][0] = pair[a][1] = 0.0f;
                }
                dot_4x2(mr[0], mr[1], mr[2], mr[3], ur[0], ur[1], ur[2], ur[3], vr[0], vr[1], tb);
                if (!whole)
                    for (int a = 0; a < 4 && o + a < O; a++)
                        for (int b = 0; b < 2 && ci + b < C; b++) mxi[(size_t)(o + a) * C + ci + b] += pair[a][b];
            }
    }
}

/* Share t of the chunks: transforms them and sums their products into its own M. The rows
 * of dy's tiles go in order, each writing whole vectors past its last tile into the next
 * row's slots (which that row then overwrites) or the slack; the slots past the chunk's last
 * tile are zeroed after. */
static void wgrad_share(void *ctx, int t, int T)
{
    const Wgrad *j = ctx;
    const ConvShape *c = j->c;
    size_t rows_all = (size_t)c->N * j->TH, chunks = (rows_all + j->rows - 1) / j->rows;
    size_t tb = j->tb, ld = j->ld, us = j->us, vs = j->vs, mn = (size_t)16 * c->O * c->C;
    size_t tw8 = ((size_t)j->TW + 7) / 8 * 8;
    float *m = j->part + (size_t)t * mn;
    memset(m, 0, mn * sizeof *m);
    float *u = op_scratch(0, 16 * (us + vs) + tb + 8 * tw8);
    float *v = u + 16 * us, *zero = v + 16 * vs, *tmp = zero + tb;
    memset(zero, 0, tb * sizeof *zero);
    for (size_t ch = par_lo(chunks, t, T); ch < par_lo(chunks, t + 1, T); ch++) {
        size_t r0 = ch * j->rows, r1 = r0 + j->rows < rows_all ? r0 + j->rows : rows_all;
        size_t used = (r1 - r0) * j->TW;
        for (size_t r = r0; r < r1; r++) {
            int n = (int)(r / j->TH), th = (int)(r % j->TH);
            for (int o = 0; o < c->O; o++)
                transform_dy(u + (size_t)o * ld + (r - r0) * j->TW, us,
                             j->dy + ((size_t)n * c->O + o) * c->P, c->Ho, c->Wo, 2 * th, j->TW, tmp);
        }
        conv2d_winograd_input(c, v, ld, vs, j->x, r0 * j->TW, used);
        if (used < tb)      /* the slots past the last tile: zero products */
            for (int xi = 0; xi < 16; xi++) {
                for (int o = 0; o < c->O; o++) memset(u + xi * us + (size_t)o * ld + used, 0, (tb - used) * sizeof *u);
                for (int ci = 0; ci < c->C; ci++) memset(v + xi * vs + (size_t)ci * ld + used, 0, (tb - used) * sizeof *v);
            }
        chunk_products(m, u, v, zero, c, tb, ld, us, vs);
    }
}

void conv2d_winograd_backward_weight(const ConvShape *c, float *dw, const float *dy, const float *x)
{
    int T = par_threads();
    Wgrad j = { c, dy, x, NULL, (c->Ho + 1) / 2, (c->Wo + 1) / 2, 1, 0, 0, 0, 0 };
    size_t rows_all = (size_t)c->N * j.TH;
    /* tile rows per chunk: U and V of a chunk within 1 MiB, but at least 128 tiles (the dot
     * products' start and end are paid per chunk), and at least a chunk a thread. The
     * products go one xi at a time, over a sixteenth of the chunk (within L2): one thread,
     * batch 64, min of 30, AMD EPYC with AVX2, 2026-12-04, 256 KiB / 1 MiB / 2 MiB:
     * 16x28x28 8.6-9.0 / 7.7-8.3 / 9.0-9.2 ms, 32x14x14 7.4-7.5 / 6.8-7.0 / 7.4-7.5 ms */
    size_t per_row = (size_t)j.TW * (c->O + c->C) * 16 * sizeof(float), rows = (1024u << 10) / per_row;
    if (rows * j.TW < 128) rows = (128 + j.TW - 1) / j.TW;
    if (rows > (rows_all + T - 1) / T) rows = (rows_all + T - 1) / T;
    j.rows = rows < 1 ? 1 : (int)rows;
    j.tb = ((size_t)j.rows * j.TW + 7) / 8 * 8;
    j.ld = j.tb + 8;
    j.us = (size_t)c->O * j.ld + XI_SKEW;
    j.vs = (size_t)c->C * j.ld + XI_SKEW;
    size_t mn = (size_t)16 * c->O * c->C;
    j.part = op_scratch(1, (size_t)T * mn);
    par_run(T, wgrad_share, &j);
    for (int t = 1; t < T; t++)
        for (size_t i = 0; i < mn; i++) j.part[i] += j.part[(size_t)t * mn + i];
    /* dw[o][c] = A^T (S M S) A, S = diag(1, 1/2, 1/2, -1) undoing G' = 2 G's middle rows
     * and the input transform's negated last row */
    static const float s[4] = { 1.0f, 0.5f, 0.5f, -1.0f };
    for (size_t oc = 0; oc < (size_t)c->O * c->C; oc++) {
        float mm[4][4], r[3][4];
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) mm[a][b] = j.part[(size_t)(4 * a + b) * c->O * c->C + oc] * s[a] * s[b];
        for (int b = 0; b < 4; b++) {
            r[0][b] = mm[0][b] + mm[1][b] + mm[2][b];
            r[1][b] = mm[1][b] - mm[2][b];
            r[2][b] = mm[1][b] + mm[2][b] + mm[3][b];
        }
        for (int i = 0; i < 3; i++) {
            float *d = dw + oc * 9 + (size_t)i * 3;
            d[0] = r[i][0] + r[i][1] + r[i][2];
            d[1] = r[i][1] - r[i][2];
            d[2] = r[i][1] + r[i][2] + r[i][3];
        }
    }
}
