/* tests/data/tf_tool.c: one PIL operation of runtime/transforms/ with its random parameters
 * pinned, on the command line, for tests/data/test_transforms_py.py to hold against
 * torchvision's functional ops:
 *   tf_tool IN.png C OUT.png OP ARGS...   (C: decode IN as 1 'L' or 3 'RGB' channels)
 * OPs: hflip | vflip | resize W H | crop TOP LEFT H W | centercrop H W | pad L T R B MODE
 *      (MODE 0 constant 1 edge 2 reflect 3 symmetric; fill 7) | rotate ANGLE FILL [CX CY] |
 *      perspective BILINEAR FILL X0 Y0 X1 Y1 X2 Y2 X3 Y3 (the end points) |
 *      warp BILINEAR FILL C0..C7 (given coefficients) | coeffs X0 Y0 .. Y3 (print them) | brightness F |
 *      contrast F | saturation F | hue F | gray N
 *   tf_tool params KIND N H W     N parameter draws of a random transform, one line each, from
 *      the per-sample generators rng_seed3(1, 7, i): KIND rrc (top left h w of
 *      RandomResizedCrop((H, W)) defaults) | rrc50 (scale=(0.5, 1)) | persp (8 end coordinates,
 *      distortion_scale 0.4) | rotation (angle, degrees=15) | jitter (4 factors: 0.3, 0.3,
 *      0.3, 0.05; then the order) | crop (top left of RandomCrop((H / 2, W / 3))) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "runtime/data.h"
#include "runtime/transforms/pil.h"

static Image *new_image(Image *out, int w, int h, int c)
{
    *out = (Image){ w, h, c, calloc((size_t)w * h * c, 1) };
    return out;
}
#define NEW(W, H, C) new_image(&out, (W), (H), (C))

static int usage(void)
{
    fprintf(stderr, "usage: tf_tool IN.png C OUT.png OP ARGS... (see the source)\n");
    return 2;
}

static int params(const char *kind, int n, int h, int w)
{
    Transform rrc = { .kind = TF_RANDOM_RESIZED_CROP, .size = { 10, 10 }, .scale = { 0.08, 1.0 },
                      .ratio = { 3.0 / 4.0, 4.0 / 3.0 } };
    Transform persp = { .kind = TF_PERSPECTIVE, .distortion = 0.4, .p = 1.0 };
    Transform rot = { .kind = TF_ROTATION, .degrees = { -15, 15 } };
    Transform jit = { .kind = TF_COLOR_JITTER, .has_jitter = { 1, 1, 1, 1 },
                      .jitter = { { 0.7, 1.3 }, { 0.7, 1.3 }, { 0.7, 1.3 }, { -0.05, 0.05 } } };
    if (!strcmp(kind, "rrc50")) rrc.scale[0] = 0.5;
    for (int i = 0; i < n; i++) {
        Rng r;
        rng_seed3(&r, 1, 7, (uint64_t)i);
        if (!strncmp(kind, "rrc", 3)) {
            int t, l, ch, cw;
            resized_crop_box(&rrc, h, w, &r, &t, &l, &ch, &cw);
            printf("%d %d %d %d\n", t, l, ch, cw);
        } else if (!strcmp(kind, "persp")) {
            int st[4][2], en[4][2];
            perspective_points(&persp, w, h, &r, st, en);
            for (int k = 0; k < 8; k++) printf("%d%c", en[k / 2][k % 2], k == 7 ? '\n' : ' ');
        } else if (!strcmp(kind, "rotation")) {
            printf("%.9g\n", rotation_angle(&rot, &r));
        } else if (!strcmp(kind, "jitter")) {
            int order[4];
            double f[4];
            jitter_params(&jit, &r, order, f);
            printf("%.9g %.9g %.9g %.9g %d%d%d%d\n", f[0], f[1], f[2], f[3], order[0], order[1], order[2], order[3]);
        } else if (!strcmp(kind, "crop")) {
            int t, l;
            random_crop_offset(h, w, h / 2, w / 3, &r, &t, &l);
            printf("%d %d\n", t, l);
        } else {
            return usage();
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "params")) return params(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc < 5) return usage();
    Error e;
    Image in, out = { 0 };
    if (image_load(argv[1], atoi(argv[2]), &in, &e)) {
        fprintf(stderr, "tf_tool: %s\n", e.msg);
        return 1;
    }
    const char *op = argv[4];
    char **a = argv + 5;
    int na = argc - 5;
    TfScratch s = { 0 };
    uint8_t fill[4] = { 0 };
    if (!strcmp(op, "hflip")) pil_hflip(NEW(in.w, in.h, in.c), &in);
    else if (!strcmp(op, "vflip")) pil_vflip(NEW(in.w, in.h, in.c), &in);
    else if (!strcmp(op, "resize") && na == 2) pil_resize_bilinear(NEW(atoi(a[0]), atoi(a[1]), in.c), &in, &s);
    else if (!strcmp(op, "crop") && na == 4) pil_crop(NEW(atoi(a[3]), atoi(a[2]), in.c), &in, atoi(a[0]), atoi(a[1]));
    else if (!strcmp(op, "centercrop") && na == 2) {
        Transform t = { .kind = TF_CENTER_CROP, .size = { atoi(a[0]), atoi(a[1]) } };
        Pipeline p = { &t, 1 };
        Image r;
        if (pipeline_run_image(&p, &in, &r, NULL, &s, &e)) return fprintf(stderr, "tf_tool: %s\n", e.msg), 1;
        NEW(r.w, r.h, r.c);
        memcpy(out.px, r.px, (size_t)r.w * r.h * r.c);
    } else if (!strcmp(op, "pad") && na == 5) {
        int l = atoi(a[0]), t = atoi(a[1]), r = atoi(a[2]), b = atoi(a[3]);
        memset(fill, 7, sizeof fill);
        pil_pad(NEW(in.w + l + r, in.h + t + b, in.c), &in, l, t, (PadMode)atoi(a[4]), fill);
    } else if (!strcmp(op, "rotate") && (na == 2 || na == 4)) {
        memset(fill, atoi(a[1]), sizeof fill);
        double c[2] = { na == 4 ? atof(a[2]) : 0, na == 4 ? atof(a[3]) : 0 };
        pil_rotate(NEW(in.w, in.h, in.c), &in, atof(a[0]), na == 4 ? c : NULL, fill);
    } else if (!strcmp(op, "perspective") && na == 10) {
        memset(fill, atoi(a[1]), sizeof fill);
        int start[4][2] = { { 0, 0 }, { in.w - 1, 0 }, { in.w - 1, in.h - 1 }, { 0, in.h - 1 } }, end[4][2];
        for (int i = 0; i < 4; i++) end[i][0] = atoi(a[2 + 2 * i]), end[i][1] = atoi(a[3 + 2 * i]);
        double coeffs[8];
        if (perspective_coeffs(start, end, coeffs)) return fprintf(stderr, "tf_tool: degenerate points\n"), 1;
        pil_perspective(NEW(in.w, in.h, in.c), &in, coeffs, atoi(a[0]), fill);
    } else if (!strcmp(op, "warp") && na == 10) {
        memset(fill, atoi(a[1]), sizeof fill);
        double coeffs[8];
        for (int i = 0; i < 8; i++) coeffs[i] = atof(a[2 + i]);
        pil_perspective(NEW(in.w, in.h, in.c), &in, coeffs, atoi(a[0]), fill);
    } else if (!strcmp(op, "coeffs") && na == 8) {
        int start[4][2] = { { 0, 0 }, { in.w - 1, 0 }, { in.w - 1, in.h - 1 }, { 0, in.h - 1 } }, end[4][2];
        for (int i = 0; i < 4; i++) end[i][0] = atoi(a[2 * i]), end[i][1] = atoi(a[1 + 2 * i]);
        double coeffs[8];
        if (perspective_coeffs(start, end, coeffs)) return fprintf(stderr, "tf_tool: degenerate points\n"), 1;
        for (int i = 0; i < 8; i++) printf("%.17g%c", coeffs[i], i == 7 ? '\n' : ' ');
        free(in.px);
        return 0;
    } else if (na == 1 && (!strcmp(op, "brightness") || !strcmp(op, "contrast") || !strcmp(op, "saturation") ||
                           !strcmp(op, "hue"))) {
        out = in;
        in.px = NULL;
        double f = atof(a[0]);
        if (op[0] == 'b') pil_adjust_brightness(&out, f);
        else if (op[0] == 'c') pil_adjust_contrast(&out, f);
        else if (op[0] == 's') pil_adjust_saturation(&out, f);
        else pil_adjust_hue(&out, f);
    } else if (!strcmp(op, "gray") && na == 1) pil_grayscale(NEW(in.w, in.h, atoi(a[0])), &in);
    else return usage();
    int ok = stbi_write_png(argv[3], out.w, out.h, out.c, out.px, out.w * out.c);
    free(in.px);
    free(out.px);
    tf_scratch_free(&s);
    if (!ok) return fprintf(stderr, "tf_tool: cannot write %s\n", argv[3]), 1;
    return 0;
}
