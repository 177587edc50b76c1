/* runtime/exec.h: the executor: runs a bound graph's nodes in order, phase by phase. */
#ifndef CN_EXEC_H
#define CN_EXEC_H

#include "graph.h"

/* Runs every node whose phase is in the mask (PHASE_FORWARD | PHASE_BACKWARD | ...), in
 * schedule order, at the graph's current batch size. */
void exec_run(Graph *g, int phases);

/* Threads for OpenBLAS and the runtime's own kernels; n <= 0 means every core. */
void exec_set_threads(Graph *g, int n);

#endif
