/* runtime/error.c: error messages and allocation helpers shared by the whole runtime. */
#include "error.h"

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
