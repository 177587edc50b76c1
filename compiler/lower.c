/* compiler/lower.c: a checked Program becomes a graph (see lower.h). */
#include "lower.h"

#include <stdio.h>
#include <string.h>

#include "../runtime/ops.h"
#include "autodiff.h"
#include "fuse.h"

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

/* Adds the nodes of one layer after value x; returns the layer's output value. */
static int lower_layer(Graph *g, const Layer *L, int x, Error *e)
{
    Attrs a = { 0 };
    switch (L->kind) {
    case L_CONV2D: {
        int wshape[4] = { L->out_ch, L->in_ch, L->kernel, L->kernel };
        int in[3] = { x, param(g, L, "weight", 4, wshape), -1 };
        if (L->bias) in[2] = param(g, L, "bias", 1, &L->out_ch);
        a.kernel = L->kernel;
        a.stride = L->stride;
        a.padding = L->padding;
        return graph_apply(g, OP_conv2d, in, L->bias ? 3 : 2, &a, e);
    }
    case L_LINEAR: {
        int wshape[2] = { L->out_ch, L->in_ch };
        int in[3] = { x, param(g, L, "weight", 2, wshape), -1 };
        if (L->bias) in[2] = param(g, L, "bias", 1, &L->out_ch);
        return graph_apply(g, OP_linear, in, L->bias ? 3 : 2, NULL, e);
    }
    case L_RELU:
        return graph_apply(g, OP_relu, &x, 1, NULL, e);
    case L_MAXPOOL2D:
        a.kernel = L->kernel;
        a.stride = L->stride;
        a.padding = L->padding;
        return graph_apply(g, OP_maxpool2d, &x, 1, &a, e);
    case L_DROPOUT:
        a.p = L->p;
        return graph_apply(g, OP_dropout, &x, 1, &a, e);
    case L_FLATTEN:
        return graph_apply(g, OP_flatten, &x, 1, NULL, e);
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

/* The input value and every layer after it; g->input and g->logits set. NULL with e set. */
static Graph *lower_layers(const Program *p, int batch, int height, int width, Error *e)
{
    Graph *g = graph_new();
    Error le;
    g->max_batch = g->batch = batch;
    int ishape[4] = { batch, p->in_shape[0], height, width };
    int x = graph_value(g, "input", VK_INPUT, DT_F32, 4, ishape, 1);
    g->input = x;
    g->vals[x].keep = 1;        /* written before a step, read by re-runs: live throughout */
    for (int i = 0; i < p->nlayers; i++) {
        const Layer *L = &p->layers[i];
        g->cur_line = L->loc.line;
        g->cur_col = L->loc.col;
        snprintf(g->cur_label, sizeof g->cur_label, "%s", L->key);
        x = lower_layer(g, L, x, &le);
        if (x < 0) {
            err_set(e, "%s:%d:%d: error: %s(...): %s", p->path, L->loc.line, L->loc.col, L->type_name, le.msg);
            graph_free(g);
            return NULL;
        }
    }
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
    if (!o->no_fuse && ((!o->training && fold_batchnorm(g, &le) < 0) || fuse_graph(g, &le) < 0)) {
        err_set(e, "%s: error: %s", p->path, le.msg);
        graph_free(g);
        return NULL;
    }
    if (o->training) {
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
    if (fold_batchnorm(g, &le) < 0 || fuse_graph(g, &le) < 0) {
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
