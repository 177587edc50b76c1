/* tests/fuzz/fuzz_model.c: libFuzzer harness for model files and checkpoints: the input is
 * a file's bytes, parsed by safetensors_parse and loaded into a fixed model's bound graph
 * (model_load_values, with and without the optimizer state), its class names read
 * (model_classes) and restored as a checkpoint (checkpoint_restore). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/frontend/check.h"
#include "compiler/driver/checkpoint.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/modelfile.h"

/* the model every input is loaded into: conv, pool, linear, dropout and Adam's moments */
static const char model_src[] =
    "model Fixed {\n"
    "    input [1, 6, 6]\n"
    "    features = Sequential(Conv2d(1, 2, kernel_size=3, padding=1), ReLU(), MaxPool2d(2))\n"
    "    classifier = Sequential(Flatten(), Dropout(p=0.5), Linear(18, 3))\n"
    "}\n"
    "criterion = CrossEntropyLoss()\n"
    "optimizer = Adam(lr=0.001)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

char fuzz_last_error[1024];    /* the last input's first error, for replay -v */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Graph *g;
    if (!g) {
        Program p;
        if (check_source("fixed.cnn", model_src, sizeof model_src - 1, NULL, &p, stderr) < 0) abort();
        Error e;
        LowerOptions lo = { .batch = 1, .training = 1 };
        g = lower_program(&p, &lo, &e);
        if (!g) abort();
        PlanStats st;
        plan_memory(g, &st);
        graph_bind(g);
        program_free(&p);
    }
    char *buf = malloc(size ? size : 1);
    if (size) memcpy(buf, data, size);
    StFile f;
    Error e;
    if (safetensors_parse(&f, "fuzz.safetensors", buf, size, &e) < 0) {   /* took buf */
        snprintf(fuzz_last_error, sizeof fuzz_last_error, "%s", e.msg);
        return 0;
    }
    if (model_load_values(g, &f, "fuzz.safetensors", 0, &e) < 0)
        snprintf(fuzz_last_error, sizeof fuzz_last_error, "%s", e.msg);
    model_load_values(g, &f, "fuzz.safetensors", 1, &e);
    char **names;
    int n;
    if (model_classes(&f, &names, &n, &e) == 0) {
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
    }
    TrainState ts;
    checkpoint_restore(&f, "fuzz.safetensors", g, model_src, &ts, &e);
    free(ts.history);
    safetensors_free(&f);
    return 0;
}
