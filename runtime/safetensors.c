/* runtime/safetensors.c: the safetensors file format, written atomically and read without
 * trusting the file; see safetensors.h and https://github.com/huggingface/safetensors. */
#include "safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "json.h"

#define ST_MAX_HEADER 100000000u       /* the reference implementation's limit, 100 MB */

static const struct {
    const char *name;
    size_t      size;
} dtypes[] = {
    [ST_F32] = { "F32", 4 },
    [ST_I32] = { "I32", 4 },
    [ST_I64] = { "I64", 8 },
    [ST_U8] = { "U8", 1 },
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* the other dtypes of the format, named in messages as known but not supported */
static const char *other_dtypes[] = { "BOOL", "F16", "BF16", "F64", "I8", "I16", "U16", "U32", "U64",
                                      "F8_E4M3", "F8_E5M2" };

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static void byteswap(unsigned char *p, size_t nbytes, size_t elem)
{
    for (size_t i = 0; i + elem <= nbytes; i += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            unsigned char t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

/* numel * elem, or -1 on overflow or negative dimensions */
static int64_t tensor_nbytes(const int64_t *shape, int ndim, size_t elem)
{
    uint64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        if (shape[d] && n > (uint64_t)INT64_MAX / (uint64_t)shape[d]) return -1;
        n *= (uint64_t)shape[d];
    }
    if (n > (uint64_t)INT64_MAX / elem) return -1;
    return (int64_t)(n * elem);
}

/* ---- writing ---- */

/* The JSON header, padded with spaces so the data starts at a multiple of 8. */
static int build_header(JsonBuf *h, const StTensor *t, int nt, const StMeta *meta, int nmeta,
                        const char *path, Error *e)
{
    json_buf_puts(h, "{");
    if (nmeta > 0) {
        json_buf_puts(h, "\"__metadata__\":{");
        for (int i = 0; i < nmeta; i++) {
            if (!meta[i].key || !meta[i].value)
                return err_set(e, "cannot write %s: metadata entry %d has no key or value", path, i);
            if (i) json_buf_puts(h, ",");
            json_buf_string(h, meta[i].key);
            json_buf_puts(h, ":");
            json_buf_string(h, meta[i].value);
        }
        json_buf_puts(h, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < nt; i++) {
        if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0)
            return err_set(e, "cannot write %s: tensor %d has an invalid name", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return err_set(e, "cannot write %s: two tensors are named '%s'", path, t[i].name);
        if ((unsigned)t[i].dtype >= (unsigned)NDTYPES || t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS)
            return err_set(e, "cannot write %s: tensor '%s' has an invalid dtype or rank", path, t[i].name);
        int64_t nb = tensor_nbytes(t[i].shape, t[i].ndim, dtypes[t[i].dtype].size);
        if (nb < 0) return err_set(e, "cannot write %s: tensor '%s' has an invalid shape", path, t[i].name);
        if (nb > 0 && !t[i].data) return err_set(e, "cannot write %s: tensor '%s' has no data", path, t[i].name);
        if (nmeta > 0 || i) json_buf_puts(h, ",");
        json_buf_string(h, t[i].name);
        json_buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[t[i].dtype].name);
        for (int d = 0; d < t[i].ndim; d++) json_buf_printf(h, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        json_buf_printf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                        (unsigned long long)(offset + (uint64_t)nb));
        offset += (uint64_t)nb;
    }
    json_buf_puts(h, "}");
    while (h->len % 8) json_buf_puts(h, " ");
    return 0;
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1;
}

/* Tensor data in little-endian order, swapped through a bounce buffer on big-endian hosts. */
static int write_tensor_data(FILE *f, const StTensor *t)
{
    size_t elem = dtypes[t->dtype].size;
    size_t nb = (size_t)tensor_nbytes(t->shape, t->ndim, elem);
    if (host_is_little_endian() || elem == 1) return write_all(f, t->data, nb);
    unsigned char tmp[4096];
    for (size_t i = 0; i < nb; i += sizeof tmp) {
        size_t k = nb - i < sizeof tmp ? nb - i : sizeof tmp;
        memcpy(tmp, (const unsigned char *)t->data + i, k);
        byteswap(tmp, k, elem);
        if (write_all(f, tmp, k)) return -1;
    }
    return 0;
}

typedef struct Contents {
    const JsonBuf  *header;
    const StTensor *t;
    int             nt;
} Contents;

/* The file: the header's length, the header, then each tensor's data. */
static int write_contents(FILE *f, void *ctx)
{
    const Contents *c = ctx;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)c->header->len >> (8 * i));
    if (write_all(f, len8, 8) || write_all(f, c->header->p, c->header->len)) return -1;
    for (int i = 0; i < c->nt; i++)
        if (write_tensor_data(f, &c->t[i])) return -1;
    return 0;
}

int safetensors_write(const char *path, const StTensor *t, int nt, const StMeta *meta, int nmeta, Error *e)
{
    JsonBuf h = { 0 };
    int rc = build_header(&h, t, nt, meta, nmeta, path, e);
    if (rc == 0) rc = write_file_atomic_with(path, write_contents, &(Contents){ &h, t, nt }, e);
    json_buf_free(&h);
    return rc;
}

/* ---- reading ---- */

static int entry_shape(StEntry *en, const JsonValue *shape, const char *what, Error *e)
{
    if (!shape || shape->type != JSON_ARRAY)
        return err_set(e, "%s: tensor '%s' has no \"shape\" array", what, en->name);
    if (shape->n > ST_MAX_DIMS)
        return err_set(e, "%s: tensor '%s' has %zu dimensions; at most %d are supported", what, en->name,
                       shape->n, ST_MAX_DIMS);
    en->ndim = (int)shape->n;
    for (size_t d = 0; d < shape->n; d++) {
        const JsonValue *v = &shape->items[d];
        if (v->type != JSON_NUMBER || !v->is_int || v->i < 0)
            return err_set(e, "%s: tensor '%s' has an invalid shape (dimension %zu is not a non-negative integer)",
                           what, en->name, d);
        en->shape[d] = v->i;
    }
    return 0;
}

static int entry_dtype(StEntry *en, const JsonValue *dt, const char *what, Error *e)
{
    if (!dt || dt->type != JSON_STRING) return err_set(e, "%s: tensor '%s' has no \"dtype\" string", what, en->name);
    for (int k = 0; k < NDTYPES; k++)
        if (strcmp(dt->str, dtypes[k].name) == 0) {
            en->dtype = (StDType)k;
            return 0;
        }
    for (size_t k = 0; k < sizeof other_dtypes / sizeof other_dtypes[0]; k++)
        if (strcmp(dt->str, other_dtypes[k]) == 0)
            return err_set(e, "%s: tensor '%s' has dtype %s, which cnnc does not support (F32, I32, I64 and U8 only)",
                           what, en->name, dt->str);
    return err_set(e, "%s: tensor '%s' has unknown dtype \"%.64s\"", what, en->name, dt->str);
}

typedef struct Span {
    uint64_t begin, end;
    int      entry;
} Span;

static int span_cmp(const void *a, const void *b)
{
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that occurs twice among n names, or NULL; sorts, so hostile headers with
 * many entries cost n log n. */
static const char *first_duplicate(const char **names, int n)
{
    qsort(names, (size_t)n, sizeof *names, str_cmp);
    for (int k = 1; k < n; k++)
        if (strcmp(names[k], names[k - 1]) == 0) return names[k];
    return NULL;
}

/* Offsets must tile the data buffer exactly, as the format demands: sorted by offset, each
 * tensor starts where the previous one ended, the first at 0 and the last at the end. */
static int check_layout(StFile *f, Span *sp, uint64_t datalen, const char *what, Error *e)
{
    qsort(sp, (size_t)f->nt, sizeof *sp, span_cmp);
    uint64_t at = 0;
    for (int k = 0; k < f->nt; k++) {
        const char *name = f->t[sp[k].entry].name;
        if (sp[k].begin > at)
            return err_set(e, "%s: bytes %llu to %llu of the data belong to no tensor (before '%s')", what,
                           (unsigned long long)at, (unsigned long long)sp[k].begin, name);
        if (sp[k].begin < at)
            return err_set(e, "%s: tensor '%s' overlaps '%s' in the data (its data_offsets begin at %llu, before %llu)",
                           what, name, f->t[sp[k - 1].entry].name, (unsigned long long)sp[k].begin,
                           (unsigned long long)at);
        at = sp[k].end;
    }
    if (at != datalen)
        return err_set(e, "%s: bytes %llu to %llu of the data belong to no tensor", what, (unsigned long long)at,
                       (unsigned long long)datalen);
    return 0;
}

static int parse_header(StFile *f, const JsonValue *root, const unsigned char *data, uint64_t datalen,
                        const char *what, Error *e)
{
    if (root->type != JSON_OBJECT) return err_set(e, "%s: header is %s, not a JSON object", what, json_type_name(root->type));
    f->t = xcalloc(root->n ? root->n : 1, sizeof *f->t);
    f->meta = NULL;
    Span *sp = xcalloc(root->n ? root->n : 1, sizeof *sp);
    int rc = -1, seen_meta = 0;
    for (size_t m = 0; m < root->n; m++) {
        const JsonMember *mem = &root->members[m];
        const JsonValue *v = &mem->value;
        if (strcmp(mem->key, "__metadata__") == 0 && mem->keylen == 12) {
            if (seen_meta++) { err_set(e, "%s: header has two \"__metadata__\" entries", what); goto out; }
            if (v->type != JSON_OBJECT) { err_set(e, "%s: \"__metadata__\" is %s, not an object", what, json_type_name(v->type)); goto out; }
            f->meta = xcalloc(v->n ? v->n : 1, sizeof *f->meta);
            for (size_t k = 0; k < v->n; k++) {
                const JsonMember *kv = &v->members[k];
                if (kv->value.type != JSON_STRING) {
                    err_set(e, "%s: metadata \"%.64s\" is %s; safetensors metadata values must be strings", what,
                            kv->key, json_type_name(kv->value.type));
                    goto out;
                }
                if (strlen(kv->key) != kv->keylen || strlen(kv->value.str) != kv->value.len) {
                    err_set(e, "%s: metadata \"%.64s\" contains a NUL character", what, kv->key);
                    goto out;
                }
                f->meta[f->nmeta].key = xstrdup(kv->key);
                f->meta[f->nmeta].value = xstrdup(kv->value.str);
                f->nmeta++;
            }
            continue;
        }
        StEntry *en = &f->t[f->nt];
        if (strlen(mem->key) != mem->keylen || mem->keylen == 0) {
            err_set(e, "%s: a tensor name is empty or contains a NUL character", what);
            goto out;
        }
        en->name = xstrdup(mem->key);
        f->nt++;
        if (v->type != JSON_OBJECT) { err_set(e, "%s: entry '%s' is %s, not an object", what, en->name, json_type_name(v->type)); goto out; }
        if (entry_dtype(en, json_get(v, "dtype"), what, e) || entry_shape(en, json_get(v, "shape"), what, e)) goto out;
        const JsonValue *off = json_get(v, "data_offsets");
        if (!off || off->type != JSON_ARRAY || off->n != 2 || off->items[0].type != JSON_NUMBER ||
            off->items[1].type != JSON_NUMBER || !off->items[0].is_int || !off->items[1].is_int ||
            off->items[0].i < 0 || off->items[1].i < 0) {
            err_set(e, "%s: tensor '%s' needs \"data_offsets\": [begin, end] with non-negative integers", what, en->name);
            goto out;
        }
        uint64_t b = (uint64_t)off->items[0].i, end = (uint64_t)off->items[1].i;
        if (b > end) {
            err_set(e, "%s: tensor '%s' has data_offsets [%llu, %llu] that end before they begin", what, en->name,
                    (unsigned long long)b, (unsigned long long)end);
            goto out;
        }
        if (end > datalen) {
            err_set(e, "%s: tensor '%s' has data_offsets [%llu, %llu] past the end of the data (%llu bytes): the file is truncated or damaged", what,
                    en->name, (unsigned long long)b, (unsigned long long)end, (unsigned long long)datalen);
            goto out;
        }
        int64_t want = tensor_nbytes(en->shape, en->ndim, dtypes[en->dtype].size);
        if (want < 0) { err_set(e, "%s: tensor '%s' has a shape whose size overflows", what, en->name); goto out; }
        if ((uint64_t)want != end - b) {
            err_set(e, "%s: tensor '%s' has %llu bytes of data but its shape and dtype %s need %llu", what, en->name,
                    (unsigned long long)(end - b), dtypes[en->dtype].name, (unsigned long long)want);
            goto out;
        }
        en->data = data + b;
        en->nbytes = (size_t)(end - b);
        sp[f->nt - 1] = (Span){ b, end, f->nt - 1 };
    }
    /* duplicate names: JSON allows them, the format does not */
    const char **names = xmalloc(((size_t)f->nt + (size_t)f->nmeta + 1) * sizeof *names);
    for (int k = 0; k < f->nt; k++) names[k] = f->t[k].name;
    const char *dup = first_duplicate(names, f->nt);
    if (dup) err_set(e, "%s: tensor name '%s' appears twice in the header", what, dup);
    for (int k = 0; !dup && k < f->nmeta; k++) names[k] = f->meta[k].key;
    const char *mdup = dup ? NULL : first_duplicate(names, f->nmeta);
    if (mdup) err_set(e, "%s: metadata key \"%.64s\" appears twice", what, mdup);
    free(names);
    if (!dup && !mdup) rc = check_layout(f, sp, datalen, what, e);
out:
    free(sp);
    return rc;
}

/* Frees what parsing built and keeps the message on one line: names come from the file. */
static int parse_failed(StFile *f, Error *e)
{
    safetensors_free(f);
    if (e)
        for (char *c = e->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

int safetensors_parse(StFile *f, const char *what, char *buf, size_t size, Error *e)
{
    memset(f, 0, sizeof *f);
    f->buf = buf;
    f->size = size;
    if (size < 8) {
        err_set(e, "%s: file is %zu bytes, too short for a safetensors file (it needs an 8-byte header length)",
                what, size);
        return parse_failed(f, e);
    }
    const unsigned char *u = (const unsigned char *)buf;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | u[i];
    if (n > size - 8) {
        err_set(e, "%s: header length %llu is longer than the rest of the file (%zu bytes): the file is truncated "
                "or not safetensors", what, (unsigned long long)n, size - 8);
        return parse_failed(f, e);
    }
    if (n > ST_MAX_HEADER) {
        err_set(e, "%s: header length %llu exceeds the format's limit of 100 MB", what, (unsigned long long)n);
        return parse_failed(f, e);
    }
    if (n < 2 || buf[8] != '{') {
        err_set(e, "%s: header does not start with '{': not a safetensors file", what);
        return parse_failed(f, e);
    }
    /* move the data so it starts 8-byte aligned, whatever the header length */
    size_t data_at = 8 + (size_t)n, datalen = size - data_at;
    if (data_at % 8) {
        size_t aligned = (data_at + 7) & ~(size_t)7;
        f->buf = buf = xrealloc(buf, aligned + datalen);
        memmove(buf + aligned, buf + data_at, datalen);
        data_at = aligned;
    }
    JsonDoc doc;
    char jwhat[4200];
    snprintf(jwhat, sizeof jwhat, "%s: header is not valid JSON", what);
    if (json_parse(&doc, buf + 8, (size_t)n, jwhat, e)) return parse_failed(f, e);
    int rc = parse_header(f, &doc.root, (unsigned char *)buf + data_at, datalen, what, e);
    json_free(&doc);
    if (rc) return parse_failed(f, e);
    if (!host_is_little_endian())
        for (int i = 0; i < f->nt; i++)
            byteswap((unsigned char *)f->t[i].data, f->t[i].nbytes, dtypes[f->t[i].dtype].size);
    return 0;
}

int safetensors_read(StFile *f, const char *path, Error *e)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return err_set(e, "cannot read %s: %s", path, err_reason(errno, 0));
    struct stat st;
    if (fstat(fileno(fp), &st)) {
        int err = errno;
        fclose(fp);
        return err_set(e, "cannot read %s: %s", path, err_reason(err, 0));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return err_set(e, "cannot read %s: %s", path, S_ISDIR(st.st_mode) ? "it is a folder" : "not a regular file");
    }
    size_t size = (size_t)st.st_size;
    char *buf = xmalloc(size);
    size_t got = fread(buf, 1, size, fp);
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (got != size) {
        free(buf);
        return err_set(e, "cannot read %s: %s", path, err ? err_reason(err, 0) : "the file shrank while being read");
    }
    return safetensors_parse(f, path, buf, size, e);
}

const StEntry *safetensors_find(const StFile *f, const char *name)
{
    for (int i = 0; i < f->nt; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

const char *safetensors_meta(const StFile *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

void safetensors_free(StFile *f)
{
    for (int i = 0; i < f->nt; i++) free(f->t[i].name);
    for (int i = 0; i < f->nmeta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->t);
    free(f->meta);
    free(f->buf);
    memset(f, 0, sizeof *f);
}
