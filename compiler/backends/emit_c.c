/* compiler/backends/emit_c.c: --emit-c. Builds the inference graph --predict runs (batch 1,
 * BatchNorm folded, Conv2d-ReLU-MaxPool2d fused), loads the weights, computes the folded
 * weights once, then rewrites the graph for a program that only infers: Dropout and every
 * activation that follows a Conv2d, Linear, BatchNorm or add become views of their input
 * (computed in place by the kernel before them), the loss and label go, and the memory plan
 * is made again over what is left. Each node then becomes a call to a static kernel
 * (emit_c_kernels.c) on offsets in one arena. */
#include "emit_c.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/data.h"
#include "../../runtime/exec.h"
#include "../../runtime/modelfile.h"
#include "../../runtime/ops.h"
#include "../driver/train.h"
#include "../passes/lower.h"
#include "../passes/plan.h"

/* activation codes of k_act */
static int act_code(int op)
{
    switch (op) {
    case OP_relu: return 1;
    case OP_leaky_relu: return 2;
    case OP_elu: return 3;
    case OP_gelu: return 4;     /* 5: approximate='tanh' */
    case OP_silu: return 6;
    case OP_sigmoid: return 7;
    case OP_tanh: return 8;
    case OP_relu6: return 9;
    case OP_hardswish: return 10;
    case OP_hardsigmoid: return 11;
    default: return 0;
    }
}

static int node_act(const Node *n)
{
    int c = act_code(n->op);
    return c == 4 && n->a.approximate ? 5 : c;
}

typedef struct Emit {
    const Program *p;
    Graph   *g;
    FILE    *f;
    const char *prefix;     /* lowercase model name */
    int      L;             /* the node producing the logits: the last one emitted */
    int     *act;           /* per node: the activation fused into it (k_act code), or 0 */
    float   *alpha;         /* and its alpha */
    int     *skip;          /* per node: emitted by another (a fused activation, Dropout) or not at all */
    float  **konst;         /* per value: the folded constants computed here, or NULL */
    size_t  *woff;          /* per value: its float offset in the weights blob (--weights-bin) */
    size_t   wtotal;        /* floats in the blob */
    size_t   scratch;       /* bytes past the plan's arena for the kernels' temporaries */
    unsigned kernels;       /* 1u << EK_... used */
    float   *absmax;        /* --quantize int8: per value, the largest |x| seen in calibration */
    float   *qscale;        /* per weight value read by an int8 node: its input's scale, else 0 */
    int     *pack;          /* per weight value read by the packed Conv2d: its groups (>= 1), else 0 */
    int     *wino;          /* per weight value read by the Winograd Conv2d: its tile size (2 or 4), else 0 */
    int      wino_pool;     /* a F(2x2) Winograd Conv2d takes its pool (k_conv2d_wino's pool code is written) */
    unsigned char *lin;     /* per weight value read by a Linear, float or int8: 1 (in blocks of 64 outputs), else 0 */
    unsigned char *q8;      /* per weight value read by an int8 node (--quantize): 1, else 0 */
    const char *wbin;
} Emit;

/* how a Linear's weights are written (emit_linear_pack), in the comment before them */
static const char LINEAR_LAYOUT[] = ", blocks of 64 outputs by input";

static int base_of(const Graph *g, int v)
{
    while (g->vals[v].view_of >= 0) v = g->vals[v].view_of;
    return v;
}

static int is_const(const Emit *m, int v)
{
    const Value *x = &m->g->vals[v];
    return x->kind == VK_PARAM || x->kind == VK_BUFFER || m->konst[v];
}

/* C expression for value v's storage */
static const char *ref(const Emit *m, int v, char *buf, size_t n)
{
    int b = base_of(m->g, v);
    if (b == m->g->input) snprintf(buf, n, "input");
    else if (is_const(m, b) && m->wbin && m->q8 && m->q8[b]) snprintf(buf, n, "((const signed char *)(W + %zu))", m->woff[b]);
    else if (is_const(m, b) && m->wbin) snprintf(buf, n, "(W + %zu)", m->woff[b]);
    else if (is_const(m, b)) snprintf(buf, n, "w%d", b);
    else snprintf(buf, n, "(A + %zu)", m->g->vals[b].offset / sizeof(float));
    return buf;
}

static size_t int8_floats(const Emit *m, int v);

/* C expression for the per-channel factors of int8 weight v (its int32 sums' scale) */
static const char *scale_ref(const Emit *m, int v, char *buf, size_t n)
{
    int b = base_of(m->g, v);
    if (m->wbin) snprintf(buf, n, "(W + %zu)", m->woff[b] + int8_floats(m, b));
    else snprintf(buf, n, "ws%d", b);
    return buf;
}

/* a node's error: FILE:line:col: error: ... naming its layer */
static int node_error(const Emit *m, const Node *n, const char *what, Error *e)
{
    return err_set(e, "%s:%d:%d: error: --emit-c %s (layer '%s', op %s): %s", m->p->path, n->line, n->col,
                   "does not cover this layer", n->label, op_table[n->op]->name, what);
}

/* uses of each value among nodes [0, L] */
static int *count_uses(const Graph *g, int L)
{
    int *u = xcalloc((size_t)(unsigned)g->nvals, sizeof *u);
    for (int i = 0; i <= L; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) u[base_of(g, g->nodes[i].in[k])]++;
    return u;
}

/* Rewrites g for inference only (see the top of the file) and plans its memory again. */
static int prepare(Emit *m, Error *e)
{
    Graph *g = m->g;
    int L = g->vals[g->logits].producer;
    m->L = L;
    int *uses = count_uses(g, L);
    uses[base_of(g, g->logits)]++;
    for (int i = 0; i <= L; i++) {
        Node *n = &g->nodes[i];
        if (n->op == OP_dropout || n->op == OP_dropout2d) {
            g->vals[n->out[0]].view_of = n->in[0];
            for (int k = 1; k < n->nout; k++) g->vals[n->out[k]].kind = VK_STATE;   /* the mask: not made */
            m->skip[i] = 1;
        } else if (n->op == OP_flatten) {
            m->skip[i] = 1;             /* a view already */
        } else if (n->op == OP_batchnorm_fold) {
            m->skip[i] = 1;
        } else if (act_code(n->op)) {
            /* fuse into the producer when it is a kernel with an epilogue and this is its only use */
            int x = n->in[0], pr = g->vals[x].producer;
            if (pr < 0 || g->vals[x].view_of >= 0 || uses[x] != 1 || m->act[pr]) continue;
            int pop = g->nodes[pr].op;
            if (pop != OP_conv2d && pop != OP_linear && pop != OP_add && pop != OP_batchnorm2d &&
                pop != OP_batchnorm1d)
                continue;
            m->act[pr] = node_act(n);
            m->alpha[pr] = (float)n->a.alpha;
            g->vals[n->out[0]].view_of = x;
            m->skip[i] = 1;
        } else if (n->op == OP_conv2d_relu_maxpool2d) {
            for (int k = 1; k < n->nout; k++) g->vals[n->out[k]].kind = VK_STATE;  /* argmax: training's */
        } else if (n->op == OP_batchnorm2d || n->op == OP_batchnorm1d) {
            for (int k = 1; k < n->nout; k++) g->vals[n->out[k]].kind = VK_STATE;  /* saved statistics */
        }
    }
    free(uses);
    /* what the emitted program does not hold: the input (the caller's), the nodes after the
     * logits (loss, probabilities) and the label */
    for (int v = 0; v < g->nvals; v++) {
        Value *x = &g->vals[v];
        if (v == g->input || x->kind == VK_LABEL || x->producer > L) x->kind = VK_STATE;
        if (m->konst[v]) x->kind = VK_PARAM;
        x->keep = 0;
    }
    g->vals[g->logits].keep = 1;
    g->nnodes = L + 1;
    PlanStats st;
    plan_memory(g, &st);
    (void)e;
    return 0;
}

static int quantized(int op) { return op == OP_conv2d || op == OP_conv2d_relu_maxpool2d || op == OP_linear; }

/* --quantize int8: runs n images of ds (evenly spaced, through the eval transform) through
 * the runtime's graph node by node, keeping the largest |x| that reaches each Conv2d and
 * Linear in m->absmax. */
static int calibrate(Emit *m, const Dataset *ds, int n, Error *e)
{
    Graph *g = m->g;
    const Program *p = m->p;
    const DatasetDecl *d = p->validation.present ? &p->validation : p->test.present ? &p->test : &p->train;
    int C = p->in_shape[0], H = p->in_shape[1], W = p->in_shape[2];
    if (n > ds->n) n = ds->n;
    g->training = 0;
    graph_set_batch(g, 1);
    TfScratch scratch = { 0 };
    for (int k = 0; k < n; k++) {
        Image img;
        int owned, target;
        Rng r;
        rng_seed3(&r, 0, 3, (uint64_t)k);
        int i = (int)((long)k * ds->n / n);
        if (dataset_sample(ds, i, &img, &owned, &target, e) < 0) break;
        int rc = pipeline_run(&d->transform, &img, vf32(g, g->input), C, H, W, &r, &scratch, e);
        if (owned) image_free(&img);
        if (rc < 0) break;
        vi32(g, g->label)[0] = 0;
        for (int j = 0; j <= g->vals[g->logits].producer; j++) {
            const Node *nd = &g->nodes[j];
            if (quantized(nd->op)) {
                const float *x = vf32(g, nd->in[0]);
                size_t cnt = value_numel(&g->vals[nd->in[0]]);
                for (size_t t = 0; t < cnt; t++)
                    if (fabsf(x[t]) > m->absmax[nd->in[0]]) m->absmax[nd->in[0]] = fabsf(x[t]);
            }
            if (nd->phase == PHASE_FORWARD) op_table[nd->op]->forward(g, nd);
        }
        if (k == n - 1) n = -1;
    }
    tf_scratch_free(&scratch);
    return n == -1 ? 0 : -1;
}

/* Runs each batchnorm_fold node (its inputs are parameters) and keeps its outputs. */
static void fold_constants(Emit *m)
{
    Graph *g = m->g;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op != OP_batchnorm_fold) continue;
        op_table[n->op]->forward(g, n);
        for (int k = 0; k < n->nout; k++) {
            size_t cnt = value_numel(&g->vals[n->out[k]]);
            m->konst[n->out[k]] = xmalloc(cnt * sizeof(float));
            memcpy(m->konst[n->out[k]], vf32(g, n->out[k]), cnt * sizeof(float));
        }
    }
}

static const float *const_data(const Emit *m, int v)
{
    return m->konst[v] ? m->konst[v] : vf32(m->g, v);
}

static void geometry(FILE *f, const char *name, const Attrs *a)
{
    Window2d w = attrs_window(a);
    fprintf(f, "    static const int %s[9] = { %d, %d, %d, %d, %d, %d, %d, %d, %d };\n", name, w.kh, w.kw, w.sh, w.sw,
            w.ph, w.pw, w.dh, w.dw, a->groups > 1 ? a->groups : 1);
}

/* --quantize int8: the scale of value v's int8 copy (its calibrated |x| maximum / 127) */
static float input_scale(const Emit *m, int v)
{
    float a = m->absmax[v];
    return a > 0 ? a / 127.0f : 1.0f;
}

/* One node's call. The geometry arrays are static const locals in a block of their own. */
static int emit_node(Emit *m, int i, Error *e)
{
    Graph *g = m->g;
    const Node *n = &g->nodes[i];
    FILE *f = m->f;
    char r0[64], r1[64], r2[64], r3[64], r4[64], ry[64], rs[64];
    const Value *x = &g->vals[n->in[0]], *y = &g->vals[n->out[0]];
    ref(m, n->out[0], ry, sizeof ry);
    ref(m, n->in[0], r0, sizeof r0);
    int act = m->act[i];
    double alpha = m->alpha[i];
    fprintf(f, "    /* %s: %s */\n", n->label[0] ? n->label : "-", op_table[n->op]->name);
    switch (n->op) {
    case OP_conv2d:
    case OP_conv2d_relu_maxpool2d: {
        Attrs a = n->a;
        const char *src = r0;
        char pad[64];
        int H = x->shape[2], W = x->shape[3];
        int pooled = n->op == OP_conv2d_relu_maxpool2d;
        size_t scratch = 0, at = g->arena_bytes / sizeof(float);
        fprintf(f, "    {\n");
        if (a.padding_mode == PADDING_REFLECT) {
            Window2d w = attrs_window(&a);
            snprintf(pad, sizeof pad, "(A + %zu)", at);
            fprintf(f, "        k_pad_reflect(%s, %d, %d, %d, %d, %d, %s);\n", r0, x->shape[1], H, W, w.ph, w.pw, pad);
            m->kernels |= 1u << EK_PAD_REFLECT;
            H += 2 * w.ph, W += 2 * w.pw;
            at += (size_t)x->shape[1] * H * W;
            scratch += (size_t)x->shape[1] * H * W;
            src = pad;
        }
        int O = g->vals[n->in[1]].shape[0], OH, OW;
        Window2d w = attrs_window(&a);
        if (a.padding_mode == PADDING_REFLECT) w.ph = w.pw = 0;
        OH = window_out_size_ex(H, w.kh, w.sh, w.ph, w.dh, 0);
        OW = window_out_size_ex(W, w.kw, w.sw, w.pw, w.dw, 0);
        char out[64];
        int r = m->wino[base_of(g, n->in[1])];     /* Winograd's tile size, or 0 */
        int geo[9] = { w.kh, w.kw, w.sh, w.sw, w.ph, w.pw, w.dh, w.dw, a.groups > 1 ? a.groups : 1 };
        int rows = !r && !m->absmax && m->pack[base_of(g, n->in[1])] && emit_conv_rows(x->shape[1], geo);
        /* a 2x2 stride-2 pool after F(2x2, 3x3) or k_conv2d_rows is taken as they store (fpool);
         * other pools go over the conv's output in the scratch after the floats */
        int fpool = pooled && (r == 2 || rows) && n->a.pool_kernel == 2 && n->a.pool_stride == 2 &&
                    !n->a.pool_padding && y->shape[2] == OH / 2 && y->shape[3] == OW / 2;
        if (fpool) pooled = 0;
        if (fpool && r == 2) m->wino_pool = 1;
        if (pooled) {
            snprintf(out, sizeof out, "(A + %zu)", at);
            scratch += (size_t)O * OH * OW;
        } else {
            snprintf(out, sizeof out, "%s", ry);
        }
        if (!r)
            fprintf(f, "        static const int geo[9] = { %d, %d, %d, %d, %d, %d, %d, %d, %d };\n", w.kh, w.kw,
                    w.sh, w.sw, w.ph, w.pw, w.dh, w.dw, a.groups > 1 ? a.groups : 1);
        if (r) {
            /* Winograd: its padded input and the input's transform in the scratch after the floats */
            size_t xs = at + (pooled ? (size_t)O * OH * OW : 0);
            scratch = xs - g->arena_bytes / sizeof(float) + emit_wino_scratch(x->shape[1], OH, OW, r);
            fprintf(f, "        k_conv2d_wino%s(%s, %d, %d, %d, %s, %s, %s, %d, %d, %d, %d, %d, %d, %.9g%s, A + %zu);\n",
                    r == 4 ? "4" : "", src,
                    x->shape[1], H, W, ref(m, n->in[1], r1, sizeof r1), n->nin > 2 ? ref(m, n->in[2], r2, sizeof r2) : "0",
                    out, O, OH, OW, w.ph, w.pw, pooled || fpool ? 0 : act, alpha, r == 4 ? "" : fpool ? ", 1" : ", 0", xs);
            m->kernels |= 1u << (r == 4 ? EK_CONV2D_WINO4 : EK_CONV2D_WINO);
        } else if (m->pack[base_of(g, n->in[1])]) {
            /* the packed kernel: its padded (int8: quantized) input in the scratch after the floats */
            size_t xs = at + (pooled ? (size_t)O * OH * OW : 0);
            int kind = m->absmax ? EMIT_CONV_PK_I8 : !rows ? EMIT_CONV_PK : fpool ? EMIT_CONV_ROWS_POOL : EMIT_CONV_ROWS;
            scratch = xs - g->arena_bytes / sizeof(float) + emit_conv_scratch(x->shape[1], H, W, O, OW, geo, kind);
            if (m->absmax) {
                float sx = input_scale(m, n->in[0]);
                fprintf(f, "        k_conv2d_pk_i8(%s, %.9g, %d, %d, %d, %s, %s, %s, %s, %d, %d, %d, geo, %d, %.9g, "
                           "(unsigned char *)(A + %zu));\n", src, sx, x->shape[1], H, W, ref(m, n->in[1], r1, sizeof r1),
                        scale_ref(m, n->in[1], rs, sizeof rs), n->nin > 2 ? ref(m, n->in[2], r2, sizeof r2) : "0", out, O, OH, OW,
                        pooled ? 0 : act, alpha, xs);
                m->qscale[base_of(g, n->in[1])] = sx;
                m->kernels |= 1u << EK_CONV2D_PK_I8;
            } else {
                fprintf(f, "        k_conv2d_%s(%s, %d, %d, %d, %s, %s, %s, %d, %d, %d, geo, %d, %.9g%s, A + %zu);\n",
                        rows ? "rows" : "pk", src, x->shape[1], H, W, ref(m, n->in[1], r1, sizeof r1),
                        n->nin > 2 ? ref(m, n->in[2], r2, sizeof r2) : "0", out, O, OH, OW, pooled || fpool ? 0 : act,
                        alpha, !rows ? "" : fpool ? ", 1" : ", 0", xs);
                m->kernels |= 1u << (rows ? EK_CONV2D_ROWS : EK_CONV2D_PK);
            }
        } else if (m->absmax) {
            /* int8: the input quantized into the scratch after the floats */
            size_t cnt = (size_t)x->shape[1] * H * W, qat = (at + (pooled ? (size_t)O * OH * OW : 0)) * sizeof(float);
            float sx = input_scale(m, n->in[0]);
            fprintf(f, "        k_quantize(%s, %zu, %.9g, (signed char *)A + %zu);\n", src, cnt, sx, qat);
            fprintf(f, "        k_conv2d_i8((signed char *)A + %zu, %d, %d, %d, %s, %s, %s, %s, %d, %d, %d, geo, %d, %.9g);\n",
                    qat, x->shape[1], H, W, ref(m, n->in[1], r1, sizeof r1), scale_ref(m, n->in[1], rs, sizeof rs),
                    n->nin > 2 ? ref(m, n->in[2], r2, sizeof r2) : "0", out, O, OH, OW, pooled ? 0 : act, alpha);
            m->qscale[base_of(g, n->in[1])] = sx;
            size_t bytes = qat - g->arena_bytes + cnt;
            if (bytes > scratch * sizeof(float)) scratch = (bytes + sizeof(float) - 1) / sizeof(float);
            m->kernels |= 1u << EK_CONV2D_I8 | 1u << EK_QUANTIZE;
        } else {
            fprintf(f, "        k_conv2d(%s, %d, %d, %d, %s, %s, %s, %d, %d, %d, geo, %d, %.9g);\n", src, x->shape[1], H, W,
                    ref(m, n->in[1], r1, sizeof r1), n->nin > 2 ? ref(m, n->in[2], r2, sizeof r2) : "0", out, O, OH, OW,
                    pooled ? 0 : act, alpha);
            m->kernels |= 1u << EK_CONV2D;
        }
        if (pooled) {
            fprintf(f, "        static const int pool[9] = { %d, %d, %d, %d, %d, %d, 1, 1, 1 };\n", n->a.pool_kernel,
                    n->a.pool_kernel, n->a.pool_stride, n->a.pool_stride, n->a.pool_padding, n->a.pool_padding);
            fprintf(f, "        k_maxpool2d(%s, %d, %d, %d, %s, %d, %d, pool);\n", out, O, OH, OW, ry, y->shape[2],
                    y->shape[3]);
            /* the ReLU after the pool, on a quarter of the values: max and ReLU commute */
            fprintf(f, "        k_act(%s, %s, %zu, 1, 0);\n", ry, ry, value_numel(y));
            m->kernels |= 1u << EK_MAXPOOL2D | 1u << EK_ACT;
        }
        fprintf(f, "    }\n");
        if (scratch * sizeof(float) > m->scratch) m->scratch = scratch * sizeof(float);
        return 0;
    }
    case OP_linear:
        if (m->absmax) {
            size_t cnt = (size_t)x->shape[1], at = g->arena_bytes;
            float sx = input_scale(m, n->in[0]);
            fprintf(f, "    k_quantize(%s, %zu, %.9g, (signed char *)A + %zu);\n", r0, cnt, sx, at);
            /* the input quantized, then the list of its values that are not 0, in the scratch after the floats */
            size_t nz = (cnt + 63) / 64 * 64, bytes = nz + cnt * sizeof(int);
            fprintf(f, "    k_linear_i8((signed char *)A + %zu, %d, %s, %s, %s, %s, %d, %d, %.9g, (int *)((signed char *)A + %zu));\n",
                    at, x->shape[1], ref(m, n->in[1], r1, sizeof r1), scale_ref(m, n->in[1], rs, sizeof rs),
                    n->nin > 2 ? ref(m, n->in[2], r2, sizeof r2) : "0", ry, y->shape[1], act, alpha, at + nz);
            m->qscale[base_of(g, n->in[1])] = sx;
            if (bytes > m->scratch) m->scratch = bytes;
            m->kernels |= 1u << EK_LINEAR_I8 | 1u << EK_QUANTIZE;
            return 0;
        }
    {
        /* the list of the inputs that are not 0 in the scratch after the floats */
        size_t at = g->arena_bytes / sizeof(float), bytes = (size_t)x->shape[1] * sizeof(int);
        fprintf(f, "    k_linear(%s, %d, %s, %s, %s, %d, %d, %.9g, (int *)(A + %zu));\n", r0, x->shape[1],
                ref(m, n->in[1], r1, sizeof r1), n->nin > 2 ? ref(m, n->in[2], r2, sizeof r2) : "0", ry, y->shape[1], act,
                alpha, at);
        if (bytes > m->scratch) m->scratch = bytes;
        m->kernels |= 1u << EK_LINEAR;
        return 0;
    }
    case OP_maxpool2d:
    case OP_avgpool2d:
        fprintf(f, "    {\n    ");
        geometry(f, "geo", &n->a);
        if (n->op == OP_maxpool2d)
            fprintf(f, "        k_maxpool2d(%s, %d, %d, %d, %s, %d, %d, geo);\n", r0, x->shape[1], x->shape[2],
                    x->shape[3], ry, y->shape[2], y->shape[3]);
        else
            fprintf(f, "        k_avgpool2d(%s, %d, %d, %d, %s, %d, %d, geo, %d);\n", r0, x->shape[1], x->shape[2],
                    x->shape[3], ry, y->shape[2], y->shape[3], n->a.count_include_pad);
        fprintf(f, "    }\n");
        m->kernels |= 1u << (n->op == OP_maxpool2d ? EK_MAXPOOL2D : EK_AVGPOOL2D);
        return 0;
    case OP_adaptive_avgpool2d:
    case OP_adaptive_maxpool2d:
        fprintf(f, "    k_adaptive_pool2d(%s, %d, %d, %d, %s, %d, %d, %d);\n", r0, x->shape[1], x->shape[2], x->shape[3],
                ry, y->shape[2], y->shape[3], n->op == OP_adaptive_maxpool2d);
        m->kernels |= 1u << EK_ADAPTIVE_POOL2D;
        return 0;
    case OP_batchnorm2d:
    case OP_batchnorm1d: {
        if (n->nin != 4 && n->nin != 6)
            return node_error(m, n, "a BatchNorm without running statistics (track_running_stats=False) normalises "
                                    "each input by its own statistics; keep track_running_stats=True to deploy", e);
        int affine = n->nin == 6, C = x->shape[1];
        long L = (long)(value_numel(x) / (size_t)C);
        fprintf(f, "    k_batchnorm(%s, %d, %ld, %s, %s, %s, %s, %.9g, %s, %d, %.9g);\n", r0, C, L,
                affine ? ref(m, n->in[1], r1, sizeof r1) : "0", affine ? ref(m, n->in[2], r2, sizeof r2) : "0",
                ref(m, n->in[affine ? 3 : 1], r3, sizeof r3), ref(m, n->in[affine ? 4 : 2], r4, sizeof r4),
                (double)(float)n->a.eps, ry, act, alpha);
        m->kernels |= 1u << EK_BATCHNORM;
        return 0;
    }
    case OP_add:
        fprintf(f, "    k_add(%s, %s, %s, %zu, %d, %.9g);\n", r0, ref(m, n->in[1], r1, sizeof r1), ry, value_numel(y),
                act, alpha);
        m->kernels |= 1u << EK_ADD;
        return 0;
    case OP_cat: {
        size_t at = 0;
        for (int k = 0; k < n->nin; k++) {
            size_t cnt = value_numel(&g->vals[n->in[k]]);
            fprintf(f, "    memcpy(%s + %zu, %s, %zu * sizeof(float));\n", ry, at, ref(m, n->in[k], r1, sizeof r1), cnt);
            at += cnt;
        }
        return 0;
    }
    case OP_softmax:
    case OP_log_softmax: {
        int K = x->shape[1];
        fprintf(f, "    k_softmax(%s, %s, %d, %zu, %d);\n", r0, ry, K, value_numel(x) / (size_t)K,
                n->op == OP_log_softmax);
        m->kernels |= 1u << EK_SOFTMAX;
        return 0;
    }
    default:
        if (act_code(n->op)) {
            fprintf(f, "    k_act(%s, %s, %zu, %d, %.9g);\n", r0, ry, value_numel(y), node_act(n), n->a.alpha);
            m->kernels |= 1u << EK_ACT;
            return 0;
        }
        return node_error(m, n, "it has no kernel in the C back end", e);
    }
}

/* the bytes of int8 weight v as written (a packed Conv2d weight's blocks with their padding) */
static size_t int8_bytes(const Emit *m, int v)
{
    const Value *x = &m->g->vals[v];
    if (!m->pack[v]) return value_numel(x);
    return emit_conv_packed_numel(x->shape[0], x->shape[1], x->shape[2] * x->shape[3], m->pack[v], 1);
}

/* the floats the blob gives int8 weight v's bytes; its per-channel factors follow them */
static size_t int8_floats(const Emit *m, int v)
{
    return (int8_bytes(m, v) + sizeof(float) - 1) / sizeof(float);
}

/* the elements of constant v as written: a packed Conv2d weight's blocks include their
 * padding; in the blob, an int8 weight takes its bytes in floats and one factor a channel */
static size_t weight_numel(const Emit *m, int v)
{
    const Value *x = &m->g->vals[v];
    if (m->q8[v]) return int8_floats(m, v) + (size_t)x->shape[0];
    if (m->wino[v]) return emit_wino_numel(x->shape[0], x->shape[1], m->wino[v]);
    if (!m->pack[v]) return value_numel(x);
    return emit_conv_packed_numel(x->shape[0], x->shape[1], x->shape[2] * x->shape[3], m->pack[v], 0);
}

/* Marks the constants the emitted nodes read (used[v]) and lays them out in the blob:
 * m->woff, m->wtotal (floats, each tensor padded to 64 bytes). */
static int *layout_weights(Emit *m)
{
    Graph *g = m->g;
    int *used = xcalloc((size_t)(unsigned)g->nvals, sizeof *used);
    for (int i = 0; i <= m->L; i++) {
        const Node *n = &g->nodes[i];
        if (m->skip[i]) continue;
        for (int k = 0; k < n->nin; k++) {
            int v = base_of(g, n->in[k]);
            if (is_const(m, v)) used[v] = 1;
        }
        int groups = n->a.groups > 1 ? n->a.groups : 1;
        if (m->absmax && quantized(n->op)) m->q8[base_of(g, n->in[1])] = 1;
        if (n->op == OP_linear) m->lin[base_of(g, n->in[1])] = 1;
        if (n->op != OP_conv2d && n->op != OP_conv2d_relu_maxpool2d) continue;
        Window2d w = attrs_window(&n->a);
        int geo[9] = { w.kh, w.kw, w.sh, w.sw, w.ph, w.pw, w.dh, w.dw, groups };
        const Value *in = &g->vals[n->in[0]];
        int r = m->absmax ? 0 : emit_conv_winograd(in->shape[1], in->shape[2], in->shape[3], geo);
        if (r) m->wino[base_of(g, n->in[1])] = r;
        else if (emit_conv_packed(g->vals[n->in[1]].shape[0], groups, w.kh * w.kw))
            m->pack[base_of(g, n->in[1])] = groups;
    }
    for (int v = 0; v < g->nvals; v++)
        if (used[v]) {
            m->woff[v] = m->wtotal;
            m->wtotal += (weight_numel(m, v) + 15) / 16 * 16;
        }
    return used;
}

/* zeros into bin after a tensor of `floats` floats, to its 64-byte end (layout_weights) */
static int bin_pad(FILE *bin, size_t floats)
{
    static const float zero[16];
    size_t pad = (floats + 15) / 16 * 16 - floats;
    return fwrite(zero, sizeof *zero, pad, bin) == pad ? 0 : -1;
}

/* an int8 weight: each output channel (row) scaled by its largest |w| / 127, rounded to
 * -127..127; ws<v>[o] = the input's scale * that row's, the factor of its int32 sums. As
 * const arrays, or into bin: the bytes (padded to whole floats), the factors, zeros to 64
 * bytes (weight_numel's floats) */
static int emit_int8_weight(Emit *m, int v, const float *d, const char *shape, FILE *bin)
{
    const Value *x = &m->g->vals[v];
    int O = x->shape[0];
    size_t cnt = value_numel(x), per = cnt / (size_t)O;
    if (!bin)
        fprintf(m->f, "/* %s [%s], int8%s */\nstatic const signed char w%d[%zu] = {", x->name[0] ? x->name : "folded",
                shape, m->pack[v] ? ", packed" : m->lin[v] ? LINEAR_LAYOUT : "", v, int8_bytes(m, v));
    float *sc = xmalloc((size_t)O * sizeof *sc);
    signed char *q = xmalloc(cnt);
    for (int o = 0; o < O; o++) {
        float mx = 0;
        for (size_t k = 0; k < per; k++) mx = fmaxf(mx, fabsf(d[(size_t)o * per + k]));
        sc[o] = mx > 0 ? mx / 127.0f : 1.0f;
        for (size_t k = 0; k < per; k++) {
            long r = lrintf(d[(size_t)o * per + k] / sc[o]);
            q[(size_t)o * per + k] = (signed char)(r > 127 ? 127 : r < -127 ? -127 : r);
        }
    }
    if (m->pack[v]) {
        /* the packed kernel's layout: blocks of 16 output channels, input channels in quads */
        signed char *pk = emit_conv_pack_i8(q, O, x->shape[1], x->shape[2] * x->shape[3], m->pack[v]);
        free(q);
        q = pk;
        cnt = int8_bytes(m, v);
    } else if (m->lin[v]) {
        /* the Linear's layout: blocks of 64 outputs, a row of them for each input */
        signed char *pk = emit_linear_pack(q, O, x->shape[1], 1);
        free(q);
        q = pk;
    }
    for (int o = 0; o < O; o++) sc[o] *= m->qscale[v];
    if (bin) {
        static const char zero[sizeof(float)];
        size_t qpad = int8_floats(m, v) * sizeof(float) - cnt;
        int bad = fwrite(q, 1, cnt, bin) != cnt || fwrite(zero, 1, qpad, bin) != qpad ||
                  fwrite(sc, sizeof *sc, (size_t)O, bin) != (size_t)O || bin_pad(bin, weight_numel(m, v)) < 0;
        free(q);
        free(sc);
        return bad ? -1 : 0;
    }
    for (size_t i = 0; i < cnt; i++) fprintf(m->f, "%s%d", i % 16 ? ", " : i ? ",\n    " : "\n    ", q[i]);
    free(q);
    fprintf(m->f, "\n};\nstatic const float ws%d[%d] = {", v, O);
    for (int o = 0; o < O; o++) fprintf(m->f, "%s%.9g", o % 8 ? ", " : o ? ",\n    " : "\n    ", (double)sc[o]);
    fprintf(m->f, "\n};\n");
    free(sc);
    return 0;
}

/* the weights: const arrays in the C file, or the blob written to bin */
static int emit_weights(Emit *m, const int *used, FILE *bin, Error *e)
{
    Graph *g = m->g;
    for (int v = 0; v < g->nvals; v++) {
        if (!used[v]) continue;
        const Value *x = &g->vals[v];
        if (x->dtype != DT_F32) return err_set(e, "--emit-c: %s is not float32", x->name);
        size_t cnt = value_numel(x);
        const float *d = const_data(m, v);
        float *packed = NULL;
        if (m->q8[v]) {
            char shape[64];
            shape_str(x, 0, shape, sizeof shape);
            if (emit_int8_weight(m, v, d, shape, bin) < 0) return err_set(e, "cannot write %s: %s", m->wbin, strerror(errno));
            continue;
        }
        if (m->wino[v]) {
            /* the Winograd Conv2d's layout: the filters transformed, blocks of 16 output channels */
            d = packed = emit_wino_pack(d, x->shape[0], x->shape[1], m->wino[v]);
            cnt = weight_numel(m, v);
        } else if (m->lin[v]) {
            /* the Linear's layout: blocks of 64 outputs, a row of them for each input */
            d = packed = emit_linear_pack(d, x->shape[0], x->shape[1], sizeof *d);
        } else if (m->pack[v]) {
            /* the packed Conv2d's layout: blocks of 16 output channels innermost */
            d = packed = emit_conv_pack(d, x->shape[0], x->shape[1], x->shape[2] * x->shape[3], m->pack[v]);
            cnt = weight_numel(m, v);
        }
        if (bin) {
            int bad = fwrite(d, sizeof(float), cnt, bin) != cnt || bin_pad(bin, cnt) < 0;
            free(packed);
            if (bad) return err_set(e, "cannot write %s: %s", m->wbin, strerror(errno));
            continue;
        }
        char shape[64];
        shape_str(x, 0, shape, sizeof shape);
        fprintf(m->f, "/* %s [%s]%s */\nstatic const float w%d[%zu] = {", x->name[0] ? x->name : "folded", shape,
                m->wino[v] == 4 ? ", Winograd F(4x4, 3x3) transform" : m->wino[v] ? ", Winograd F(2x2, 3x3) transform"
                : m->lin[v] ? LINEAR_LAYOUT : packed ? ", packed" : "", v, cnt);
        for (size_t k = 0; k < cnt; k++) fprintf(m->f, "%s%.9g", k % 8 ? ", " : k ? ",\n    " : "\n    ", (double)d[k]);
        fprintf(m->f, "\n};\n");
        free(packed);
    }
    return 0;
}

static void upper(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++) dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = 0;
}

static void c_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 32 || (unsigned char)*s >= 127) fprintf(f, "\\%03o", (unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static int emit_header(const Emit *m, const char *path, const char *guard_name, char **names, int K, Error *e)
{
    FILE *h = fopen(path, "w");
    if (!h) return err_set(e, "cannot write %s: %s", path, strerror(errno));
    const Program *p = m->p;
    const char *P = guard_name, *n = m->prefix;
    fprintf(h, "/* %s: generated by cnnc --emit-c from %s (model %s); the API of the C file beside it.\n"
               " * Input: one image, %d x %d x %d floats (C x H x W); output: %d class scores. */\n",
            path, p->path, p->model_name, p->in_shape[0], p->in_shape[1], p->in_shape[2], K);
    fprintf(h, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n\n", P, P);
    fprintf(h, "#define %s_INPUT_C %d\n#define %s_INPUT_H %d\n#define %s_INPUT_W %d\n", P, p->in_shape[0], P,
            p->in_shape[1], P, p->in_shape[2]);
    fprintf(h, "#define %s_INPUT_SIZE %d\n#define %s_NUM_CLASSES %d\n", P, p->in_shape[0] * p->in_shape[1] * p->in_shape[2],
            P, K);
    fprintf(h, "/* bytes of working memory one forward pass takes (float-aligned) */\n#define %s_ARENA_SIZE %zu\n", P,
            (m->g->arena_bytes + m->scratch + 63) / 64 * 64);
    if (m->wbin)
        fprintf(h, "/* bytes of the weights file written beside this one */\n#define %s_WEIGHTS_SIZE %zu\n", P,
                m->wtotal * sizeof(float));
    fprintf(h, "\n/* the class names, by index */\nextern const char *const %s_class_names[%d];\n\n", n, K);
    if (m->wbin)
        fprintf(h, "/* Sets the weights: the contents of the weights file (%s_WEIGHTS_SIZE bytes, float-aligned,\n"
                   " * read or mapped by the caller, kept while the model is used). 0, or -1 when size differs. */\n"
                   "int %s_set_weights(const void *blob, size_t size);\n\n", P, n);
    fprintf(h, "/* logits: the last layer's %d outputs for input. Uses one static arena: not thread-safe. */\n"
               "void %s_forward(const float *input, float *logits);\n", K, n);
    fprintf(h, "/* the same with the caller's arena (%s_ARENA_SIZE bytes, float-aligned): one per thread */\n"
               "void %s_forward_r(const float *input, float *logits, void *arena);\n", P, n);
    fprintf(h, "/* probs: the softmax of the logits (as cnnc --predict prints); returns the best class */\n"
               "int %s_predict(const float *input, float *probs);\nint %s_predict_r(const float *input, float *probs, "
               "void *arena);\n", n, n);
    fprintf(h, "/* The eval transform of %s: RGB pixels (3 bytes each, rows stride bytes apart) to input.\n"
               " * Resize and CenterCrop with PIL's arithmetic; no scratch memory (it computes only the input's\n"
               " * pixels). 0, or -1 when the image's size does not give the model's input size. */\n"
               "int %s_preprocess_rgb8(const unsigned char *pixels, int width, int height, int stride, float *input);\n",
            p->path, n);
    fprintf(h, "\n#endif\n");
    (void)names;
    if (fclose(h) != 0) return err_set(e, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int emit_source(Emit *m, const char *hname, char **names, int nnames, int K, const char *P, Error *e)
{
    FILE *f = m->f;
    const char *n = m->prefix;
    Graph *g = m->g;
    fprintf(f, "/* generated by cnnc --emit-c from %s (model %s): C99, libm only, no heap. */\n", m->p->path,
            m->p->model_name);
    fprintf(f, "#include <math.h>\n#include <string.h>\n#if defined(__AVX2__)\n#include <immintrin.h>\n#endif\n\n"
               "#include \"%s\"\n\n", hname);
    fprintf(f, "const char *const %s_class_names[%d] = {", n, K);
    for (int k = 0; k < K; k++) {
        fprintf(f, "%s", k ? ", " : " ");
        char buf[32];
        snprintf(buf, sizeof buf, "class %d", k);
        c_string(f, k < nnames ? names[k] : buf);
    }
    fprintf(f, " };\n\n");
    int *used = layout_weights(m);
    /* the body first into memory: it says which kernels are used */
    char *body = NULL;
    size_t blen = 0;
    FILE *bf = open_memstream(&body, &blen);
    m->f = bf;
    int rc = 0;
    for (int i = 0; i <= m->L && !rc; i++)
        if (!m->skip[i]) rc = emit_node(m, i, e);
    m->f = f;
    fclose(bf);
    if (rc) {
        free(body);
        free(used);
        return rc;
    }
    for (int k = 0; k < EK_COUNT; k++)
        if (m->kernels & (1u << k)) m->kernels |= emit_c_kernels[k].needs;
    for (int k = 0; k < EK_COUNT; k++)
        if (k == EK_CONV2D_WINO && (m->kernels & (1u << k))) emit_wino_kernel(f, m->wino_pool);
        else if (m->kernels & (1u << k)) fputs(emit_c_kernels[k].text, f);
    FILE *bin = NULL;
    if (m->wbin) {
        bin = fopen(m->wbin, "wb");
        if (!bin) rc = err_set(e, "cannot write %s: %s", m->wbin, strerror(errno));
    }
    if (!rc) rc = emit_weights(m, used, bin, e);
    if (bin && fclose(bin) != 0 && !rc) rc = err_set(e, "cannot write %s: %s", m->wbin, strerror(errno));
    free(used);
    if (rc) {
        free(body);
        return rc;
    }
    if (m->wbin)
        fprintf(f, "static const float *W;\n\nint %s_set_weights(const void *blob, size_t size)\n{\n"
                   "    if (size != %s_WEIGHTS_SIZE) return -1;\n    W = (const float *)blob;\n    return 0;\n}\n\n",
                n, P);
    fprintf(f, "static float %s_arena[%s_ARENA_SIZE / sizeof(float)];\n\n", n, P);
    fprintf(f, "void %s_forward_r(const float *input, float *logits, void *arena)\n{\n    float *A = (float *)arena;\n",
            n);
    fwrite(body, 1, blen, f);
    free(body);
    char r[64];
    fprintf(f, "    memcpy(logits, %s, %d * sizeof(float));\n}\n\n", ref(m, g->logits, r, sizeof r), K);
    fprintf(f, "void %s_forward(const float *input, float *logits)\n{\n    %s_forward_r(input, logits, %s_arena);\n}\n\n",
            n, n, n);
    /* the probabilities as --predict's: the softmax of the logits (of the log-probabilities
     * after LogSoftmax), the logits themselves after Softmax */
    int last_softmax = g->nodes[m->L].op == OP_softmax;
    fprintf(f, "int %s_predict_r(const float *input, float *probs, void *arena)\n{\n    int k, best = 0;\n", n);
    fprintf(f, "    %s_forward_r(input, probs, arena);\n", n);
    if (!last_softmax)
        fprintf(f, "    {\n        float mx = probs[0], s = 0.0f;\n        for (k = 1; k < %d; k++) if (probs[k] > mx) mx = "
                   "probs[k];\n        for (k = 0; k < %d; k++) s += probs[k] = expf(probs[k] - mx);\n"
                   "        for (k = 0; k < %d; k++) probs[k] /= s;\n    }\n", K, K, K);
    fprintf(f, "    for (k = 1; k < %d; k++) if (probs[k] > probs[best]) best = k;\n    return best;\n}\n\n", K);
    fprintf(f, "int %s_predict(const float *input, float *probs)\n{\n    return %s_predict_r(input, probs, %s_arena);\n}\n\n",
            n, n, n);
    return emit_c_preprocess(f, m->p, n, e);
}

/* OUT.c -> OUT.h */
static char *header_path(const char *out_c)
{
    size_t len = strlen(out_c);
    char *h = xmalloc(len + 3);
    memcpy(h, out_c, len + 1);
    if (len > 2 && strcmp(h + len - 2, ".c") == 0) h[len - 1] = 'h';
    else strcat(h, ".h");
    return h;
}

int emit_c(const Program *p, const EmitCOptions *o, Error *e)
{
    LowerOptions lo = { .batch = 1, .training = 0 };
    Graph *g = lower_program(p, &lo, e);
    if (!g) return -1;
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    exec_set_threads(g, 1);
    StFile mf;
    if (model_load(g, o->weights, &mf, e) < 0) {
        graph_free(g);
        return -1;
    }
    char **names = NULL;
    int K = g->vals[g->logits].shape[1], nn = 0, rc = 0;
    if (model_file_classes(p, &mf, o->weights, NULL, stderr, &names, &nn, e) < 0) rc = -1;
    safetensors_free(&mf);
    Emit m = { .p = p, .g = g, .wbin = o->weights_bin };
    char prefix[64], P[64];
    for (size_t i = 0; i < sizeof prefix; i++) prefix[i] = (char)tolower((unsigned char)p->model_name[i]);
    prefix[sizeof prefix - 1] = 0;
    upper(P, p->model_name, sizeof P);
    m.prefix = prefix;
    size_t nv = (size_t)(unsigned)g->nvals, nn_ = (size_t)(unsigned)g->nnodes;
    m.act = xcalloc(nn_, sizeof *m.act);
    m.alpha = xcalloc(nn_, sizeof *m.alpha);
    m.skip = xcalloc(nn_, sizeof *m.skip);
    m.konst = xcalloc(nv, sizeof *m.konst);
    m.woff = xcalloc(nv, sizeof *m.woff);
    m.pack = xcalloc(nv, sizeof *m.pack);
    m.wino = xcalloc(nv, sizeof *m.wino);
    m.lin = xcalloc(nv, sizeof *m.lin);
    m.q8 = xcalloc(nv, sizeof *m.q8);
    char *hpath = header_path(o->out_c);
    if (o->calib_set) {
        m.absmax = xcalloc(nv, sizeof *m.absmax);
        m.qscale = xcalloc(nv, sizeof *m.qscale);
        if (!rc) rc = calibrate(&m, o->calib_set, o->calibrate, e);
    }
    if (!rc) {
        fold_constants(&m);
        rc = prepare(&m, e);
    }
    if (!rc) {
        m.f = fopen(o->out_c, "w");
        if (!m.f) rc = err_set(e, "cannot write %s: %s", o->out_c, strerror(errno));
    }
    if (!rc) {
        const char *slash = strrchr(hpath, '/');
        FILE *f = m.f;
        rc = emit_source(&m, slash ? slash + 1 : hpath, names, nn, K, P, e);
        if (fclose(f) != 0 && !rc) rc = err_set(e, "cannot write %s: %s", o->out_c, strerror(errno));
        if (!rc) rc = emit_header(&m, hpath, P, names, K, e);
        if (rc) remove(o->out_c);
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    free(names);
    for (size_t v = 0; v < nv; v++) free(m.konst[v]);
    free(m.konst);
    free(m.woff);
    free(m.pack);
    free(m.wino);
    free(m.lin);
    free(m.q8);
    free(m.absmax);
    free(m.qscale);
    free(m.act);
    free(m.alpha);
    free(m.skip);
    free(hpath);
    graph_free(g);
    return rc;
}
