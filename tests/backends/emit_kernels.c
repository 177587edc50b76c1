/* tests/backends/emit_kernels.c: kernels of the code --emit-c writes, on their own against
 * plain loops, where whole models would not reach every case: built with a file generated
 * from tests/backends/emit_rows.cnn included (-DGENERATED='"out.c"'; its static k_conv2d_rows,
 * k_maxpool2d and k_linear), plain and with AVX2 + FMA, and under ASan + UBSan, by
 * test_emit_c.sh. k_conv2d_rows on random shapes (widths 1 to 60 with every last part of a
 * tile, 1 to 20 output channels over two blocks of 16, strides down the columns, dilation,
 * padding, no bias, ReLU and Tanh, a fused 2x2 pool) with its scratch sized as
 * emit_conv_scratch sizes it;
 * k_maxpool2d with a NaN in a window (PyTorch's result: NaN) in each of its paths; k_linear
 * with whole and partial blocks of outputs, inputs that are 0 (left out; all of them too)
 * and a NaN one (kept). Prints each difference; exit status 1 if there is one. */
#include GENERATED

#include <stdio.h>
#include <stdlib.h>

static unsigned long long seed = 88172645463325252ULL;
static int fails;

static double rnd(void)     /* uniform in [-1, 1) */
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (double)(seed >> 11) / 4503599627370496.0 - 1.0;
}

static int irnd(int lo, int hi)     /* uniform in [lo, hi] */
{
    return lo + (int)((rnd() + 1.0) / 2.0 * (hi - lo + 1)) % (hi - lo + 1);
}

static void check(const char *what, int i, double got, double want, double tol)
{
    int both_nan = got != got && want != want;
    if (both_nan || (got == got && want == want && fabs(got - want) <= tol * (1.0 + fabs(want)))) return;
    if (fails++ < 10) printf("%s: element %d: %.9g, want %.9g\n", what, i, got, want);
}

/* k_conv2d_rows on one random shape */
static void conv_rows_case(int k)
{
    int C = irnd(1, 3), KH = irnd(1, 3), KW = irnd(1, 5), O = irnd(1, 20), DH = irnd(1, 2), DW = irnd(1, 2);
    int SH = irnd(1, 2), PH = irnd(0, 2), PW = irnd(0, 2), W, H = irnd(1, 6), OH, OW, T, act = irnd(0, 2);
    int bias = irnd(0, 3) > 0, pool = irnd(0, 2) == 0, nb = (O + 15) / 16, o, c, t, oh, ow, WP, HP, PO, QO;
    if (C * KH * KW > 32) KW = 32 / (C * KH);
    OW = k % 60 + 1;                            /* every width from 1 to 60 */
    W = OW - 2 * PW + (KW - 1) * DW;
    if (W < 1) PW = 0, W = OW + (KW - 1) * DW;
    while (H + 2 * PH < (KH - 1) * DH + 1) H++;
    OH = (H + 2 * PH - (KH - 1) * DH - 1) / SH + 1;
    T = C * KH * KW;
    act = pool ? 0 : act == 2 ? 8 : act;        /* a fused pool has its ReLU after it */
    PO = pool ? OH / 2 : OH, QO = pool ? OW / 2 : OW;
    /* the scratch emit_conv_scratch gives it: C planes HP x WP (a pool: and 2 rows of each 4 channels) */
    HP = H + 2 * PH;
    WP = (OW + 47) / 48 * 48 + (KW - 1) * DW;
    if (WP < W + PW) WP = W + PW;
    {
        int g[9] = { KH, KW, SH, 1, PH, PW, DH, DW, 1 };
        float *x = malloc((size_t)C * H * W * sizeof *x), *w = malloc((size_t)O * T * sizeof *w);
        float *wp = calloc((size_t)nb * T * 16, sizeof *wp), *b = malloc((size_t)O * sizeof *b);
        float *y = malloc((size_t)O * PO * QO * sizeof *y + 1);
        float *xp = malloc(((size_t)C * HP * WP + (pool ? (size_t)(O + 3) / 4 * 8 * OW : 0)) * sizeof *xp);
        double *ref = malloc((size_t)O * OH * OW * sizeof *ref);
        char what[160];
        for (t = 0; t < C * H * W; t++) x[t] = (float)rnd();
        for (t = 0; t < O * T; t++) w[t] = (float)rnd();
        for (o = 0; o < O; o++) b[o] = (float)rnd();
        /* k_conv2d_pk's packing: wp[block][c][kh][kw][16] */
        for (o = 0; o < O; o++)
            for (t = 0; t < T; t++) wp[((long)(o / 16) * T + t) * 16 + o % 16] = w[(long)o * T + t];
        k_conv2d_rows(x, C, H, W, wp, bias ? b : 0, y, O, OH, OW, g, act, 0.0f, pool, xp);
        snprintf(what, sizeof what, "k_conv2d_rows C %d H %d W %d O %d k %dx%d s %d p %d,%d d %d,%d act %d bias %d pool %d",
                 C, H, W, O, KH, KW, SH, PH, PW, DH, DW, act, bias, pool);
        for (o = 0; o < O; o++)
            for (oh = 0; oh < OH; oh++)
                for (ow = 0; ow < OW; ow++) {
                    double s = bias ? b[o] : 0.0;
                    int kh, kw;
                    for (c = 0; c < C; c++)
                        for (kh = 0; kh < KH; kh++)
                            for (kw = 0; kw < KW; kw++) {
                                int ih = oh * SH - PH + kh * DH, iw = ow - PW + kw * DW;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    s += (double)w[(((long)o * C + c) * KH + kh) * KW + kw] * x[((long)c * H + ih) * W + iw];
                            }
                    ref[(o * OH + oh) * OW + ow] = act == 1 ? (s > 0 ? s : 0) : act == 8 ? tanh(s) : s;
                }
        /* the pool: each 2x2 window's maximum, then the ReLU */
        for (o = 0; o < O; o++)
            for (oh = 0; oh < PO; oh++)
                for (ow = 0; ow < QO; ow++) {
                    const double *r = ref + ((long)o * OH + (pool ? 2 * oh : oh)) * OW + (pool ? 2 * ow : ow);
                    double s = r[0];
                    if (pool) {
                        s = r[1] > s ? r[1] : s, s = r[OW] > s ? r[OW] : s, s = r[OW + 1] > s ? r[OW + 1] : s;
                        s = s > 0 ? s : 0;
                    }
                    check(what, (o * PO + oh) * QO + ow, y[(o * PO + oh) * QO + ow], s, 1e-5);
                }
        free(x), free(w), free(wp), free(b), free(y), free(xp), free(ref);
    }
}

/* k_maxpool2d of geometry g on 2 planes H x W, one with a NaN at (nh, nw), against windows
 * taken one by one (a NaN in a window gives NaN) */
static void maxpool_case(const char *what, const int *g, int H, int W, int nh, int nw)
{
    int OH = (H + 2 * g[4] - g[6] * (g[0] - 1) - 1) / g[2] + 1, OW = (W + 2 * g[5] - g[7] * (g[1] - 1) - 1) / g[3] + 1;
    int c, oh, ow, i, j;
    float *x = malloc(2 * (size_t)H * W * sizeof *x), *y = malloc(2 * (size_t)OH * OW * sizeof *y);
    for (i = 0; i < 2 * H * W; i++) x[i] = (float)rnd();
    x[(long)H * W + (long)nh * W + nw] = NAN;
    k_maxpool2d(x, 2, H, W, y, OH, OW, g);
    for (c = 0; c < 2; c++)
        for (oh = 0; oh < OH; oh++)
            for (ow = 0; ow < OW; ow++) {
                double m = -INFINITY;
                for (i = 0; i < g[0]; i++)
                    for (j = 0; j < g[1]; j++) {
                        int ih = oh * g[2] - g[4] + i * g[6], iw = ow * g[3] - g[5] + j * g[7];
                        float v;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        v = x[((long)c * H + ih) * W + iw];
                        if (v != v || m != m) m = NAN;
                        else if (v > m) m = v;
                    }
                check(what, (c * OH + oh) * OW + ow, y[(c * OH + oh) * OW + ow], m, 0.0);
            }
    free(x), free(y);
}

/* k_linear, O x I, against double sums: its weights laid out by hand (blocks of 64 outputs,
 * a row of them for each input), every zeros-th input 0 (0: none), one NaN input when nan */
static void linear_case(int O, int I, int zeros, int nan)
{
    float *x = calloc((size_t)I, sizeof *x), *w = calloc((size_t)O * I, sizeof *w), *b = calloc((size_t)O, sizeof *b);
    float *wt = calloc((size_t)O * I, sizeof *wt), *y = malloc((size_t)O * sizeof *y);
    int *nz = malloc((size_t)I * sizeof *nz), o, i;
    char what[80];
    for (i = 0; i < I; i++) x[i] = zeros && i % zeros == 0 ? 0.0f : (float)rnd();
    if (nan) x[I / 2] = NAN;
    for (i = 0; i < O * I; i++) w[i] = (float)rnd();
    for (o = 0; o < O; o++) b[o] = (float)rnd();
    for (o = 0; o < O; o++)
        for (i = 0; i < I; i++) {
            int o0 = o / 64 * 64, m = O - o0 < 64 ? O - o0 : 64;
            wt[(long)o0 * I + (long)i * m + o - o0] = w[(long)o * I + i];
        }
    k_linear(x, I, wt, b, y, O, 0, 0.0f, nz);
    snprintf(what, sizeof what, "k_linear %d x %d, every %d-th input 0%s", O, I, zeros, nan ? ", a NaN" : "");
    for (o = 0; o < O; o++) {
        double s = b[o];
        for (i = 0; i < I; i++) s += (double)w[(long)o * I + i] * x[i];
        check(what, o, y[o], s, 1e-5);
    }
    free(x), free(w), free(b), free(wt), free(y), free(nz);
}

int main(void)
{
    static const int p2[9] = { 2, 2, 2, 2, 0, 0, 1, 1, 1 }, p3[9] = { 3, 3, 2, 2, 1, 1, 1, 1, 1 };
    static const int p33[9] = { 3, 3, 1, 1, 1, 1, 1, 1, 1 };
    int k;
    for (k = 0; k < 600; k++) conv_rows_case(k);
    /* the NaN in the first window, in the last row or column the pool reads, and in an odd
     * size's last row, which a 2x2 pool leaves out */
    maxpool_case("k_maxpool2d 2x2/2", p2, 10, 14, 0, 0);
    maxpool_case("k_maxpool2d 2x2/2", p2, 10, 14, 9, 13);
    maxpool_case("k_maxpool2d 2x2/2", p2, 11, 15, 5, 6);
    maxpool_case("k_maxpool2d 2x2/2, the NaN left out", p2, 11, 15, 10, 14);
    maxpool_case("k_maxpool2d 3x3/2 padding 1", p3, 11, 15, 0, 0);
    maxpool_case("k_maxpool2d 3x3/2 padding 1", p3, 11, 15, 10, 14);
    maxpool_case("k_maxpool2d 3x3/2 padding 1", p3, 12, 16, 7, 15);
    maxpool_case("k_maxpool2d 3x3/2 padding 1", p3, 12, 16, 4, 9);
    maxpool_case("k_maxpool2d 3x3/1 padding 1", p33, 9, 13, 4, 5);
    /* whole blocks of 64 and 16 outputs and parts of them, inputs past the last 16 */
    linear_case(16, 160, 0, 0);
    linear_case(24, 300, 2, 0);
    linear_case(13, 1000, 3, 0);
    linear_case(130, 77, 1, 0);
    linear_case(64, 1000, 5, 0);
    linear_case(65, 33, 2, 1);
    linear_case(5, 128, 0, 1);
    if (fails) printf("%d differences\n", fails);
    return fails > 0;
}
