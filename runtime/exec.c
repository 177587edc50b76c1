/* runtime/exec.c: the executor (see exec.h). */
#include "exec.h"

#include "ops.h"
#include "parallel.h"

void exec_run(Graph *g, int phases)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->phase & phases) op_table[n->op]->forward(g, n);
    }
}

void exec_set_threads(Graph *g, int n)
{
    par_set_threads(n);
    g->threads = par_threads();
}
