/* compiler/passes/plan.h: the static memory plan. Parameters, gradients and optimizer state get
 * contiguous persistent blocks; every other tensor gets an offset in one arena, shared
 * with tensors whose lifetimes (first write to last read over the whole forward, backward
 * and update schedule) do not overlap, as ggml's graph allocator does, but ahead of time. */
#ifndef CNNC_PLAN_H
#define CNNC_PLAN_H

#include "../../runtime/graph.h"

typedef struct PlanStats {
    size_t arena_bytes;         /* the planned arena */
    size_t unshared_bytes;      /* what the same tensors would take without sharing */
    size_t param_bytes, grad_bytes, state_bytes;
} PlanStats;

/* Sizes are for g->max_batch. Sets every value's offset and the graph's block sizes. */
void plan_memory(Graph *g, PlanStats *st);

size_t plan_total_bytes(const PlanStats *st);

#endif
