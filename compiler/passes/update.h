/* compiler/passes/update.h: the update phase of a training graph (update.c). */
#ifndef CNNC_UPDATE_H
#define CNNC_UPDATE_H

#include "../../runtime/graph.h"
#include "../frontend/program.h"

/* Appends, after autodiff, p's gradient clipping and one optimizer node per trainable
 * parameter with its parameter group's options (PHASE_UPDATE, in that order). -1 with e set
 * (file:line:col where there is one) for a parameter in no group or two, an empty group, or
 * options an op refuses. */
int lower_update(Graph *g, const Program *p, Error *e);

#endif
