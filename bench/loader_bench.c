/* bench/loader_bench.c: images per second of cnnc's data loader alone (decode + the .cnn
 * file's training transform + batching; no model), for bench/loader.sh:
 *   loader_bench FILE.cnn ROOT WORKERS REPEATS [CACHE_MB]
 * reads ImageFolder(ROOT) with train_dataset's transform from FILE.cnn, batch size from the
 * file, shuffled; times REPEATS epochs and prints one line per epoch and the median. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/bench_clock.h"
#include "compiler/frontend/check.h"
#include "runtime/data.h"

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: loader_bench FILE.cnn ROOT WORKERS REPEATS [CACHE_MB]\n");
        return 2;
    }
    int workers = atoi(argv[3]), repeats = atoi(argv[4]), cache_mb = argc == 6 ? atoi(argv[5]) : 0;
    Program p;
    CheckOptions co = { .require_training = 1 };
    if (check_file(argv[1], &co, &p, stderr)) return 1;
    Dataset ds;
    Error e;
    if (dataset_open_imagefolder(&ds, argv[2], p.train.load_channels, &e)) {
        fprintf(stderr, "loader_bench: %s\n", e.msg);
        return 1;
    }
    dataset_set_cache(&ds, (size_t)cache_mb << 20);
    int C = p.in_shape[0], H = p.in_shape[1], W = p.in_shape[2], bs = p.train.batch_size;
    LoaderOptions o = { .workers = workers };
    DataLoader dl;
    if (dataloader_init_opts(&dl, &ds, &p.train.transform, bs, 1, 1, C, H, W, &o, &e)) {
        fprintf(stderr, "loader_bench: %s\n", e.msg);
        return 1;
    }
    float *x = malloc((size_t)bs * C * H * W * sizeof *x);
    int32_t *y = malloc((size_t)bs * sizeof *y);
    double *rate = malloc((size_t)repeats * sizeof *rate);
    int rc = 0;
    for (int r = 0; r < repeats && !rc; r++) {
        double t0 = bench_now();
        dataloader_begin_epoch(&dl, r);
        int n, images = 0;
        while ((n = dataloader_next(&dl, x, y, &e)) > 0) images += n;
        if (n < 0) {
            fprintf(stderr, "loader_bench: %s\n", e.msg);
            rc = 1;
        }
        rate[r] = images / (bench_now() - t0);
        printf("epoch %d: %d images, %.0f images/s\n", r + 1, images, rate[r]);
    }
    qsort(rate, (size_t)repeats, sizeof *rate, bench_cmp_double);
    if (!rc) printf("median %.1f images/s\n", rate[repeats / 2]);
    dataloader_free(&dl);
    dataset_free(&ds);
    program_free(&p);
    free(x);
    free(y);
    free(rate);
    return rc;
}
