/* compiler/fuse.h: the fusion pass over the forward graph, before autodiff. */
#ifndef CNNC_FUSE_H
#define CNNC_FUSE_H

#include "../runtime/graph.h"

/* Replaces each conv2d -> relu -> maxpool2d chain whose intermediate results have no other
 * use by one conv2d_relu_maxpool2d node (same results, one pass over memory per image;
 * its backward rule derives the same gradients). Returns the number of chains fused. */
int fuse_graph(Graph *g, Error *e);

#endif
