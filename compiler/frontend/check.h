/* compiler/frontend/check.h: checks a .cnn file and hands back the Program (program.h): every
 * argument validated, every default filled in, every shape inferred. */
#ifndef CNNC_CHECK_H
#define CNNC_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "program.h"

typedef struct CheckOptions {
    int require_training;       /* a training set, a criterion and an optimizer must be declared */
    int require_classifier;     /* the model must end with one score per class (--eval, --predict) */
} CheckOptions;

/* Reads path, parses and checks it, and fills *out. Returns 0, or -1 after printing one
 * error (with its notes) to diag (stderr when NULL); *out is then empty. opt may be NULL.
 * Release a filled Program with program_free. */
int check_file(const char *path, const CheckOptions *opt, Program *out, FILE *diag);

/* The same on text already in memory (len bytes; NULs allowed, and rejected); path names
 * it in messages and anchors relative data paths. */
int check_source(const char *path, const char *src, size_t len, const CheckOptions *opt,
                 Program *out, FILE *diag);

#endif
