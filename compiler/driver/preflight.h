/* compiler/driver/preflight.h: the data check before any work: every data set the run reads,
 * opened and checked, every bad image reported at once. */
#ifndef CNNC_PREFLIGHT_H
#define CNNC_PREFLIGHT_H

#include "../frontend/program.h"
#include "train.h"

/* sets_open (folders, class counts), then dataset_check on every set opened: each bad image
 * is a line on stderr ("cnnc: error: FILE: why"), or with o->loader.skip_bad a warning, and
 * is marked bad so that the loader skips it. Fails (e says how many and what to do) when any
 * image is bad without skip_bad, or when a set has no good image left. */
int sets_check(const Program *p, const RunOptions *o, int need_train, Sets *s, Error *e);

/* Samples of a data set that will be read: those not found bad. */
int sets_good(const Dataset *ds);

/* --check's line: "Data checked: 175 training, 50 test, 25 validation images (5 classes), ..." */
void sets_print(FILE *out, const Sets *s);

#endif
