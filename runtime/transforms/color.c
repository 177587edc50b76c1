/* runtime/transforms/color.c: PIL's colour operations as torchvision's PIL functional ops use
 * them: ImageEnhance's Brightness, Contrast and Color (Image.blend in float), the hue shift
 * through PIL's HSV mode, and convert('L'). */
#include <math.h>
#include <string.h>

#include "pil.h"

/* PIL's convert('L'): ITU-R 601-2 luma in 16-bit fixed point, rounded */
uint8_t pil_luma(const uint8_t *rgb)
{
    return (uint8_t)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

/* Image.blend(degenerate, img, alpha) for one value, as ImagingBlend computes it (float alpha;
 * truncated; clipped only when extrapolating) */
static uint8_t blend(uint8_t deg, uint8_t v, float alpha)
{
    float t = (float)deg + alpha * (float)((int)v - (int)deg);
    if (alpha >= 0.0f && alpha <= 1.0f) return (uint8_t)t;
    if (t <= 0.0f) return 0;
    if (t >= 255.0f) return 255;
    return (uint8_t)t;
}

static size_t nvalues(const Image *img) { return (size_t)img->w * (size_t)img->h * (size_t)img->c; }

/* ImageEnhance.Brightness: blend with black */
void pil_adjust_brightness(Image *img, double factor)
{
    float a = (float)factor;
    size_t n = nvalues(img);
    for (size_t i = 0; i < n; i++) img->px[i] = blend(0, img->px[i], a);
}

/* ImageEnhance.Contrast: blend with the mean grey level, int(mean of convert('L') + 0.5) */
void pil_adjust_contrast(Image *img, double factor)
{
    size_t npx = (size_t)img->w * (size_t)img->h;
    double sum = 0;
    for (size_t i = 0; i < npx; i++) sum += img->c == 3 ? pil_luma(img->px + 3 * i) : img->px[i];
    uint8_t mean = (uint8_t)(int)(sum / (double)npx + 0.5);
    float a = (float)factor;
    size_t n = nvalues(img);
    for (size_t i = 0; i < n; i++) img->px[i] = blend(mean, img->px[i], a);
}

/* ImageEnhance.Color: blend with the image's greyscale (identity on 'L' images) */
void pil_adjust_saturation(Image *img, double factor)
{
    if (img->c != 3) return;
    float a = (float)factor;
    size_t npx = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < npx; i++) {
        uint8_t *p = img->px + 3 * i, g = pil_luma(p);
        for (int k = 0; k < 3; k++) p[k] = blend(g, p[k], a);
    }
}

static int clip8(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

/* PIL's RGB -> HSV (Convert.c, after colorsys), in its float/double mix */
static void rgb_to_hsv(const uint8_t *rgb, uint8_t *hsv)
{
    uint8_t r = rgb[0], g = rgb[1], b = rgb[2];
    uint8_t maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
    uint8_t minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
    hsv[2] = maxc;
    if (minc == maxc) {
        hsv[0] = hsv[1] = 0;
        return;
    }
    float cr = (float)(maxc - minc), s = cr / (float)maxc;
    float rc = (float)(maxc - r) / cr, gc = (float)(maxc - g) / cr, bc = (float)(maxc - b) / cr, h;
    if (r == maxc) h = bc - gc;
    else if (g == maxc) h = (float)(2.0 + rc - bc);
    else h = (float)(4.0 + gc - rc);
    double t = h / 6.0 + 1.0;          /* fmod(t, 1.0), exactly, for t in (0, 2) */
    h = (float)(t >= 1.0 ? t - 1.0 : t);
    hsv[0] = (uint8_t)clip8((int)(h * 255.0));
    hsv[1] = (uint8_t)clip8((int)(s * 255.0));
}

/* round(x) for x >= 0, exactly (x - (int)x is exact), without a libm call */
static int round_pos(double x)
{
    int t = (int)x;
    return t + (x - t >= 0.5);
}

/* The per-value parts of PIL's HSV -> RGB: sector i and remainder f of each hue, s / 255 of
 * each saturation, computed as hsv2rgb computes them. */
typedef struct HsvTables {
    int   i[256];
    float f[256], fs[256];
} HsvTables;

static void hsv_tables(HsvTables *t)
{
    for (int h = 0; h < 256; h++) {
        t->i[h] = (int)floor((float)h * 6.0 / 255.0);
        t->f[h] = (float)((float)h * 6.0 / 255.0 - (float)t->i[h]);
        t->fs[h] = (float)((float)h / 255.0);
    }
}

/* PIL's HSV -> RGB */
static void hsv_to_rgb(const uint8_t *hsv, uint8_t *rgb, const HsvTables *tb)
{
    uint8_t h = hsv[0], s = hsv[1], v = hsv[2];
    if (s == 0) {
        rgb[0] = rgb[1] = rgb[2] = v;
        return;
    }
    int i = tb->i[h];
    float f = tb->f[h], fs = tb->fs[s];
    uint8_t p = (uint8_t)clip8(round_pos((float)v * (1.0 - fs)));
    uint8_t q = (uint8_t)clip8(round_pos((float)v * (1.0 - fs * f)));
    uint8_t t = (uint8_t)clip8(round_pos((float)v * (1.0 - fs * (1.0 - f))));
    const uint8_t table[6][3] = { { v, t, p }, { q, v, p }, { p, v, t }, { p, q, v }, { t, p, v }, { v, p, q } };
    memcpy(rgb, table[i % 6], 3);
}

/* torchvision's F_pil.adjust_hue: h += uint8(hue_factor * 255) modulo 256 in PIL's HSV;
 * 'L' images are returned unchanged */
void pil_adjust_hue(Image *img, double hue_factor)
{
    if (img->c != 3) return;
    uint8_t shift = (uint8_t)(int)(hue_factor * 255);
    size_t npx = (size_t)img->w * (size_t)img->h;
    HsvTables tb;
    hsv_tables(&tb);
    for (size_t i = 0; i < npx; i++) {
        uint8_t hsv[3], *p = img->px + 3 * i;
        rgb_to_hsv(p, hsv);
        hsv[0] = (uint8_t)(hsv[0] + shift);
        hsv_to_rgb(hsv, p, &tb);
    }
}

void pil_grayscale(Image *dst, const Image *src)
{
    size_t npx = (size_t)src->w * (size_t)src->h;
    for (size_t i = 0; i < npx; i++) {
        uint8_t g = src->c == 3 ? pil_luma(src->px + 3 * i) : src->px[i];
        if (dst->c == 3) dst->px[3 * i] = dst->px[3 * i + 1] = dst->px[3 * i + 2] = g;
        else dst->px[i] = g;
    }
}
