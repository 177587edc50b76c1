/* compiler/driver/shard.h: the training and evaluation loops' side of a data-parallel run
 * (runtime/dist.h): each process's share of a batch, the figures summed over the
 * processes, and signals agreed on by all of them. With one process, every call is a no-op. */
#ifndef CN_SHARD_H
#define CN_SHARD_H

#include <stdint.h>

#include "../../runtime/error.h"
#include "../../runtime/graph.h"

/* Before batch b of a data set of n samples in batches of batch_size: tells g which part of
 * the global batch this process holds (the loss's mean, Dropout's draws). */
void shard_batch(Graph *g, int n, int batch_size, int b);
/* After a loop: g back to whole batches. */
void shard_clear(Graph *g);
/* Whether every batch gives every process at least one sample; what names the data set. */
int  shard_check(int n, int batch_size, const char *what, Error *e);
/* Whether the loss's mean is one the processes' shares can make: a mean divided by the
 * batch size is; one divided by the global sum of the class weights or of the rows not
 * ignored is not (yet). */
struct LossDecl;
int  shard_check_loss(const struct LossDecl *loss, const char *path, Error *e);
/* Sums a batch's figures over the processes (any may be NULL) and returns the signal
 * (SIGINT, SIGTERM) some process received (pending: this one's), or 0: every process
 * stops at the same batch. */
int  shard_sum(double *loss, int64_t *correct, int64_t *images, int pending);

#endif
