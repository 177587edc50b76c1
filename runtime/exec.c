/* runtime/exec.c: the executor (see exec.h). */
#include "exec.h"

#include <cblas.h>
#include <unistd.h>

#include "ops.h"

void exec_run(Graph *g, int phases)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->phase & phases) op_table[n->op]->forward(g, n);
    }
}

void exec_set_threads(Graph *g, int n)
{
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    g->threads = n;
    openblas_set_num_threads(n);
}
