/* runtime/ops/conv2d_winograd_wgrad.c: the weight gradient of a 3x3, stride-1 Conv2d by
 * Winograd's minimal filtering F(3x3, 2x2) or F(3x3, 4x4) (Lavin and Gray, 2016), as the
 * forward chose (ConvShape's winograd: 4 for F(4x4,3x3), else 2). dy is cut into m x m tiles
 * and x (zero-padded) into the (m+2) x (m+2) tiles under them; per tile U (from dy) and
 * V = B^T x B (from x: the forward's input transform), and for each of the (m+2)^2
 * positions xi
 *     M[xi][o][c] = sum over the tiles of U[xi][o] * V[xi][c],  dw[o][c] = back(M[.][o][c]):
 * 16 multiplies per 2x2 tile and channel pair, 36 per 4x4 one, where the direct sum takes 36
 * and 144. By the transposition of the forward F(m x m, 3x3) = A^T [(G g G^T) . (B^T d B)] A,
 * U = A dy A^T and back(M) = G^T M G.
 * F(3x3, 2x2), with U = H d H^T and back(M) = A^T (S M S) A:
 *     B^T = | 1  0 -1  0 |    H = | 1    0  |    A^T = | 1 1  1 0 |
 *           | 0  1  1  0 |        | 1/2 1/2 |          | 0 1 -1 0 |
 *           | 0 -1  1  0 |        | 1/2 -1/2|          | 0 1  1 1 |
 *           | 0 -1  0  1 |        | 0    1  |
 * V comes from the forward's input transform (conv2d_winograd_input), whose B^T has the last
 * row negated; that sign and H's halves (U takes H' = H with its middle rows doubled) are
 * S = diag(1, 1/2, 1/2, -1) (a power of two and a sign move through the sums exactly).
 * F(3x3, 4x4): V from conv2d_winograd4_input, A and G conv2d_winograd4.c's (6 x 4 and 6 x 3),
 * back(M) in double.
 * Tiles go in chunks of whole tile rows sized to stay in cache, U and V laid out tile-fastest
 * so that the sums over tiles are 8-float vector dot products; each thread sums a contiguous
 * share of the chunks into its own M, and the Ms are added in thread order. */
#include <string.h>

#include "../parallel.h"
#include "kernels.h"
#include "winograd.h"

typedef struct Wgrad {
    const ConvShape *c;
    const float *dy, *x;
    float *part;          /* per share: M[nxi][O][C] */
    float *dw;            /* the result (weights_share) */
    int m, nxi;           /* the tiles' size (2 or 4) and the positions per tile ((m + 2)^2) */
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
    int lo = first < 0 ? -first : 0, hi = W - first < n ? W - first : n;
    if (h < 0 || h >= H || hi <= lo) {
        memset(row, 0, (size_t)n * sizeof *row);
        return;
    }
    memset(row, 0, (size_t)lo * sizeof *row);
    memcpy(row + lo, plane + (size_t)h * W + first + lo, (size_t)(hi - lo) * sizeof *row);
    memset(row + hi, 0, (size_t)(n - hi) * sizeof *row);
}

/* F(3x3, 2x2): U = H' d H'^T (H' = H with its middle rows doubled) of the tiles of one tile
 * row of dy's plane: tile t is rows h0, h0+1 and columns 2t, 2t+1 (zero past the plane); u[xi * ld + t]
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

WINO4_A6(vf8, a6)

/* F(3x3, 4x4): u[xi * us + t] = (A e A^T)[xi] (xi = 6 a + b, a down, b across), e the 4x4
 * patch of dy's plane o under the chunk's tile t (tile rows r0 .. r1; zero past the plane),
 * for every t < tb (zero past the chunk's tiles). Row i of every tile row's tiles goes end to
 * end into one row of tmp, whose tiles then go 8 to a vector whatever the tile rows' length.
 * tmp: 16 tb floats */
static CN_MULTIVERSION void transform_dy4(float *u, size_t us, const Wgrad *j, int o, size_t r0, size_t r1,
                                          float *tmp)
{
    const ConvShape *c = j->c;
    size_t tb = j->tb, w4 = (size_t)4 * j->TW, used = (r1 - r0) * w4;
    for (int i = 0; i < 4; i++) {
        float *row = tmp + (size_t)i * 4 * tb;
        for (size_t r = r0; r < r1; r++) {
            int n = (int)(r / j->TH), ty = (int)(r % j->TH);
            padded_row(row + (r - r0) * w4, j->dy + ((size_t)n * c->O + o) * c->P, 4 * ty + i, c->Ho, c->Wo, 0,
                       (int)w4);
        }
        memset(row + used, 0, (4 * tb - used) * sizeof *row);
    }
    for (size_t t = 0; t < tb; t += 8) {
        vf8 q[4][6];
        for (int i = 0; i < 4; i++) {
            vf8 e[4];
            const float *p = tmp + (size_t)i * 4 * tb + 4 * t;    /* tiles t .. t + 7 */
            phases4(p, p + 16, e);
            a6(e, q[i]);
        }
        for (int b = 0; b < 6; b++) {
            vf8 d[4] = { q[0][b], q[1][b], q[2][b], q[3][b] }, r[6];
            a6(d, r);
            for (int a = 0; a < 6; a++) ST8(u + (size_t)(6 * a + b) * us + t, r[a]);
        }
    }
}

/* pairwise sums within halves: [x0+x1, x2+x3, y0+y1, y2+y3 | x4+x5, x6+x7, y4+y5, y6+y7] */
#define PAIRS(x, y) (__builtin_shufflevector(x, y, 0, 2, 8, 10, 4, 6, 12, 14) + \
                     __builtin_shufflevector(x, y, 1, 3, 9, 11, 5, 7, 13, 15))

/* m0[0..2) .. m3[0..2) += the lanes of a00, a01 .. a30, a31 (the sums of rows 0 .. 3 of u
 * with v0 and v1) added together in one tree of in-half shuffles */
static inline __attribute__((always_inline)) void add_sums(float *m0, float *m1, float *m2, float *m3, vf8 a00,
                                                           vf8 a01, vf8 a10, vf8 a11, vf8 a20, vf8 a21, vf8 a30,
                                                           vf8 a31)
{
    vf8 g0 = PAIRS(PAIRS(a00, a01), PAIRS(a10, a11)), g1 = PAIRS(PAIRS(a20, a21), PAIRS(a30, a31));
    vf8 r = __builtin_shufflevector(g0, g1, 0, 1, 2, 3, 8, 9, 10, 11) +
            __builtin_shufflevector(g0, g1, 4, 5, 6, 7, 12, 13, 14, 15);
    m0[0] += r[0], m0[1] += r[1];
    m1[0] += r[2], m1[1] += r[3];
    m2[0] += r[4], m2[1] += r[5];
    m3[0] += r[6], m3[1] += r[7];
}

/* m[o][c] += sum over t < n of u[o][t] * v[c][t] for 4 rows of u and 2 of v (u0..u3, v0, v1:
 * rows n floats long, n a multiple of 8), 8 sums a pair (lane l: the tiles t = l mod 8, in
 * order, fused multiply-adds where the CPU has them) */
static CN_MULTIVERSION CN_CONTRACT void dot_4x2(float *m0, float *m1, float *m2, float *m3, const float *u0,
                                                const float *u1, const float *u2, const float *u3, const float *v0,
                                                const float *v1, size_t n)
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
    add_sums(m0, m1, m2, m3, a00, a01, a10, a11, a20, a21, a30, a31);
}

#ifdef CN_WINO_WIDE
#include <immintrin.h>

/* The same sums for 8 rows of u (u[0..8)) and 4 of v (v[0..4)) into m[a] (m[a][0..4) for
 * row a), where the CPU has AVX-512: a register holds two pairs' 8 sums side by side, (u_a,
 * v_2p) low and (u_a, v_2p+1) high, each half the 8-lane loop's multiply-adds in its order
 * (fused where dot_4x2's are: the same CN_CONTRACT), so the values are dot_4x2's, bit for
 * bit; 16 registers of sums, 2 times the 8-lane multiply-adds an instruction */
__attribute__((target("arch=x86-64-v4"))) CN_CONTRACT static void dot_8x4_wide(float *const *m,
                                                                               const float *const *u,
                                                                               const float *const *v, size_t n)
{
    __m512 acc[8][2];
    for (int a = 0; a < 8; a++) acc[a][0] = acc[a][1] = _mm512_setzero_ps();
    for (size_t t = 0; t < n; t += 8) {
        __m512 x[2];
        for (int p = 0; p < 2; p++)
            x[p] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(v[2 * p] + t)),
                                      _mm256_loadu_ps(v[2 * p + 1] + t), 1);
#pragma GCC unroll 8
        for (int a = 0; a < 8; a++) {
            __m512 y = _mm512_broadcast_f32x8(_mm256_loadu_ps(u[a] + t));
            acc[a][0] += y * x[0];    /* contracted as dot_4x2's sums are (CN_CONTRACT) */
            acc[a][1] += y * x[1];
        }
    }
    /* Each pair's 8 sums added as add_sums does, ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 +
     * x7)), by shuffles within 128-bit lanes across all 16 registers at once: lanes 0, 1 of
     * each 4 with lanes 2, 3 (rows a and a+1 side by side), then again (a pair's two half
     * sums), then the halves' sums of the 4 rows' 4 pairs, put in row order */
    __m512 l1[8], l2[4];
#pragma GCC unroll 8
    for (int a = 0; a < 8; a++)
        l1[a] = _mm512_shuffle_ps(acc[a][0], acc[a][1], 0x88) + _mm512_shuffle_ps(acc[a][0], acc[a][1], 0xDD);
#pragma GCC unroll 4
    for (int a = 0; a < 4; a++)
        l2[a] = _mm512_shuffle_ps(l1[2 * a], l1[2 * a + 1], 0x88) + _mm512_shuffle_ps(l1[2 * a], l1[2 * a + 1], 0xDD);
    /* l2[q] lanes: rows 2q, 2q + 1 by 128-bit lane: [c0 c2 of each, low halves' sums], [the
     * same, high halves'], [c1 c3, low], [c1 c3, high]; two l2 give rows 4r .. 4r + 3 */
    const __m512i order = _mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++) {
        __m512 lo = _mm512_shuffle_f32x4(l2[2 * r], l2[2 * r + 1], 0x88);    /* low halves' sums */
        __m512 hi = _mm512_shuffle_f32x4(l2[2 * r], l2[2 * r + 1], 0xDD);    /* high halves' */
        __m512 sum = _mm512_permutexvar_ps(order, lo + hi);                  /* row a: lanes 4a .. 4a+3 */
        float *row[4] = { m[4 * r], m[4 * r + 1], m[4 * r + 2], m[4 * r + 3] };
        __m128 q[4] = { _mm512_castps512_ps128(sum), _mm512_extractf32x4_ps(sum, 1), _mm512_extractf32x4_ps(sum, 2),
                        _mm512_extractf32x4_ps(sum, 3) };
#pragma GCC unroll 4
        for (int a = 0; a < 4; a++) _mm_storeu_ps(row[a], _mm_loadu_ps(row[a]) + q[a]);
    }
}
#endif

/* M[xi] += U[xi] V[xi]^T over one chunk: blocks of R output x K input channels (8 x 4 in
 * 16 lanes where the CPU has AVX-512, else 4 x 2), the rows past O or C read the chunk's zero
 * row and their sums go to a sink */
static void chunk_products(float *m, const float *u, const float *v, const float *zero, const ConvShape *c,
                           int nxi, size_t tb, size_t ld, size_t us, size_t vs)
{
    int O = c->O, C = c->C, wide = wino_wide(), R = wide ? 8 : 4, K = wide ? 4 : 2;
    for (int xi = 0; xi < nxi; xi++) {
        const float *uxi = u + (size_t)xi * us, *vxi = v + (size_t)xi * vs;
        float *mxi = m + (size_t)xi * O * C;
        for (int o = 0; o < O; o += R)
            for (int ci = 0; ci < C; ci += K) {
                const float *ur[8], *vr[4];
                float *mr[8];
                float sink[8][4];
                for (int a = 0; a < R; a++) ur[a] = o + a < O ? uxi + (size_t)(o + a) * ld : zero;
                for (int b = 0; b < K; b++) vr[b] = ci + b < C ? vxi + (size_t)(ci + b) * ld : zero;
                int whole = o + R <= O && ci + K <= C;
                for (int a = 0; a < R; a++) {
                    mr[a] = whole ? mxi + (size_t)(o + a) * C + ci : sink[a];
                    if (!whole) memset(sink[a], 0, sizeof sink[a]);
                }
#ifdef CN_WINO_WIDE
                if (wide) dot_8x4_wide(mr, ur, vr, tb);
                else
#endif
                    dot_4x2(mr[0], mr[1], mr[2], mr[3], ur[0], ur[1], ur[2], ur[3], vr[0], vr[1], tb);
                if (!whole)
                    for (int a = 0; a < R && o + a < O; a++)
                        for (int b = 0; b < K && ci + b < C; b++) mxi[(size_t)(o + a) * C + ci + b] += sink[a][b];
            }
    }
}

/* Share t of the chunks: transforms them and sums their products into its own M. F(2x2):
 * the rows of dy's tiles go in order, each writing whole vectors past its last tile into the
 * next row's slots (which that row then overwrites) or the slack, and those past the chunk's
 * last tile are zeroed after; F(4x4) in 8 lanes writes zeros there itself (in 16, nothing:
 * zeroed after as F(2x2)'s). V's slots past the chunk's
 * tiles are zeroed (past the input transform's last vector they hold an earlier chunk's
 * values, or none). */
static void wgrad_share(void *ctx, int t, int T)
{
    const Wgrad *j = ctx;
    const ConvShape *c = j->c;
    size_t rows_all = (size_t)c->N * j->TH, chunks = (rows_all + j->rows - 1) / j->rows;
    size_t tb = j->tb, ld = j->ld, us = j->us, vs = j->vs, mn = (size_t)j->nxi * c->O * c->C;
    size_t tw8 = ((size_t)j->TW + 7) / 8 * 8, ntmp = j->m == 4 ? 16 * tb : 8 * tw8;
    float *m = j->part + (size_t)t * mn;
    int wide = wino_wide();    /* F(4x4)'s dy in 16 lanes (writes no slot past the chunk's tiles) */
    memset(m, 0, mn * sizeof *m);
    float *u = op_scratch(0, (size_t)j->nxi * (us + vs) + tb + ntmp);
    float *v = u + (size_t)j->nxi * us, *zero = v + (size_t)j->nxi * vs, *tmp = zero + tb;
    memset(zero, 0, tb * sizeof *zero);
    for (size_t ch = par_lo(chunks, t, T); ch < par_lo(chunks, t + 1, T); ch++) {
        size_t r0 = ch * j->rows, r1 = r0 + j->rows < rows_all ? r0 + j->rows : rows_all;
        size_t used = (r1 - r0) * j->TW;
        if (j->m == 4) {
#ifdef CN_WINO_WIDE
            if (wide) {
                WinoJob d = { c->N, c->O, c->Ho, c->Wo, 0, 0, 0, 0, j->TH, j->TW, 0, j->dy, NULL, NULL, NULL, 0, 0 };
                wino4_dy_wide(&d, u, ld, us, r0 * j->TW, used, 0, c->O);
            } else
#endif
                for (int o = 0; o < c->O; o++) transform_dy4(u + (size_t)o * ld, us, j, o, r0, r1, tmp);
            conv2d_winograd4_input(c, v, ld, vs, j->x, r0 * j->TW, used);
        } else {
            for (size_t r = r0; r < r1; r++) {
                int n = (int)(r / j->TH), th = (int)(r % j->TH);
                for (int o = 0; o < c->O; o++)
                    transform_dy(u + (size_t)o * ld + (r - r0) * j->TW, us,
                                 j->dy + ((size_t)n * c->O + o) * c->P, c->Ho, c->Wo, 2 * th, j->TW, tmp);
            }
            conv2d_winograd_input(c, v, ld, vs, j->x, r0 * j->TW, used);
        }
        if (used < tb)      /* the slots past the last tile: zero products */
            for (int xi = 0; xi < j->nxi; xi++) {
                if (j->m == 2 || wide)
                    for (int o = 0; o < c->O; o++)
                        memset(u + xi * us + (size_t)o * ld + used, 0, (tb - used) * sizeof *u);
                for (int ci = 0; ci < c->C; ci++)
                    memset(v + xi * vs + (size_t)ci * ld + used, 0, (tb - used) * sizeof *v);
            }
        chunk_products(m, u, v, zero, c, j->nxi, tb, ld, us, vs);
    }
}

/* F(3x3, 2x2): dw[o][c] = A^T (S M S) A, S = diag(1, 1/2, 1/2, -1) undoing H' = 2 H's middle
 * rows and the input transform's negated last row (M: 16 x O x C) */
static void weights2(float *dw, const float *M, size_t OC, size_t oc0, size_t oc1)
{
    static const float s[4] = { 1.0f, 0.5f, 0.5f, -1.0f };
    for (size_t oc = oc0; oc < oc1; oc++) {
        float mm[4][4], r[3][4];
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) mm[a][b] = M[(size_t)(4 * a + b) * OC + oc] * s[a] * s[b];
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

/* F(3x3, 4x4): dw[o][c] = G^T M[o][c] G in double, G = conv2d_winograd4.c's (6 x 3; M: 36 x O
 * x C) */
static void weights4(float *dw, const float *M, size_t OC, size_t oc0, size_t oc1)
{
    static const double g[6][3] = { { 1.0 / 4, 0, 0 },
                                    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
                                    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
                                    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
                                    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
                                    { 0, 0, 1 } };
    for (size_t oc = oc0; oc < oc1; oc++) {
        double r[3][6];
        for (int i = 0; i < 3; i++)
            for (int b = 0; b < 6; b++) {
                double sum = 0;
                for (int a = 0; a < 6; a++) sum += g[a][i] * M[(size_t)(6 * a + b) * OC + oc];
                r[i][b] = sum;
            }
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++) {
                double sum = 0;
                for (int b = 0; b < 6; b++) sum += r[i][b] * g[b][k];
                dw[oc * 9 + (size_t)i * 3 + k] = (float)sum;
            }
    }
}

/* Share t of the channel pairs (o, c): the T shares' M (wgrad_share's, run with the same T)
 * added in share order, then dw */
static void weights_share(void *ctx, int t, int T)
{
    const Wgrad *j = ctx;
    size_t OC = (size_t)j->c->O * j->c->C, mn = (size_t)j->nxi * OC, oc0 = par_lo(OC, t, T), oc1 = par_lo(OC, t + 1, T);
    for (int xi = 0; xi < j->nxi; xi++)
        for (size_t oc = oc0; oc < oc1; oc++) {
            size_t i = (size_t)xi * OC + oc;
            for (int u = 1; u < T; u++) j->part[i] += j->part[(size_t)u * mn + i];
        }
    if (j->m == 4) weights4(j->dw, j->part, OC, oc0, oc1);
    else weights2(j->dw, j->part, OC, oc0, oc1);
}

void conv2d_winograd_backward_weight(const ConvShape *c, float *dw, const float *dy, const float *x)
{
    int T = par_threads(), m = c->winograd == 4 ? 4 : 2;
    Wgrad j = { c, dy, x, NULL, dw, m, (m + 2) * (m + 2), (c->Ho + m - 1) / m, (c->Wo + m - 1) / m, 1, 0, 0, 0, 0 };
    size_t rows_all = (size_t)c->N * j.TH;
    /* tile rows per chunk: U and V of a chunk within 1 MiB, but at least 128 tiles (the dot
     * products' start and end are paid per chunk), and at least a chunk a thread. The
     * products go one xi at a time, over a sixteenth of the chunk (within L2): one thread,
     * batch 64, min of 30, AMD EPYC with AVX2, 2026-12-04, 256 KiB / 1 MiB / 2 MiB:
     * 16x28x28 8.6-9.0 / 7.7-8.3 / 9.0-9.2 ms, 32x14x14 7.4-7.5 / 6.8-7.0 / 7.4-7.5 ms; F(4x4),
     * min of 20 (a busy machine), 256 / 512 KiB / 1 / 2 MiB: 16x28x28 5.4 / 5.5 / 4.9 / 5.2 ms,
     * 32x14x14 5.3 / 5.2 / 5.1 / 5.0 ms */
    size_t per_row = (size_t)j.TW * (c->O + c->C) * j.nxi * sizeof(float), rows = (1024u << 10) / per_row;
    if (rows * j.TW < 128) rows = (128 + j.TW - 1) / j.TW;
    if (rows > (rows_all + T - 1) / T) rows = (rows_all + T - 1) / T;
    /* as many chunks for each thread, of near-equal size (8 chunks of 36 rows and 4 would
     * keep one of two threads waiting for the other a fifth of the time) */
    size_t nch = (rows_all + rows - 1) / rows;
    nch = (nch + T - 1) / T * T;
    rows = (rows_all + nch - 1) / nch;
    if (m == 4 && j.TW == 4 && rows > 1) rows += rows % 2;    /* rows of 4 tiles transform in pairs */
    j.rows = rows < 1 ? 1 : (int)rows;
    j.tb = ((size_t)j.rows * j.TW + 7) / 8 * 8;
    j.ld = j.tb + 8;
    j.us = (size_t)c->O * j.ld + XI_SKEW;
    j.vs = (size_t)c->C * j.ld + XI_SKEW;
    size_t OC = (size_t)c->O * c->C, mn = (size_t)j.nxi * OC;
    j.part = op_scratch(1, (size_t)T * mn);
    par_run(T, wgrad_share, &j);
    par_run(T, weights_share, &j);
}
