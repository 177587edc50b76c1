/* compiler/backends/emit_c_preprocess.c: --emit-c's NAME_preprocess_rgb8, the model's eval
 * transform as C99 with the runtime's arithmetic (runtime/transforms.c, transforms/geometry.c):
 * Resize (Pillow's antialiased bilinear resampling, 22-bit fixed-point weights, the horizontal
 * pass rounded to 8 bits before the vertical one), CenterCrop (zero padding, Python's round),
 * Grayscale, ToTensor and Normalize. It needs no scratch memory: the steps before ToTensor
 * become one function each that computes the pixel at (x, y) of its image from the step
 * before it, and only the model's input pixels are asked for, so only they (and the source
 * windows they read) are computed; each call recomputes its resampling weights. */
#include "emit_c.h"

#include <string.h>

#include "../../runtime/data.h"

/* one image of the pipeline: the step that makes it and its channel count */
typedef struct PreStep {
    const Transform *t;         /* NULL: the caller's image (RGB, or luma where the runtime reads gray) */
    int c;
} PreStep;

/* the helpers the Resize steps call: Pillow's window and weights for one output pixel */
static void emit_resample_helpers(FILE *f, const char *n)
{
    fprintf(f, "/* Pillow's resampling window (Resample.c, precompute_coeffs) for output pixel i of an axis\n"
               " * resized from n_in to n_out: a triangle filter widened by the scale when shrinking */\n"
               "struct %s_window { int first, n; double center, ss, sum; long k[16]; };\n\n", n);
    fprintf(f, "static double %s_triangle(double x)\n{\n    x = fabs(x);\n    return x < 1.0 ? 1.0 - x : 0.0;\n}\n\n", n);
    fprintf(f, "/* tap x's weight, normalised, in fixed point with 22 fractional bits */\n"
               "static long %s_fixed(const struct %s_window *w, int x)\n{\n"
               "    double v = %s_triangle((x + w->first - w->center + 0.5) * w->ss);\n"
               "    if (w->sum != 0.0) v /= w->sum;\n"
               "    return (long)(v < 0 ? -0.5 + v * 4194304.0 : 0.5 + v * 4194304.0);\n}\n\n", n, n, n);
    fprintf(f, "/* the window of output pixel i, its first 16 weights computed once */\n"
               "static void %s_window(int n_in, int n_out, int i, struct %s_window *w)\n{\n"
               "    double scale = (double)n_in / n_out, fscale = scale < 1.0 ? 1.0 : scale, support = fscale;\n"
               "    int ksize = (int)ceil(support) * 2 + 1, lo, hi, x;\n"
               "    w->center = (i + 0.5) * scale;\n    w->ss = 1.0 / fscale;\n"
               "    lo = (int)(w->center - support + 0.5);\n    hi = (int)(w->center + support + 0.5);\n"
               "    if (lo < 0) lo = 0;\n    if (hi > n_in) hi = n_in;\n    hi -= lo;\n    if (hi > ksize) hi = ksize;\n"
               "    w->first = lo;\n    w->n = hi;\n    w->sum = 0.0;\n"
               "    for (x = 0; x < hi; x++) w->sum += %s_triangle((x + lo - w->center + 0.5) * w->ss);\n"
               "    for (x = 0; x < hi && x < 16; x++) w->k[x] = %s_fixed(w, x);\n}\n\n", n, n, n, n);
    fprintf(f, "static long %s_weight(const struct %s_window *w, int x)\n{\n"
               "    return x < 16 ? w->k[x] : %s_fixed(w, x);\n}\n\n", n, n, n);
    fprintf(f, "/* an accumulated sum back to 8 bits */\nstatic unsigned %s_clip8(long v)\n{\n"
               "    return v >= 1073741824L ? 255u : v <= 0 ? 0u : (unsigned)(v >> 22);\n}\n\n", n);
}

/* image 0: the caller's pixels */
static void emit_source(FILE *f, const char *n, int gray)
{
    fprintf(f, "/* the caller's image: %s */\n", gray ? "its luma, as PIL's convert('L') computes it" : "RGB");
    fprintf(f, "static void %s_image0(struct %s_images *im, int x, int y, unsigned *out)\n{\n"
               "    const unsigned char *px = im->pixels + (long)y * im->stride + 3L * x;\n", n, n);
    if (gray) fprintf(f, "    out[0] = (px[0] * 19595u + px[1] * 38470u + px[2] * 7471u + 0x8000u) >> 16;\n}\n\n");
    else fprintf(f, "    out[0] = px[0];\n    out[1] = px[1];\n    out[2] = px[2];\n}\n\n");
}

static void emit_resize(FILE *f, const char *n, const Transform *t, int i, int c)
{
    if (t->size[1]) fprintf(f, "/* Resize((%d, %d)): ", t->size[0], t->size[1]);
    else fprintf(f, "/* Resize(%d): ", t->size[0]);
    fprintf(f, "PIL's bilinear resampling of image %d, horizontally then vertically (each\n"
               " * only when that size changes), the horizontal result rounded to 8 bits as Pillow stores it */\n", i - 1);
    fprintf(f, "static void %s_image%d_row(struct %s_images *im, int x, int y, unsigned *out)\n{\n"
               "    struct %s_window *w = &im->wx[%d];\n    unsigned px[%d];\n    long acc[%d];\n    int j, k;\n", n, i, n, n,
            i, c, c);
    fprintf(f, "    if (im->w[%d] == im->w[%d]) {\n        %s_image%d(im, x, y, out);\n        return;\n    }\n", i, i - 1,
            n, i - 1);
    fprintf(f, "    if (im->kx[%d] != x) {\n        %s_window(im->w[%d], im->w[%d], x, w);\n        im->kx[%d] = x;\n    }\n",
            i, n, i - 1, i, i);
    fprintf(f, "    for (k = 0; k < %d; k++) acc[k] = 1L << 21;\n", c);
    fprintf(f, "    for (j = 0; j < w->n; j++) {\n        long wt = %s_weight(w, j);\n"
               "        %s_image%d(im, w->first + j, y, px);\n        for (k = 0; k < %d; k++) acc[k] += (long)px[k] * wt;\n"
               "    }\n    for (k = 0; k < %d; k++) out[k] = %s_clip8(acc[k]);\n}\n\n", n, n, i - 1, c, c, n);
    fprintf(f, "static void %s_image%d(struct %s_images *im, int x, int y, unsigned *out)\n{\n"
               "    struct %s_window *w = &im->wy[%d];\n    unsigned px[%d];\n    long acc[%d];\n    int j, k;\n", n, i, n, n,
            i, c, c);
    fprintf(f, "    if (im->h[%d] == im->h[%d]) {\n        %s_image%d_row(im, x, y, out);\n        return;\n    }\n", i,
            i - 1, n, i);
    fprintf(f, "    if (im->ky[%d] != y) {\n        %s_window(im->h[%d], im->h[%d], y, w);\n        im->ky[%d] = y;\n    }\n",
            i, n, i - 1, i, i);
    fprintf(f, "    for (k = 0; k < %d; k++) acc[k] = 1L << 21;\n", c);
    fprintf(f, "    for (j = 0; j < w->n; j++) {\n        long wt = %s_weight(w, j);\n"
               "        %s_image%d_row(im, x, w->first + j, px);\n        for (k = 0; k < %d; k++) acc[k] += (long)px[k] * wt;\n"
               "    }\n    for (k = 0; k < %d; k++) out[k] = %s_clip8(acc[k]);\n}\n\n", n, n, i, c, c, n);
}

static void emit_crop(FILE *f, const char *n, const Transform *t, int i, int c)
{
    fprintf(f, "/* CenterCrop(%d, %d) of image %d: zero where it pads */\n", t->size[0], t->size[1], i - 1);
    fprintf(f, "static void %s_image%d(struct %s_images *im, int x, int y, unsigned *out)\n{\n"
               "    int sx = x + im->left[%d], sy = y + im->top[%d], k;\n", n, i, n, i, i);
    fprintf(f, "    if (sx >= 0 && sx < im->w[%d] && sy >= 0 && sy < im->h[%d]) {\n        %s_image%d(im, sx, sy, out);\n"
               "        return;\n    }\n    for (k = 0; k < %d; k++) out[k] = 0;\n}\n\n", i - 1, i - 1, n, i - 1, c);
}

static void emit_gray(FILE *f, const char *n, int i, int cin, int c)
{
    fprintf(f, "/* Grayscale(%d) of image %d: PIL's convert('L') */\n", c, i - 1);
    fprintf(f, "static void %s_image%d(struct %s_images *im, int x, int y, unsigned *out)\n{\n"
               "    unsigned px[%d];\n    %s_image%d(im, x, y, px);\n", n, i, n, cin, n, i - 1);
    if (cin == 3) fprintf(f, "    out[0] = (px[0] * 19595u + px[1] * 38470u + px[2] * 7471u + 0x8000u) >> 16;\n");
    else fprintf(f, "    out[0] = px[0];\n");
    if (c == 3) fprintf(f, "    out[1] = out[2] = out[0];\n");
    fprintf(f, "}\n\n");
}

/* the sizes of each image, from the caller's: Resize(int) keeps the aspect ratio (the
 * smaller edge to size, the other int(size * long / short)); CenterCrop's offset is
 * round((padded - size) / 2), ties to even, less the padding before the image */
static void emit_sizes(FILE *f, PreStep *s, int ns)
{
    fprintf(f, "    im.w[0] = width;\n    im.h[0] = height;\n");
    for (int i = 1; i < ns; i++) {
        const Transform *t = s[i].t;
        if (t->kind == TF_RESIZE && t->size[1])
            fprintf(f, "    im.w[%d] = %d;\n    im.h[%d] = %d;\n", i, t->size[1], i, t->size[0]);
        else if (t->kind == TF_RESIZE)
            fprintf(f, "    if (im.w[%d] <= im.h[%d]) {\n        im.w[%d] = %d;\n"
                       "        im.h[%d] = (int)((double)%d * im.h[%d] / im.w[%d]);\n    } else {\n"
                       "        im.h[%d] = %d;\n        im.w[%d] = (int)((double)%d * im.w[%d] / im.h[%d]);\n    }\n",
                    i - 1, i - 1, i, t->size[0], i, t->size[0], i - 1, i - 1, i, t->size[0], i, t->size[0], i - 1, i - 1);
        else if (t->kind == TF_CENTER_CROP) {
            int th = t->size[0], tw = t->size[1];
            fprintf(f, "    im.h[%d] = %d;\n    im.w[%d] = %d;\n", i, th, i, tw);
            fprintf(f, "    im.top[%d] = (int)nearbyint(((im.h[%d] > %d ? im.h[%d] : %d) - %d) / 2.0) - "
                       "(%d > im.h[%d] ? (%d - im.h[%d]) / 2 : 0);\n", i, i - 1, th, i - 1, th, th, th, i - 1, th, i - 1);
            fprintf(f, "    im.left[%d] = (int)nearbyint(((im.w[%d] > %d ? im.w[%d] : %d) - %d) / 2.0) - "
                       "(%d > im.w[%d] ? (%d - im.w[%d]) / 2 : 0);\n", i, i - 1, tw, i - 1, tw, tw, tw, i - 1, tw, i - 1);
        } else
            fprintf(f, "    im.w[%d] = im.w[%d];\n    im.h[%d] = im.h[%d];\n", i, i - 1, i, i - 1);
        if (t->kind == TF_RESIZE) fprintf(f, "    if (im.w[%d] < 1 || im.h[%d] < 1) return -1;\n", i, i);
    }
}

int emit_c_preprocess(FILE *f, const Program *p, const char *n, Error *e)
{
    const DatasetDecl *d = p->validation.present ? &p->validation : p->test.present ? &p->test : &p->train;
    int C = p->in_shape[0], H = p->in_shape[1], W = p->in_shape[2];
    int gray = (d->present && d->kind == DS_IMAGEFOLDER ? d->load_channels : C) == 1;
    int tensor = 0, norm = -1, ns = 1, resize = 0;
    PreStep s[17] = { { NULL, gray ? 1 : 3 } };
    for (int i = 0; i < d->transform.n; i++) {
        const Transform *t = &d->transform.steps[i];
        int image_step = t->kind == TF_RESIZE || t->kind == TF_CENTER_CROP || t->kind == TF_GRAYSCALE;
        if (image_step && !tensor && ns < 17) {
            s[ns] = (PreStep){ t, t->kind == TF_GRAYSCALE ? t->out_channels : s[ns - 1].c };
            resize |= t->kind == TF_RESIZE;
            ns++;
        } else if (t->kind == TF_TO_TENSOR && !tensor) tensor = 1;
        else if (t->kind == TF_NORMALIZE && tensor && norm < 0) norm = i;
        else
            return err_set(e, "%s:%d:%d: error: --emit-c does not cover %s() in the eval transform (it covers ToTensor, "
                              "Normalize, Resize, CenterCrop and Grayscale): apply it before calling the generated "
                              "preprocess function, or leave it out of the test/validation transform",
                           p->path, d->loc.line, d->loc.col, transform_name(t->kind));
    }
    if (s[ns - 1].c != C)
        return err_set(e, "%s:%d:%d: error: the eval transform gives %d-channel images but the model expects %d: "
                          "fix Grayscale's num_output_channels or the model's input", p->path, d->loc.line, d->loc.col,
                       s[ns - 1].c, C);
    int last = ns - 1;
    if (resize) emit_resample_helpers(f, n);
    fprintf(f, "/* the images of the eval transform: the caller's (0), then one per step before ToTensor;\n"
               " * for a Resize, the windows of the column (kx) and row (ky) last computed */\n"
               "struct %s_images {\n    const unsigned char *pixels;\n    int stride, w[%d], h[%d], top[%d], left[%d];\n", n, ns,
            ns, ns, ns);
    if (resize) fprintf(f, "    int kx[%d], ky[%d];\n    struct %s_window wx[%d], wy[%d];\n", ns, ns, n, ns, ns);
    fprintf(f, "};\n\n");
    emit_source(f, n, gray);
    for (int i = 1; i < ns; i++) {
        if (s[i].t->kind == TF_RESIZE) emit_resize(f, n, s[i].t, i, s[i].c);
        else if (s[i].t->kind == TF_CENTER_CROP) emit_crop(f, n, s[i].t, i, s[i].c);
        else emit_gray(f, n, i, s[i - 1].c, s[i].c);
    }
    fprintf(f, "int %s_preprocess_rgb8(const unsigned char *pixels, int width, int height, int stride, float *input)\n{\n"
               "    struct %s_images im;\n    unsigned v[3];\n    int y, x, c;\n", n, n);
    fprintf(f, "    if (width < 1 || height < 1) return -1;\n    memset(&im, 0, sizeof im);\n"
               "    im.pixels = pixels;\n    im.stride = stride;\n");
    if (resize) fprintf(f, "    for (c = 0; c < %d; c++) im.kx[c] = im.ky[c] = -1;\n", ns);
    emit_sizes(f, s, ns);
    fprintf(f, "    if (im.w[%d] != %d || im.h[%d] != %d) return -1;\n", last, W, last, H);
    fprintf(f, "    for (y = 0; y < %d; y++)\n        for (x = 0; x < %d; x++) {\n            %s_image%d(&im, x, y, v);\n"
               "            for (c = 0; c < %d; c++) input[((long)c * %d + y) * %d + x] = (float)v[c] / 255.0f;\n"
               "        }\n", H, W, n, last, C, H, W);
    if (norm >= 0) {
        const Transform *t = &d->transform.steps[norm];
        fprintf(f, "    {\n        static const float mean[%d] = {", C);
        for (int c = 0; c < C; c++) fprintf(f, "%s%.9g", c ? ", " : " ", (double)t->mean[t->nch == 1 ? 0 : c]);
        fprintf(f, " }, sd[%d] = {", C);
        for (int c = 0; c < C; c++) fprintf(f, "%s%.9g", c ? ", " : " ", (double)t->std[t->nch == 1 ? 0 : c]);
        fprintf(f, " };\n        for (c = 0; c < %d; c++)\n            for (y = 0; y < %d; y++)\n"
                   "                input[(long)c * %d + y] = (input[(long)c * %d + y] - mean[c]) / sd[c];\n    }\n",
                C, H * W, H * W, H * W);
    }
    fprintf(f, "    return 0;\n}\n\n");
    return 0;
}
