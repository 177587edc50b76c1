/* compiler/driver/apply.h: --apply: runs a model that ends with a feature map (the notebook's Sobel
 * filter, examples/sobel.cnn) on one image and writes what it computes as a figure. */
#ifndef CNNC_APPLY_H
#define CNNC_APPLY_H

#include <stdint.h>
#include <stdio.h>

#include "../../runtime/graph.h"
#include "../frontend/program.h"

/* The model's forward graph for one height x width image, planned and bound, with its
 * parameters initialised and the weights given in the file copied in. NULL with e set. */
Graph *apply_graph(const Program *p, int height, int width, Error *e);

/* One panel of the figure: v (h x w floats) scaled linearly from its minimum (black) to its
 * maximum (white), as matplotlib's imshow(v, cmap='Greys_r') shows it; all black when v is
 * constant. Writes h x w bytes to px. */
void apply_scale(const float *v, int h, int w, uint8_t *px, float *lo, float *hi);

/* Loads image (converted as the model's input: 'L' for 1 channel, 'RGB' for 3), runs the
 * model and writes out_png: side by side, each output channel, their magnitude
 * sqrt(sum of squares) when there are two or more, and the input in grayscale. Prints one
 * line per panel to log. threads: 0 for every core. */
int apply_run(const Program *p, const char *image, const char *out_png, int threads, FILE *log, Error *e);

#endif
