/* bench/emit_c_time.c: times the code `cnnc --emit-c` wrote, on a fixed input: single-image
 * latency (NAME_predict, median of REPEATS) and batch-16 throughput (BATCHES times 16 images
 * one after another, as the generated code runs one image a call; BATCHES defaults to
 * REPEATS). Prints "emit-c latency_ms images_per_s". Built by bench/emit_c.sh with
 * -DPREFIX=name -DUPPER=NAME -DHEADER='"model.h"', and -DWEIGHTS_BIN when the weights are
 * in a file (--weights-bin) rather than in the code (--quantize int8). INPUTS=FILE in the
 * environment: the inputs are FILE's tensors (raw float32, the model's input size each) in turn
 * (bench/emit_c.sh trained), not the fixed one.
 * usage: emit_c_time [WEIGHTS.bin] REPEATS [BATCHES] */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_clock.h"

#include HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(PREFIX, x)
#define K(x) CAT(UPPER, x)

static float input[K(_INPUT_SIZE)], inputs[64][K(_INPUT_SIZE)], probs[K(_NUM_CLASSES)];
#ifdef WEIGHTS_BIN
static float blob[K(_WEIGHTS_SIZE) / sizeof(float)];
#define ARGS 1
#else
#define ARGS 0
#endif

int main(int argc, char **argv)
{
    int i, k, ni = 0, n = argc > 1 + ARGS ? atoi(argv[1 + ARGS]) : 0, b = argc > 2 + ARGS ? atoi(argv[2 + ARGS]) : n;
    double *t, t0;
    FILE *f;
#ifdef WEIGHTS_BIN
    f = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (!f || fread(blob, 1, sizeof blob, f) != sizeof blob || FN(_set_weights)(blob, sizeof blob)) n = 0;
    if (f) fclose(f);
#endif
    if (n < 1 || b < 1) {
        fprintf(stderr, "usage: emit_c_time %sREPEATS [BATCHES]\n", ARGS ? "WEIGHTS.bin " : "");
        return 2;
    }
    for (i = 0; i < K(_INPUT_SIZE); i++) input[i] = (float)(i % 17) / 17.0f - 0.5f;
    if (getenv("INPUTS")) {
        f = fopen(getenv("INPUTS"), "rb");
        for (ni = 0; f && ni < 64 && fread(inputs[ni], sizeof inputs[ni], 1, f) == 1; ni++) continue;
        if (f) fclose(f);
        if (ni == 0) {
            fprintf(stderr, "emit_c_time: no input tensor in %s\n", getenv("INPUTS"));
            return 2;
        }
    }
    FN(_predict)(input, probs);     /* warm */
    t = malloc((size_t)n * sizeof *t);
    for (i = 0; i < n; i++) {
        const float *x = ni ? inputs[i % ni] : input;
        t0 = bench_now();
        FN(_predict)(x, probs);
        t[i] = bench_now() - t0;
    }
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    t0 = bench_now();
    for (i = 0; i < b; i++)
        for (k = 0; k < 16; k++) FN(_predict)(ni ? inputs[(i * 16 + k) % ni] : input, probs);
    printf("emit-c %.3f %.4g\n", t[n / 2] * 1e3, 16.0 * b / (bench_now() - t0));
    free(t);
    return 0;
}
