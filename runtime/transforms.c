/* runtime/transforms.c: torchvision's transforms, one small function per transform, run in
 * order by pipeline_run (torchvision's Compose). Each random transform draws its parameters
 * as torchvision's get_params does, then applies a PIL operation (transforms/pil.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "transforms.h"
#include "multiversion.h"
#include "transforms/pil.h"

/* The value flowing through the pipeline: an 8-bit image until ToTensor (the caller's
 * source, or one of the scratch buffers 0 and 1), the caller's float tensor after it. */
typedef struct TfValue {
    Image  img;
    int    buf;                 /* scratch buffer holding img; -1: the caller's source */
    int    is_tensor;
    float *out;                 /* the caller's C x H x W tensor */
    int    C, H, W;
} TfValue;

typedef int (*TfApplyFn)(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e);

static uint8_t *scratch_buffer(TfScratch *s, int i, size_t n)
{
    if (n > s->cap[i]) {
        free(s->buf[i]);
        s->buf[i] = xmalloc(n);
        s->cap[i] = n;
    }
    return s->buf[i];
}

void tf_scratch_free(TfScratch *s)
{
    for (int i = 0; i < 3; i++) free(s->buf[i]);
    free(s->coef);
    memset(s, 0, sizeof *s);
}

/* The image the next step writes: a scratch buffer not holding the current image. */
static Image next_image(TfValue *v, TfScratch *s, int w, int h, int c)
{
    int k = v->buf == 0 ? 1 : 0;
    return (Image){ w, h, c, scratch_buffer(s, k, (size_t)w * (size_t)h * (size_t)c) };
}

static void set_image(TfValue *v, Image im, TfScratch *s)
{
    v->img = im;
    v->buf = im.px == s->buf[0] ? 0 : 1;
}

/* The current image, made writable (copied out of the caller's source) for in-place steps. */
static Image *writable(TfValue *v, TfScratch *s)
{
    if (v->buf < 0) {
        Image im = next_image(v, s, v->img.w, v->img.h, v->img.c);
        memcpy(im.px, v->img.px, (size_t)im.w * (size_t)im.h * (size_t)im.c);
        set_image(v, im, s);
    }
    return &v->img;
}

static int need_image(const Transform *t, const TfValue *v, Error *e)
{
    if (v->is_tensor)
        return err_set(e, "%s() works on PIL images in cnnc: put it before ToTensor()", transform_name(t->kind));
    return 0;
}

/* a fill of one value or one per channel, as torchvision's _parse_fill expands it */
static void fill_for(const Transform *t, int c, uint8_t out[4])
{
    for (int k = 0; k < 4; k++) out[k] = t->nfill == 0 ? 0 : t->fill[t->nfill == 1 ? 0 : k];
    (void)c;
}

static int check_fill(const Transform *t, int c, Error *e)
{
    if (t->nfill > 1 && t->nfill != c)
        return err_set(e, "%s()'s fill has %d values but the image has %d channel%s", transform_name(t->kind),
                       t->nfill, c, c == 1 ? "" : "s");
    return 0;
}

/* ---- ToTensor and Normalize ---- */

/* channel ch of an HWC image of c channels -> one float plane, each value / 255 */
CN_MULTIVERSION
static void to_tensor_plane(float *restrict dst, const uint8_t *restrict px, size_t plane, int c, int ch)
{
#pragma omp simd
    for (size_t i = 0; i < plane; i++) dst[i] = (float)px[i * (size_t)c + (size_t)ch] / 255.0f;
}

/* x = (x - m) / sd over n floats */
CN_MULTIVERSION
static void normalize_plane(float *x, size_t n, float m, float sd)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - m) / sd;
}

/* ToTensor: HWC uint8 -> CHW float, img.float().div(255), into the caller's tensor */
static int tf_to_tensor(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    (void)t, (void)rng, (void)s;
    if (v->is_tensor) return err_set(e, "ToTensor() applied twice: the image is already a tensor");
    int c = v->img.c, h = v->img.h, w = v->img.w;
    if (c != v->C)
        return err_set(e, "image has %d channel%s but the model expects %d", c, c == 1 ? "" : "s", v->C);
    if (h != v->H || w != v->W)
        return err_set(e, "image is %dx%d but the model expects %dx%d (add Resize(...) to the transform or resize "
                       "the images)", w, h, v->W, v->H);
    size_t plane = (size_t)h * (size_t)w;
    const uint8_t *px = v->img.px;
    for (int ch = 0; ch < c; ch++) to_tensor_plane(v->out + (size_t)ch * plane, px, plane, c, ch);
    v->is_tensor = 1;
    return 0;
}

/* Normalize: tensor.sub_(mean).div_(std) per channel, in float as torch computes it */
static int tf_normalize(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    (void)rng, (void)s;
    if (!v->is_tensor) return err_set(e, "Normalize() needs a tensor: put ToTensor() before it");
    if (t->nch != v->C && t->nch != 1)
        return err_set(e, "Normalize() has %d mean/std values but the image has %d channel%s", t->nch, v->C,
                       v->C == 1 ? "" : "s");
    size_t plane = (size_t)v->H * (size_t)v->W;
    for (int ch = 0; ch < v->C; ch++) {
        float m = t->mean[t->nch == 1 ? 0 : ch], sd = t->std[t->nch == 1 ? 0 : ch];
        if (sd == 0.0f) return err_set(e, "Normalize() has std 0 for channel %d: division by zero", ch);
        normalize_plane(v->out + (size_t)ch * plane, plane, m, sd);
    }
    return 0;
}

/* ---- flips ---- */

/* RandomHorizontalFlip / RandomVerticalFlip: flip when torch.rand(1) < p */
static int tf_flip(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if (need_image(t, v, e)) return -1;
    if (!(rng_uniform_double(rng) < t->p)) return 0;
    Image out = next_image(v, s, v->img.w, v->img.h, v->img.c);
    if (t->kind == TF_HFLIP) pil_hflip(&out, &v->img);
    else pil_vflip(&out, &v->img);
    set_image(v, out, s);
    return 0;
}

/* ---- rotation and perspective ---- */

double rotation_angle(const Transform *t, Rng *r)
{
    /* torch.empty(1).uniform_(d0, d1): a float32 draw */
    return (double)(float)(t->degrees[0] + rng_uniform_double(r) * (t->degrees[1] - t->degrees[0]));
}

/* RandomRotation: F.rotate(img, angle, NEAREST, expand=False, center, fill) */
static int tf_rotation(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if (need_image(t, v, e) || check_fill(t, v->img.c, e)) return -1;
    double angle = rotation_angle(t, rng);
    uint8_t fill[4];
    fill_for(t, v->img.c, fill);
    Image out = next_image(v, s, v->img.w, v->img.h, v->img.c);
    pil_rotate(&out, &v->img, angle, t->has_center ? t->center : NULL, fill);
    set_image(v, out, s);
    return 0;
}

static int randint(Rng *r, int lo, int hi)     /* torch.randint(lo, hi): [lo, hi) */
{
    return hi <= lo ? lo : lo + (int)rng_below(r, (uint32_t)(hi - lo));
}

/* RandomPerspective.get_params: each corner moves inwards by up to distortion_scale times
 * half the size, drawn in torchvision's order (x then y, corners clockwise from top left) */
void perspective_points(const Transform *t, int w, int h, Rng *r, int start[4][2], int end[4][2])
{
    int hw = w / 2, hh = h / 2, dx = (int)(t->distortion * hw), dy = (int)(t->distortion * hh);
    int s[4][2] = { { 0, 0 }, { w - 1, 0 }, { w - 1, h - 1 }, { 0, h - 1 } };
    memcpy(start, s, sizeof s);
    end[0][0] = randint(r, 0, dx + 1);
    end[0][1] = randint(r, 0, dy + 1);
    end[1][0] = randint(r, w - dx - 1, w);
    end[1][1] = randint(r, 0, dy + 1);
    end[2][0] = randint(r, w - dx - 1, w);
    end[2][1] = randint(r, h - dy - 1, h);
    end[3][0] = randint(r, 0, dx + 1);
    end[3][1] = randint(r, h - dy - 1, h);
}

/* RandomPerspective: when torch.rand(1) < p, F.perspective(img, start, end, BILINEAR, fill) */
static int tf_perspective(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if (need_image(t, v, e) || check_fill(t, v->img.c, e)) return -1;
    if (!(rng_uniform_double(rng) < t->p)) return 0;
    int start[4][2], end[4][2];
    double coeffs[8];
    perspective_points(t, v->img.w, v->img.h, rng, start, end);
    if (perspective_coeffs(start, end, coeffs)) return 0;      /* a degenerate (1-pixel) image */
    uint8_t fill[4];
    fill_for(t, v->img.c, fill);
    Image out = next_image(v, s, v->img.w, v->img.h, v->img.c);
    pil_perspective(&out, &v->img, coeffs, t->bilinear, fill);
    set_image(v, out, s);
    return 0;
}

/* ---- colour ---- */

/* ColorJitter.get_params: torch.randperm(4), then each set factor uniform in its range */
void jitter_params(const Transform *t, Rng *r, int order[4], double factor[4])
{
    for (int i = 0; i < 4; i++) order[i] = i;
    for (int i = 3; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (int k = 0; k < 4; k++)
        factor[k] = t->has_jitter[k] ? (double)(float)(t->jitter[k][0] + rng_uniform_double(r) * (t->jitter[k][1] - t->jitter[k][0]))
                                     : 0.0;
}

static int tf_color_jitter(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if (need_image(t, v, e)) return -1;
    int order[4];
    double f[4];
    jitter_params(t, rng, order, f);
    Image *img = writable(v, s);
    for (int i = 0; i < 4; i++) {
        int k = order[i];
        if (!t->has_jitter[k]) continue;
        if (k == JIT_BRIGHTNESS) pil_adjust_brightness(img, f[k]);
        else if (k == JIT_CONTRAST) pil_adjust_contrast(img, f[k]);
        else if (k == JIT_SATURATION) pil_adjust_saturation(img, f[k]);
        else pil_adjust_hue(img, f[k]);
    }
    return 0;
}

/* Grayscale(num_output_channels): convert('L'), replicated to 3 channels when asked */
static int tf_grayscale(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    (void)rng;
    if (need_image(t, v, e)) return -1;
    Image out = next_image(v, s, v->img.w, v->img.h, t->out_channels);
    pil_grayscale(&out, &v->img);
    set_image(v, out, s);
    return 0;
}

/* ---- RandomApply ---- */

static int apply_one(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e);

/* RandomApply: skipped when p < torch.rand(1), else every transform in order */
static int tf_random_apply(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if (t->p < rng_uniform_double(rng)) return 0;
    for (int i = 0; i < t->nsub; i++)
        if (apply_one(&t->sub[i], v, rng, s, e)) return -1;
    return 0;
}

/* ---- sizes and crops ---- */

/* Resize(size): both sides, or the smaller edge to size with the other int(size * long /
 * short); unchanged when the size already matches (torchvision returns the image itself) */
static int tf_resize(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    (void)rng;
    if (need_image(t, v, e)) return -1;
    int w = v->img.w, h = v->img.h, nw, nh;
    if (t->size[1]) {
        nh = t->size[0], nw = t->size[1];
    } else {
        int shrt = w <= h ? w : h, lng = w <= h ? h : w, nlong = (int)((double)t->size[0] * lng / shrt);
        nw = w <= h ? t->size[0] : nlong;
        nh = w <= h ? nlong : t->size[0];
    }
    if (nw == w && nh == h) return 0;
    Image out = next_image(v, s, nw, nh, v->img.c);
    pil_resize_bilinear(&out, &v->img, s);
    set_image(v, out, s);
    return 0;
}

/* CenterCrop(size): pads with 0 when the image is smaller, then crops at
 * round((h - th) / 2), round((w - tw) / 2) (Python's round: half to even) */
static int tf_center_crop(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    (void)rng;
    if (need_image(t, v, e)) return -1;
    int th = t->size[0], tw = t->size[1], h = v->img.h, w = v->img.w;
    if (tw > w || th > h) {
        int l = tw > w ? (tw - w) / 2 : 0, tp = th > h ? (th - h) / 2 : 0;
        int r = tw > w ? (tw - w + 1) / 2 : 0, b = th > h ? (th - h + 1) / 2 : 0;
        static const uint8_t zero[4];
        Image out = next_image(v, s, w + l + r, h + tp + b, v->img.c);
        pil_pad(&out, &v->img, l, tp, PAD_CONSTANT, zero);
        set_image(v, out, s);
        h = v->img.h, w = v->img.w;
        if (tw == w && th == h) return 0;
    }
    int top = (int)nearbyint((h - th) / 2.0), left = (int)nearbyint((w - tw) / 2.0);
    Image out = next_image(v, s, tw, th, v->img.c);
    pil_crop(&out, &v->img, top, left);
    set_image(v, out, s);
    return 0;
}

static int pad_by(TfValue *v, TfScratch *s, int l, int tp, int r, int b, PadMode mode, const uint8_t *fill)
{
    if (!l && !tp && !r && !b) return 0;
    Image out = next_image(v, s, v->img.w + l + r, v->img.h + tp + b, v->img.c);
    pil_pad(&out, &v->img, l, tp, mode, fill);
    set_image(v, out, s);
    return 0;
}

void random_crop_offset(int h, int w, int th, int tw, Rng *r, int *top, int *left)
{
    if (h == th && w == tw) {
        *top = *left = 0;
        return;
    }
    *top = randint(r, 0, h - th + 1);
    *left = randint(r, 0, w - tw + 1);
}

/* RandomCrop(size, padding, pad_if_needed, fill, padding_mode) */
static int tf_random_crop(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if (need_image(t, v, e) || check_fill(t, v->img.c, e)) return -1;
    uint8_t fill[4];
    fill_for(t, v->img.c, fill);
    const int *p = t->padding;
    pad_by(v, s, p[0], p[1], p[2], p[3], t->padding_mode, fill);
    int th = t->size[0], tw = t->size[1];
    if (t->pad_if_needed && v->img.w < tw) {
        int d = tw - v->img.w;
        pad_by(v, s, d, 0, d, 0, t->padding_mode, fill);
    }
    if (t->pad_if_needed && v->img.h < th) {
        int d = th - v->img.h;
        pad_by(v, s, 0, d, 0, d, t->padding_mode, fill);
    }
    if (v->img.h < th || v->img.w < tw)
        return err_set(e, "RandomCrop(%d, %d) is larger than the %dx%d image: add padding or pad_if_needed=True",
                       th, tw, v->img.w, v->img.h);
    int top, left;
    random_crop_offset(v->img.h, v->img.w, th, tw, rng, &top, &left);
    Image out = next_image(v, s, tw, th, v->img.c);
    pil_crop(&out, &v->img, top, left);
    set_image(v, out, s);
    return 0;
}

/* RandomResizedCrop.get_params: up to 10 tries of an area fraction uniform in scale and a
 * log-uniform aspect ratio; else the centre crop clamped to the ratio range */
void resized_crop_box(const Transform *t, int h, int w, Rng *r, int *top, int *left, int *ch, int *cw)
{
    double area = (double)h * w, lr0 = log(t->ratio[0]), lr1 = log(t->ratio[1]);
    for (int i = 0; i < 10; i++) {
        double target = area * (double)(float)(t->scale[0] + rng_uniform_double(r) * (t->scale[1] - t->scale[0]));
        double aspect = exp((double)(float)(lr0 + rng_uniform_double(r) * (lr1 - lr0)));
        int cw1 = (int)nearbyint(sqrt(target * aspect)), ch1 = (int)nearbyint(sqrt(target / aspect));
        if (cw1 > 0 && cw1 <= w && ch1 > 0 && ch1 <= h) {
            *top = randint(r, 0, h - ch1 + 1);
            *left = randint(r, 0, w - cw1 + 1);
            *ch = ch1;
            *cw = cw1;
            return;
        }
    }
    double in_ratio = (double)w / h, rmin = fmin(t->ratio[0], t->ratio[1]), rmax = fmax(t->ratio[0], t->ratio[1]);
    if (in_ratio < rmin) {
        *cw = w;
        *ch = (int)nearbyint(*cw / rmin);
    } else if (in_ratio > rmax) {
        *ch = h;
        *cw = (int)nearbyint(*ch * rmax);
    } else {
        *cw = w;
        *ch = h;
    }
    *top = (h - *ch) / 2;
    *left = (w - *cw) / 2;
}

/* RandomResizedCrop(size, scale, ratio): crop the drawn box, then resize it (bilinear) */
static int tf_random_resized_crop(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if (need_image(t, v, e)) return -1;
    int top, left, ch, cw;
    resized_crop_box(t, v->img.h, v->img.w, rng, &top, &left, &ch, &cw);
    Image crop = next_image(v, s, cw, ch, v->img.c);
    pil_crop(&crop, &v->img, top, left);
    set_image(v, crop, s);
    if (ch == t->size[0] && cw == t->size[1]) return 0;
    Image out = next_image(v, s, t->size[1], t->size[0], v->img.c);
    pil_resize_bilinear(&out, &v->img, s);
    set_image(v, out, s);
    return 0;
}

/* ---- the table ---- */

static const struct {
    const char *name;
    TfApplyFn   apply;
} transforms[TF_NKINDS] = {
    [TF_TO_TENSOR] = { "ToTensor", tf_to_tensor },
    [TF_NORMALIZE] = { "Normalize", tf_normalize },
    [TF_HFLIP] = { "RandomHorizontalFlip", tf_flip },
    [TF_VFLIP] = { "RandomVerticalFlip", tf_flip },
    [TF_ROTATION] = { "RandomRotation", tf_rotation },
    [TF_COLOR_JITTER] = { "ColorJitter", tf_color_jitter },
    [TF_PERSPECTIVE] = { "RandomPerspective", tf_perspective },
    [TF_RANDOM_APPLY] = { "RandomApply", tf_random_apply },
    [TF_RESIZE] = { "Resize", tf_resize },
    [TF_CENTER_CROP] = { "CenterCrop", tf_center_crop },
    [TF_RANDOM_CROP] = { "RandomCrop", tf_random_crop },
    [TF_RANDOM_RESIZED_CROP] = { "RandomResizedCrop", tf_random_resized_crop },
    [TF_GRAYSCALE] = { "Grayscale", tf_grayscale },
};

const char *transform_name(TransformKind k)
{
    return (unsigned)k < TF_NKINDS ? transforms[k].name : "?";
}

static int apply_one(const Transform *t, TfValue *v, Rng *rng, TfScratch *s, Error *e)
{
    if ((unsigned)t->kind >= TF_NKINDS || !transforms[t->kind].apply)
        return err_set(e, "transform kind %d is not implemented", (int)t->kind);
    return transforms[t->kind].apply(t, v, rng, s, e);
}

static Rng fixed_rng(void)
{
    Rng r;
    rng_seed(&r, 0);
    return r;
}

int pipeline_run(const Pipeline *p, const Image *src, float *out, int C, int H, int W, Rng *rng, TfScratch *s,
                 Error *e)
{
    TfValue v = { .img = *src, .buf = -1, .out = out, .C = C, .H = H, .W = W };
    Rng local = fixed_rng();
    if (!rng) rng = &local;
    int n = p ? p->n : 0;
    for (int i = 0; i < n; i++)
        if (apply_one(&p->steps[i], &v, rng, s, e)) return -1;
    if (!v.is_tensor) {
        Transform implicit = { .kind = TF_TO_TENSOR };
        if (apply_one(&implicit, &v, rng, s, e)) return -1;
    }
    return 0;
}

int pipeline_apply(const Pipeline *p, Image *img, float *out, int C, int H, int W, Rng *rng, Error *e)
{
    TfScratch s = { 0 };
    int rc = pipeline_run(p, img, out, C, H, W, rng, &s, e);
    tf_scratch_free(&s);
    free(img->px);
    img->px = NULL;                     /* consumed */
    return rc;
}

int pipeline_run_image(const Pipeline *p, const Image *src, Image *out, Rng *rng, TfScratch *s, Error *e)
{
    TfValue v = { .img = *src, .buf = -1 };
    int n = p ? p->n : 0;
    for (int i = 0; i < n && p->steps[i].kind != TF_TO_TENSOR; i++)
        if (apply_one(&p->steps[i], &v, rng, s, e)) return -1;
    *out = *writable(&v, s);
    return 0;
}

static void copy_steps(Transform *dst, const Transform *src, int n)
{
    memcpy(dst, src, (size_t)n * sizeof *dst);
    for (int i = 0; i < n; i++)
        if (src[i].nsub) {
            dst[i].sub = xmalloc((size_t)src[i].nsub * sizeof *dst[i].sub);
            copy_steps(dst[i].sub, src[i].sub, src[i].nsub);
        } else {
            dst[i].sub = NULL;
        }
}

void pipeline_copy(Pipeline *dst, const Transform *steps, int n)
{
    dst->n = n;
    dst->steps = n ? xmalloc((size_t)n * sizeof *dst->steps) : NULL;
    if (n) copy_steps(dst->steps, steps, n);
}

static void transform_free_subs(Transform *t)
{
    for (int i = 0; i < t->nsub; i++) transform_free_subs(&t->sub[i]);
    free(t->sub);
    t->sub = NULL;
    t->nsub = 0;
}

void pipeline_free(Pipeline *p)
{
    for (int i = 0; i < p->n; i++) transform_free_subs(&p->steps[i]);
    free(p->steps);
    p->steps = NULL;
    p->n = 0;
}
