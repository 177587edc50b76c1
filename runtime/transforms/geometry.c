/* runtime/transforms/geometry.c: PIL's geometric operations (flips, crop, pad, bilinear
 * resampling, nearest-neighbour rotation, perspective transform) with Pillow's arithmetic:
 * the same fixed-point precision and rounding, so results match PIL pixel for pixel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pil.h"

#define PX(im, x, y) ((im)->px + ((size_t)(y) * (size_t)(im)->w + (size_t)(x)) * (size_t)(im)->c)

/* one pixel of c (1 or 3) channels */
static inline void copy_px(uint8_t *d, const uint8_t *s, int c)
{
    d[0] = s[0];
    if (c == 3) {
        d[1] = s[1];
        d[2] = s[2];
    }
}

void pil_hflip(Image *dst, const Image *src)
{
    int c = src->c;
    for (int y = 0; y < src->h; y++)
        for (int x = 0; x < src->w; x++) copy_px(PX(dst, src->w - 1 - x, y), PX(src, x, y), c);
}

void pil_vflip(Image *dst, const Image *src)
{
    size_t row = (size_t)src->w * (size_t)src->c;
    for (int y = 0; y < src->h; y++) memcpy(PX(dst, 0, src->h - 1 - y), PX(src, 0, y), row);
}

void pil_crop(Image *dst, const Image *src, int top, int left)
{
    int c = src->c;
    for (int y = 0; y < dst->h; y++) {
        int sy = top + y;
        for (int x = 0; x < dst->w; x++) {
            int sx = left + x;
            if (sy >= 0 && sy < src->h && sx >= 0 && sx < src->w) memcpy(PX(dst, x, y), PX(src, sx, sy), (size_t)c);
            else memset(PX(dst, x, y), 0, (size_t)c);
        }
    }
}

/* numpy.pad's index maps: where padded position i (relative to the image) reads from */
static int pad_index(int i, int n, PadMode mode)
{
    if (i >= 0 && i < n) return i;
    if (mode == PAD_EDGE || n == 1) return i < 0 ? 0 : n - 1;
    if (mode == PAD_REFLECT) {          /* d c b | a b c d | c b a */
        int period = 2 * (n - 1), k = ((i % period) + period) % period;
        return k < n ? k : period - k;
    }
    int period = 2 * n, k = ((i % period) + period) % period;     /* symmetric: b a | a b */
    return k < n ? k : period - 1 - k;
}

void pil_pad(Image *dst, const Image *src, int left, int top, PadMode mode, const uint8_t *fill)
{
    int c = src->c;
    for (int y = 0; y < dst->h; y++) {
        int sy = y - top;
        for (int x = 0; x < dst->w; x++) {
            int sx = x - left;
            uint8_t *o = PX(dst, x, y);
            if (sy >= 0 && sy < src->h && sx >= 0 && sx < src->w) memcpy(o, PX(src, sx, sy), (size_t)c);
            else if (mode == PAD_CONSTANT) memcpy(o, fill, (size_t)c);
            else memcpy(o, PX(src, pad_index(sx, src->w, mode), pad_index(sy, src->h, mode)), (size_t)c);
        }
    }
}

/* ---- bilinear resampling (Pillow's Resample.c): per axis, a triangle filter widened by the
 * scale when shrinking, coefficients normalised to 22-bit fixed point ---- */

#define PRECISION_BITS (32 - 8 - 2)

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Coefficients for one axis: bounds[2 * i] = first input, bounds[2 * i + 1] = count, k[i *
 * ksize ...] in fixed point. Returns ksize. */
static int axis_coeffs(int in_size, int out_size, int *bounds, int32_t *k, int ksize_max)
{
    double scale = (double)in_size / out_size, fscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fscale;
    int ksize = (int)ceil(support) * 2 + 1;
    if (ksize > ksize_max) ksize = ksize_max;
    double w[ksize];
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            k[xx * ksize + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    return ksize;
}

static uint8_t clip8(int32_t v)
{
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

static int ksize_for(int in_size, int out_size)
{
    double scale = (double)in_size / out_size;
    return (int)ceil(scale < 1.0 ? 1.0 : scale) * 2 + 1;
}

static void *coef_space(TfScratch *s, size_t n)
{
    if (n > s->coef_cap) {
        free(s->coef);
        s->coef = xmalloc(n);
        s->coef_cap = n;
    }
    return s->coef;
}

static uint8_t *buffer(TfScratch *s, int i, size_t n)
{
    if (n > s->cap[i]) {
        free(s->buf[i]);
        s->buf[i] = xmalloc(n);
        s->cap[i] = n;
    }
    return s->buf[i];
}

/* Horizontal pass, then vertical, each only when that size changes (Pillow's order: the
 * intermediate is rounded to 8 bits). Uses s->buf[2] for the intermediate. */
void pil_resize_bilinear(Image *dst, const Image *src, TfScratch *s)
{
    int c = src->c, need_h = dst->w != src->w, need_v = dst->h != src->h;
    if (!need_h && !need_v) {
        memcpy(dst->px, src->px, (size_t)src->w * (size_t)src->h * (size_t)c);
        return;
    }
    int kh = ksize_for(src->w, dst->w), kv = ksize_for(src->h, dst->h);
    size_t nh = (size_t)dst->w * (size_t)kh, nv = (size_t)dst->h * (size_t)kv;
    size_t bytes = (nh + nv) * sizeof(int32_t) + (size_t)(2 * dst->w + 2 * dst->h) * sizeof(int);
    int32_t *khc = coef_space(s, bytes), *kvc = khc + nh;
    int *bh = (int *)(kvc + nv), *bv = bh + 2 * dst->w;
    kh = axis_coeffs(src->w, dst->w, bh, khc, kh);
    kv = axis_coeffs(src->h, dst->h, bv, kvc, kv);
    Image mid = *src;
    if (need_h) {
        mid = (Image){ dst->w, src->h, c, need_v ? buffer(s, 2, (size_t)dst->w * src->h * c) : dst->px };
        for (int y = 0; y < src->h; y++)
            for (int xx = 0; xx < dst->w; xx++) {
                const int32_t *k = khc + xx * kh;
                int xmin = bh[2 * xx], n = bh[2 * xx + 1];
                for (int ch = 0; ch < c; ch++) {
                    int32_t ss = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < n; x++) ss += PX(src, xmin + x, y)[ch] * k[x];
                    PX(&mid, xx, y)[ch] = clip8(ss);
                }
            }
    }
    if (need_v) {
        for (int yy = 0; yy < dst->h; yy++) {
            const int32_t *k = kvc + yy * kv;
            int ymin = bv[2 * yy], n = bv[2 * yy + 1];
            for (int x = 0; x < dst->w; x++)
                for (int ch = 0; ch < c; ch++) {
                    int32_t ss = 1 << (PRECISION_BITS - 1);
                    for (int y = 0; y < n; y++) ss += PX(&mid, x, ymin + y)[ch] * k[y];
                    PX(dst, x, yy)[ch] = clip8(ss);
                }
        }
    }
}

/* ---- rotation: Image.rotate builds an affine matrix and resamples it with nearest
 * neighbour in 16.16 fixed point (Geometry.c's affine_fixed) ---- */

static int fix16(double v)
{
    v = v * 65536.0 + 0.5;
    return v < 0.0 ? (int)floor(v) : (int)v;
}

/* Python's round(x, 15) for |x| <= 1, as Image.rotate rounds its cosines and sines */
static double round15(double x) { return nearbyint(x * 1e15) / 1e15; }

static void fill_image(Image *dst, const uint8_t *fill)
{
    size_t n = (size_t)dst->w * (size_t)dst->h;
    for (size_t i = 0; i < n; i++) copy_px(dst->px + i * (size_t)dst->c, fill, dst->c);
}

static void transpose(Image *dst, const Image *src, int quarter_turns)
{
    for (int y = 0; y < dst->h; y++)
        for (int x = 0; x < dst->w; x++) {
            int sx, sy;
            if (quarter_turns == 1) sx = src->w - 1 - y, sy = x;          /* ROTATE_90 (counter-clockwise) */
            else if (quarter_turns == 2) sx = src->w - 1 - x, sy = src->h - 1 - y;
            else sx = y, sy = src->h - 1 - x;                             /* ROTATE_270 */
            memcpy(PX(dst, x, y), PX(src, sx, sy), (size_t)src->c);
        }
}

void pil_rotate(Image *dst, const Image *src, double angle, const double *center, const uint8_t *fill)
{
    angle = fmod(angle, 360.0);
    if (angle < 0) angle += 360.0;
    if (!center) {                      /* PIL's fast paths */
        if (angle == 0) {
            memcpy(dst->px, src->px, (size_t)src->w * (size_t)src->h * (size_t)src->c);
            return;
        }
        if (angle == 180 || ((angle == 90 || angle == 270) && src->w == src->h)) {
            transpose(dst, src, angle == 90 ? 1 : angle == 180 ? 2 : 3);
            return;
        }
    }
    double cx = center ? center[0] : src->w / 2.0, cy = center ? center[1] : src->h / 2.0;
    double r = -angle * M_PI / 180.0;
    double a = round15(cos(r)), b = round15(sin(r)), d = round15(-sin(r)), e = round15(cos(r));
    double c0 = a * -cx + b * -cy + cx, f0 = d * -cx + e * -cy + cy;
    fill_image(dst, fill);
    int a0 = fix16(a), a1 = fix16(b), a3 = fix16(d), a4 = fix16(e);
    int a2 = fix16(c0 + b * 0.5 + a * 0.5), a5 = fix16(f0 + e * 0.5 + d * 0.5);
    for (int y = 0; y < dst->h; y++) {
        int xx = a2, yy = a5;
        for (int x = 0; x < dst->w; x++) {
            int xin = xx >> 16, yin = yy >> 16;
            if (xin >= 0 && xin < src->w && yin >= 0 && yin < src->h) copy_px(PX(dst, x, y), PX(src, xin, yin), src->c);
            xx += a0;
            yy += a3;
        }
        a2 += a1;
        a5 += a4;
    }
}

/* ---- perspective: Geometry.c's generic transform, sampling each output pixel centre ---- */

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static int bilinear_sample(uint8_t *out, const Image *im, double xin, double yin)
{
    if (xin < 0.0 || xin >= im->w || yin < 0.0 || yin >= im->h) return 0;
    xin -= 0.5;
    yin -= 0.5;
    int x = (int)floor(xin), y = (int)floor(yin);
    double dx = xin - x, dy = yin - y;
    int x0 = clampi(x, 0, im->w - 1), x1 = clampi(x + 1, 0, im->w - 1), y0 = clampi(y, 0, im->h - 1);
    int has_y1 = y + 1 >= 0 && y + 1 < im->h;
    for (int ch = 0; ch < im->c; ch++) {
        double p0 = PX(im, x0, y0)[ch], p1 = PX(im, x1, y0)[ch];
        double v1 = p0 + (p1 - p0) * dx, v2 = v1;
        if (has_y1) {
            double q0 = PX(im, x0, y + 1)[ch], q1 = PX(im, x1, y + 1)[ch];
            v2 = q0 + (q1 - q0) * dx;
        }
        out[ch] = (uint8_t)(v1 + (v2 - v1) * dy);
    }
    return 1;
}

static int nearest_sample(uint8_t *out, const Image *im, double xin, double yin)
{
    int x = xin < 0.0 ? -1 : (int)xin, y = yin < 0.0 ? -1 : (int)yin;
    if (x < 0 || x >= im->w || y < 0 || y >= im->h) return 0;
    memcpy(out, PX(im, x, y), (size_t)im->c);
    return 1;
}

void pil_perspective(Image *dst, const Image *src, const double a[8], int bilinear, const uint8_t *fill)
{
    for (int y = 0; y < dst->h; y++)
        for (int x = 0; x < dst->w; x++) {
            double xi = x + 0.5, yi = y + 0.5, den = a[6] * xi + a[7] * yi + 1;
            double xo = (a[0] * xi + a[1] * yi + a[2]) / den, yo = (a[3] * xi + a[4] * yi + a[5]) / den;
            uint8_t *o = PX(dst, x, y);
            int ok = bilinear ? bilinear_sample(o, src, xo, yo) : nearest_sample(o, src, xo, yo);
            if (!ok) copy_px(o, fill, dst->c);
        }
}

/* Solves the 8 x 8 system torchvision hands to lstsq (it is square: an exact solve), by
 * Gaussian elimination with partial pivoting in double. */
int perspective_coeffs(const int start[4][2], const int end[4][2], double out[8])
{
    double m[8][9];
    for (int i = 0; i < 4; i++) {
        double x = end[i][0], y = end[i][1], u = start[i][0], v = start[i][1];
        double r0[9] = { x, y, 1, 0, 0, 0, -u * x, -u * y, u };
        double r1[9] = { 0, 0, 0, x, y, 1, -v * x, -v * y, v };
        memcpy(m[2 * i], r0, sizeof r0);
        memcpy(m[2 * i + 1], r1, sizeof r1);
    }
    for (int col = 0; col < 8; col++) {
        int piv = col;
        for (int r = col + 1; r < 8; r++)
            if (fabs(m[r][col]) > fabs(m[piv][col])) piv = r;
        if (fabs(m[piv][col]) < 1e-12) return -1;
        if (piv != col)
            for (int k = 0; k < 9; k++) {
                double t = m[col][k];
                m[col][k] = m[piv][k];
                m[piv][k] = t;
            }
        for (int r = 0; r < 8; r++) {
            if (r == col) continue;
            double f = m[r][col] / m[col][col];
            for (int k = col; k < 9; k++) m[r][k] -= f * m[col][k];
        }
    }
    for (int i = 0; i < 8; i++) out[i] = (double)(float)(m[i][8] / m[i][i]);     /* torch solves in float32 */
    return 0;
}
