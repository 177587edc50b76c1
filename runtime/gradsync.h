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

/* Since gradsync_new: seconds spent waiting for sums, steps, buckets and gradient bytes;
 * with CNNC_MPI_STATS set, a barrier before a step's first wait takes out (into skew_s) the
 * time the processes wait for the slowest, so that wait_s is the sums' own */
void      gradsync_stats(const GradSync *s, double *wait_s, double *skew_s, long *steps, int *buckets, size_t *bytes);

#endif
