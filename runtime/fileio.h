/* runtime/fileio.h: writing a whole file atomically (a temporary file path.tmp.<pid>,
 * fsync, rename over path, fsync of the folder), so readers see the old file or the whole
 * new one and never a partial write. */
#ifndef CN_FILEIO_H
#define CN_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* Writes the contents to f; returns 0, or -1 with errno set. */
typedef int (*FileFill)(FILE *f, void *ctx);

/* Creates path.tmp.<pid>, lets fill write the contents, flushes and fsyncs it, renames it
 * over path and fsyncs the folder. On failure the temporary file is removed and e says
 * "cannot write PATH: REASON". After a write, path's temporary files that killed processes
 * left (their process gone, the file over an hour old) are removed. */
int write_file_atomic_with(const char *path, FileFill fill, void *ctx, Error *e);

/* write_file_atomic_with for n bytes already in memory. */
int write_file_atomic(const char *path, const void *buf, size_t n, Error *e);

#endif
