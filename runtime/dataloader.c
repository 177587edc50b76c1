/* runtime/dataloader.c: torch.utils.data.DataLoader(ds, batch_size, shuffle, drop_last=False).
 * Without workers, next() decodes and transforms its batch itself. With workers, threads
 * fill a ring of batch buffers ahead of the caller: batch b goes to slot b % nslots once the
 * caller has taken batch b - nslots, so memory stays bounded whatever the data set's size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* Stream offsets of rng_seed3's first argument: the shuffle of epoch k uses (seed, k, 0);
 * sample i's transforms in epoch k use (seed, k + TRANSFORM_STREAM, i), independent of the
 * order, batch or thread in which the sample is processed. */
#define TRANSFORM_STREAM 1000003u

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY };

struct LoaderSlot {
    float   *x;
    int32_t *y;
    int      n;                 /* samples in it (bad images skipped) */
    int      state;
    int      failed;
    Error    err;
};

static size_t sample_size(const DataLoader *dl) { return (size_t)dl->C * (size_t)dl->H * (size_t)dl->W; }

/* Decodes and transforms sample i into x; errors are prefixed with the sample's file.
 * Returns 1 when the sample is a bad image skipped under --skip-bad-images. */
static int load_sample(DataLoader *dl, int i, float *x, int32_t *y, TfScratch *s, int *newly_bad, Error *e)
{
    const Dataset *ds = dl->ds;
    Image img;
    int target, owned;
    if (dl->opt.skip_bad && dataset_is_bad(ds, i)) return 1;  /* reported already (dataset_check) */
    if (dataset_sample(ds, i, &img, &owned, &target, e)) {     /* the reader names the file itself */
        if (!dl->opt.skip_bad) return -1;
        if (dataset_mark_bad(ds, i)) {
            fprintf(dl->opt.warn ? dl->opt.warn : stderr, "cnnc: warning: %s (skipped)\n", e->msg);
            *newly_bad += 1;
        }
        return 1;
    }
    Rng r;
    rng_seed3(&r, dl->seed, (uint64_t)(int64_t)dl->epoch + TRANSFORM_STREAM, (uint64_t)i);
    Error te;
    int rc = pipeline_run(dl->tf, &img, x, dl->C, dl->H, dl->W, &r, s, &te);
    if (rc) {       /* a size the transform does not make the model's: say why (Resize(int) keeps the ratio) */
        char why[512];
        transform_size_problem(dl->tf, img.w, img.h, dl->H, dl->W, why, sizeof why);
        if (why[0]) snprintf(te.msg, sizeof te.msg, "%s", why);
    }
    if (owned) free(img.px);
    if (rc) return err_set(e, "%s: %s", ds->path ? ds->path(ds, i) : ds->root, te.msg);
    *y = target;
    return 0;
}

void dataloader_share(int n, int batch_size, int b, int rank, int ranks, int *k, int *lo, int *hi)
{
    int first = b * batch_size;
    *k = n - first < batch_size ? n - first : batch_size;
    if (ranks < 1) ranks = 1, rank = 0;
    *lo = (int)((int64_t)*k * rank / ranks);
    *hi = (int)((int64_t)*k * (rank + 1) / ranks);
}

/* Fills batch b of the current epoch (this rank's share of it); returns the number of
 * samples, -1 on an error. */
static int fill_batch(DataLoader *dl, int b, float *x, int32_t *y, TfScratch *s, int *newly_bad, Error *e)
{
    int first = b * dl->batch_size, k, lo, hi, got = 0;
    dataloader_share(dl->ds->n, dl->batch_size, b, dl->opt.rank, dl->opt.ranks, &k, &lo, &hi);
    size_t sample = sample_size(dl);
    for (int j = lo; j < hi; j++) {
        int rc = load_sample(dl, dl->order[first + j], x + (size_t)got * sample, &y[got], s, newly_bad, e);
        if (rc < 0) return -1;
        if (rc == 0) got++;
    }
    return got;
}

/* ---- workers ---- */

typedef struct WorkerArg {
    DataLoader *dl;
    int         id;
} WorkerArg;

static void *worker(void *p)
{
    WorkerArg *a = p;
    DataLoader *dl = a->dl;
    TfScratch *s = &dl->scratch[a->id];
    pthread_mutex_lock(&dl->mu);
    while (!dl->quit) {
        LoaderSlot *slot = dl->next_fill < dl->nbatches ? &dl->slots[dl->next_fill % dl->nslots] : NULL;
        if (!slot || slot->state != SLOT_FREE) {
            pthread_cond_wait(&dl->cv, &dl->mu);
            continue;
        }
        int b = dl->next_fill++, newly_bad = 0;
        slot->state = SLOT_FILLING;
        dl->busy++;
        pthread_mutex_unlock(&dl->mu);
        slot->n = fill_batch(dl, b, slot->x, slot->y, s, &newly_bad, &slot->err);
        pthread_mutex_lock(&dl->mu);
        slot->failed = slot->n < 0;
        slot->state = SLOT_READY;
        dl->skipped += newly_bad;
        dl->busy--;
        pthread_cond_broadcast(&dl->cv);
    }
    pthread_mutex_unlock(&dl->mu);
    free(a);
    return NULL;
}

static int start_workers(DataLoader *dl, Error *e)
{
    int w = dl->opt.workers;
    dl->nslots = dl->opt.prefetch > 0 ? dl->opt.prefetch : 2 * w;
    if (dl->nslots < 2) dl->nslots = 2;
    dl->slots = xcalloc((size_t)dl->nslots, sizeof *dl->slots);
    for (int i = 0; i < dl->nslots; i++) {
        dl->slots[i].x = xmalloc(sample_size(dl) * (size_t)dl->batch_size * sizeof(float));
        dl->slots[i].y = xmalloc((size_t)dl->batch_size * sizeof(int32_t));
    }
    pthread_mutex_init(&dl->mu, NULL);
    pthread_cond_init(&dl->cv, NULL);
    dl->started = 1;
    dl->threads = xcalloc((size_t)w, sizeof *dl->threads);
    for (int i = 0; i < w; i++) {
        WorkerArg *a = xmalloc(sizeof *a);
        *a = (WorkerArg){ dl, i + 1 };
        if (pthread_create(&dl->threads[i], NULL, worker, a)) {
            free(a);
            return err_set(e, "cannot start data loader thread %d of %d: lower --workers", i + 1, w);
        }
        dl->nthreads++;
    }
    return 0;
}

static void set_order(DataLoader *dl, int epoch)
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

/* ---- the interface ---- */

int dataloader_init_opts(DataLoader *dl, const Dataset *ds, const Pipeline *tf, int batch_size, int shuffle,
                         uint64_t seed, int C, int H, int W, const LoaderOptions *o, Error *e)
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
    if (o) dl->opt = *o;
    if (dl->opt.workers < 0) dl->opt.workers = 0;
    dl->nbatches = (ds->n + batch_size - 1) / batch_size;
    dl->order = xmalloc((size_t)ds->n * sizeof *dl->order);
    dl->scratch = xcalloc((size_t)dl->opt.workers + 1, sizeof *dl->scratch);
    set_order(dl, 0);                   /* before the workers start reading it */
    if (dl->opt.workers > 0 && start_workers(dl, e)) {
        dataloader_free(dl);
        return -1;
    }
    return 0;
}

int dataloader_init(DataLoader *dl, const Dataset *ds, const Pipeline *tf, int batch_size, int shuffle,
                    uint64_t seed, int C, int H, int W, Error *e)
{
    return dataloader_init_opts(dl, ds, tf, batch_size, shuffle, seed, C, H, W, NULL, e);
}

void dataloader_free(DataLoader *dl)
{
    if (dl->started) {
        pthread_mutex_lock(&dl->mu);
        dl->quit = 1;
        pthread_cond_broadcast(&dl->cv);
        pthread_mutex_unlock(&dl->mu);
        for (int i = 0; i < dl->nthreads; i++) pthread_join(dl->threads[i], NULL);
        pthread_mutex_destroy(&dl->mu);
        pthread_cond_destroy(&dl->cv);
    }
    for (int i = 0; dl->slots && i < dl->nslots; i++) {
        free(dl->slots[i].x);
        free(dl->slots[i].y);
    }
    free(dl->slots);
    free(dl->threads);
    for (int i = 0; dl->scratch && i <= dl->opt.workers; i++) tf_scratch_free(&dl->scratch[i]);
    free(dl->scratch);
    free(dl->order);
    memset(dl, 0, sizeof *dl);
}

int dataloader_num_batches(const DataLoader *dl)
{
    return (dl->ds->n + dl->batch_size - 1) / dl->batch_size;
}

void dataloader_begin_epoch(DataLoader *dl, int epoch)
{
    if (!dl->started) {
        set_order(dl, epoch);
        return;
    }
    pthread_mutex_lock(&dl->mu);
    if (epoch == dl->epoch && dl->next_take == 0) {     /* this epoch is being prepared already */
        pthread_mutex_unlock(&dl->mu);
        return;
    }
    dl->next_fill = dl->nbatches;       /* stop handing out work, let the batches in hand finish */
    while (dl->busy > 0) pthread_cond_wait(&dl->cv, &dl->mu);
    for (int i = 0; i < dl->nslots; i++) dl->slots[i].state = SLOT_FREE;
    set_order(dl, epoch);
    dl->next_fill = 0;
    dl->next_take = 0;
    pthread_cond_broadcast(&dl->cv);
    pthread_mutex_unlock(&dl->mu);
}

void dataloader_begin_epoch_at(DataLoader *dl, int epoch, int batch)
{
    int nb = dataloader_num_batches(dl);
    if (batch <= 0) {
        dataloader_begin_epoch(dl, epoch);
        return;
    }
    if (batch > nb) batch = nb;
    if (!dl->started) {
        set_order(dl, epoch);
        dl->pos = (int)((int64_t)batch * dl->batch_size < dl->ds->n ? (int64_t)batch * dl->batch_size : dl->ds->n);
        return;
    }
    pthread_mutex_lock(&dl->mu);
    dl->next_fill = dl->nbatches;       /* as dataloader_begin_epoch, then start at `batch` */
    while (dl->busy > 0) pthread_cond_wait(&dl->cv, &dl->mu);
    for (int i = 0; i < dl->nslots; i++) dl->slots[i].state = SLOT_FREE;
    set_order(dl, epoch);
    dl->next_fill = batch;
    dl->next_take = batch;
    pthread_cond_broadcast(&dl->cv);
    pthread_mutex_unlock(&dl->mu);
}

/* Takes the next ready batch from the ring (in order), copying it out. */
static int take_batch(DataLoader *dl, float *x, int32_t *y, Error *e)
{
    pthread_mutex_lock(&dl->mu);
    for (;;) {
        if (dl->next_take >= dl->nbatches) {
            pthread_mutex_unlock(&dl->mu);
            return 0;
        }
        LoaderSlot *slot = &dl->slots[dl->next_take % dl->nslots];
        while (slot->state != SLOT_READY) pthread_cond_wait(&dl->cv, &dl->mu);
        pthread_mutex_unlock(&dl->mu);          /* workers leave READY slots alone */
        int n = slot->n;
        if (slot->failed) *e = slot->err;
        else if (n > 0) {
            memcpy(x, slot->x, (size_t)n * sample_size(dl) * sizeof *x);
            memcpy(y, slot->y, (size_t)n * sizeof *y);
        }
        pthread_mutex_lock(&dl->mu);
        slot->state = SLOT_FREE;
        dl->next_take++;
        pthread_cond_broadcast(&dl->cv);
        if (slot->failed) {
            dl->next_take = dl->nbatches;       /* the epoch ends at its first error */
            pthread_mutex_unlock(&dl->mu);
            return -1;
        }
        if (n > 0) {
            pthread_mutex_unlock(&dl->mu);
            return n;
        }
    }
}

int dataloader_next(DataLoader *dl, float *x, int32_t *y, Error *e)
{
    if (dl->started) return take_batch(dl, x, y, e);
    for (;;) {
        int b = dl->pos / dl->batch_size;
        if (dl->pos >= dl->ds->n) return 0;
        int newly_bad = 0, n = fill_batch(dl, b, x, y, &dl->scratch[0], &newly_bad, e);
        dl->skipped += newly_bad;
        int k = dl->ds->n - dl->pos < dl->batch_size ? dl->ds->n - dl->pos : dl->batch_size;
        dl->pos += k;
        if (n != 0) return n;                   /* a batch of only bad images: the next one */
    }
}
