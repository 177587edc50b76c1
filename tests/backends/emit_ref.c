/* tests/backends/emit_ref.c: what --emit-c's code must reproduce, from cnnc's own runtime.
 *   emit_ref MODEL.cnn WEIGHTS IMG...   per image: "class p0 p1 ..." (the probabilities of
 *                                       --predict at full precision), then "input x0 x1 ..."
 *                                       (the eval transform's tensor)
 *   emit_ref --png MODEL.cnn OUT.png SEED [W H]   writes an RGB test image (the model's input
 *                                       size unless given): smooth gradients plus noise */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/driver/train.h"
#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/data.h"
#include "runtime/exec.h"
#include "runtime/modelfile.h"
#include "runtime/png.h"
#include "runtime/rng.h"

static int write_png(const Program *p, const char *out, unsigned seed, int w, int h)
{
    Error e;
    uint8_t *px = xmalloc((size_t)w * (size_t)h * 3);
    Rng r;
    rng_seed3(&r, seed, 7, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int v = (int)((x * (c + 1) * 255) / w + (y * (3 - c) * 255) / h) / 2 + (int)rng_below(&r, 64) - 32;
                px[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    (void)p;
    int rc = png_write(out, px, w, h, 3, &e);
    if (rc < 0) fprintf(stderr, "emit_ref: %s\n", e.msg);
    free(px);
    return rc < 0;
}

int main(int argc, char **argv)
{
    Program p;
    CheckOptions co = { .require_classifier = 1 };
    int png = argc > 1 && strcmp(argv[1], "--png") == 0;
    if (argc < 4 + png) {
        fprintf(stderr, "usage: emit_ref MODEL.cnn WEIGHTS IMG... | emit_ref --png MODEL.cnn OUT.png SEED [W H]\n");
        return 2;
    }
    if (check_file(argv[1 + png], &co, &p, stderr) < 0) return 1;
    if (png) {
        int rc = write_png(&p, argv[3], (unsigned)atoi(argv[4]), argc > 6 ? atoi(argv[5]) : p.in_shape[2],
                           argc > 6 ? atoi(argv[6]) : p.in_shape[1]);
        program_free(&p);
        return rc;
    }
    Error e;
    LowerOptions lo = { .batch = 1 };
    Graph *g = lower_program(&p, &lo, &e);
    if (!g) return fprintf(stderr, "emit_ref: %s\n", e.msg), 1;
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    exec_set_threads(g, 1);
    if (model_load(g, argv[2], NULL, &e) < 0) return fprintf(stderr, "emit_ref: %s\n", e.msg), 1;
    const DatasetDecl *d = p.validation.present ? &p.validation : p.test.present ? &p.test : &p.train;
    int C = p.in_shape[0], H = p.in_shape[1], W = p.in_shape[2];
    for (int i = 3; i < argc; i++) {
        Image img;
        Rng r;
        rng_seed3(&r, 0, 3, 0);
        if (image_load(argv[i], d->present && d->kind == DS_IMAGEFOLDER ? d->load_channels : C, &img, &e) < 0 ||
            pipeline_apply(&d->transform, &img, vf32(g, g->input), C, H, W, &r, &e) < 0) {
            fprintf(stderr, "emit_ref: %s\n", e.msg);
            return 1;
        }
        vi32(g, g->label)[0] = 0;
        g->training = 0;
        exec_run(g, PHASE_FORWARD);
        const float *pr = vf32(g, g->probs);
        int k = g->vals[g->probs].shape[1], best = 0;
        for (int j = 1; j < k; j++)
            if (pr[j] > pr[best]) best = j;
        printf("%d", best);
        for (int j = 0; j < k; j++) printf(" %.9g", (double)pr[j]);
        printf("\ninput");
        for (int j = 0; j < C * H * W; j++) printf(" %.9g", (double)vf32(g, g->input)[j]);
        printf("\n");
    }
    graph_free(g);
    program_free(&p);
    return 0;
}
