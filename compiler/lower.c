/* compiler/lower.c: a checked Program becomes a graph (see lower.h). */
#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/ops.h"
#include "autodiff.h"
#include "fuse.h"

/* The op named `name` in the op table, or -1 while it does not exist (ops land from
 * other branches: the layer is checked, and lowering it says it is not yet implemented). */
static int op_named(const char *name)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (!strcmp(op_table[i]->name, name)) return i;
    return -1;
}

/* The parameters of each layer, made once (a layer a forward calls twice shares them). */
typedef struct Params {
    int *w, *b;                 /* per Program.layers index: value id, -1 before */
} Params;

static int param(Graph *g, const Layer *L, const char *what, int ndim, const int *shape)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s", L->key, what);
    int v = graph_value(g, name, VK_PARAM, DT_F32, ndim, shape, 0);
    if (L->frozen) {
        g->vals[v].frozen = 1;
        g->vals[v].requires_grad = 0;
    }
    return v;
}

/* The weight and bias of Conv2d / Linear layer i, made on first use. */
static void layer_params(Graph *g, const Program *p, Params *ps, int i)
{
    const Layer *L = &p->layers[i];
    if (ps->w[i] >= 0) return;
    if (L->kind == L_CONV2D) {
        int wshape[4] = { L->out_ch, L->in_ch / (L->groups ? L->groups : 1), L->kernel_hw[0],
                          L->kernel_hw[1] };
        ps->w[i] = param(g, L, "weight", 4, wshape);
    } else if (L->kind == L_LINEAR) {
        int wshape[2] = { L->out_ch, L->in_ch };
        ps->w[i] = param(g, L, "weight", 2, wshape);
    } else {
        return;
    }
    if (L->bias) ps->b[i] = param(g, L, "bias", 1, &L->out_ch);
}

static int not_yet(Error *e, const char *what)
{
    return err_set(e, "%s is not yet implemented in cnnc's runtime (it is checked and its "
                   "shapes inferred, but it cannot run yet)", what);
}

static int square(const int *hw) { return hw[0] == hw[1]; }

/* Adds the nodes of layer i after value x; returns the layer's output value. */
static int lower_layer(Graph *g, const Program *p, Params *ps, int i, int x, Error *e)
{
    const Layer *L = &p->layers[i];
    Attrs a = { 0 };
    int op;
    switch (L->kind) {
    case L_CONV2D: {
        if (L->groups != 1) return not_yet(e, "Conv2d with groups");
        if (L->dilation[0] != 1 || L->dilation[1] != 1) return not_yet(e, "Conv2d with dilation");
        if (!square(L->kernel_hw) || !square(L->stride_hw) || !square(L->padding_hw))
            return not_yet(e, "Conv2d with a non-square kernel, stride or padding");
        if (L->reflect) return not_yet(e, "Conv2d with padding_mode='reflect'");
        layer_params(g, p, ps, i);
        int in[3] = { x, ps->w[i], ps->b[i] };
        a.kernel = L->kernel;
        a.stride = L->stride;
        a.padding = L->padding;
        return graph_apply(g, OP_conv2d, in, L->bias ? 3 : 2, &a, e);
    }
    case L_LINEAR: {
        layer_params(g, p, ps, i);
        int in[3] = { x, ps->w[i], ps->b[i] };
        return graph_apply(g, OP_linear, in, L->bias ? 3 : 2, NULL, e);
    }
    case L_RELU:
        return graph_apply(g, OP_relu, &x, 1, NULL, e);
    case L_MAXPOOL2D:
        if (L->ceil_mode) return not_yet(e, "MaxPool2d with ceil_mode=True");
        if (L->dilation[0] != 1 || L->dilation[1] != 1) return not_yet(e, "MaxPool2d with dilation");
        if (!square(L->kernel_hw) || !square(L->stride_hw) || !square(L->padding_hw))
            return not_yet(e, "MaxPool2d with a non-square window");
        a.kernel = L->kernel;
        a.stride = L->stride;
        a.padding = L->padding;
        return graph_apply(g, OP_maxpool2d, &x, 1, &a, e);
    case L_DROPOUT:
        if (L->p == 0) return x;        /* F.dropout(x, training=False) */
        a.p = L->p;
        return graph_apply(g, OP_dropout, &x, 1, &a, e);
    case L_FLATTEN:
        return graph_apply(g, OP_flatten, &x, 1, NULL, e);
    case L_IDENTITY:
        return x;
    case L_SIGMOID: case L_TANH: case L_SILU: case L_RELU6: case L_HARDSWISH:
    case L_HARDSIGMOID: case L_SOFTMAX: case L_LOG_SOFTMAX: {
        static const struct { LayerKind k; const char *op; } plain[] = {
            { L_SIGMOID, "sigmoid" }, { L_TANH, "tanh" }, { L_SILU, "silu" },
            { L_RELU6, "relu6" }, { L_HARDSWISH, "hardswish" }, { L_HARDSIGMOID, "hardsigmoid" },
            { L_SOFTMAX, "softmax" }, { L_LOG_SOFTMAX, "log_softmax" },
        };
        for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
            if (plain[k].k == L->kind) {
                if ((op = op_named(plain[k].op)) < 0) return not_yet(e, L->type_name);
                return graph_apply(g, op, &x, 1, NULL, e);
            }
        break;
    }
    case L_LEAKY_RELU: case L_ELU: case L_GELU:
    case L_BATCHNORM2D: case L_BATCHNORM1D: case L_AVGPOOL2D:
    case L_ADAPTIVE_AVGPOOL2D: case L_ADAPTIVE_MAXPOOL2D: case L_DROPOUT2D:
        return not_yet(e, L->type_name);
    }
    return err_set(e, "internal: unknown layer kind %d", (int)L->kind);
}

static int lower_optimizer(Graph *g, const Optimizer *opt, Error *e)
{
    Attrs a = { 0 };
    a.lr = opt->lr;
    a.weight_decay = opt->weight_decay;
    a.beta1 = opt->beta1;
    a.beta2 = opt->beta2;
    a.eps = opt->eps;
    a.momentum = opt->momentum;
    a.dampening = opt->dampening;
    a.nesterov = opt->nesterov;
    g->cur_phase = PHASE_UPDATE;
    g->cur_line = opt->loc.line;
    g->cur_col = opt->loc.col;
    snprintf(g->cur_label, sizeof g->cur_label, "optimizer");
    int nv = g->nvals;
    for (int i = 0; i < nv; i++) {
        if (g->vals[i].kind != VK_PARAM || g->vals[i].grad < 0) continue;
        char name[128];
        int in[4] = { i, g->vals[i].grad, -1, -1 }, nin = 2, op;
        int shape[CN_MAX_DIMS], ndim = g->vals[i].ndim;  /* a copy: graph_value may move vals */
        memcpy(shape, g->vals[i].shape, sizeof shape);
        if (opt->kind == OPT_ADAM) {
            snprintf(name, sizeof name, "%s.exp_avg", g->vals[i].name);
            in[nin++] = graph_value(g, name, VK_STATE, DT_F32, ndim, shape, 0);
            snprintf(name, sizeof name, "%s.exp_avg_sq", g->vals[i].name);
            in[nin++] = graph_value(g, name, VK_STATE, DT_F32, ndim, shape, 0);
            op = OP_adam;
        } else {
            if (opt->momentum != 0.0f) {
                snprintf(name, sizeof name, "%s.momentum_buffer", g->vals[i].name);
                in[nin++] = graph_value(g, name, VK_STATE, DT_F32, ndim, shape, 0);
            }
            op = OP_sgd;
        }
        if (graph_add(g, op, in, nin, &a, e) < 0) return -1;
    }
    g->cur_phase = PHASE_FORWARD;
    return 0;
}

/* Stamps new nodes with where step st comes from. */
static void stamp(Graph *g, const Step *st)
{
    g->cur_line = st->loc.line;
    g->cur_col = st->loc.col;
    snprintf(g->cur_label, sizeof g->cur_label, "%s", st->label);
}

/* The input value and every step after it; g->input and g->logits set. NULL with e set. */
static Graph *lower_layers(const Program *p, int batch, int height, int width, Error *e)
{
    Graph *g = graph_new();
    Error le;
    g->max_batch = g->batch = batch;
    int ishape[4] = { batch, p->in_shape[0], height, width };
    int x = graph_value(g, "input", VK_INPUT, DT_F32, 4, ishape, 1);
    g->input = x;
    g->vals[x].keep = 1;        /* written before a step, read by re-runs: live throughout */
    int *val = xmalloc((size_t)p->nsteps * sizeof *val);
    Params ps;
    ps.w = xmalloc((size_t)(p->nlayers + 1) * sizeof *ps.w);
    ps.b = xmalloc((size_t)(p->nlayers + 1) * sizeof *ps.b);
    for (int i = 0; i < p->nlayers; i++) ps.w[i] = ps.b[i] = -1;
    val[0] = x;
    for (int i = 1; i < p->nsteps; i++) {
        const Step *st = &p->steps[i];
        stamp(g, st);
        int in[STEP_MAX_IN];
        for (int k = 0; k < st->nin; k++) in[k] = val[st->in[k]];
        const char *what = "+";
        switch (st->kind) {
        case S_LAYER:
            what = p->layers[st->layer].type_name;
            val[i] = lower_layer(g, p, &ps, st->layer, in[0], &le);
            break;
        case S_ADD:
            val[i] = graph_apply(g, OP_add, in, 2, NULL, &le);
            break;
        case S_CAT: {
            int op = op_named("cat");
            what = "torch.cat";
            val[i] = op < 0 ? not_yet(&le, "torch.cat") : graph_apply(g, op, in, st->nin, NULL, &le);
            break;
        }
        case S_INPUT:
            val[i] = x;
            break;
        }
        if (val[i] < 0) {
            err_set(e, "%s:%d:%d: error: %s%s: %s", p->path, st->loc.line, st->loc.col, what,
                    st->kind == S_LAYER ? "(...)" : "", le.msg);
            free(val);
            free(ps.w);
            free(ps.b);
            graph_free(g);
            return NULL;
        }
    }
    /* the parameters of layers no step calls are still the model's (PyTorch saves them) */
    for (int i = 0; i < p->nlayers; i++)
        if (!p->layers[i].functional && p->layers[i].in_ch > 0) layer_params(g, p, &ps, i);
    x = val[p->output];
    free(val);
    free(ps.w);
    free(ps.b);
    g->logits = x;
    g->vals[x].keep = 1;
    return g;
}

Graph *lower_program(const Program *p, const LowerOptions *o, Error *e)
{
    Error le;
    Graph *g = lower_layers(p, o->batch, p->in_shape[1], p->in_shape[2], e);
    if (!g) return NULL;
    int lshape[1] = { o->batch };
    g->label = graph_value(g, "target", VK_LABEL, DT_I32, 1, lshape, 1);
    g->vals[g->label].keep = 1; /* read after the step to count correct predictions */
    g->cur_line = p->loss_loc.line;
    g->cur_col = p->loss_loc.col;
    snprintf(g->cur_label, sizeof g->cur_label, "criterion");
    int in[2] = { g->logits, g->label };
    int ce = graph_add(g, OP_cross_entropy, in, 2, NULL, &le);
    if (ce < 0) {
        err_set(e, "%s: error: CrossEntropyLoss: %s", p->path, le.msg);
        graph_free(g);
        return NULL;
    }
    g->loss = g->nodes[ce].out[0];
    g->probs = g->nodes[ce].out[1];
    g->vals[g->loss].keep = 1;
    g->vals[g->probs].keep = 1;
    if (!o->no_fuse && fuse_graph(g, &le) < 0) {
        err_set(e, "%s: error: %s", p->path, le.msg);
        graph_free(g);
        return NULL;
    }
    if (o->training) {
        for (int i = 0; i < p->nsteps; i++)
            if (p->steps[i].kind == S_ADD && !op_table[OP_add]->backward) {
                err_set(e, "%s:%d:%d: error: +: training through a sum of tensors is not yet "
                        "implemented in cnnc's runtime (the add op has no backward yet)", p->path,
                        p->steps[i].loc.line, p->steps[i].loc.col);
                graph_free(g);
                return NULL;
            }
        if (autodiff(g, &le) < 0 || lower_optimizer(g, &p->opt, &le) < 0) {
            err_set(e, "%s: error: %s", p->path, le.msg);
            graph_free(g);
            return NULL;
        }
    }
    return g;
}

/* ---- the layers alone (a feature-map model, --apply), and weights given in the file ---- */

Graph *lower_forward(const Program *p, int batch, int height, int width, Error *e)
{
    Error le;
    Graph *g = lower_layers(p, batch, height, width, e);
    if (!g) return NULL;
    if (fuse_graph(g, &le) < 0) {
        err_set(e, "%s: error: %s", p->path, le.msg);
        graph_free(g);
        return NULL;
    }
    return g;
}

void lower_given_weights(Graph *g, const Program *p)
{
    for (int i = 0; i < p->nlayers; i++) {
        const Layer *L = &p->layers[i];
        const float *given[2] = { L->weight, L->bias_data };
        const char *what[2] = { "weight", "bias" };
        for (int k = 0; k < 2; k++) {
            char name[128];
            if (!given[k]) continue;
            snprintf(name, sizeof name, "%s.%s", L->key, what[k]);
            for (int v = 0; v < g->nvals; v++)
                if (g->vals[v].kind == VK_PARAM && !strcmp(g->vals[v].name, name))
                    memcpy(g->vals[v].data, given[k], value_bytes(&g->vals[v]));
        }
    }
}
