/* runtime/error.c: error messages and allocation helpers shared by the whole runtime. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_set(Error *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#include <stdatomic.h>

static atomic_ulong allocations;

unsigned long alloc_count(void) { return atomic_load(&allocations); }

const char *err_reason(int errnum, int writing)
{
    static _Thread_local char buf[256];
    const char *hint;
    switch (errnum) {
    case ENOENT:  hint = writing ? "create the folder first or choose another path" : "check the path"; break;
    case ENOTDIR: hint = "a part of the path is a file, not a folder: check the path"; break;
    case EISDIR:  hint = "give a file, not a folder"; break;
    case EACCES:
    case EPERM:   hint = writing ? "choose a folder you can write to or change its permissions"
                                 : "check its permissions (chmod) or run as a user who may read it"; break;
    case EROFS:   hint = "the file system is read-only: choose a path on a writable one"; break;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
    case EFBIG:   hint = "the disk is full or the file size limit was reached: free some space or write elsewhere"; break;
    case ENAMETOOLONG: hint = "shorten the path"; break;
    case EMFILE:
    case ENFILE:  hint = "too many open files: raise the limit (ulimit -n)"; break;
    default:      hint = NULL; break;
    }
    snprintf(buf, sizeof buf, "%s%s%s", strerror(errnum), hint ? ": " : "", hint ? hint : "");
    return buf;
}

static void out_of_memory(unsigned long n)
{
    fprintf(stderr, "cnnc: error: out of memory allocating %lu bytes\n", n);
    exit(1);
}

void *xmalloc(unsigned long n)
{
    atomic_fetch_add(&allocations, 1);
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *xcalloc(unsigned long n, unsigned long size)
{
    atomic_fetch_add(&allocations, 1);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(n * size);
    return p;
}

void *xrealloc(void *p, unsigned long n)
{
    atomic_fetch_add(&allocations, 1);
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}
