/* runtime/transforms.c: torchvision transforms, one small function per transform, run in
 * order by pipeline_apply (torchvision's Compose). */
#include <stdlib.h>
#include <string.h>

#include "transforms.h"

/* The value flowing through the pipeline: an 8-bit image until ToTensor, a float C x H x W
 * tensor after it (torchvision's PIL image and torch.Tensor). */
typedef struct TfValue {
    Image  img;                 /* valid while !is_tensor */
    int    is_tensor;
    float *t;                   /* C x H x W */
    int    c, h, w;
    int    t_owned;             /* t was allocated here (else it is the caller's out) */
    float *out;                 /* the caller's buffer, used directly when the size fits */
    size_t out_len;
} TfValue;

static void drop_image(Image *img)
{
    free(img->px);
    img->px = NULL;
}

typedef int (*TfApplyFn)(const Transform *t, TfValue *v, Rng *rng, Error *e);

/* ToTensor: HWC uint8 -> CHW float, img.float().div(255) */
static int tf_to_tensor(const Transform *t, TfValue *v, Rng *rng, Error *e)
{
    (void)t, (void)rng;
    if (v->is_tensor) return err_set(e, "ToTensor() applied twice: the image is already a tensor");
    int c = v->img.c, h = v->img.h, w = v->img.w;
    size_t plane = (size_t)h * (size_t)w, n = plane * (size_t)c;
    float *dst = n == v->out_len ? v->out : xmalloc(n * sizeof *dst);
    const uint8_t *px = v->img.px;
    for (int ch = 0; ch < c; ch++)
        for (size_t i = 0; i < plane; i++) dst[(size_t)ch * plane + i] = (float)px[i * (size_t)c + (size_t)ch] / 255.0f;
    drop_image(&v->img);
    v->is_tensor = 1;
    v->t = dst;
    v->t_owned = dst != v->out;
    v->c = c;
    v->h = h;
    v->w = w;
    return 0;
}

/* Normalize: tensor.sub_(mean).div_(std) per channel, in float as torch computes it */
static int tf_normalize(const Transform *t, TfValue *v, Rng *rng, Error *e)
{
    (void)rng;
    if (!v->is_tensor) return err_set(e, "Normalize() needs a tensor: put ToTensor() before it");
    if (t->nch != v->c && t->nch != 1)
        return err_set(e, "Normalize() has %d mean/std values but the image has %d channel%s", t->nch, v->c,
                       v->c == 1 ? "" : "s");
    size_t plane = (size_t)v->h * (size_t)v->w;
    for (int ch = 0; ch < v->c; ch++) {
        float m = t->mean[t->nch == 1 ? 0 : ch], s = t->std[t->nch == 1 ? 0 : ch];
        if (s == 0.0f) return err_set(e, "Normalize() has std 0 for channel %d: division by zero", ch);
        float *x = v->t + (size_t)ch * plane;
        for (size_t i = 0; i < plane; i++) x[i] = (x[i] - m) / s;
    }
    return 0;
}

/* One row per transform kind; issue 3's random transforms add rows here. */
static const struct {
    const char *name;
    TfApplyFn   apply;
} transforms[] = {
    [TF_TO_TENSOR] = { "ToTensor", tf_to_tensor },
    [TF_NORMALIZE] = { "Normalize", tf_normalize },
};

static int apply_one(const Transform *t, TfValue *v, Rng *rng, Error *e)
{
    if ((unsigned)t->kind >= sizeof transforms / sizeof transforms[0] || !transforms[t->kind].apply)
        return err_set(e, "transform kind %d is not implemented", (int)t->kind);
    return transforms[t->kind].apply(t, v, rng, e);
}

static void value_free(TfValue *v)
{
    drop_image(&v->img);
    if (v->t_owned) free(v->t);
    v->t = NULL;
    v->t_owned = 0;
}

int pipeline_apply(const Pipeline *p, Image *img, float *out, int C, int H, int W, Rng *rng, Error *e)
{
    TfValue v = { 0 };
    v.img = *img;
    img->px = NULL;                     /* consumed */
    v.out = out;
    v.out_len = (size_t)C * (size_t)H * (size_t)W;
    int n = p ? p->n : 0;
    for (int i = 0; i < n; i++)
        if (apply_one(&p->steps[i], &v, rng, e)) {
            value_free(&v);
            return -1;
        }
    if (!v.is_tensor) {
        Transform implicit = { .kind = TF_TO_TENSOR };
        if (apply_one(&implicit, &v, rng, e)) {
            value_free(&v);
            return -1;
        }
    }
    if (v.h != H || v.w != W || v.c != C) {
        if (v.c != C)
            err_set(e, "image has %d channel%s but the model expects %d", v.c, v.c == 1 ? "" : "s", C);
        else
            err_set(e, "image is %dx%d but the model expects %dx%d (add Resize(...) to the transform or resize "
                    "the images)", v.w, v.h, W, H);
        value_free(&v);
        return -1;
    }
    if (v.t != out) memcpy(out, v.t, v.out_len * sizeof *out);
    value_free(&v);
    return 0;
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
