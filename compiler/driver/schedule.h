/* compiler/driver/schedule.h: what training does between steps besides the optimizer: the
 * learning-rate scheduler (stepped per epoch, OneCycleLR per batch, setting the optimizer
 * nodes' lr) and the best epoch for --save-best and --early-stop. Both are rebuilt from a
 * checkpoint's history on --resume, so they continue exactly. */
#ifndef CNNC_SCHEDULE_H
#define CNNC_SCHEDULE_H

#include "../../runtime/error.h"
#include "../../runtime/graph.h"
#include "../frontend/program.h"

typedef struct RunSchedule {
    LrScheduler s;
    int         active;         /* the file declares a scheduler */
    double      lr0;            /* the optimizer's lr (group 0) without one */
    double      start_lr;       /* the lr the epoch a resumed run continues started with, or -1 */
} RunSchedule;

/* Starts the file's scheduler on g's optimizer groups and replays the steps a resumed run
 * had taken: `epochs_done` epochs (their test losses in `history`, checkpoint_history_line's
 * lines) or, for OneCycleLR, g->step batches. Checks that a OneCycleLR's total steps cover
 * `epochs` x `nbatches`. */
int    schedule_begin(RunSchedule *rs, const Program *p, Graph *g, int epochs, int nbatches, int epochs_done,
                      const char *history, Error *e);
void   schedule_after_batch(RunSchedule *rs, Graph *g);
void   schedule_after_epoch(RunSchedule *rs, Graph *g, double test_loss);
/* The lr now (the first parameter group's) */
double schedule_lr(const RunSchedule *rs);
/* The lr the epoch starting now started with: schedule_lr, except for the first epoch of a
 * run resumed mid-epoch under OneCycleLR (the lr of that epoch's first batch) */
double schedule_epoch_lr(RunSchedule *rs);

/* The best epoch by test accuracy (ties: the lower test loss) and the epochs since it. */
typedef struct BestEpoch {
    int    epoch;               /* 1-based; 0 before any */
    int    correct, total;
    double loss;
    int    since;               /* epochs after it without improvement */
} BestEpoch;

/* Counts one epoch; returns 1 when it is the new best. */
int  best_epoch_update(BestEpoch *b, int epoch, int correct, int total, double loss);
/* The same over a checkpoint's history */
void best_epoch_from_history(BestEpoch *b, const char *history);

#endif
