/* tests/data/data_tool.c: the runtime's data side on the command line, for the Python tests
 * that hold it against PyTorch:
 *   data_tool st-write PATH          write a sample safetensors file (the tensors below)
 *   data_tool st-dump PATH           read a safetensors file, print it as JSON (data in hex)
 *   data_tool st-copy IN OUT         read IN and write its tensors and metadata to OUT
 *   data_tool load ROOT C H W OUT    ImageFolder(ROOT) through ToTensor + Normalize(0.5) and a
 *                                    DataLoader without shuffle: x, y and the paths to OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data.h"
#include "runtime/json.h"
#include "runtime/safetensors.h"

static const char *dtype_name(StDType t) { return t == ST_F32 ? "F32" : t == ST_I32 ? "I32" : t == ST_I64 ? "I64" : "U8"; }

static int st_write(const char *path, Error *e)
{
    float w[2 * 3 * 4];
    for (int i = 0; i < 24; i++) w[i] = (float)i * 0.5f - 3.0f;
    w[1] = 1.0f / 3.0f;
    int32_t iv[3] = { -7, 0, 2147483647 };
    int64_t lv[2] = { -9223372036854775807LL - 1, 1234567890123LL };
    uint8_t u8[5] = { 0, 1, 127, 128, 255 };
    float scalar = 3.5f;
    StTensor t[] = {
        { "conv_layers.0.weight", ST_F32, 3, { 2, 3, 4 }, w },
        { "ints", ST_I32, 1, { 3 }, iv },
        { "longs", ST_I64, 1, { 2 }, lv },
        { "bytes", ST_U8, 2, { 1, 5 }, u8 },
        { "scalar", ST_F32, 0, { 0 }, &scalar },
        { "empty", ST_F32, 2, { 0, 4 }, NULL },
    };
    StMeta meta[] = {
        { "classes", "[\"sea sponge\", \"sea star\"]" },
        { "source", "model A {\n\tinput [3, 100, 100] # \"quoted\" \\ back\\slash\n}\n" },
        { "unicode", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\xA6\x80" },
    };
    return safetensors_write(path, t, 6, meta, 3, e);
}

static int st_dump(const char *path, Error *e)
{
    StFile f;
    if (safetensors_read(&f, path, e)) return -1;
    JsonBuf b = { 0 };
    json_buf_puts(&b, "{\"tensors\":[");
    for (int i = 0; i < f.nt; i++) {
        const StEntry *en = &f.t[i];
        json_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        json_buf_string(&b, en->name);
        json_buf_printf(&b, ",\"dtype\":\"%s\",\"shape\":[", dtype_name(en->dtype));
        for (int d = 0; d < en->ndim; d++) json_buf_printf(&b, "%s%lld", d ? "," : "", (long long)en->shape[d]);
        json_buf_puts(&b, "],\"hex\":\"");
        for (size_t k = 0; k < en->nbytes; k++) json_buf_printf(&b, "%02x", ((const unsigned char *)en->data)[k]);
        json_buf_puts(&b, "\"}");
    }
    json_buf_puts(&b, "],\"metadata\":{");
    for (int i = 0; i < f.nmeta; i++) {
        if (i) json_buf_puts(&b, ",");
        json_buf_string(&b, f.meta[i].key);
        json_buf_puts(&b, ":");
        json_buf_string(&b, f.meta[i].value);
    }
    json_buf_puts(&b, "}}\n");
    fputs(b.p, stdout);
    json_buf_free(&b);
    safetensors_free(&f);
    return 0;
}

static int st_copy(const char *in, const char *out, Error *e)
{
    StFile f;
    if (safetensors_read(&f, in, e)) return -1;
    StTensor *t = calloc((size_t)f.nt + 1, sizeof *t);
    for (int i = 0; i < f.nt; i++) {
        t[i].name = f.t[i].name;
        t[i].dtype = f.t[i].dtype;
        t[i].ndim = f.t[i].ndim;
        memcpy(t[i].shape, f.t[i].shape, sizeof t[i].shape);
        t[i].data = f.t[i].data;
    }
    int rc = safetensors_write(out, t, f.nt, f.meta, f.nmeta, e);
    free(t);
    safetensors_free(&f);
    return rc;
}

static int load(const char *root, int C, int H, int W, const char *out, Error *e)
{
    Dataset ds;
    if (dataset_open_imagefolder(&ds, root, C, e)) return -1;
    Transform steps[2] = { { .kind = TF_TO_TENSOR },
                           { .kind = TF_NORMALIZE, .nch = 1, .mean = { 0.5f }, .std = { 0.5f } } };
    Pipeline p = { steps, 2 };
    DataLoader dl;
    int rc = -1;
    if (dataloader_init(&dl, &ds, &p, 3, 0, 0, C, H, W, e)) goto done_ds;
    size_t sample = (size_t)C * H * W;
    float *x = malloc(sample * (size_t)ds.n * sizeof *x);
    int32_t *y = malloc((size_t)ds.n * sizeof *y);
    int64_t *y64 = malloc((size_t)ds.n * sizeof *y64);
    int at = 0, k;
    while ((k = dataloader_next(&dl, x + (size_t)at * sample, y + at, e)) > 0) at += k;
    if (k == 0) {
        for (int i = 0; i < at; i++) y64[i] = y[i];
        JsonBuf paths = { 0 }, classes = { 0 };
        for (int i = 0; i < ds.n; i++) json_buf_printf(&paths, "%s%s", i ? "\n" : "", ds.path(&ds, i));
        for (int i = 0; i < ds.nclasses; i++) json_buf_printf(&classes, "%s%s", i ? "\n" : "", ds.class_names[i]);
        StTensor t[2] = { { "x", ST_F32, 4, { at, C, H, W }, x }, { "y", ST_I64, 1, { at }, y64 } };
        StMeta meta[2] = { { "paths", paths.p ? paths.p : "" }, { "classes", classes.p } };
        rc = safetensors_write(out, t, 2, meta, 2, e);
        json_buf_free(&paths);
        json_buf_free(&classes);
    }
    free(x);
    free(y);
    free(y64);
    dataloader_free(&dl);
done_ds:
    dataset_free(&ds);
    return rc;
}

int main(int argc, char **argv)
{
    Error e = { "" };
    int rc;
    if (argc == 3 && !strcmp(argv[1], "st-write")) rc = st_write(argv[2], &e);
    else if (argc == 3 && !strcmp(argv[1], "st-dump")) rc = st_dump(argv[2], &e);
    else if (argc == 4 && !strcmp(argv[1], "st-copy")) rc = st_copy(argv[2], argv[3], &e);
    else if (argc == 7 && !strcmp(argv[1], "load")) rc = load(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6], &e);
    else {
        fprintf(stderr, "usage: data_tool st-write PATH | st-dump PATH | st-copy IN OUT | load ROOT C H W OUT\n");
        return 2;
    }
    if (rc) fprintf(stderr, "data_tool: error: %s\n", e.msg);
    return rc ? 1 : 0;
}
