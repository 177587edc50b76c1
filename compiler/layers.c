/* compiler/layers.c: the torch.nn layers cnnc knows, one row each (arguments as PyTorch
 * takes them, and the shape rule), the model block with its state_dict keys, and shape
 * inference with messages that say where a shape came from. */
#include "layers.h"

#include <stdio.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/ops.h"

#define MAX_SIZE   (1 << 24)        /* channels, features, kernel, stride, padding */
#define MAX_SIDE   65536            /* input height and width */
#define MAX_VALUES 2147483647LL     /* values per sample, weights per layer */

typedef struct Module Module;
typedef struct Shape Shape;

/* A constant tensor written in the file as nested lists (weight=[[[[...]]]], bias=[...]);
 * its shape is checked against the layer's once in_channels / in_features are known. */
typedef struct Given {
    float  *v;                      /* NULL: not given (arena memory) */
    int     ndim, shape[4];
    size_t  n;
    SrcLoc  loc;
} Given;

typedef struct LayerDef {
    const char  *name;              /* as in torch.nn */
    LayerKind    kind;
    const char  *type_name;         /* Layer.type_name: what it is once built (LazyLinear: Linear) */
    const Param *params;            /* PyTorch's order: positionals bind to these */
    int          out_arg;           /* the parameter giving the output size, -1: none */
    int (*build)(Ctx *c, Module *m);
    int (*infer)(Ctx *c, Module *m, Shape *s, int first);
} LayerDef;

struct Module {
    const LayerDef *def;            /* NULL for Sequential */
    const AstNode  *call;
    Args            args;
    Layer           layer;
    int             infer_in;       /* in_channels / in_features left for cnnc to infer */
    Given           weight, bias;   /* weight=[...], bias=[...]: values given in the file */
    Module        **kids;           /* Sequential's children */
    int             nkids;
};

/* The shape flowing through the model, and where it was last changed. */
struct Shape {
    int  ndim, d[3];
    int  flattened, flat_from[3];   /* a Flatten turned this C x H x W into d[0] */
    const Module *src;              /* the last layer that changed it; NULL: the input */
    char change[256];               /* "32 x 50 x 50 -> 32 x 25 x 25" */
};

typedef struct ModelState {
    const AstNode *input;
    Module       **mods;            /* parallel to Program.layers */
    int            n, cap;
    const Module  *out_src;         /* the layer that set the output's size */
} ModelState;

/* ---- messages ---- */

static const char *shape_text(const int *d, int ndim, char *buf, size_t n)
{
    if (ndim == 3) snprintf(buf, n, "%d x %d x %d", d[0], d[1], d[2]);
    else snprintf(buf, n, "%d", d[0]);
    return buf;
}

/* "32 x 25 x 25 = 20000" for a flattened shape, else the shape. */
static const char *flow_text(const Shape *s, char *buf, size_t n)
{
    char a[48];
    if (s->ndim == 1 && s->flattened)
        snprintf(buf, n, "%s = %d", shape_text(s->flat_from, 3, a, sizeof a), s->d[0]);
    else
        shape_text(s->d, s->ndim, buf, n);
    return buf;
}

/* "MaxPool2d(2)": the layer as written when its call fits on one line. */
static const char *layer_text(const Ctx *c, const Module *m, char *buf, size_t n)
{
    const AstNode *call = m->call;
    char args[128];
    if (call->last_line == call->loc.line &&
        diag_text(c->diag, call->loc.line, call->name_loc.end_col, call->loc.end_col, args,
                  sizeof args) == 0)
        snprintf(buf, n, "%s%s", m->def->name, args);
    else
        snprintf(buf, n, "%s(...)", m->def->name);
    return buf;
}

static void note_source(Ctx *c, const Shape *s)
{
    char where[512], text[192], shape[128];
    const ModelState *ms = c->model;
    if (!s->src) {
        diag_note(c->diag, "the shape comes from the model's input at %s (%s)",
                  diag_where(c->diag, ms->input->loc, where, sizeof where),
                  shape_text(s->ndim == 3 ? s->d : s->flat_from, 3, shape, sizeof shape));
        return;
    }
    diag_note(c->diag, "the shape comes from %s at %s (%s)", layer_text(c, s->src, text, sizeof text),
              diag_where(c->diag, s->src->call->loc, where, sizeof where), s->change);
}

/* "the layer before it produces" / "the model's input has" (or "is") */
static const char *before(int first, const char *verb)
{
    if (!first) return "the layer before it produces";
    return !strcmp(verb, "has") ? "the model's input has" : "the model's input is";
}

/* a * b, or INT64_MAX when that overflows (sizes are checked against MAX_VALUES). */
static int64_t mul_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

/* Records that m turned shape `in` into s. */
static int changed(Ctx *c, Module *m, const Shape *in, Shape *s)
{
    char a[128], b[128];
    int64_t numel = 1;
    for (int i = 0; i < s->ndim; i++) numel = mul_sat(numel, s->d[i]);
    if (numel > MAX_VALUES)
        return diag_error(c->diag, m->call->loc, "%s's output %s is too large (more than %lld "
                          "values per sample)", m->def->name, shape_text(s->d, s->ndim, a, sizeof a),
                          MAX_VALUES);
    snprintf(s->change, sizeof s->change, "%s -> %s", flow_text(in, a, sizeof a),
             shape_text(s->d, s->ndim, b, sizeof b));
    s->src = m;
    s->flattened = 0;
    return 0;
}

static int weights_fit(Ctx *c, Module *m, int64_t count)
{
    if (count == INT64_MAX)
        return diag_error(c->diag, m->call->loc, "%s has more weights than cnnc supports (%lld)",
                          m->def->name, MAX_VALUES);
    if (count > MAX_VALUES)
        return diag_error(c->diag, m->call->loc, "%s has %lld weights, more than cnnc supports "
                          "(%lld)", m->def->name, (long long)count, MAX_VALUES);
    return 0;
}

/* ---- arguments shared by the rows ---- */

/* in_channels / in_features: an integer, or None / _ (or left out by LazyLinear) to infer. */
static int in_size(Ctx *c, Module *m, int i, int *out)
{
    int64_t v;
    if (m->args.v[i] && m->args.v[i]->kind == VAL_NONE) {
        m->infer_in = 1;
        return 0;
    }
    if (arg_int(c, &m->args, i, 0, &v) || arg_range(c, &m->args, i, v, 1, MAX_SIZE)) return -1;
    *out = (int)v;
    return 0;
}

static int int_in(Ctx *c, Module *m, int i, int64_t dflt, int64_t lo, int *out)
{
    int64_t v;
    if (arg_int(c, &m->args, i, dflt, &v) || arg_range(c, &m->args, i, v, lo, MAX_SIZE)) return -1;
    *out = (int)v;
    return 0;
}

static int square_in(Ctx *c, Module *m, int i, int64_t dflt, int64_t lo, const char *unequal, int *out)
{
    int64_t v;
    if (arg_square(c, &m->args, i, dflt, unequal, &v) ||
        arg_range(c, &m->args, i, v, lo, MAX_SIZE)) return -1;
    *out = (int)v;
    return 0;
}

/* An argument cnnc accepts only at its PyTorch default (dilation=1, ceil_mode=False...). */
static int only_default(Ctx *c, Module *m, int i, int is_default, const char *what)
{
    if (!is_default)
        return diag_error(c->diag, arg_loc(&m->args, i), "%s is not supported", what);
    return 0;
}

/* ---- weights given in the file, and freezing ---- */

/* Reads a nested list of numbers into g (shape from the nesting; every row the same length). */
static int given_fill(Ctx *c, const Val *v, const char *name, int depth, Given *g, size_t *k)
{
    if (v->kind == VAL_INT || v->kind == VAL_FLOAT) {
        if (depth != g->ndim)
            return diag_error(c->diag, v->at->loc, "%s: expected a list here (the first entry "
                              "at this depth is a list), got a number", name);
        g->v[(*k)++] = v->kind == VAL_INT ? (float)v->i : (float)v->f;
        return 0;
    }
    if (v->kind != VAL_LIST && v->kind != VAL_TUPLE)
        return diag_error(c->diag, v->at->loc, "%s must be nested lists of numbers, got %s", name,
                          val_what(v));
    if (depth >= g->ndim)
        return diag_error(c->diag, v->at->loc, "%s: expected a number here (the first entry at "
                          "this depth is a number), got %s", name, val_what(v));
    if (v->n != g->shape[depth])
        return diag_error(c->diag, v->at->loc, "%s: this list has %d entr%s but the first list at "
                          "the same depth has %d", name, v->n, v->n == 1 ? "y" : "ies",
                          g->shape[depth]);
    for (int i = 0; i < v->n; i++)
        if (given_fill(c, v->items[i], name, depth + 1, g, k)) return -1;
    return 0;
}

static int given_read(Ctx *c, const Val *v, const char *name, int maxdim, Given *g)
{
    memset(g, 0, sizeof *g);
    g->loc = v->at->loc;
    g->n = 1;
    for (const Val *x = v; x->kind == VAL_LIST || x->kind == VAL_TUPLE; x = x->items[0]) {
        if (g->ndim == maxdim)
            return diag_error(c->diag, v->at->loc, "%s has more than %d levels of lists", name,
                              maxdim);
        if (x->n == 0) return diag_error(c->diag, x->at->loc, "%s has an empty list", name);
        g->shape[g->ndim++] = x->n;
        g->n = (size_t)mul_sat((int64_t)g->n, x->n);
        if (g->n > (1u << 24))
            return diag_error(c->diag, v->at->loc, "%s has more than %d values; give large "
                              "weights in a model file instead", name, 1 << 24);
    }
    if (g->ndim == 0)
        return diag_error(c->diag, v->at->loc, "%s must be nested lists of numbers, got %s", name,
                          val_what(v));
    g->v = arena_alloc(&c->arena, g->n * sizeof *g->v);
    size_t k = 0;
    return given_fill(c, v, name, 0, g, &k);
}

/* Conv2d / Linear: weight=[...] (values), bias=True/False or a list of values, and
 * requires_grad=False (freezes the weight and bias: the optimizer leaves them alone). */
static int given_params(Ctx *c, Module *m, int wi, int bi, int ri)
{
    Args *a = &m->args;
    if (a->v[wi] && given_read(c, a->v[wi], "weight", m->layer.kind == L_CONV2D ? 4 : 2, &m->weight))
        return -1;
    if (a->v[bi] && (a->v[bi]->kind == VAL_LIST || a->v[bi]->kind == VAL_TUPLE)) {
        if (given_read(c, a->v[bi], "bias", 1, &m->bias)) return -1;
        m->layer.bias = 1;
    } else if (arg_bool(c, a, bi, 1, &m->layer.bias)) {
        return -1;
    }
    int rg;
    if (arg_bool(c, a, ri, 1, &rg)) return -1;
    m->layer.frozen = !rg;
    return 0;
}

/* After shape inference: the given values must have the parameter's shape. */
static int given_check(Ctx *c, const Module *m, const Given *g, const char *name, int ndim,
                       const int *want, float **out)
{
    if (!g->v) return 0;
    int same = g->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = g->shape[i] == want[i];
    if (!same) {
        char a[64], b[64];
        size_t la = 0, lb = 0;
        a[0] = b[0] = 0;
        for (int i = 0; i < ndim; i++)
            la += (size_t)snprintf(a + la, sizeof a - la, "%s%d", i ? ", " : "", want[i]);
        for (int i = 0; i < g->ndim; i++)
            lb += (size_t)snprintf(b + lb, sizeof b - lb, "%s%d", i ? ", " : "", g->shape[i]);
        return diag_error(c->diag, g->loc, "%s's %s must have shape [%s]%s, got [%s]",
                          m->def->name, name, a,
                          ndim == 4 ? " (out_channels, in_channels, kernel_size, kernel_size)"
                          : ndim == 2 ? " (out_features, in_features)"
                          : m->layer.kind == L_CONV2D ? " (out_channels)" : " (out_features)", b);
    }
    *out = xmalloc(g->n * sizeof **out);
    memcpy(*out, g->v, g->n * sizeof **out);
    return 0;
}

#define SQUARE_KERNEL  "only square kernels are supported"
#define SQUARE_STRIDE  "only the same stride in both directions is supported"
#define SQUARE_PADDING "only the same padding on every side is supported"

/* ---- Conv2d ---- */

static const Param conv2d_params[] = {
    { "in_channels", 1 }, { "out_channels", 1 }, { "kernel_size", 1 }, { "stride", 0 },
    { "padding", 0 }, { "dilation", 0 }, { "groups", 0 }, { "bias", 0 }, { "padding_mode", 0 },
    { "weight", 0 }, { "requires_grad", 0 }, { NULL, 0 }
};

static int build_conv2d(Ctx *c, Module *m)
{
    Layer *l = &m->layer;
    Args *a = &m->args;
    int dilation, groups;
    const char *mode;
    if (in_size(c, m, 0, &l->in_ch) || int_in(c, m, 1, 0, 1, &l->out_ch) ||
        square_in(c, m, 2, 0, 1, SQUARE_KERNEL, &l->kernel) ||
        square_in(c, m, 3, 1, 1, SQUARE_STRIDE, &l->stride)) return -1;
    if (a->v[4] && a->v[4]->kind == VAL_STR) {          /* padding='same' / 'valid' */
        if (!strcmp(a->v[4]->s, "valid")) {
            l->padding = 0;
        } else if (!strcmp(a->v[4]->s, "same")) {
            if (l->stride != 1)
                return diag_error(c->diag, arg_loc(a, 4), "padding='same' is not supported for "
                                  "strided convolutions");
            if (l->kernel % 2 == 0)
                return diag_error(c->diag, arg_loc(a, 4), "padding='same' with an even "
                                  "kernel_size pads unevenly, which cnnc does not support");
            l->padding = (l->kernel - 1) / 2;
        } else {
            return diag_error(c->diag, arg_loc(a, 4), "padding must be an integer, 'same' or "
                              "'valid', got '%s'", a->v[4]->s);
        }
    } else if (square_in(c, m, 4, 0, 0, SQUARE_PADDING, &l->padding)) {
        return -1;
    }
    if (square_in(c, m, 5, 1, 1, "only the same dilation in both directions is supported",
                  &dilation) ||
        only_default(c, m, 5, dilation == 1, "dilation other than 1") ||
        int_in(c, m, 6, 1, 1, &groups) ||
        only_default(c, m, 6, groups == 1, "groups other than 1") ||
        given_params(c, m, 9, 7, 10) || arg_str(c, a, 8, "zeros", &mode)) return -1;
    if (strcmp(mode, "zeros"))
        return diag_error(c->diag, arg_loc(a, 8), "padding_mode='%s' is not supported; cnnc "
                          "pads with zeros", mode);
    return 0;
}

/* Conv2d and MaxPool2d: a k x k window, stride s, padding p over each channel. */
static int infer_window(Ctx *c, Module *m, Shape *s, int first)
{
    Layer *l = &m->layer;
    char a[128];
    if (s->ndim != 3) {
        diag_error(c->diag, m->call->loc, "%s needs a channels x height x width input, but %s "
                   "%s features", m->def->name, before(first, "is"), flow_text(s, a, sizeof a));
        note_source(c, s);
        return -1;
    }
    if (l->kind == L_CONV2D) {
        if (m->infer_in) {
            l->in_ch = s->d[0];
        } else if (l->in_ch != s->d[0]) {
            diag_error(c->diag, arg_loc(&m->args, 0), "%s expects %d input channel%s, but %s "
                       "%d channel%s (%s)", m->def->name, l->in_ch, l->in_ch == 1 ? "" : "s",
                       before(first, "has"), s->d[0], s->d[0] == 1 ? "" : "s",
                       shape_text(s->d, 3, a, sizeof a));
            note_source(c, s);
            return -1;
        }
    }
    int h = window_out_size(s->d[1], l->kernel, l->stride, l->padding);
    int w = window_out_size(s->d[2], l->kernel, l->stride, l->padding);
    if (h < 1 || w < 1) {
        if (l->padding)
            diag_error(c->diag, arg_loc(&m->args, l->kind == L_CONV2D ? 2 : 0), "%s's kernel_size "
                       "%d is larger than its %s input padded to %d x %d", m->def->name, l->kernel,
                       shape_text(s->d, 3, a, sizeof a), s->d[1] + 2 * l->padding,
                       s->d[2] + 2 * l->padding);
        else
            diag_error(c->diag, arg_loc(&m->args, l->kind == L_CONV2D ? 2 : 0), "%s's kernel_size "
                       "%d is larger than its %s input", m->def->name, l->kernel,
                       shape_text(s->d, 3, a, sizeof a));
        note_source(c, s);
        return -1;
    }
    Shape in = *s;
    s->d[0] = l->kind == L_CONV2D ? l->out_ch : s->d[0];
    s->d[1] = h;
    s->d[2] = w;
    if (l->kind == L_CONV2D &&
        weights_fit(c, m, mul_sat(mul_sat((int64_t)l->out_ch * l->in_ch, l->kernel), l->kernel)))
        return -1;
    return changed(c, m, &in, s);
}

/* ---- MaxPool2d ---- */

static const Param maxpool2d_params[] = {
    { "kernel_size", 1 }, { "stride", 0 }, { "padding", 0 }, { "dilation", 0 },
    { "return_indices", 0 }, { "ceil_mode", 0 }, { NULL, 0 }
};

static int build_maxpool2d(Ctx *c, Module *m)
{
    Layer *l = &m->layer;
    Args *a = &m->args;
    int dilation, ret, ceil;
    if (square_in(c, m, 0, 0, 1, SQUARE_KERNEL, &l->kernel)) return -1;
    if (a->v[1] && a->v[1]->kind == VAL_NONE) l->stride = l->kernel;
    else if (square_in(c, m, 1, l->kernel, 1, SQUARE_STRIDE, &l->stride)) return -1;
    if (square_in(c, m, 2, 0, 0, SQUARE_PADDING, &l->padding)) return -1;
    if (l->padding > l->kernel / 2)
        return diag_error(c->diag, arg_loc(a, 2), "padding must be at most half of kernel_size "
                          "(%d for kernel_size %d), got %d", l->kernel / 2, l->kernel, l->padding);
    if (square_in(c, m, 3, 1, 1, "only the same dilation in both directions is supported",
                  &dilation) ||
        only_default(c, m, 3, dilation == 1, "dilation other than 1") ||
        arg_bool(c, a, 4, 0, &ret) || only_default(c, m, 4, !ret, "return_indices=True") ||
        arg_bool(c, a, 5, 0, &ceil) || only_default(c, m, 5, !ceil, "ceil_mode=True")) return -1;
    return 0;
}

/* ---- ReLU, Dropout, Flatten ---- */

static const Param relu_params[] = { { "inplace", 0 }, { NULL, 0 } };
static const Param dropout_params[] = { { "p", 0 }, { "inplace", 0 }, { NULL, 0 } };
static const Param flatten_params[] = { { "start_dim", 0 }, { "end_dim", 0 }, { NULL, 0 } };

static int build_relu(Ctx *c, Module *m)
{
    int inplace;
    return arg_bool(c, &m->args, 0, 0, &inplace);
}

static int build_dropout(Ctx *c, Module *m)
{
    double p;
    int inplace;
    char buf[32];
    if (arg_float(c, &m->args, 0, 0.5, &p)) return -1;
    if (!(p >= 0 && p <= 1))
        return diag_error(c->diag, arg_loc(&m->args, 0), "p must be between 0 and 1, got %s",
                          fmt_num(buf, sizeof buf, p));
    m->layer.p = p;
    return arg_bool(c, &m->args, 1, 0, &inplace);
}

static int build_flatten(Ctx *c, Module *m)
{
    int64_t start, end;
    if (arg_int(c, &m->args, 0, 1, &start) ||
        only_default(c, m, 0, start == 1, "Flatten with start_dim other than 1") ||
        arg_int(c, &m->args, 1, -1, &end) ||
        only_default(c, m, 1, end == -1, "Flatten with end_dim other than -1")) return -1;
    return 0;
}

static int infer_same(Ctx *c, Module *m, Shape *s, int first)
{
    (void)c; (void)m; (void)s; (void)first;
    return 0;
}

static int infer_flatten(Ctx *c, Module *m, Shape *s, int first)
{
    (void)c; (void)m; (void)first;
    if (s->ndim == 3) {
        memcpy(s->flat_from, s->d, sizeof s->flat_from);
        s->d[0] = s->d[0] * s->d[1] * s->d[2];
        s->ndim = 1;
        s->flattened = 1;
    }
    return 0;
}

/* ---- Linear, LazyLinear ---- */

static const Param linear_params[] = {
    { "in_features", 0 }, { "out_features", 0 }, { "bias", 0 }, { "weight", 0 },
    { "requires_grad", 0 }, { NULL, 0 }
};
static const Param lazylinear_params[] = { { "out_features", 1 }, { "bias", 0 }, { NULL, 0 } };

/* in_features may be left out, None or _: cnnc infers it (as LazyLinear does). */
static int build_linear(Ctx *c, Module *m)
{
    if (!m->args.v[1]) {
        const Val *only = m->args.v[0];
        diag_error(c->diag, m->call->loc, "Linear is missing its out_features argument");
        if (only && only->kind == VAL_INT && m->call->nkids == 1 && m->call->kids[0]->kind != A_KWARG)
            diag_note(c->diag, "to let cnnc infer in_features, write Linear(None, %lld) or "
                      "LazyLinear(%lld)", (long long)only->i, (long long)only->i);
        return -1;
    }
    if (!m->args.v[0]) m->infer_in = 1;
    else if (in_size(c, m, 0, &m->layer.in_ch)) return -1;
    return int_in(c, m, 1, 0, 1, &m->layer.out_ch) || given_params(c, m, 3, 2, 4) ? -1 : 0;
}

static int build_lazylinear(Ctx *c, Module *m)
{
    m->infer_in = 1;
    return int_in(c, m, 0, 0, 1, &m->layer.out_ch) ||
           arg_bool(c, &m->args, 1, 1, &m->layer.bias) ? -1 : 0;
}

static int infer_linear(Ctx *c, Module *m, Shape *s, int first)
{
    Layer *l = &m->layer;
    char a[128];
    if (s->ndim != 1) {
        diag_error(c->diag, m->call->loc, "%s needs a flat input, but %s %s; add Flatten() "
                   "before it", m->def->name, before(first, "is"), shape_text(s->d, 3, a, sizeof a));
        note_source(c, s);
        return -1;
    }
    if (m->infer_in) {
        l->in_ch = s->d[0];
    } else if (l->in_ch != s->d[0]) {
        diag_error(c->diag, arg_loc(&m->args, 0), "%s expects %d input features, but %s %s",
                   m->def->name, l->in_ch, before(first, "is"), flow_text(s, a, sizeof a));
        note_source(c, s);
        return -1;
    }
    if (weights_fit(c, m, (int64_t)l->in_ch * l->out_ch)) return -1;
    Shape in = *s;
    s->d[0] = l->out_ch;
    return changed(c, m, &in, s);
}

/* ---- the table ---- */

static const LayerDef layer_defs[] = {
    { "Conv2d",     L_CONV2D,    "Conv2d",    conv2d_params,     1, build_conv2d,     infer_window },
    { "ReLU",       L_RELU,      "ReLU",      relu_params,      -1, build_relu,       infer_same },
    { "MaxPool2d",  L_MAXPOOL2D, "MaxPool2d", maxpool2d_params, -1, build_maxpool2d,  infer_window },
    { "Dropout",    L_DROPOUT,   "Dropout",   dropout_params,   -1, build_dropout,    infer_same },
    { "Flatten",    L_FLATTEN,   "Flatten",   flatten_params,   -1, build_flatten,    infer_flatten },
    { "Linear",     L_LINEAR,    "Linear",    linear_params,     1, build_linear,     infer_linear },
    { "LazyLinear", L_LINEAR,    "Linear",    lazylinear_params, 0, build_lazylinear, infer_linear },
};

static Val *module_val(Ctx *c, const AstNode *call, Module *m, const char *name)
{
    Val *v = val_new(c, VAL_OBJ, call);
    v->obj_kind = OBJ_MODULE;
    v->what = arena_printf(&c->arena, "a %s layer", name);
    v->obj = m;
    return v;
}

static Val *sequential(Ctx *c, const AstNode *call)
{
    Module *m = arena_alloc(&c->arena, sizeof *m);
    m->call = call;
    m->nkids = call->nkids;
    m->kids = arena_alloc(&c->arena, (size_t)(call->nkids ? call->nkids : 1) * sizeof *m->kids);
    for (int i = 0; i < call->nkids; i++) {
        const AstNode *arg = call->kids[i];
        if (arg->kind == A_KWARG)
            return diag_error(c->diag, arg->name_loc, "Sequential takes its layers as positional "
                              "arguments"), NULL;
        Val *v = eval(c, arg);
        if (!v) return NULL;
        if (v->kind != VAL_OBJ || v->obj_kind != OBJ_MODULE)
            return diag_error(c->diag, arg->loc, "Sequential takes layers, got %s",
                              val_what(v)), NULL;
        m->kids[i] = v->obj;
    }
    return module_val(c, call, m, "Sequential");
}

Val *layer_call(Ctx *c, const AstNode *call, const char *name)
{
    if (!strcmp(name, "Sequential")) return sequential(c, call);
    const LayerDef *def = NULL;
    for (size_t i = 0; i < sizeof layer_defs / sizeof layer_defs[0]; i++)
        if (!strcmp(layer_defs[i].name, name)) def = &layer_defs[i];
    if (!def) return diag_error(c->diag, call->name_loc, "unknown layer %s", name), NULL;
    Module *m = arena_alloc(&c->arena, sizeof *m);
    m->def = def;
    m->call = call;
    m->layer.kind = def->kind;
    m->layer.type_name = def->type_name;
    if (bind_args(c, call, def->name, def->params, &m->args) || def->build(c, m)) return NULL;
    return module_val(c, call, m, def->name);
}

/* ---- the model block ---- */

typedef struct Attr {
    const char    *name;
    Module        *mod;
    const AstNode *def;
} Attr;

/* Appends m's layers to p in forward order, with their state_dict keys. */
static int flatten_module(Ctx *c, Program *p, Module *m, const char *key, const AstNode *attr)
{
    if (!m->def) {
        for (int i = 0; i < m->nkids; i++) {
            char k[256];
            snprintf(k, sizeof k, "%s.%d", key, i);
            if (flatten_module(c, p, m->kids[i], k, attr)) return -1;
        }
        return 0;
    }
    ModelState *ms = c->model;
    if (strlen(key) >= sizeof p->layers[0].key)
        return diag_error(c->diag, attr->name_loc, "the state_dict key %s is too long (at most "
                          "%zu characters)", key, sizeof p->layers[0].key - 1);
    if (p->nlayers == ms->cap) {
        ms->cap = ms->cap ? 2 * ms->cap : 16;
        p->layers = xrealloc(p->layers, (size_t)ms->cap * sizeof *p->layers);
        Module **mods = arena_alloc(&c->arena, (size_t)ms->cap * sizeof *mods);
        if (ms->n) memcpy(mods, ms->mods, (size_t)ms->n * sizeof *mods);
        ms->mods = mods;
    }
    Layer *l = &p->layers[p->nlayers];
    *l = m->layer;
    snprintf(l->key, sizeof l->key, "%s", key);
    l->loc = m->call->loc;
    ms->mods[p->nlayers++] = m;
    ms->n = p->nlayers;
    return 0;
}

static int check_input(Ctx *c, const AstNode *stmt, Program *p)
{
    Val *v = eval(c, stmt->kids[0]);
    if (!v) return -1;
    if ((v->kind != VAL_LIST && v->kind != VAL_TUPLE) || v->n != 3) {
        if (v->kind == VAL_LIST || v->kind == VAL_TUPLE)
            return diag_error(c->diag, v->at->loc, "input must be [channels, height, width], got "
                              "%s of %d", val_what(v), v->n);
        return diag_error(c->diag, v->at->loc, "input must be [channels, height, width], got %s",
                          val_what(v));
    }
    static const char *const what[3] = { "channels", "height", "width" };
    for (int i = 0; i < 3; i++) {
        const Val *d = v->items[i];
        if (d->kind != VAL_INT)
            return diag_error(c->diag, d->at->loc, "the input's %s must be an integer, got %s",
                              what[i], val_what(d));
        if (i == 0 && d->i != 1 && d->i != 3)
            return diag_error(c->diag, d->at->loc, "the input's channels must be 1 (grayscale) "
                              "or 3 (RGB), got %lld", (long long)d->i);
        if (d->i < 1 || d->i > MAX_SIDE)
            return diag_error(c->diag, d->at->loc, "the input's %s must be between 1 and %d, "
                              "got %lld", what[i], MAX_SIDE, (long long)d->i);
        p->in_shape[i] = (int)d->i;
    }
    if ((int64_t)p->in_shape[0] * p->in_shape[1] * p->in_shape[2] > MAX_VALUES)
        return diag_error(c->diag, v->at->loc, "the input has more than %lld values per sample",
                          MAX_VALUES);
    return 0;
}

/* Evaluates the block's statements: input, attributes (layers) and constants. */
static int model_body(Ctx *c, const AstNode *model, Program *p, Attr **attrs, int *nattrs)
{
    ModelState *ms = c->model;
    for (int k = 0; k < model->nkids; k++) {
        const AstNode *st = model->kids[k];
        if (st->kind == A_INPUT) {
            if (ms->input) {
                char where[512];
                diag_error(c->diag, st->loc, "the model's input is given twice");
                diag_note(c->diag, "first given at %s",
                          diag_where(c->diag, ms->input->loc, where, sizeof where));
                return -1;
            }
            ms->input = st;
            if (check_input(c, st, p)) return -1;
            continue;
        }
        const char *name = st->str;
        if (!strncmp(name, "self.", 5)) name += 5;      /* pasted from an __init__ */
        if (strchr(name, '.'))
            return diag_error(c->diag, st->name_loc, "cannot assign to %s: a model attribute "
                              "is a plain name", st->str);
        Val *v = eval(c, st->kids[0]);
        if (!v) return -1;
        for (int i = 0; i < *nattrs; i++)
            if (!strcmp((*attrs)[i].name, name)) {
                char where[512];
                diag_error(c->diag, st->name_loc, "the model already has an attribute %s", name);
                diag_note(c->diag, "first assigned at %s",
                          diag_where(c->diag, (*attrs)[i].def->name_loc, where, sizeof where));
                return -1;
            }
        scope_set(c, c->scope, name, v, st);
        if (v->kind == VAL_OBJ && v->obj_kind == OBJ_MODULE) {
            Attr *na = arena_alloc(&c->arena, (size_t)(*nattrs + 1) * sizeof *na);
            if (*nattrs) memcpy(na, *attrs, (size_t)*nattrs * sizeof *na);
            na[*nattrs] = (Attr){ name, v->obj, st };
            *attrs = na;
            (*nattrs)++;
        }
    }
    return 0;
}

int model_check(Ctx *c, const AstNode *model, Program *p)
{
    ModelState *ms = arena_alloc(&c->arena, sizeof *ms);
    c->model = ms;
    if (strlen(model->str) >= sizeof p->model_name)
        return diag_error(c->diag, model->name_loc, "the model's name is too long (at most %zu "
                          "characters)", sizeof p->model_name - 1);
    snprintf(p->model_name, sizeof p->model_name, "%s", model->str);
    p->model_loc = model->loc;
    if (model->name_loc.line == model->loc.line) p->model_loc.end_col = model->name_loc.end_col;

    Scope inner = { NULL, 0, 0, c->scope };
    Attr *attrs = NULL;
    int nattrs = 0;
    c->scope = &inner;
    c->in_model = 1;
    int rc = model_body(c, model, p, &attrs, &nattrs);
    c->scope = inner.parent;
    c->in_model = 0;
    if (rc) return -1;

    if (!ms->input)
        return diag_error(c->diag, p->model_loc, "model %s has no input shape; add `input [3, "
                          "100, 100]` (channels, height, width) to its block", p->model_name);
    for (int i = 0; i < nattrs; i++)
        if (flatten_module(c, p, attrs[i].mod, attrs[i].name, attrs[i].def)) return -1;
    if (p->nlayers == 0)
        return diag_error(c->diag, p->model_loc, "model %s has no layers; add some, e.g. "
                          "`layers = Sequential(Flatten(), Linear(None, 10))`", p->model_name);

    Shape s;
    memset(&s, 0, sizeof s);
    s.ndim = 3;
    memcpy(s.d, p->in_shape, sizeof s.d);
    for (int i = 0; i < p->nlayers; i++) {
        Module *m = ms->mods[i];
        if (m->def->infer(c, m, &s, i == 0)) return -1;
        Layer *l = &p->layers[i];
        l->in_ch = m->layer.in_ch;
        l->out_ndim = s.ndim;
        memcpy(l->out_shape, s.d, sizeof l->out_shape);
        if (s.ndim == 1) l->out_shape[1] = l->out_shape[2] = 0;
        if (l->kind == L_CONV2D || l->kind == L_LINEAR) {
            int w[4] = { l->out_ch, l->in_ch, l->kernel, l->kernel };
            if (given_check(c, m, &m->weight, "weight", l->kind == L_CONV2D ? 4 : 2, w, &l->weight) ||
                given_check(c, m, &m->bias, "bias", 1, &l->out_ch, &l->bias_data)) return -1;
        }
    }
    ms->out_src = s.src;
    return 0;
}

int model_check_classifier(Ctx *c, const Program *p)
{
    const Layer *last = &p->layers[p->nlayers - 1];
    if (last->out_ndim == 1) return 0;
    char a[128];
    diag_error(c->diag, last->loc, "the model ends with a %s output; a classifier ends with "
               "Flatten() and a Linear that gives one score per class",
               shape_text(last->out_shape, 3, a, sizeof a));
    diag_note(c->diag, "a model that ends with a feature map can be checked and applied to an "
              "image (--apply), but not trained on classes");
    return -1;
}

SrcLoc model_input_loc(const Ctx *c)
{
    const ModelState *ms = c->model;
    return ms && ms->input ? ms->input->loc : (SrcLoc){ 0, 0, 0 };
}

SrcLoc model_output_loc(const Ctx *c)
{
    const ModelState *ms = c->model;
    const Module *m = ms ? ms->out_src : NULL;
    if (!m) return ms && ms->n ? ms->mods[ms->n - 1]->call->loc : (SrcLoc){ 0, 0, 0 };
    return m->def->out_arg >= 0 ? arg_loc(&m->args, m->def->out_arg) : m->call->loc;
}
