/* compiler/backends/emit_c_wino.c: the float Conv2d of --emit-c for 3x3 kernels at stride 1,
 * dilation 1, one group, by Winograd's F(2x2, 3x3): the C99 source text of its kernel (an
 * optional AVX2 path beside the plain loops: the same sums, fused multiply-adds), when a Conv2d takes
 * it, its scratch, and its filter transform U = G g G^T done when the file is written. */
#include "emit_c.h"

#include <stdlib.h>

const char emit_c_conv2d_wino[] =
    "/* Conv2d 3x3, stride 1, dilation 1, one group, by Winograd's F(2x2, 3x3): each 2 x 2 tile\n"
    " * of the output comes from the 4 x 4 tile d of the zero-padded input around it. The filters\n"
    " * were transformed when this file was written: u[16][block of 16 output channels][C][16] =\n"
    " * G g G^T (zeros past the last channel). Here the input is copied with its padding into xp\n"
    " * (C planes HP x WP, whole tiles); the tiles run along the output rows and on to the next,\n"
    " * and in chunks of blocks of 6 of them, v = B^T d B of each tile and channel goes after xp\n"
    " * in panels v[16][block][C][6]; then for each block of 16 output channels and of 6 tiles,\n"
    " * the 16 products m[e] = sum over c of u[e] * v[e] in a 6 x 16 register tile, then\n"
    " * y = A^T m A plus the bias, and the activation */\n"
    "static void k_conv2d_wino(const float *x, int C, int H, int W, const float *u, const float *b, float *y,\n"
    "                          int O, int OH, int OW, int PH, int PW, int act, float alpha, float *xp)\n"
    "{\n"
    "    int TH = (OH + 1) / 2, TW = (OW + 1) / 2, T = TH * TW, TB = (T + 5) / 6, HP = 2 * TH + 2, WP = 2 * TW + 2;\n"
    "    int nb = (O + 15) / 16, cb = 2048 / C, bi, c, i, j, e, tc;\n"
    "    long ps = (long)HP * WP, pl = (long)OH * OW;\n"
    "    float *v = xp + C * ps;\n"
    "    memset(xp, 0, (size_t)(C * ps) * sizeof *xp);\n"
    "    for (c = 0; c < C; c++)\n"
    "        for (i = 0; i < H; i++) {\n"
    "            const float *xr = x + ((long)c * H + i) * W;\n"
    "            float *pr = xp + c * ps + (long)(i + PH) * WP + PW;\n"
    "            for (j = 0; j < W; j++) pr[j] = xr[j];\n"
    "        }\n"
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
    "            int o = bi * 16, n = O - o < 16 ? O - o : 16, tb, p, q, kk, ci;\n"
    "            for (tb = 0; tb < ne; tb++) {\n"
    "                float m[16][6][16];\n"
    "                for (kk = 0; kk < 16; kk++) {\n"
    "                    const float *vb = v + kk * vs + (long)tb * C * 6, *ub = u + ((long)kk * nb + bi) * C * 16;\n"
    "#if defined(__AVX2__) && defined(__FMA__)\n"
    "                    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;\n"
    "                    __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;\n"
    "                    for (ci = 0; ci < C; ci++, vb += 6, ub += 16) {\n"
    "                        __m256 w0 = _mm256_loadu_ps(ub), w1 = _mm256_loadu_ps(ub + 8), xv;\n"
    "                        xv = _mm256_broadcast_ss(vb);\n"
    "                        a00 = _mm256_fmadd_ps(xv, w0, a00); a01 = _mm256_fmadd_ps(xv, w1, a01);\n"
    "                        xv = _mm256_broadcast_ss(vb + 1);\n"
    "                        a10 = _mm256_fmadd_ps(xv, w0, a10); a11 = _mm256_fmadd_ps(xv, w1, a11);\n"
    "                        xv = _mm256_broadcast_ss(vb + 2);\n"
    "                        a20 = _mm256_fmadd_ps(xv, w0, a20); a21 = _mm256_fmadd_ps(xv, w1, a21);\n"
    "                        xv = _mm256_broadcast_ss(vb + 3);\n"
    "                        a30 = _mm256_fmadd_ps(xv, w0, a30); a31 = _mm256_fmadd_ps(xv, w1, a31);\n"
    "                        xv = _mm256_broadcast_ss(vb + 4);\n"
    "                        a40 = _mm256_fmadd_ps(xv, w0, a40); a41 = _mm256_fmadd_ps(xv, w1, a41);\n"
    "                        xv = _mm256_broadcast_ss(vb + 5);\n"
    "                        a50 = _mm256_fmadd_ps(xv, w0, a50); a51 = _mm256_fmadd_ps(xv, w1, a51);\n"
    "                    }\n"
    "                    _mm256_storeu_ps(m[kk][0], a00); _mm256_storeu_ps(m[kk][0] + 8, a01);\n"
    "                    _mm256_storeu_ps(m[kk][1], a10); _mm256_storeu_ps(m[kk][1] + 8, a11);\n"
    "                    _mm256_storeu_ps(m[kk][2], a20); _mm256_storeu_ps(m[kk][2] + 8, a21);\n"
    "                    _mm256_storeu_ps(m[kk][3], a30); _mm256_storeu_ps(m[kk][3] + 8, a31);\n"
    "                    _mm256_storeu_ps(m[kk][4], a40); _mm256_storeu_ps(m[kk][4] + 8, a41);\n"
    "                    _mm256_storeu_ps(m[kk][5], a50); _mm256_storeu_ps(m[kk][5] + 8, a51);\n"
    "#else\n"
    "                    memset(m[kk], 0, sizeof m[kk]);\n"
    "                    for (ci = 0; ci < C; ci++, vb += 6, ub += 16)\n"
    "                        for (p = 0; p < 6; p++)\n"
    "                            for (q = 0; q < 16; q++) m[kk][p][q] += vb[p] * ub[q];\n"
    "#endif\n"
    "                }\n"
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
    size_t TH = (size_t)(OH + 1) / 2, TW = (size_t)(OW + 1) / 2, TB = (TH * TW + 5) / 6;
    size_t cb = C <= 2048 ? (size_t)(2048 / C) : 1;
    return (size_t)C * (2 * TH + 2) * (2 * TW + 2) + 16 * ((size_t)C * (cb < TB ? cb : TB) * 6 + 16);
}

size_t emit_wino_numel(int O, int C)
{
    return (size_t)16 * (size_t)((O + 15) / 16) * (size_t)C * 16;
}

float *emit_wino_pack(const float *w, int O, int C)
{
    int nb = (O + 15) / 16;
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
                u[(((size_t)e * (size_t)nb + (size_t)(o / 16)) * (size_t)C + (size_t)c) * 16 + (size_t)(o % 16)] =
                    (float)r[e / 4][e % 4];
        }
    return u;
}
