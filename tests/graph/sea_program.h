/* tests/graph/sea_program.h: the notebook's ClassificationCNN as a checked Program, built by
 * hand (no parser), scaled to a small input so whole-model tests run in milliseconds. */
#ifndef TEST_SEA_PROGRAM_H
#define TEST_SEA_PROGRAM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "compiler/frontend/program.h"
#include "runtime/init.h"
#include "runtime/ops.h"

static inline void sea_layer(Program *p, LayerKind k, const char *type, const char *key, int a, int b, int kernel,
                      int stride, int pad)
{
    Layer *L = &p->layers[p->nlayers++];
    memset(L, 0, sizeof *L);
    L->kind = k;
    L->type_name = type;
    snprintf(L->key, sizeof L->key, "%s", key);
    L->in_ch = a;
    L->out_ch = b;
    L->kernel = kernel;
    L->stride = stride;
    L->padding = pad;
    L->bias = 1;
    L->loc.line = p->nlayers + 1;
    L->loc.col = 9;
}

/* Conv2d(C,c1,3,p=1) ReLU MaxPool2d(2) Conv2d(c1,c2,3,p=1) ReLU MaxPool2d(2) Flatten
 * Linear(c2*H/4*W/4, hidden) ReLU [Dropout(p)] Linear(hidden, classes); Adam or SGD. */
static inline void sea_program(Program *p, int C, int H, int W, int c1, int c2, int hidden, int classes, float dropout)
{
    memset(p, 0, sizeof *p);
    p->path = "sea_test.cnn";
    snprintf(p->model_name, sizeof p->model_name, "ClassificationCNN");
    p->in_shape[0] = C;
    p->in_shape[1] = H;
    p->in_shape[2] = W;
    p->layers = calloc(12, sizeof *p->layers);
    sea_layer(p, L_CONV2D, "Conv2d", "conv_layers.0", C, c1, 3, 1, 1);
    sea_layer(p, L_RELU, "ReLU", "conv_layers.1", 0, 0, 0, 0, 0);
    sea_layer(p, L_MAXPOOL2D, "MaxPool2d", "conv_layers.2", 0, 0, 2, 2, 0);
    sea_layer(p, L_CONV2D, "Conv2d", "conv_layers.3", c1, c2, 3, 1, 1);
    sea_layer(p, L_RELU, "ReLU", "conv_layers.4", 0, 0, 0, 0, 0);
    sea_layer(p, L_MAXPOOL2D, "MaxPool2d", "conv_layers.5", 0, 0, 2, 2, 0);
    sea_layer(p, L_FLATTEN, "Flatten", "fc_layers.0", 0, 0, 0, 0, 0);
    sea_layer(p, L_LINEAR, "Linear", "fc_layers.1", c2 * (H / 4) * (W / 4), hidden, 0, 0, 0);
    sea_layer(p, L_RELU, "ReLU", "fc_layers.2", 0, 0, 0, 0, 0);
    if (dropout > 0) {
        sea_layer(p, L_DROPOUT, "Dropout", "fc_layers.3", 0, 0, 0, 0, 0);
        p->layers[p->nlayers - 1].p = dropout;
    }
    sea_layer(p, L_LINEAR, "Linear", dropout > 0 ? "fc_layers.4" : "fc_layers.3", hidden, classes, 0, 0, 0);
    p->out_ndim = 1;            /* no steps: the lowering takes the layers as a chain */
    p->out_shape[0] = classes;
    p->batch_size = 4;
    p->epochs = 1;
    p->has_loss = 1;
    p->opt.kind = OPT_ADAM;
    p->opt.lr = 1e-3f;
    p->opt.beta1 = 0.9f;
    p->opt.beta2 = 0.999f;
    p->opt.eps = 1e-8f;
}

/* Gives every value storage of its own (no sharing), in place of plan_memory. */
static inline void plan_unshared(Graph *g)
{
    size_t *blocks[4] = { &g->param_bytes, &g->grad_bytes, &g->state_bytes, &g->arena_bytes };
    for (int i = 0; i < 4; i++) *blocks[i] = 0;
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (v->view_of >= 0) continue;
        size_t *b = v->kind == VK_PARAM ? blocks[0] : v->kind == VK_GRAD ? blocks[1]
                  : v->kind == VK_STATE ? blocks[2] : blocks[3];
        int saved = v->shape[0];
        if (v->batched) v->shape[0] = g->max_batch;
        v->offset = *b;
        *b += (value_bytes(v) + 63) / 64 * 64;
        v->shape[0] = saved;
    }
    for (int i = 0; i < g->nvals; i++) {
        int b = i;
        while (g->vals[b].view_of >= 0) b = g->vals[b].view_of;
        g->vals[i].offset = g->vals[b].offset;
    }
}

/* p lowered with lo, its memory planned (storage shared by lifetime) and bound, its
 * parameters initialised from seed; NULL with e set where lowering fails */
static inline Graph *sea_graph(Program *p, const LowerOptions *lo, uint64_t seed, Error *e)
{
    Graph *g = lower_program(p, lo, e);
    if (!g) return NULL;
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    init_parameters(g, seed);
    return g;
}

#endif
