/* runtime/exec.c: the executor (see exec.h). */
#include "exec.h"

#include "dist.h"
#include "gradsync.h"
#include "ops.h"
#include "parallel.h"

typedef struct Run { Graph *g; int phases; GradSync *sync; } Run;

static void run_nodes(void *arg)
{
    const Run *r = arg;
    for (int i = 0; i < r->g->nnodes; i++) {
        const Node *n = &r->g->nodes[i];
        if (!(n->phase & r->phases)) continue;
        if (r->sync) gradsync_before_node(r->sync, r->g, n);
        op_table[n->op]->forward(r->g, n);
        if (r->sync) gradsync_after_node(r->sync, r->g, n);
    }
    if (r->sync) gradsync_end(r->sync, r->g);
}

/* the nodes in order on this thread, the other threads kept as a team for their kernels'
 * parallel work (parallel.h); in a data-parallel training step, the gradients summed over
 * the ranks as the backward pass finishes them (gradsync.h) */
void exec_run(Graph *g, int phases)
{
    Run r = { g, phases, NULL };
    if ((phases & PHASE_BACKWARD) && g->training && dist_size() > 1) {
        if (!g->gsync) g->gsync = gradsync_new(g);
        r.sync = g->gsync;
        gradsync_begin(r.sync);
    }
    par_team(run_nodes, &r);
}

void exec_set_threads(Graph *g, int n)
{
    par_set_threads(n);
    g->threads = par_threads();
}
