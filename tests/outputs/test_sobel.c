/* tests/outputs/test_sobel.c: examples/sobel.cnn and constant, frozen weights. Convolution in
 * the runtime is cross-correlation (the notebook's scipy.signal.correlate example gives 8,
 * convolve2d -8); the Sobel outputs equal the notebook's loop computed directly; --apply's
 * figure holds those outputs scaled as imshow shows them; a frozen layer gets no gradient and
 * keeps its given weights through an optimizer step while the layers after it learn. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/driver/apply.h"
#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/data.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/png.h"
#include "tests/test.h"

static const float Kx[3][3] = { { -1, 0, 1 }, { -2, 0, 2 }, { -1, 0, 1 } };
static const float Ky[3][3] = { { -1, -2, -1 }, { 0, 0, 0 }, { 1, 2, 1 } };

/* The notebook's loop: G[row, col] = correlate(A[row-1:row+2, col-1:col+2], K) for the
 * interior; out is (h-2) x (w-2). */
static void direct(const float *a, int h, int w, const float k[3][3], float *out)
{
    for (int r = 1; r < h - 1; r++)
        for (int c = 1; c < w - 1; c++) {
            double s = 0;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) s += (double)a[(r - 1 + i) * w + (c - 1 + j)] * k[i][j];
            out[(r - 1) * (w - 2) + (c - 1)] = (float)s;
        }
}

static void test_program(const Program *p)
{
    CHECK(p->nlayers == 1, "sobel.cnn has %d layers", p->nlayers);
    const Layer *L = &p->layers[0];
    CHECK(L->kind == L_CONV2D && L->in_ch == 1 && L->out_ch == 2 && L->kernel == 3 && !L->bias, "layer");
    CHECK(L->frozen, "the Sobel layer is frozen");
    CHECK(L->weight != NULL, "the Sobel weights are given");
    if (L->weight)
        for (int i = 0; i < 9; i++) {
            CHECK(L->weight[i] == Kx[i / 3][i % 3], "Kx[%d] = %g", i, L->weight[i]);
            CHECK(L->weight[9 + i] == Ky[i / 3][i % 3], "Ky[%d] = %g", i, L->weight[9 + i]);
        }
}

static void test_cross_correlation(const Program *p)
{
    Error e;
    Graph *g = apply_graph(p, 3, 3, &e);
    CHECK(g != NULL, "apply_graph: %s", g ? "" : e.msg);
    if (!g) return;
    float *x = vf32(g, g->input);
    for (int i = 0; i < 9; i++) x[i] = (float)(i + 1);        /* A = [[1,2,3],[4,5,6],[7,8,9]] */
    exec_run(g, PHASE_FORWARD);
    const Value *o = &g->vals[g->logits];
    CHECK(o->shape[1] == 2 && o->shape[2] == 1 && o->shape[3] == 1, "output 2 x 1 x 1");
    const float *y = vf32(g, g->logits);
    /* scipy.signal.correlate(A, Kx, mode='valid') = 8; convolve2d would give -8 */
    CHECK(y[0] == 8.0f, "A correlated with Kx: got %g, expected 8 (a flipped kernel gives -8)", y[0]);
    CHECK(y[1] == 24.0f, "A correlated with Ky: got %g, expected 24", y[1]);
    graph_free(g);
}

static void test_direct(const Program *p)
{
    enum { H = 37, W = 53 };
    Error e;
    Graph *g = apply_graph(p, H, W, &e);
    CHECK(g != NULL, "apply_graph: %s", g ? "" : e.msg);
    if (!g) return;
    float *x = vf32(g, g->input);
    Rng r;
    rng_seed3(&r, 7, 0, 0);
    for (int i = 0; i < H * W; i++) x[i] = (float)rng_uniform_double(&r);
    float gx[(H - 2) * (W - 2)], gy[(H - 2) * (W - 2)];
    direct(x, H, W, Kx, gx);
    direct(x, H, W, Ky, gy);
    exec_run(g, PHASE_FORWARD);
    const float *y = vf32(g, g->logits);
    int bad = 0;
    for (int i = 0; i < (H - 2) * (W - 2); i++) {
        if (fabsf(y[i] - gx[i]) > 1e-5f || fabsf(y[(H - 2) * (W - 2) + i] - gy[i]) > 1e-5f) bad++;
    }
    CHECK(bad == 0, "%d of %d outputs differ from the notebook's loop", bad, (H - 2) * (W - 2));
    graph_free(g);
}

/* --apply's figure: panels Gx, Gy, magnitude, input, each scaled min..max to 0..255 */
static void test_figure(const Program *p)
{
    enum { H = 24, W = 30, GAP = 8 };
    uint8_t img[H * W];
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) img[r * W + c] = (uint8_t)((r * 7 + c * c * 3 + (r > 12 ? 90 : 0)) % 256);
    char in[64], out[64];
    snprintf(in, sizeof in, "/tmp/test_sobel_in.%ld.png", (long)getpid());
    snprintf(out, sizeof out, "/tmp/test_sobel_out.%ld.png", (long)getpid());
    Error e;
    CHECK(png_write(in, img, W, H, 1, &e) == 0, "png_write: %s", e.msg);
    FILE *log = fopen("/dev/null", "w");
    int rc = apply_run(p, in, out, 1, log, &e);
    fclose(log);
    CHECK(rc == 0, "apply_run: %s", rc ? e.msg : "");
    Image fig;
    if (rc || image_load(out, 1, &fig, &e) < 0) {
        CHECK(0, "cannot read the figure");
        unlink(in);
        return;
    }
    int ow = W - 2, oh = H - 2;
    CHECK(fig.w == 3 * ow + W + 3 * GAP && fig.h == H, "figure %d x %d", fig.w, fig.h);
    float a[H * W], gx[oh * ow], gy[oh * ow], mag[oh * ow], lo, hi;
    uint8_t want[3][oh * ow];
    for (int i = 0; i < H * W; i++) a[i] = img[i] / 255.0f;      /* ToTensor */
    direct(a, H, W, Kx, gx);
    direct(a, H, W, Ky, gy);
    for (int i = 0; i < oh * ow; i++) mag[i] = sqrtf(gx[i] * gx[i] + gy[i] * gy[i]);
    apply_scale(gx, oh, ow, want[0], &lo, &hi);
    apply_scale(gy, oh, ow, want[1], &lo, &hi);
    apply_scale(mag, oh, ow, want[2], &lo, &hi);
    CHECK(want[0][0] != want[0][1] || want[0][1] != want[0][2], "the test image has edges");
    int bad = 0, y0 = (H - oh) / 2;
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < oh; r++)
            for (int c = 0; c < ow; c++) {
                int got = fig.px[(y0 + r) * fig.w + k * (ow + GAP) + c];
                if (abs(got - want[k][r * ow + c]) > 1) bad++;
            }
    CHECK(bad == 0, "%d figure pixels differ from the direct computation", bad);
    bad = 0;
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) bad += fig.px[r * fig.w + 3 * (ow + GAP) + c] != img[r * W + c];
    CHECK(bad == 0, "%d pixels of the input panel differ from the input", bad);
    CHECK(fig.px[0 * fig.w + ow + 1] == 255, "a white gap between panels");
    image_free(&fig);
    unlink(in);
    unlink(out);
}

/* A frozen Sobel layer feeding a trainable classifier: one Adam step. */
static void test_frozen_training(void)
{
    static const char src[] =
        "Kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]\n"
        "Ky = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]\n"
        "model M {\n"
        "    input [1, 6, 6]\n"
        "    edges = Conv2d(1, 2, 3, bias=[0.5, -0.5], weight=[[Kx], [Ky]], requires_grad=False)\n"
        "    head = Sequential(ReLU(), Flatten(), Linear(None, 2))\n"
        "}\n"
        "criterion = CrossEntropyLoss()\n"
        "optimizer = Adam(lr=0.01)\n";
    Program p;
    FILE *diag = fopen("/dev/null", "w");
    int rc = check_source("frozen.cnn", src, strlen(src), NULL, &p, diag);
    fclose(diag);
    CHECK(rc == 0, "frozen.cnn does not check");
    if (rc) return;
    CHECK(p.layers[0].frozen && p.layers[0].bias_data && p.layers[0].bias_data[1] == -0.5f, "given bias");
    LowerOptions lo = { .batch = 4, .training = 1 };
    Error e;
    Graph *g = lower_program(&p, &lo, &e);
    CHECK(g != NULL, "lower: %s", g ? "" : e.msg);
    if (!g) {
        program_free(&p);
        return;
    }
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    init_parameters(g, 3);
    lower_given_weights(g, &p);
    int w = -1, b = -1, lw = -1;
    for (int i = 0; i < g->nvals; i++) {
        if (!strcmp(g->vals[i].name, "edges.weight")) w = i;
        if (!strcmp(g->vals[i].name, "edges.bias")) b = i;
        if (!strcmp(g->vals[i].name, "head.2.weight")) lw = i;
    }
    CHECK(w >= 0 && b >= 0 && lw >= 0, "parameters edges.weight, edges.bias, head.2.weight");
    if (w < 0 || b < 0 || lw < 0) {
        graph_free(g);
        program_free(&p);
        return;
    }
    CHECK(g->vals[w].frozen && g->vals[w].grad < 0 && g->vals[b].grad < 0, "the frozen layer has no gradient");
    CHECK(g->vals[lw].grad >= 0, "the Linear after it has one");
    CHECK(vf32(g, w)[3] == -2.0f && vf32(g, w)[9 + 1] == -2.0f && vf32(g, b)[0] == 0.5f, "given values copied in");
    float lw_before = vf32(g, lw)[0];
    Rng r;
    rng_seed3(&r, 1, 0, 0);
    for (int i = 0; i < 4 * 36; i++) vf32(g, g->input)[i] = (float)rng_uniform_double(&r);
    for (int i = 0; i < 4; i++) vi32(g, g->label)[i] = i % 2;
    g->training = 1;
    g->step = 1;
    exec_run(g, PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE);
    int same = 1;
    for (int i = 0; i < 18; i++) same &= vf32(g, w)[i] == p.layers[0].weight[i];
    CHECK(same && vf32(g, b)[0] == 0.5f && vf32(g, b)[1] == -0.5f, "the frozen weights did not move");
    CHECK(vf32(g, lw)[0] != lw_before, "the trainable Linear did");
    graph_free(g);
    program_free(&p);
}

int main(void)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/sobel.cnn", top ? top : ".");
    Program p;
    int rc = check_file(path, NULL, &p, stderr);
    CHECK(rc == 0, "%s does not check", path);
    if (rc == 0) {
        test_program(&p);
        test_cross_correlation(&p);
        test_direct(&p);
        test_figure(&p);
        program_free(&p);
    }
    test_frozen_training();
    return test_done("test_sobel");
}
