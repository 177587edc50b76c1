/* runtime/transforms/pil.h: the PIL image operations torchvision's transforms are built from,
 * with PIL's arithmetic (Pillow's Resample.c, Geometry.c, Blend, ImageEnhance, HSV), on
 * 8-bit images of 1 or 3 channels. Each writes dst, whose pixels the caller sized (dst->px
 * holds dst->w * dst->h * dst->c bytes); dst never aliases src unless stated. */
#ifndef CN_TRANSFORMS_PIL_H
#define CN_TRANSFORMS_PIL_H

#include "../transforms.h"

/* geometry.c */
void pil_hflip(Image *dst, const Image *src);
void pil_vflip(Image *dst, const Image *src);
/* img.crop((left, top, left + dst->w, top + dst->h)): outside src reads 0 */
void pil_crop(Image *dst, const Image *src, int top, int left);
/* ImageOps.expand / numpy.pad by (left, top) etc. to dst's size, with the padding mode */
void pil_pad(Image *dst, const Image *src, int left, int top, PadMode mode, const uint8_t *fill);
/* img.resize((dst->w, dst->h), BILINEAR): separable resampling with antialiasing support */
void pil_resize_bilinear(Image *dst, const Image *src, TfScratch *s);
/* img.rotate(angle, NEAREST, expand=False, center, fillcolor=fill) */
void pil_rotate(Image *dst, const Image *src, double angle, const double *center, const uint8_t *fill);
/* img.transform(size, PERSPECTIVE, coeffs, BILINEAR or NEAREST, fillcolor=fill) */
void pil_perspective(Image *dst, const Image *src, const double coeffs[8], int bilinear, const uint8_t *fill);
/* torchvision's _get_perspective_coeffs(startpoints, endpoints): the 8 coefficients mapping
 * output pixels to input pixels. Returns -1 when the points are degenerate. */
int  perspective_coeffs(const int start[4][2], const int end[4][2], double out[8]);

/* color.c: in place (dst == src allowed) */
void pil_adjust_brightness(Image *img, double factor);
void pil_adjust_contrast(Image *img, double factor);
void pil_adjust_saturation(Image *img, double factor);
void pil_adjust_hue(Image *img, double hue_factor);
/* img.convert('L') (then replicated to 3 channels when dst->c == 3) */
void pil_grayscale(Image *dst, const Image *src);
uint8_t pil_luma(const uint8_t *rgb);

/* The parameters the random transforms draw (torchvision's get_params), so that tests can
 * check their distributions; transforms.c applies them. */
double rotation_angle(const Transform *t, Rng *r);
void   perspective_points(const Transform *t, int w, int h, Rng *r, int start[4][2], int end[4][2]);
void   jitter_params(const Transform *t, Rng *r, int order[4], double factor[4]);
void   random_crop_offset(int h, int w, int th, int tw, Rng *r, int *top, int *left);
void   resized_crop_box(const Transform *t, int h, int w, Rng *r, int *top, int *left, int *ch, int *cw);

#endif
