/* compiler/backends/emit_c.h: --emit-c, the standalone C back end: a trained model's
 * inference graph as one C99 file and its header (libm only, no heap, weights as const
 * arrays or in a binary file beside it). */
#ifndef CNNC_EMIT_C_H
#define CNNC_EMIT_C_H

#include <stdio.h>

#include "../../runtime/error.h"
#include "../frontend/program.h"

typedef struct EmitCOptions {
    const char *out_c;          /* OUT.c; OUT.h is written beside it */
    const char *weights;        /* the model file (safetensors) */
    const char *weights_bin;    /* NULL: const arrays in OUT.c; else the weights go to this file */
    /* --quantize int8: Conv2d and Linear on int8 (per-channel symmetric weights, per-tensor
     * input scales from calib images of calib_set through the runtime); else NULL */
    const struct Dataset *calib_set;
    int         calibrate;
} EmitCOptions;

/* Writes OUT.c and OUT.h for the checked classifier p with the weights of o->weights.
 * -1 with e set (naming the file, and the layer where one is at fault) on failure. */
int emit_c(const Program *p, const EmitCOptions *o, Error *e);

/* Writes NAME_preprocess_rgb8 (emit_c_preprocess.c): p's eval transform, prefix n, to f.
 * -1 with e set when the transform has a step it does not cover. */
int emit_c_preprocess(FILE *f, const Program *p, const char *n, Error *e);

/* The kernels' source text (emit_c_kernels.c): one per kind, with the kinds it calls. */
enum { EK_ACT, EK_CONV2D, EK_PAD_REFLECT, EK_PAD, EK_NZ16, EK_LINEAR, EK_MAXPOOL2D, EK_AVGPOOL2D, EK_ADAPTIVE_POOL2D,
       EK_BATCHNORM, EK_ADD, EK_SOFTMAX, EK_CONV2D_I8, EK_QUANTIZE, EK_LINEAR_I8, EK_CONV2D_PK,
       EK_CONV2D_PK_I8, EK_WINO_PRODUCTS, EK_CONV2D_WINO, EK_CONV2D_WINO4, EK_CONV2D_ROWS, EK_COUNT };
typedef struct EmitKernel {
    const char *text;
    unsigned    needs;          /* 1u << EK_... */
} EmitKernel;
extern const EmitKernel emit_c_kernels[EK_COUNT];
/* k_linear's and k_linear_i8's weights, a copy (xcalloc'd) of w [O][I] (elements of size
 * bytes): blocks of 64 outputs (the last O % 64), in each a row of the block's weights for each
 * input (the rows of the inputs that are 0 are not read) */
void *emit_linear_pack(const void *w, int O, int I, size_t size);

/* The packed Conv2d (emit_c_conv.c). Whether a Conv2d of O output channels in groups with
 * kernels of taps (kh * kw) values takes it (all but depthwise-like ones, fewer than 8 outputs
 * a group, and kernels larger than 256 values, which keep k_conv2d) */
int emit_conv_packed(int O, int groups, int taps);
/* Whether a float one of C input channels with geometry g takes k_conv2d_rows instead of
 * k_conv2d_pk (the same packed weights): stride 1 along the rows, one group, C * kh * kw <= 32 */
int emit_conv_rows(int C, const int *g);
/* the floats of arena the kernel of kind EMIT_CONV_... needs past its output for the padded
 * (int8: quantized) input (k_conv2d_rows with a fused pool: and its rows); g is the geometry
 * array the call passes (kh, kw, sh, sw, ph, pw, dh, dw, groups) */
enum { EMIT_CONV_PK, EMIT_CONV_PK_I8, EMIT_CONV_ROWS, EMIT_CONV_ROWS_POOL };
size_t emit_conv_scratch(int C, int H, int W, int O, int OW, const int *g, int kind);
/* the packed weight's element count, and the packed copy (xcalloc'd) of w [O][cg][taps] */
size_t emit_conv_packed_numel(int O, int cg, int taps, int groups, int int8);
float *emit_conv_pack(const float *w, int O, int cg, int taps, int groups);
signed char *emit_conv_pack_i8(const signed char *q, int O, int cg, int taps, int groups);
extern const char emit_c_conv2d_pk[], emit_c_conv2d_pk_i8[], emit_c_conv2d_rows[];

/* The float Conv2d by Winograd's F(2x2, 3x3) or F(4x4, 3x3) (emit_c_wino.c). Which one a
 * Conv2d of C input channels of H x W with geometry g takes, as its output tile size r (2 or
 * 4; 0: neither): 3x3, stride 1, dilation 1, one group, at least
 * EMIT_WINO_MIN_C input channels (below that the transforms cost about what they save: sea's
 * 3-channel first layer 0.42 against 0.44 ms, fashion_resnet's 1-channel one 0.019 against 0.015) */
#define EMIT_WINO_MIN_C 8
/* F(4x4, 3x3) from this many input channels and an output of at least this size each way
 * (fewer products, but larger transforms and weights 4x the 3x3 ones, not 16/9) */
#define EMIT_WINO4_MIN_C 64
#define EMIT_WINO4_MIN_HW 14
int emit_conv_winograd(int C, int H, int W, const int *g);
/* the floats of arena its kernel needs past its output (the padded input and its transform) */
size_t emit_wino_scratch(int C, int OH, int OW, int r);
/* the transformed weight's element count, and the transform (xcalloc'd) of w [O][C][3][3] */
size_t emit_wino_numel(int O, int C, int r);
float *emit_wino_pack(const float *w, int O, int C, int r);
extern const char emit_c_wino_products[], emit_c_conv2d_wino[], emit_c_conv2d_wino4[];
/* writes k_conv2d_wino to f, without its pool's code when no layer of the file has one (in the
 * file the code slowed the kernel's other layers: fashion_resnet's layer2.0.conv1 0.073 -> 0.088 ms) */
void emit_wino_kernel(FILE *f, int pool);

#endif
