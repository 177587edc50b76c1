/* runtime/modelfile.h: model files: a graph's parameters as safetensors, named by their
 * PyTorch state_dict keys, with the class names and the .cnn source in the metadata. */
#ifndef CN_MODELFILE_H
#define CN_MODELFILE_H

#include "graph.h"
#include "safetensors.h"

/* Whether value v is saved in model files (a parameter or a buffer, VK_BUFFER), and its
 * safetensors dtype (F32, I32, or I64 for num_batches_tracked) */
int model_value_saved(const Value *v);
StDType model_value_st_dtype(const Value *v);

/* Writes every parameter and buffer (atomically). classes may be NULL. */
int model_save(const Graph *g, const char *path, char *const *classes, int nclasses,
               const char *source, Error *e);

/* Loads every parameter of g from path: the file must hold exactly g's parameters with
 * the same shapes; the first difference is named. On success *meta_out (if not NULL)
 * keeps the file open for safetensors_meta; the caller frees it. */
int model_load(Graph *g, const char *path, StFile *meta_out, Error *e);

/* model_load's check and copy on a file already parsed (path names it in messages); with
 * with_state, the optimizer state values (VK_STATE) are expected and loaded too. */
int model_load_values(Graph *g, const StFile *f, const char *path, int with_state, Error *e);

/* The class names stored by model_save (a JSON list in metadata "classes"), or -1. */
int model_classes(const StFile *f, char ***names, int *n, Error *e);

#endif
