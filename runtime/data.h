/* runtime/data.h: data sets (torchvision's ImageFolder) and the DataLoader that batches them. */
#ifndef CN_DATA_H
#define CN_DATA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "rng.h"
#include "transforms.h"

/* What an image file's header says: its size, its channels as stb_image decodes them (1 L,
 * 2 LA, 3 RGB, 4 RGBA; palette images count as 4) and bits per channel (8 or 16). */
typedef struct ImageInfo {
    int w, h, channels, depth;
    const char *format;         /* "PNG", "JPEG", "BMP", "PNM", "GIF", "TGA" */
} ImageInfo;

typedef struct Dataset Dataset;
struct Dataset {
    char    root[4096];
    int     n;                  /* samples */
    int     nclasses;
    char  **class_names;        /* sorted class folder names: index = class */
    int     channels;           /* 3: convert to RGB as PIL's convert('RGB'); 1: to 'L' */
    /* Decodes sample i into img (caller frees img->px) and its class into *target.
     * path_out, if not NULL, receives the sample's file name for messages. */
    int   (*get)(const Dataset *ds, int i, Image *img, int *target, Error *e);
    /* Optional, for data sets held in memory: sample i without a copy (img->px is the data
     * set's; do not free it). */
    int   (*view)(const Dataset *ds, int i, Image *img, int *target);
    const char *(*path)(const Dataset *ds, int i);
    /* Optional, for data sets read from files: sample i's header (image_probe), no pixels. */
    int   (*probe)(const Dataset *ds, int i, ImageInfo *info, Error *e);
    void  (*free_impl)(Dataset *ds);
    void   *impl;
    struct SampleCache *cache;  /* decoded images and known-bad samples; see dataset_set_cache */
};

/* Whether a file name ends with one of ImageFolder's image extensions (any case). */
int  has_image_extension(const char *name);
/* torchvision.datasets.ImageFolder: root/<class>/<image>, classes sorted by name, files
 * sorted within each class, torchvision's image extensions (IMG_EXTENSIONS: .tif, .tiff and
 * .webp are counted but cannot be decoded: dataset_check reports them) and .gif and .tga,
 * which cnnc reads and torchvision skips. */
int  dataset_open_imagefolder(Dataset *ds, const char *root, int channels, Error *e);
/* torchvision.datasets.MNIST / FashionMNIST(root, train): the IDX files (gzipped or not) in
 * root/MNIST/raw or root/FashionMNIST/raw, or in root itself; 1-channel 28 x 28 images. */
int  dataset_open_mnist(Dataset *ds, const char *root, int fashion, int train, Error *e);
/* torchvision's 10 class names of FashionMNIST (fashion) or MNIST */
char *const *mnist_class_names(int fashion);
void dataset_free(Dataset *ds);
/* Keeps decoded images (before any transform) in memory while their total stays within
 * budget_bytes, so later epochs skip decoding; also remembers bad images so that each is
 * reported once. Thread-safe; freed by dataset_free. */
void dataset_set_cache(Dataset *ds, size_t budget_bytes);
size_t dataset_cached_bytes(const Dataset *ds);
/* Sample i, decoded: *owned says whether the caller must free img->px (it is the cache's or
 * the data set's otherwise). Errors name the file. */
int  dataset_sample(const Dataset *ds, int i, Image *img, int *owned, int *target, Error *e);
/* Records that sample i is bad; returns 1 the first time (to report it once). */
int  dataset_mark_bad(const Dataset *ds, int i);
int  dataset_bad_count(const Dataset *ds);      /* samples marked bad */
int  dataset_is_bad(const Dataset *ds, int i);  /* whether sample i is marked bad */

/* The check before the first epoch: every sample's header is read (image_probe: a regular
 * file, a format cnnc reads, a size within the limit; no pixels are decoded) and the size
 * the transform makes of it is compared with the model's C x H x W. bad(ctx, i, msg) is
 * called for each bad sample, msg naming its file and what to do; returns how many. Data
 * sets held in memory (MNIST, 28 x 28, which the checker compares) are not read. */
int  dataset_check(const Dataset *ds, const Pipeline *tf, int C, int H, int W,
                   void (*bad)(void *ctx, int i, const char *msg), void *ctx);
/* Why the transform does not make a w x h image the model's H x W, and what to do (with
 * Resize(int), that it keeps the aspect ratio); "" when it does. */
void transform_size_problem(const Pipeline *tf, int w, int h, int H, int W, char *msg, size_t n);
void sample_cache_free(Dataset *ds);

/* Decodes one image file (PNG, JPEG, BMP, PPM/PGM, GIF's first frame, TGA; others, and files
 * that would trip stb_image 2.27's known bugs, are refused with a message), converted to
 * `channels` (1 or 3). Only regular files are read (a FIFO or a device is refused without
 * reading); the format is checked on the first bytes and the size on the header before the
 * rest is read, so a file past the limit (image_max_bytes) costs no memory. */
int  image_load(const char *path, int channels, Image *img, Error *e);
/* The same on an image file's bytes in memory; what names it in messages. */
int  image_decode(const char *what, const void *buf, size_t len, int channels, Image *img, Error *e);
/* image_load's checks without decoding: a regular file, a format cnnc reads, a header that
 * parses, a decoded size within the limit. Reads the first 64 KiB (a JPEG whose frame header
 * lies further in: the whole file). */
int  image_probe(const char *path, ImageInfo *info, Error *e);
/* The limit on an image's decoded size (width x height x channels x bytes per channel at the
 * file's depth) and on an image file's size: 256 MiB. Larger images are refused from their
 * header, before decoding. The fuzz harness lowers it (0 restores it). */
void image_set_max_bytes(uint64_t n);
uint64_t image_max_bytes(void);
void image_free(Image *img);

typedef struct LoaderOptions {
    int   workers;              /* threads decoding and augmenting ahead; 0: in next()'s caller */
    int   prefetch;             /* batches in the ring; 0: 2 per worker (at least 2) */
    int   skip_bad;             /* --skip-bad-images: an undecodable image is skipped with a warning */
    FILE *warn;                 /* where those warnings go (NULL: stderr) */
    int   rank, ranks;          /* a data-parallel run: this process loads only its share of
                                 * each batch (dataloader_share); ranks 0: the whole batch */
} LoaderOptions;

typedef struct LoaderSlot LoaderSlot;

/* Batch b of a data set of n samples in batches of batch_size: its *k samples, of which
 * rank takes [*lo, *hi) of ranks (contiguous; the shares differ by at most one). */
void dataloader_share(int n, int batch_size, int b, int rank, int ranks, int *k, int *lo, int *hi);

/* torch.utils.data.DataLoader(ds, batch_size, shuffle) with drop_last=False: a fresh
 * permutation each epoch from (seed, epoch); batches of float C x H x W samples. With
 * workers, the next batches are decoded and augmented into a bounded ring of batch buffers
 * while the caller trains on the current one. Sample i of epoch k draws its random
 * transforms from a generator seeded by (seed, k, i), so the batches do not depend on the
 * number of workers. Do not copy a started DataLoader. */
typedef struct DataLoader {
    const Dataset  *ds;
    const Pipeline *tf;
    int      batch_size, shuffle;
    int      C, H, W;
    uint64_t seed;
    int      epoch;
    int     *order;
    int      pos;               /* without workers: the next sample */
    LoaderOptions opt;
    int      skipped;           /* bad images skipped so far (each counted once per loader) */
    TfScratch *scratch;         /* one per worker, plus one for the caller's thread */
    /* with workers */
    int      nthreads, nslots, nbatches;
    pthread_t *threads;
    LoaderSlot *slots;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int      next_fill, next_take, busy, quit, started;
} DataLoader;

int  dataloader_init(DataLoader *dl, const Dataset *ds, const Pipeline *tf, int batch_size,
                     int shuffle, uint64_t seed, int C, int H, int W, Error *e);
/* The same with options (NULL: no workers, bad images are errors). */
int  dataloader_init_opts(DataLoader *dl, const Dataset *ds, const Pipeline *tf, int batch_size,
                          int shuffle, uint64_t seed, int C, int H, int W, const LoaderOptions *o,
                          Error *e);
void dataloader_free(DataLoader *dl);        /* stops and joins the workers */
int  dataloader_num_batches(const DataLoader *dl);
void dataloader_begin_epoch(DataLoader *dl, int epoch);
/* The same, starting at batch `batch` of the epoch (the batches before it are not loaded):
 * a resumed training run continues where its checkpoint was taken. */
void dataloader_begin_epoch_at(DataLoader *dl, int epoch, int batch);
/* Fills x (batch_size x C x H x W) and y with the next batch; returns the number of
 * samples in it, 0 at the end of the epoch, -1 with e set on a bad sample. */
int  dataloader_next(DataLoader *dl, float *x, int32_t *y, Error *e);

#endif
