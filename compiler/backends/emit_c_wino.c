/* compiler/backends/emit_c_wino.c: the float Conv2d of --emit-c for 3x3 kernels at stride 1,
 * dilation 1, one group, by Winograd's F(2x2, 3x3) and F(4x4, 3x3): the C99 source text of
 * their kernels (an optional AVX2 path beside the plain loops: the same sums, fused
 * multiply-adds), when a Conv2d takes which, their scratch, and the filter transform
 * U = G g G^T done when the file is written. */
#include "emit_c.h"

#include <stdlib.h>
#include <string.h>

const char emit_c_wino_products[] =
    "/* Winograd's products at one position of the transform, for 6 tiles and 16 output channels:\n"
    " * m[tile][channel] = sum over c of v[c][tile] * u[c][channel], in a 6 x 16 register tile */\n"
    "static void k_wino_products(const float *v, const float *u, int C, float m[6][16])\n"
    "{\n"
    "    int c;\n"
    "#if defined(__AVX512F__)\n"
    "    /* one 16-lane register a tile, the even and the odd channels in two sums (12 chains) */\n"
    "    __m512 e0 = _mm512_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, e4 = e0, e5 = e0;\n"
    "    __m512 o0 = e0, o1 = e0, o2 = e0, o3 = e0, o4 = e0, o5 = e0;\n"
    "    for (c = 0; c + 1 < C; c += 2, v += 12, u += 32) {\n"
    "        __m512 w = _mm512_loadu_ps(u), w1 = _mm512_loadu_ps(u + 16);\n"
    "        e0 = _mm512_fmadd_ps(_mm512_set1_ps(v[0]), w, e0); e1 = _mm512_fmadd_ps(_mm512_set1_ps(v[1]), w, e1);\n"
    "        e2 = _mm512_fmadd_ps(_mm512_set1_ps(v[2]), w, e2); e3 = _mm512_fmadd_ps(_mm512_set1_ps(v[3]), w, e3);\n"
    "        e4 = _mm512_fmadd_ps(_mm512_set1_ps(v[4]), w, e4); e5 = _mm512_fmadd_ps(_mm512_set1_ps(v[5]), w, e5);\n"
    "        o0 = _mm512_fmadd_ps(_mm512_set1_ps(v[6]), w1, o0); o1 = _mm512_fmadd_ps(_mm512_set1_ps(v[7]), w1, o1);\n"
    "        o2 = _mm512_fmadd_ps(_mm512_set1_ps(v[8]), w1, o2); o3 = _mm512_fmadd_ps(_mm512_set1_ps(v[9]), w1, o3);\n"
    "        o4 = _mm512_fmadd_ps(_mm512_set1_ps(v[10]), w1, o4); o5 = _mm512_fmadd_ps(_mm512_set1_ps(v[11]), w1, o5);\n"
    "    }\n"
    "    if (c < C) {\n"
    "        __m512 w = _mm512_loadu_ps(u);\n"
    "        e0 = _mm512_fmadd_ps(_mm512_set1_ps(v[0]), w, e0); e1 = _mm512_fmadd_ps(_mm512_set1_ps(v[1]), w, e1);\n"
    "        e2 = _mm512_fmadd_ps(_mm512_set1_ps(v[2]), w, e2); e3 = _mm512_fmadd_ps(_mm512_set1_ps(v[3]), w, e3);\n"
    "        e4 = _mm512_fmadd_ps(_mm512_set1_ps(v[4]), w, e4); e5 = _mm512_fmadd_ps(_mm512_set1_ps(v[5]), w, e5);\n"
    "    }\n"
    "    _mm512_storeu_ps(m[0], _mm512_add_ps(e0, o0)); _mm512_storeu_ps(m[1], _mm512_add_ps(e1, o1));\n"
    "    _mm512_storeu_ps(m[2], _mm512_add_ps(e2, o2)); _mm512_storeu_ps(m[3], _mm512_add_ps(e3, o3));\n"
    "    _mm512_storeu_ps(m[4], _mm512_add_ps(e4, o4)); _mm512_storeu_ps(m[5], _mm512_add_ps(e5, o5));\n"
    "#elif defined(__AVX2__) && defined(__FMA__)\n"
    "    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;\n"
    "    __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;\n"
    "    for (c = 0; c < C; c++, v += 6, u += 16) {\n"
    "        __m256 w0 = _mm256_loadu_ps(u), w1 = _mm256_loadu_ps(u + 8), xv;\n"
    "        xv = _mm256_broadcast_ss(v);\n"
    "        a00 = _mm256_fmadd_ps(xv, w0, a00); a01 = _mm256_fmadd_ps(xv, w1, a01);\n"
    "        xv = _mm256_broadcast_ss(v + 1);\n"
    "        a10 = _mm256_fmadd_ps(xv, w0, a10); a11 = _mm256_fmadd_ps(xv, w1, a11);\n"
    "        xv = _mm256_broadcast_ss(v + 2);\n"
    "        a20 = _mm256_fmadd_ps(xv, w0, a20); a21 = _mm256_fmadd_ps(xv, w1, a21);\n"
    "        xv = _mm256_broadcast_ss(v + 3);\n"
    "        a30 = _mm256_fmadd_ps(xv, w0, a30); a31 = _mm256_fmadd_ps(xv, w1, a31);\n"
    "        xv = _mm256_broadcast_ss(v + 4);\n"
    "        a40 = _mm256_fmadd_ps(xv, w0, a40); a41 = _mm256_fmadd_ps(xv, w1, a41);\n"
    "        xv = _mm256_broadcast_ss(v + 5);\n"
    "        a50 = _mm256_fmadd_ps(xv, w0, a50); a51 = _mm256_fmadd_ps(xv, w1, a51);\n"
    "    }\n"
    "    _mm256_storeu_ps(m[0], a00); _mm256_storeu_ps(m[0] + 8, a01);\n"
    "    _mm256_storeu_ps(m[1], a10); _mm256_storeu_ps(m[1] + 8, a11);\n"
    "    _mm256_storeu_ps(m[2], a20); _mm256_storeu_ps(m[2] + 8, a21);\n"
    "    _mm256_storeu_ps(m[3], a30); _mm256_storeu_ps(m[3] + 8, a31);\n"
    "    _mm256_storeu_ps(m[4], a40); _mm256_storeu_ps(m[4] + 8, a41);\n"
    "    _mm256_storeu_ps(m[5], a50); _mm256_storeu_ps(m[5] + 8, a51);\n"
    "#else\n"
    "    int p, q;\n"
    "    memset(m, 0, 6 * sizeof *m);\n"
    "    for (c = 0; c < C; c++, v += 6, u += 16)\n"
    "        for (p = 0; p < 6; p++)\n"
    "            for (q = 0; q < 16; q++) m[p][q] += v[p] * u[q];\n"
    "#endif\n"
    "}\n"
    ;

const char emit_c_conv2d_wino[] =
    "/* Conv2d 3x3, stride 1, dilation 1, one group, by Winograd's F(2x2, 3x3): each 2 x 2 tile\n"
    " * of the output comes from the 4 x 4 tile d of the zero-padded input around it. The filters\n"
    " * were transformed when this file was written: u[block of 16 output channels][16][C][16] =\n"
    " * G g G^T (zeros past the last channel). Here the input is copied with its padding into xp\n"
    " * (C planes HP x WP, whole tiles); the tiles run along the output rows and on to the next,\n"
    " * and in chunks of blocks of 6 of them, v = B^T d B of each tile and channel goes after xp\n"
    " * in panels v[16][block][C][6]; then for each block of 16 output channels and of 6 tiles,\n"
    " * the 16 products m[e] = sum over c of u[e] * v[e] (k_wino_products), then y = A^T m A\n"
    " * plus the bias and the activation (a ReLU as the tile is stored). pool: a fused 2x2\n"
    " * stride-2 MaxPool2d and ReLU after it, each tile's maximum: y is O x OH / 2 x OW / 2 */\n"
    "static void k_conv2d_wino(const float *x, int C, int H, int W, const float *u, const float *b, float *y,\n"
    "                          int O, int OH, int OW, int PH, int PW, int act, float alpha, int pool, float *xp)\n"
    "{\n"
    "    int TH = (OH + 1) / 2, TW = (OW + 1) / 2, T = TH * TW, TB = (T + 5) / 6, HP = 2 * TH + 2, WP = 2 * TW + 2;\n"
    "    int nb = (O + 15) / 16, cb = 2048 / C, bi, c, i, j, e, tc;\n"
    "    long ps = (long)HP * WP, pl = (long)OH * OW;\n"
    "    float *v = xp + C * ps;\n"
    "    (void)pool;     /* a file without a fused pool has the kernel without its code */\n"
    "    k_pad(x, C, H, W, PH, PW, HP, WP, xp);\n"
    "    /* chunks of cb = 2048 / C blocks of 6 tiles: their transform (16 x cb x C x 6 floats, at most 768 KiB) is reused from cache */\n"
    "    if (cb < 1) cb = 1;\n"
    "    for (tc = 0; tc < TB; tc += cb) {\n"
    "        int ne = TB - tc < cb ? TB - tc : cb, nt = T - tc * 6 < ne * 6 ? T - tc * 6 : ne * 6, t;\n"
    "        long vs = (long)ne * C * 6 + 16;  /* 64 bytes more: the 16 planes in different cache sets */\n"
    "        for (c = 0; c < C; c++) {\n"
    "            i = tc * 6 / TW, j = tc * 6 % TW;\n"
    "            for (t = 0; t < nt; t++) {\n"
    "                float *vt = v + ((long)(t / 6) * C + c) * 6 + t % 6, r[4][4];\n"
    "                const float *d0 = xp + c * ps + (long)(2 * i) * WP + 2 * j, *d1 = d0 + WP, *d2 = d1 + WP, *d3 = d2 + WP;\n"
    "                if (t % 6 == 0 && t + 6 <= nt && j + 6 <= TW) {\n"
    "                    /* a block of 6 tiles along one row: the 14 columns under it at once, then each\n"
    "                     * of the 16 planes gets the block's 6 values side by side */\n"
    "                    float q[4][14];\n"
    "                    for (e = 0; e < 14; e++) {\n"
    "                        q[0][e] = d0[e] - d2[e]; q[1][e] = d1[e] + d2[e];\n"
    "                        q[2][e] = d2[e] - d1[e]; q[3][e] = d1[e] - d3[e];\n"
    "                    }\n"
    "                    for (e = 0; e < 4; e++) {\n"
    "                        float *w0 = vt + (4 * e) * vs, *w1 = w0 + vs, *w2 = w1 + vs, *w3 = w2 + vs;\n"
    "                        const float *qe = q[e];\n"
    "                        int k;\n"
    "                        for (k = 0; k < 6; k++) {\n"
    "                            w0[k] = qe[2 * k] - qe[2 * k + 2]; w1[k] = qe[2 * k + 1] + qe[2 * k + 2];\n"
    "                            w2[k] = qe[2 * k + 2] - qe[2 * k + 1]; w3[k] = qe[2 * k + 1] - qe[2 * k + 3];\n"
    "                        }\n"
    "                    }\n"
    "                    t += 5, j += 5;\n"
    "                    if (++j == TW) j = 0, i++;\n"
    "                    continue;\n"
    "                }\n"
    "                for (e = 0; e < 4; e++) {\n"
    "                    r[0][e] = d0[e] - d2[e]; r[1][e] = d1[e] + d2[e];\n"
    "                    r[2][e] = d2[e] - d1[e]; r[3][e] = d1[e] - d3[e];\n"
    "                }\n"
    "                for (e = 0; e < 4; e++) {\n"
    "                    vt[(4 * e) * vs] = r[e][0] - r[e][2]; vt[(4 * e + 1) * vs] = r[e][1] + r[e][2];\n"
    "                    vt[(4 * e + 2) * vs] = r[e][2] - r[e][1]; vt[(4 * e + 3) * vs] = r[e][1] - r[e][3];\n"
    "                }\n"
    "                if (++j == TW) j = 0, i++;\n"
    "            }\n"
    "            for (; t < ne * 6; t++)\n"
    "                for (e = 0; e < 16; e++) v[e * vs + ((long)(t / 6) * C + c) * 6 + t % 6] = 0.0f;\n"
    "        }\n"
    "#ifdef _OPENMP\n"
    "#pragma omp parallel for schedule(static)\n"
    "#endif\n"
    "        for (bi = 0; bi < nb; bi++) {\n"
    "            int o = bi * 16, n = O - o < 16 ? O - o : 16, tb, tg, g, ng, p, q, kk;\n"
    "            /* groups of up to 4 blocks of tiles, each position's weights read once a group (mg: 24 KiB of stack) */\n"
    "            for (tg = 0; tg < ne; tg += 4) {\n"
    "              float mg[4][16][6][16];\n"
    "              ng = ne - tg < 4 ? ne - tg : 4;\n"
    "              for (kk = 0; kk < 16; kk++)\n"
    "                  for (g = 0; g < ng; g++)\n"
    "                      k_wino_products(v + kk * vs + (long)(tg + g) * C * 6, u + ((long)bi * 16 + kk) * C * 16, C, mg[g][kk]);\n"
    "              for (g = 0, tb = tg; g < ng; g++, tb++) {\n"
    "                float (*m)[6][16] = mg[g];\n"
    "                /* y = A^T m A + b for the block's tiles and channels */\n"
    "                for (p = 0; p < 6 && (tc + tb) * 6 + p < T; p++) {\n"
    "                    int oh = ((tc + tb) * 6 + p) / TW * 2, ow = ((tc + tb) * 6 + p) % TW * 2;\n"
    "                    float z[4][16];\n"
    "                    for (q = 0; q < 16; q++) {\n"
    "                        float s0[4], s1[4], bv = b && q < n ? b[o + q] : 0.0f;\n"
    "                        for (kk = 0; kk < 4; kk++) {\n"
    "                            s0[kk] = m[kk][p][q] + m[4 + kk][p][q] + m[8 + kk][p][q];\n"
    "                            s1[kk] = m[4 + kk][p][q] - m[8 + kk][p][q] - m[12 + kk][p][q];\n"
    "                        }\n"
    "                        z[0][q] = s0[0] + s0[1] + s0[2] + bv; z[1][q] = s0[1] - s0[2] - s0[3] + bv;\n"
    "                        z[2][q] = s1[0] + s1[1] + s1[2] + bv; z[3][q] = s1[1] - s1[2] - s1[3] + bv;\n"
    "                    }\n"
    "                    if (act == 1)\n"
    "                        for (kk = 0; kk < 4; kk++)\n"
    "                            for (q = 0; q < 16; q++) z[kk][q] = z[kk][q] > 0.0f ? z[kk][q] : 0.0f;\n"
    "                    if (pool) {\n"
    "                        /* the tile's maximum, then the ReLU (0 for a tile with a NaN, as after a pool that\n"
    "                         * keeps it); a tile over the last row or column of an odd size is left out */\n"
    "                        long pp = (long)(OH / 2) * (OW / 2);\n"
    "                        if (oh + 1 < OH && ow + 1 < OW)\n"
    "                            for (q = 0; q < n; q++) {\n"
    "                                float mx = 0.0f;\n"
    "                                for (kk = 0; kk < 4; kk++) mx = z[kk][q] > mx ? z[kk][q] : mx;\n"
    "                                for (kk = 0; kk < 4; kk++) mx = z[kk][q] != z[kk][q] ? 0.0f : mx;\n"
    "                                y[(o + q) * pp + (long)(oh / 2) * (OW / 2) + ow / 2] = mx;\n"
    "                            }\n"
    "                        continue;\n"
    "                    }\n"
    "                    for (q = 0; q < n; q++) {\n"
    "                        float *yo = y + (o + q) * pl + (long)oh * OW + ow;\n"
    "                        yo[0] = z[0][q];\n"
    "                        if (ow + 1 < OW) yo[1] = z[1][q];\n"
    "                        if (oh + 1 < OH) {\n"
    "                            yo[OW] = z[2][q];\n"
    "                            if (ow + 1 < OW) yo[OW + 1] = z[3][q];\n"
    "                        }\n"
    "                    }\n"
    "                }\n"
    "              }\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "    if (act > 1) k_act(y, y, O * pl, act, alpha);\n"
    "}\n"
    ;

const char emit_c_conv2d_wino4[] =
    "/* Conv2d 3x3, stride 1, dilation 1, one group, by Winograd's F(4x4, 3x3): k_conv2d_wino's\n"
    " * steps on 4 x 4 output tiles, each from the 6 x 6 input tile d around it; 36 products a\n"
    " * tile where the direct loops take 144 multiply-adds. u[block of 16][36][C][16] = G g G^T\n"
    " * with G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],\n"
    " * v = B^T d B, y = A^T m A, B^T and A^T in the comments of the loops */\n"
    "static void k_conv2d_wino4(const float *x, int C, int H, int W, const float *u, const float *b, float *y,\n"
    "                           int O, int OH, int OW, int PH, int PW, int act, float alpha, float *xp)\n"
    "{\n"
    "    int TH = (OH + 3) / 4, TW = (OW + 3) / 4, T = TH * TW, TB = (T + 5) / 6, HP = 4 * TH + 2, WP = 4 * TW + 2;\n"
    "    int nb = (O + 15) / 16, cb = 1024 / C, bi, c, i, j, e, tc;\n"
    "    long ps = (long)HP * WP, pl = (long)OH * OW;\n"
    "    float *v = xp + C * ps;\n"
    "    k_pad(x, C, H, W, PH, PW, HP, WP, xp);\n"
    "    /* chunks of cb = 1024 / C blocks of 6 tiles: their transform (36 x cb x C x 6 floats, at most 864 KiB) is reused from cache */\n"
    "    if (cb < 1) cb = 1;\n"
    "    for (tc = 0; tc < TB; tc += cb) {\n"
    "        int ne = TB - tc < cb ? TB - tc : cb, nt = T - tc * 6 < ne * 6 ? T - tc * 6 : ne * 6, t;\n"
    "        long vs = (long)ne * C * 6 + 16;  /* 64 bytes more: the 36 planes in different cache sets */\n"
    "        for (c = 0; c < C; c++) {\n"
    "            i = tc * 6 / TW, j = tc * 6 % TW;\n"
    "            for (t = 0; t < nt; t++) {\n"
    "                float *vt = v + ((long)(t / 6) * C + c) * 6 + t % 6, r[6][6];\n"
    "                const float *d = xp + c * ps + (long)(4 * i) * WP + 4 * j;\n"
    "                /* B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1] */\n"
    "                for (e = 0; e < 6; e++) {\n"
    "                    float d0 = d[e], d1 = d[WP + e], d2 = d[2 * WP + e], d3 = d[3 * WP + e], d4 = d[4 * WP + e], d5 = d[5 * WP + e];\n"
    "                    r[0][e] = 4.0f * d0 - 5.0f * d2 + d4; r[1][e] = d3 + d4 - 4.0f * (d1 + d2);\n"
    "                    r[2][e] = d4 - d3 + 4.0f * (d1 - d2); r[3][e] = d4 - d2 + 2.0f * (d3 - d1);\n"
    "                    r[4][e] = d4 - d2 + 2.0f * (d1 - d3); r[5][e] = 4.0f * d1 - 5.0f * d3 + d5;\n"
    "                }\n"
    "                for (e = 0; e < 6; e++) {\n"
    "                    const float *q = r[e];\n"
    "                    vt[(6 * e) * vs] = 4.0f * q[0] - 5.0f * q[2] + q[4]; vt[(6 * e + 1) * vs] = q[3] + q[4] - 4.0f * (q[1] + q[2]);\n"
    "                    vt[(6 * e + 2) * vs] = q[4] - q[3] + 4.0f * (q[1] - q[2]); vt[(6 * e + 3) * vs] = q[4] - q[2] + 2.0f * (q[3] - q[1]);\n"
    "                    vt[(6 * e + 4) * vs] = q[4] - q[2] + 2.0f * (q[1] - q[3]); vt[(6 * e + 5) * vs] = 4.0f * q[1] - 5.0f * q[3] + q[5];\n"
    "                }\n"
    "                if (++j == TW) j = 0, i++;\n"
    "            }\n"
    "            for (; t < ne * 6; t++)\n"
    "                for (e = 0; e < 36; e++) v[e * vs + ((long)(t / 6) * C + c) * 6 + t % 6] = 0.0f;\n"
    "        }\n"
    "#ifdef _OPENMP\n"
    "#pragma omp parallel for schedule(static)\n"
    "#endif\n"
    "        for (bi = 0; bi < nb; bi++) {\n"
    "            int o = bi * 16, n = O - o < 16 ? O - o : 16, tb, tg, g, ng, p, q, kk, a, l;\n"
    "            /* groups of up to 4 blocks of tiles, each position's weights read once a group (mg: 54 KiB of stack) */\n"
    "            for (tg = 0; tg < ne; tg += 4) {\n"
    "              float mg[4][36][6][16];\n"
    "              ng = ne - tg < 4 ? ne - tg : 4;\n"
    "              for (kk = 0; kk < 36; kk++)\n"
    "                  for (g = 0; g < ng; g++)\n"
    "                      k_wino_products(v + kk * vs + (long)(tg + g) * C * 6, u + ((long)bi * 36 + kk) * C * 16, C, mg[g][kk]);\n"
    "              for (g = 0, tb = tg; g < ng; g++, tb++) {\n"
    "                float (*m)[6][16] = mg[g];\n"
    "                /* y = A^T m A + b, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */\n"
    "                for (p = 0; p < 6 && (tc + tb) * 6 + p < T; p++) {\n"
    "                    int oh = ((tc + tb) * 6 + p) / TW * 4, ow = ((tc + tb) * 6 + p) % TW * 4;\n"
    "                    float z[16][16];\n"
    "                    for (q = 0; q < 16; q++) {\n"
    "                        float s[4][6], bv = b && q < n ? b[o + q] : 0.0f;\n"
    "                        for (kk = 0; kk < 6; kk++) {\n"
    "                            float m0 = m[kk][p][q], m1 = m[6 + kk][p][q], m2 = m[12 + kk][p][q];\n"
    "                            float m3 = m[18 + kk][p][q], m4 = m[24 + kk][p][q], m5 = m[30 + kk][p][q];\n"
    "                            s[0][kk] = m0 + m1 + m2 + m3 + m4; s[1][kk] = m1 - m2 + 2.0f * (m3 - m4);\n"
    "                            s[2][kk] = m1 + m2 + 4.0f * (m3 + m4); s[3][kk] = m1 - m2 + 8.0f * (m3 - m4) + m5;\n"
    "                        }\n"
    "                        for (a = 0; a < 4; a++) {\n"
    "                            const float *r = s[a];\n"
    "                            z[4 * a][q] = r[0] + r[1] + r[2] + r[3] + r[4] + bv;\n"
    "                            z[4 * a + 1][q] = r[1] - r[2] + 2.0f * (r[3] - r[4]) + bv;\n"
    "                            z[4 * a + 2][q] = r[1] + r[2] + 4.0f * (r[3] + r[4]) + bv;\n"
    "                            z[4 * a + 3][q] = r[1] - r[2] + 8.0f * (r[3] - r[4]) + r[5] + bv;\n"
    "                        }\n"
    "                    }\n"
    "                    if (act == 1)\n"
    "                        for (a = 0; a < 16; a++)\n"
    "                            for (q = 0; q < 16; q++) z[a][q] = z[a][q] > 0.0f ? z[a][q] : 0.0f;\n"
    "                    for (q = 0; q < n; q++)\n"
    "                        for (a = 0; a < 4 && oh + a < OH; a++) {\n"
    "                            float *yo = y + (o + q) * pl + (long)(oh + a) * OW + ow;\n"
    "                            for (l = 0; l < 4 && ow + l < OW; l++) yo[l] = z[4 * a + l][q];\n"
    "                        }\n"
    "                }\n"
    "              }\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "    if (act > 1) k_act(y, y, O * pl, act, alpha);\n"
    "}\n"
    ;

void emit_wino_kernel(FILE *f, int pool)
{
    static const char begin[] = "                    if (pool) {\n";
    static const char end[] = "                        continue;\n                    }\n";
    const char *a = strstr(emit_c_conv2d_wino, begin), *b = a ? strstr(a, end) : NULL;
    if (pool || !b) {
        fputs(emit_c_conv2d_wino, f);
        return;
    }
    fwrite(emit_c_conv2d_wino, 1, (size_t)(a - emit_c_conv2d_wino), f);
    fputs(b + strlen(end), f);
}

int emit_conv_winograd(int C, int H, int W, const int *g)
{
    /* g: kh, kw, sh, sw, ph, pw, dh, dw, groups */
    if (g[0] != 3 || g[1] != 3 || g[2] != 1 || g[3] != 1 || g[6] != 1 || g[7] != 1 || g[8] > 1 || C < EMIT_WINO_MIN_C)
        return 0;
    return C >= EMIT_WINO4_MIN_C && H + 2 * g[4] - 2 >= EMIT_WINO4_MIN_HW && W + 2 * g[5] - 2 >= EMIT_WINO4_MIN_HW ? 4 : 2;
}

size_t emit_wino_scratch(int C, int OH, int OW, int r)
{
    /* xp, then the transform of a chunk: (r + 2)^2 planes of cb blocks of 6 tiles */
    size_t TH = (size_t)(OH + r - 1) / (size_t)r, TW = (size_t)(OW + r - 1) / (size_t)r, TB = (TH * TW + 5) / 6;
    size_t n = (size_t)(r + 2) * (size_t)(r + 2), cap = r == 4 ? 1024 : 2048;
    size_t cb = (size_t)C <= cap ? cap / (size_t)C : 1;
    return (size_t)C * (r * TH + 2) * (r * TW + 2) + n * ((size_t)C * (cb < TB ? cb : TB) * 6 + 16);
}

size_t emit_wino_numel(int O, int C, int r)
{
    return (size_t)(r + 2) * (size_t)(r + 2) * (size_t)((O + 15) / 16) * (size_t)C * 16;
}

/* G of F(2x2, 3x3) and of F(4x4, 3x3) */
static const double G2[4][3] = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
static const double G4[6][3] = { { 1.0 / 4, 0, 0 },           { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
                                 { -1.0 / 6, 1.0 / 6, -1.0 / 6 }, { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
                                 { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 } };

float *emit_wino_pack(const float *w, int O, int C, int r)
{
    int n = r + 2;
    const double *G = r == 4 ? G4[0] : G2[0];
    float *u = xcalloc(emit_wino_numel(O, C, r), sizeof *u);
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++) {
            const float *g = w + ((size_t)o * (size_t)C + (size_t)c) * 9;
            double t[6][3], v;
            /* G g, then (G g) G^T */
            for (int i = 0; i < n; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = G[i * 3] * g[j] + G[i * 3 + 1] * g[3 + j] + G[i * 3 + 2] * g[6 + j];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    v = t[i][0] * G[j * 3] + t[i][1] * G[j * 3 + 1] + t[i][2] * G[j * 3 + 2];
                    u[(((size_t)(o / 16) * (size_t)(n * n) + (size_t)(i * n + j)) * (size_t)C + (size_t)c) * 16 +
                      (size_t)(o % 16)] = (float)v;
                }
        }
    return u;
}
