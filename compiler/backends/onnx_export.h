/* compiler/backends/onnx_export.h: the ONNX back end (--export-onnx): the inference graph
 * the runtime executes for --predict, written as an ONNX model (opset 13) with protobuf-c. */
#ifndef CNNC_ONNX_EXPORT_H
#define CNNC_ONNX_EXPORT_H

#include "../../runtime/graph.h"
#include "../frontend/program.h"

/* Writes g (lowered by lower_program for inference, bound, its weights loaded) to path,
 * atomically: input "input" [batch, C, H, W], output "probs" [batch, classes] (the class
 * probabilities --predict prints), initializers named by their state_dict keys, classes
 * (n of them) in metadata_props "class_names" as a JSON list. -1 with e set (naming p's
 * file, the layer and its line) for a layer ONNX cannot express. */
int onnx_export(const Graph *g, const Program *p, char *const *classes, int nclasses, const char *path,
                Error *e);

#endif
