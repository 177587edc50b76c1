/* compiler/passes/fuse.h: the fusion pass over the forward graph, before autodiff. */
#ifndef CNNC_FUSE_H
#define CNNC_FUSE_H

#include "../../runtime/graph.h"

/* Replaces each conv2d -> relu -> maxpool2d chain whose intermediate results have no other
 * use by one conv2d_relu_maxpool2d node (same results, one pass over memory per image;
 * its backward rule derives the same gradients). Returns the number of chains fused. */
int fuse_graph(Graph *g, Error *e);

/* For graphs that train, after fuse_graph and before autodiff: replaces each batchnorm2d
 * whose output only a relu reads by batchnorm2d_relu, and each add whose output only a relu
 * reads (the residual's F.relu(out + x)) by add_relu: the same results in one pass over
 * memory, one buffer fewer, and backward rules that fuse the ReLU's gradient into the
 * next pass (batchnorm_relu_backward) or keep it alone (relu_backward, for add_relu).
 * Then each add_relu whose result only a plain MaxPool2d reads becomes add_relu_maxpool2d
 * (the sum never in memory; backward by relu_maxpool2d_backward).
 * Graphs that only infer keep batchnorm2d (fold_batchnorm folds it) and add, which the back
 * ends read. Returns the number of pairs fused. */
int fuse_training_graph(Graph *g, Error *e);

/* For graphs that train, after autodiff: replaces each maxpool2d_backward (plain
 * attributes) read only by a relu_backward masking with the pool's own input (a ReLU's or
 * add_relu's result) by one relu_maxpool2d_backward, as the conv2d_relu_maxpool2d fusion's
 * backward does; then, where a value is read twice and one of its two gradients is a
 * conv2d_backward_input (plain attributes) summed with the other by an add, replaces the two
 * by one conv2d_backward_input that adds its result to the other gradient in that
 * gradient's storage (its third input, acc; the output a view of it), when nothing else
 * reads that storage from the convolution on. Last, each batchnorm_backward and
 * batchnorm_relu_backward writes dx over dy (dx a view of dy) where nothing reads dy's
 * storage after it. The same floats, fewer passes over memory and buffers. Returns the
 * number of pairs fused. */
int fuse_backward_graph(Graph *g, Error *e);

/* For graphs that only infer (no training step: BatchNorm always uses its running
 * statistics): replaces each conv2d -> batchnorm2d (with running statistics) whose
 * convolution output has no other use by batchnorm_fold (the weight and bias scaled by
 * gamma / sqrt(running_var + eps): cached values, computed at the first run and again only
 * after the parameters change, graph_params_changed) and one conv2d with them; the outputs
 * agree with the unfolded graph's to float rounding. Run it before fuse_graph (the folded
 * conv2d can then fuse with a ReLU and MaxPool2d). Returns the number of pairs folded. */
int fold_batchnorm(Graph *g, Error *e);

#endif
