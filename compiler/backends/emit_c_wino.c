/* compiler/backends/emit_c_wino.c: the float Conv2d of --emit-c for 3x3 kernels at stride 1,
 * dilation 1, one group, by Winograd's F(2x2, 3x3): the C99 source text of its kernel (an
 * optional AVX2 path beside the plain loops: the same sums, fused multiply-adds), when a Conv2d takes
 * it, its scratch, and its filter transform U = G g G^T done when the file is written. */
#include "emit_c.h"

#include <stdlib.h>

const char emit_c_conv2d_wino[] =
    "/* Conv2d 3x3, stride 1, dilation 1, one group, by Winograd's F(2x2, 3x3): each 2 x 2 tile\n"
    " * of the output comes from the 4 x 4 tile d of the zero-padded input around it. The filters\n"
    " * were transformed when this file was written: u[16][block of 8 output channels][C][8] =\n"
    " * G g G^T (zeros past the last channel). Here the input is copied with its padding into xp\n"
    " * (C planes HP x WP, whole tiles); the tiles run along the output rows and on to the next,\n"
    " * and in chunks of blocks of 8 of them, v = B^T d B of each tile and channel goes after xp\n"
    " * in panels v[16][block][C][8]; then for each block of 8 output channels and of 8 tiles, the 16 products\n"
    " * m[e] = sum over c of u[e] * v[e] in an 8 x 8 register tile, then y = A^T m A plus the\n"
    " * bias, and the activation */\n"
    "static void k_conv2d_wino(const float *x, int C, int H, int W, const float *u, const float *b, float *y,\n"
    "                          int O, int OH, int OW, int PH, int PW, int act, float alpha, float *xp)\n"
    "{\n"
    "    int TH = (OH + 1) / 2, TW = (OW + 1) / 2, T = TH * TW, TB = (T + 7) / 8, HP = 2 * TH + 2, WP = 2 * TW + 2;\n"
    "    int nb = (O + 7) / 8, cb = 24576 / (C * 16), bi, c, i, j, e, tc;\n"
    "    long ps = (long)HP * WP, pl = (long)OH * OW;\n"
    "    float *v = xp + C * ps;\n"
    "    memset(xp, 0, (size_t)(C * ps) * sizeof *xp);\n"
    "    for (c = 0; c < C; c++)\n"
    "        for (i = 0; i < H; i++) {\n"
    "            const float *xr = x + ((long)c * H + i) * W;\n"
    "            float *pr = xp + c * ps + (long)(i + PH) * WP + PW;\n"
    "            for (j = 0; j < W; j++) pr[j] = xr[j];\n"
    "        }\n"
    "    /* chunks of cb blocks of 8 tiles: their transform (16 x cb x C x 8 floats) stays in cache */\n"
    "    if (cb < 1) cb = 1;\n"
    "    for (tc = 0; tc < TB; tc += cb) {\n"
    "        int ne = TB - tc < cb ? TB - tc : cb, nt = T - tc * 8 < ne * 8 ? T - tc * 8 : ne * 8, t;\n"
    "        long vs = (long)ne * C * 8 + 16;  /* 64 bytes more: the 16 planes in different cache sets */\n"
    "        for (c = 0; c < C; c++) {\n"
    "            i = tc * 8 / TW, j = tc * 8 % TW;\n"
    "            for (t = 0; t < nt; t++) {\n"
    "                float *vt = v + ((long)(t / 8) * C + c) * 8 + t % 8, r[4][4];\n"
    "                const float *d0 = xp + c * ps + (long)(2 * i) * WP + 2 * j, *d1 = d0 + WP, *d2 = d1 + WP, *d3 = d2 + WP;\n"
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
    "            for (; t < ne * 8; t++)\n"
    "                for (e = 0; e < 16; e++) v[e * vs + ((long)(t / 8) * C + c) * 8 + t % 8] = 0.0f;\n"
    "        }\n"
    "#ifdef _OPENMP\n"
    "#pragma omp parallel for schedule(static)\n"
    "#endif\n"
    "        for (bi = 0; bi < nb; bi++) {\n"
    "            int o = bi * 8, n = O - o < 8 ? O - o : 8, tb, p, q, kk, ci;\n"
    "            for (tb = 0; tb < ne; tb++) {\n"
    "                float m[16][8][8];\n"
    "                for (kk = 0; kk < 16; kk++) {\n"
    "                    const float *vb = v + kk * vs + (long)tb * C * 8, *ub = u + ((long)kk * nb + bi) * C * 8;\n"
"#if defined(__AVX2__) && defined(__FMA__)\n"
    "                    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;\n"
    "                    for (ci = 0; ci < C; ci++, vb += 8, ub += 8) {\n"
    "                        __m256 wv = _mm256_loadu_ps(ub);\n"
    "                        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb), wv, a0);\n"
    "                        a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb + 1), wv, a1);\n"
    "                        a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb + 2), wv, a2);\n"
    "                        a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb + 3), wv, a3);\n"
    "                        a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb + 4), wv, a4);\n"
    "                        a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb + 5), wv, a5);\n"
    "                        a6 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb + 6), wv, a6);\n"
    "                        a7 = _mm256_fmadd_ps(_mm256_broadcast_ss(vb + 7), wv, a7);\n"
    "                    }\n"
    "                    _mm256_storeu_ps(m[kk][0], a0); _mm256_storeu_ps(m[kk][1], a1);\n"
    "                    _mm256_storeu_ps(m[kk][2], a2); _mm256_storeu_ps(m[kk][3], a3);\n"
    "                    _mm256_storeu_ps(m[kk][4], a4); _mm256_storeu_ps(m[kk][5], a5);\n"
    "                    _mm256_storeu_ps(m[kk][6], a6); _mm256_storeu_ps(m[kk][7], a7);\n"
    "#else\n"
    "                    memset(m[kk], 0, sizeof m[kk]);\n"
    "                    for (ci = 0; ci < C; ci++, vb += 8, ub += 8)\n"
    "                        for (p = 0; p < 8; p++)\n"
    "                            for (q = 0; q < 8; q++) m[kk][p][q] += vb[p] * ub[q];\n"
    "#endif\n"
    "                }\n"
    "                /* y = A^T m A + b for the block's tiles and channels */\n"
    "                for (p = 0; p < 8 && (tc + tb) * 8 + p < T; p++) {\n"
    "                    int oh = ((tc + tb) * 8 + p) / TW * 2, ow = ((tc + tb) * 8 + p) % TW * 2;\n"
    "                    float z[4][8];\n"
    "                    for (q = 0; q < 8; q++) {\n"
    "                        float s0[4], s1[4], bv = b && q < n ? b[o + q] : 0.0f;\n"
    "                        for (kk = 0; kk < 4; kk++) {\n"
    "                            s0[kk] = m[kk][p][q] + m[4 + kk][p][q] + m[8 + kk][p][q];\n"
    "                            s1[kk] = m[4 + kk][p][q] - m[8 + kk][p][q] - m[12 + kk][p][q];\n"
    "                        }\n"
    "                        z[0][q] = s0[0] + s0[1] + s0[2] + bv; z[1][q] = s0[1] - s0[2] - s0[3] + bv;\n"
    "                        z[2][q] = s1[0] + s1[1] + s1[2] + bv; z[3][q] = s1[1] - s1[2] - s1[3] + bv;\n"
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
    "            }\n"
    "        }\n"
    "    }\n"
    "    if (act) k_act(y, y, O * pl, act, alpha);\n"
    "}\n"
    ;

int emit_conv_winograd(int C, const int *g)
{
    /* g: kh, kw, sh, sw, ph, pw, dh, dw, groups */
    return g[0] == 3 && g[1] == 3 && g[2] == 1 && g[3] == 1 && g[6] == 1 && g[7] == 1 && g[8] <= 1 &&
           C >= EMIT_WINO_MIN_C;
}

size_t emit_wino_scratch(int C, int OH, int OW)
{
    size_t TH = (size_t)(OH + 1) / 2, TW = (size_t)(OW + 1) / 2, TB = (TH * TW + 7) / 8;
    size_t cb = C < 1536 ? (size_t)(24576 / (C * 16)) : 1;
    return (size_t)C * (2 * TH + 2) * (2 * TW + 2) + 16 * ((size_t)C * (cb < TB ? cb : TB) * 8 + 16);
}

size_t emit_wino_numel(int O, int C)
{
    return (size_t)16 * (size_t)((O + 7) / 8) * (size_t)C * 8;
}

float *emit_wino_pack(const float *w, int O, int C)
{
    int nb = (O + 7) / 8;
    float *u = xcalloc(emit_wino_numel(O, C), sizeof *u);
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++) {
            const float *g = w + ((size_t)o * (size_t)C + (size_t)c) * 9;
            double t[4][3], r[4][4];
            /* G g: G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] on the rows of g */
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5 * ((double)g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5 * ((double)g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            /* (G g) G^T: the same on the columns */
            for (int i = 0; i < 4; i++) {
                r[i][0] = t[i][0];
                r[i][1] = 0.5 * (t[i][0] + t[i][1] + t[i][2]);
                r[i][2] = 0.5 * (t[i][0] - t[i][1] + t[i][2]);
                r[i][3] = t[i][2];
            }
            for (int e = 0; e < 16; e++)
                u[(((size_t)e * (size_t)nb + (size_t)(o / 8)) * (size_t)C + (size_t)c) * 8 + (size_t)(o % 8)] =
                    (float)r[e / 4][e % 4];
        }
    return u;
}
