/* compiler/frontend/transform_calls.h: the torchvision transforms of a .cnn file: building each from
 * its call with torchvision 0.14's parameters and checks, and inferring the size and
 * channels a pipeline hands to the model. */
#ifndef CNNC_TRANSFORM_CALLS_H
#define CNNC_TRANSFORM_CALLS_H

#include "builtins.h"

/* Builds the transform `name` (Compose, ToTensor, Normalize, RandomHorizontalFlip, ...);
 * NULL after reporting an error. */
Val *transform_call(Ctx *c, const AstNode *call, const char *name);

/* torchvision's order: ToTensor once, Normalize after it, image transforms before it. */
int pipeline_check_order(Ctx *c, const TfObj *t);

/* What a pipeline makes of images of c channels and h x w pixels (0: not known before
 * reading the images), and where each came from, for messages. */
typedef struct TfShape {
    int    c, h, w;
    SrcLoc c_at, hw_at;         /* the transform that set them; line 0: the data set */
} TfShape;

/* Runs the shape rules of every step over *s; reports an impossible step (a crop larger
 * than a known image, a fill with the wrong number of values) at its location. */
int pipeline_infer(Ctx *c, const TfObj *t, TfShape *s);
/* 1 when the pipeline has a Grayscale step (the images are then read as RGB). */
int pipeline_has_grayscale(const TfObj *t);

#endif
