/* compiler/backends/onnx_export.c: --export-onnx. Walks the inference graph the runtime
 * executes for --predict (lower_program without training: BatchNorm folded into its
 * convolution, conv+relu+maxpool fused) and writes each node as ONNX opset 13 nodes with
 * protobuf-c's generated API over Debian's onnx.proto. Fused nodes are expanded back (Conv,
 * Relu, MaxPool); a folded BatchNorm becomes a BatchNormalization node after its Conv, so
 * the initializers are the model file's tensors under their state_dict keys. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/backends/onnx.pb-c.h"
#include "../../runtime/fileio.h"
#include "../../runtime/json.h"
#include "../../runtime/ops.h"
#include "onnx_export.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7       /* the IR of opset 13 (ONNX 1.8) */

/* The model being built: every allocation is owned here and freed together. */
typedef struct Ox {
    const Graph   *g;
    const Program *p;
    void         **owned; int nowned, capowned;
    Onnx__NodeProto   **nodes; int nnodes, capnodes;
    Onnx__TensorProto **inits; int ninits, capinits;
    char         **vname;       /* each graph value's ONNX name, NULL until made */
    const Node    *cur;         /* the node being written: names what it adds */
    int            seq;
} Ox;

static void *own(Ox *o, void *ptr)
{
    if (o->nowned == o->capowned) {
        o->capowned = o->capowned ? 2 * o->capowned : 256;
        o->owned = xrealloc(o->owned, (unsigned long)o->capowned * sizeof *o->owned);
    }
    return o->owned[o->nowned++] = ptr;
}

static void *ox_alloc(Ox *o, size_t n) { return own(o, xcalloc(1, n ? n : 1)); }

static char *ox_printf(Ox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ox_printf(Ox *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = ox_alloc(o, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A new tensor name for what the current node adds: "conv_layers.0/Relu_7" */
static char *fresh(Ox *o, const char *what) { return ox_printf(o, "%s/%s_%d", o->cur->label, what, o->seq++); }

static Onnx__TensorProto *add_initializer(Ox *o, const char *name, int ndim, const int64_t *dims)
{
    Onnx__TensorProto *t = ox_alloc(o, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->n_dims = (size_t)ndim;
    t->dims = ox_alloc(o, (size_t)ndim * sizeof *t->dims);
    if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->has_data_type = 1;
    if (o->ninits == o->capinits) {
        o->capinits = o->capinits ? 2 * o->capinits : 64;
        Onnx__TensorProto **grown = own(o, xmalloc((unsigned long)o->capinits * sizeof *grown));
        if (o->ninits) memcpy(grown, o->inits, (size_t)o->ninits * sizeof *grown);
        o->inits = grown;
    }
    o->inits[o->ninits++] = t;
    return t;
}

/* A float32 constant the export adds (not a state_dict tensor): named after the node */
static char *const_f32(Ox *o, const char *what, const float *v, int n, int ndim, const int64_t *dims)
{
    char *name = fresh(o, what);
    Onnx__TensorProto *t = add_initializer(o, name, ndim, dims);
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = (size_t)n;
    t->float_data = ox_alloc(o, (size_t)n * sizeof(float));
    memcpy(t->float_data, v, (size_t)n * sizeof(float));
    return name;
}

static char *scalar_f32(Ox *o, const char *what, float v) { return const_f32(o, what, &v, 1, 0, NULL); }

static char *const_i64(Ox *o, const char *what, const int64_t *v, int n)
{
    char *name = fresh(o, what);
    int64_t dims[1] = { n };
    Onnx__TensorProto *t = add_initializer(o, name, 1, dims);
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = (size_t)n;
    t->int64_data = ox_alloc(o, (size_t)n * sizeof(int64_t));
    memcpy(t->int64_data, v, (size_t)n * sizeof(int64_t));
    return name;
}

/* The ONNX name of value v: a parameter or buffer is its state_dict key, made an
 * initializer the first time a node reads it. */
static const char *vname(Ox *o, int v)
{
    if (o->vname[v]) return o->vname[v];
    const Value *val = &o->g->vals[v];
    if (val->kind == VK_PARAM || val->kind == VK_BUFFER) {
        int64_t dims[CN_MAX_DIMS];
        for (int k = 0; k < val->ndim; k++) dims[k] = val->shape[k];
        Onnx__TensorProto *t = add_initializer(o, val->name, val->ndim, dims);
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        t->n_float_data = value_numel(val);
        t->float_data = (float *)val->data;         /* the bound weights, not copied */
        return o->vname[v] = (char *)val->name;
    }
    return o->vname[v] = fresh(o, "t");             /* not reached: nodes name their outputs */
}

/* Adds node op_type(in...) -> out to the graph, named after its output. */
static Onnx__NodeProto *add_node(Ox *o, const char *op_type, const char *const *in, int nin, const char *out)
{
    Onnx__NodeProto *n = ox_alloc(o, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = (char *)op_type;
    n->name = (char *)out;
    n->n_input = (size_t)nin;
    n->input = ox_alloc(o, (size_t)nin * sizeof *n->input);
    for (int i = 0; i < nin; i++) n->input[i] = (char *)in[i];
    n->n_output = 1;
    n->output = ox_alloc(o, sizeof *n->output);
    n->output[0] = (char *)out;
    n->doc_string = ox_printf(o, "%s:%d: %s", o->p->path, o->cur->line, o->cur->label);
    if (o->nnodes == o->capnodes) {
        o->capnodes = o->capnodes ? 2 * o->capnodes : 64;
        Onnx__NodeProto **grown = own(o, xmalloc((unsigned long)o->capnodes * sizeof *grown));
        if (o->nnodes) memcpy(grown, o->nodes, (size_t)o->nnodes * sizeof *grown);
        o->nodes = grown;
    }
    o->nodes[o->nnodes++] = n;
    return n;
}

static Onnx__AttributeProto *add_attr(Ox *o, Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = ox_alloc(o, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    Onnx__AttributeProto **grown = ox_alloc(o, (n->n_attribute + 1) * sizeof *grown);
    if (n->n_attribute) memcpy(grown, n->attribute, n->n_attribute * sizeof *grown);
    grown[n->n_attribute++] = a;
    n->attribute = grown;
    return a;
}

static void attr_int(Ox *o, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = add_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_float(Ox *o, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = add_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void attr_ints(Ox *o, Onnx__NodeProto *n, const char *name, int nv, ...)
{
    Onnx__AttributeProto *a = add_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)nv;
    a->ints = ox_alloc(o, (size_t)nv * sizeof *a->ints);
    va_list ap;
    va_start(ap, nv);
    for (int i = 0; i < nv; i++) a->ints[i] = va_arg(ap, int);
    va_end(ap);
}

/* x -> op_type(x) -> a new name */
static const char *unary(Ox *o, const char *op_type, const char *x, const char *out)
{
    return add_node(o, op_type, &x, 1, out ? out : fresh(o, op_type))->output[0];
}

static const char *binary(Ox *o, const char *op_type, const char *x, const char *y, const char *out)
{
    const char *in[2] = { x, y };
    Onnx__NodeProto *n = add_node(o, op_type, in, 2, out ? out : fresh(o, op_type));
    return n->output[0];
}

/* ---- the ops ---- */

/* Conv (after a Pad node with mode reflect for padding_mode='reflect') */
static void emit_conv(Ox *o, const Attrs *at, const char *x, const char *w, const char *b, const char *out)
{
    Window2d win = attrs_window(at);
    int ph = win.ph, pw = win.pw;
    if (at->padding_mode == PADDING_REFLECT && (ph || pw)) {
        int64_t pads[8] = { 0, 0, ph, pw, 0, 0, ph, pw };
        const char *in[2] = { x, const_i64(o, "pads", pads, 8) };
        Onnx__NodeProto *pad = add_node(o, "Pad", in, 2, fresh(o, "Pad"));
        Onnx__AttributeProto *mode = add_attr(o, pad, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
        mode->has_s = 1;
        mode->s.data = (uint8_t *)"reflect";
        mode->s.len = 7;
        x = pad->output[0];
        ph = pw = 0;
    }
    const char *in[3] = { x, w, b };
    Onnx__NodeProto *n = add_node(o, "Conv", in, b ? 3 : 2, out);
    attr_ints(o, n, "kernel_shape", 2, win.kh, win.kw);
    attr_ints(o, n, "strides", 2, win.sh, win.sw);
    attr_ints(o, n, "pads", 4, ph, pw, ph, pw);
    attr_ints(o, n, "dilations", 2, win.dh, win.dw);
    attr_int(o, n, "group", at->groups > 1 ? at->groups : 1);
}

/* BatchNormalization(x, scale, B, mean, var); scale and B are ones and zeros for
 * affine=False */
static void emit_batchnorm(Ox *o, const char *x, int weight, int bias, int mean, int var, double eps, const char *out)
{
    const char *in[5] = { x, NULL, NULL, vname(o, mean), vname(o, var) };
    if (weight >= 0) {
        in[1] = vname(o, weight);
        in[2] = vname(o, bias);
    } else {
        int c = o->g->vals[mean].shape[0];
        float *v = xcalloc((unsigned long)c, sizeof *v);
        int64_t dims[1] = { c };
        in[2] = const_f32(o, "zeros", v, c, 1, dims);
        for (int k = 0; k < c; k++) v[k] = 1;
        in[1] = const_f32(o, "ones", v, c, 1, dims);
        free(v);
    }
    Onnx__NodeProto *n = add_node(o, "BatchNormalization", in, 5, out);
    attr_float(o, n, "epsilon", (float)eps);
}

/* A conv2d or the conv of a fused node: when its weight comes from a batchnorm_fold node,
 * the original Conv and the BatchNormalization the fold came from. */
static void emit_conv_node(Ox *o, const Node *n, const char *out)
{
    const Graph *g = o->g;
    int f = g->vals[n->in[1]].producer;
    if (f < 0 || g->nodes[f].op != OP_batchnorm_fold) {
        emit_conv(o, &n->a, vname(o, n->in[0]), vname(o, n->in[1]), n->nin == 3 ? vname(o, n->in[2]) : NULL, out);
        return;
    }
    /* batchnorm_fold(w, running_mean, running_var [, bn weight, bn bias] [, conv bias]) */
    const Node *fold = &g->nodes[f];
    int affine = fold->nin >= 5, conv_bias = fold->nin == 4 || fold->nin == 6 ? fold->in[fold->nin - 1] : -1;
    const char *conv_out = fresh(o, "Conv");
    emit_conv(o, &n->a, vname(o, n->in[0]), vname(o, fold->in[0]), conv_bias >= 0 ? vname(o, conv_bias) : NULL,
              conv_out);
    const Node *conv = o->cur;
    o->cur = fold;                                  /* the BatchNorm's own layer names its node */
    emit_batchnorm(o, conv_out, affine ? fold->in[3] : -1, affine ? fold->in[4] : -1, fold->in[1], fold->in[2],
                   fold->a.eps, out);
    o->cur = conv;
}

static int refuse(Ox *o, const Node *n, const char *layer, const char *why, Error *e);

/* MaxPool or AveragePool from in_hw to out_hw. ceil_mode is written as floor mode with the
 * end padding that gives PyTorch's output size (ONNX's ceil rule keeps a last window that
 * starts in the padding, PyTorch's drops it); max pooling ignores padding, and so does
 * average pooling with count_include_pad=False. */
static int emit_pool(Ox *o, const char *op_type, const Attrs *at, const int *in_hw, const int *out_hw,
                     const char *x, const char *out, Error *e)
{
    Window2d w = attrs_window(at);
    int end[2] = { w.ph, w.pw }, start[2] = { w.ph, w.pw }, k[2] = { w.dh * (w.kh - 1) + 1, w.dw * (w.kw - 1) + 1 };
    int s[2] = { w.sh, w.sw }, avg = strcmp(op_type, "MaxPool") != 0;
    for (int d = 0; d < 2 && at->ceil_mode; d++) {
        int need = (out_hw[d] - 1) * s[d] + k[d] - in_hw[d] - start[d];
        if (need > end[d]) end[d] = need;
    }
    if (avg && at->count_include_pad && (end[0] > w.ph || end[1] > w.pw))
        return refuse(o, o->cur, "AvgPool2d", "with ceil_mode=True and count_include_pad=True its last window "
                      "overhangs the padding, which ONNX would count: set count_include_pad=False", e);
    Onnx__NodeProto *n = add_node(o, op_type, &x, 1, out);
    attr_ints(o, n, "kernel_shape", 2, w.kh, w.kw);
    attr_ints(o, n, "strides", 2, w.sh, w.sw);
    attr_ints(o, n, "pads", 4, start[0], start[1], end[0], end[1]);
    if (!avg) attr_ints(o, n, "dilations", 2, w.dh, w.dw);
    else attr_int(o, n, "count_include_pad", at->count_include_pad);
    return 0;
}

/* a 4-d value's H and W */
static const int *hw(const Ox *o, int v) { return o->g->vals[v].shape + 2; }

/* GELU: x/2 (1 + erf(x / sqrt 2)), or with approximate='tanh' x/2 (1 + tanh(sqrt(2/pi)
 * (x + 0.044715 x^3))): ONNX has Gelu from opset 20 only */
static void emit_gelu(Ox *o, const char *x, int tanh_form, const char *out)
{
    const char *inner;
    if (!tanh_form) {
        inner = unary(o, "Erf", binary(o, "Mul", x, scalar_f32(o, "inv_sqrt2", (float)M_SQRT1_2), NULL), NULL);
    } else {
        const char *x3 = binary(o, "Mul", binary(o, "Mul", x, x, NULL), x, NULL);
        const char *t = binary(o, "Add", x, binary(o, "Mul", x3, scalar_f32(o, "kappa", 0.044715f), NULL), NULL);
        inner = unary(o, "Tanh", binary(o, "Mul", t, scalar_f32(o, "sqrt_2_over_pi", (float)sqrt(2.0 / M_PI)), NULL),
                      NULL);
    }
    const char *cdf2 = binary(o, "Add", inner, scalar_f32(o, "one", 1.0f), NULL);
    binary(o, "Mul", binary(o, "Mul", x, cdf2, NULL), scalar_f32(o, "half", 0.5f), out);
}

static int refuse(Ox *o, const Node *n, const char *layer, const char *why, Error *e)
{
    return err_set(e, "%s:%d:%d: error: %s %s cannot be exported to ONNX: %s", o->p->path, n->line, n->col, layer,
                   n->label, why);
}

/* AdaptiveAvgPool2d / AdaptiveMaxPool2d: Global*Pool for 1 x 1, else a fixed pool whose
 * window tiles the input exactly */
static int emit_adaptive(Ox *o, const Node *n, const char *out, Error *e)
{
    int avg = n->op == OP_adaptive_avgpool2d;
    const Value *x = &o->g->vals[n->in[0]];
    int H = x->shape[2], W = x->shape[3], oh = n->a.out_hw[0], ow = n->a.out_hw[1];
    if (oh == 1 && ow == 1) {
        unary(o, avg ? "GlobalAveragePool" : "GlobalMaxPool", vname(o, n->in[0]), out);
        return 0;
    }
    if (H % oh || W % ow) {
        char why[256];
        snprintf(why, sizeof why, "its %dx%d input does not divide into %dx%d output cells (ONNX has no adaptive "
                 "pooling): give it an output size that divides the input, or change the input size", H, W, oh, ow);
        return refuse(o, n, avg ? "AdaptiveAvgPool2d" : "AdaptiveMaxPool2d", why, e);
    }
    Attrs a = { 0 };
    a.kernel_hw[0] = a.stride_hw[0] = H / oh;
    a.kernel_hw[1] = a.stride_hw[1] = W / ow;
    a.count_include_pad = 1;
    return emit_pool(o, avg ? "AveragePool" : "MaxPool", &a, hw(o, n->in[0]), hw(o, n->out[0]), vname(o, n->in[0]),
                     out, e);
}

/* One graph node as ONNX nodes; out: the name of its first output */
static int emit(Ox *o, const Node *n, const char *out, Error *e)
{
    const char *x = n->nin ? vname(o, n->in[0]) : NULL;
    Onnx__NodeProto *nd;
    switch ((OpId)n->op) {
    case OP_conv2d:
        emit_conv_node(o, n, out);
        return 0;
    case OP_conv2d_relu_maxpool2d: {
        const char *c = fresh(o, "Conv");
        emit_conv_node(o, n, c);
        Attrs pool = { 0 };
        pool.kernel = n->a.pool_kernel;
        pool.stride = n->a.pool_stride;
        pool.padding = n->a.pool_padding;
        Window2d cw = attrs_window(&n->a);
        const int *x_hw = hw(o, n->in[0]);
        int conv_hw[2] = { window_out_size_ex(x_hw[0], cw.kh, cw.sh, cw.ph, cw.dh, 0),
                           window_out_size_ex(x_hw[1], cw.kw, cw.sw, cw.pw, cw.dw, 0) };
        return emit_pool(o, "MaxPool", &pool, conv_hw, hw(o, n->out[0]), unary(o, "Relu", c, NULL), out, e);
    }
    case OP_linear: {
        const char *in[3] = { x, vname(o, n->in[1]), n->nin == 3 ? vname(o, n->in[2]) : NULL };
        nd = add_node(o, "Gemm", in, n->nin, out);
        attr_int(o, nd, "transB", 1);
        return 0;
    }
    case OP_batchnorm2d: case OP_batchnorm1d:
        /* inputs x [, weight, bias] [, running_mean, running_var, num_batches_tracked] */
        if (n->nin != 4 && n->nin != 6)
            return refuse(o, n, n->op == OP_batchnorm2d ? "BatchNorm2d" : "BatchNorm1d",
                          "with track_running_stats=False it normalizes by each batch's own statistics, which ONNX's "
                          "inference BatchNormalization cannot: train it with track_running_stats=True", e);
        emit_batchnorm(o, x, n->nin == 6 ? n->in[1] : -1, n->nin == 6 ? n->in[2] : -1, n->in[n->nin - 3],
                       n->in[n->nin - 2], n->a.eps, out);
        return 0;
    case OP_relu: unary(o, "Relu", x, out); return 0;
    case OP_sigmoid: unary(o, "Sigmoid", x, out); return 0;
    case OP_tanh: unary(o, "Tanh", x, out); return 0;
    case OP_flatten:
        nd = add_node(o, "Flatten", &x, 1, out);
        attr_int(o, nd, "axis", 1);
        return 0;
    case OP_leaky_relu: case OP_elu:
        nd = add_node(o, n->op == OP_elu ? "Elu" : "LeakyRelu", &x, 1, out);
        attr_float(o, nd, "alpha", (float)n->a.alpha);
        return 0;
    case OP_gelu: emit_gelu(o, x, n->a.approximate, out); return 0;
    case OP_silu: binary(o, "Mul", x, unary(o, "Sigmoid", x, NULL), out); return 0;
    case OP_relu6: {
        /* 6 - relu(6 - relu(x)) (within half an ulp of 6): opset 13's Clip takes its bounds as
         * inputs, which OpenCV's importer (4.6) refuses */
        const char *six = scalar_f32(o, "six", 6.0f);
        binary(o, "Sub", six, unary(o, "Relu", binary(o, "Sub", six, unary(o, "Relu", x, NULL), NULL), NULL), out);
        return 0;
    }
    case OP_hardsigmoid: case OP_hardswish: {      /* torch: relu6(x + 3) / 6; HardSwish is opset 14 */
        const char *h = n->op == OP_hardsigmoid ? out : fresh(o, "HardSigmoid");
        nd = add_node(o, "HardSigmoid", &x, 1, h);
        attr_float(o, nd, "alpha", 1.0f / 6.0f);
        attr_float(o, nd, "beta", 0.5f);
        if (n->op == OP_hardswish) binary(o, "Mul", x, h, out);
        return 0;
    }
    case OP_maxpool2d: case OP_avgpool2d:
        return emit_pool(o, n->op == OP_maxpool2d ? "MaxPool" : "AveragePool", &n->a, hw(o, n->in[0]),
                         hw(o, n->out[0]), x, out, e);
    case OP_adaptive_avgpool2d: case OP_adaptive_maxpool2d: return emit_adaptive(o, n, out, e);
    case OP_add: binary(o, "Add", x, vname(o, n->in[1]), out); return 0;
    case OP_cat: {
        const char *in[CN_MAX_IN];
        for (int k = 0; k < n->nin; k++) in[k] = vname(o, n->in[k]);
        nd = add_node(o, "Concat", in, n->nin, out);
        attr_int(o, nd, "axis", 1);
        return 0;
    }
    case OP_slice: {
        int64_t s = n->a.start, t = (int64_t)n->a.start + n->a.count, axis = 1;
        const char *in[4] = { x, const_i64(o, "starts", &s, 1), const_i64(o, "ends", &t, 1),
                              const_i64(o, "axes", &axis, 1) };
        add_node(o, "Slice", in, 4, out);
        return 0;
    }
    case OP_softmax: case OP_log_softmax: case OP_cross_entropy:   /* cross_entropy: its softmax */
        nd = add_node(o, n->op == OP_log_softmax ? "LogSoftmax" : "Softmax", &x, 1, out);
        attr_int(o, nd, "axis", 1);
        return 0;
    case OP_dropout: case OP_dropout2d:             /* the identity at inference */
        unary(o, "Identity", x, out);
        return 0;
    default:
        break;
    }
    char why[160];
    snprintf(why, sizeof why, "cnnc has no ONNX form for its op %s", op_table[n->op]->name);
    return refuse(o, n, "the layer", why, e);
}

/* ---- the model ---- */

static Onnx__ValueInfoProto *value_info(Ox *o, const char *name, const Value *v)
{
    Onnx__ValueInfoProto *vi = ox_alloc(o, sizeof *vi);
    onnx__value_info_proto__init(vi);
    Onnx__TypeProto *tp = ox_alloc(o, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = ox_alloc(o, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    Onnx__TensorShapeProto *sh = ox_alloc(o, sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)v->ndim;
    sh->dim = ox_alloc(o, (size_t)v->ndim * sizeof *sh->dim);
    for (int k = 0; k < v->ndim; k++) {
        Onnx__TensorShapeProto__Dimension *d = ox_alloc(o, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (k == 0 && v->batched) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "batch";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = v->shape[k];
        }
        sh->dim[k] = d;
    }
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = (char *)name;
    vi->type = tp;
    return vi;
}

static Onnx__StringStringEntryProto *meta(Ox *o, const char *key, char *value)
{
    Onnx__StringStringEntryProto *m = ox_alloc(o, sizeof *m);
    onnx__string_string_entry_proto__init(m);
    m->key = (char *)key;
    m->value = value;
    return m;
}

/* The nodes needed for probs: a value is needed when probs depends on it; cross_entropy
 * gives probs from the logits alone (its labels are not read). */
static char *needed_nodes(const Graph *g)
{
    char *need_val = xcalloc((unsigned long)g->nvals, 1), *need = xcalloc((unsigned long)g->nnodes, 1);
    need_val[g->probs] = 1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        if (n->phase != PHASE_FORWARD) continue;
        for (int k = 0; k < n->nout; k++) need[i] |= need_val[n->out[k]];
        if (!need[i] || n->op == OP_batchnorm_fold) continue;   /* a fold is written with its conv */
        int nin = n->op == OP_cross_entropy ? 1 : n->nin;
        for (int k = 0; k < nin; k++) need_val[n->in[k]] = 1;
    }
    free(need_val);
    return need;
}

static int build(Ox *o, char *const *classes, int nclasses, Onnx__ModelProto *m, Onnx__GraphProto *gp, Error *e)
{
    const Graph *g = o->g;
    o->vname[g->input] = "input";
    o->vname[g->probs] = "probs";
    char *need = needed_nodes(g);
    int rc = 0;
    for (int i = 0; i < g->nnodes && rc == 0; i++) {
        const Node *n = &g->nodes[i];
        if (!need[i] || n->op == OP_batchnorm_fold) continue;
        o->cur = n;
        int y = n->op == OP_cross_entropy ? n->out[1] : n->out[0];
        char *out = o->vname[y] ? o->vname[y] : (o->vname[y] = fresh(o, op_table[n->op]->name));
        rc = emit(o, n, out, e);
    }
    free(need);
    if (rc) return -1;

    gp->name = (char *)o->p->model_name;
    gp->n_node = (size_t)o->nnodes;
    gp->node = o->nodes;
    gp->n_initializer = (size_t)o->ninits;
    gp->initializer = o->inits;
    gp->n_input = gp->n_output = 1;
    gp->input = ox_alloc(o, sizeof *gp->input);
    gp->input[0] = value_info(o, "input", &g->vals[g->input]);
    gp->output = ox_alloc(o, sizeof *gp->output);
    gp->output[0] = value_info(o, "probs", &g->vals[g->probs]);

    Onnx__OperatorSetIdProto *opset = ox_alloc(o, sizeof *opset);
    onnx__operator_set_id_proto__init(opset);
    opset->domain = "";
    opset->has_version = 1;
    opset->version = ONNX_OPSET;
    m->has_ir_version = 1;
    m->ir_version = ONNX_IR_VERSION;
    m->n_opset_import = 1;
    m->opset_import = ox_alloc(o, sizeof *m->opset_import);
    m->opset_import[0] = opset;
    m->producer_name = "cnnc";
    m->producer_version = PACKAGE_VERSION;
    m->doc_string = ox_printf(o, "%s from %s: input [batch, C, H, W] after the eval transform, output the class "
                              "probabilities", o->p->model_name, o->p->path);
    m->graph = gp;

    JsonBuf names = { 0 };
    json_buf_puts(&names, "[");
    for (int i = 0; i < nclasses; i++) {
        if (i) json_buf_puts(&names, ", ");
        json_buf_string(&names, classes[i]);
    }
    json_buf_puts(&names, "]");
    m->n_metadata_props = 2;
    m->metadata_props = ox_alloc(o, 2 * sizeof *m->metadata_props);
    m->metadata_props[0] = meta(o, "class_names", own(o, names.p));
    m->metadata_props[1] = meta(o, "source", (char *)o->p->path);
    return 0;
}

int onnx_export(const Graph *g, const Program *p, char *const *classes, int nclasses, const char *path, Error *e)
{
    Ox o = { .g = g, .p = p };
    o.vname = xcalloc((unsigned long)g->nvals, sizeof *o.vname);
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    Onnx__GraphProto gp;
    onnx__graph_proto__init(&gp);
    int rc = build(&o, classes, nclasses, &m, &gp, e);
    if (rc == 0) {
        size_t n = onnx__model_proto__get_packed_size(&m);
        uint8_t *buf = xmalloc(n ? n : 1);
        onnx__model_proto__pack(&m, buf);
        rc = write_file_atomic(path, buf, n, e);
        free(buf);
    }
    for (int i = 0; i < o.nowned; i++) free(o.owned[i]);
    free(o.owned);
    free(o.vname);
    return rc;
}
