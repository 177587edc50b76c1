/* runtime/transforms.h: image transforms as torchvision 0.14 defines them for PIL images,
 * applied per sample. A Pipeline is torchvision's Compose: steps before ToTensor work on
 * 8-bit images (as PIL images, with PIL's arithmetic), steps after it on float CHW tensors. */
#ifndef CN_TRANSFORMS_H
#define CN_TRANSFORMS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rng.h"

typedef enum {
    TF_TO_TENSOR,               /* HWC uint8 -> CHW float in [0, 1] */
    TF_NORMALIZE,               /* (x - mean[c]) / std[c] */
    TF_HFLIP,                   /* RandomHorizontalFlip(p) */
    TF_VFLIP,                   /* RandomVerticalFlip(p) */
    TF_ROTATION,                /* RandomRotation(degrees, center, fill): nearest, same size */
    TF_COLOR_JITTER,            /* ColorJitter(brightness, contrast, saturation, hue) */
    TF_PERSPECTIVE,             /* RandomPerspective(distortion_scale, p, fill): bilinear */
    TF_RANDOM_APPLY,            /* RandomApply(transforms, p) */
    TF_RESIZE,                  /* Resize(size): bilinear, PIL's antialiased resampling */
    TF_CENTER_CROP,             /* CenterCrop(size) */
    TF_RANDOM_CROP,             /* RandomCrop(size, padding, pad_if_needed, fill, padding_mode) */
    TF_RANDOM_RESIZED_CROP,     /* RandomResizedCrop(size, scale, ratio) */
    TF_GRAYSCALE,               /* Grayscale(num_output_channels) */
    TF_NKINDS
} TransformKind;

typedef enum { PAD_CONSTANT, PAD_EDGE, PAD_REFLECT, PAD_SYMMETRIC } PadMode;
enum { JIT_BRIGHTNESS, JIT_CONTRAST, JIT_SATURATION, JIT_HUE };

typedef struct Transform {
    TransformKind kind;
    int    nch;                 /* Normalize: length of mean and std */
    float  mean[4], std[4];
    double p;                   /* flips, RandomPerspective, RandomApply: probability */
    double degrees[2];          /* RandomRotation: the angle is uniform in [degrees[0], degrees[1]] */
    int    has_center;          /* RandomRotation: center (x, y) in PIL's pixel coordinates */
    double center[2];
    int    nfill;               /* fill: 0 (none: 0), 1 (every channel) or one per channel */
    uint8_t fill[4];
    int    has_jitter[4];       /* ColorJitter: which of brightness, contrast, saturation, hue */
    double jitter[4][2];        /*   apply, and each factor's range */
    double distortion;          /* RandomPerspective: distortion_scale */
    int    bilinear;            /* RandomPerspective: 1 bilinear (the default), 0 nearest */
    int    size[2];             /* Resize, crops: h, w; Resize with size[1] == 0: the smaller edge */
    int    padding[4];          /* RandomCrop: left, top, right, bottom */
    int    pad_if_needed;
    PadMode padding_mode;
    double scale[2], ratio[2];  /* RandomResizedCrop */
    int    out_channels;        /* Grayscale: 1 or 3 */
    struct Transform *sub;      /* RandomApply's list */
    int    nsub;
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

/* Working memory for one thread running pipelines: grows to the largest image seen, then
 * is reused, so a warm pipeline allocates nothing. Zero-initialise; free with tf_scratch_free. */
typedef struct TfScratch {
    uint8_t *buf[3];
    size_t   cap[3];
    void    *coef;              /* resampling coefficients */
    size_t   coef_cap;
} TfScratch;

void tf_scratch_free(TfScratch *s);

/* Runs the pipeline on src (not modified) and writes the C x H x W float tensor to out.
 * A pipeline without ToTensor gets one appended implicitly. Returns -1 with e set when
 * a step fails or the result is not C x H x W. */
int pipeline_run(const Pipeline *p, const Image *src, float *out, int C, int H, int W, Rng *rng,
                 TfScratch *s, Error *e);
/* The same, consuming img (its pixels are freed), with temporary scratch memory. */
int pipeline_apply(const Pipeline *p, Image *img, float *out, int C, int H, int W, Rng *rng, Error *e);
/* Runs only the steps before ToTensor: the augmented image as torchvision would hand it to
 * ToTensor. *out points into s (valid until s is next used). */
int pipeline_run_image(const Pipeline *p, const Image *src, Image *out, Rng *rng, TfScratch *s, Error *e);

/* A deep copy (RandomApply's lists included) owned by the caller: free with pipeline_free. */
void pipeline_copy(Pipeline *dst, const Transform *steps, int n);
void pipeline_free(Pipeline *p);
const char *transform_name(TransformKind k);

#endif
