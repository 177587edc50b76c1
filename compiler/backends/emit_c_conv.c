/* compiler/backends/emit_c_conv.c: the packed Conv2d of --emit-c, float and int8: the C99
 * source text of its two kernels (an optional AVX2 path beside the plain loops, which give
 * the same sums) and the layouts their weights are packed in when the file is written:
 * blocks of output channels innermost (float 16, int8 8 with input channels in pairs). */
#include "emit_c.h"


#include "../../runtime/error.h"

const char emit_c_conv2d_pk[] =
    "/* Conv2d over one image with weights packed at emit time in blocks of 16 output channels,\n"
    " * wp[group][block][c][kh][kw][16] (zeros past the group's last channel): the input is first\n"
    " * copied with its zero padding into xp (C planes HP x WP, wide enough that every tile of 8\n"
    " * output columns reads inside it), then for each block of 16 channels and each tile of 4\n"
    " * columns of an output row, acc[4 columns][16 channels] sums x * w over the input channels\n"
    " * and taps, kept in registers; then the bias and the activation (a ReLU as the tile is\n"
    " * stored). The taps run in one loop, G input channels at a time (KH * KW <= 256): toff\n"
    " * holds the offsets in xp of the G channels' taps */\n"
    "static void k_conv2d_pk(const float *x, int C, int H, int W, const float *w, const float *b, float *y,\n"
    "                        int O, int OH, int OW, const int *g, int act, float alpha, float *xp)\n"
    "{\n"
    "    /* g: kh, kw, sh, sw, ph, pw, dh, dw, groups */\n"
    "    int KH = g[0], KW = g[1], SH = g[2], SW = g[3], PH = g[4], PW = g[5], DH = g[6], DW = g[7];\n"
    "    int cg = C / g[8], og = O / g[8], nb = (og + 15) / 16, HP, WP, bi, c, i, j, G = 256 / (KH * KW), t;\n"
    "    long pl = (long)OH * OW, ps, toff[256];\n"
    "    if (KH == 1 && KW == 1 && !PH && !PW && (SH > 1 || SW > 1)) {\n"
    "        /* a strided 1x1 Conv2d: only the pixels it reads, gathered into OH x OW planes, the\n"
    "         * rows padded to whole tiles; then a stride-1 1x1 Conv2d of them */\n"
    "        WP = (OW + 7) / 8 * 8;\n"
    "        ps = (long)OH * WP;\n"
    "        for (c = 0; c < C; c++)\n"
    "            for (i = 0; i < OH; i++) {\n"
    "                const float *xr = x + ((long)c * H + (long)i * SH) * W;\n"
    "                float *pr = xp + c * ps + (long)i * WP;\n"
    "                for (j = 0; j < OW; j++) pr[j] = xr[(long)j * SW];\n"
    "                for (; j < WP; j++) pr[j] = 0.0f;\n"
    "            }\n"
    "        SH = SW = 1;\n"
    "    } else {\n"
    "        HP = H + 2 * PH;\n"
    "        WP = ((OW + 7) / 8 * 8 - 1) * SW + (KW - 1) * DW + 1;\n"
    "        WP = WP > W + PW ? WP : W + PW;\n"
    "        ps = (long)HP * WP;\n"
    "        memset(xp, 0, (size_t)(C * ps) * sizeof *xp);\n"
    "        for (c = 0; c < C; c++)\n"
    "            for (i = 0; i < H; i++) memcpy(xp + c * ps + (long)(i + PH) * WP + PW, x + ((long)c * H + i) * W, (size_t)W * sizeof *x);\n"
    "    }\n"
    "    G = G < cg ? G : cg;\n"
    "    for (c = 0, t = 0; c < G; c++)\n"
    "        for (i = 0; i < KH; i++)\n"
    "            for (j = 0; j < KW; j++) toff[t++] = c * ps + (long)i * DH * WP + j * DW;\n"
    "#ifdef _OPENMP\n"
    "#pragma omp parallel for schedule(static)\n"
    "#endif\n"
    "    for (bi = 0; bi < g[8] * nb; bi++) {\n"
    "        int o = bi / nb * og + bi % nb * 16, n = og - bi % nb * 16, oh, q0;\n"
    "        const float *xg = xp + (long)(bi / nb) * cg * ps, *wb = w + (long)bi * cg * KH * KW * 16;\n"
    "        if (n > 16) n = 16;\n"
    "        for (oh = 0; oh < OH; oh++)\n"
    "            for (q0 = 0; q0 < OW; q0 += 4) {\n"
    "                float acc[4][16];\n"
    "                int p, jj, tt, c0, m = OW - q0 < 4 ? OW - q0 : 4;\n"
    "#if defined(__AVX2__) && defined(__FMA__)\n"
    "                __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;\n"
    "#else\n"
    "                memset(acc, 0, sizeof acc);\n"
    "#endif\n"
    "                const float *x0 = xg + (long)oh * SH * WP + (long)q0 * SW, *wk = wb;\n"
    "                for (c0 = 0; c0 < cg; c0 += G) {\n"
    "                    const float *xc = x0 + c0 * ps;\n"
    "                    int nt = (cg - c0 < G ? cg - c0 : G) * KH * KW;\n"
    "                    for (tt = 0; tt < nt; tt++, wk += 16) {\n"
    "                        const float *xs = xc + toff[tt];\n"
    "#if defined(__AVX2__) && defined(__FMA__)\n"
    "                        __m256 w0 = _mm256_loadu_ps(wk), w1 = _mm256_loadu_ps(wk + 8), xv;\n"
    "                        xv = _mm256_broadcast_ss(xs);\n"
    "                        a00 = _mm256_fmadd_ps(xv, w0, a00); a01 = _mm256_fmadd_ps(xv, w1, a01);\n"
    "                        xv = _mm256_broadcast_ss(xs + SW);\n"
    "                        a10 = _mm256_fmadd_ps(xv, w0, a10); a11 = _mm256_fmadd_ps(xv, w1, a11);\n"
    "                        xv = _mm256_broadcast_ss(xs + 2 * SW);\n"
    "                        a20 = _mm256_fmadd_ps(xv, w0, a20); a21 = _mm256_fmadd_ps(xv, w1, a21);\n"
    "                        xv = _mm256_broadcast_ss(xs + 3 * SW);\n"
    "                        a30 = _mm256_fmadd_ps(xv, w0, a30); a31 = _mm256_fmadd_ps(xv, w1, a31);\n"
    "#else\n"
    "                        for (p = 0; p < 4; p++)\n"
    "                            for (jj = 0; jj < 16; jj++) acc[p][jj] += xs[p * SW] * wk[jj];\n"
    "#endif\n"
    "                    }\n"
    "                }\n"
    "#if defined(__AVX2__) && defined(__FMA__)\n"
    "                _mm256_storeu_ps(acc[0], a00); _mm256_storeu_ps(acc[0] + 8, a01);\n"
    "                _mm256_storeu_ps(acc[1], a10); _mm256_storeu_ps(acc[1] + 8, a11);\n"
    "                _mm256_storeu_ps(acc[2], a20); _mm256_storeu_ps(acc[2] + 8, a21);\n"
    "                _mm256_storeu_ps(acc[3], a30); _mm256_storeu_ps(acc[3] + 8, a31);\n"
    "#endif\n"
    "                for (jj = 0; jj < n; jj++) {\n"
    "                    float bv = b ? b[o + jj] : 0.0f, *yr = y + (o + jj) * pl + (long)oh * OW + q0;\n"
    "                    for (p = 0; p < m; p++) {\n"
    "                        float v = acc[p][jj] + bv;\n"
    "                        yr[p] = act != 1 || v > 0.0f ? v : 0.0f;\n"
    "                    }\n"
    "                }\n"
    "            }\n"
    "        if (act > 1) k_act(y + o * pl, y + o * pl, n * pl, act, alpha);\n"
    "    }\n"
    "}\n"
    ;

const char emit_c_conv2d_pk_i8[] =
    "/* Conv2d on int8, k_conv2d_pk's loops: the input quantized once (x / sx rounded half away\n"
    " * from zero to -127..127) into xq, int16 pairs of input channels with the zero padding,\n"
    " * xq[group][c / 2][HP][WP][2]; weights per-channel int8 packed at emit time as\n"
    " * w[group][block][c / 2][kh][kw][8 channels][2]; each pair of channels adds\n"
    " * x0 * w0 + x1 * w1 to an int32 sum (vpmaddwd with AVX2); y = b + scale * sum, then the\n"
    " * activation */\n"
    "static void k_conv2d_pk_i8(const float *x, float sx, int C, int H, int W, const signed char *w, const float *scale,\n"
    "                           const float *b, float *y, int O, int OH, int OW, const int *g, int act, float alpha,\n"
    "                           short *xq)\n"
    "{\n"
    "    /* g: kh, kw, sh, sw, ph, pw, dh, dw, groups */\n"
    "    int KH = g[0], KW = g[1], SH = g[2], SW = g[3], PH = g[4], PW = g[5], DH = g[6], DW = g[7];\n"
    "    int cg = C / g[8], og = O / g[8], nb = (og + 7) / 8, c2 = (cg + 1) / 2, HP = H + 2 * PH, WP, bi, c, i, j;\n"
    "    long pl = (long)OH * OW, ps;\n"
    "    float inv = 1.0f / sx;\n"
    "    WP = ((OW + 7) / 8 * 8 - 1) * SW + (KW - 1) * DW + 1;\n"
    "    WP = WP > W + PW ? WP : W + PW;\n"
    "    ps = (long)HP * WP * 2;\n"
    "    memset(xq, 0, (size_t)(g[8] * c2 * ps) * sizeof *xq);\n"
    "    for (c = 0; c < C; c++) {\n"
    "        short *qp = xq + (long)(c / cg * c2 + c % cg / 2) * ps + c % cg % 2;\n"
    "        for (i = 0; i < H; i++)\n"
    "            for (j = 0; j < W; j++) {\n"
    "                float v = x[((long)c * H + i) * W + j] * inv;\n"
    "                v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;\n"
    "                qp[((long)(i + PH) * WP + j + PW) * 2] = (short)(v < 0.0f ? v - 0.5f : v + 0.5f);\n"
    "            }\n"
    "    }\n"
    "#ifdef _OPENMP\n"
    "#pragma omp parallel for schedule(static)\n"
    "#endif\n"
    "    for (bi = 0; bi < g[8] * nb; bi++) {\n"
    "        int o = bi / nb * og + bi % nb * 8, n = og - bi % nb * 8, oh, q0;\n"
    "        const short *xg = xq + (long)(bi / nb) * c2 * ps;\n"
    "        const signed char *wb = w + (long)bi * c2 * KH * KW * 16;\n"
    "        if (n > 8) n = 8;\n"
    "        for (oh = 0; oh < OH; oh++)\n"
    "            for (q0 = 0; q0 < OW; q0 += 8) {\n"
    "                int acc[8][8], p, k, ci, kh, kw, m = OW - q0 < 8 ? OW - q0 : 8;\n"
    "#if defined(__AVX2__)\n"
    "                __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;\n"
    "#else\n"
    "                memset(acc, 0, sizeof acc);\n"
    "#endif\n"
    "                for (ci = 0; ci < c2; ci++)\n"
    "                    for (kh = 0; kh < KH; kh++) {\n"
    "                        const short *xr = xg + ci * ps + ((long)(oh * SH + kh * DH) * WP + (long)q0 * SW) * 2;\n"
    "                        const signed char *wk = wb + ((long)ci * KH + kh) * KW * 16;\n"
    "                        for (kw = 0; kw < KW; kw++, wk += 16) {\n"
    "                            const short *xs = xr + kw * DW * 2;\n"
    "#if defined(__AVX2__)\n"
    "                            int t0, t1, t2, t3, t4, t5, t6, t7;\n"
    "                            __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wk));\n"
    "                            memcpy(&t0, xs, 4); memcpy(&t1, xs + 2 * SW, 4);\n"
    "                            memcpy(&t2, xs + 4 * SW, 4); memcpy(&t3, xs + 6 * SW, 4);\n"
    "                            memcpy(&t4, xs + 8 * SW, 4); memcpy(&t5, xs + 10 * SW, 4);\n"
    "                            memcpy(&t6, xs + 12 * SW, 4); memcpy(&t7, xs + 14 * SW, 4);\n"
    "                            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_set1_epi32(t0), wv));\n"
    "                            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_set1_epi32(t1), wv));\n"
    "                            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_set1_epi32(t2), wv));\n"
    "                            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_set1_epi32(t3), wv));\n"
    "                            a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(_mm256_set1_epi32(t4), wv));\n"
    "                            a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(_mm256_set1_epi32(t5), wv));\n"
    "                            a6 = _mm256_add_epi32(a6, _mm256_madd_epi16(_mm256_set1_epi32(t6), wv));\n"
    "                            a7 = _mm256_add_epi32(a7, _mm256_madd_epi16(_mm256_set1_epi32(t7), wv));\n"
    "#else\n"
    "                            for (p = 0; p < 8; p++) {\n"
    "                                int x0 = xs[p * SW * 2], x1 = xs[p * SW * 2 + 1];\n"
    "                                for (k = 0; k < 8; k++) acc[p][k] += x0 * wk[2 * k] + x1 * wk[2 * k + 1];\n"
    "                            }\n"
    "#endif\n"
    "                        }\n"
    "                    }\n"
    "#if defined(__AVX2__)\n"
    "                _mm256_storeu_si256((__m256i *)acc[0], a0); _mm256_storeu_si256((__m256i *)acc[1], a1);\n"
    "                _mm256_storeu_si256((__m256i *)acc[2], a2); _mm256_storeu_si256((__m256i *)acc[3], a3);\n"
    "                _mm256_storeu_si256((__m256i *)acc[4], a4); _mm256_storeu_si256((__m256i *)acc[5], a5);\n"
    "                _mm256_storeu_si256((__m256i *)acc[6], a6); _mm256_storeu_si256((__m256i *)acc[7], a7);\n"
    "#endif\n"
    "                for (k = 0; k < n; k++) {\n"
    "                    float bv = b ? b[o + k] : 0.0f, sc = scale[o + k], *yr = y + (o + k) * pl + (long)oh * OW + q0;\n"
    "                    for (p = 0; p < m; p++) yr[p] = (float)acc[p][k] * sc + bv;\n"
    "                }\n"
    "            }\n"
    "        if (act) k_act(y + o * pl, y + o * pl, n * pl, act, alpha);\n"
    "    }\n"
    "}\n"
    ;

int emit_conv_packed(int O, int groups, int taps)
{
    return (groups <= 1 || O / groups >= 8) && taps <= 256;
}

size_t emit_conv_scratch(int C, int H, int W, int OW, const int *g, int int8)
{
    int HP = H + 2 * g[4], WP = ((OW + 7) / 8 * 8 - 1) * g[3] + (g[1] - 1) * g[7] + 1, G = g[8] > 1 ? g[8] : 1;
    if (WP < W + g[5]) WP = W + g[5];
    /* int8: int16 pairs of channels, G * ceil(C / G / 2) of them: 4 bytes a pair, a float's */
    return (size_t)(int8 ? G * ((C / G + 1) / 2) : C) * (size_t)HP * (size_t)WP;
}

size_t emit_conv_packed_numel(int O, int cg, int taps, int groups, int int8)
{
    /* float: blocks of 16 output channels; int8: of 8, input channels in pairs */
    int G = groups > 1 ? groups : 1, bs = int8 ? 8 : 16, nb = (O / G + bs - 1) / bs;
    return (size_t)G * (size_t)nb * (size_t)(int8 ? (cg + 1) / 2 * 2 : cg) * (size_t)taps * (size_t)bs;
}

float *emit_conv_pack(const float *w, int O, int cg, int taps, int groups)
{
    int G = groups > 1 ? groups : 1, og = O / G, nb = (og + 15) / 16;
    float *p = xcalloc(emit_conv_packed_numel(O, cg, taps, G, 0), sizeof *p);
    for (int o = 0; o < O; o++) {
        size_t bi = (size_t)(o / og) * (size_t)nb + (size_t)(o % og / 16);
        for (int c = 0; c < cg; c++)
            for (int t = 0; t < taps; t++)
                p[((bi * (size_t)cg + (size_t)c) * (size_t)taps + (size_t)t) * 16 + (size_t)(o % og % 16)] =
                    w[((size_t)o * (size_t)cg + (size_t)c) * (size_t)taps + (size_t)t];
    }
    return p;
}

signed char *emit_conv_pack_i8(const signed char *q, int O, int cg, int taps, int groups)
{
    int G = groups > 1 ? groups : 1, og = O / G, nb = (og + 7) / 8, c2 = (cg + 1) / 2;
    signed char *p = xcalloc(emit_conv_packed_numel(O, cg, taps, G, 1), sizeof *p);
    for (int o = 0; o < O; o++) {
        size_t bi = (size_t)(o / og) * (size_t)nb + (size_t)(o % og / 8);
        for (int c = 0; c < cg; c++)
            for (int t = 0; t < taps; t++)
                p[(((bi * (size_t)c2 + (size_t)(c / 2)) * (size_t)taps + (size_t)t) * 8 + (size_t)(o % og % 8)) * 2 +
                  (size_t)(c % 2)] = q[((size_t)o * (size_t)cg + (size_t)c) * (size_t)taps + (size_t)t];
    }
    return p;
}
