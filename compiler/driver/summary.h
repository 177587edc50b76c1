/* compiler/driver/summary.h: the model summaries: the short one --check prints (layer, output shape,
 * parameters) and --summary's table (with multiply-accumulates, totals, model file size and
 * the memory plan), as Keras' model.summary() and torchinfo print them. */
#ifndef CNNC_SUMMARY_H
#define CNNC_SUMMARY_H

#include <stdio.h>

#include "../../runtime/graph.h"
#include "../passes/plan.h"
#include "../frontend/program.h"

/* st may be NULL when no training plan was made. */
void print_summary(FILE *f, const Program *p, const PlanStats *st, int batch);

/* Number of parameters of one layer. */
long layer_params(const Layer *L);

/* --summary's table. g is the lowered and planned graph (its parameters give the model file's
 * tensors); st its plan; training: the plan includes backward and the optimizer. */
void print_model_summary(FILE *f, const Program *p, const Graph *g, const PlanStats *st, int training);

/* Multiply-accumulates of one layer for one sample (Conv2d: out_channels x out_h x out_w x
 * in_channels x k x k; Linear: out x in; bias additions and the other layers: 0). */
long long layer_macs(const Layer *L);

/* The size in bytes of the model file --train writes for g: the safetensors header (with the
 * class names and the .cnn source in its metadata) and the float32 tensors. */
long long model_file_bytes(const Program *p, const Graph *g, char *const *classes, int nclasses);

#endif
