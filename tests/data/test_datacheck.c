/* tests/data/test_datacheck.c: tests runtime/datacheck.c: the size each transform makes of
 * an image (computed, never decoded) against what the transforms themselves produce, the
 * messages for a wrong size (Resize(int) named as keeping the aspect ratio), and
 * dataset_check over an ImageFolder: every bad file reported, by index, none decoded. */
#include <time.h>
#include <unistd.h>

#include "runtime/data.h"
#include "tests/data/datatest.h"
#include "tests/test.h"

/* transform_size_problem's verdict agrees with pipeline_run on a real w x h image */
static void agrees(const char *what, Transform *steps, int n, int w, int h, int H, int W)
{
    Pipeline p = { steps, n };
    char why[512];
    transform_size_problem(&p, w, h, H, W, why, sizeof why);
    Image img = { w, h, 3, calloc((size_t)w * h * 3, 1) };
    float *out = malloc(sizeof(float) * 3 * (size_t)H * W);
    Rng r;
    rng_seed3(&r, 1, 2, 3);
    TfScratch s = { 0 };
    Error e;
    int rc = pipeline_run(&p, &img, out, 3, H, W, &r, &s, &e);
    CHECK((rc == 0) == (why[0] == 0), "%s on %dx%d -> %dx%d: pipeline_run %s ('%s'), the check says '%s'", what, w, h, W,
          H, rc ? "fails" : "succeeds", rc ? e.msg : "", why);
    tf_scratch_free(&s);
    free(out);
    free(img.px);
}

static void check_sizes(void)
{
    Transform resize_int = { .kind = TF_RESIZE, .size = { 64, 0 } };
    Transform resize_hw = { .kind = TF_RESIZE, .size = { 64, 64 } };
    Transform center = { .kind = TF_CENTER_CROP, .size = { 30, 40 } };
    Transform crop = { .kind = TF_RANDOM_CROP, .size = { 30, 30 } };
    Transform crop_pad = { .kind = TF_RANDOM_CROP, .size = { 30, 30 }, .pad_if_needed = 1 };
    Transform rrc = { .kind = TF_RANDOM_RESIZED_CROP, .size = { 32, 32 }, .scale = { 0.08, 1 }, .ratio = { 0.75, 4.0 / 3 } };
    Transform flip = { .kind = TF_HFLIP, .p = 0.5 };
    Transform apply = { .kind = TF_RANDOM_APPLY, .p = 1, .sub = &flip, .nsub = 1 };
    Transform tt = { .kind = TF_TO_TENSOR };
    struct { const char *what; Transform t; int w, h, H, W; } cases[] = {
        { "Resize(64)", resize_int, 64, 64, 64, 64 },
        { "Resize(64)", resize_int, 120, 100, 64, 64 },     /* 76 x 64: not square */
        { "Resize(64)", resize_int, 100, 120, 76, 64 },
        { "Resize((64, 64))", resize_hw, 120, 100, 64, 64 },
        { "CenterCrop((30, 40))", center, 120, 100, 30, 40 },
        { "CenterCrop((30, 40))", center, 20, 10, 30, 40 },  /* padded */
        { "RandomCrop(30)", crop, 20, 50, 30, 30 },         /* too small */
        { "RandomCrop(30, pad_if_needed)", crop_pad, 20, 50, 30, 30 },
        { "RandomResizedCrop(32)", rrc, 90, 50, 32, 32 },
        { "RandomApply([flip])", apply, 40, 30, 30, 40 },
        { "RandomApply([flip])", apply, 40, 30, 40, 30 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Transform steps[2] = { cases[i].t, tt };
        agrees(cases[i].what, steps, 2, cases[i].w, cases[i].h, cases[i].H, cases[i].W);
    }
    Transform steps[2] = { resize_int, tt };
    Pipeline p = { steps, 2 };
    char why[512];
    transform_size_problem(&p, 120, 100, 64, 64, why, sizeof why);
    CHECK(!strcmp(why, "the image is 120x100 and Resize(64) keeps its aspect ratio (it makes the smaller edge 64: 76x64), "
                       "but the model expects 64x64: use Resize((64, 64)) to make every image 64x64"), "'%s'", why);
    transform_size_problem(NULL, 120, 100, 100, 100, why, sizeof why);
    CHECK(!strcmp(why, "the image is 120x100 but the model expects 100x100: add Resize((100, 100)) to the transform or "
                       "resize the images"), "'%s'", why);
}

typedef struct Seen {
    int n, idx[16];
    char msg[16][1024];
} Seen;

static void on_bad(void *ctx, int i, const char *msg)
{
    Seen *s = ctx;
    if (s->n < 16) s->idx[s->n] = i, snprintf(s->msg[s->n], sizeof s->msg[0], "%s", msg);
    s->n++;
}

static void check_folder(void)
{
    mkdirs("ds/a");
    mkdirs("ds/b");
    write_png_fill("ds/a/0.png", 8, 6, 3, 1);
    write_png_fill("ds/a/1.png", 9, 6, 3, 1);       /* wrong size */
    write_file("ds/a/2.png", "not a png", 9);
    write_png_fill("ds/b/0.png", 8, 6, 1, 1);
    write_file("ds/b/1.webp", "RIFF\0\0\0\0WEBPVP8 ", 16);
    if (mkfifo(tp("ds/b/2.png"), 0644)) test_die("mkfifo", tp("ds/b/2.png"));
    Dataset ds;
    Error e;
    CHECK(dataset_open_imagefolder(&ds, tp("ds"), 3, &e) == 0, "open: %s", e.msg);
    CHECK(ds.n == 6, "%d samples, expected 6 (.webp counted, as torchvision counts it)", ds.n);
    Seen s = { 0 };
    long t0 = (long)time(NULL);
    int n = dataset_check(&ds, NULL, 3, 6, 8, on_bad, &s);
    CHECK(n == 4 && s.n == 4, "%d bad, expected 4", n);
    CHECK((long)time(NULL) - t0 < 5, "the check took %ld s (the FIFO read?)", (long)time(NULL) - t0);
    const int want_idx[4] = { 1, 2, 4, 5 };
    const char *want[4] = { "a/1.png: the image is 9x6 but the model expects 8x6", "a/2.png: cannot decode image (not a",
                            "b/1.webp: cannot decode image: webp files are not supported", "b/2.png: not an image file but a FIFO" };
    for (int k = 0; k < 4 && k < s.n; k++) {
        CHECK(s.idx[k] == want_idx[k], "bad %d: index %d, expected %d", k, s.idx[k], want_idx[k]);
        CHECK(strstr(s.msg[k], want[k]) != NULL, "bad %d: '%s' lacks '%s'", k, s.msg[k], want[k]);
    }
    dataset_free(&ds);
}

/* .gif and .tga are listed beside torchvision's extensions */
static void check_extensions(void)
{
    mkdirs("ext/c");
    write_file("ext/c/a.gif", "GIF89a", 6);
    write_file("ext/c/b.TGA", "", 0);
    write_file("ext/c/c.txt", "", 0);
    Dataset ds;
    Error e;
    CHECK(dataset_open_imagefolder(&ds, tp("ext"), 3, &e) == 0 && ds.n == 2, "gif and tga: %d samples: %s", ds.n, e.msg);
    dataset_free(&ds);
}

int main(void)
{
    make_test_tmp("datacheck");
    check_sizes();
    check_folder();
    check_extensions();
    remove_test_tmp();
    return test_done("test_datacheck");
}
