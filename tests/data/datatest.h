/* tests/data/datatest.h: temporary folders and image files for the data tests. */
#ifndef CN_DATATEST_H
#define CN_DATATEST_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image_write.h>

static char test_tmp[256];

static inline void test_die(const char *what, const char *path)
{
    fprintf(stderr, "test setup failed: %s %s: %s\n", what, path, strerror(errno));
    exit(99);
}

static inline void make_test_tmp(const char *tag)
{
    snprintf(test_tmp, sizeof test_tmp, "/tmp/cnnc_%s_XXXXXX", tag);
    if (!mkdtemp(test_tmp)) test_die("mkdtemp", test_tmp);
}

static inline void remove_test_tmp(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", test_tmp);
}

/* test_tmp/rel, in one of a few rotating buffers */
static inline const char *tp(const char *rel)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmp, rel);
    return p;
}

/* mkdir -p test_tmp/rel */
static inline void mkdirs(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", test_tmp, rel);
    for (char *s = p + strlen(test_tmp) + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) test_die("mkdir", p);
            *s = c;
            if (!c) break;
        }
    }
}

static inline void write_file(const char *rel, const void *p, size_t n)
{
    FILE *f = fopen(tp(rel), "wb");
    if (!f || fwrite(p, 1, n, f) != n) test_die("write", tp(rel));
    fclose(f);
}

static inline unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *p = malloc(*n ? *n : 1);
    if (fread(p, 1, *n, f) != *n) test_die("read", path);
    fclose(f);
    return p;
}

/* A w x h PNG with c channels whose every pixel is value (all channels). */
static inline void write_png_fill(const char *rel, int w, int h, int c, uint8_t value)
{
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    uint8_t *px = malloc(n);
    memset(px, value, n);
    if (!stbi_write_png(tp(rel), w, h, c, px, w * c)) test_die("stbi_write_png", tp(rel));
    free(px);
}

static inline void write_png(const char *rel, int w, int h, int c, const uint8_t *px)
{
    if (!stbi_write_png(tp(rel), w, h, c, px, w * c)) test_die("stbi_write_png", tp(rel));
}

#endif
