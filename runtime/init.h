/* runtime/init.h: parameter initialisation exactly as PyTorch's defaults for Conv2d and Linear. */
#ifndef CN_INIT_H
#define CN_INIT_H

#include "graph.h"

/* Every parameter named "<layer>.weight" gets kaiming_uniform_(a=sqrt(5)), i.e. uniform in
 * +-1/sqrt(fan_in) with fan_in = shape[1] * kernel area; every "<layer>.bias" gets uniform
 * in +-1/sqrt(fan_in) of its layer's weight. Parameters are visited in creation order
 * (weight, then bias, layer by layer, as PyTorch constructs them), from one generator. */
void init_parameters(Graph *g, uint64_t seed);

#endif
