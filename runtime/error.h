/* runtime/error.h: one error message carried back to the caller, who decides how to print it. */
#ifndef CN_ERROR_H
#define CN_ERROR_H

typedef struct Error {
    char msg[1024];     /* one line, no trailing newline, no "error:" prefix */
} Error;

/* Formats the message into e (if e is not NULL) and returns -1, so callers can write
 * `return err_set(e, "...")`. */
int err_set(Error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* strerror(errnum) followed by what a person can do about it, e.g. "No such file or
 * directory: check the path"; writing selects the advice for files being written. */
const char *err_reason(int errnum, int writing);

/* malloc/calloc that abort with a message on exhaustion: allocation sizes are checked
 * against the plan before any of these run, so failure here is not a user error. */
void *xmalloc(unsigned long n);
void *xcalloc(unsigned long n, unsigned long size);
void *xrealloc(void *p, unsigned long n);
char *xstrdup(const char *s);

/* How many times the helpers above have allocated: a training step after the first must
 * not allocate, and a test counts. */
unsigned long alloc_count(void);

#endif
