/* compiler/frontend/layers.c: the torch.nn layers cnnc knows, one row each (arguments as PyTorch
 * takes them, and the shape rule), the model block with its state_dict keys, and shape
 * inference with messages that say where a shape came from. */
#include "layers.h"

#include <math.h>

#include <stdio.h>
#include <string.h>

#include "../../runtime/error.h"
#include "../../runtime/ops.h"
#include "module.h"

/* ---- messages ---- */

const char *shape_text(const int *d, int ndim, char *buf, size_t n)
{
    if (ndim == 3) snprintf(buf, n, "%d x %d x %d", d[0], d[1], d[2]);
    else snprintf(buf, n, "%d", d[0]);
    return buf;
}

/* "32 x 25 x 25 = 20000" for a flattened shape, else the shape. */
const char *flow_text(const Shape *s, char *buf, size_t n)
{
    char a[48];
    if (s->ndim == 1 && s->flattened)
        snprintf(buf, n, "%s = %d", shape_text(s->flat_from, 3, a, sizeof a), s->d[0]);
    else
        shape_text(s->d, s->ndim, buf, n);
    return buf;
}

/* What m is called in messages: "Conv2d", "torch.cat", "BasicBlock" */
static const char *module_name(const Module *m)
{
    if (m->def) return m->def->name;
    return m->call->str;
}

/* "MaxPool2d(2)": the layer as written when its call fits on one line. */
static const char *layer_text(const Ctx *c, const Module *m, char *buf, size_t n)
{
    const AstNode *call = m->call;
    char args[128];
    if (call->last_line == call->loc.line &&
        diag_text(c->diag, call->loc.line, call->name_loc.end_col, call->loc.end_col, args,
                  sizeof args) == 0)
        snprintf(buf, n, "%s%s", module_name(m), args);
    else
        snprintf(buf, n, "%s(...)", module_name(m));
    return buf;
}

void note_source_as(Ctx *c, const Shape *s, const char *what)
{
    char where[512], text[192], shape[128];
    const ModelState *ms = c->model;
    if (!s->src) {
        diag_note(c->diag, "%s comes from the model's input at %s (%s)", what,
                  diag_where(c->diag, ms->input->loc, where, sizeof where),
                  shape_text(s->ndim == 3 || !s->flattened ? s->d : s->flat_from,
                             s->ndim == 3 || !s->flattened ? s->ndim : 3, shape, sizeof shape));
        return;
    }
    diag_note(c->diag, "%s comes from %s at %s (%s)", what, layer_text(c, s->src, text, sizeof text),
              diag_where(c->diag, s->src->call->loc, where, sizeof where), s->change);
}

void note_source(Ctx *c, const Shape *s)
{
    note_source_as(c, s, "the shape");
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
int shape_changed(Ctx *c, const Module *m, const Shape *in, Shape *s)
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

/* The index of parameter `name` in m's bound arguments (the rows' tables differ in order:
 * F.max_pool2d puts ceil_mode before return_indices). */
static int ai(const Module *m, const char *name)
{
    for (int i = 0; i < m->args.np; i++)
        if (!strcmp(m->args.params[i].name, name)) return i;
    return -1;
}

/* An int or a pair of ints (height, width), each at least lo. */
static int pair_in(Ctx *c, Module *m, int i, int64_t dflt, int64_t lo, int out[2])
{
    const Val *v = m->args.v[i];
    if (v && (v->kind == VAL_TUPLE || v->kind == VAL_LIST)) {
        if (v->n != 2)
            return diag_error(c->diag, v->at->loc, "%s must be an integer or a pair of integers, "
                              "got %s of %d", m->args.params[i].name, val_what(v), v->n);
        for (int k = 0; k < 2; k++) {
            const Val *x = v->items[k];
            if (x->kind != VAL_INT)
                return diag_error(c->diag, x->at->loc, "%s must be an integer or a pair of "
                                  "integers, got %s holding %s", m->args.params[i].name,
                                  val_what(v), val_what(x));
            if (x->i < lo || x->i > MAX_SIZE)
                return diag_error(c->diag, x->at->loc, "%s must be %s %lld, got %lld",
                                  m->args.params[i].name, x->i < lo ? "at least" : "at most",
                                  (long long)(x->i < lo ? lo : MAX_SIZE), (long long)x->i);
            out[k] = (int)x->i;
        }
        return 0;
    }
    int64_t x;
    if (v && v->kind != VAL_INT)
        return diag_error(c->diag, v->at->loc, "%s must be an integer or a pair of integers, got "
                          "%s", m->args.params[i].name, val_what(v));
    if (arg_int(c, &m->args, i, dflt, &x) || arg_range(c, &m->args, i, x, lo, MAX_SIZE)) return -1;
    out[0] = out[1] = (int)x;
    return 0;
}

/* Layer's scalar kernel/stride/padding: the height's values (the width's when square). */
static void window_scalars(Layer *l)
{
    l->kernel = l->kernel_hw[0];
    l->stride = l->stride_hw[0];
    l->padding = l->padding_hw[0];
}

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
    const char *mode;
    if (in_size(c, m, 0, &l->in_ch) || int_in(c, m, 1, 0, 1, &l->out_ch) ||
        pair_in(c, m, 2, 0, 1, l->kernel_hw) || pair_in(c, m, 3, 1, 1, l->stride_hw) ||
        pair_in(c, m, 5, 1, 1, l->dilation)) return -1;
    if (a->v[4] && a->v[4]->kind == VAL_STR) {          /* padding='same' / 'valid' */
        if (!strcmp(a->v[4]->s, "valid")) {
            l->padding_hw[0] = l->padding_hw[1] = 0;
        } else if (!strcmp(a->v[4]->s, "same")) {
            if (l->stride_hw[0] != 1 || l->stride_hw[1] != 1)
                return diag_error(c->diag, arg_loc(a, 4), "padding='same' is not supported for "
                                  "strided convolutions");
            for (int k = 0; k < 2; k++) {
                int span = l->dilation[k] * (l->kernel_hw[k] - 1);
                if (span % 2)
                    return diag_error(c->diag, arg_loc(a, 4), "padding='same' with an even "
                                      "kernel_size pads unevenly, which cnnc does not support");
                l->padding_hw[k] = span / 2;
            }
        } else {
            return diag_error(c->diag, arg_loc(a, 4), "padding must be an integer, 'same' or "
                              "'valid', got '%s'", a->v[4]->s);
        }
    } else if (pair_in(c, m, 4, 0, 0, l->padding_hw)) {
        return -1;
    }
    window_scalars(l);
    if (int_in(c, m, 6, 1, 1, &l->groups) || given_params(c, m, 9, 7, 10) ||
        arg_str(c, a, 8, "zeros", &mode)) return -1;
    if (!m->infer_in && l->in_ch % l->groups)
        return diag_error(c->diag, arg_loc(a, 6), "in_channels (%d) must be divisible by groups "
                          "(%d)", l->in_ch, l->groups);
    if (l->out_ch % l->groups)
        return diag_error(c->diag, arg_loc(a, 6), "out_channels (%d) must be divisible by groups "
                          "(%d)", l->out_ch, l->groups);
    if (!strcmp(mode, "reflect")) l->reflect = 1;
    else if (strcmp(mode, "zeros"))
        return diag_error(c->diag, arg_loc(a, 8), "padding_mode='%s' is not supported; cnnc "
                          "pads with 'zeros' or 'reflect'", mode);
    return 0;
}

/* The output size of a window over n: PyTorch's rule, with ceil_mode's last window kept
 * only when it starts inside the input or its left padding. */
static int window_out(int n, int k, int s, int p, int d, int ceil)
{
    int64_t span = (int64_t)n + 2 * p - (int64_t)d * (k - 1) - 1;
    if (span < 0) return 0;
    int64_t o = (ceil ? (span + s - 1) / s : span / s) + 1;
    if (ceil && (o - 1) * s >= (int64_t)n + p) o--;
    return (int)o;
}

/* Conv2d, MaxPool2d and AvgPool2d: a kh x kw window, stride, padding, dilation over each
 * channel. */
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
            m->infer_in = 0;            /* a second application must match the first */
            if (l->in_ch % l->groups)
                return diag_error(c->diag, arg_loc(&m->args, 6), "in_channels (%d, inferred) "
                                  "must be divisible by groups (%d)", l->in_ch, l->groups);
        } else if (l->in_ch != s->d[0]) {
            diag_error(c->diag, arg_loc(&m->args, 0), "%s expects %d input channel%s, but %s "
                       "%d channel%s (%s)", m->def->name, l->in_ch, l->in_ch == 1 ? "" : "s",
                       before(first, "has"), s->d[0], s->d[0] == 1 ? "" : "s",
                       shape_text(s->d, 3, a, sizeof a));
            note_source(c, s);
            return -1;
        }
        if (l->reflect && (l->padding_hw[0] >= s->d[1] || l->padding_hw[1] >= s->d[2]))
            return diag_error(c->diag, arg_loc(&m->args, 4), "padding_mode='reflect' needs "
                              "padding smaller than the input (%s)", shape_text(s->d, 3, a, sizeof a));
    }
    int ki = l->kind == L_CONV2D ? 2 : 0;
    int hw[2];
    for (int k = 0; k < 2; k++)
        hw[k] = window_out(s->d[1 + k], l->kernel_hw[k], l->stride_hw[k], l->padding_hw[k],
                           l->dilation[k], l->ceil_mode);
    if (hw[0] < 1 || hw[1] < 1) {
        char kt[32];
        if (l->kernel_hw[0] == l->kernel_hw[1]) snprintf(kt, sizeof kt, "%d", l->kernel_hw[0]);
        else snprintf(kt, sizeof kt, "(%d, %d)", l->kernel_hw[0], l->kernel_hw[1]);
        if (l->padding_hw[0] || l->padding_hw[1])
            diag_error(c->diag, arg_loc(&m->args, ki), "%s's kernel_size %s is larger than its "
                       "%s input padded to %d x %d", m->def->name, kt,
                       shape_text(s->d, 3, a, sizeof a), s->d[1] + 2 * l->padding_hw[0],
                       s->d[2] + 2 * l->padding_hw[1]);
        else
            diag_error(c->diag, arg_loc(&m->args, ki), "%s's kernel_size %s is larger than its "
                       "%s input", m->def->name, kt, shape_text(s->d, 3, a, sizeof a));
        note_source(c, s);
        return -1;
    }
    Shape in = *s;
    s->d[0] = l->kind == L_CONV2D ? l->out_ch : s->d[0];
    s->d[1] = hw[0];
    s->d[2] = hw[1];
    if (l->kind == L_CONV2D &&
        weights_fit(c, m, mul_sat(mul_sat((int64_t)l->out_ch * (l->in_ch / l->groups),
                                          l->kernel_hw[0]), l->kernel_hw[1])))
        return -1;
    return shape_changed(c, m, &in, s);
}

/* ---- MaxPool2d, AvgPool2d, and their functional forms ---- */

static const Param maxpool2d_params[] = {
    { "kernel_size", 1 }, { "stride", 0 }, { "padding", 0 }, { "dilation", 0 },
    { "return_indices", 0 }, { "ceil_mode", 0 }, { NULL, 0 }
};
static const Param f_maxpool2d_params[] = {
    { "kernel_size", 1 }, { "stride", 0 }, { "padding", 0 }, { "dilation", 0 },
    { "ceil_mode", 0 }, { "return_indices", 0 }, { NULL, 0 }
};
static const Param avgpool2d_params[] = {
    { "kernel_size", 1 }, { "stride", 0 }, { "padding", 0 }, { "ceil_mode", 0 },
    { "count_include_pad", 0 }, { "divisor_override", 0 }, { NULL, 0 }
};

/* kernel_size, stride (None or absent: kernel_size), padding (at most half the kernel). */
static int pool_window(Ctx *c, Module *m)
{
    Layer *l = &m->layer;
    Args *a = &m->args;
    if (pair_in(c, m, 0, 0, 1, l->kernel_hw)) return -1;
    if (!a->v[1] || a->v[1]->kind == VAL_NONE ||
        ((a->v[1]->kind == VAL_LIST || a->v[1]->kind == VAL_TUPLE) && a->v[1]->n == 0))
        memcpy(l->stride_hw, l->kernel_hw, sizeof l->stride_hw);
    else if (pair_in(c, m, 1, 1, 1, l->stride_hw)) return -1;
    if (pair_in(c, m, 2, 0, 0, l->padding_hw)) return -1;
    for (int k = 0; k < 2; k++)
        if (l->padding_hw[k] > l->kernel_hw[k] / 2)
            return diag_error(c->diag, arg_loc(a, 2), "padding must be at most half of "
                              "kernel_size (%d for kernel_size %d), got %d", l->kernel_hw[k] / 2,
                              l->kernel_hw[k], l->padding_hw[k]);
    l->dilation[0] = l->dilation[1] = 1;
    window_scalars(l);
    return arg_bool(c, a, ai(m, "ceil_mode"), 0, &l->ceil_mode);
}

static int build_maxpool2d(Ctx *c, Module *m)
{
    int ret;
    if (pool_window(c, m) || pair_in(c, m, 3, 1, 1, m->layer.dilation)) return -1;
    int ri = ai(m, "return_indices");
    return arg_bool(c, &m->args, ri, 0, &ret) || only_default(c, m, ri, !ret, "return_indices=True");
}

static int build_avgpool2d(Ctx *c, Module *m)
{
    Args *a = &m->args;
    if (pool_window(c, m) || arg_bool(c, a, 4, 1, &m->layer.count_include_pad)) return -1;
    return only_default(c, m, 5, !a->v[5] || a->v[5]->kind == VAL_NONE, "divisor_override");
}

/* ---- AdaptiveAvgPool2d, AdaptiveMaxPool2d ---- */

static const Param adaptive_params[] = { { "output_size", 1 }, { NULL, 0 } };
static const Param adaptivemax_params[] = { { "output_size", 1 }, { "return_indices", 0 }, { NULL, 0 } };

/* output_size: an int or a pair; None in the pair keeps that side (set at inference: 0). */
static int build_adaptive(Ctx *c, Module *m)
{
    Layer *l = &m->layer;
    const Val *v = m->args.v[0];
    if ((v->kind == VAL_TUPLE || v->kind == VAL_LIST) && v->n == 2) {
        for (int k = 0; k < 2; k++) {
            const Val *x = v->items[k];
            if (x->kind == VAL_NONE) { l->out_hw[k] = 0; continue; }
            if (x->kind != VAL_INT || x->i < 1 || x->i > MAX_SIZE)
                return diag_error(c->diag, x->at->loc, "output_size must be positive integers "
                                  "(or None), got %s", val_what(x));
            l->out_hw[k] = (int)x->i;
        }
    } else if (pair_in(c, m, 0, 0, 1, l->out_hw)) {
        return -1;
    }
    int ri = ai(m, "return_indices"), ret = 0;
    if (ri >= 0 && (arg_bool(c, &m->args, ri, 0, &ret) ||
                    only_default(c, m, ri, !ret, "return_indices=True"))) return -1;
    return 0;
}

static int infer_adaptive(Ctx *c, Module *m, Shape *s, int first)
{
    Layer *l = &m->layer;
    char a[128];
    if (s->ndim != 3) {
        diag_error(c->diag, m->call->loc, "%s needs a channels x height x width input, but %s "
                   "%s features", m->def->name, before(first, "is"), flow_text(s, a, sizeof a));
        note_source(c, s);
        return -1;
    }
    Shape in = *s;
    for (int k = 0; k < 2; k++)
        if (l->out_hw[k]) s->d[1 + k] = l->out_hw[k];
    return shape_changed(c, m, &in, s);
}

/* ---- BatchNorm2d, BatchNorm1d ---- */

static const Param batchnorm_params[] = {
    { "num_features", 1 }, { "eps", 0 }, { "momentum", 0 }, { "affine", 0 },
    { "track_running_stats", 0 }, { NULL, 0 }
};

static int build_batchnorm(Ctx *c, Module *m)
{
    Layer *l = &m->layer;
    Args *a = &m->args;
    char buf[32];
    if (int_in(c, m, 0, 0, 1, &l->in_ch) || arg_float(c, a, 1, 1e-5, &l->eps)) return -1;
    l->out_ch = l->in_ch;
    if (!(l->eps > 0))
        return diag_error(c->diag, arg_loc(a, 1), "eps must be positive, got %s",
                          fmt_num(buf, sizeof buf, l->eps));
    if (a->v[2] && a->v[2]->kind == VAL_NONE) {
        l->momentum_none = 1;
    } else {
        if (arg_float(c, a, 2, 0.1, &l->momentum)) return -1;
        if (!(l->momentum >= 0 && l->momentum <= 1))
            return diag_error(c->diag, arg_loc(a, 2), "momentum must be between 0 and 1 (or "
                              "None), got %s", fmt_num(buf, sizeof buf, l->momentum));
    }
    if (arg_bool(c, a, 3, 1, &l->affine) || arg_bool(c, a, 4, 1, &l->track_running_stats))
        return -1;
    return 0;
}

static int infer_batchnorm(Ctx *c, Module *m, Shape *s, int first)
{
    Layer *l = &m->layer;
    char a[128];
    int want = l->kind == L_BATCHNORM2D ? 3 : 1;
    if (s->ndim != want) {
        diag_error(c->diag, m->call->loc, "%s needs %s input, but %s %s%s", m->def->name,
                   want == 3 ? "a channels x height x width" : "a flat (features)",
                   before(first, "is"), flow_text(s, a, sizeof a),
                   want == 3 ? "; use BatchNorm1d after Flatten" : "; use BatchNorm2d before Flatten");
        note_source(c, s);
        return -1;
    }
    if (l->in_ch != s->d[0]) {
        diag_error(c->diag, arg_loc(&m->args, 0), "%s expects %d %s, but %s %s", m->def->name,
                   l->in_ch, want == 3 ? "channels" : "features", before(first, "has"),
                   flow_text(s, a, sizeof a));
        note_source(c, s);
        return -1;
    }
    return 0;
}

/* ---- activations, Softmax, LogSoftmax, Identity, Dropout, Dropout2d, Flatten ---- */

static const Param relu_params[] = { { "inplace", 0 }, { NULL, 0 } };
static const Param none_params[] = { { NULL, 0 } };
static const Param leaky_params[] = { { "negative_slope", 0 }, { "inplace", 0 }, { NULL, 0 } };
static const Param elu_params[] = { { "alpha", 0 }, { "inplace", 0 }, { NULL, 0 } };
static const Param gelu_params[] = { { "approximate", 0 }, { NULL, 0 } };
static const Param softmax_params[] = { { "dim", 0 }, { NULL, 0 } };
static const Param identity_params[] = { { NULL, 0 } };
static const Param dropout_params[] = { { "p", 0 }, { "inplace", 0 }, { NULL, 0 } };
static const Param f_dropout_params[] = { { "p", 0 }, { "training", 0 }, { "inplace", 0 }, { NULL, 0 } };
static const Param flatten_params[] = { { "start_dim", 0 }, { "end_dim", 0 }, { NULL, 0 } };

static int build_relu(Ctx *c, Module *m)
{
    int inplace, i = ai(m, "inplace");
    return i < 0 ? 0 : arg_bool(c, &m->args, i, 0, &inplace);
}

static int build_leaky(Ctx *c, Module *m)
{
    int inplace;
    double dflt = m->layer.kind == L_ELU ? 1.0 : 0.01;
    return arg_float(c, &m->args, 0, dflt, &m->layer.alpha) ||
           arg_bool(c, &m->args, 1, 0, &inplace) ? -1 : 0;
}

static int build_gelu(Ctx *c, Module *m)
{
    const char *ap;
    if (arg_str(c, &m->args, 0, "none", &ap)) return -1;
    if (!strcmp(ap, "tanh")) m->layer.approximate_tanh = 1;
    else if (strcmp(ap, "none"))
        return diag_error(c->diag, arg_loc(&m->args, 0), "approximate must be 'none' or 'tanh', "
                          "got '%s'", ap);
    return 0;
}

static int build_softmax(Ctx *c, Module *m)
{
    const Val *v = m->args.v[0];
    if (!v || v->kind == VAL_NONE)
        return diag_error(c->diag, m->call->loc, "%s needs dim=1 (PyTorch's implicit dim is "
                          "deprecated)", m->def->name);
    int64_t dim;
    if (arg_int(c, &m->args, 0, 1, &dim)) return -1;
    if (dim != 1 && dim != -1)
        return diag_error(c->diag, arg_loc(&m->args, 0), "%s over dim %lld is not supported; "
                          "cnnc takes it over the classes, dim=1", m->def->name, (long long)dim);
    return 0;
}

static int build_none(Ctx *c, Module *m)
{
    (void)c; (void)m;
    return 0;
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
    int ti = ai(m, "training");
    if (ti >= 0) {          /* F.dropout: training must follow the model's mode */
        const Val *t = m->args.v[ti];
        int follows = t && t->kind == VAL_OBJ && t->obj_kind == OBJ_TRAINING;
        if (t && (t->kind == VAL_BOOL || t->kind == VAL_INT) && !t->i) m->layer.p = 0;
        else if (!follows)
            return diag_error(c->diag, t ? t->at->loc : m->call->loc, "F.dropout drops in "
                              "evaluation too unless told otherwise; pass "
                              "training=self.training");
    }
    return arg_bool(c, &m->args, ai(m, "inplace"), 0, &inplace);
}

static int build_flatten(Ctx *c, Module *m)
{
    int64_t start, end;
    int torch_form = m->args.params == flatten_params ? 0 : 1;
    if (arg_int(c, &m->args, 0, torch_form ? 0 : 1, &start)) return -1;
    if (torch_form && start == 0)
        return diag_error(c->diag, arg_loc(&m->args, 0), "torch.flatten(x) flattens the batch "
                          "too; write torch.flatten(x, 1)");
    if (only_default(c, m, 0, start == 1, "Flatten with start_dim other than 1") ||
        arg_int(c, &m->args, 1, -1, &end) ||
        only_default(c, m, 1, end == -1, "Flatten with end_dim other than -1")) return -1;
    return 0;
}

static int infer_same(Ctx *c, Module *m, Shape *s, int first)
{
    (void)c; (void)m; (void)s; (void)first;
    return 0;
}

/* Dropout2d: whole channels, so a channels x height x width input. */
static int infer_window_free(Ctx *c, Module *m, Shape *s, int first)
{
    char a[128];
    if (s->ndim == 3) return 0;
    diag_error(c->diag, m->call->loc, "%s zeroes whole channels and needs a channels x height x "
               "width input, but %s %s", m->def->name, before(first, "is"), flow_text(s, a, sizeof a));
    note_source(c, s);
    return -1;
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
    return shape_changed(c, m, &in, s);
}

static int infer_scores(Ctx *c, Module *m, Shape *s, int first)
{
    char a[128];
    if (s->ndim == 1) return 0;
    diag_error(c->diag, m->call->loc, "%s takes the scores of a classifier (after Flatten and "
               "Linear), but %s %s", m->def->name, before(first, "is"), flow_text(s, a, sizeof a));
    note_source(c, s);
    return -1;
}

/* ---- the table ---- */

static const Param torch_flatten_params[] = { { "start_dim", 0 }, { "end_dim", 0 }, { NULL, 0 } };
static const Param f_leaky_params[] = { { "negative_slope", 0 }, { "inplace", 0 }, { NULL, 0 } };
static const Param f_elu_params[] = { { "alpha", 0 }, { "inplace", 0 }, { NULL, 0 } };

#define ROW(name, kind, type, params, out, build, infer) \
    { name, kind, type, params, out, build, infer }
static const LayerDef layer_defs[] = {
    ROW("Conv2d",      L_CONV2D,    "Conv2d",    conv2d_params,     1, build_conv2d,     infer_window),
    ROW("ReLU",        L_RELU,      "ReLU",      relu_params,      -1, build_relu,       infer_same),
    ROW("MaxPool2d",   L_MAXPOOL2D, "MaxPool2d", maxpool2d_params, -1, build_maxpool2d,  infer_window),
    ROW("Dropout",     L_DROPOUT,   "Dropout",   dropout_params,   -1, build_dropout,    infer_same),
    ROW("Flatten",     L_FLATTEN,   "Flatten",   flatten_params,   -1, build_flatten,    infer_flatten),
    ROW("Linear",      L_LINEAR,    "Linear",    linear_params,     1, build_linear,     infer_linear),
    ROW("LazyLinear",  L_LINEAR,    "Linear",    lazylinear_params, 0, build_lazylinear, infer_linear),
    ROW("BatchNorm2d", L_BATCHNORM2D, "BatchNorm2d", batchnorm_params, -1, build_batchnorm, infer_batchnorm),
    ROW("BatchNorm1d", L_BATCHNORM1D, "BatchNorm1d", batchnorm_params, -1, build_batchnorm, infer_batchnorm),
    ROW("AvgPool2d",   L_AVGPOOL2D, "AvgPool2d", avgpool2d_params, -1, build_avgpool2d,  infer_window),
    ROW("AdaptiveAvgPool2d", L_ADAPTIVE_AVGPOOL2D, "AdaptiveAvgPool2d", adaptive_params, -1,
        build_adaptive, infer_adaptive),
    ROW("AdaptiveMaxPool2d", L_ADAPTIVE_MAXPOOL2D, "AdaptiveMaxPool2d", adaptivemax_params, -1,
        build_adaptive, infer_adaptive),
    ROW("LeakyReLU",   L_LEAKY_RELU, "LeakyReLU", leaky_params,    -1, build_leaky,      infer_same),
    ROW("ELU",         L_ELU,       "ELU",       elu_params,       -1, build_leaky,      infer_same),
    ROW("GELU",        L_GELU,      "GELU",      gelu_params,      -1, build_gelu,       infer_same),
    ROW("SiLU",        L_SILU,      "SiLU",      relu_params,      -1, build_relu,       infer_same),
    ROW("Sigmoid",     L_SIGMOID,   "Sigmoid",   none_params,      -1, build_none,       infer_same),
    ROW("Tanh",        L_TANH,      "Tanh",      none_params,      -1, build_none,       infer_same),
    ROW("ReLU6",       L_RELU6,     "ReLU6",     relu_params,      -1, build_relu,       infer_same),
    ROW("Hardswish",   L_HARDSWISH, "Hardswish", relu_params,      -1, build_relu,       infer_same),
    ROW("Hardsigmoid", L_HARDSIGMOID, "Hardsigmoid", relu_params,  -1, build_relu,       infer_same),
    ROW("Softmax",     L_SOFTMAX,   "Softmax",   softmax_params,   -1, build_softmax,    infer_scores),
    ROW("LogSoftmax",  L_LOG_SOFTMAX, "LogSoftmax", softmax_params, -1, build_softmax,   infer_scores),
    ROW("Identity",    L_IDENTITY,  "Identity",  identity_params,  -1, build_none,       infer_same),
    ROW("Dropout2d",   L_DROPOUT2D, "Dropout2d", dropout_params,   -1, build_dropout,    infer_window_free),
    /* functional forms, as a forward block calls them on a tensor (its first argument) */
    ROW("F.relu",      L_RELU,      "F.relu",    relu_params,      -1, build_relu,       infer_same),
    ROW("torch.relu",  L_RELU,      "torch.relu", none_params,     -1, build_none,       infer_same),
    ROW("torch.sigmoid", L_SIGMOID, "torch.sigmoid", none_params,  -1, build_none,       infer_same),
    ROW("F.sigmoid",   L_SIGMOID,   "F.sigmoid", none_params,      -1, build_none,       infer_same),
    ROW("torch.tanh",  L_TANH,      "torch.tanh", none_params,     -1, build_none,       infer_same),
    ROW("F.tanh",      L_TANH,      "F.tanh",    none_params,      -1, build_none,       infer_same),
    ROW("F.silu",      L_SILU,      "F.silu",    relu_params,      -1, build_relu,       infer_same),
    ROW("F.relu6",     L_RELU6,     "F.relu6",   relu_params,      -1, build_relu,       infer_same),
    ROW("F.hardswish", L_HARDSWISH, "F.hardswish", relu_params,    -1, build_relu,       infer_same),
    ROW("F.hardsigmoid", L_HARDSIGMOID, "F.hardsigmoid", relu_params, -1, build_relu,    infer_same),
    ROW("F.leaky_relu", L_LEAKY_RELU, "F.leaky_relu", f_leaky_params, -1, build_leaky,   infer_same),
    ROW("F.elu",       L_ELU,       "F.elu",     f_elu_params,     -1, build_leaky,      infer_same),
    ROW("F.gelu",      L_GELU,      "F.gelu",    gelu_params,      -1, build_gelu,       infer_same),
    ROW("F.max_pool2d", L_MAXPOOL2D, "F.max_pool2d", f_maxpool2d_params, -1, build_maxpool2d, infer_window),
    ROW("F.avg_pool2d", L_AVGPOOL2D, "F.avg_pool2d", avgpool2d_params, -1, build_avgpool2d, infer_window),
    ROW("F.adaptive_avg_pool2d", L_ADAPTIVE_AVGPOOL2D, "F.adaptive_avg_pool2d", adaptive_params, -1,
        build_adaptive, infer_adaptive),
    ROW("F.adaptive_max_pool2d", L_ADAPTIVE_MAXPOOL2D, "F.adaptive_max_pool2d", adaptivemax_params,
        -1, build_adaptive, infer_adaptive),
    ROW("torch.flatten", L_FLATTEN, "torch.flatten", torch_flatten_params, -1, build_flatten,
        infer_flatten),
    ROW("F.dropout",   L_DROPOUT,   "F.dropout", f_dropout_params, -1, build_dropout,    infer_same),
};
#undef ROW
#define NDEFS (sizeof layer_defs / sizeof layer_defs[0])

const LayerDef *layer_def(const char *name)
{
    static const char *const fprefix[] = { "torch.nn.functional.", "nn.functional.", "F." };
    char buf[128];
    for (size_t k = 0; k < sizeof fprefix / sizeof fprefix[0]; k++) {
        size_t n = strlen(fprefix[k]);
        if (!strncmp(name, fprefix[k], n)) {
            snprintf(buf, sizeof buf, "F.%s", name + n);
            name = buf;
            break;
        }
    }
    for (size_t i = 0; i < NDEFS; i++)
        if (!strcmp(layer_defs[i].name, name)) return &layer_defs[i];
    return NULL;
}

int layer_finish(Ctx *c, Module *m, Layer *out)
{
    Layer *l = &m->layer;
    if (l->kind == L_CONV2D || l->kind == L_LINEAR) {
        int w[4] = { l->out_ch, l->kind == L_CONV2D ? l->in_ch / l->groups : l->in_ch,
                     l->kernel_hw[0], l->kernel_hw[1] };
        if (given_check(c, m, &m->weight, "weight", l->kind == L_CONV2D ? 4 : 2, w, &out->weight) ||
            given_check(c, m, &m->bias, "bias", 1, &l->out_ch, &out->bias_data)) return -1;
    }
    out->in_ch = l->in_ch;
    return 0;
}

Val *module_val(Ctx *c, const AstNode *call, Module *m, const char *name)
{
    Val *v = val_new(c, VAL_OBJ, call);
    v->obj_kind = OBJ_MODULE;
    v->what = arena_printf(&c->arena, "a %s layer", name);
    v->obj = m;
    return v;
}

/* Sequential(a, b, ...) or Sequential(*layers): its children, any modules. */
static Val *sequential(Ctx *c, const AstNode *call)
{
    Module *m = arena_alloc(&c->arena, sizeof *m);
    m->mk = M_SEQUENTIAL;
    m->index = -1;
    m->call = call;
    int cap = 8;
    m->kids = arena_alloc(&c->arena, (size_t)cap * sizeof *m->kids);
    for (int i = 0; i < call->nkids; i++) {
        const AstNode *arg = call->kids[i];
        if (arg->kind == A_KWARG)
            return diag_error(c->diag, arg->name_loc, "Sequential takes its layers as positional "
                              "arguments"), NULL;
        int star = arg->kind == A_STAR;
        Val *v = eval(c, star ? arg->kids[0] : arg);
        if (!v) return NULL;
        if (star && v->kind != VAL_LIST && v->kind != VAL_TUPLE)
            return diag_error(c->diag, arg->loc, "*%s: a list of layers was expected, got %s",
                              "args", val_what(v)), NULL;
        int n = star ? v->n : 1;
        for (int k = 0; k < n; k++) {
            Val *x = star ? v->items[k] : v;
            if (x->kind != VAL_OBJ || x->obj_kind != OBJ_MODULE)
                return diag_error(c->diag, x->at->loc, "Sequential takes layers, got %s",
                                  val_what(x)), NULL;
            if (m->nkids == cap) {
                Module **nk = arena_alloc(&c->arena, (size_t)(2 * cap) * sizeof *nk);
                memcpy(nk, m->kids, (size_t)cap * sizeof *nk);
                m->kids = nk;
                cap *= 2;
            }
            m->kids[m->nkids++] = x->obj;
        }
    }
    return module_val(c, call, m, "Sequential");
}

Module *layer_build(Ctx *c, const LayerDef *def, const AstNode *call)
{
    Module *m = arena_alloc(&c->arena, sizeof *m);
    m->mk = M_LAYER;
    m->index = -1;
    m->def = def;
    m->call = call;
    m->layer.kind = def->kind;
    m->layer.type_name = def->type_name;
    m->layer.groups = 1;
    m->layer.dilation[0] = m->layer.dilation[1] = 1;
    if (bind_args(c, call, def->name, def->params, &m->args) || def->build(c, m)) return NULL;
    return m;
}

Val *layer_call(Ctx *c, const AstNode *call, const char *name)
{
    if (!strcmp(name, "Sequential")) return sequential(c, call);
    const LayerDef *def = layer_def(name);
    if (!def || !strncmp(def->name, "F.", 2) || !strncmp(def->name, "torch.", 6))
        return diag_error(c->diag, call->name_loc, "unknown layer %s", name), NULL;
    Module *m = layer_build(c, def, call);
    return m ? module_val(c, call, m, def->name) : NULL;
}
