/* compiler/backends/emit_c_kernels.c: the C99 source text of the kernels --emit-c writes, one
 * static function per kind of operation, each written once into the generated file when the
 * model uses it. Plain loops over one image (NCHW, batch 1), ordered so the inner loop runs
 * along a row and vectorizes; no heap, libm only; an optional OpenMP pragma when the user
 * builds with -fopenmp. Formulas follow the runtime's kernels (runtime/ops/). */
#include "emit_c.h"

static const char k_act[] =
    "/* the activation kind on n values, x and y may be the same */\n"
    "static void k_act(const float *x, float *y, long n, int kind, float alpha)\n"
    "{\n"
    "    long i;\n"
    "    switch (kind) {\n"
    "    case 1: for (i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f; break;\n"
    "    case 2: for (i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * alpha; break;\n"
    "    case 3: for (i = 0; i < n; i++) y[i] = x[i] <= 0.0f ? expm1f(x[i]) * alpha : x[i]; break;\n"
    "    case 4: for (i = 0; i < n; i++) y[i] = x[i] * 0.5f * (1.0f + erff(x[i] * 0.70710678118654752f)); break;\n"
    "    case 5: for (i = 0; i < n; i++) {\n"
    "                float v = x[i], u = 0.79788456080286536f * (v + 0.044715f * v * v * v);\n"
    "                y[i] = 0.5f * v * (1.0f + tanhf(u));\n"
    "            } break;\n"
    "    case 6: for (i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i])); break;\n"
    "    case 7: for (i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i])); break;\n"
    "    case 8: for (i = 0; i < n; i++) y[i] = tanhf(x[i]); break;\n"
    "    case 9: for (i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i] > 6.0f ? 6.0f : x[i]; break;\n"
    "    case 10: for (i = 0; i < n; i++) {\n"
    "                float t = x[i] + 3.0f; t = t < 0.0f ? 0.0f : t > 6.0f ? 6.0f : t;\n"
    "                y[i] = x[i] * t / 6.0f;\n"
    "            } break;\n"
    "    case 11: for (i = 0; i < n; i++) {\n"
    "                float t = x[i] + 3.0f; t = t < 0.0f ? 0.0f : t > 6.0f ? 6.0f : t;\n"
    "                y[i] = t / 6.0f;\n"
    "            } break;\n"
    "    default: if (x != y) memcpy(y, x, (size_t)n * sizeof *y); break;\n"
    "    }\n"
    "}\n\n";

static const char k_conv2d[] =
    "/* Conv2d over one image, zero padding: y[o] = b[o] + sum w * x, each (input channel, tap)\n"
    " * a pass over the output plane along its rows; then the activation */\n"
    "static void k_conv2d(const float *x, int C, int H, int W, const float *w, const float *b, float *y,\n"
    "                     int O, int OH, int OW, const int *g, int act, float alpha)\n"
    "{\n"
    "    /* g: kh, kw, sh, sw, ph, pw, dh, dw, groups */\n"
    "    int KH = g[0], KW = g[1], SH = g[2], SW = g[3], PH = g[4], PW = g[5], DH = g[6], DW = g[7];\n"
    "    int cg = C / g[8], og = O / g[8], o;\n"
    "#ifdef _OPENMP\n"
    "#pragma omp parallel for schedule(static)\n"
    "#endif\n"
    "    for (o = 0; o < O; o++) {\n"
    "        float *yp = y + (long)o * OH * OW;\n"
    "        const float *xg = x + (long)(o / og) * cg * H * W, *wp = w + (long)o * cg * KH * KW;\n"
    "        float bv = b ? b[o] : 0.0f;\n"
    "        int i, c, kh, kw, oh, ow;\n"
    "        for (i = 0; i < OH * OW; i++) yp[i] = bv;\n"
    "        for (c = 0; c < cg; c++) {\n"
    "            const float *xc = xg + (long)c * H * W;\n"
    "            for (kh = 0; kh < KH; kh++) {\n"
    "                for (kw = 0; kw < KW; kw++) {\n"
    "                    float wv = wp[(c * KH + kh) * KW + kw];\n"
    "                    int off = kw * DW - PW;\n"
    "                    int ow0 = off < 0 ? (-off + SW - 1) / SW : 0;\n"
    "                    int ow1 = W - 1 - off < 0 ? 0 : (W - 1 - off) / SW + 1;\n"
    "                    if (ow1 > OW) ow1 = OW;\n"
    "                    for (oh = 0; oh < OH; oh++) {\n"
    "                        int ih = oh * SH - PH + kh * DH;\n"
    "                        float *yr = yp + (long)oh * OW;\n"
    "                        const float *xr = xc + (long)ih * W;\n"
    "                        if (ih < 0 || ih >= H) continue;\n"
    "                        if (SW == 1)\n"
    "                            for (ow = ow0; ow < ow1; ow++) yr[ow] += wv * xr[ow + off];\n"
    "                        else\n"
    "                            for (ow = ow0; ow < ow1; ow++) yr[ow] += wv * xr[ow * SW + off];\n"
    "                    }\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "        if (act) k_act(yp, yp, (long)OH * OW, act, alpha);\n"
    "    }\n"
    "}\n\n";

static const char k_pad_reflect[] =
    "/* reflect padding (PyTorch's 'reflect': the edge is not repeated) of C planes into y */\n"
    "static void k_pad_reflect(const float *x, int C, int H, int W, int PH, int PW, float *y)\n"
    "{\n"
    "    int c, i, j, HP = H + 2 * PH, WP = W + 2 * PW;\n"
    "    for (c = 0; c < C; c++)\n"
    "        for (i = 0; i < HP; i++) {\n"
    "            int si = i - PH;\n"
    "            si = si < 0 ? -si : si >= H ? 2 * (H - 1) - si : si;\n"
    "            for (j = 0; j < WP; j++) {\n"
    "                int sj = j - PW;\n"
    "                sj = sj < 0 ? -sj : sj >= W ? 2 * (W - 1) - sj : sj;\n"
    "                y[((long)c * HP + i) * WP + j] = x[((long)c * H + si) * W + sj];\n"
    "            }\n"
    "        }\n"
    "}\n\n";

static const char k_linear[] =
    "/* Linear: y[o] = b[o] + w[o, :] . x; then the activation */\n"
    "static void k_linear(const float *x, int I, const float *w, const float *b, float *y, int O, int act,\n"
    "                     float alpha)\n"
    "{\n"
    "    int o;\n"
    "#ifdef _OPENMP\n"
    "#pragma omp parallel for schedule(static) if (O * I > 65536)\n"
    "#endif\n"
    "    for (o = 0; o < O; o++) {\n"
    "        const float *wr = w + (long)o * I;\n"
    "        float s = 0.0f;\n"
    "        int i;\n"
    "        for (i = 0; i < I; i++) s += wr[i] * x[i];\n"
    "        y[o] = s + (b ? b[o] : 0.0f);\n"
    "    }\n"
    "    if (act) k_act(y, y, O, act, alpha);\n"
    "}\n\n";

static const char k_maxpool2d[] =
    "/* MaxPool2d (padding is -inf; dilation; the output size already has ceil_mode) */\n"
    "static void k_maxpool2d(const float *x, int C, int H, int W, float *y, int OH, int OW, const int *g)\n"
    "{\n"
    "    int c, oh, ow, i, j;\n"
    "    for (c = 0; c < C; c++)\n"
    "        for (oh = 0; oh < OH; oh++)\n"
    "            for (ow = 0; ow < OW; ow++) {\n"
    "                float m = -INFINITY;\n"
    "                for (i = 0; i < g[0]; i++) {\n"
    "                    int ih = oh * g[2] - g[4] + i * g[6];\n"
    "                    if (ih < 0 || ih >= H) continue;\n"
    "                    for (j = 0; j < g[1]; j++) {\n"
    "                        int iw = ow * g[3] - g[5] + j * g[7];\n"
    "                        float v;\n"
    "                        if (iw < 0 || iw >= W) continue;\n"
    "                        v = x[((long)c * H + ih) * W + iw];\n"
    "                        if (v > m || v != v) m = v;\n"
    "                    }\n"
    "                }\n"
    "                y[((long)c * OH + oh) * OW + ow] = m;\n"
    "            }\n"
    "}\n\n";

static const char k_avgpool2d[] =
    "/* AvgPool2d as PyTorch: windows clipped to the padded input, divided by their size with\n"
    " * the padding (count_include_pad) or by the input elements they cover */\n"
    "static void k_avgpool2d(const float *x, int C, int H, int W, float *y, int OH, int OW, const int *g,\n"
    "                        int count_include_pad)\n"
    "{\n"
    "    int c, oh, ow, i, j;\n"
    "    for (c = 0; c < C; c++)\n"
    "        for (oh = 0; oh < OH; oh++)\n"
    "            for (ow = 0; ow < OW; ow++) {\n"
    "                int h0 = oh * g[2] - g[4], w0 = ow * g[3] - g[5];\n"
    "                int h1 = h0 + g[0] < H + g[4] ? h0 + g[0] : H + g[4];\n"
    "                int w1 = w0 + g[1] < W + g[5] ? w0 + g[1] : W + g[5];\n"
    "                int size = (h1 - h0) * (w1 - w0);\n"
    "                float s = 0.0f;\n"
    "                h0 = h0 < 0 ? 0 : h0; w0 = w0 < 0 ? 0 : w0;\n"
    "                h1 = h1 > H ? H : h1; w1 = w1 > W ? W : w1;\n"
    "                if (!count_include_pad) size = (h1 - h0) * (w1 - w0);\n"
    "                for (i = h0; i < h1; i++)\n"
    "                    for (j = w0; j < w1; j++) s += x[((long)c * H + i) * W + j];\n"
    "                y[((long)c * OH + oh) * OW + ow] = s / (float)size;\n"
    "            }\n"
    "}\n\n";

static const char k_adaptive_pool2d[] =
    "/* AdaptiveAvgPool2d (max 0) and AdaptiveMaxPool2d (max 1): window [floor(o*H/OH),\n"
    " * ceil((o+1)*H/OH)) */\n"
    "static void k_adaptive_pool2d(const float *x, int C, int H, int W, float *y, int OH, int OW, int max)\n"
    "{\n"
    "    int c, oh, ow, i, j;\n"
    "    for (c = 0; c < C; c++)\n"
    "        for (oh = 0; oh < OH; oh++)\n"
    "            for (ow = 0; ow < OW; ow++) {\n"
    "                int h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;\n"
    "                int w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;\n"
    "                float s = max ? -INFINITY : 0.0f;\n"
    "                for (i = h0; i < h1; i++)\n"
    "                    for (j = w0; j < w1; j++) {\n"
    "                        float v = x[((long)c * H + i) * W + j];\n"
    "                        if (!max) s += v;\n"
    "                        else if (v > s || v != v) s = v;\n"
    "                    }\n"
    "                y[((long)c * OH + oh) * OW + ow] = max ? s : s / (float)((h1 - h0) * (w1 - w0));\n"
    "            }\n"
    "}\n\n";

static const char k_batchnorm[] =
    "/* BatchNorm in eval mode: (x - running_mean) / sqrt(running_var + eps) * weight + bias over\n"
    " * C channels of L values each; then the activation */\n"
    "static void k_batchnorm(const float *x, int C, long L, const float *w, const float *b, const float *rm,\n"
    "                        const float *rv, float eps, float *y, int act, float alpha)\n"
    "{\n"
    "    int c;\n"
    "    long i;\n"
    "    for (c = 0; c < C; c++) {\n"
    "        float s = 1.0f / sqrtf(rv[c] + eps), sh;\n"
    "        if (w) s *= w[c];\n"
    "        sh = (b ? b[c] : 0.0f) - rm[c] * s;\n"
    "        for (i = 0; i < L; i++) y[c * L + i] = x[c * L + i] * s + sh;\n"
    "    }\n"
    "    if (act) k_act(y, y, (long)C * L, act, alpha);\n"
    "}\n\n";

static const char k_add[] =
    "/* a + b, then the activation */\n"
    "static void k_add(const float *a, const float *b, float *y, long n, int act, float alpha)\n"
    "{\n"
    "    long i;\n"
    "    for (i = 0; i < n; i++) y[i] = a[i] + b[i];\n"
    "    if (act) k_act(y, y, n, act, alpha);\n"
    "}\n\n";

static const char k_softmax[] =
    "/* softmax (log 0) or log_softmax (log 1) over dim 1: K classes, L positions */\n"
    "static void k_softmax(const float *x, float *y, int K, long L, int log)\n"
    "{\n"
    "    long l;\n"
    "    int k;\n"
    "    for (l = 0; l < L; l++) {\n"
    "        float m = x[l], s = 0.0f;\n"
    "        for (k = 1; k < K; k++) if (x[k * L + l] > m) m = x[k * L + l];\n"
    "        for (k = 0; k < K; k++) s += expf(x[k * L + l] - m);\n"
    "        for (k = 0; k < K; k++)\n"
    "            y[k * L + l] = log ? x[k * L + l] - m - logf(s) : expf(x[k * L + l] - m) / s;\n"
    "    }\n"
    "}\n\n";

const EmitKernel emit_c_kernels[EK_COUNT] = {
    [EK_ACT] = { k_act, 0 },
    [EK_CONV2D] = { k_conv2d, 1u << EK_ACT },
    [EK_PAD_REFLECT] = { k_pad_reflect, 0 },
    [EK_LINEAR] = { k_linear, 1u << EK_ACT },
    [EK_MAXPOOL2D] = { k_maxpool2d, 0 },
    [EK_AVGPOOL2D] = { k_avgpool2d, 0 },
    [EK_ADAPTIVE_POOL2D] = { k_adaptive_pool2d, 0 },
    [EK_BATCHNORM] = { k_batchnorm, 1u << EK_ACT },
    [EK_ADD] = { k_add, 1u << EK_ACT },
    [EK_SOFTMAX] = { k_softmax, 0 },
};
