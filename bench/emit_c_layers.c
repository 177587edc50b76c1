/* bench/emit_c_layers.c: where the time of the code `cnnc --emit-c` wrote goes, layer by
 * layer. bench/emit_c.sh layers writes a copy of the generated file with a call
 * emit_c_mark("LABEL: op") before each layer's code and emit_c_mark(0) after the last, and
 * builds it with this file (-DPREFIX=name -DUPPER=NAME -DHEADER='"model.h"'); this runs
 * NAME_predict RUNS times on a fixed input and prints, for each layer, the least CPU time
 * (of this thread) it took in a run, in ms, and its share of their sum.
 * usage: emit_c_layers WEIGHTS.bin RUNS */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>

#include "bench_clock.h"

#include HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(PREFIX, x)
#define K(x) CAT(UPPER, x)
#define MAX_LAYERS 512

static float input[K(_INPUT_SIZE)], probs[K(_NUM_CLASSES)];
static float blob[K(_WEIGHTS_SIZE) / sizeof(float)];
static const char *name[MAX_LAYERS];
static double best[MAX_LAYERS], last;
static int cur = -1;

void emit_c_mark(const char *label);
void emit_c_mark(const char *label)
{
    double t = bench_seconds(CLOCK_THREAD_CPUTIME_ID);
    if (cur >= 0 && (best[cur] == 0 || t - last < best[cur])) best[cur] = t - last;
    cur = label && cur + 1 < MAX_LAYERS ? cur + 1 : -1;
    if (cur >= 0) name[cur] = label;
    last = bench_seconds(CLOCK_THREAD_CPUTIME_ID);
}

int main(int argc, char **argv)
{
    int i, n = argc > 2 ? atoi(argv[2]) : 0;
    double sum = 0;
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (!f || fread(blob, 1, sizeof blob, f) != sizeof blob || FN(_set_weights)(blob, sizeof blob)) n = 0;
    if (f) fclose(f);
    if (n < 1) {
        fprintf(stderr, "usage: emit_c_layers WEIGHTS.bin RUNS\n");
        return 2;
    }
    for (i = 0; i < K(_INPUT_SIZE); i++) input[i] = (float)(i % 17) / 17.0f - 0.5f;
    for (i = 0; i < n; i++) FN(_predict)(input, probs);
    for (i = 0; i < MAX_LAYERS && name[i]; i++) sum += best[i];
    for (i = 0; i < MAX_LAYERS && name[i]; i++)
        printf("%9.3f ms %5.1f%%  %s\n", best[i] * 1e3, 100 * best[i] / sum, name[i]);
    printf("%9.3f ms         the sum (least CPU time of each layer over %d runs)\n", sum * 1e3, n);
    return 0;
}
