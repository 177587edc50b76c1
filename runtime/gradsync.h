/* runtime/gradsync.h: the executor's gradient reduction in a data-parallel run (dist.h).
 * Parameters' gradients (VK_GRAD values) are grouped, in the order the backward pass
 * finishes them, into buckets of about CNNC_MPI_BUCKET_KB (default 256) KiB; a bucket's
 * sum over the ranks starts as soon as its last gradient is written, while the backward
 * pass goes on, and a node that reads one of its gradients (the optimizer) waits for it. */
#ifndef CN_GRADSYNC_H
#define CN_GRADSYNC_H

#include "graph.h"

typedef struct GradSync GradSync;

GradSync *gradsync_new(const Graph *g);
void      gradsync_free(GradSync *s);
void      gradsync_begin(GradSync *s);                          /* before a step */
void      gradsync_before_node(GradSync *s, Graph *g, const Node *n);  /* waits for n's gradients */
void      gradsync_after_node(GradSync *s, Graph *g, const Node *n);   /* starts finished buckets */
void      gradsync_end(GradSync *s, Graph *g);                  /* every bucket summed */

/* Seconds spent waiting for sums, steps, buckets and gradient bytes, since gradsync_new */
void      gradsync_stats(const GradSync *s, double *wait_s, long *steps, int *buckets, size_t *bytes);

#endif
