/* runtime/dataloader.c: torch.utils.data.DataLoader(ds, batch_size, shuffle, drop_last=False),
 * single-threaded: decodes and transforms each batch when it is asked for. */
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* Stream offsets of rng_seed3's first argument: the shuffle of epoch k uses (seed, k, 0);
 * sample i's transforms in epoch k use (seed, k + TRANSFORM_STREAM, i), independent of the
 * order, batch or thread in which the sample is processed. */
#define TRANSFORM_STREAM 1000003u

int dataloader_init(DataLoader *dl, const Dataset *ds, const Pipeline *tf, int batch_size, int shuffle,
                    uint64_t seed, int C, int H, int W, Error *e)
{
    memset(dl, 0, sizeof *dl);
    if (batch_size < 1) return err_set(e, "%s: batch size must be at least 1, not %d", ds->root, batch_size);
    if (C < 1 || H < 1 || W < 1) return err_set(e, "%s: invalid input size %dx%dx%d", ds->root, C, H, W);
    if (ds->n < 1) return err_set(e, "%s: the data set is empty", ds->root);
    dl->ds = ds;
    dl->tf = tf;
    dl->batch_size = batch_size;
    dl->shuffle = shuffle;
    dl->C = C;
    dl->H = H;
    dl->W = W;
    dl->seed = seed;
    dl->order = xmalloc((size_t)ds->n * sizeof *dl->order);
    dataloader_begin_epoch(dl, 0);
    return 0;
}

void dataloader_free(DataLoader *dl)
{
    free(dl->order);
    memset(dl, 0, sizeof *dl);
}

int dataloader_num_batches(const DataLoader *dl)
{
    return (dl->ds->n + dl->batch_size - 1) / dl->batch_size;
}

void dataloader_begin_epoch(DataLoader *dl, int epoch)
{
    int n = dl->ds->n;
    dl->epoch = epoch;
    dl->pos = 0;
    for (int i = 0; i < n; i++) dl->order[i] = i;
    if (dl->shuffle) {
        Rng r;
        rng_seed3(&r, dl->seed, (uint64_t)(int64_t)epoch, 0);
        rng_shuffle(&r, dl->order, n);
    }
}

/* Decodes and transforms sample i into x; errors are prefixed with the sample's file. */
static int load_sample(const DataLoader *dl, int i, float *x, int32_t *y, Error *e)
{
    const Dataset *ds = dl->ds;
    Image img;
    int target;
    if (ds->get(ds, i, &img, &target, e)) return -1;    /* image_load names the file itself */
    Rng r;
    rng_seed3(&r, dl->seed, (uint64_t)(int64_t)dl->epoch + TRANSFORM_STREAM, (uint64_t)i);
    Error te;
    if (pipeline_apply(dl->tf, &img, x, dl->C, dl->H, dl->W, &r, &te))
        return err_set(e, "%s: %s", ds->path ? ds->path(ds, i) : ds->root, te.msg);
    *y = target;
    return 0;
}

int dataloader_next(DataLoader *dl, float *x, int32_t *y, Error *e)
{
    int n = dl->ds->n;
    if (dl->pos >= n) return 0;
    int k = n - dl->pos < dl->batch_size ? n - dl->pos : dl->batch_size;
    size_t sample = (size_t)dl->C * (size_t)dl->H * (size_t)dl->W;
    for (int j = 0; j < k; j++)
        if (load_sample(dl, dl->order[dl->pos + j], x + (size_t)j * sample, &y[j], e)) return -1;
    dl->pos += k;
    return k;
}
