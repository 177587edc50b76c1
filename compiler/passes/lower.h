/* compiler/passes/lower.h: lowering a checked Program to the runtime's graph IR. */
#ifndef CNNC_LOWER_H
#define CNNC_LOWER_H

#include "../../runtime/graph.h"
#include "../frontend/program.h"

typedef struct LowerOptions {
    int batch;          /* the largest batch the graph will run */
    int training;       /* append the backward graph (autodiff) and the optimizer's update */
    int no_fuse;        /* skip the fusion pass (to compare fused kernels with plain ones) */
} LowerOptions;

/* Builds the forward graph (input -> layers -> logits -> cross-entropy loss and softmax),
 * runs the fusion pass over it, and for training appends the backward and update nodes.
 * Not yet planned or bound. NULL with e set (prefixed with the layer's file:line:col) on
 * failure. */
Graph *lower_program(const Program *p, const LowerOptions *o, Error *e);

/* The layers alone: input [batch, C, height, width] -> the last layer's output (g->logits),
 * no loss: for a model that ends with a feature map (--apply), at any image size. */
Graph *lower_forward(const Program *p, int batch, int height, int width, Error *e);

/* Copies the weights given in the file (weight=[...], bias=[...]) into the bound
 * parameters; call after graph_bind and init_parameters. */
void lower_given_weights(Graph *g, const Program *p);

#endif
