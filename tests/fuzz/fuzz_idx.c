/* tests/fuzz/fuzz_idx.c: libFuzzer harness for the MNIST/FashionMNIST IDX reader: the input is
 * [4-byte little-endian length L][L bytes: the images file][the rest: the labels file], each
 * written under a scratch folder with torchvision's MNIST file names (gzipped or not: zlib
 * reads both) and opened with dataset_open_mnist; every sample of a set that opens is read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

char fuzz_last_error[1024];    /* the last input's first error, for replay -v */

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static char dir[64], ip[128], lp[128];

static void remove_scratch(void)
{
    unlink(ip);
    unlink(lp);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/cnnc_fuzz_idx_%ld", (long)getpid());
        if (mkdir(dir, 0700) != 0) abort();
        snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte", dir);
        snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte", dir);
        atexit(remove_scratch);
    }
    if (size < 4) return 0;
    uint32_t L = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    size_t rest = size - 4, n = L < rest ? L : rest;
    if (write_file(ip, data + 4, n) || write_file(lp, data + 4 + n, rest - n)) abort();
    Dataset ds;
    Error e;
    if (dataset_open_mnist(&ds, dir, 0, 1, &e) < 0) {
        snprintf(fuzz_last_error, sizeof fuzz_last_error, "%s", e.msg);
        return 0;
    }
    for (int i = 0; i < ds.n && i < 64; i++) {
        Image img;
        int target;
        if (ds.get(&ds, i, &img, &target, &e) == 0) image_free(&img);
    }
    dataset_free(&ds);
    return 0;
}
