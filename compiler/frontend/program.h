/* compiler/frontend/program.h: a checked .cnn file, as the checker hands it to the lowering and the
 * driver. Every number here has been validated and every shape inferred; each item keeps
 * its source location for messages and for --dump-graph. */
#ifndef CNNC_PROGRAM_H
#define CNNC_PROGRAM_H

#include "../../runtime/lr_scheduler.h"
#include "../../runtime/transforms.h"

typedef struct SrcLoc {
    int line, col;              /* 1-based; 0 when there is none */
    int end_col;                /* one past the last column of the construct on that line */
} SrcLoc;

typedef enum {
    L_CONV2D, L_RELU, L_MAXPOOL2D, L_DROPOUT, L_FLATTEN, L_LINEAR,
    L_BATCHNORM2D, L_BATCHNORM1D, L_AVGPOOL2D, L_ADAPTIVE_AVGPOOL2D, L_ADAPTIVE_MAXPOOL2D,
    L_LEAKY_RELU, L_ELU, L_GELU, L_SILU, L_SIGMOID, L_TANH, L_RELU6, L_HARDSWISH,
    L_HARDSIGMOID, L_SOFTMAX, L_LOG_SOFTMAX, L_IDENTITY, L_DROPOUT2D
} LayerKind;

typedef struct Layer {
    LayerKind kind;
    const char *type_name;      /* "Conv2d", as written in PyTorch */
    char   key[96];             /* state_dict prefix: "conv_layers.0" */
    SrcLoc loc;                 /* the layer's call */
    /* Conv2d / Linear */
    int in_ch, out_ch, kernel, stride, padding, bias;   /* Linear: in_ch/out_ch are features */
    /* MaxPool2d: kernel, stride (default kernel), padding above */
    double p;                   /* Dropout, Dropout2d */
    /* windows (Conv2d, MaxPool2d, AvgPool2d): height and width; kernel, stride and padding
     * above are the height's (equal to the width's when square) */
    int kernel_hw[2], stride_hw[2], padding_hw[2], dilation[2];
    int groups;                 /* Conv2d */
    int reflect;                /* Conv2d padding_mode='reflect' */
    int ceil_mode;              /* MaxPool2d, AvgPool2d */
    int count_include_pad;      /* AvgPool2d */
    int out_hw[2];              /* AdaptiveAvgPool2d, AdaptiveMaxPool2d: output size */
    /* BatchNorm2d / BatchNorm1d: in_ch is num_features */
    double eps, momentum;
    int momentum_none, affine, track_running_stats;
    double alpha;               /* LeakyReLU negative_slope, ELU alpha */
    int approximate_tanh;       /* GELU(approximate='tanh') */
    int functional;             /* F.relu(x) and the like in a forward: no module, no key */
    /* per-sample output shape, inferred */
    int out_ndim, out_shape[3];
    /* constant weights given in the file (Sobel example), frozen */
    float *weight, *bias_data;  /* NULL unless given */
    int frozen;
} Layer;

/* One step of the model's dataflow graph: the forward pass, in order. Without a forward
 * block the steps are the layers in attribute order, each reading the one before. */
#define STEP_MAX_IN 5
typedef enum {
    S_INPUT,                    /* the model's input */
    S_LAYER,                    /* applies Program.layers[layer] to in[0] */
    S_ADD,                      /* in[0] + in[1], one shape */
    S_CAT                       /* torch.cat(in, dim=1) */
} StepKind;

typedef struct Step {
    StepKind kind;
    int      layer;             /* S_LAYER */
    int      in[STEP_MAX_IN], nin;  /* earlier steps */
    SrcLoc   loc;               /* the call, `+` or torch.cat */
    char     label[96];         /* the layer's key, or the module the step is in ("layer1.0") */
    int      out_ndim, out_shape[3];
} Step;

/* The module tree in pre-order, as PyTorch's named_modules() lists it (the entry model
 * itself left out): containers (Sequential, blocks) and layers, with full names. */
typedef struct ModuleEntry {
    char        name[96];       /* "layer1.0.conv1" */
    char        type_name[64];  /* "Conv2d", "Sequential", "BasicBlock" */
    int         depth;          /* 1 for the entry model's attributes */
    int         layer;          /* Program.layers index, -1 for a container */
    int         first, end;     /* the layers below it: [first, end) */
} ModuleEntry;

typedef enum { OPT_NONE, OPT_ADAM, OPT_SGD, OPT_ADAMW, OPT_RMSPROP } OptKind;

/* A torch parameter group, written dict(params=SELECT, lr=..., ...): SELECT is a glob over
 * the state_dict keys ("*.bias") or one of the words biases, norm (BatchNorm weights and
 * biases), rest (every parameter no other group selects); its options default to the
 * optimizer's. */
#define OPT_MAX_GROUPS 8
#define OPT_MAX_SELECT 8
typedef struct ParamGroup {
    char    select[OPT_MAX_SELECT][96];
    int     nselect;
    SrcLoc  loc;
    double  lr, beta1, beta2, eps, weight_decay, momentum, dampening, alpha;
    int     nesterov, amsgrad, centered;
} ParamGroup;

typedef struct Optimizer {
    OptKind kind;
    SrcLoc  loc;
    double  lr, beta1, beta2, eps, weight_decay;    /* Adam: defaults 1e-3, 0.9, 0.999, 1e-8, 0
                                                      (AdamW: weight_decay 0.01) */
    double  momentum, dampening;                   /* SGD: lr required; defaults 0 */
    int     nesterov;
    int     amsgrad;                               /* Adam, AdamW */
    double  alpha;                                 /* RMSprop: lr 0.01, alpha 0.99, eps 1e-8, */
    int     centered;                              /* weight_decay 0, momentum 0, centered False */
    ParamGroup groups[OPT_MAX_GROUPS];             /* params=[dict(...), ...]; none: one group */
    int     ngroups;
} Optimizer;

/* criterion = CrossEntropyLoss(...) or NLLLoss(...): torch's options */
typedef struct LossDecl {
    int     nll;                /* NLLLoss */
    int     sum;                /* reduction='sum' (else 'mean') */
    int64_t ignore_index;       /* -100 */
    double  label_smoothing;    /* CrossEntropyLoss: 0.0 */
    float  *weight;             /* the class weights, or NULL (owned by the Program) */
    int     nweight;
    SrcLoc  weight_loc;
} LossDecl;

/* clip_grad_norm_(model.parameters(), max_norm, norm_type=2.0) or
 * clip_grad_value_(model.parameters(), clip_value): a statement of the training part */
typedef enum { CLIP_NONE, CLIP_NORM, CLIP_VALUE } ClipKind;
typedef struct ClipDecl {
    ClipKind kind;
    double   max_norm, norm_type;   /* norm_type: INFINITY for 'inf' */
    double   clip_value;
    SrcLoc   loc;
} ClipDecl;

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
    Layer *layers; int nlayers; /* the modules' layers in pre-order, then functional ones */
    Step  *steps;  int nsteps;  /* the forward pass (steps[0]: the input) */
    int    output;              /* the step whose value the model returns */
    int    out_ndim, out_shape[3];  /* its per-sample shape */
    int    has_forward;         /* the entry model has a forward block */
    ModuleEntry *mods; int nmods;
    DatasetDecl train, test, validation;
    char **classes; int nclasses;  /* from `classes = [...]`, else NULL / 0 */
    int    batch_size;          /* BATCH_SIZE, default 10 */
    int    epochs;              /* NUM_EPOCHS, default 10 */
    int    has_loss;            /* criterion = CrossEntropyLoss() or NLLLoss() */
    int    nll_loss;            /* NLLLoss(): the model ends with LogSoftmax */
    SrcLoc loss_loc;
    LossDecl loss;              /* its options */
    Optimizer opt;
    LrScheduler sched;          /* `scheduler = StepLR(optimizer, ...)`; sched.top.kind LRS_NONE without */
    SrcLoc sched_loc;
    ClipDecl clip;              /* gradient clipping before the optimizer's step */
    const char *overrides;      /* the command line's --lr, --batch-size, --weight-decay (applied
                                   above) as a JSON object, recorded in model files; or NULL */
} Program;

void program_free(Program *p);

#endif
