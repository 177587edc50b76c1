/* runtime/mnist.c: torchvision's MNIST and FashionMNIST data sets: the IDX files (gzipped or
 * not) in torchvision's folder root/<Name>/raw/, or directly in root (Debian's
 * dataset-fashion-mnist layout, /usr/share/datasets/fashion-mnist/). Read whole into memory
 * (60000 x 28 x 28 bytes); samples are 'L' images. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "data.h"

typedef struct Idx {
    uint8_t *images, *labels;
    int      rows, cols;
    char     images_path[4200];
} Idx;

static const char *const fashion_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"
};
static const char *const mnist_classes[10] = {
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"
};

char *const *mnist_class_names(int fashion)
{
    return (char *const *)(fashion ? fashion_classes : mnist_classes);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* root/name/raw/file, root/name/raw/file.gz, root/file, root/file.gz: the first that exists */
static int find_file(const char *root, const char *name, const char *file, char *out, size_t n)
{
    const char *fmt[4] = { "%s/%s/raw/%s", "%s/%s/raw/%s.gz", "%s/%.0s%s", "%s/%.0s%s.gz" };
    for (int i = 0; i < 4; i++) {
        snprintf(out, n, fmt[i], root, name, file);
        if (is_file(out)) return 0;
    }
    return -1;
}

/* The most data an IDX file may promise: 4 GiB (MNIST's largest file holds 47 MB). */
#define IDX_MAX_BYTES ((size_t)1 << 32)

/* Reads f (through zlib, which reads uncompressed files as they are) into *buf until *n bytes
 * are there or the file ends, growing *buf (capacity *cap) no further than `upto` bytes. */
static int gz_fill(gzFile f, const char *path, uint8_t **buf, size_t *cap, size_t *n, size_t upto, Error *e)
{
    while (*n < upto) {
        if (*n == *cap) {
            *cap = *cap * 2 < upto ? *cap * 2 : upto;
            *buf = xrealloc(*buf, *cap);
        }
        size_t want = *cap - *n > (1u << 30) ? (1u << 30) : *cap - *n;
        int got = gzread(f, *buf + *n, (unsigned)want);
        if (got < 0) {
            int zerr;
            return err_set(e, "%s: cannot read (%s): the file is corrupt or truncated; download it again", path,
                           gzerror(f, &zerr));
        }
        if (got == 0) break;
        *n += (size_t)got;
    }
    return 0;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* An IDX file of unsigned bytes with `ndims` dimensions: checks the magic number and that the
 * size is what the header says. dims receives the dimensions; *file the whole file, *payload
 * its data. The header is read first, then at most one byte more than it promises: a small
 * gzip file that inflates to far more (a "gzip bomb") costs no more memory than that. */
static int read_idx(const char *path, int ndims, uint32_t *dims, uint8_t **file, const uint8_t **payload, Error *e)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: check the file's permissions", path);
    size_t header = 4 + 4 * (size_t)ndims, cap = 1 << 16, n = 0, expect = 1;
    uint8_t *d = xmalloc(cap);
    uint32_t want_magic = 0x800u | (uint32_t)ndims;
    if (gz_fill(f, path, &d, &cap, &n, header, e)) goto fail;
    if (n < 4 || be32(d) != want_magic) {
        err_set(e, "%s: not an IDX %s file (magic number 0x%08x, expected 0x%08x): check the file name", path,
                ndims == 3 ? "image" : "label", n >= 4 ? be32(d) : 0, want_magic);
        goto fail;
    }
    if (n < header) {
        err_set(e, "%s: wrong size: the file ends inside its header: the file is truncated or corrupt; download it "
                "again", path);
        goto fail;
    }
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(d + 4 + 4 * i);
        if (dims[i] && expect > IDX_MAX_BYTES / dims[i]) expect = IDX_MAX_BYTES + 1;
        else expect *= dims[i];
    }
    if (expect > IDX_MAX_BYTES) {
        err_set(e, "%s: the header promises more than the 4 GiB of data cnnc reads (%u x %u x %u): the file is "
                "corrupt; download it again", path, dims[0], dims[1], dims[2]);
        goto fail;
    }
    if (gz_fill(f, path, &d, &cap, &n, header + expect + 1, e)) goto fail;
    if (n != header + expect) {
        char held[64];
        if (n > header + expect) snprintf(held, sizeof held, "more");
        else snprintf(held, sizeof held, "%zu", n - header);
        err_set(e, "%s: wrong size: the header promises %zu bytes of data but the file holds %s: the file is "
                "truncated or corrupt; download it again", path, expect, held);
        goto fail;
    }
    gzclose(f);
    *file = d;
    *payload = d + header;
    return 0;
fail:
    gzclose(f);
    free(d);
    return -1;
}

static int mnist_get(const Dataset *ds, int i, Image *img, int *target, Error *e)
{
    const Idx *x = ds->impl;
    if (i < 0 || i >= ds->n) return err_set(e, "%s: no sample %d (the data set has %d)", ds->root, i, ds->n);
    size_t n = (size_t)x->rows * (size_t)x->cols;
    img->w = x->cols;
    img->h = x->rows;
    img->c = 1;
    img->px = xmalloc(n);
    memcpy(img->px, x->images + (size_t)i * n, n);
    *target = x->labels[i];
    return 0;
}

static int mnist_view(const Dataset *ds, int i, Image *img, int *target)
{
    const Idx *x = ds->impl;
    size_t n = (size_t)x->rows * (size_t)x->cols;
    *img = (Image){ x->cols, x->rows, 1, x->images + (size_t)i * n };
    *target = x->labels[i];
    return 0;
}

static const char *mnist_path(const Dataset *ds, int i)
{
    (void)i;
    return ((const Idx *)ds->impl)->images_path;
}

static void mnist_free(Dataset *ds)
{
    Idx *x = ds->impl;
    if (x) {
        free(x->images - 16);           /* the whole file, header included */
        free(x->labels - 8);
        free(x);
    }
    for (int i = 0; i < ds->nclasses; i++) free(ds->class_names[i]);
    free(ds->class_names);
}

int dataset_open_mnist(Dataset *ds, const char *root, int fashion, int train, Error *e)
{
    memset(ds, 0, sizeof *ds);
    const char *name = fashion ? "FashionMNIST" : "MNIST", *prefix = train ? "train" : "t10k";
    if (strlen(root) >= sizeof ds->root) return err_set(e, "%.200s...: path too long", root);
    strcpy(ds->root, root);
    char ipath[4200], lpath[4200], iname[64], lname[64];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
    if (find_file(root, name, iname, ipath, sizeof ipath) || find_file(root, name, lname, lpath, sizeof lpath))
        return err_set(e, "%s: no %s %s files: expected %s/%s/raw/%s[.gz] and %s[.gz] (torchvision's layout) or "
                       "the same files in %s itself (Debian's dataset-fashion-mnist installs them in "
                       "/usr/share/datasets/fashion-mnist)", root, name, train ? "training" : "test", root, name,
                       iname, lname, root);
    uint32_t idims[3], ldims[1];
    uint8_t *ifile, *lfile;
    const uint8_t *images, *labels;
    if (read_idx(ipath, 3, idims, &ifile, &images, e)) return -1;
    if (read_idx(lpath, 1, ldims, &lfile, &labels, e)) {
        free(ifile);
        return -1;
    }
    int bad = -1;
    for (uint32_t i = 0; i < ldims[0] && bad < 0; i++)
        if (labels[i] > 9) bad = (int)i;
    if (idims[0] != ldims[0] || idims[0] == 0 || idims[0] > 0x7fffffff || idims[1] == 0 || idims[2] == 0 ||
        idims[1] > 65536 || idims[2] > 65536 || bad >= 0) {
        if (bad >= 0)
            err_set(e, "%s: label %d of sample %d is not a class (0 to 9): the file is corrupt", lpath, labels[bad], bad);
        else if (idims[0] != ldims[0])
            err_set(e, "%s has %u images but %s has %u labels: the files do not belong together", ipath, idims[0],
                    lpath, ldims[0]);
        else
            err_set(e, "%s: %u images of %ux%u pixels: not a usable IDX image file", ipath, idims[0], idims[2],
                    idims[1]);
        free(ifile);
        free(lfile);
        return -1;
    }
    Idx *x = xcalloc(1, sizeof *x);
    x->images = (uint8_t *)images;
    x->labels = (uint8_t *)labels;
    x->rows = (int)idims[1];
    x->cols = (int)idims[2];
    snprintf(x->images_path, sizeof x->images_path, "%s", ipath);
    ds->impl = x;
    ds->n = (int)idims[0];
    ds->channels = 1;
    ds->nclasses = 10;
    ds->class_names = xmalloc(10 * sizeof *ds->class_names);
    for (int i = 0; i < 10; i++) ds->class_names[i] = xstrdup(fashion ? fashion_classes[i] : mnist_classes[i]);
    ds->get = mnist_get;
    ds->view = mnist_view;
    ds->path = mnist_path;
    ds->free_impl = mnist_free;
    return 0;
}
