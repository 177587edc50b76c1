/* runtime/exec.c: the executor (see exec.h). */
#include "exec.h"

#include "ops.h"
#include "parallel.h"

typedef struct Run { Graph *g; int phases; } Run;

static void run_nodes(void *arg)
{
    const Run *r = arg;
    for (int i = 0; i < r->g->nnodes; i++) {
        const Node *n = &r->g->nodes[i];
        if (n->phase & r->phases) op_table[n->op]->forward(r->g, n);
    }
}

/* the nodes in order on this thread, the other threads kept as a team for their kernels'
 * parallel work (parallel.h) */
void exec_run(Graph *g, int phases)
{
    Run r = { g, phases };
    par_team(run_nodes, &r);
}

void exec_set_threads(Graph *g, int n)
{
    par_set_threads(n);
    g->threads = par_threads();
}
