/* compiler/program.h: a checked .cnn file, as the checker hands it to the lowering and the
 * driver. Every number here has been validated and every shape inferred; each item keeps
 * its source location for messages and for --dump-graph. */
#ifndef CNNC_PROGRAM_H
#define CNNC_PROGRAM_H

#include "../runtime/transforms.h"

typedef struct SrcLoc {
    int line, col;              /* 1-based; 0 when there is none */
    int end_col;                /* one past the last column of the construct on that line */
} SrcLoc;

typedef enum { L_CONV2D, L_RELU, L_MAXPOOL2D, L_DROPOUT, L_FLATTEN, L_LINEAR } LayerKind;

typedef struct Layer {
    LayerKind kind;
    const char *type_name;      /* "Conv2d", as written in PyTorch */
    char   key[96];             /* state_dict prefix: "conv_layers.0" */
    SrcLoc loc;                 /* the layer's call */
    /* Conv2d / Linear */
    int in_ch, out_ch, kernel, stride, padding, bias;   /* Linear: in_ch/out_ch are features */
    /* MaxPool2d: kernel, stride (default kernel), padding above */
    double p;                   /* Dropout */
    /* per-sample output shape, inferred */
    int out_ndim, out_shape[3];
    /* constant weights given in the file (Sobel example), frozen */
    float *weight, *bias_data;  /* NULL unless given */
    int frozen;
} Layer;

typedef enum { OPT_NONE, OPT_ADAM, OPT_SGD } OptKind;

typedef struct Optimizer {
    OptKind kind;
    SrcLoc  loc;
    double  lr, beta1, beta2, eps, weight_decay;    /* Adam: defaults 1e-3, 0.9, 0.999, 1e-8, 0 */
    double  momentum, dampening;                   /* SGD: lr required; defaults 0 */
    int     nesterov;
} Optimizer;

typedef enum { DS_IMAGEFOLDER, DS_MNIST, DS_FASHION_MNIST } DatasetKind;

typedef struct DatasetDecl {
    int    present;
    DatasetKind kind;
    int    train;               /* MNIST, FashionMNIST: train=True */
    int    load_channels;       /* channels the images are read as (ImageFolder: 3, or 1 for a
                                   1-channel model without Grayscale; MNIST: 1) */
    char  *path;                /* as written */
    char  *resolved;            /* relative to the .cnn file's folder */
    SrcLoc loc;
    Pipeline transform;
    int    batch_size;          /* from a DataLoader, else BATCH_SIZE */
    int    shuffle;             /* from a DataLoader, else train: 1, others: 0 */
} DatasetDecl;

typedef struct Program {
    const char *path;           /* the .cnn file as named on the command line */
    char  *source;              /* its whole text */
    char   model_name[64];
    SrcLoc model_loc;
    int    in_shape[3];         /* C, H, W */
    Layer *layers; int nlayers; /* flattened, in forward order */
    DatasetDecl train, test, validation;
    char **classes; int nclasses;  /* from `classes = [...]`, else NULL / 0 */
    int    batch_size;          /* BATCH_SIZE, default 10 */
    int    epochs;              /* NUM_EPOCHS, default 10 */
    int    has_loss;            /* criterion = CrossEntropyLoss() */
    SrcLoc loss_loc;
    Optimizer opt;
    const char *overrides;      /* the command line's --lr, --batch-size, --weight-decay (applied
                                   above) as a JSON object, recorded in model files; or NULL */
} Program;

void program_free(Program *p);

#endif
