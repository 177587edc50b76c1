/* compiler/passes/autodiff.h: reverse-mode automatic differentiation over the graph IR. */
#ifndef CNNC_AUTODIFF_H
#define CNNC_AUTODIFF_H

#include "../../runtime/graph.h"

/* Appends the backward graph: walks the forward nodes from g->loss back to the inputs and
 * asks each op's backward rule (op table) for the nodes computing its inputs' gradients.
 * Afterwards every parameter that requires a gradient has Value.grad set, and those
 * gradient values are VK_GRAD (persistent, like PyTorch's .grad). */
int autodiff(Graph *g, Error *e);

#endif
