/* tests/data/test_mnist.c: tests runtime/mnist.c on tiny IDX files the test writes itself:
 * torchvision's layout (root/FashionMNIST/raw, plain files) and Debian's (gzipped, in root),
 * train and test splits, pixels, labels and class names; and the clear errors for missing
 * files, a wrong magic number, a wrong size, image and label counts that differ, and a label
 * that is not a class; a gzip file that inflates to far more than its header promises (read
 * no further than the promise), a header promising more than 4 GiB, a header cut short. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <zlib.h>

#include "runtime/data.h"
#include "tests/data/datatest.h"
#include "tests/test.h"

/* An IDX image file of n r x c images (pixel = (i * 31 + y * 7 + x) & 255) or a label file
 * (label = i % 10), in a buffer; `magic` and `extra` bytes allow broken ones. */
static uint8_t *idx_images(int n, int r, int c, uint32_t magic, int extra, size_t *len)
{
    *len = 16 + (size_t)n * r * c + (size_t)(extra > 0 ? extra : 0) - (size_t)(extra < 0 ? -extra : 0);
    uint8_t *b = calloc(16 + (size_t)n * r * c + 64, 1);
    uint32_t h[4] = { magic, (uint32_t)n, (uint32_t)r, (uint32_t)c };
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 4; j++) b[4 * k + j] = (uint8_t)(h[k] >> (24 - 8 * j));
    for (int i = 0; i < n; i++)
        for (int y = 0; y < r; y++)
            for (int x = 0; x < c; x++) b[16 + ((size_t)i * r + y) * c + x] = (uint8_t)(i * 31 + y * 7 + x);
    return b;
}

static uint8_t *idx_labels(int n, uint32_t magic, int bad_at, size_t *len)
{
    *len = 8 + (size_t)n;
    uint8_t *b = calloc(8 + (size_t)n, 1);
    uint32_t h[2] = { magic, (uint32_t)n };
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++) b[4 * k + j] = (uint8_t)(h[k] >> (24 - 8 * j));
    for (int i = 0; i < n; i++) b[8 + i] = (uint8_t)(i == bad_at ? 12 : i % 10);
    return b;
}

static void write_gz(const char *rel, const uint8_t *p, size_t n)
{
    gzFile f = gzopen(tp(rel), "wb");
    if (!f || gzwrite(f, p, (unsigned)n) != (int)n) test_die("gzwrite", tp(rel));
    gzclose(f);
}

static void write_pair(const char *dir, const char *split, int n, int gz, uint32_t imagic, int extra, int nlabels,
                       uint32_t lmagic, int bad_label)
{
    size_t li, ll;
    uint8_t *im = idx_images(n, 28, 28, imagic, extra, &li), *lb = idx_labels(nlabels, lmagic, bad_label, &ll);
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/%s-images-idx3-ubyte%s", dir, split, gz ? ".gz" : "");
    snprintf(b, sizeof b, "%s/%s-labels-idx1-ubyte%s", dir, split, gz ? ".gz" : "");
    if (gz) {
        write_gz(a, im, li);
        write_gz(b, lb, ll);
    } else {
        write_file(a, im, li);
        write_file(b, lb, ll);
    }
    free(im);
    free(lb);
}

static void test_layouts(void)
{
    Dataset ds;
    Error e;
    mkdirs("tv/FashionMNIST/raw");
    write_pair("tv/FashionMNIST/raw", "train", 7, 0, 0x803, 0, 7, 0x801, -1);
    write_pair("tv/FashionMNIST/raw", "t10k", 3, 0, 0x803, 0, 3, 0x801, -1);
    CHECK(dataset_open_mnist(&ds, tp("tv"), 1, 1, &e) == 0, "torchvision layout: %s", e.msg);
    CHECK(ds.n == 7 && ds.nclasses == 10 && ds.channels == 1, "n %d classes %d", ds.n, ds.nclasses);
    CHECK(!strcmp(ds.class_names[0], "T-shirt/top") && !strcmp(ds.class_names[9], "Ankle boot"), "class names");
    int bad = 0;
    for (int i = 0; i < ds.n; i++) {
        Image img;
        int t, owned;
        CHECK(dataset_sample(&ds, i, &img, &owned, &t, &e) == 0 && !owned, "sample %d", i);
        CHECK(img.w == 28 && img.h == 28 && img.c == 1 && t == i % 10, "sample %d: %dx%dx%d label %d", i, img.w,
              img.h, img.c, t);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) bad += img.px[y * 28 + x] != (uint8_t)(i * 31 + y * 7 + x);
        Image copy;
        CHECK(ds.get(&ds, i, &copy, &t, &e) == 0 && memcmp(copy.px, img.px, 784) == 0, "get copies sample %d", i);
        free(copy.px);
    }
    CHECK(bad == 0, "%d pixels differ", bad);
    CHECK(strstr(ds.path(&ds, 0), "train-images-idx3-ubyte") != NULL, "path %s", ds.path(&ds, 0));
    dataset_free(&ds);
    CHECK(dataset_open_mnist(&ds, tp("tv"), 1, 0, &e) == 0 && ds.n == 3, "test split: %s", e.msg);
    dataset_free(&ds);
    CHECK(dataset_open_mnist(&ds, tp("tv"), 0, 1, &e) == -1 && strstr(e.msg, "no MNIST training files") &&
          strstr(e.msg, "MNIST/raw/train-images-idx3-ubyte[.gz]"), "MNIST is not FashionMNIST: %s", e.msg);

    /* Debian's layout: gzipped, in root */
    mkdirs("deb");
    write_pair("deb", "train", 5, 1, 0x803, 0, 5, 0x801, -1);
    CHECK(dataset_open_mnist(&ds, tp("deb"), 0, 1, &e) == 0 && ds.n == 5, "gzipped in root: %s", e.msg);
    CHECK(!strcmp(ds.class_names[3], "3 - three"), "MNIST class names: %s", ds.class_names[3]);
    Image img;
    int t, owned;
    CHECK(dataset_sample(&ds, 4, &img, &owned, &t, &e) == 0 && img.px[28 * 2 + 3] == (uint8_t)(4 * 31 + 14 + 3) && t == 4,
          "gzipped pixels");
    dataset_free(&ds);
}

static void refused(const char *dir, const char *want)
{
    Dataset ds;
    Error e = { "" };
    CHECK(dataset_open_mnist(&ds, tp(dir), 1, 1, &e) == -1, "%s opened but should not", dir);
    CHECK(strstr(e.msg, want) != NULL, "%s: message '%s' lacks '%s'", dir, e.msg, want);
    dataset_free(&ds);
}

static void test_errors(void)
{
    mkdirs("magic");
    write_pair("magic", "train", 2, 0, 0x801, 0, 2, 0x801, -1);
    refused("magic", "not an IDX image file (magic number 0x00000801, expected 0x00000803)");
    mkdirs("lmagic");
    write_pair("lmagic", "train", 2, 1, 0x803, 0, 2, 0x803, -1);
    refused("lmagic", "not an IDX label file (magic number 0x00000803, expected 0x00000801)");
    mkdirs("short");
    write_pair("short", "train", 3, 0, 0x803, -100, 3, 0x801, -1);
    refused("short", "wrong size: the header promises 2352 bytes of data but the file holds 2252");
    mkdirs("long");
    write_pair("long", "train", 3, 1, 0x803, 5, 3, 0x801, -1);
    refused("long", "the file is truncated or corrupt");
    mkdirs("count");
    write_pair("count", "train", 3, 0, 0x803, 0, 4, 0x801, -1);
    refused("count", "has 3 images but");
    mkdirs("label");
    write_pair("label", "train", 3, 0, 0x803, 0, 3, 0x801, 1);
    refused("label", "label 12 of sample 1 is not a class (0 to 9)");
    mkdirs("none");
    refused("none", "no FashionMNIST training files");
    mkdirs("gzbad");
    write_file("gzbad/train-images-idx3-ubyte.gz", "\x1f\x8b\x08\x00garbage", 12);
    write_pair("gzbad", "train", 1, 1, 0x803, 0, 1, 0x801, -1);  /* overwrites it with a good one */
    write_file("gzbad/train-images-idx3-ubyte.gz", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage!", 18);
    refused("gzbad", "train-images-idx3-ubyte.gz");
}

static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* A gzipped image file whose header promises 3 images (2352 bytes) but which inflates to
 * 16 MB: refused, and the reading stops past the promise (the peak memory grows by much
 * less than 16 MB; the test runs first, so no earlier peak hides growth). Then a header
 * promising 65536^3 bytes, and one cut short. */
static void test_bounded(void)
{
    mkdirs("bomb");
    write_pair("bomb", "train", 3, 1, 0x803, 0, 3, 0x801, -1);      /* good labels */
    size_t li, big = (size_t)16 << 20;
    uint8_t *im = idx_images(3, 28, 28, 0x803, 0, &li), *zeros = calloc(1 << 20, 1);
    gzFile f = gzopen(tp("bomb/train-images-idx3-ubyte.gz"), "wb9");
    if (!f || gzwrite(f, im, (unsigned)li) != (int)li) test_die("gzwrite", "bomb");
    for (size_t done = 0; done < big; done += 1 << 20)
        if (gzwrite(f, zeros, 1 << 20) != 1 << 20) test_die("gzwrite", "bomb");
    gzclose(f);
    long before = peak_rss_kb();
    refused("bomb", "the header promises 2352 bytes of data but the file holds more");
    long grew = peak_rss_kb() - before;
    CHECK(grew < 8 * 1024, "reading the 16 MB bomb raised the peak memory by %ld KB", grew);
    free(im);
    free(zeros);

    mkdirs("huge");
    write_pair("huge", "train", 1, 0, 0x803, 0, 1, 0x801, -1);
    uint8_t head[16] = { 0, 0, 8, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0 };   /* 65536 x 65536 x 65536 */
    write_file("huge/train-images-idx3-ubyte", head, sizeof head);
    refused("huge", "the header promises more than the 4 GiB of data cnnc reads (65536 x 65536 x 65536)");

    mkdirs("cut");
    write_pair("cut", "train", 1, 0, 0x803, 0, 1, 0x801, -1);
    write_file("cut/train-images-idx3-ubyte", head, 10);
    refused("cut", "the file ends inside its header");
}

int main(void)
{
    make_test_tmp("mnist");
    test_bounded();
    test_layouts();
    test_errors();
    remove_test_tmp();
    return test_done("test_mnist");
}
