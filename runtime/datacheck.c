/* runtime/datacheck.c: the data check before the first epoch: every sample's header read
 * (no pixels decoded) and the size the transform makes of it compared with the model's
 * input, so that every bad image of every data set is known before any work is done. */
#include <stdio.h>
#include <string.h>

#include "data.h"

/* The size the steps before ToTensor make of a w x h image, as runtime/transforms.c computes
 * it (Resize, the crops; the other steps keep the size). Returns -1 with why set when a step
 * refuses the image (a RandomCrop larger than it); *int_resize is set to Resize(int)'s size
 * when one is met (it keeps the aspect ratio). */
static int transformed_size(const Transform *steps, int n, int *w, int *h, int *int_resize, char *why, size_t whyn)
{
    for (int i = 0; i < n; i++) {
        const Transform *t = &steps[i];
        switch (t->kind) {
        case TF_TO_TENSOR:
            return 0;
        case TF_RESIZE:
            if (t->size[1]) {
                *h = t->size[0], *w = t->size[1];
            } else {
                int shrt = *w <= *h ? *w : *h, lng = *w <= *h ? *h : *w, nlong = (int)((double)t->size[0] * lng / shrt);
                if (*w <= *h) *w = t->size[0], *h = nlong;
                else *h = t->size[0], *w = nlong;
                *int_resize = t->size[0];
            }
            break;
        case TF_CENTER_CROP:
        case TF_RANDOM_RESIZED_CROP:
            *h = t->size[0], *w = t->size[1];
            break;
        case TF_RANDOM_CROP: {
            int ph = *h + t->padding[1] + t->padding[3], pw = *w + t->padding[0] + t->padding[2];
            if (!t->pad_if_needed && (ph < t->size[0] || pw < t->size[1])) {
                snprintf(why, whyn, "RandomCrop(%d, %d) is larger than the %dx%d image: add padding or "
                         "pad_if_needed=True", t->size[0], t->size[1], pw, ph);
                return -1;
            }
            *h = t->size[0], *w = t->size[1];
            break;
        }
        case TF_RANDOM_APPLY:
            if (transformed_size(t->sub, t->nsub, w, h, int_resize, why, whyn)) return -1;
            break;
        default:
            break;
        }
    }
    return 0;
}

void transform_size_problem(const Pipeline *tf, int w, int h, int H, int W, char *msg, size_t n)
{
    int tw = w, th = h, int_resize = 0;
    msg[0] = 0;
    if (tf && transformed_size(tf->steps, tf->n, &tw, &th, &int_resize, msg, n)) return;
    if (tw == W && th == H) return;
    if (int_resize)
        snprintf(msg, n, "the image is %dx%d and Resize(%d) keeps its aspect ratio (it makes the smaller edge %d: "
                 "%dx%d), but the model expects %dx%d: use Resize((%d, %d)) to make every image %dx%d", w, h,
                 int_resize, int_resize, tw, th, W, H, H, W, W, H);
    else if (tw == w && th == h)
        snprintf(msg, n, "the image is %dx%d but the model expects %dx%d: add Resize((%d, %d)) to the transform "
                 "or resize the images", w, h, W, H, H, W);
    else
        snprintf(msg, n, "the image is %dx%d, which the transform makes %dx%d, but the model expects %dx%d", w, h,
                 tw, th, W, H);
}

int dataset_check(const Dataset *ds, const Pipeline *tf, int C, int H, int W,
                  void (*bad)(void *ctx, int i, const char *msg), void *ctx)
{
    (void)C;            /* the channels follow from the declarations: the checker compares them */
    int nbad = 0, lw = -1, lh = -1;
    char prob[512] = "", msg[1400];
    for (int i = 0; i < ds->n; i++) {
        int w, h;
        if (ds->probe) {
            ImageInfo in;
            Error e;
            if (ds->probe(ds, i, &in, &e)) {
                bad(ctx, i, e.msg);
                nbad++;
                continue;
            }
            w = in.w, h = in.h;
        } else {
            break;      /* held in memory (MNIST): 28 x 28, which the checker compares with the model */
        }
        if (w != lw || h != lh) transform_size_problem(tf, w, h, H, W, prob, sizeof prob);
        lw = w, lh = h;
        if (prob[0]) {
            snprintf(msg, sizeof msg, "%.600s: %.500s", ds->path ? ds->path(ds, i) : ds->root, prob);
            bad(ctx, i, msg);
            nbad++;
        }
    }
    return nbad;
}
