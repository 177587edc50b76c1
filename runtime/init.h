/* runtime/init.h: parameter initialisation exactly as PyTorch's defaults for Conv2d, Linear
 * and BatchNorm. */
#ifndef CN_INIT_H
#define CN_INIT_H

#include "graph.h"

/* Every parameter named "<layer>.weight" gets kaiming_uniform_(a=sqrt(5)), i.e. uniform in
 * +-1/sqrt(fan_in) with fan_in = shape[1] * kernel area; every "<layer>.bias" gets uniform
 * in +-1/sqrt(fan_in) of its layer's weight. Parameters are visited in creation order
 * (weight, then bias, layer by layer, as PyTorch constructs them), from one generator.
 * The inputs of batchnorm nodes (and BatchNorm's inputs of batchnorm_fold) draw nothing: weight 1, bias 0, running_mean 0,
 * running_var 1, num_batches_tracked 0. */
void init_parameters(Graph *g, uint64_t seed);

#endif
