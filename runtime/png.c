/* runtime/png.c: PNG encoding, base64 data URIs and writing PNG files (see png.h). */
#include "png.h"

#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "fileio.h"

typedef struct Buf {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void buf_put(void *ctx, void *data, int size)
{
    Buf *b = ctx;
    if (size <= 0) return;
    if (b->n + (size_t)size > b->cap) {
        while (b->n + (size_t)size > b->cap) b->cap = b->cap ? 2 * b->cap : 4096;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

unsigned char *png_encode(const uint8_t *px, int w, int h, int c, size_t *n, Error *e)
{
    Buf b = { 0 };
    if (w < 1 || h < 1 || (c != 1 && c != 3 && c != 4)) {
        err_set(e, "cannot encode a %d x %d image with %d channels as PNG", w, h, c);
        return NULL;
    }
    if (!stbi_write_png_to_func(buf_put, &b, w, h, c, px, w * c)) {
        free(b.p);
        err_set(e, "cannot encode a %d x %d image as PNG", w, h);
        return NULL;
    }
    *n = b.n;
    return b.p;
}

char *base64_encode(const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *s = xmalloc((n + 2) / 3 * 4 + 1), *o = s;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return s;
}

char *png_data_uri(const uint8_t *px, int w, int h, int c, Error *e)
{
    size_t n;
    unsigned char *png = png_encode(px, w, h, c, &n, e);
    if (!png) return NULL;
    char *b64 = base64_encode(png, n);
    free(png);
    static const char prefix[] = "data:image/png;base64,";
    char *s = xmalloc(sizeof prefix + strlen(b64));
    strcpy(s, prefix);
    strcat(s, b64);
    free(b64);
    return s;
}

int png_write(const char *path, const uint8_t *px, int w, int h, int c, Error *e)
{
    size_t n;
    unsigned char *png = png_encode(px, w, h, c, &n, e);
    if (!png) return -1;
    int rc = write_file_atomic(path, png, n, e);
    free(png);
    return rc;
}
