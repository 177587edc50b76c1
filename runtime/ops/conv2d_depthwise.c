/* runtime/ops/conv2d_depthwise.c: depthwise convolutions (groups == in_channels, each input
 * channel c with its own m = O/C filters, outputs c*m .. c*m+m-1), 'zeros' padding, any
 * kernel, stride and dilation; conv2d_general.c hands them here. No im2col, no GEMM: each
 * input plane is copied once into a zero-padded buffer whose columns are split into s
 * phases (column j of a padded row lands in phase j % s at j / s, s the column stride), so
 * the input under tap (i, j) of outputs ow .. ow+7 of a row is 8 contiguous floats at a
 * fixed offset from the row: forward and weight gradient load them as vectors, and the
 * input gradient scatters dy into the same layout the same way, then copies the planes out.
 * Sums are float within a plane (as PyTorch's), the weight gradient's across planes double. */
#include <stdlib.h>
#include <string.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* 8 floats per vector: GCC 12 turns this file's loops on 16-float vectors into scalar code
 * in the AVX2 clone */
#define V VL8
#define LOADV(v, p) memcpy(&(v), (p), sizeof(vf8))
#define SPLATV(v, x) ((v) = (vf8){ 0 } + (x))

int conv2d_depthwise_applies(const ConvGeneral *c) { return c->G == c->C && !c->reflect; }

/* The padded, phase-split plane: Hp rows of `row` floats (s phases of Wq each); off[t] =
 * where tap t = i*kw + j reads, from the start of output row oh's first padded row
 * (oh*sh*row), for output column 0. */
typedef struct Geo {
    int s, Wq, row, T;
    size_t plane;           /* floats per buffer, with slack for the last vector's overrun */
    int *off;
} Geo;

static Geo geo_new(const ConvGeneral *c)
{
    Window2d k = c->k;
    Geo g;
    g.s = k.sw;
    g.Wq = (c->W + 2 * k.pw + g.s - 1) / g.s;
    g.row = g.s * g.Wq;
    g.T = k.kh * k.kw;
    g.plane = (size_t)(c->H + 2 * k.ph) * g.row + 2 * V;
    g.off = xmalloc((size_t)g.T * sizeof *g.off);
    for (int i = 0; i < k.kh; i++)
        for (int j = 0; j < k.kw; j++) {
            int t = j * k.dw;
            g.off[i * k.kw + j] = i * k.dh * g.row + t % g.s * g.Wq + t / g.s;
        }
    return g;
}

/* Padded row r's phases take x's row from_x (W columns, from padded column pw on), or give
 * them to to_x (the other NULL): padded column q*s + ph is phase ph's q-th float */
static void row_phases(float *buf, const Geo *g, int r, const float *from_x, float *to_x, int W, int pw)
{
    float *br = buf + (size_t)r * g->row;
    if (g->s == 1) {
        if (to_x)
            memcpy(to_x, br + pw, (size_t)W * sizeof *to_x);
        else
            memcpy(br + pw, from_x, (size_t)W * sizeof *from_x);
        return;
    }
    for (int ph = 0; ph < g->s; ph++) {
        float *bp = br + (size_t)ph * g->Wq;
        int q0 = pw - ph > 0 ? (pw - ph + g->s - 1) / g->s : 0;     /* the first q with q*s + ph >= pw */
        for (int q = q0, w = q0 * g->s + ph - pw; q < g->Wq && w < W; q++, w += g->s) {
            if (to_x)
                to_x[w] = bp[q];
            else
                bp[q] = from_x[w];
        }
    }
}

/* buf = the H x W plane x, padded by ph rows and pw columns of zeros, phase-split */
static void pad_plane(float *buf, const Geo *g, const float *x, int H, int W, int ph, int pw)
{
    memset(buf, 0, g->plane * sizeof *buf);
    for (int h = 0; h < H; h++) row_phases(buf, g, h + ph, x + (size_t)h * W, NULL, W, pw);
}

/* the first output column of a vector starting at i0 of a row Wo wide: a last vector
 * that would pass the row's end ends at it instead (overlapping the one before); a row
 * narrower than a vector is one vector from 0, its extra lanes computed and dropped */
static inline int vec_start(int i0, int Wo) { return i0 + V <= Wo ? i0 : Wo >= V ? Wo - V : 0; }

/* output vectors per register block of the forward */
#define FB 4

/* y[oh][ow] = bias + sum over taps t of w[t] * xp[oh*sh*row + off[t] + ow] */
CN_MULTIVERSION CN_CONTRACT
static void plane_forward(float *y, int Ho, int Wo, const float *xp, const Geo *g, int sh, const float *w, float bias)
{
    for (int oh = 0; oh < Ho; oh++) {
        const float *base = xp + (size_t)oh * sh * g->row;
        float *yr = y + (size_t)oh * Wo;
        for (int ow0 = 0; ow0 < Wo; ow0 += FB * V) {
            int st[FB];
            vf8 acc[FB];
#pragma GCC unroll 4
            for (int b = 0; b < FB; b++) {
                st[b] = vec_start(ow0 + b * V, Wo);
                SPLATV(acc[b], bias);
            }
            for (int t = 0; t < g->T; t++) {
                vf8 wv;
                SPLATV(wv, w[t]);
                const float *p = base + g->off[t];
#pragma GCC unroll 4
                for (int b = 0; b < FB; b++) {
                    vf8 v;
                    LOADV(v, p + st[b]);
                    acc[b] += wv * v;
                }
            }
#pragma GCC unroll 4
            for (int b = 0; b < FB; b++)
                if (Wo - st[b] >= V)
                    memcpy(yr + st[b], &acc[b], sizeof(vf8));
                else
                    memcpy(yr + st[b], &acc[b], (size_t)(Wo - st[b]) * sizeof(float));
        }
    }
}

/* dy's row oh from column ow0: a whole vector, or the row's last columns and zeros */
#define LOAD_ROW(d, dr, ow0, Wo)                                                          \
    do {                                                                                  \
        if ((ow0) + V <= (Wo))                                                           \
            LOADV(d, (dr) + (ow0));                                                        \
        else {                                                                            \
            (d) = (vf8){ 0 };                                                              \
            memcpy(&(d), (dr) + (ow0), (size_t)((Wo) - (ow0)) * sizeof(float));           \
        }                                                                                 \
    } while (0)

/* xp[oh*sh*row + off[t] + ow] += w[t] * dy[oh][ow]: the forward's transpose, into the padded
 * buffer (lanes past the row add w[t] * 0) */
CN_MULTIVERSION CN_CONTRACT
static void plane_input(float *xp, const float *dy, int Ho, int Wo, const Geo *g, int sh, const float *w)
{
    for (int oh = 0; oh < Ho; oh++) {
        float *base = xp + (size_t)oh * sh * g->row;
        const float *dr = dy + (size_t)oh * Wo;
        for (int t = 0; t < g->T; t++)      /* tap by tap: the next store never overlaps the last */
            for (int ow0 = 0; ow0 < Wo; ow0 += V) {
                vf8 a, d;
                LOAD_ROW(d, dr, ow0, Wo);
                float *p = base + g->off[t] + ow0;
                LOADV(a, p);
                a += w[t] * d;
                memcpy(p, &a, sizeof a);
            }
    }
}

/* taps per pass of the weight gradient (a 3x3 kernel in one) */
#define TB 9

/* dw[t] += sum over oh, ow of dy[oh][ow] * xp[oh*sh*row + off[t] + ow], *db += sum of dy
 * (db NULL: not wanted); float sums over the plane, added into double */
CN_MULTIVERSION CN_CONTRACT
static void plane_weight(double *dw, double *db, const float *dy, int Ho, int Wo, const float *xp, const Geo *g,
                         int sh)
{
    for (int t0 = 0; t0 < g->T; t0 += TB) {
        int nt = g->T - t0 < TB ? g->T - t0 : TB;
        vf8 acc[TB], bs = { 0 };
#pragma GCC unroll 9
        for (int tt = 0; tt < TB; tt++) acc[tt] = (vf8){ 0 };
        for (int oh = 0; oh < Ho; oh++) {
            const float *base = xp + (size_t)oh * sh * g->row;
            const float *dr = dy + (size_t)oh * Wo;
            for (int ow0 = 0; ow0 < Wo; ow0 += V) {
                vf8 d;
                LOAD_ROW(d, dr, ow0, Wo);
                bs += d;
#pragma GCC unroll 9
                for (int tt = 0; tt < TB; tt++)
                    if (tt < nt) {
                        vf8 v;
                        LOADV(v, base + g->off[t0 + tt] + ow0);
                        acc[tt] += d * v;
                    }
            }
        }
#pragma GCC unroll 9
        for (int tt = 0; tt < TB; tt++)     /* constant indices keep acc in registers */
            if (tt < nt)
                for (int l = 0; l < V; l++) dw[t0 + tt] += acc[tt][l];
        if (db && t0 == 0)
            for (int l = 0; l < V; l++) *db += bs[l];
    }
}

typedef struct Job {
    const ConvGeneral *c;
    const Geo *g;
    float *out, *out2;
    const float *a, *w, *b;
} Job;

static int threads_for(const ConvGeneral *c)
{
    double work = (double)c->N * c->O * c->Ho * c->Wo * c->k.kh * c->k.kw;
    return work > 65536 ? par_threads() : 1;
}

/* shares of (image, input channel) planes */
static void forward_share(void *ctx, int t, int T)
{
    const Job *j = ctx;
    const ConvGeneral *c = j->c;
    int m = c->O / c->C;
    size_t tasks = (size_t)c->N * c->C, HW = (size_t)c->H * c->W, P = (size_t)c->Ho * c->Wo;
    float *buf = op_scratch(0, j->g->plane);
    for (size_t task = par_lo(tasks, t, T); task < par_lo(tasks, t + 1, T); task++) {
        int n = (int)(task / (size_t)c->C), ch = (int)(task % (size_t)c->C);
        pad_plane(buf, j->g, j->a + task * HW, c->H, c->W, c->k.ph, c->k.pw);
        for (int q = 0; q < m; q++) {
            int o = ch * m + q;
            plane_forward(j->out + ((size_t)n * c->O + o) * P, c->Ho, c->Wo, buf, j->g, c->k.sh,
                          j->w + (size_t)o * j->g->T, j->b ? j->b[o] : 0.0f);
        }
    }
}

static void input_share(void *ctx, int t, int T)
{
    const Job *j = ctx;
    const ConvGeneral *c = j->c;
    const Geo *g = j->g;
    int m = c->O / c->C;
    size_t tasks = (size_t)c->N * c->C, HW = (size_t)c->H * c->W, P = (size_t)c->Ho * c->Wo;
    float *buf = op_scratch(0, g->plane);
    for (size_t task = par_lo(tasks, t, T); task < par_lo(tasks, t + 1, T); task++) {
        int n = (int)(task / (size_t)c->C), ch = (int)(task % (size_t)c->C);
        memset(buf, 0, g->plane * sizeof *buf);
        for (int q = 0; q < m; q++) {
            int o = ch * m + q;
            plane_input(buf, j->a + ((size_t)n * c->O + o) * P, c->Ho, c->Wo, g, c->k.sh, j->w + (size_t)o * g->T);
        }
        float *dx = j->out + task * HW;
        for (int h = 0; h < c->H; h++) row_phases(buf, g, h + c->k.ph, NULL, dx + (size_t)h * c->W, c->W, c->k.pw);
    }
}

/* shares of input channels, each over every image */
static void weight_share(void *ctx, int t, int T)
{
    const Job *j = ctx;
    const ConvGeneral *c = j->c;
    const Geo *g = j->g;
    int m = c->O / c->C;
    size_t HW = (size_t)c->H * c->W, P = (size_t)c->Ho * c->Wo;
    float *buf = op_scratch(0, g->plane);
    double *acc = (double *)(void *)op_scratch(1, 2 * (size_t)m * (g->T + 1));
    for (int ch = (int)par_lo((size_t)c->C, t, T); ch < (int)par_lo((size_t)c->C, t + 1, T); ch++) {
        memset(acc, 0, (size_t)m * (g->T + 1) * sizeof *acc);
        for (int n = 0; n < c->N; n++) {
            pad_plane(buf, g, j->a + ((size_t)n * c->C + ch) * HW, c->H, c->W, c->k.ph, c->k.pw);
            for (int q = 0; q < m; q++) {
                double *aq = acc + (size_t)q * (g->T + 1);
                plane_weight(aq, j->out2 ? aq + g->T : NULL, j->b + ((size_t)n * c->O + ch * m + q) * P, c->Ho,
                             c->Wo, buf, g, c->k.sh);
            }
        }
        for (int q = 0; q < m; q++) {
            int o = ch * m + q;
            const double *aq = acc + (size_t)q * (g->T + 1);
            for (int tt = 0; tt < g->T; tt++) j->out[(size_t)o * g->T + tt] = (float)aq[tt];
            if (j->out2) j->out2[o] = (float)aq[g->T];
        }
    }
}

/* y[N,O,Ho,Wo] = b[o] (0 when b is NULL) + x's channel o/m under o's filter */
void conv2d_depthwise_forward(const ConvGeneral *c, float *y, const float *x, const float *w, const float *b)
{
    Geo g = geo_new(c);
    Job j = { c, &g, y, NULL, x, w, b };
    par_run(threads_for(c), forward_share, &j);
    free(g.off);
}

/* dx[N,C,H,W] = sum over channel c's m filters of the forward's transpose applied to dy */
void conv2d_depthwise_backward_input(const ConvGeneral *c, float *dx, const float *dy, const float *w)
{
    Geo g = geo_new(c);
    Job j = { c, &g, dx, NULL, dy, w, NULL };
    par_run(threads_for(c), input_share, &j);
    free(g.off);
}

/* dw[O,1,kh,kw] = sum over images and positions of dy * the input under each tap; db[O]
 * (NULL: not wanted) = the sum of dy's planes */
void conv2d_depthwise_backward_weight(const ConvGeneral *c, float *dw, float *db, const float *dy, const float *x)
{
    Geo g = geo_new(c);
    Job j = { c, &g, dw, db, x, NULL, dy };
    par_run(threads_for(c), weight_share, &j);
    free(g.off);
}
