/* runtime/ops/conv2d_winograd4_wide.c: F(4x4,3x3)'s input and output transforms
 * (conv2d_winograd4.c) and the weight gradient's transform of dy (conv2d_winograd_wgrad.c)
 * in 16 lanes, a tile a lane, where the CPU has AVX-512. The 8-lane transforms move a row's
 * columns into the tiles' lanes with 4x4 transposes (about 18 shuffles a tile and channel,
 * a quarter of fashion_resnet's training step); here a vector's 16 tiles
 * come as up to 4 pieces of up to 4 tiles of one tile row each (rows of 7 tiles: 4 + 3 + 4 + 3),
 * a piece's 18 columns in one 16-float load and one 2 floats on, and each phase of the tiles
 * (the columns 4u + k of tile u) is 2 two-register permutes, whatever the row's width:
 *   input:  q[a] = B^T d down the columns of a run of a tile row's tiles (masked loads: zeros
 *           outside the image), then for each a the 6 phases of q[a] (permutes), B^T along
 *           them, V stored under the mask of the segment's tiles;
 *   output: m (36 rows of 16 tiles) -> A^T m A + b, 4 phases of each of 4 rows, each piece's
 *           row of 4 x 4 outputs permuted back together and stored under a mask (the output's
 *           edges);
 *   dy:     each piece's 4 rows of 16 floats loaded (masked at the plane's edges), their 4
 *           phases by permutes, A e along them and down, U stored as V is.
 * The arithmetic is winograd.h's, as the 8-lane code's: the same values. */
#include "kernels.h"
#include "winograd.h"

#ifdef CN_WINO_WIDE
#include <immintrin.h>

#define TARGET __attribute__((target("arch=x86-64-v4")))

WINO4_BT6(__m512, bt16)
WINO4_AT4(__m512, at16)
WINO4_A6(__m512, a16)

/* up to 4 tiles (cnt) of tile row ty of image n from column tx, in lanes [lane, lane + cnt)
 * of the segment; off: where tile tx's first column sits in the q rows of its run (the
 * pieces of one tile row in a segment), run: which run */
typedef struct Piece { int n, ty, tx, cnt, lane, run, off; } Piece;

/* A segment: up to 4 pieces, the tiles [t, t + lanes) (lanes <= 16); runs: the distinct
 * tile rows among them, run r from piece first[r], of cols[r] tiles; shape: the pieces'
 * counts (segments of one shape take the same permutes); n, ty, tx: where the next
 * segment starts */
typedef struct Segment {
    Piece p[4];
    int np, lanes, nrun, first[4], cols[4], shape;
    int n, ty, tx;
} Segment;

/* the segments of tiles [t, ...): seg_start, then seg_next for each (the divisions once) */
static void seg_start(const WinoJob *j, size_t t, Segment *s)
{
    size_t per = (size_t)j->th * j->tw;
    int r = (int)(t % per);
    s->n = (int)(t / per), s->ty = r / j->tw, s->tx = r % j->tw;
}

/* the next segment, with `left` tiles left: up to 4 pieces of up to 4 tiles, none across a
 * tile row */
static inline __attribute__((always_inline)) void seg_next(const WinoJob *j, size_t left, Segment *s)
{
    s->np = s->lanes = s->nrun = s->shape = 0;
    while (s->np < 4 && left > 0) {
        int cnt = j->tw - s->tx;
        if (cnt > 4) cnt = 4;
        if ((size_t)cnt > left) cnt = (int)left;
        Piece *q = &s->p[s->np], *prev = s->np ? q - 1 : NULL;
        *q = (Piece){ s->n, s->ty, s->tx, cnt, s->lanes, s->nrun, 0 };
        if (prev && prev->n == s->n && prev->ty == s->ty) {    /* the run goes on */
            q->run = prev->run;
            q->off = prev->off + 4 * prev->cnt;
            s->cols[q->run] += cnt;
        } else {
            s->first[s->nrun] = s->np;
            s->cols[s->nrun++] = cnt;
        }
        s->shape |= cnt << (3 * s->np);
        s->np++;
        s->lanes += cnt;
        left -= (size_t)cnt;
        if ((s->tx += cnt) == j->tw) {    /* the next tile row, or image */
            s->tx = 0;
            if (++s->ty == j->th) s->ty = 0, s->n++;
        }
    }
}

/* Lanes [lo, hi) of 16 set */
static __mmask16 lanes(int lo, int hi)
{
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    return hi <= lo ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* idx[k] (k < 4): lane l of piece i (of an even/odd pair: A = pieces 0 and 1, B = 2 and 3)
 * takes column 4 (l - lane) + k of its 16 floats, the pair's first piece's from the first
 * table register, the second's (+ 16) from the second; mask: the lanes of pieces 2 and 3 */
TARGET static void indices(const Segment *s, __m512i *ia, __m512i *ib, __mmask16 *mb)
{
    const __m512i iota4 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60);
    __m512i ix[2] = { _mm512_setzero_si512(), _mm512_setzero_si512() };
    *mb = 0;
    for (int i = 0; i < s->np; i++) {    /* lanes [lane, lane + cnt): 16 (i % 2) + 4 (l - lane) */
        __mmask16 m = lanes(s->p[i].lane, s->p[i].lane + s->p[i].cnt);
        ix[i / 2] = _mm512_mask_add_epi32(ix[i / 2], m, iota4, _mm512_set1_epi32(16 * (i % 2) - 4 * s->p[i].lane));
        if (i >= 2) *mb |= m;
    }
    for (int k = 0; k < 4; k++) {
        ia[k] = _mm512_add_epi32(ix[0], _mm512_set1_epi32(k));
        ib[k] = _mm512_add_epi32(ix[1], _mm512_set1_epi32(k));
    }
}

/* The segments of tiles [t0, t0 + nt) in turn, with their permutes (indices() again only
 * where the segments' shape changes): walk_start, then walk_next until it returns 0 */
typedef struct Walk {
    Segment s;
    size_t t, end;
    __m512i ia[4], ib[4];
    __mmask16 mb, all;    /* indices()' mask; the segment's lanes */
    int shape;
} Walk;

static void walk_start(const WinoJob *j, size_t t0, size_t nt, Walk *w)
{
    seg_start(j, t0, &w->s);
    w->s.lanes = 0;
    w->t = t0;
    w->end = t0 + nt;
    w->mb = 0;
    w->shape = -1;
}

TARGET static inline __attribute__((always_inline)) int walk_next(const WinoJob *j, Walk *w)
{
    w->t += (size_t)w->s.lanes;
    if (w->t >= w->end) return 0;
    seg_next(j, w->end - w->t, &w->s);
    w->all = lanes(0, w->s.lanes);
    if (w->s.shape != w->shape) indices(&w->s, w->ia, w->ib, &w->mb), w->shape = w->s.shape;
    return 1;
}

/* floats in a row of q: a run of up to 16 tiles has 66 columns, read up to 78 (a last piece
 * of one tile at 4 x 15, loaded 2 on: 16 floats) */
#define QW 80

/* channels ahead that the input transform fetches */
#define PREFETCH 2

/* into the cache: rows row0 .. row0 + 5 of plane (H x W), columns [col0, col0 + n) of them
 * inside it */
static inline __attribute__((always_inline)) void prefetch_rows(const float *plane, int H, int W, int row0, int col0,
                                                                int n)
{
    int lo = col0 < 0 ? 0 : col0, hi = col0 + n < W ? col0 + n : W;
    for (int i = 0; i < 6; i++) {
        int h = row0 + i;
        if (h < 0 || h >= H || hi <= lo) continue;
        const char *a = (const char *)(plane + (size_t)h * W + lo), *b = (const char *)(plane + (size_t)h * W + hi - 1);
        for (; a <= b; a += 64) __builtin_prefetch(a);
        __builtin_prefetch(b);
    }
}

/* q[r][a] = B^T d down the columns of run r of segment s in channel c of x (nvec[r] vectors
 * a row), and the rows a later channel reads fetched */
TARGET static inline __attribute__((always_inline)) void column_pass(const WinoJob *j, const Segment *s,
                                                                     const int *nvec, float (*q)[6][QW], int c,
                                                                     int c1)
{
    int H = j->H, W = j->W, p = j->p;
    for (int r = 0; r < s->nrun; r++) {
        const Piece *pc = &s->p[s->first[r]];
        const float *plane = j->x + ((size_t)pc->n * j->C + c) * H * W;
        int row0 = 4 * pc->ty - p, col0 = 4 * pc->tx - p;
        if (c + PREFETCH < c1)    /* the rows a later channel reads: short streams the hardware misses */
            prefetch_rows(plane + (size_t)PREFETCH * H * W, H, W, row0, col0, 4 * s->cols[r] + 2);
        /* rows outside the plane: loads under an empty mask (zeros, nothing read) */
        __mmask16 in = 0;
        for (int i = 0; i < 6; i++) in |= (__mmask16)((row0 + i >= 0 && row0 + i < H) << i);
        const float *row = plane + (ptrdiff_t)row0 * W + col0;
        for (int v = 0; v < nvec[r]; v++, row += 16) {
            int col = col0 + 16 * v;
            __mmask16 m = lanes(-col, W - col);
            __m512 d[6], e[6];
#pragma GCC unroll 8
            for (int i = 0; i < 6; i++) d[i] = _mm512_maskz_loadu_ps(in >> i & 1 ? m : 0, row + (ptrdiff_t)i * W);
            bt16(d, e);
#pragma GCC unroll 8
            for (int a = 0; a < 6; a++) _mm512_storeu_ps(q[r][a] + 16 * v, e[a]);
        }
    }
}

/* V rows (xi, c) of segment s's tiles (at dst, under mask all) from its q: for each a the 6
 * phases of q[a] by permutes (ia, ib, mb: indices()), then B^T along them */
TARGET static inline __attribute__((always_inline)) void row_pass(const Segment *s, float (*q)[6][QW],
                                                                  const __m512i *ia, const __m512i *ib,
                                                                  __mmask16 mb, __mmask16 all, float *dst,
                                                                  size_t xs)
{
    const float *src[4];    /* piece i's first column in q[.][0] (pieces past np: piece 0's) */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        const Piece *pc = &s->p[i < s->np ? i : 0];
        src[i] = q[pc->run][0] + pc->off;
    }
    int four = s->np > 2;
#pragma GCC unroll 8
    for (int a = 0; a < 6; a++) {
        /* the table registers: each piece's 16 floats from its first column, then from 2
         * on (phases 4 and 5 are phases 2 and 3 of those) */
        __m512 g[4][2];
#pragma GCC unroll 8
        for (int i = 0; i < 4; i++) {
            g[i][0] = _mm512_loadu_ps(src[i] + a * QW);
            g[i][1] = _mm512_loadu_ps(src[i] + a * QW + 2);
        }
        __m512 e[6], v[6];
#pragma GCC unroll 8
        for (int k = 0; k < 6; k++) {
            int h = k >= 4, ki = k >= 4 ? k - 2 : k;
            e[k] = _mm512_permutex2var_ps(g[0][h], ia[ki], g[1][h]);
            if (four) e[k] = _mm512_mask_blend_ps(mb, e[k], _mm512_permutex2var_ps(g[2][h], ib[ki], g[3][h]));
        }
        bt16(e, v);
        float *d = dst + (size_t)a * 6 * xs;
#pragma GCC unroll 8
        for (int b = 0; b < 6; b++, d += xs) _mm512_mask_storeu_ps(d, all, v[b]);
    }
}

/* The channels go one behind the other: channel c + 1's column pass, into the other of two
 * q buffers, runs before channel c's row pass, so that the row pass's loads (2 floats off
 * the column pass's stores) find their data in the cache and not in stores still in flight
 * (a load across two such stores waits for both to complete) */
TARGET void wino4_input_wide(const WinoJob *j, float *V, size_t ld, size_t xs, size_t t0, size_t nt, int c0, int c1)
{
    float q[2][4][6][QW];
    Walk w;
    for (walk_start(j, t0, nt, &w); walk_next(j, &w);) {
        const Segment *s = &w.s;
        int nvec[4];
        for (int r = 0; r < s->nrun; r++) {
            /* the vectors the column pass fills; the floats past them up to what the last
             * piece's loads read stay 0 for every channel */
            nvec[r] = (4 * s->cols[r] + 2 + 15) / 16;
            for (int k = 0; k < 2; k++)
                for (int a = 0; a < 6; a++)
                    memset(q[k][r][a] + 16 * nvec[r], 0, (QW - 16 * nvec[r]) * sizeof(float));
        }
        float *dst = V + (w.t - t0);
        if (c0 < c1) column_pass(j, s, nvec, q[c0 & 1], c0, c1);
        for (int c = c0; c < c1; c++) {
            if (c + 1 < c1) column_pass(j, s, nvec, q[(c + 1) & 1], c + 1, c1);
            row_pass(s, q[c & 1], w.ia, w.ib, w.mb, w.all, dst + (size_t)c * ld, xs);
        }
    }
}

TARGET void wino4_dy_wide(const WinoJob *j, float *U, size_t ld, size_t xs, size_t t0, size_t nt, int o0, int o1)
{
    int H = j->H, W = j->W, C = j->C;
    Walk w;
    for (walk_start(j, t0, nt, &w); walk_next(j, &w);) {
        const Segment *s = &w.s;
        /* piece i's first row in channel o0 (pieces past np: piece 0's), and the masks of
         * its rows h: the columns inside the plane, none for a row past it */
        const float *first[4];
        __mmask16 rm[4][4];
        for (int i = 0; i < 4; i++) {
            const Piece *pc = &s->p[i < s->np ? i : 0];
            first[i] = j->x + (((size_t)pc->n * C + o0) * H + 4 * pc->ty) * W + 4 * pc->tx;
            for (int h = 0; h < 4; h++) rm[i][h] = 4 * pc->ty + h < H ? lanes(0, W - 4 * pc->tx) : 0;
        }
        float *dst = U + (w.t - t0);
        size_t plane = (size_t)H * W;
        for (int o = o0; o < o1; o++) {
            __m512 q[4][6];
#pragma GCC unroll 4
            for (int h = 0; h < 4; h++) {
                /* row h of each piece's tiles: 16 floats, 4 tiles' 4 columns (masked-off
                 * floats are neither read nor faulted on) */
                __m512 g[4], e[4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
                    g[i] = _mm512_maskz_loadu_ps(rm[i][h], first[i] + (size_t)(o - o0) * plane + (size_t)h * W);
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    e[k] = _mm512_permutex2var_ps(g[0], w.ia[k], g[1]);
                    if (s->np > 2)
                        e[k] = _mm512_mask_blend_ps(w.mb, e[k], _mm512_permutex2var_ps(g[2], w.ib[k], g[3]));
                }
                a16(e, q[h]);
            }
            float *u = dst + (size_t)o * ld;
#pragma GCC unroll 8
            for (int b = 0; b < 6; b++, u += xs) {
                __m512 d[4] = { q[0][b], q[1][b], q[2][b], q[3][b] }, r[6];
                a16(d, r);
#pragma GCC unroll 8
                for (int a = 0; a < 6; a++) _mm512_mask_storeu_ps(u + (size_t)a * 6 * xs, w.all, r[a]);
            }
        }
    }
}

TARGET void wino4_output_wide(const WinoJob *j, const float *M, size_t ld, size_t xs, size_t t0, size_t nt, int o0,
                              int o1)
{
    int O = j->O, Ho = j->Ho, Wo = j->Wo;
    Segment s;
    seg_start(j, t0, &s);
    for (size_t t = t0; t < t0 + nt; t += (size_t)s.lanes) {
        seg_next(j, t0 + nt - t, &s);
        /* piece i's row of outputs: float 4u + k is phase k of lane lane + u: from the
         * phases 0 and 1 (k < 2), or 2 and 3 (same index), as one index */
        __m512i idx[4];
        __mmask16 rowm[4];
        int rows[4];
        const __m512i base = _mm512_setr_epi32(0, 16, 0, 16, 1, 17, 1, 17, 2, 18, 2, 18, 3, 19, 3, 19);
        for (int i = 0; i < s.np; i++) {
            idx[i] = _mm512_add_epi32(base, _mm512_set1_epi32(s.p[i].lane));
            int c0 = 4 * s.p[i].tx;
            rowm[i] = lanes(0, 4 * s.p[i].cnt < Wo - c0 ? 4 * s.p[i].cnt : Wo - c0);
            rows[i] = Ho - 4 * s.p[i].ty < 4 ? Ho - 4 * s.p[i].ty : 4;
        }
        __mmask16 all = lanes(0, s.lanes);
        size_t at = t - t0, plane = (size_t)Ho * Wo;
        float *first[4];    /* piece i's first output in channel o0 */
        for (int i = 0; i < s.np; i++)
            first[i] = j->y + (((size_t)s.p[i].n * O + o0) * Ho + 4 * s.p[i].ty) * Wo + 4 * s.p[i].tx;
        for (int o = o0; o < o1; o++) {
            __m512 bo = _mm512_set1_ps(j->b ? j->b[o] : 0.0f);
            const float *mo = M + (size_t)o * ld + at;
            /* A^T along each row a of m, then down the 4 columns */
            __m512 r[4][6], y[4][4];
#pragma GCC unroll 8
            for (int a = 0; a < 6; a++) {
                __m512 m[6], u[4];
#pragma GCC unroll 8
                for (int b = 0; b < 6; b++, mo += xs) m[b] = _mm512_maskz_loadu_ps(all, mo);
                at16(m, u);
#pragma GCC unroll 8
                for (int k = 0; k < 4; k++) r[k][a] = u[k];
            }
#pragma GCC unroll 8
            for (int k = 0; k < 4; k++) {
                __m512 u[4];
                at16(r[k], u);
#pragma GCC unroll 8
                for (int i = 0; i < 4; i++) y[i][k] = _mm512_add_ps(u[i], bo);
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                if (i >= s.np) continue;
                float *row = first[i] + (size_t)(o - o0) * plane;
#pragma GCC unroll 4
                for (int h = 0; h < 4; h++, row += Wo) {
                    if (h >= rows[i]) continue;
                    __m512 lo = _mm512_permutex2var_ps(y[h][0], idx[i], y[h][1]);
                    __m512 hi = _mm512_permutex2var_ps(y[h][2], idx[i], y[h][3]);
                    __m512 v = _mm512_mask_blend_ps(0x3333, hi, lo);    /* k < 2 from lo */
                    if (j->accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(rowm[i], row));
                    _mm512_mask_storeu_ps(row, rowm[i], v);
                }
            }
        }
    }
}
#endif
