/* compiler/driver/apply.c: running a feature-map model on one image (see apply.h). */
#include "apply.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/data.h"
#include "../../runtime/exec.h"
#include "../../runtime/init.h"
#include "../../runtime/png.h"
#include "../passes/lower.h"
#include "../passes/plan.h"

#define GAP 8                   /* white pixels between panels */

Graph *apply_graph(const Program *p, int height, int width, Error *e)
{
    Graph *g = lower_forward(p, 1, height, width, e);
    if (!g) return NULL;
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    init_parameters(g, 0);
    lower_given_weights(g, p);
    g->training = 0;
    return g;
}

void apply_scale(const float *v, int h, int w, uint8_t *px, float *lo, float *hi)
{
    size_t n = (size_t)h * w;
    float mn = v[0], mx = v[0];
    for (size_t i = 1; i < n; i++) {
        if (v[i] < mn) mn = v[i];
        if (v[i] > mx) mx = v[i];
    }
    for (size_t i = 0; i < n; i++)
        px[i] = mx > mn ? (uint8_t)lrintf(255.0f * (v[i] - mn) / (mx - mn)) : 0;
    *lo = mn;
    *hi = mx;
}

/* Copies an h x w gray panel into the figure at column x0, centred vertically. */
static void place(uint8_t *fig, int fw, int fh, const uint8_t *px, int h, int w, int x0)
{
    int y0 = (fh - h) / 2;
    for (int y = 0; y < h; y++) memcpy(fig + (size_t)(y0 + y) * fw + x0, px + (size_t)y * w, (size_t)w);
}

/* The input the model saw, in grayscale: PIL's convert('L') weights for RGB. */
static void gray_of(const Image *img, uint8_t *out)
{
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = img->px + i * (size_t)img->c;
        out[i] = img->c >= 3 ? (uint8_t)((q[0] * 19595 + q[1] * 38470 + q[2] * 7471 + 0x8000) >> 16) : q[0];
    }
}

static const Pipeline *input_transform(const Program *p)
{
    if (p->validation.present) return &p->validation.transform;
    if (p->test.present) return &p->test.transform;
    return &p->train.transform;     /* empty when absent: ToTensor alone */
}

int apply_run(const Program *p, const char *image, const char *out_png, int threads, FILE *log, Error *e)
{
    if (p->out_ndim != 3)
        return err_set(e, "%s: --apply needs a model that ends with a feature map (channels x height x "
                          "width), like examples/sobel.cnn; %s ends with %d scores: use --predict",
                       p->path, p->model_name, p->out_shape[0]);
    int C = p->in_shape[0];
    Image img, raw;
    if (image_load(image, C, &img, e) < 0) return -1;
    raw = img;
    raw.px = xmalloc((size_t)img.w * img.h * img.c);
    memcpy(raw.px, img.px, (size_t)img.w * img.h * img.c);
    int H = img.h, W = img.w, rc = -1;
    Graph *g = apply_graph(p, H, W, e);
    if (!g) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, " (the image %s is %d x %d pixels)", image, W, H);
        image_free(&img);
        image_free(&raw);
        return -1;
    }
    exec_set_threads(g, threads);
    Rng r;
    Error te;
    rng_seed3(&r, 0, 3, 0);
    if (pipeline_apply(input_transform(p), &img, vf32(g, g->input), C, H, W, &r, &te) < 0) {
        err_set(e, "%s: %s", image, te.msg);
        goto done;
    }
    graph_set_batch(g, 1);
    exec_run(g, PHASE_FORWARD);
    const Value *ov = &g->vals[g->logits];
    int K = ov->shape[1], oh = ov->shape[2], ow = ov->shape[3];
    const float *y = vf32(g, g->logits);
    int npanels = K + (K >= 2) + 1;
    int fh = oh > H ? oh : H, fw = K * ow + (K >= 2) * ow + W + (npanels - 1) * GAP;
    uint8_t *fig = xmalloc((size_t)fw * fh), *px = xmalloc((size_t)(oh > H ? oh : H) * (ow > W ? ow : W));
    float *mag = xcalloc((size_t)oh * ow, sizeof *mag);
    memset(fig, 255, (size_t)fw * fh);
    int x0 = 0;
    float lo, hi;
    for (int k = 0; k < K; k++) {
        const float *ch = y + (size_t)k * oh * ow;
        for (size_t i = 0; i < (size_t)oh * ow; i++) mag[i] += ch[i] * ch[i];
        apply_scale(ch, oh, ow, px, &lo, &hi);
        place(fig, fw, fh, px, oh, ow, x0);
        fprintf(log, "panel %d: output channel %d of %s, %d x %d, values %.4g to %.4g\n", k + 1, k,
                p->steps[p->output].label, oh, ow, (double)lo, (double)hi);
        x0 += ow + GAP;
    }
    if (K >= 2) {
        for (size_t i = 0; i < (size_t)oh * ow; i++) mag[i] = sqrtf(mag[i]);
        apply_scale(mag, oh, ow, px, &lo, &hi);
        place(fig, fw, fh, px, oh, ow, x0);
        fprintf(log, "panel %d: magnitude sqrt(sum of squares of the %d channels), %d x %d, values %.4g to %.4g\n",
                K + 1, K, oh, ow, (double)lo, (double)hi);
        x0 += ow + GAP;
    }
    gray_of(&raw, px);
    place(fig, fw, fh, px, H, W, x0);
    fprintf(log, "panel %d: the input %s in grayscale, %d x %d\n", npanels, image, H, W);
    if (png_write(out_png, fig, fw, fh, 1, e) == 0) {
        fprintf(log, "Wrote %s (%d x %d, %d panels)\n", out_png, fw, fh, npanels);
        rc = 0;
    }
    free(fig);
    free(px);
    free(mag);
done:
    graph_free(g);
    image_free(&img);
    image_free(&raw);
    return rc;
}
