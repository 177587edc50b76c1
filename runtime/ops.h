/* runtime/ops.h: the one table of operators. Each op is a row: its name as --dump-graph
 * prints it, its shape rule, its kernel, and its backward rule (the nodes that compute the
 * gradients of its inputs). Adding an op means a line in CN_OPS, its file in runtime/ops/
 * defining `const OpDef op_<name>`, and its tests in tests/ops/. */
#ifndef CN_OPS_H
#define CN_OPS_H

#include "graph.h"

typedef struct OpDef {
    const char *name;
    /* Checks the input values of n and declares its outputs with graph_output. */
    int  (*infer)(Graph *g, Node *n, Error *e);
    /* Runs n over bound storage at the current batch size. */
    void (*forward)(Graph *g, const Node *n);
    /* Adds nodes computing the gradients of n's inputs that require one, given the
     * gradients dout[i] of its outputs (-1 where an output has none), and hands them to
     * graph_accumulate_grad. NULL for ops that are never differentiated. */
    int  (*backward)(Graph *g, Node n, const int *dout, Error *e);
} OpDef;

#define CN_OPS(X)                   \
    X(conv2d)                       \
    X(conv2d_backward_input)        \
    X(conv2d_backward_weight)       \
    X(conv2d_relu_maxpool2d)        \
    X(relu_maxpool2d_backward)      \
    X(conv2d_relu_maxpool2d_backward) \
    X(linear)                       \
    X(linear_backward_input)        \
    X(linear_backward_weight)       \
    X(relu)                         \
    X(relu_backward)                \
    X(maxpool2d)                    \
    X(maxpool2d_backward)           \
    X(dropout)                      \
    X(dropout_backward)             \
    X(flatten)                      \
    X(cross_entropy)                \
    X(cross_entropy_backward)       \
    X(add)                          \
    X(adam)                         \
    X(sgd)                          \
    X(adamw)                        \
    X(rmsprop)                      \
    /* clip_grad.c: gradient clipping, update phase, before the optimizer */ \
    X(grad_norm)                    \
    X(clip_grad_norm)               \
    X(clip_grad_value)              \
    /* h-norm (issue 13): batchnorm.c; inputs x [, weight, bias] [, running_mean, \
     * running_var, num_batches_tracked] -> y, save_mean, save_invstd */ \
    X(batchnorm2d)                  \
    X(batchnorm1d)                  \
    X(batchnorm_backward)           \
    X(avgpool2d)                    \
    X(avgpool2d_backward)           \
    X(adaptive_avgpool2d)           \
    X(adaptive_avgpool2d_backward)  \
    X(adaptive_maxpool2d)           \
    X(adaptive_maxpool2d_backward)  \
    X(batchnorm_fold)               \
    /* issue 13: activations (activations.c: x -> y; _backward: dy, x (y for sigmoid, \
     * tanh) -> dx; Attrs alpha, approximate) */ \
    X(leaky_relu)                   \
    X(leaky_relu_backward)          \
    X(elu)                          \
    X(elu_backward)                 \
    X(gelu)                         \
    X(gelu_backward)                \
    X(silu)                         \
    X(silu_backward)                \
    X(sigmoid)                      \
    X(sigmoid_backward)             \
    X(tanh)                         \
    X(tanh_backward)                \
    X(relu6)                        \
    X(relu6_backward)               \
    X(hardswish)                    \
    X(hardswish_backward)           \
    X(hardsigmoid)                  \
    X(hardsigmoid_backward)         \
    /* softmax.c: over dim 1; _backward: dy, y -> dx */ \
    X(softmax)                      \
    X(softmax_backward)             \
    X(log_softmax)                  \
    X(log_softmax_backward)         \
    /* nll_loss.c: logp[N,K], labels[N] -> loss[1]; the root, like cross_entropy */ \
    X(nll_loss)                     \
    X(nll_loss_backward)            \
    /* cat.c: cat(x0, ..., xk) over dim 1; slice(x) = x[:, start:start+count]; Attrs start, count */ \
    X(cat)                          \
    X(slice)                        \
    X(slice_backward)               \
    /* dropout2d.c: x -> y, mask[N,C]; Attrs p */ \
    X(dropout2d)                    \
    X(dropout2d_backward)           \
    /* training-time fusions (compiler/passes/fuse.c): batchnorm.c's batchnorm2d_relu (batchnorm2d's \
     * inputs and outputs, y = relu(bn(x))) and batchnorm_relu_backward(dy, y, x, save_mean, \
     * save_invstd [, weight]); add.c's add_relu(a, b) -> relu(a + b), backward by relu_backward, \
     * and add_relu_maxpool2d(a, b) -> y, argmax (maxpool2d's), backward by relu_maxpool2d_backward */ \
    X(batchnorm2d_relu)             \
    X(batchnorm_relu_backward)      \
    X(add_relu)                     \
    X(add_relu_maxpool2d)

#define CN_OP_ENUM(name) OP_##name,
typedef enum { CN_OPS(CN_OP_ENUM) OP_COUNT } OpId;
#undef CN_OP_ENUM

#define CN_OP_EXTERN(name) extern const OpDef op_##name;
CN_OPS(CN_OP_EXTERN)
#undef CN_OP_EXTERN

extern const OpDef *const op_table[OP_COUNT];

/* Shape rules shared with the compiler's checker, so each formula lives in one place:
 * the output size of a window of size k, stride s, padding p over n (PyTorch's floor
 * rule), or -1 when the window does not fit. */
int window_out_size(int n, int k, int s, int p);

/* A 2-d window's geometry from Attrs (graph.h): each pair where set, else the square
 * field; dilation 1 when unset. */
typedef struct Window2d { int kh, kw, sh, sw, ph, pw, dh, dw; } Window2d;
Window2d attrs_window(const Attrs *a);
/* PyTorch's output size with dilation d and ceil_mode (a last window must start inside
 * the input or its left padding), or -1 when the window does not fit. */
int window_out_size_ex(int n, int k, int s, int p, int d, int ceil_mode);
/* Whether a conv2d's attributes are those the original kernels take (square kernel,
 * stride and padding, no dilation, one group, zero padding): only those fuse. */
int conv2d_attrs_plain(const Attrs *a);
/* Whether a training batch of n samples gives every BatchNorm of g more than one value per
 * channel, as PyTorch requires; else -1 with e naming path, the layer's line and column. */
int batchnorm_check_batch(const Graph *g, int n, const char *path, Error *e);
/* Whether a maxpool2d's attributes are plain (square, no dilation, no ceil_mode). */
int maxpool2d_attrs_plain(const Attrs *a);

#endif
