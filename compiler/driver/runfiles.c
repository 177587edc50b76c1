/* compiler/driver/runfiles.c: a run's outputs checked against its inputs and each other, and
 * --predict's folders listed (see runfiles.h). */
#include "runfiles.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../runtime/data.h"
#include "../../runtime/error.h"

/* Where a path is: its inode when it exists, else its folder's resolved path and its name,
 * so two spellings of a file that does not exist yet are one file too. */
typedef struct PathId {
    int   exists, is_dir;
    dev_t dev;
    ino_t ino;
    char *canon;        /* resolved path (the folder's, plus the name, when it does not exist) */
} PathId;

static void path_id(const char *path, PathId *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (stat(path, &st) == 0) {
        id->exists = 1;
        id->is_dir = S_ISDIR(st.st_mode);
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        id->canon = realpath(path, NULL);
        if (!id->canon) id->canon = xstrdup(path);
        return;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrdup(path) : xstrdup(".");
    if (slash) dir[slash == path ? 1 : slash - path] = 0;
    char *rd = realpath(dir, NULL);
    const char *base = slash ? slash + 1 : path;
    if (rd) {
        id->canon = xmalloc(strlen(rd) + strlen(base) + 2);
        sprintf(id->canon, "%s/%s", strcmp(rd, "/") ? rd : "", base);
        free(rd);
    } else {
        id->canon = xstrdup(path);
    }
    free(dir);
}

static int same_file(const PathId *a, const PathId *b)
{
    if (a->exists != b->exists) return 0;
    if (a->exists) return a->dev == b->dev && a->ino == b->ino;
    return strcmp(a->canon, b->canon) == 0;
}

/* Whether out lies inside the folder dir (both resolved) */
static int inside(const PathId *out, const PathId *dir)
{
    if (!dir->exists || !dir->is_dir) return 0;
    size_t n = strlen(dir->canon);
    return strncmp(out->canon, dir->canon, n) == 0 && (out->canon[n] == '/' || (n == 1 && dir->canon[0] == '/'));
}

static const char *kind_text(RunFileKind k)
{
    switch (k) {
    case RF_MODEL:      return "a model file (safetensors)";
    case RF_CHECKPOINT: return "a checkpoint (safetensors)";
    case RF_REPORT:     return "an HTML report";
    case RF_HISTORY:    return "a history CSV written by --history";
    case RF_PNG:        return "a PNG image";
    case RF_DIR:        return "a folder";
    case RF_ONNX:       return "an ONNX model";
    default:            return "an output";
    }
}

/* Whether the existing file at path is of kind k (an empty file is anything's). */
static int of_kind(const char *path, const PathId *id, RunFileKind k)
{
    if (k == RF_DIR) return id->is_dir;
    if (id->is_dir) return 0;
    unsigned char b[16] = { 0 };
    FILE *f = fopen(path, "rb");
    if (!f) return 1;           /* unreadable: the write itself will say what is wrong */
    size_t n = fread(b, 1, sizeof b, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    if (n == 0) return 1;
    switch (k) {
    case RF_MODEL:
    case RF_CHECKPOINT: {       /* 8-byte little-endian header length, then the JSON header */
        unsigned long long len = 0;
        for (int i = 7; i >= 0; i--) len = len << 8 | b[i];
        return n >= 9 && b[8] == '{' && len <= (unsigned long long)size - 8;
    }
    case RF_REPORT:  return n >= 15 && (strncmp((char *)b, "<!DOCTYPE html>", 15) == 0);
    case RF_HISTORY: return n >= 6 && strncmp((char *)b, "epoch,", 6) == 0;
    case RF_PNG:     return n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0;
    case RF_ONNX:    return b[0] == 0x08;      /* field 1 (ir_version), a varint */
    default:         return 1;
    }
}

static int is_output(RunFileKind k) { return k >= RF_MODEL; }

int runfiles_check(const RunFile *f, int n)
{
    PathId *id = xcalloc((size_t)n + 1, sizeof *id);
    for (int i = 0; i < n; i++) path_id(f[i].path, &id[i]);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!is_output(f[i].kind)) continue;
        for (int j = 0; j < n && !rc; j++) {
            if (j == i) continue;
            int ckpt_over_resume = f[j].kind == RF_RESUME && f[i].kind == RF_CHECKPOINT;
            if (f[j].kind == RF_DATA && (same_file(&id[i], &id[j]) || inside(&id[i], &id[j]))) {
                fprintf(stderr, "cnnc: error: %s %s is %s the data folder %s: write outputs elsewhere\n", f[i].role,
                        f[i].path, same_file(&id[i], &id[j]) ? "" : "inside", f[j].path);
                rc = -1;
            } else if (!is_output(f[j].kind) && !ckpt_over_resume && same_file(&id[i], &id[j])) {
                fprintf(stderr, "cnnc: error: %s %s is %s%s%s, an input of this run: writing it would destroy it; "
                                "choose another path\n", f[i].role, f[i].path, f[j].role,
                        strcmp(f[i].path, f[j].path) ? " " : "", strcmp(f[i].path, f[j].path) ? f[j].path : "");
                rc = -1;
            } else if (is_output(f[j].kind) && j < i && same_file(&id[i], &id[j])) {
                fprintf(stderr, "cnnc: error: %s %s is also %s's path: give each output its own file\n", f[i].role,
                        f[i].path, f[j].role);
                rc = -1;
            }
        }
        if (!rc && id[i].exists && !of_kind(f[i].path, &id[i], f[i].kind)) {
            fprintf(stderr, "cnnc: error: %s %s exists and is not %s: refusing to replace it; remove it or choose "
                            "another path\n", f[i].role, f[i].path, kind_text(f[i].kind));
            rc = -1;
        }
    }
    for (int i = 0; i < n; i++) free(id[i].canon);
    free(id);
    return rc;
}

/* ---- --predict's folders ---- */

typedef struct PathList {
    char **p;
    int    n, cap;
} PathList;

static void push(PathList *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->p = xrealloc(l->p, (size_t)l->cap * sizeof *l->p);
    }
    l->p[l->n++] = s;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_images(const char *dir, PathList *out, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cnnc: error: cannot read the folder %s: %s\n", dir, err_reason(errno, 0));
        return -1;
    }
    PathList here = { 0 };
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;     /* ., .. and hidden files */
        char *p = xmalloc(strlen(dir) + strlen(de->d_name) + 2);
        sprintf(p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
        push(&here, p);
    }
    closedir(d);
    if (here.n) qsort(here.p, (size_t)here.n, sizeof *here.p, by_path);
    int rc = 0;
    for (int i = 0; i < here.n; i++) {
        struct stat st;
        if (rc == 0 && stat(here.p[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            if (depth < 64) rc = list_images(here.p[i], out, depth + 1);
            free(here.p[i]);
        } else if (rc == 0 && has_image_extension(here.p[i])) {
            push(out, here.p[i]);
        } else {
            free(here.p[i]);
        }
    }
    free(here.p);
    return rc;
}

int runfiles_expand(char *const *args, int nargs, char ***out, int *failed)
{
    PathList l = { 0 };
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            int before = l.n;
            if (list_images(args[i], &l, 0) < 0) {
                for (int k = 0; k < l.n; k++) free(l.p[k]);
                free(l.p);
                return -1;
            }
            if (l.n == before) {
                fprintf(stderr, "cnnc: error: the folder %s holds no image files (named as ImageFolder reads them: "
                                "*.png, *.jpg, ...)\n", args[i]);
                (*failed)++;
            }
        } else {
            push(&l, xstrdup(args[i]));
        }
    }
    *out = l.p;
    return l.n;
}
