/* runtime/imagefolder.c: torchvision.datasets.ImageFolder (as in torchvision 0.14) over a
 * folder tree: root/<class>/.../<image>. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"

/* torchvision's IMG_EXTENSIONS, matched against the lower-cased file name, and .gif and .tga,
 * which cnnc reads too (the README's formats). .tif, .tiff and .webp files are counted, as
 * torchvision counts them, and reported by dataset_check: stb_image cannot decode them. */
static const char *const img_extensions[] = { ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp",
                                              ".gif", ".tga" };
#define EXTENSIONS_TEXT ".jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp .gif .tga"

typedef struct Sample {
    char *path;
    int   target;
} Sample;

typedef struct Folder {
    Sample *s;
    int     n, cap;
} Folder;

/* A growable list of strings. */
typedef struct StrList {
    char **s;
    int    n, cap;
} StrList;

static void strlist_push(StrList *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->s = xrealloc(l->s, (size_t)l->cap * sizeof *l->s);
    }
    l->s[l->n++] = s;
}

static void strlist_free(StrList *l)
{
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* Python's sorted() on str: code point order, which is byte order for UTF-8. */
static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void strlist_sort(StrList *l)
{
    if (l->n > 1) qsort(l->s, (size_t)l->n, sizeof *l->s, str_cmp);
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = xmalloc(a + (size_t)slash + b + 1);
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b + 1);
    return p;
}

int has_image_extension(const char *name)
{
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof img_extensions / sizeof img_extensions[0]; k++) {
        size_t m = strlen(img_extensions[k]);
        if (n < m) continue;
        int ok = 1;
        for (size_t j = 0; j < m && ok; j++) {
            char c = name[n - m + j];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            ok = c == img_extensions[k][j];
        }
        if (ok) return 1;
    }
    return 0;
}

/* Lists a folder as os.scandir does: entries split into folders (following symlinks, as
 * DirEntry.is_dir() does) and everything else. */
static int list_dir(const char *dir, StrList *dirs, StrList *files, Error *e)
{
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot read folder: %s", dir, err_reason(errno, 0));
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = path_join(dir, de->d_name);
        struct stat st;
        int is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
        if (is_dir) strlist_push(dirs, xstrdup(de->d_name));
        else if (files) strlist_push(files, xstrdup(de->d_name));
        errno = 0;
    }
    int err = errno;
    closedir(d);
    if (err) return err_set(e, "%s: cannot read folder: %s", dir, err_reason(err, 0));
    return 0;
}

/* A folder on the current walk path, to refuse symlink cycles (os.walk would loop until the
 * path grows too long). */
typedef struct Ancestor {
    dev_t dev;
    ino_t ino;
    const struct Ancestor *up;
} Ancestor;

/* os.walk(dir, followlinks=True): appends dir and every folder below it to out. */
static int walk(const char *dir, const Ancestor *up, int depth, StrList *out, Error *e)
{
    struct stat st;
    if (stat(dir, &st)) return err_set(e, "%s: cannot read folder: %s", dir, err_reason(errno, 0));
    for (const Ancestor *a = up; a; a = a->up)
        if (a->dev == st.st_dev && a->ino == st.st_ino)
            return err_set(e, "%s: symbolic link loop (the folder contains itself): remove the link", dir);
    if (depth > 256) return err_set(e, "%s: folders nested too deeply", dir);
    Ancestor me = { st.st_dev, st.st_ino, up };
    strlist_push(out, xstrdup(dir));
    StrList subs = { 0 };
    int rc = list_dir(dir, &subs, NULL, e);
    for (int i = 0; rc == 0 && i < subs.n; i++) {
        char *p = path_join(dir, subs.s[i]);
        rc = walk(p, &me, depth + 1, out, e);
        free(p);
    }
    strlist_free(&subs);
    return rc;
}

static void folder_add(Folder *f, char *path, int target)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 64;
        f->s = xrealloc(f->s, (size_t)f->cap * sizeof *f->s);
    }
    f->s[f->n++] = (Sample){ path, target };
}

/* torchvision's make_dataset for one class: for root, _, fnames in sorted(os.walk(...)),
 * for fname in sorted(fnames), keep the image extensions. Returns the number added. */
static int add_class(Folder *f, const char *class_dir, int target, Error *e)
{
    StrList dirs = { 0 };
    int rc = walk(class_dir, NULL, 0, &dirs, e), added = 0;
    strlist_sort(&dirs);
    for (int i = 0; rc == 0 && i < dirs.n; i++) {
        StrList sub = { 0 }, files = { 0 };
        rc = list_dir(dirs.s[i], &sub, &files, e);
        strlist_sort(&files);
        for (int k = 0; rc == 0 && k < files.n; k++)
            if (has_image_extension(files.s[k])) {
                folder_add(f, path_join(dirs.s[i], files.s[k]), target);
                added++;
            }
        strlist_free(&sub);
        strlist_free(&files);
    }
    strlist_free(&dirs);
    return rc ? -1 : added;
}

static int imagefolder_get(const Dataset *ds, int i, Image *img, int *target, Error *e)
{
    const Folder *f = ds->impl;
    if (i < 0 || i >= f->n) return err_set(e, "%s: no sample %d (the data set has %d)", ds->root, i, f->n);
    *target = f->s[i].target;
    return image_load(f->s[i].path, ds->channels, img, e);
}

static int imagefolder_probe(const Dataset *ds, int i, ImageInfo *info, Error *e)
{
    const Folder *f = ds->impl;
    if (i < 0 || i >= f->n) return err_set(e, "%s: no sample %d (the data set has %d)", ds->root, i, f->n);
    return image_probe(f->s[i].path, info, e);
}

static const char *imagefolder_path(const Dataset *ds, int i)
{
    const Folder *f = ds->impl;
    return i >= 0 && i < f->n ? f->s[i].path : ds->root;
}

static void imagefolder_free(Dataset *ds)
{
    Folder *f = ds->impl;
    if (f) {
        for (int i = 0; i < f->n; i++) free(f->s[i].path);
        free(f->s);
        free(f);
    }
    for (int i = 0; i < ds->nclasses; i++) free(ds->class_names[i]);
    free(ds->class_names);
}

int dataset_open_imagefolder(Dataset *ds, const char *root, int channels, Error *e)
{
    memset(ds, 0, sizeof *ds);
    if (strlen(root) >= sizeof ds->root) return err_set(e, "%.200s...: path too long", root);
    strcpy(ds->root, root);
    ds->channels = channels;
    struct stat st;
    if (stat(root, &st) || !S_ISDIR(st.st_mode))
        return err_set(e, "%s: no such folder: check the dataset path in the .cnn file or pass --data DIR", root);
    StrList classes = { 0 };
    if (list_dir(root, &classes, NULL, e)) {
        strlist_free(&classes);
        return -1;
    }
    if (classes.n == 0) {
        strlist_free(&classes);
        return err_set(e, "%s: no class folders: ImageFolder expects %s/<class>/<image>", root, root);
    }
    strlist_sort(&classes);
    Folder *f = xcalloc(1, sizeof *f);
    ds->impl = f;
    ds->get = imagefolder_get;
    ds->path = imagefolder_path;
    ds->probe = imagefolder_probe;
    ds->free_impl = imagefolder_free;
    ds->nclasses = classes.n;
    ds->class_names = classes.s;        /* the Dataset owns the names now */
    for (int c = 0; c < ds->nclasses; c++) {
        char *dir = path_join(root, ds->class_names[c]);
        int added = add_class(f, dir, c, e);
        if (added == 0)
            err_set(e, "%s: class folder has no images (ImageFolder needs at least one file ending in "
                    EXTENSIONS_TEXT ")", dir);
        free(dir);
        if (added <= 0) {
            dataset_free(ds);
            return -1;
        }
    }
    ds->n = f->n;
    return 0;
}

/* Generic over data sets: each implementation frees what it owns (class names included). */
void dataset_free(Dataset *ds)
{
    sample_cache_free(ds);
    if (ds->free_impl) ds->free_impl(ds);
    memset(ds, 0, sizeof *ds);
}
