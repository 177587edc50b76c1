/* compiler/fuse.h: the fusion passes: over the forward graph before autodiff, and over the
 * backward and update nodes after it. */
#ifndef CNNC_FUSE_H
#define CNNC_FUSE_H

#include "../runtime/graph.h"

/* Replaces each conv2d -> relu -> maxpool2d chain whose intermediate results have no other
 * use by one conv2d_relu_maxpool2d node (same results, one pass over memory per image;
 * its backward rule derives the same gradients). Returns the number of chains fused. */
int fuse_graph(Graph *g, Error *e);

/* Replaces each Linear weight's linear_backward_input, linear_backward_weight and adam by
 * one linear_backward_adam node at the place of the first (the weight changes there, so
 * only when nothing later reads it) when the largest batch is at most LINEAR_SMALL_N: the
 * weight's gradient is no longer a value. Returns the number fused. */
int fuse_updates(Graph *g, Error *e);

#endif
