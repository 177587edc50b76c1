/* tests/backends/onnx_ref.c: what --predict computes for each image, in full precision, for
 * test_onnx_export.py to hold OpenCV's run of the ONNX export against: the same lowering,
 * model file and predict_images (image decoding, the eval transform, the forward pass),
 * one image at a time; after each, the input tensor it fed and the probabilities it read
 * are appended to OUT as raw float32 (native byte order).
 *   usage: onnx_ref MODEL.cnn WEIGHTS.safetensors OUT.f32 IMAGE... */
#include <stdio.h>
#include <stdlib.h>

#include "compiler/driver/train.h"
#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/modelfile.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: onnx_ref MODEL.cnn WEIGHTS.safetensors OUT.f32 IMAGE...\n");
        return 2;
    }
    Program p;
    CheckOptions co = { .require_classifier = 1 };
    if (check_file(argv[1], &co, &p, stderr) < 0) return 1;
    LowerOptions lo = { .batch = 1 };
    Error e;
    Graph *g = lower_program(&p, &lo, &e);
    StFile mf;
    if (!g) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    exec_set_threads(g, 1);
    if (model_load(g, argv[2], &mf, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    FILE *out = fopen(argv[3], "wb"), *devnull = fopen("/dev/null", "w");
    int rc = !out || !devnull;
    for (int i = 4; i < argc && !rc; i++) {
        int bad = 0;
        predict_images(&p, g, NULL, 0, &argv[i], 1, 0, &bad, devnull);
        rc = bad != 0;
        const Value *in = &g->vals[g->input], *pr = &g->vals[g->probs];
        rc = rc || fwrite(in->data, sizeof(float), value_numel(in), out) != value_numel(in) ||
             fwrite(pr->data, sizeof(float), value_numel(pr), out) != value_numel(pr);
    }
    if (out && fclose(out)) rc = 1;
    if (devnull) fclose(devnull);
    safetensors_free(&mf);
    graph_free(g);
    program_free(&p);
    return rc;
}
