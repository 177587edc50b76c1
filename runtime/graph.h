/* runtime/graph.h: the graph IR. Values are tensors with static shapes (float32 NCHW or
 * int32); nodes apply one op from the op table (ops.h) to values. The compiler builds a
 * graph through this API; the executor (exec.h) runs it over storage bound by the plan. */
#ifndef CN_GRAPH_H
#define CN_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rng.h"

#define CN_MAX_DIMS 4
#define CN_MAX_IN   6   /* batchnorm: x, weight, bias, running_mean, running_var, num_batches_tracked */
#define CN_MAX_OUT  3

typedef enum { DT_F32, DT_I32, DT_I64 } DType;   /* DT_I64: BatchNorm's num_batches_tracked */

typedef enum {
    VK_INPUT,   /* the batch of images fed to each step */
    VK_LABEL,   /* the batch of class indices (int32) */
    VK_PARAM,   /* a learnable tensor: persistent, saved in model files under its state_dict key */
    VK_GRAD,    /* the gradient of a parameter: persistent, contiguous, like PyTorch's .grad */
    VK_STATE,   /* optimizer state (Adam's moments, SGD's momentum buffer): persistent */
    VK_ACT,     /* everything else: storage shared by liveness (the memory plan) */
    VK_BUFFER,  /* a module buffer (BatchNorm's running_mean, running_var, num_batches_tracked):
                 * persistent (in the parameter block), saved in and loaded from model files
                 * under its state_dict key; never given a gradient, skipped by optimizers */
} ValueKind;

typedef struct Value {
    char      name[96];   /* state_dict key for parameters ("conv_layers.0.weight") */
    ValueKind kind;
    DType     dtype;
    int       ndim;
    int       shape[CN_MAX_DIMS];
    int       batched;    /* dim 0 is the batch: resized by graph_set_batch */
    int       view_of;    /* -1, or the value whose storage this one shares (Flatten) */
    int       producer;   /* node index, -1 for inputs, parameters and state */
    int       requires_grad;
    int       grad;       /* value holding d(loss)/d(this), -1 until autodiff sets it */
    int       keep;       /* read by the caller after a run: live until the end */
    int       frozen;     /* a parameter the optimizer leaves alone */
    int       cached;     /* computed from parameters and buffers alone (batchnorm_fold's outputs):
                           * storage of its own for the whole run (the plan), and recomputed
                           * only when the parameters have changed since (exec.c) */
    size_t    offset;     /* byte offset in its block, set by the memory plan */
    void     *data;       /* bound storage (graph_bind) */
} Value;

typedef enum { PHASE_FORWARD = 1, PHASE_BACKWARD = 2, PHASE_UPDATE = 4 } Phase;

/* Attributes of every op, by name; each op reads the ones it documents. */
typedef struct Attrs {
    int   kernel, stride, padding;      /* Conv2d, MaxPool2d */
    int   pool_kernel, pool_stride, pool_padding;  /* the MaxPool2d of a fused conv2d_relu_maxpool2d */
    double p;                           /* Dropout */
    double lr, beta1, beta2, eps;       /* Adam, AdamW, SGD, RMSprop: doubles, as Python floats are */
    double weight_decay, momentum, dampening;
    int   nesterov;
    int   amsgrad;                      /* Adam, AdamW: a fifth input, max_exp_avg_sq */
    int   centered;                     /* RMSprop (whose alpha is `alpha` below): input grad_avg */
    /* the shape a backward op must produce when its inputs do not determine it
     * (e.g. conv2d_backward_input's dx: the floor in the output size loses rows) */
    int   hint_ndim;
    int   hint[CN_MAX_DIMS];
    /* BatchNorm (batchnorm2d, batchnorm1d): eps above; momentum above unless momentum_none
     * (PyTorch's momentum=None: the cumulative average over num_batches_tracked) */
    int   momentum_none;
    /* Conv2d, MaxPool2d, AvgPool2d: a pair (h, w) where nonzero, else the square field above
     * (kernel, stride, padding) applies to both; dilation 0 means 1, groups 0 means 1;
     * padding_mode: 0 'zeros', 1 'reflect' (Conv2d) */
    int   kernel_hw[2], stride_hw[2], padding_hw[2], dilation_hw[2];
    int   groups, padding_mode;
    int   ceil_mode;                    /* MaxPool2d, AvgPool2d */
    int   count_include_pad;            /* AvgPool2d: 1 is PyTorch's default; set it */
    int   out_hw[2];                    /* AdaptiveAvgPool2d, AdaptiveMaxPool2d: output H x W */
    int   track_running_stats;          /* batchnorm_backward: set by batchnorm's backward rule */
    /* activations, cat/slice (issue 13) */
    double alpha;                       /* rmsprop: alpha (0.99); leaky_relu: negative_slope (LeakyReLU's default 0.01
                                         * is the lowering's to set); elu: alpha (1.0) */
    int   approximate;                  /* gelu: 0 = 'none' (erf), 1 = 'tanh' */
    int   start, count;                 /* slice: dim 1's entries [start, start + count) */
    /* cross_entropy, nll_loss and their backward (issue 14): a label equal to ignore_index is
     * left out when ignore is set; reduction_sum: 'sum' instead of 'mean'; class_weight: the
     * K class weights (graph_floats' storage) or NULL; label_smoothing: cross_entropy only */
    int   ignore, ignore_index, reduction_sum;
    double label_smoothing;
    const float *class_weight;
    /* grad_norm, clip_grad_norm, clip_grad_value (clip_grad.c) */
    double max_norm, norm_type, clip_value;
} Attrs;

enum { PADDING_ZEROS = 0, PADDING_REFLECT = 1 };

typedef struct Node {
    int   op;                   /* OpId (ops.h) */
    int   in[CN_MAX_IN], nin;
    int   out[CN_MAX_OUT], nout;
    Attrs a;
    Phase phase;
    int   line, col;            /* source location of the layer it implements, 0 if none */
    char  label[96];            /* that layer, e.g. "conv_layers.0" */
} Node;

typedef struct Graph {
    Value *vals;  int nvals, capvals;
    Node  *nodes; int nnodes, capnodes;

    /* what new nodes are stamped with (set by the lowering and by autodiff) */
    Phase cur_phase;
    int   cur_line, cur_col;
    char  cur_label[96];

    /* well-known values, -1 when absent */
    int input, label, logits, loss, probs;

    int   max_batch;            /* batch size the plan is sized for */
    int   batch;                /* current batch (<= max_batch) */

    /* execution state read by kernels */
    int      training;          /* Dropout active */
    Rng      rng;               /* Dropout masks */
    int64_t  step;              /* optimizer steps taken: Adam's bias correction */
    int      threads;
    /* bumped by graph_params_changed whenever a parameter or buffer is written; cache_version:
     * the params_version the cached values (Value.cached) were computed at, 0 for never */
    uint64_t params_version, cache_version;
    double  *lr0;               /* each node's lr before graph_set_lr first changed it, or NULL */

    /* constant arrays of attributes (graph_floats), freed with the graph */
    float **consts; int nconsts;

    /* a data-parallel run (dist.h): this process holds samples [shard_before, global_batch -
     * shard_after) of the global batch; the loss's mean divides by global_batch (0: by the
     * current batch) and Dropout skips the other ranks' draws */
    int      global_batch, shard_before, shard_after;
    struct GradSync *gsync;     /* exec.c's gradient sums over the ranks, NULL until needed */

    /* storage: set by the plan, allocated by graph_bind */
    size_t arena_bytes, param_bytes, grad_bytes, state_bytes;
    void  *arena, *param_block, *grad_block, *state_block;
} Graph;

Graph *graph_new(void);
void   graph_free(Graph *g);

/* A copy of src[0..n) that the graph owns (freed by graph_free), for an attribute that is an
 * array, such as CrossEntropyLoss's class weights. */
const float *graph_floats(Graph *g, const float *src, int n);

/* A value with no producer: an input, a label batch, a parameter or optimizer state. */
int graph_value(Graph *g, const char *name, ValueKind kind, DType dtype, int ndim,
                const int *shape, int batched);

/* Adds a node applying op to inputs in[0..nin), stamped with cur_phase/line/label; the
 * op's infer rule checks the inputs and declares the outputs. Returns the node index, or
 * -1 with e set when the shapes do not fit. */
int graph_add(Graph *g, int op, const int *in, int nin, const Attrs *a, Error *e);
/* graph_add, returning the node's first output value instead (-1 on error). */
int graph_apply(Graph *g, int op, const int *in, int nin, const Attrs *a, Error *e);

/* For infer rules: declares the next output of node n. requires_grad is inherited from
 * the inputs. Returns the value id. */
int graph_output(Graph *g, Node *n, DType dtype, int ndim, const int *shape, int batched);

/* For backward rules: adds grad to value v's gradient (an add node when v already has one). */
int graph_accumulate_grad(Graph *g, int v, int grad, Error *e);

/* Sets the lr of every optimizer node (the update phase's) to lr_of(ctx, lr0), lr0 being the
 * node's lr before the first call: a scheduler's lr for the parameter group that started at
 * lr0, as torch's schedulers compute each group's lr from its own initial lr. */
void graph_set_lr(Graph *g, double (*lr_of)(void *ctx, double lr0), void *ctx);
/* Sets every optimizer node's momentum: Adam's beta1, SGD's momentum (OneCycleLR's
 * cycle_momentum; each optimizer reads the one it has). */
void graph_set_momentum(Graph *g, double m);
/* The distinct lrs the optimizer nodes start with (before graph_set_lr), at most max of
 * them in lr0[]; returns how many there are. */
int  graph_lr_groups(const Graph *g, double *lr0, int max);

/* Sets the current batch size; every batched value's dim 0 follows. */
void graph_set_batch(Graph *g, int n);

/* Allocates the blocks sized by the plan and points every value at its storage.
 * Parameters, gradients and state are zeroed. */
void graph_bind(Graph *g);
/* Says that parameters or buffers of g have been (or are about to be) written other than by
 * its own nodes: loads, initialisation, a caller's own writes. The next forward run then
 * recomputes the cached values (BatchNorm folded into the convolution's weights). */
void graph_params_changed(Graph *g);
/* Whether node n computes cached values (Value.cached), which a run skips while the
 * parameters are unchanged */
static inline int node_cached(const Graph *g, const Node *n) { return n->nout && g->vals[n->out[0]].cached; }

size_t value_numel(const Value *v);
size_t value_bytes(const Value *v);
/* Elements per batch item (product of dims after the first) */
size_t value_item_numel(const Value *v);
static inline float   *vf32(const Graph *g, int id) { return (float *)g->vals[id].data; }
static inline int32_t *vi32(const Graph *g, int id) { return (int32_t *)g->vals[id].data; }
static inline int64_t *vi64(const Graph *g, int id) { return (int64_t *)g->vals[id].data; }

/* "16x100x100", with "N" for a batched dim 0 when batch_symbol is set */
void shape_str(const Value *v, int batch_symbol, char *buf, size_t n);

#endif
