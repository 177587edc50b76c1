/* compiler/frontend/training_calls.h: the training part's calls (training_calls.c), which
 * call_builtin resolves: each builds its object from its call with torch 1.13's parameters
 * and checks, or returns NULL after reporting an error. */
#ifndef CNNC_TRAINING_CALLS_H
#define CNNC_TRAINING_CALLS_H

#include "builtins.h"

/* CrossEntropyLoss(...), NLLLoss(...): a LossDecl (OBJ_LOSS) */
Val *call_loss(Ctx *c, const AstNode *call, const char *name);
/* Adam, AdamW, RMSprop, SGD, with params a list of dict(...) parameter groups: an Optimizer */
Val *call_optimizer(Ctx *c, const AstNode *call, const char *name);
/* clip_grad_norm_(...), clip_grad_value_(...) (name without its prefix): a ClipDecl (OBJ_CLIP) */
Val *call_clip(Ctx *c, const AstNode *call, const char *name);

#endif
