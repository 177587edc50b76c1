/* compiler/summary.h: the model summary that --check prints (layer, output shape, parameters). */
#ifndef CNNC_SUMMARY_H
#define CNNC_SUMMARY_H

#include <stdio.h>

#include "plan.h"
#include "program.h"

/* st may be NULL when no training plan was made. */
void print_summary(FILE *f, const Program *p, const PlanStats *st, int batch);

/* Number of parameters of one layer. */
long layer_params(const Layer *L);

#endif
