/* compiler/driver/report.h: --report FILE.html: one self-contained HTML page about a training run
 * (no network, no scripts): the loss and accuracy curves as SVG, confusion matrices and
 * per-class accuracy on the test and validation sets, the validation images captioned with
 * their predicted and true classes, the model summary and every hyperparameter. */
#ifndef CNNC_REPORT_H
#define CNNC_REPORT_H

#include <stdio.h>

#include "../../runtime/graph.h"
#include "../passes/plan.h"
#include "../frontend/program.h"
#include "train.h"

typedef struct Report Report;

/* Before training: keeps p, the run's options and the summary of g (lowered and planned). */
Report *report_new(const Program *p, const Graph *g, const PlanStats *st, const RunOptions *o, int threads);

/* RunOptions.on_epoch: records one epoch's figures (ctx is the Report). */
void report_epoch(void *ctx, const EpochStats *s);

/* After training: predicts every test and validation image with g, then writes the page to
 * path atomically and says so on log. */
int report_write(Report *r, Graph *g, const Sets *s, const char *path, FILE *log, Error *e);

void report_free(Report *r);    /* NULL is fine */

#endif
