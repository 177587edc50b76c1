/* compiler/frontend/diag.h: printing compile errors the way STYLE.md shows them: `path:line:col:
 * error: message`, the source line in a `%5d | ` gutter, a caret line under the construct,
 * then any `note: ...` lines. Only the first error is printed: the check stops at it. */
#ifndef CNNC_DIAG_H
#define CNNC_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "program.h"

typedef struct Diag {
    FILE       *out;        /* where messages go (stderr unless a test captures them) */
    const char *path;       /* the file as named by the caller */
    const char *src;        /* its text, for the source excerpts */
    size_t      len;
    int         nerrors;    /* errors reported; only the first is printed */
} Diag;

void diag_init(Diag *d, FILE *out, const char *path, const char *src, size_t len);

/* `path:line:col: error: ...` with the source excerpt; loc.line == 0 prints no location.
 * Returns -1 so callers can write `return diag_error(...)`. */
int  diag_error(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* `path:line:col: warning: ...` with the excerpt; the check goes on (nothing once an
 * error has been reported). */
void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* `note: ...` after the error just printed (nothing if that error was suppressed). */
void diag_note(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `cnnc: error: ...`, for errors that have no place in the file (it cannot be read). */
int  diag_plain(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "path:line:col" of loc, in buf. */
const char *diag_where(const Diag *d, SrcLoc loc, char *buf, size_t n);
/* The source text of line `line` between columns col and end_col (exclusive), in buf;
 * returns 0, or -1 when that range is not on one line of the file. */
int  diag_text(const Diag *d, int line, int col, int end_col, char *buf, size_t n);

#endif
