/* runtime/samplecache.c: reading one sample of any data set: from memory (MNIST), from the
 * decoded-image cache, or by decoding it (and caching it while the budget allows); and the
 * record of bad images, so each is reported once. Shared by the loader's threads. */
#include <stdlib.h>
#include <string.h>

#include "data.h"

typedef struct SampleCache {
    pthread_mutex_t mu;
    size_t   budget, used;
    Image   *img;               /* per sample; px NULL while not cached */
    int     *target;
    uint8_t *bad;               /* per sample: reported bad already */
    int      nbad;
} SampleCache;

void dataset_set_cache(Dataset *ds, size_t budget_bytes)
{
    if (ds->cache || ds->n < 1) return;
    SampleCache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->budget = budget_bytes;
    c->img = xcalloc((size_t)ds->n, sizeof *c->img);
    c->target = xcalloc((size_t)ds->n, sizeof *c->target);
    c->bad = xcalloc((size_t)ds->n, 1);
    ds->cache = c;
}

size_t dataset_cached_bytes(const Dataset *ds)
{
    SampleCache *c = ds->cache;
    if (!c) return 0;
    pthread_mutex_lock(&c->mu);
    size_t n = c->used;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void sample_cache_free(Dataset *ds)
{
    SampleCache *c = ds->cache;
    if (!c) return;
    for (int i = 0; i < ds->n; i++) free(c->img[i].px);
    free(c->img);
    free(c->target);
    free(c->bad);
    pthread_mutex_destroy(&c->mu);
    free(c);
    ds->cache = NULL;
}

int dataset_sample(const Dataset *ds, int i, Image *img, int *owned, int *target, Error *e)
{
    *owned = 0;
    if (ds->view) return ds->view(ds, i, img, target);
    SampleCache *c = ds->cache;
    if (c) {
        pthread_mutex_lock(&c->mu);
        *img = c->img[i];
        *target = c->target[i];
        pthread_mutex_unlock(&c->mu);
        if (img->px) return 0;          /* cached images live until dataset_free */
    }
    if (ds->get(ds, i, img, target, e)) return -1;
    *owned = 1;
    if (c) {
        size_t bytes = (size_t)img->w * (size_t)img->h * (size_t)img->c;
        pthread_mutex_lock(&c->mu);
        if (!c->img[i].px && c->used + bytes <= c->budget) {
            c->img[i] = *img;
            c->target[i] = *target;
            c->used += bytes;
            *owned = 0;
        } else if (c->img[i].px) {      /* another thread cached it meanwhile: use that one */
            free(img->px);
            *img = c->img[i];
            *owned = 0;
        }
        pthread_mutex_unlock(&c->mu);
    }
    return 0;
}

int dataset_mark_bad(const Dataset *ds, int i)
{
    SampleCache *c = ds->cache;
    if (!c) return 1;
    pthread_mutex_lock(&c->mu);
    int first = !c->bad[i];
    c->bad[i] = 1;
    c->nbad += first;
    pthread_mutex_unlock(&c->mu);
    return first;
}

int dataset_bad_count(const Dataset *ds)
{
    SampleCache *c = ds->cache;
    if (!c) return 0;
    pthread_mutex_lock(&c->mu);
    int n = c->nbad;
    pthread_mutex_unlock(&c->mu);
    return n;
}

int dataset_is_bad(const Dataset *ds, int i)
{
    SampleCache *c = ds->cache;
    if (!c || i < 0 || i >= ds->n) return 0;
    pthread_mutex_lock(&c->mu);
    int bad = c->bad[i];
    pthread_mutex_unlock(&c->mu);
    return bad;
}
