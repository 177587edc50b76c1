/* compiler/driver/dump.h: --dump-graph: the graph as text (execution order) or as Graphviz dot. */
#ifndef CNNC_DUMP_H
#define CNNC_DUMP_H

#include <stdio.h>

#include "../../runtime/graph.h"
#include "../passes/plan.h"

void dump_graph_text(FILE *f, const Graph *g, const char *path, const PlanStats *st);
void dump_graph_dot(FILE *f, const Graph *g, const char *path);

#endif
