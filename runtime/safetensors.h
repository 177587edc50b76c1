/* runtime/safetensors.h: reading and writing safetensors files (an 8-byte little-endian
 * header length, a JSON header, then raw little-endian tensor data). Files are written
 * atomically; files read are never trusted. */
#ifndef CN_SAFETENSORS_H
#define CN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ST_MAX_DIMS 8

typedef enum { ST_F32, ST_I32, ST_I64, ST_U8 } StDType;

typedef struct StTensor {
    const char *name;
    StDType     dtype;
    int         ndim;
    int64_t     shape[ST_MAX_DIMS];
    const void *data;           /* numel * element size bytes */
} StTensor;

typedef struct StMeta {
    const char *key, *value;    /* __metadata__ is a string -> string map */
} StMeta;

/* Writes to path.tmp.<pid>, fsyncs, renames over path and fsyncs the directory. */
int safetensors_write(const char *path, const StTensor *t, int nt, const StMeta *meta, int nmeta, Error *e);

typedef struct StEntry {
    char    *name;
    StDType  dtype;
    int      ndim;
    int64_t  shape[ST_MAX_DIMS];
    const void *data;           /* points into the file's buffer */
    size_t   nbytes;
} StEntry;

typedef struct StFile {
    char    *buf;               /* whole file */
    size_t   size;
    StEntry *t;   int nt;
    StMeta  *meta; int nmeta;   /* strings owned by the StFile */
} StFile;

/* Reads and validates the whole file: header length, JSON, dtypes, shapes, offsets
 * (in bounds, non-overlapping, covering the data), sizes. Errors name the file. */
int  safetensors_read(StFile *f, const char *path, Error *e);
int  safetensors_parse(StFile *f, const char *what, char *buf, size_t size, Error *e); /* takes buf */
const StEntry *safetensors_find(const StFile *f, const char *name);
const char    *safetensors_meta(const StFile *f, const char *key);
void safetensors_free(StFile *f);

#endif
