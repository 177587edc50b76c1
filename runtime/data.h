/* runtime/data.h: data sets (torchvision's ImageFolder) and the DataLoader that batches them. */
#ifndef CN_DATA_H
#define CN_DATA_H

#include <stdint.h>

#include "error.h"
#include "rng.h"
#include "transforms.h"

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
    const char *(*path)(const Dataset *ds, int i);
    void  (*free_impl)(Dataset *ds);
    void   *impl;
};

/* torchvision.datasets.ImageFolder: root/<class>/<image>, classes sorted by name, files
 * sorted within each class, torchvision's image extensions. */
int  dataset_open_imagefolder(Dataset *ds, const char *root, int channels, Error *e);
void dataset_free(Dataset *ds);

/* Decodes one image file (any format stb_image reads), converted to `channels` (1 or 3). */
int  image_load(const char *path, int channels, Image *img, Error *e);
void image_free(Image *img);

/* torch.utils.data.DataLoader(ds, batch_size, shuffle) with drop_last=False: a fresh
 * permutation each epoch from (seed, epoch); batches of float C x H x W samples. */
typedef struct DataLoader {
    const Dataset  *ds;
    const Pipeline *tf;
    int      batch_size, shuffle;
    int      C, H, W;
    uint64_t seed;
    int      epoch;
    int     *order;
    int      pos;
} DataLoader;

int  dataloader_init(DataLoader *dl, const Dataset *ds, const Pipeline *tf, int batch_size,
                     int shuffle, uint64_t seed, int C, int H, int W, Error *e);
void dataloader_free(DataLoader *dl);
int  dataloader_num_batches(const DataLoader *dl);
void dataloader_begin_epoch(DataLoader *dl, int epoch);
/* Fills x (batch_size x C x H x W) and y with the next batch; returns the number of
 * samples in it, 0 at the end of the epoch, -1 with e set on a bad sample. */
int  dataloader_next(DataLoader *dl, float *x, int32_t *y, Error *e);

#endif
