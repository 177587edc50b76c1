/* bench/emit_c_mnist.c: the accuracy and single-image latency of the code `cnnc --emit-c`
 * wrote for a (Fashion-)MNIST model, on the IDX test files (uncompressed): each 28x28 image
 * as RGB through NAME_preprocess_rgb8 and NAME_predict. Prints "correct/total accuracy%
 * median_latency_ms". Built with -DPREFIX=name -DUPPER=NAME -DHEADER='"model.h"'.
 * usage: emit_c_mnist IMAGES-idx3-ubyte LABELS-idx1-ubyte */
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

static float input[K(_INPUT_SIZE)], probs[K(_NUM_CLASSES)];

int main(int argc, char **argv)
{
    FILE *fi = argc == 3 ? fopen(argv[1], "rb") : NULL, *fl = argc == 3 ? fopen(argv[2], "rb") : NULL;
    unsigned char head[16], px[28 * 28], rgb[28 * 28 * 3];
    int n, i, k, correct = 0;
    double *t;
    if (!fi || !fl || fread(head, 1, 16, fi) != 16 || fread(head + 8, 1, 8, fl) != 8) {
        fprintf(stderr, "usage: emit_c_mnist IMAGES-idx3-ubyte LABELS-idx1-ubyte\n");
        return 2;
    }
    n = head[4] << 24 | head[5] << 16 | head[6] << 8 | head[7];
    t = malloc((size_t)n * sizeof *t);
    for (i = 0; i < n; i++) {
        int label = getc(fl);
        double t0;
        if (fread(px, 1, sizeof px, fi) != sizeof px || label == EOF) return 1;
        for (k = 0; k < 28 * 28; k++) rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] = px[k];
        t0 = bench_now();
        FN(_preprocess_rgb8)(rgb, 28, 28, 28 * 3, input);
        correct += FN(_predict)(input, probs) == label;
        t[i] = bench_now() - t0;
    }
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    printf("%d/%d %.2f%% %.3f\n", correct, n, 100.0 * correct / n, t[n / 2] * 1e3);
    return 0;
}
