/* runtime/exec.c: the executor (see exec.h). */
#include "exec.h"

#include "dist.h"
#include "gradsync.h"
#include "ops.h"
#include "parallel.h"

/* cached: the cached values (Value.cached) hold the current parameters' results */
typedef struct Run { Graph *g; int phases; GradSync *sync; int cached; } Run;

static void run_nodes(void *arg)
{
    const Run *r = arg;
    for (int i = 0; i < r->g->nnodes; i++) {
        const Node *n = &r->g->nodes[i];
        if (!(n->phase & r->phases) || (r->cached && node_cached(r->g, n))) continue;
        if (r->sync) gradsync_before_node(r->sync, r->g, n);
        op_table[n->op]->forward(r->g, n);
        if (r->sync) gradsync_after_node(r->sync, r->g, n);
    }
    if (r->sync) gradsync_end(r->sync, r->g);
}

/* the nodes in order on this thread, the other threads kept as a team for their kernels'
 * parallel work (parallel.h); in a data-parallel training step, the gradients summed over
 * the ranks as the backward pass finishes them (gradsync.h). The nodes whose outputs are
 * cached run only when the parameters have changed since they last ran; an update phase
 * changes them. */
void exec_run(Graph *g, int phases)
{
    uint64_t version = g->params_version;
    Run r = { g, phases, NULL, g->cache_version == version };
    if ((phases & PHASE_BACKWARD) && g->training && dist_size() > 1) {
        if (!g->gsync) g->gsync = gradsync_new(g);
        r.sync = g->gsync;
        gradsync_begin(r.sync);
    }
    par_team(run_nodes, &r);
    if (phases & PHASE_FORWARD) g->cache_version = version;
    if (phases & PHASE_UPDATE) graph_params_changed(g);
}

void exec_set_threads(Graph *g, int n)
{
    par_set_threads(n);
    g->threads = par_threads();
}
