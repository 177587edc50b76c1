/* compiler/frontend/layers.h: the torch.nn layers cnnc knows (one row each) and the model blocks:
 * the checker's interface to layers.c, model.c and forward.c (module.h is their inside). */
#ifndef CNNC_LAYERS_H
#define CNNC_LAYERS_H

#include "eval.h"

/* Builds the layer or Sequential that `call` names (name: "Conv2d", prefix stripped):
 * arguments checked, defaults filled; shapes come later. NULL after an error. */
Val *layer_call(Ctx *c, const AstNode *call, const char *name);

/* Checks the entry model (the `model NAME { ... }` that declares input): its input, its
 * attributes and the blocks they instantiate (the module tree, PyTorch's state_dict keys),
 * then its forward block, or its attributes in order, as a graph of steps with every
 * shape inferred. Fills p's model_name, model_loc, in_shape, layers, mods, steps and
 * output. */
int  model_check(Ctx *c, const AstNode *model, Program *p);

/* Reports an error when the model's output is not one score per class (a Linear after
 * Flatten): training, evaluating and predicting need that; --apply does not. */
int  model_check_classifier(Ctx *c, const Program *p);

/* Where the model's `input` was written, and the location of the argument that set the
 * out_features of the model's last layer (its call when it has none). */
SrcLoc model_input_loc(const Ctx *c);
SrcLoc model_output_loc(const Ctx *c);

#endif
