/* compiler/checkpoint.h: training checkpoints (--checkpoint, --resume): everything a
 * killed run needs to continue and end bit-identical to an uninterrupted one, as one
 * safetensors file written atomically. */
#ifndef CNNC_CHECKPOINT_H
#define CNNC_CHECKPOINT_H

#include <stdint.h>

#include "../runtime/graph.h"
#include "../runtime/safetensors.h"

/* Where training stands: the loader's order is derived from (seed, epoch), so the epoch
 * and the batches done in it fix the loader's position. */
typedef struct TrainState {
    int      epoch;             /* 0-based epoch in progress */
    int      batch;             /* batches of it done (and applied) */
    double   loss_sum;          /* the epoch's running sums, so its log line comes out the same */
    int64_t  correct, images;
    uint64_t seed;
    int      threads;
} TrainState;

/* Tensors: every parameter (its state_dict key) and optimizer state value
 * ("KEY.exp_avg", "KEY.exp_avg_sq", "KEY.momentum_buffer"). Metadata: the .cnn source (to
 * refuse a checkpoint of another model), g->step, g->rng, and *ts. */
int checkpoint_save(const char *path, const Graph *g, const char *source, const TrainState *ts, Error *e);

/* Reads path without trusting it, checks it belongs to this model (same source, same
 * tensors and shapes), and restores the parameters, optimizer state, g->step, g->rng and
 * *ts. g must be bound. */
int checkpoint_load(const char *path, Graph *g, const char *source, TrainState *ts, Error *e);

/* checkpoint_load's checks and restore on a file already parsed; path names it in messages. */
int checkpoint_restore(const StFile *f, const char *path, Graph *g, const char *source, TrainState *ts, Error *e);

#endif
