/* compiler/driver/shard.c: a data-parallel run's shares, sums and signals (see shard.h). */
#include "shard.h"

#include <signal.h>

#include "../../runtime/data.h"
#include "../../runtime/dist.h"
#include "../frontend/program.h"

void shard_batch(Graph *g, int n, int batch_size, int b)
{
    if (dist_size() == 1) return;
    int k, lo, hi;
    dataloader_share(n, batch_size, b, dist_rank(), dist_size(), &k, &lo, &hi);
    g->global_batch = k;
    g->shard_before = lo;
    g->shard_after = k - hi;
}

void shard_clear(Graph *g)
{
    g->global_batch = g->shard_before = g->shard_after = 0;
}

int shard_check(int n, int batch_size, const char *what, Error *e)
{
    int N = dist_size(), last = n % batch_size;
    if (N == 1) return 0;
    if (batch_size < N)
        return err_set(e, "%s: batch_size %d is smaller than the %d processes of this run: each needs a share of "
                          "every batch; run at most %d processes or raise batch_size", what, batch_size, N, batch_size);
    if (last && last < N)
        return err_set(e, "%s: its last batch holds %d of its %d samples, fewer than the %d processes of this run: "
                          "each needs a share of every batch; run at most %d processes or choose another batch_size",
                       what, last, n, N, last);
    return 0;
}

int shard_check_loss(const LossDecl *loss, const char *path, Error *e)
{
    if (dist_size() == 1 || loss->sum || (!loss->weight && loss->ignore_index < 0)) return 0;
    return err_set(e, "%s: the loss's %s under mpirun is not supported: its mean divides by a sum over the whole "
                      "batch that the processes do not share yet; train in one process, or use reduction='sum'",
                   path, loss->weight ? "class weights (weight=)" : "ignore_index");
}

int shard_sum(double *loss, int64_t *correct, int64_t *images, int pending)
{
    if (dist_size() == 1) return 0;
    double v[5] = { loss ? *loss : 0, correct ? (double)*correct : 0, images ? (double)*images : 0,
                    pending == SIGINT, pending == SIGTERM };
    dist_sum_f64(v, 5);     /* in rank order; the counts are exact in a double */
    if (loss) *loss = v[0];
    if (correct) *correct = (int64_t)v[1];
    if (images) *images = (int64_t)v[2];
    return v[4] > 0 ? SIGTERM : v[3] > 0 ? SIGINT : 0;
}
