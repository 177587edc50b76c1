/* tests/parity/lr_schedule.c: prints the learning rates a .cnn file's scheduler gives over a
 * run, one per line (%.17g, exact, with the beta1 and momentum the optimizer nodes have then), for test_lr_schedulers.py to compare with torch's own
 * schedulers: for each of EPOCHS epochs the lr it trains with, stepping after it (with the
 * next LOSS as ReduceLROnPlateau's test loss); OneCycleLR: the lr of each of EPOCHS x
 * BATCHES batches. The driver's code (schedule.c, graph_set_lr) is what steps the optimizer
 * nodes of the lowered graph, whose lr is printed.
 * usage: lr_schedule MODEL.cnn EPOCHS BATCHES [LOSS...] */
#include <stdio.h>
#include <stdlib.h>

#include "compiler/driver/schedule.h"
#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "runtime/ops.h"

/* the lr, beta1 and momentum of the graph's first optimizer node: what the next step uses */
static void print_node(const Graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].phase == PHASE_UPDATE) {
            printf("%.17g %.17g %.17g\n", g->nodes[i].a.lr, g->nodes[i].a.beta1, g->nodes[i].a.momentum);
            return;
        }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: lr_schedule MODEL.cnn EPOCHS BATCHES [LOSS...]\n");
        return 2;
    }
    Program p;
    CheckOptions co = { .require_training = 1 };
    if (check_file(argv[1], &co, &p, stderr) < 0) return 1;
    int epochs = atoi(argv[2]), batches = atoi(argv[3]);
    Error e;
    LowerOptions lo = { .batch = 2, .training = 1 };
    Graph *g = lower_program(&p, &lo, &e);
    RunSchedule rs;
    if (!g || schedule_begin(&rs, &p, g, epochs, batches, 0, NULL, &e) < 0) {
        fprintf(stderr, "lr_schedule: %s\n", e.msg);
        return 1;
    }
    int per_batch = lr_scheduler_per_batch(&rs.s);
    for (int ep = 0; ep < epochs; ep++) {
        if (!per_batch) print_node(g);
        for (int b = 0; per_batch && b < batches; b++) {
            print_node(g);
            schedule_after_batch(&rs, g);
        }
        schedule_after_epoch(&rs, g, 4 + ep < argc ? atof(argv[4 + ep]) : 0);
    }
    graph_free(g);
    program_free(&p);
    return 0;
}
