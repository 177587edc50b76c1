/* runtime/fileio.h: writing a whole file atomically (an exclusively created temporary file
 * path.tmp.XXXXXX beside it, fsync, rename over path, fsync of the folder), so readers see
 * the old file or the whole new one and never a partial write; and checking that standard
 * output took everything written to it. */
#ifndef CN_FILEIO_H
#define CN_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* Writes the contents to f; returns 0, or -1 with errno set. */
typedef int (*FileFill)(FILE *f, void *ctx);

/* Creates path.tmp.XXXXXX (mkstemp: exclusive, so two writers never share one) holding a
 * lock on it, lets fill write the contents, flushes and fsyncs it, renames it over path and
 * fsyncs the folder. A symbolic link at path is followed: its target is written and the
 * link stays; an existing file keeps its permission bits. On failure the temporary file is
 * removed and e says "cannot write PATH: REASON". After a write, path's temporary files
 * that killed processes left (no lock held on them, over an hour old) are removed. */
int write_file_atomic_with(const char *path, FileFill fill, void *ctx, Error *e);

/* write_file_atomic_with for n bytes already in memory. */
int write_file_atomic(const char *path, const void *buf, size_t n, Error *e);

/* Whether path's name leaves room for the temporary file's suffix within the folder's
 * limit on names (NAME_MAX), so a run can refuse a name before its work, not after. */
int fileio_check_name(const char *path, Error *e);

/* At the start of main: descriptors 0-2 that are closed are opened on /dev/null the wrong
 * way round (stdout read-only), so that writes to them still fail and no file the program
 * opens takes their number. */
void stdio_guard_fds(void);

/* At the end of main: flushes and closes stdout; -1 with "cannot write the standard
 * output: REASON" when any write to it failed (a full disk, /dev/full, a closed stdout). */
int stdout_close_checked(Error *e);

#endif
