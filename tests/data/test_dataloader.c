/* tests/data/test_dataloader.c: tests runtime/dataloader.c: batch sizes with the partial last
 * batch, every sample once per epoch, shuffles repeatable per (seed, epoch), errors that name
 * the sample's file, and a loader over a real ImageFolder. */
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
    CHECK(strcmp(e.msg, "fake/5.png: image is 3x3 but the model expects 2x3 (add Resize(...) to the transform or "
                        "resize the images)") == 0, "message '%s'", e.msg);
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
    snprintf(want, sizeof want, "%s: image is 4x4 but the model expects 5x4", tp("train/2/9.png"));
    CHECK(strstr(e.msg, want) == e.msg, "message '%s'", e.msg);
    dataloader_free(&dl);
    dataset_free(&ds);
    remove_test_tmp();
}

int main(void)
{
    test_batches();
    test_bad_sample();
    test_imagefolder_loader();
    return test_done("test_dataloader");
}
