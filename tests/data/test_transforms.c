/* tests/data/test_transforms.c: tests runtime/transforms.c: ToTensor and Normalize values,
 * the implicit ToTensor, size checks and their messages, freeing and copying nested steps,
 * and the probabilities of the random transforms (flips, RandomApply, RandomPerspective's p):
 * 4000 per-sample generators each, the observed rate within 5 standard deviations of p.
 * (tests/data/test_transforms_py.py holds the pixels and parameter distributions against
 * torchvision.) */
#include <stdlib.h>
#include <string.h>

#include "runtime/transforms.h"
#include <math.h>
#include "tests/test.h"

/* a w x h x c image whose pixel (y, x) channel k holds y * 50 + x * 7 + k * 100 (mod 256) */
static Image make_image(int w, int h, int c)
{
    Image img = { w, h, c, malloc((size_t)w * h * c) };
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) img.px[(y * w + x) * c + k] = (uint8_t)(y * 50 + x * 7 + k * 100);
    return img;
}

static void test_to_tensor_normalize(void)
{
    const int w = 4, h = 3, c = 3;
    Transform steps[2] = { { .kind = TF_TO_TENSOR },
                           { .kind = TF_NORMALIZE, .nch = 3, .mean = { 0.5f, 0.485f, 0.1f }, .std = { 0.5f, 0.229f, 3.0f } } };
    Pipeline p = { steps, 2 };
    float out[3 * 3 * 4], plain[3 * 3 * 4];
    Error e;
    Rng r;
    rng_seed(&r, 1);
    Image img = make_image(w, h, c);
    CHECK(pipeline_apply(&p, &img, out, c, h, w, &r, &e) == 0, "apply: %s", e.msg);
    CHECK(img.px == NULL, "the image is consumed");
    Pipeline only = { steps, 1 };
    img = make_image(w, h, c);
    CHECK(pipeline_apply(&only, &img, plain, c, h, w, &r, &e) == 0, "ToTensor: %s", e.msg);
    int bad_t = 0, bad_n = 0;
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t v = (uint8_t)(y * 50 + x * 7 + k * 100);
                float t = (float)v / 255.0f;                         /* img.float().div(255) */
                float n = (t - steps[1].mean[k]) / steps[1].std[k];  /* x.sub_(mean).div_(std) */
                int i = (k * h + y) * w + x;                         /* C x H x W */
                bad_t += plain[i] != t;
                bad_n += out[i] != n;
            }
    CHECK(bad_t == 0, "ToTensor: %d values differ", bad_t);
    CHECK(bad_n == 0, "Normalize: %d values differ", bad_n);
    CHECK(plain[0] == 0.0f && plain[(2 * h + 2) * w + 3] == (float)(uint8_t)(2 * 50 + 3 * 7 + 200) / 255.0f, "corners");

    /* the notebook's Normalize(0.5, 0.5): 0 -> -1, 255 -> 1 exactly */
    Transform half[2] = { { .kind = TF_TO_TENSOR },
                          { .kind = TF_NORMALIZE, .nch = 3, .mean = { 0.5f, 0.5f, 0.5f }, .std = { 0.5f, 0.5f, 0.5f } } };
    Pipeline ph = { half, 2 };
    Image bw = { 2, 1, 3, malloc(6) };
    memcpy(bw.px, "\0\0\0\xff\xff\xff", 6);
    float o2[6];
    CHECK(pipeline_apply(&ph, &bw, o2, 3, 1, 2, &r, &e) == 0, "apply: %s", e.msg);
    CHECK(o2[0] == -1.0f && o2[1] == 1.0f && o2[4] == -1.0f && o2[5] == 1.0f, "-1 and 1: %g %g", o2[0], o2[1]);

    /* a single mean/std applies to every channel, as torch broadcasts it */
    Transform one[2] = { { .kind = TF_TO_TENSOR }, { .kind = TF_NORMALIZE, .nch = 1, .mean = { 0.25f }, .std = { 2.0f } } };
    Pipeline p1 = { one, 2 };
    img = make_image(w, h, c);
    CHECK(pipeline_apply(&p1, &img, out, c, h, w, &r, &e) == 0, "broadcast: %s", e.msg);
    CHECK(out[w * h * 2 + 1] == ((float)(uint8_t)(7 + 200) / 255.0f - 0.25f) / 2.0f, "broadcast value");
}

static void test_implicit_to_tensor(void)
{
    float a[2 * 2], b[2 * 2];
    Error e;
    Image img = make_image(2, 2, 1);
    CHECK(pipeline_apply(NULL, &img, a, 1, 2, 2, NULL, &e) == 0, "NULL pipeline: %s", e.msg);
    Pipeline empty = { NULL, 0 };
    img = make_image(2, 2, 1);
    CHECK(pipeline_apply(&empty, &img, b, 1, 2, 2, NULL, &e) == 0, "empty pipeline: %s", e.msg);
    CHECK(memcmp(a, b, sizeof a) == 0 && a[3] == (float)(50 + 7) / 255.0f, "implicit ToTensor: %g", a[3]);
}

static void refused(const Pipeline *p, Image img, int C, int H, int W, const char *want)
{
    float *out = malloc(sizeof(float) * (size_t)C * H * W);
    Error e = { "" };
    CHECK(pipeline_apply(p, &img, out, C, H, W, NULL, &e) == -1, "applied but should fail (%s)", want);
    CHECK(strcmp(e.msg, want) == 0, "message '%s', want '%s'", e.msg, want);
    free(out);
}

static void test_errors(void)
{
    Transform tt = { .kind = TF_TO_TENSOR };
    Transform norm3 = { .kind = TF_NORMALIZE, .nch = 3, .mean = { 0.5f, 0.5f, 0.5f }, .std = { 0.5f, 0.5f, 0.5f } };
    Transform steps[3] = { tt, norm3, tt };
    Pipeline p = { steps, 2 };
    refused(&p, make_image(120, 80, 3), 3, 100, 100,
            "image is 120x80 but the model expects 100x100 (add Resize(...) to the transform or resize the images)");
    refused(&p, make_image(100, 100, 3), 3, 50, 200,
            "image is 100x100 but the model expects 200x50 (add Resize(...) to the transform or resize the images)");
    refused(NULL, make_image(4, 4, 1), 3, 4, 4, "image has 1 channel but the model expects 3");
    Pipeline before = { steps + 1, 1 };
    refused(&before, make_image(4, 4, 3), 3, 4, 4, "Normalize() needs a tensor: put ToTensor() before it");
    refused(&p, make_image(4, 4, 1), 1, 4, 4, "Normalize() has 3 mean/std values but the image has 1 channel");
    Transform zero = { .kind = TF_NORMALIZE, .nch = 3, .mean = { 0 }, .std = { 1, 0, 1 } };
    Transform zs[2] = { tt, zero };
    Pipeline pz = { zs, 2 };
    refused(&pz, make_image(4, 4, 3), 3, 4, 4, "Normalize() has std 0 for channel 1: division by zero");
    Pipeline twice = { steps, 3 };
    refused(&twice, make_image(4, 4, 3), 3, 4, 4, "ToTensor() applied twice: the image is already a tensor");
    Transform unknown = { .kind = (TransformKind)999 };
    Pipeline pu = { &unknown, 1 };
    refused(&pu, make_image(4, 4, 3), 3, 4, 4, "transform kind 999 is not implemented");
}

/* RandomApply-style nesting, freed recursively (ASan reports any leak) */
static void test_free_nested(void)
{
    Pipeline p = { calloc(2, sizeof(Transform)), 2 };
    p.steps[0].kind = TF_TO_TENSOR;
    p.steps[1].kind = TF_NORMALIZE;
    p.steps[1].nsub = 2;
    p.steps[1].sub = calloc(2, sizeof(Transform));
    p.steps[1].sub[1].nsub = 1;
    p.steps[1].sub[1].sub = calloc(1, sizeof(Transform));
    pipeline_free(&p);
    CHECK(p.steps == NULL && p.n == 0, "freed pipeline is empty");
    pipeline_free(&p);
}

/* The fraction of 4000 samples whose image the one-step pipeline changed. */
static double changed_rate(const Transform *t)
{
    enum { N = 4000, W = 9, H = 7 };
    Image src = make_image(W, H, 3);
    for (int i = 0; i < W * H * 3; i++) src.px[i] = (uint8_t)(i * 37 + (i * i) % 11);
    Pipeline p = { (Transform *)t, 1 };
    TfScratch s = { 0 };
    int changed = 0;
    for (int i = 0; i < N; i++) {
        Rng r;
        rng_seed3(&r, 5, 1000003u, (uint64_t)i);
        Image out;
        Error e;
        CHECK(pipeline_run_image(&p, &src, &out, &r, &s, &e) == 0, "run: %s", e.msg);
        changed += out.w != W || out.h != H || memcmp(out.px, src.px, W * H * 3) != 0;
    }
    tf_scratch_free(&s);
    free(src.px);
    return (double)changed / N;
}

static void test_probabilities(void)
{
    Transform hflip = { .kind = TF_HFLIP, .p = 0.3 }, vflip = { .kind = TF_VFLIP, .p = 0.7 };
    Transform inner = { .kind = TF_HFLIP, .p = 1.0 };
    Transform apply = { .kind = TF_RANDOM_APPLY, .p = 0.5, .sub = &inner, .nsub = 1 };
    Transform persp = { .kind = TF_PERSPECTIVE, .p = 0.25, .distortion = 0.5, .bilinear = 1 };
    Transform never = { .kind = TF_HFLIP, .p = 0.0 }, always = { .kind = TF_VFLIP, .p = 1.0 };
    const struct { const Transform *t; double p; const char *name; } cases[] = {
        { &hflip, 0.3, "RandomHorizontalFlip(p=0.3)" }, { &vflip, 0.7, "RandomVerticalFlip(p=0.7)" },
        { &apply, 0.5, "RandomApply([RandomHorizontalFlip(p=1)], p=0.5)" },
        { &persp, 0.25, "RandomPerspective(0.5, p=0.25)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double rate = changed_rate(cases[i].t), sd = sqrt(cases[i].p * (1 - cases[i].p) / 4000);
        CHECK(fabs(rate - cases[i].p) <= 5 * sd, "%s: changed %.4f of the images, expected %.2f +- %.4f",
              cases[i].name, rate, cases[i].p, 5 * sd);
    }
    CHECK(changed_rate(&never) == 0.0 && changed_rate(&always) == 1.0, "p=0 never, p=1 always");
}

/* pipeline_copy copies RandomApply's list deeply: the copy outlives the original */
static void test_copy(void)
{
    Transform *inner = calloc(2, sizeof *inner);
    inner[0].kind = TF_HFLIP;
    inner[1].kind = TF_COLOR_JITTER;
    Transform steps[2] = { { .kind = TF_RANDOM_APPLY, .p = 0.5, .sub = inner, .nsub = 2 }, { .kind = TF_TO_TENSOR } };
    Pipeline copy;
    pipeline_copy(&copy, steps, 2);
    free(inner);
    CHECK(copy.n == 2 && copy.steps[0].nsub == 2 && copy.steps[0].sub[1].kind == TF_COLOR_JITTER, "deep copy");
    pipeline_free(&copy);
}

int main(void)
{
    test_probabilities();
    test_copy();
    test_to_tensor_normalize();
    test_implicit_to_tensor();
    test_errors();
    test_free_nested();
    return test_done("test_transforms");
}
