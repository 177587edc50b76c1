/* tests/data/test_dataloader.c: tests runtime/dataloader.c and runtime/samplecache.c: batch
 * sizes with the partial last batch, every sample once per epoch, shuffles repeatable per
 * (seed, epoch), errors that name the sample's file, a loader over a real ImageFolder; with
 * worker threads: the same batches with 0, 1 and 3 workers under the notebook's random
 * augmentation, the decoded-image cache, --skip-bad-images, and early shutdown; a
 * data-parallel run's shares of each batch. */
#include <stdlib.h>
#include <string.h>

#include "runtime/data.h"
#include "tests/data/datatest.h"
#include "tests/test.h"

/* An in-memory data set: sample i is a 2 x 3 image whose pixels are all i, of class i % 4;
 * sample `bad_size` (if >= 0) comes out 3 x 3. */
static int bad_size = -1;

static int fake_get(const Dataset *ds, int i, Image *img, int *target, Error *e)
{
    (void)e;
    int w = i == bad_size ? 3 : 2, h = 3;
    img->w = w;
    img->h = h;
    img->c = ds->channels;
    img->px = malloc((size_t)w * h * ds->channels);
    memset(img->px, i, (size_t)w * h * ds->channels);
    *target = i % 4;
    return 0;
}

static const char *fake_path(const Dataset *ds, int i)
{
    (void)ds;
    static char buf[64];
    snprintf(buf, sizeof buf, "fake/%d.png", i);
    return buf;
}

static Dataset fake(int n)
{
    Dataset ds = { .n = n, .nclasses = 4, .channels = 1, .get = fake_get, .path = fake_path };
    strcpy(ds.root, "fake");
    return ds;
}

/* Runs one epoch; fills order[] with the samples in the order seen. Returns the count. */
static int run_epoch(DataLoader *dl, int epoch, int *order, int *batches, int *sizes)
{
    float x[7 * 6];
    int32_t y[7];
    Error e;
    int seen = 0, k;
    *batches = 0;
    dataloader_begin_epoch(dl, epoch);
    while ((k = dataloader_next(dl, x, y, &e)) > 0) {
        sizes[(*batches)++] = k;
        for (int j = 0; j < k; j++) {
            int i = (int)(x[j * 6] * 255.0f + 0.5f);
            CHECK(y[j] == i % 4, "target of sample %d is %d", i, y[j]);
            for (int q = 1; q < 6; q++) CHECK(x[j * 6 + q] == x[j * 6], "sample %d's pixels differ", i);
            order[seen++] = i;
        }
    }
    CHECK(k == 0, "epoch ended with %d: %s", k, e.msg);
    CHECK(dataloader_next(dl, x, y, &e) == 0, "next after the end is 0");
    return seen;
}

static void test_batches(void)
{
    const int n = 23;
    Dataset ds = fake(n);
    DataLoader dl, dl2, dl3;
    Error e;
    CHECK(dataloader_init(&dl, &ds, NULL, 7, 1, 42, 1, 3, 2, &e) == 0, "init: %s", e.msg);
    CHECK(dataloader_num_batches(&dl) == 4, "num batches %d", dataloader_num_batches(&dl));
    int o1[23], o2[23], o3[23], nb, sizes[8];
    CHECK(run_epoch(&dl, 0, o1, &nb, sizes) == n, "epoch 0 count");
    CHECK(nb == 4 && sizes[0] == 7 && sizes[1] == 7 && sizes[2] == 7 && sizes[3] == 2, "sizes 7 7 7 2: %d batches", nb);
    int seen[23] = { 0 };
    for (int i = 0; i < n; i++) seen[o1[i]]++;
    int once = 1;
    for (int i = 0; i < n; i++) once &= seen[i] == 1;
    CHECK(once, "every sample exactly once");
    int identity = 1;
    for (int i = 0; i < n; i++) identity &= o1[i] == i;
    CHECK(!identity, "shuffled");

    /* same (seed, epoch): same order, whether from a fresh loader or the same one later */
    CHECK(dataloader_init(&dl2, &ds, NULL, 7, 1, 42, 1, 3, 2, &e) == 0, "init: %s", e.msg);
    run_epoch(&dl2, 0, o2, &nb, sizes);
    CHECK(memcmp(o1, o2, sizeof o1) == 0, "same seed and epoch, same order");
    run_epoch(&dl, 1, o2, &nb, sizes);
    CHECK(memcmp(o1, o2, sizeof o1) != 0, "a different order in epoch 1");
    run_epoch(&dl, 0, o3, &nb, sizes);
    CHECK(memcmp(o1, o3, sizeof o1) == 0, "epoch 0 again, same order");
    /* another seed, another order */
    CHECK(dataloader_init(&dl3, &ds, NULL, 7, 1, 43, 1, 3, 2, &e) == 0, "init: %s", e.msg);
    run_epoch(&dl3, 0, o3, &nb, sizes);
    CHECK(memcmp(o1, o3, sizeof o1) != 0, "seed 43 differs from seed 42");
    /* the order is the identity shuffled by rng_shuffle on rng_seed3(seed, epoch, 0) */
    int want[23];
    for (int i = 0; i < n; i++) want[i] = i;
    Rng r;
    rng_seed3(&r, 42, 1, 0);
    rng_shuffle(&r, want, n);
    CHECK(memcmp(o2, want, sizeof want) == 0, "epoch 1 order from rng_seed3(42, 1, 0)");
    dataloader_free(&dl);
    dataloader_free(&dl2);
    dataloader_free(&dl3);

    /* no shuffle: the data set's order, every epoch; a batch as large as the set */
    CHECK(dataloader_init(&dl, &ds, NULL, 5, 0, 42, 1, 3, 2, &e) == 0, "init: %s", e.msg);
    for (int ep = 0; ep < 2; ep++) {
        run_epoch(&dl, ep, o1, &nb, sizes);
        identity = 1;
        for (int i = 0; i < n; i++) identity &= o1[i] == i;
        CHECK(identity && nb == 5 && sizes[4] == 3, "no shuffle keeps order; 5 batches, the last of 3");
    }
    dataloader_free(&dl);
    Dataset small = fake(7);
    CHECK(dataloader_init(&dl, &small, NULL, 7, 1, 1, 1, 3, 2, &e) == 0, "init: %s", e.msg);
    CHECK(run_epoch(&dl, 3, o1, &nb, sizes) == 7 && nb == 1 && sizes[0] == 7, "one full batch");
    dataloader_free(&dl);

    /* bad arguments */
    CHECK(dataloader_init(&dl, &ds, NULL, 0, 1, 1, 1, 3, 2, &e) == -1 && strstr(e.msg, "batch size must be at least 1"),
          "batch 0: %s", e.msg);
    Dataset none = fake(0);
    CHECK(dataloader_init(&dl, &none, NULL, 2, 1, 1, 1, 3, 2, &e) == -1 && strstr(e.msg, "empty"), "empty: %s", e.msg);
}

static void test_bad_sample(void)
{
    Dataset ds = fake(10);
    DataLoader dl;
    Error e;
    float x[4 * 6];
    int32_t y[4];
    bad_size = 5;
    CHECK(dataloader_init(&dl, &ds, NULL, 4, 0, 1, 1, 3, 2, &e) == 0, "init: %s", e.msg);
    CHECK(dataloader_next(&dl, x, y, &e) == 4, "first batch");
    CHECK(dataloader_next(&dl, x, y, &e) == -1, "second batch has the bad sample");
    CHECK(strcmp(e.msg, "fake/5.png: the image is 3x3 but the model expects 2x3: add Resize((3, 2)) to the transform "
                        "or resize the images") == 0, "message '%s'", e.msg);
    dataloader_free(&dl);
    bad_size = -1;
}

/* A loader over files: ImageFolder + ToTensor + Normalize, as the notebook uses them. */
static void test_imagefolder_loader(void)
{
    make_test_tmp("dataloader");
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++) {
            char rel[64];
            snprintf(rel, sizeof rel, "train/%d/%d.png", c, i);
            if (i == 0) {
                char d[32];
                snprintf(d, sizeof d, "train/%d", c);
                mkdirs(d);
            }
            write_png_fill(rel, 5, 4, 3, (uint8_t)(c * 100 + i));
        }
    write_png_fill("train/2/9.png", 4, 4, 3, 1);
    Dataset ds;
    Error e;
    CHECK(dataset_open_imagefolder(&ds, tp("train"), 3, &e) == 0, "open: %s", e.msg);
    Transform steps[2] = { { .kind = TF_TO_TENSOR },
                           { .kind = TF_NORMALIZE, .nch = 3, .mean = { 0.5f, 0.5f, 0.5f }, .std = { 0.5f, 0.5f, 0.5f } } };
    Pipeline p = { steps, 2 };
    DataLoader dl;
    CHECK(dataloader_init(&dl, &ds, &p, 5, 0, 7, 3, 4, 5, &e) == 0, "init: %s", e.msg);
    float x[5 * 3 * 4 * 5];
    int32_t y[5];
    CHECK(dataloader_next(&dl, x, y, &e) == 5, "batch 1: %s", e.msg);
    CHECK(y[0] == 0 && y[3] == 0 && y[4] == 1, "targets %d %d %d", y[0], y[3], y[4]);
    CHECK(x[0] == -1.0f && x[4 * 60] == ((float)100 / 255.0f - 0.5f) / 0.5f, "values %g %g", x[0], x[4 * 60]);
    CHECK(dataloader_next(&dl, x, y, &e) == 5, "batch 2: %s", e.msg);
    CHECK(dataloader_next(&dl, x, y, &e) == -1, "batch 3 has the 4x4 image");
    char want[1200];
    snprintf(want, sizeof want, "%s: the image is 4x4 but the model expects 5x4", tp("train/2/9.png"));
    CHECK(strstr(e.msg, want) == e.msg, "message '%s'", e.msg);
    dataloader_free(&dl);
    dataset_free(&ds);
    remove_test_tmp();
}

/* ---- worker threads ---- */

/* sample i: a 20 x 16 RGB image of pseudo-random pixels from i, class i % 3; sample
 * `broken` fails to decode. Decodes are counted. */
enum { AUG_N = 37, AUG_W = 20, AUG_H = 16 };
static int broken = -1, decodes;
static char aug_paths[AUG_N][32];

static int aug_get(const Dataset *ds, int i, Image *img, int *target, Error *e)
{
    (void)ds;
    __atomic_fetch_add(&decodes, 1, __ATOMIC_RELAXED);
    if (i == broken) return err_set(e, "aug/%d.png: cannot decode image (the file is truncated): re-export it", i);
    *img = (Image){ AUG_W, AUG_H, 3, malloc(AUG_W * AUG_H * 3) };
    uint32_t x = 2463534242u + (uint32_t)i * 7919u;
    for (int k = 0; k < AUG_W * AUG_H * 3; k++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        img->px[k] = (uint8_t)x;
    }
    *target = i % 3;
    return 0;
}

static const char *aug_path(const Dataset *ds, int i)
{
    (void)ds;
    return aug_paths[i];
}

static Dataset aug_set(void)
{
    Dataset ds = { .n = AUG_N, .nclasses = 3, .channels = 3, .get = aug_get, .path = aug_path };
    strcpy(ds.root, "aug");
    for (int i = 0; i < AUG_N; i++) snprintf(aug_paths[i], sizeof aug_paths[i], "aug/%d.png", i);
    return ds;
}

/* the notebook's train_transform_augmented */
static Transform jitter_persp[2] = {
    { .kind = TF_COLOR_JITTER, .has_jitter = { 1, 1, 1, 1 },
      .jitter = { { 0.7, 1.3 }, { 0.7, 1.3 }, { 0.7, 1.3 }, { -0.05, 0.05 } } },
    { .kind = TF_PERSPECTIVE, .distortion = 0.4, .p = 1.0, .bilinear = 1 },
};
static Transform notebook[6] = {
    { .kind = TF_HFLIP, .p = 0.5 }, { .kind = TF_VFLIP, .p = 0.5 }, { .kind = TF_ROTATION, .degrees = { -15, 15 } },
    { .kind = TF_RANDOM_APPLY, .p = 0.5, .sub = jitter_persp, .nsub = 2 }, { .kind = TF_TO_TENSOR },
    { .kind = TF_NORMALIZE, .nch = 3, .mean = { 0.5f, 0.5f, 0.5f }, .std = { 0.5f, 0.5f, 0.5f } },
};

enum { AUG_BATCH = 5, AUG_SAMPLE = 3 * AUG_W * AUG_H };

/* Two epochs through a loader with the given options: every batch into x (2 * AUG_N samples)
 * and y. Returns the samples seen, or -1 with e set. */
static int two_epochs(const Dataset *ds, const LoaderOptions *o, float *x, int32_t *y, Error *e)
{
    Pipeline p = { notebook, 6 };
    DataLoader dl;
    if (dataloader_init_opts(&dl, ds, &p, AUG_BATCH, 1, 99, 3, AUG_H, AUG_W, o, e)) return -1;
    int at = 0, k = 0;
    for (int ep = 0; ep < 2 && k >= 0; ep++) {
        dataloader_begin_epoch(&dl, ep);
        while ((k = dataloader_next(&dl, x + (size_t)at * AUG_SAMPLE, y + at, e)) > 0) at += k;
    }
    dataloader_free(&dl);
    return k < 0 ? -1 : at;
}

static void test_workers(void)
{
    Dataset ds = aug_set();
    size_t xs = (size_t)2 * AUG_N * AUG_SAMPLE;
    float *ref = malloc(xs * sizeof *ref), *x = malloc(xs * sizeof *x);
    int32_t yref[2 * AUG_N], y[2 * AUG_N];
    Error e;
    LoaderOptions none = { 0 };
    CHECK(two_epochs(&ds, &none, ref, yref, &e) == 2 * AUG_N, "no workers: %s", e.msg);
    int workers[3] = { 1, 3, 2 }, prefetch[3] = { 0, 0, 2 };
    for (int t = 0; t < 3; t++) {
        LoaderOptions o = { .workers = workers[t], .prefetch = prefetch[t] };
        memset(x, 0, xs * sizeof *x);
        CHECK(two_epochs(&ds, &o, x, y, &e) == 2 * AUG_N, "%d workers: %s", workers[t], e.msg);
        CHECK(memcmp(x, ref, xs * sizeof *x) == 0 && memcmp(y, yref, sizeof y) == 0,
              "%d workers (ring of %d) give the same batches as none", workers[t], prefetch[t]);
    }
    /* the cache: with room for everything, each image is decoded once in two epochs; with
     * none, twice. Same batches either way. */
    Dataset cached = aug_set();
    dataset_set_cache(&cached, (size_t)AUG_N * AUG_SAMPLE);
    LoaderOptions two = { .workers = 2 };
    decodes = 0;
    CHECK(two_epochs(&cached, &two, x, y, &e) == 2 * AUG_N, "cached: %s", e.msg);
    CHECK(decodes == AUG_N, "cached: %d decodes for %d images in 2 epochs", decodes, AUG_N);
    CHECK(dataset_cached_bytes(&cached) == (size_t)AUG_N * AUG_SAMPLE, "cached bytes %zu", dataset_cached_bytes(&cached));
    CHECK(memcmp(x, ref, xs * sizeof *x) == 0, "cached batches are the same");
    dataset_free(&cached);
    Dataset small = aug_set();
    dataset_set_cache(&small, 10 * (size_t)AUG_SAMPLE);
    decodes = 0;
    CHECK(two_epochs(&small, &two, x, y, &e) == 2 * AUG_N, "small cache: %s", e.msg);
    CHECK(decodes == 2 * AUG_N - 10 && dataset_cached_bytes(&small) == 10 * (size_t)AUG_SAMPLE,
          "a cache for 10 images: %d decodes, %zu bytes", decodes, dataset_cached_bytes(&small));
    dataset_free(&small);

    /* a bad image: an error naming it, with or without workers; threads shut down cleanly */
    broken = 11;
    for (int w = 0; w <= 3; w += 3) {
        LoaderOptions o = { .workers = w };
        CHECK(two_epochs(&ds, &o, x, y, &e) == -1 && strstr(e.msg, "aug/11.png: cannot decode image"),
              "%d workers: the bad image is an error: %s", w, e.msg);
    }
    /* --skip-bad-images: a warning naming it, once; every other sample still comes */
    Dataset skip = aug_set();
    dataset_set_cache(&skip, 0);
    FILE *warn = tmpfile();
    LoaderOptions o = { .workers = 3, .skip_bad = 1, .warn = warn };
    CHECK(two_epochs(&skip, &o, x, y, &e) == 2 * (AUG_N - 1), "skipping: %s", e.msg);
    CHECK(dataset_bad_count(&skip) == 1, "one bad image counted, got %d", dataset_bad_count(&skip));
    rewind(warn);
    char line[512], first[512] = "";
    int lines = 0;
    while (fgets(line, sizeof line, warn)) {
        if (!lines) strcpy(first, line);
        lines++;
    }
    CHECK(lines == 1 && strstr(first, "cnnc: warning: aug/11.png: cannot decode image") && strstr(first, "(skipped)"),
          "%d warning lines: %s", lines, first);
    fclose(warn);
    dataset_free(&skip);
    broken = -1;

    /* stopping mid-epoch: free joins the workers (ASan and valgrind see no leak or race) */
    Pipeline p = { notebook, 6 };
    DataLoader dl;
    LoaderOptions three = { .workers = 3 };
    CHECK(dataloader_init_opts(&dl, &ds, &p, AUG_BATCH, 1, 5, 3, AUG_H, AUG_W, &three, &e) == 0, "init: %s", e.msg);
    CHECK(dataloader_next(&dl, x, y, &e) == AUG_BATCH, "one batch: %s", e.msg);
    dataloader_begin_epoch(&dl, 4);     /* abandon epoch 0 halfway */
    CHECK(dataloader_next(&dl, x, y, &e) == AUG_BATCH, "epoch 4's first batch: %s", e.msg);
    dataloader_free(&dl);
    free(ref);
    free(x);
}

/* A data-parallel run's shares (dataloader_share): contiguous, covering the batch, differing
 * by at most one; loaders of ranks 0..2 (with and without workers) give, side by side, the
 * one-process loader's batches in its order (24 samples: the last batch of 3 gives each one). */
static void test_shares(void)
{
    for (int R = 1; R <= 5; R++)
        for (int b = 0; b < 4; b++) {
            int k, lo, hi, prev = 0, min = 1 << 30, max = 0, k0;
            dataloader_share(23, 7, b, 0, R, &k0, &lo, &hi);
            for (int r = 0; r < R; r++) {
                dataloader_share(23, 7, b, r, R, &k, &lo, &hi);
                CHECK(k == k0 && k == (b < 3 ? 7 : 2), "batch %d holds %d samples", b, k);
                CHECK(lo == prev && hi >= lo, "rank %d of %d: [%d, %d) after %d", r, R, lo, hi, prev);
                prev = hi;
                if (hi - lo < min) min = hi - lo;
                if (hi - lo > max) max = hi - lo;
            }
            CHECK(prev == k0 && max - min <= 1, "%d ranks, batch %d: shares end at %d of %d, sizes %d..%d", R, b,
                  prev, k0, min, max);
        }
    Dataset ds = fake(24);
    int whole[24], nb, sizes[8], part[3][24], n[3], pos[3] = { 0, 0, 0 };
    DataLoader dl;
    Error e;
    CHECK(dataloader_init(&dl, &ds, NULL, 7, 1, 5, 1, 3, 2, &e) == 0, "init: %s", e.msg);
    CHECK(run_epoch(&dl, 1, whole, &nb, sizes) == 24, "the whole epoch");
    dataloader_free(&dl);
    for (int r = 0; r < 3; r++) {
        LoaderOptions o = { .workers = r == 1 ? 2 : 0, .rank = r, .ranks = 3 };
        CHECK(dataloader_init_opts(&dl, &ds, NULL, 7, 1, 5, 1, 3, 2, &o, &e) == 0, "init rank %d: %s", r, e.msg);
        n[r] = run_epoch(&dl, 1, part[r], &nb, sizes);
        CHECK(nb == 4, "rank %d: %d batches, not 4", r, nb);
        dataloader_free(&dl);
    }
    CHECK(n[0] + n[1] + n[2] == 24, "the ranks load %d + %d + %d samples", n[0], n[1], n[2]);
    for (int b = 0, at = 0; b < 4; b++)         /* batch b is rank 0's share, then 1's, then 2's */
        for (int r = 0; r < 3; r++) {
            int k, lo, hi;
            dataloader_share(24, 7, b, r, 3, &k, &lo, &hi);
            for (int j = lo; j < hi; j++, at++)
                CHECK(pos[r] < n[r] && part[r][pos[r]++] == whole[at], "batch %d, rank %d: sample %d differs", b, r, at);
        }
}

int main(void)
{
    test_shares();
    test_batches();
    test_workers();
    test_bad_sample();
    test_imagefolder_loader();
    return test_done("test_dataloader");
}
