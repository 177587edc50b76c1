/* runtime/ops/conv2d_general.c: the convolutions the original kernels do not take:
 * groups (depthwise included), dilation, non-square kernel, stride and padding, and
 * padding_mode 'reflect'. A direct kernel (no im2col, no GEMM): each output plane sums its
 * group's input channels tap by tap in double; the backward scatters (dx) and correlates
 * (dw) the same way. Rows and columns of a tap are mapped to input indices once per call,
 * padding giving -1 ('zeros') or the mirrored index ('reflect', PyTorch's: without
 * repeating the edge). Depthwise convolutions with 'zeros' padding go to
 * conv2d_depthwise.c instead. */
#include <stdlib.h>
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* map[t * out + o] = the input index of output o under tap t, or -1 (zero padding) */
static int *tap_map(int out, int n, int k, int s, int p, int d, int reflect)
{
    int *map = xmalloc((size_t)k * out * sizeof *map);
    for (int t = 0; t < k; t++)
        for (int o = 0; o < out; o++) {
            int i = o * s - p + t * d;
            if (reflect) {
                if (i < 0) i = -i;
                if (i >= n) i = 2 * (n - 1) - i;
            }
            map[t * out + o] = i >= 0 && i < n ? i : -1;
        }
    return map;
}

/* Column tap tj reads input column ow*s + off for ow in [lo, hi) (inside the input:
 * contiguous when s is 1, so the loops vectorise); outside that range the tap map says
 * (-1, or the reflected column). */
typedef struct Cols { int lo, hi, off; } Cols;

static Cols *col_ranges(int Wo, int W, int kw, int s, int p, int d)
{
    Cols *r = xmalloc((size_t)kw * sizeof *r);
    for (int t = 0; t < kw; t++) {
        int off = t * d - p, lo = off >= 0 ? 0 : (-off + s - 1) / s, hi = W - 1 - off >= 0 ? (W - 1 - off) / s + 1 : 0;
        if (hi > Wo) hi = Wo;
        if (lo > hi) lo = hi;
        r[t] = (Cols){ lo, hi, off };
    }
    return r;
}

/* ar[ow] += wv * row[column of ow under the tap], every ow of Wo */
CN_MULTIVERSION
static void taps_forward(double *ar, const float *row, const float *wrow, int kw, const Cols *cr, const int *cols,
                         int Wo, int s)
{
    for (int tj = 0; tj < kw; tj++) {
        double wv = wrow[tj];
        const int *cm = cols + tj * Wo;
        int lo = cr[tj].lo, hi = cr[tj].hi;
        const float *r = row + cr[tj].off;
        for (int ow = 0; ow < lo; ow++)
            if (cm[ow] >= 0) ar[ow] += wv * row[cm[ow]];
        if (s == 1)
            for (int ow = lo; ow < hi; ow++) ar[ow] += wv * r[ow];
        else
            for (int ow = lo; ow < hi; ow++) ar[ow] += wv * r[(size_t)ow * s];
        for (int ow = hi; ow < Wo; ow++)
            if (cm[ow] >= 0) ar[ow] += wv * row[cm[ow]];
    }
}

/* ar[column of ow under the tap] += wv * dr[ow] */
CN_MULTIVERSION
static void taps_input(double *ar, const float *dr, const float *wrow, int kw, const Cols *cr, const int *cols, int Wo,
                       int s)
{
    for (int tj = 0; tj < kw; tj++) {
        double wv = wrow[tj];
        const int *cm = cols + tj * Wo;
        int lo = cr[tj].lo, hi = cr[tj].hi;
        double *a = ar + cr[tj].off;
        for (int ow = 0; ow < lo; ow++)
            if (cm[ow] >= 0) ar[cm[ow]] += wv * dr[ow];
        if (s == 1)
            for (int ow = lo; ow < hi; ow++) a[ow] += wv * dr[ow];
        else
            for (int ow = lo; ow < hi; ow++) a[(size_t)ow * s] += wv * dr[ow];
        for (int ow = hi; ow < Wo; ow++)
            if (cm[ow] >= 0) ar[cm[ow]] += wv * dr[ow];
    }
}

/* sum over ow of dr[ow] * row[column of ow under the tap] */
CN_MULTIVERSION
static double tap_weight(const float *dr, const float *row, Cols cr, const int *cm, int Wo, int s)
{
    double sum = 0;
    const float *r = row + cr.off;
    for (int ow = 0; ow < cr.lo; ow++)
        if (cm[ow] >= 0) sum += (double)dr[ow] * row[cm[ow]];
    if (s == 1)
        for (int ow = cr.lo; ow < cr.hi; ow++) sum += (double)dr[ow] * r[ow];
    else
        for (int ow = cr.lo; ow < cr.hi; ow++) sum += (double)dr[ow] * r[(size_t)ow * s];
    for (int ow = cr.hi; ow < Wo; ow++)
        if (cm[ow] >= 0) sum += (double)dr[ow] * row[cm[ow]];
    return sum;
}

typedef struct Job {
    const ConvGeneral *c;
    const int *rows, *cols;     /* tap maps: kh x Ho and kw x Wo */
    const Cols *cr;             /* the column taps' inside ranges */
    float *out, *out2;
    const float *a, *b, *w;
} Job;

static void forward_share(void *ctx, int t, int T)
{
    const Job *j = ctx;
    const ConvGeneral *c = j->c;
    int Cg = c->C / c->G, Og = c->O / c->G, kh = c->k.kh, kw = c->k.kw, Ho = c->Ho, Wo = c->Wo;
    size_t P = (size_t)Ho * Wo, planes = (size_t)c->N * c->O;
    double *acc = (double *)(void *)op_scratch(0, 2 * P);
    for (size_t plane = par_lo(planes, t, T); plane < par_lo(planes, t + 1, T); plane++) {
        int n = (int)(plane / (size_t)c->O), o = (int)(plane % (size_t)c->O), grp = o / Og;
        for (size_t q = 0; q < P; q++) acc[q] = j->b ? j->b[o] : 0.0;
        for (int ci = 0; ci < Cg; ci++) {
            const float *xp = j->a + ((size_t)n * c->C + (size_t)grp * Cg + ci) * c->H * c->W;
            const float *wp = j->w + ((size_t)o * Cg + ci) * kh * kw;
            for (int i = 0; i < kh; i++)
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = j->rows[i * Ho + oh];
                    if (ih < 0) continue;
                    taps_forward(acc + (size_t)oh * Wo, xp + (size_t)ih * c->W, wp + i * kw, kw, j->cr, j->cols, Wo,
                                 c->k.sw);
                }
        }
        float *yp = j->out + plane * P;
        for (size_t q = 0; q < P; q++) yp[q] = (float)acc[q];
    }
}

static int threads_for(const ConvGeneral *c)
{
    double work = (double)c->N * c->O * c->Ho * c->Wo * (c->C / c->G) * c->k.kh * c->k.kw;
    return work > 65536 ? par_threads() : 1;
}

/* y[N,O,Ho,Wo] = b[o] (0 when b is NULL) + sum over the group's channels and taps */
void conv2d_grouped_forward(const ConvGeneral *c, float *y, const float *x, const float *w, const float *b)
{
    int *rows = tap_map(c->Ho, c->H, c->k.kh, c->k.sh, c->k.ph, c->k.dh, c->reflect);
    int *cols = tap_map(c->Wo, c->W, c->k.kw, c->k.sw, c->k.pw, c->k.dw, c->reflect);
    Cols *cr = col_ranges(c->Wo, c->W, c->k.kw, c->k.sw, c->k.pw, c->k.dw);
    Job j = { c, rows, cols, cr, y, NULL, x, b, w };
    par_run(threads_for(c), forward_share, &j);
    free(rows);
    free(cols);
    free(cr);
}

static void input_share(void *ctx, int t, int T)
{
    const Job *j = ctx;
    const ConvGeneral *c = j->c;
    int Cg = c->C / c->G, Og = c->O / c->G, kh = c->k.kh, kw = c->k.kw, Ho = c->Ho, Wo = c->Wo;
    size_t HW = (size_t)c->H * c->W, tasks = (size_t)c->N * c->G;
    double *acc = (double *)(void *)op_scratch(0, 2 * (size_t)Cg * HW);
    for (size_t task = par_lo(tasks, t, T); task < par_lo(tasks, t + 1, T); task++) {
        int n = (int)(task / (size_t)c->G), grp = (int)(task % (size_t)c->G);
        memset(acc, 0, (size_t)Cg * HW * sizeof *acc);
        for (int oo = 0; oo < Og; oo++) {
            int o = grp * Og + oo;
            const float *dyp = j->a + ((size_t)n * c->O + o) * Ho * Wo;
            for (int ci = 0; ci < Cg; ci++) {
                const float *wp = j->w + ((size_t)o * Cg + ci) * kh * kw;
                double *ap = acc + (size_t)ci * HW;
                for (int i = 0; i < kh; i++)
                    for (int oh = 0; oh < Ho; oh++) {
                        int ih = j->rows[i * Ho + oh];
                        if (ih < 0) continue;
                        taps_input(ap + (size_t)ih * c->W, dyp + (size_t)oh * Wo, wp + i * kw, kw, j->cr, j->cols, Wo,
                                   c->k.sw);
                    }
            }
        }
        float *dxp = j->out + ((size_t)n * c->C + (size_t)grp * Cg) * HW;
        for (size_t q = 0; q < (size_t)Cg * HW; q++) dxp[q] = (float)acc[q];
    }
}

/* dx[N,C,H,W] = the transpose of the forward applied to dy[N,O,Ho,Wo] (reflected taps add
 * onto the input element they mirror) */
void conv2d_grouped_backward_input(const ConvGeneral *c, float *dx, const float *dy, const float *w)
{
    int *rows = tap_map(c->Ho, c->H, c->k.kh, c->k.sh, c->k.ph, c->k.dh, c->reflect);
    int *cols = tap_map(c->Wo, c->W, c->k.kw, c->k.sw, c->k.pw, c->k.dw, c->reflect);
    Cols *cr = col_ranges(c->Wo, c->W, c->k.kw, c->k.sw, c->k.pw, c->k.dw);
    Job j = { c, rows, cols, cr, dx, NULL, dy, NULL, w };
    par_run(threads_for(c), input_share, &j);
    free(rows);
    free(cols);
    free(cr);
}

static void weight_share(void *ctx, int t, int T)
{
    const Job *j = ctx;
    const ConvGeneral *c = j->c;
    int Cg = c->C / c->G, Og = c->O / c->G, kh = c->k.kh, kw = c->k.kw, Ho = c->Ho, Wo = c->Wo;
    size_t HW = (size_t)c->H * c->W, P = (size_t)Ho * Wo;
    for (int o = (int)par_lo((size_t)c->O, t, T); o < (int)par_lo((size_t)c->O, t + 1, T); o++) {
        int grp = o / Og;
        if (j->out2) {
            double s = 0;
            for (int n = 0; n < c->N; n++) {
                const float *dyp = j->a + ((size_t)n * c->O + o) * P;
                for (size_t q = 0; q < P; q++) s += dyp[q];
            }
            j->out2[o] = (float)s;
        }
        for (int ci = 0; ci < Cg; ci++)
            for (int i = 0; i < kh; i++)
                for (int tj = 0; tj < kw; tj++) {
                    const int *cm = j->cols + tj * Wo;
                    double s = 0;
                    for (int n = 0; n < c->N; n++) {
                        const float *xp = j->b + ((size_t)n * c->C + (size_t)grp * Cg + ci) * HW;
                        const float *dyp = j->a + ((size_t)n * c->O + o) * P;
                        for (int oh = 0; oh < Ho; oh++) {
                            int ih = j->rows[i * Ho + oh];
                            if (ih < 0) continue;
                            s += tap_weight(dyp + (size_t)oh * Wo, xp + (size_t)ih * c->W, j->cr[tj], cm, Wo, c->k.sw);
                        }
                    }
                    j->out[(((size_t)o * Cg + ci) * kh + i) * kw + tj] = (float)s;
                }
    }
}

/* dw[O,C/G,kh,kw] = sum over images and positions of dy * the input under each tap;
 * db[O] (NULL: not wanted) = sum of dy's planes, all in double */
void conv2d_grouped_backward_weight(const ConvGeneral *c, float *dw, float *db, const float *dy, const float *x)
{
    int *rows = tap_map(c->Ho, c->H, c->k.kh, c->k.sh, c->k.ph, c->k.dh, c->reflect);
    int *cols = tap_map(c->Wo, c->W, c->k.kw, c->k.sw, c->k.pw, c->k.dw, c->reflect);
    Cols *cr = col_ranges(c->Wo, c->W, c->k.kw, c->k.sw, c->k.pw, c->k.dw);
    Job j = { c, rows, cols, cr, dw, db, dy, x, NULL };
    par_run(threads_for(c), weight_share, &j);
    free(rows);
    free(cols);
    free(cr);
}

/* The op rows' entry points: depthwise shapes with 'zeros' padding to conv2d_depthwise.c,
 * the rest to the kernels above */
void conv2d_general_forward(const ConvGeneral *c, float *y, const float *x, const float *w, const float *b)
{
    if (conv2d_depthwise_applies(c))
        conv2d_depthwise_forward(c, y, x, w, b);
    else
        conv2d_grouped_forward(c, y, x, w, b);
}

void conv2d_general_backward_input(const ConvGeneral *c, float *dx, const float *dy, const float *w)
{
    if (conv2d_depthwise_applies(c))
        conv2d_depthwise_backward_input(c, dx, dy, w);
    else
        conv2d_grouped_backward_input(c, dx, dy, w);
}

void conv2d_general_backward_weight(const ConvGeneral *c, float *dw, float *db, const float *dy, const float *x)
{
    if (conv2d_depthwise_applies(c))
        conv2d_depthwise_backward_weight(c, dw, db, dy, x);
    else
        conv2d_grouped_backward_weight(c, dw, db, dy, x);
}
