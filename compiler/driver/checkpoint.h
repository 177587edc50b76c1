/* compiler/driver/checkpoint.h: training checkpoints (--checkpoint, --resume): everything a
 * killed run needs to continue and end bit-identical to an uninterrupted one, as one
 * safetensors file written atomically. */
#ifndef CNNC_CHECKPOINT_H
#define CNNC_CHECKPOINT_H

#include <stdint.h>

#include "../../runtime/graph.h"
#include "../../runtime/safetensors.h"

/* Where training stands: the loader's order is derived from (seed, epoch), so the epoch
 * and the batches done in it fix the loader's position. */
typedef struct TrainState {
    int      epoch;             /* 0-based epoch in progress */
    int      batch;             /* batches of it done (and applied) */
    double   loss_sum;          /* the epoch's running sums, so its log line comes out the same */
    int64_t  correct, images;
    uint64_t seed;
    int      threads;
    char    *history;           /* the finished epochs' figures (checkpoint_history_line), or NULL */
    int      ranks;             /* processes of a data-parallel run (mpirun -np); 1 without */
} TrainState;

/* Tensors: every parameter (its state_dict key) and optimizer state value
 * ("KEY.exp_avg", "KEY.exp_avg_sq", "KEY.momentum_buffer"). Metadata: the .cnn source (to
 * refuse a checkpoint of another model), g->step, g->rng, and *ts, its history included (so
 * that a resumed run's report shows the epochs before the checkpoint too). */
int checkpoint_save(const char *path, const Graph *g, const char *source, const TrainState *ts, Error *e);

/* Reads path without trusting it, checks it belongs to this model (same source, same
 * tensors and shapes), and restores the parameters, optimizer state, g->step, g->rng and
 * *ts. g must be bound. ts->history is allocated (NULL in a checkpoint without one): the
 * caller frees it. */
int checkpoint_load(const char *path, Graph *g, const char *source, TrainState *ts, Error *e);

/* checkpoint_load's checks and restore on a file already parsed; path names it in messages. */
int checkpoint_restore(const StFile *f, const char *path, Graph *g, const char *source, TrainState *ts, Error *e);

/* The history is one line per finished epoch of CKPT_HISTORY_FIELDS numbers separated by
 * spaces (train.c decides what they are); the fields in the CKPT_HISTORY_INTS mask are
 * integers from 0 to INT32_MAX. Reads the line at *cursor into v and moves past it: 1, or
 * 0 at the end, or -1 when the line is not such numbers. */
/* A .cnn source reduced to its tokens (no comments, no layout): --resume compares these,
 * so a comment or a reformatting keeps a checkpoint valid and any other change does not.
 * The caller frees. */
char *checkpoint_source_tokens(const char *src);

#define CKPT_HISTORY_FIELDS 11      /* the last (the epoch's lr) may be missing: it is then NaN */
#define CKPT_HISTORY_INTS 0x1bbu     /* fields 0, 1, 3, 4, 5, 7, 8 */
int checkpoint_history_line(const char **cursor, double *v);

#endif
