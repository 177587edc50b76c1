/* runtime/transforms.h: image transforms as torchvision defines them, applied per sample.
 * A Pipeline is torchvision's Compose: steps before ToTensor work on 8-bit images (as PIL
 * images), steps after it on float CHW tensors. */
#ifndef CN_TRANSFORMS_H
#define CN_TRANSFORMS_H

#include <stdint.h>

#include "error.h"
#include "rng.h"

typedef enum {
    TF_TO_TENSOR,       /* HWC uint8 -> CHW float in [0, 1] */
    TF_NORMALIZE,       /* (x - mean[c]) / std[c] */
} TransformKind;

typedef struct Transform {
    TransformKind kind;
    int   nch;                  /* Normalize: length of mean and std */
    float mean[4], std[4];
    float p;                    /* probability, for the random transforms to come */
    struct Transform *sub;      /* RandomApply's list, for the transforms to come */
    int   nsub;
} Transform;

typedef struct Pipeline {
    Transform *steps;
    int        n;
} Pipeline;

/* An 8-bit image, height x width x channels, row-major (PIL's layout). */
typedef struct Image {
    int      w, h, c;
    uint8_t *px;
} Image;

/* Runs the pipeline on img (consumed) and writes the C x H x W float tensor to out.
 * A pipeline without ToTensor gets one appended implicitly. Returns -1 with e set when
 * the result is not C x H x W. */
int pipeline_apply(const Pipeline *p, Image *img, float *out, int C, int H, int W, Rng *rng, Error *e);
void pipeline_free(Pipeline *p);

#endif
