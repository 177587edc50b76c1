/* runtime/modelfile.h: model files: a graph's parameters as safetensors, named by their
 * PyTorch state_dict keys, with the class names and the .cnn source in the metadata. */
#ifndef CN_MODELFILE_H
#define CN_MODELFILE_H

#include <stdio.h>

#include "graph.h"
#include "safetensors.h"

/* Whether value v is saved in model files (a parameter or a buffer, VK_BUFFER), and its
 * safetensors dtype (F32, I32, or I64 for num_batches_tracked) */
int model_value_saved(const Value *v);
StDType model_value_st_dtype(const Value *v);

/* Writes every parameter and buffer (atomically). classes may be NULL. */
int model_save(const Graph *g, const char *path, char *const *classes, int nclasses,
               const char *source, Error *e);
/* The same with metadata "cnnc_overrides": the command line's hyperparameters as a JSON
 * object (NULL: none, as model_save). */
int model_save_overrides(const Graph *g, const char *path, char *const *classes, int nclasses,
                         const char *source, const char *overrides, Error *e);

/* Loads every parameter of g from path: the file must hold exactly g's parameters with
 * the same shapes; the first difference is named. On success *meta_out (if not NULL)
 * keeps the file open for safetensors_meta; the caller frees it. */
int model_load(Graph *g, const char *path, StFile *meta_out, Error *e);

/* model_load's check and copy on a file already parsed (path names it in messages); with
 * with_state, the optimizer state values (VK_STATE) are expected and loaded too. */
int model_load_values(Graph *g, const StFile *f, const char *path, int with_state, Error *e);

/* --train --weights: training starts from f's tensors. Strict (partial 0): f must hold
 * exactly g's parameters with their shapes, else an error listing the differences (the
 * first four). Partial: copies the tensors whose name and shape match, and says on warn
 * what it skipped; an error when none matches. */
int model_load_start(Graph *g, const StFile *f, const char *path, int partial, FILE *warn, Error *e);

/* The class names stored by model_save (a JSON list in metadata "classes"), or -1. */
int model_classes(const StFile *f, char ***names, int *n, Error *e);

#endif
