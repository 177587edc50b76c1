/* compiler/driver/train.h: the notebook's training loop, evaluation and prediction, driven from a
 * checked Program over a lowered, planned and bound graph. */
#ifndef CNNC_TRAIN_H
#define CNNC_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "../../runtime/data.h"
#include "../../runtime/graph.h"
#include "checkpoint.h"
#include "../frontend/program.h"

/* One epoch's figures, as the notebook's line prints them (the --report hook gets these). */
typedef struct EpochStats {
    int    epoch, epochs;       /* 1-based */
    double train_loss;
    int    train_correct, train_total;
    int    has_test;
    double test_loss;
    int    test_correct, test_total;
    double seconds;             /* the epoch: training and test passes */
    double lr;                  /* the learning rate it started with (the first parameter group's) */
} EpochStats;

typedef struct RunOptions {
    int         epochs;         /* overrides NUM_EPOCHS when > 0 */
    uint64_t    seed;
    const char *data_dir;       /* --data: replaces the folder holding train/test/validate */
    const char *out_path;       /* model file to write after training */
    const char *history_path;   /* --history: per-epoch CSV, or NULL */
    void (*on_epoch)(void *ctx, const EpochStats *s);  /* after each epoch's line, or NULL */
    void       *on_epoch_ctx;
    LoaderOptions loader;       /* --workers, --skip-bad-images */
    size_t      cache_bytes;    /* --cache-mb: decoded images kept per data set */
    const char *checkpoint_path;    /* --checkpoint, or NULL: where checkpoints (and SIGINT's) go */
    int         checkpoint_every;   /* batches between checkpoints; 0: at each epoch's end */
    const TrainState *resume;       /* --resume: where the restored run stands, or NULL */
    int         threads;            /* recorded in checkpoints */
    const char *interrupt_path;     /* where SIGINT's checkpoint goes without --checkpoint */
    int         save_best;          /* --save-best: the model file keeps the best epoch's weights */
    int         early_stop;         /* --early-stop N: stop after N epochs without a better one; 0: never */
} RunOptions;

/* train_run's return value when SIGINT or SIGTERM stopped it after writing a checkpoint or,
 * after the last epoch, the model file (e says where); train_signal() says which signal */
#define TRAIN_INTERRUPTED 2
int train_signal(void);

/* evaluate's return value when such a signal came during train_run's evaluation */
#define EVAL_INTERRUPTED 1

typedef struct EvalResult {
    double loss;                /* mean over batches, as the notebook reports */
    int    correct, total, batches;
} EvalResult;

/* The data sets the program declares, opened; class names from `classes` or the folders. */
typedef struct Sets {
    Dataset     train, test, validation;
    int         has_train, has_test, has_validation;
    char      **classes;
    int         nclasses;
    int         owns_classes;
} Sets;

int  sets_open(const Program *p, const RunOptions *o, int need_train, Sets *s, Error *e);
void sets_free(Sets *s);

/* Trains for the configured epochs, printing the notebook's line per epoch to out; writes
 * the model file, then the validation set's line (a failure after training says the model
 * was saved). Writes checkpoints as o asks and the --history CSV (atomically) after each
 * epoch; on SIGINT or SIGTERM finishes the batch, writes a checkpoint and returns
 * TRAIN_INTERRUPTED; on a non-finite loss stops at once (-1), leaving the last checkpoint
 * as it was. After a successful run the automatic checkpoint (o->interrupt_path) is removed. */
int train_run(const Program *p, Graph *g, Sets *s, const RunOptions *o, FILE *out, Error *e);

/* Forward passes only (Dropout off) over a whole data set. */
int evaluate(Graph *g, const Dataset *ds, const DatasetDecl *d, const RunOptions *o, EvalResult *r, Error *e);

/* Bad images skipped in the open data sets (--skip-bad-images), each counted once. */
int sets_skipped(const Sets *s);

/* --preview-augment N: writes N augmented versions (the transform's steps before ToTensor) of
 * the first image of each class of the training set (else the test or validation set) to
 * dir/<class>_<k>.png. */
int preview_augment(const Program *p, const Sets *s, const RunOptions *o, int n, const char *dir, FILE *out, Error *e);

/* One line per image: path, predicted class, softmax probability of every class. An image
 * that cannot be read or transformed is said on stderr (not with skip_bad) and counted in
 * *bad, and the others go on (the caller checks the writes to out). */
void predict_images(const Program *p, Graph *g, char *const *classes, int nclasses,
                    char *const *paths, int npaths, int skip_bad, int *bad, FILE *out);

/* The class names for a model file mf (path) loaded for p: its metadata "classes", checked
 * against the model's outputs and the .cnn's `classes` (a difference is an error), and,
 * where the .cnn names none, against the data folders of s (if not NULL: a difference is
 * a warning to warn); else the .cnn's names. *names (n of them, possibly none) is
 * allocated: the caller frees each and the list. */
int model_file_classes(const Program *p, const StFile *mf, const char *path, const Sets *s, FILE *warn,
                       char ***names, int *n, Error *e);

#endif
