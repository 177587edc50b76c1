/* compiler/passes/lower.c: a checked Program becomes a graph (see lower.h). */
#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/ops.h"
#include "autodiff.h"
#include "fuse.h"
#include "update.h"

/* The parameters and buffers of each layer, made once (a layer a forward calls twice
 * shares them): per Program.layers index, value ids in state_dict order, -1 where absent
 * (Conv2d / Linear: weight, bias; BatchNorm: weight, bias, running_mean, running_var,
 * num_batches_tracked). */
#define LAYER_VALUES 5
typedef struct Params {
    int (*v)[LAYER_VALUES];
    char *made;
} Params;

static int param(Graph *g, const Layer *L, const char *what, ValueKind kind, DType dt, int ndim,
                 const int *shape)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s", L->key, what);
    int v = graph_value(g, name, kind, dt, ndim, shape, 0);
    if (L->frozen || kind == VK_BUFFER) {
        g->vals[v].frozen = L->frozen;
        g->vals[v].requires_grad = 0;
    }
    return v;
}

/* Layer i with its window pairs filled from the square fields where a program built by
 * hand (tests) set only those, groups and dilation 1 where unset. */
static Layer layer_at(const Program *p, int i)
{
    Layer L = p->layers[i];
    if (!L.kernel_hw[0] && !L.kernel_hw[1]) L.kernel_hw[0] = L.kernel_hw[1] = L.kernel;
    if (!L.stride_hw[0] && !L.stride_hw[1]) L.stride_hw[0] = L.stride_hw[1] = L.stride;
    if (!L.padding_hw[0] && !L.padding_hw[1]) L.padding_hw[0] = L.padding_hw[1] = L.padding;
    for (int k = 0; k < 2; k++)
        if (!L.dilation[k]) L.dilation[k] = 1;
    if (!L.groups) L.groups = 1;
    return L;
}

/* The values of layer i, made on first use. */
static void layer_params(Graph *g, const Program *p, Params *ps, int i)
{
    Layer Li = layer_at(p, i);
    const Layer *L = &Li;
    int *v = ps->v[i];
    if (ps->made[i]) return;
    ps->made[i] = 1;
    for (int k = 0; k < LAYER_VALUES; k++) v[k] = -1;
    if (L->kind == L_CONV2D) {
        int wshape[4] = { L->out_ch, L->in_ch / (L->groups ? L->groups : 1), L->kernel_hw[0],
                          L->kernel_hw[1] };
        v[0] = param(g, L, "weight", VK_PARAM, DT_F32, 4, wshape);
        if (L->bias) v[1] = param(g, L, "bias", VK_PARAM, DT_F32, 1, &L->out_ch);
    } else if (L->kind == L_LINEAR) {
        int wshape[2] = { L->out_ch, L->in_ch };
        v[0] = param(g, L, "weight", VK_PARAM, DT_F32, 2, wshape);
        if (L->bias) v[1] = param(g, L, "bias", VK_PARAM, DT_F32, 1, &L->out_ch);
    } else if (L->kind == L_BATCHNORM2D || L->kind == L_BATCHNORM1D) {
        int one = 1;
        if (L->affine) {
            v[0] = param(g, L, "weight", VK_PARAM, DT_F32, 1, &L->in_ch);
            v[1] = param(g, L, "bias", VK_PARAM, DT_F32, 1, &L->in_ch);
        }
        if (L->track_running_stats) {
            v[2] = param(g, L, "running_mean", VK_BUFFER, DT_F32, 1, &L->in_ch);
            v[3] = param(g, L, "running_var", VK_BUFFER, DT_F32, 1, &L->in_ch);
            v[4] = param(g, L, "num_batches_tracked", VK_BUFFER, DT_I64, 0, &one);
        }
    }
}

/* The window fields of a: the square ones and the pairs. */
static void window_attrs(Attrs *a, const Layer *L)
{
    a->kernel = L->kernel_hw[0];
    a->stride = L->stride_hw[0];
    a->padding = L->padding_hw[0];
    for (int k = 0; k < 2; k++) {
        a->kernel_hw[k] = L->kernel_hw[k];
        a->stride_hw[k] = L->stride_hw[k];
        a->padding_hw[k] = L->padding_hw[k];
        a->dilation_hw[k] = L->dilation[k];
    }
    a->ceil_mode = L->ceil_mode;
}

/* Adds the nodes of layer i after value x; returns the layer's output value. */
static int lower_layer(Graph *g, const Program *p, Params *ps, int i, int x, Error *e)
{
    Layer Li = layer_at(p, i);
    const Layer *L = &Li;
    const int *pv = ps->v[i];
    Attrs a = { 0 };
    switch (L->kind) {
    case L_CONV2D: {
        layer_params(g, p, ps, i);
        int in[3] = { x, pv[0], pv[1] };
        window_attrs(&a, L);
        a.groups = L->groups;
        a.padding_mode = L->reflect ? PADDING_REFLECT : PADDING_ZEROS;
        return graph_apply(g, OP_conv2d, in, L->bias ? 3 : 2, &a, e);
    }
    case L_LINEAR: {
        layer_params(g, p, ps, i);
        int in[3] = { x, pv[0], pv[1] };
        return graph_apply(g, OP_linear, in, L->bias ? 3 : 2, NULL, e);
    }
    case L_BATCHNORM2D: case L_BATCHNORM1D: {
        layer_params(g, p, ps, i);
        int in[6] = { x }, nin = 1;
        for (int k = 0; k < LAYER_VALUES; k++)
            if (pv[k] >= 0) in[nin++] = pv[k];
        a.eps = L->eps;
        a.momentum = L->momentum;
        a.momentum_none = L->momentum_none;
        a.track_running_stats = L->track_running_stats;
        return graph_apply(g, L->kind == L_BATCHNORM2D ? OP_batchnorm2d : OP_batchnorm1d, in,
                           nin, &a, e);
    }
    case L_RELU:
        return graph_apply(g, OP_relu, &x, 1, NULL, e);
    case L_MAXPOOL2D:
        window_attrs(&a, L);
        return graph_apply(g, OP_maxpool2d, &x, 1, &a, e);
    case L_AVGPOOL2D:
        window_attrs(&a, L);
        a.count_include_pad = L->count_include_pad;
        return graph_apply(g, OP_avgpool2d, &x, 1, &a, e);
    case L_ADAPTIVE_AVGPOOL2D: case L_ADAPTIVE_MAXPOOL2D: {
        const Step *st = NULL;      /* None in output_size keeps the input's side */
        for (int k = 0; k < p->nsteps && !st; k++)
            if (p->steps[k].kind == S_LAYER && p->steps[k].layer == i) st = &p->steps[k];
        a.out_hw[0] = L->out_hw[0] ? L->out_hw[0] : st->out_shape[1];
        a.out_hw[1] = L->out_hw[1] ? L->out_hw[1] : st->out_shape[2];
        return graph_apply(g, L->kind == L_ADAPTIVE_AVGPOOL2D ? OP_adaptive_avgpool2d
                           : OP_adaptive_maxpool2d, &x, 1, &a, e);
    }
    case L_DROPOUT:
        if (L->p == 0) return x;        /* F.dropout(x, training=False) */
        a.p = L->p;
        return graph_apply(g, OP_dropout, &x, 1, &a, e);
    case L_DROPOUT2D:
        if (L->p == 0) return x;
        a.p = L->p;
        return graph_apply(g, OP_dropout2d, &x, 1, &a, e);
    case L_FLATTEN:
        return graph_apply(g, OP_flatten, &x, 1, NULL, e);
    case L_IDENTITY:
        return x;
    case L_LEAKY_RELU: case L_ELU:
        a.alpha = L->alpha;
        return graph_apply(g, L->kind == L_ELU ? OP_elu : OP_leaky_relu, &x, 1, &a, e);
    case L_GELU:
        a.approximate = L->approximate_tanh;
        return graph_apply(g, OP_gelu, &x, 1, &a, e);
    case L_SIGMOID: case L_TANH: case L_SILU: case L_RELU6: case L_HARDSWISH:
    case L_HARDSIGMOID: case L_SOFTMAX: case L_LOG_SOFTMAX: {
        static const struct { LayerKind k; int op; } plain[] = {
            { L_SIGMOID, OP_sigmoid }, { L_TANH, OP_tanh }, { L_SILU, OP_silu },
            { L_RELU6, OP_relu6 }, { L_HARDSWISH, OP_hardswish }, { L_HARDSIGMOID, OP_hardsigmoid },
            { L_SOFTMAX, OP_softmax }, { L_LOG_SOFTMAX, OP_log_softmax },
        };
        for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
            if (plain[k].k == L->kind) return graph_apply(g, plain[k].op, &x, 1, NULL, e);
        break;
    }
    }
    return err_set(e, "internal: unknown layer kind %d", (int)L->kind);
}

/* Whether the first use of the layers' values follows the module tree (a chain): then
 * they are made as the steps meet them (today's graphs); otherwise all first, in the
 * order of PyTorch's state_dict. */
static int tree_order(const Program *p)
{
    int next = 0;
    for (int i = 1; i < p->nsteps; i++) {
        const Step *st = &p->steps[i];
        if (st->kind != S_LAYER) return 0;
        if (st->layer < next) return 0;
        next = st->layer + 1;
    }
    return 1;
}

/* Stamps new nodes with where step st comes from. */
static void stamp(Graph *g, const Step *st)
{
    g->cur_line = st->loc.line;
    g->cur_col = st->loc.col;
    snprintf(g->cur_label, sizeof g->cur_label, "%s", st->label);
}

/* A program built without steps (by hand, in tests) is the chain of its layers. */
static Program chain_steps(const Program *p, Step **owned)
{
    Program c = *p;
    *owned = NULL;
    if (p->nsteps > 0 || p->nlayers == 0) return c;
    Step *st = xcalloc((size_t)p->nlayers + 1, sizeof *st);
    st[0].kind = S_INPUT;
    for (int i = 0; i < p->nlayers; i++) {
        Step *s = &st[i + 1];
        s->kind = S_LAYER;
        s->layer = i;
        s->in[0] = i;
        s->nin = 1;
        s->loc = p->layers[i].loc;
        snprintf(s->label, sizeof s->label, "%s", p->layers[i].key);
        s->out_ndim = p->layers[i].out_ndim;
        memcpy(s->out_shape, p->layers[i].out_shape, sizeof s->out_shape);
    }
    c.steps = *owned = st;
    c.nsteps = p->nlayers + 1;
    c.output = p->nlayers;
    return c;
}

/* The input value and every step after it; g->input and g->logits set. NULL with e set. */
static Graph *lower_layers(const Program *prog, int batch, int height, int width, Error *e)
{
    Step *owned;
    Program chained = chain_steps(prog, &owned);
    const Program *p = &chained;
    Graph *g = graph_new();
    Error le;
    g->max_batch = g->batch = batch;
    int ishape[4] = { batch, p->in_shape[0], height, width };
    int x = graph_value(g, "input", VK_INPUT, DT_F32, 4, ishape, 1);
    g->input = x;
    g->vals[x].keep = 1;        /* written before a step, read by re-runs: live throughout */
    int *val = xmalloc((size_t)p->nsteps * sizeof *val);
    Params ps;
    ps.v = xmalloc((size_t)(p->nlayers + 1) * sizeof *ps.v);
    ps.made = xcalloc((size_t)p->nlayers + 1, 1);
    if (!tree_order(p))
        for (int i = 0; i < p->nlayers; i++)
            if (!p->layers[i].functional) layer_params(g, p, &ps, i);
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
        case S_CAT:
            what = "torch.cat";
            val[i] = graph_apply(g, OP_cat, in, st->nin, NULL, &le);
            break;
        case S_INPUT:
            val[i] = x;
            break;
        }
        if (val[i] < 0) {
            err_set(e, "%s:%d:%d: error: %s%s: %s", p->path, st->loc.line, st->loc.col, what,
                    st->kind == S_LAYER ? "(...)" : "", le.msg);
            free(val);
            free(ps.v);
            free(ps.made);
            free(owned);
            graph_free(g);
            return NULL;
        }
    }
    /* the parameters of layers no step calls are still the model's (PyTorch saves them) */
    for (int i = 0; i < p->nlayers; i++)
        if (!p->layers[i].functional && p->layers[i].in_ch > 0) layer_params(g, p, &ps, i);
    x = val[p->output];
    free(val);
    free(ps.v);
    free(ps.made);
    free(owned);
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
    LayerKind last = L_IDENTITY;        /* the kind of the layer giving the output */
    if (p->nsteps && p->steps[p->output].kind == S_LAYER) last = p->layers[p->steps[p->output].layer].kind;
    else if (!p->nsteps && p->nlayers) last = p->layers[p->nlayers - 1].kind;
    Attrs la = { 0 };
    la.ignore = p->has_loss;     /* a Program made by hand has no ignore_index */
    la.ignore_index = (int)p->loss.ignore_index;
    la.reduction_sum = p->loss.sum;
    la.label_smoothing = p->loss.label_smoothing;
    if (p->loss.weight) la.class_weight = graph_floats(g, p->loss.weight, p->loss.nweight);
    int ce = graph_add(g, p->nll_loss ? OP_nll_loss : OP_cross_entropy, in, 2, &la, &le);
    if (ce < 0) {
        err_set(e, "%s: error: %s: %s", p->path, p->nll_loss ? "NLLLoss" : "CrossEntropyLoss",
                le.msg);
        graph_free(g);
        return NULL;
    }
    g->loss = g->nodes[ce].out[0];
    /* the class probabilities --predict and the accuracy read: the model's own output
     * after Softmax, softmax(log-probabilities) after LogSoftmax, else the loss's softmax */
    if (last == L_SOFTMAX) g->probs = g->logits;
    else if (last == L_LOG_SOFTMAX) g->probs = graph_apply(g, OP_softmax, &g->logits, 1, NULL, &le);
    else g->probs = g->nodes[ce].out[1];
    if (g->probs < 0) {
        err_set(e, "%s: error: %s", p->path, le.msg);
        graph_free(g);
        return NULL;
    }
    g->vals[g->loss].keep = 1;
    g->vals[g->probs].keep = 1;
    if (!o->no_fuse && ((!o->training && fold_batchnorm(g, &le) < 0) || fuse_graph(g, &le) < 0 ||
                        (o->training && fuse_training_graph(g, &le) < 0))) {
        err_set(e, "%s: error: %s", p->path, le.msg);
        graph_free(g);
        return NULL;
    }
    if (o->training) {
        if (autodiff(g, &le) < 0 || (!o->no_fuse && fuse_backward_graph(g, &le) < 0)) {
            err_set(e, "%s: error: %s", p->path, le.msg);
            graph_free(g);
            return NULL;
        }
        if (lower_update(g, p, e) < 0) {
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
    if (fold_batchnorm(g, &le) < 0 || fuse_graph(g, &le) < 0) {
        err_set(e, "%s: error: %s", p->path, le.msg);
        graph_free(g);
        return NULL;
    }
    return g;
}

void lower_given_weights(Graph *g, const Program *p)
{
    graph_params_changed(g);
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
