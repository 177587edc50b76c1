/* tests/data/test_image.c: tests runtime/image.c: conversion of gray, gray+alpha, RGB, RGBA
 * and palette images to RGB and to L as PIL does, GIF and TGA, errors that name the file,
 * and what is refused before any pixel is decoded or any large read is made: FIFOs,
 * devices, files past the limit, images whose header says they decode past it. */
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/data.h"
#include "tests/data/datatest.h"
#include "tests/test.h"

static uint8_t luma(const uint8_t *p)
{
    return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

/* Pixels with every channel different, so a swapped or dropped channel shows. */
static uint8_t *pattern(int w, int h, int c)
{
    uint8_t *px = malloc((size_t)w * h * c);
    for (int i = 0; i < w * h; i++)
        for (int k = 0; k < c; k++) px[i * c + k] = (uint8_t)(i * 37 + k * 91 + (i * k) % 13);
    return px;
}

static void check_conversions(int c)
{
    const int w = 7, h = 5;
    uint8_t *src = pattern(w, h, c);
    char rel[64];
    snprintf(rel, sizeof rel, "img_c%d.png", c);
    write_png(rel, w, h, c, src);
    Image rgb, l;
    Error e;
    CHECK(image_load(tp(rel), 3, &rgb, &e) == 0, "load %s as RGB: %s", rel, e.msg);
    CHECK(image_load(tp(rel), 1, &l, &e) == 0, "load %s as L: %s", rel, e.msg);
    CHECK(rgb.w == w && rgb.h == h && rgb.c == 3 && l.w == w && l.h == h && l.c == 1, "%s: sizes", rel);
    int bad_rgb = 0, bad_l = 0;
    for (int i = 0; i < w * h; i++) {
        const uint8_t *s = src + i * c;
        uint8_t want[3];
        if (c >= 3) memcpy(want, s, 3);                 /* RGB, RGBA: alpha dropped, not composited */
        else want[0] = want[1] = want[2] = s[0];        /* L, LA: gray replicated */
        bad_rgb += memcmp(rgb.px + i * 3, want, 3) != 0;
        uint8_t wl = c >= 3 ? luma(s) : s[0];
        bad_l += l.px[i] != wl;
    }
    CHECK(bad_rgb == 0, "%d channels -> RGB: %d pixels differ", c, bad_rgb);
    CHECK(bad_l == 0, "%d channels -> L: %d pixels differ", c, bad_l);
    image_free(&rgb);
    image_free(&l);
    free(src);
}

/* The luma formula at its rounding edges, PIL's values. */
static void check_luma_values(void)
{
    uint8_t px[5][3] = { { 255, 255, 255 }, { 0, 0, 0 }, { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 } };
    uint8_t want[5] = { 255, 0, 76, 150, 29 };      /* PIL: Image.new('RGB', (1,1), c).convert('L') */
    write_png("luma.png", 5, 1, 3, &px[0][0]);
    Image l;
    Error e;
    CHECK(image_load(tp("luma.png"), 1, &l, &e) == 0, "load: %s", e.msg);
    for (int i = 0; i < 5; i++) CHECK(l.px[i] == want[i], "luma of pixel %d: %d, want %d", i, l.px[i], want[i]);
    image_free(&l);
}

/* ---- a palette PNG, which stb_image_write cannot make: stored deflate, CRC-32, Adler-32 ---- */

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

static size_t chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n)
{
    put32(out, n);
    memcpy(out + 4, type, 4);
    if (n) memcpy(out + 8, data, n);
    put32(out + 8 + n, crc32_of(out + 4, n + 4, 0));
    return 12 + n;
}

/* w x h, 8-bit indices, a palette of np colours and, if ntrns, their alpha values */
static size_t palette_png(uint8_t *out, int w, int h, const uint8_t *idx, const uint8_t *pal, int np,
                          const uint8_t *trns, int ntrns)
{
    static const uint8_t sig[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };
    size_t n = 0;
    memcpy(out, sig, 8);
    n += 8;
    uint8_t ihdr[13];
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8, ihdr[9] = 3, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = 0;
    n += chunk(out + n, "IHDR", ihdr, 13);
    n += chunk(out + n, "PLTE", pal, (uint32_t)np * 3);
    if (ntrns) n += chunk(out + n, "tRNS", trns, (uint32_t)ntrns);
    /* raw scanlines, filter 0 */
    size_t raw_n = (size_t)h * (w + 1);
    uint8_t raw[1024];
    for (int y = 0; y < h; y++) {
        raw[y * (w + 1)] = 0;
        memcpy(raw + y * (w + 1) + 1, idx + y * w, (size_t)w);
    }
    uint8_t z[1100];
    size_t zn = 0;
    z[zn++] = 0x78, z[zn++] = 0x01;                             /* zlib header */
    z[zn++] = 0x01;                                             /* final stored block */
    z[zn++] = (uint8_t)raw_n, z[zn++] = (uint8_t)(raw_n >> 8);
    z[zn++] = (uint8_t)~raw_n, z[zn++] = (uint8_t)(~raw_n >> 8);
    memcpy(z + zn, raw, raw_n);
    zn += raw_n;
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw_n; i++) a = (a + raw[i]) % 65521, b = (b + a) % 65521;
    put32(z + zn, (b << 16) | a);
    zn += 4;
    n += chunk(out + n, "IDAT", z, (uint32_t)zn);
    n += chunk(out + n, "IEND", NULL, 0);
    return n;
}

static void check_palette(int with_alpha)
{
    const uint8_t pal[4 * 3] = { 10, 20, 30, 200, 100, 0, 0, 255, 128, 255, 255, 255 };
    const uint8_t trns[4] = { 0, 128, 255, 64 };
    uint8_t idx[6 * 4];
    for (int i = 0; i < 24; i++) idx[i] = (uint8_t)((i * 7) % 4);
    uint8_t file[2048];
    size_t n = palette_png(file, 6, 4, idx, pal, 4, trns, with_alpha ? 4 : 0);
    const char *rel = with_alpha ? "pal_trns.png" : "pal.png";
    write_file(rel, file, n);
    Image rgb, l;
    Error e;
    CHECK(image_load(tp(rel), 3, &rgb, &e) == 0, "%s: %s", rel, e.msg);
    CHECK(image_load(tp(rel), 1, &l, &e) == 0, "%s: %s", rel, e.msg);
    if (rgb.px && l.px) {
        int bad = 0;
        for (int i = 0; i < 24; i++) {
            const uint8_t *c = pal + idx[i] * 3;
            bad += memcmp(rgb.px + i * 3, c, 3) != 0 || l.px[i] != luma(c);
        }
        CHECK(bad == 0, "%s: %d pixels differ from the palette", rel, bad);
    }
    image_free(&rgb);
    image_free(&l);
}

static void check_error(const char *rel, int channels, const char *want)
{
    Image img = { 0 };
    Error e = { "" };
    CHECK(image_load(tp(rel), channels, &img, &e) == -1, "%s loaded but should fail", rel);
    CHECK(strstr(e.msg, tp(rel)) == e.msg, "'%s' does not start with the file name", e.msg);
    CHECK(strstr(e.msg, want) != NULL, "'%s' lacks '%s'", e.msg, want);
    CHECK(img.px == NULL, "no pixels on error");
}

static void check_errors(void)
{
    /* a valid PNG, then cut short and then with its data damaged */
    uint8_t *px = pattern(20, 20, 3);
    write_png("good.png", 20, 20, 3, px);
    free(px);
    size_t n = 0;
    unsigned char *b = read_file(tp("good.png"), &n);
    write_file("truncated.png", b, n / 2);
    check_error("truncated.png", 3, "cannot decode image (the file is truncated)");
    check_error("truncated.png", 3, "): re-export it or remove it");
    for (size_t i = 40; i < n - 20; i++) b[i] ^= 0x5A;
    write_file("corrupt.png", b, n);
    check_error("corrupt.png", 3, "cannot decode image (corrupt PNG");
    free(b);
    write_file("text.png", "hello, not an image\n", 20);
    check_error("text.png", 3, "cannot decode image (not a PNG, JPEG");
    write_file("empty.jpg", "", 0);
    check_error("empty.jpg", 3, "cannot decode image (");
    write_file("photo.webp", "RIFF\0\0\0\0WEBPVP8 ", 16);
    check_error("photo.webp", 3, "webp files are not supported");
    check_error("missing.png", 3, "cannot open image: No such file or directory");
    write_png_fill("ok.png", 2, 2, 3, 9);
    check_error("ok.png", 4, "cannot convert an image to 4 channels");
}

/* other formats stb reads, through the same conversion */
static void check_formats(void)
{
    uint8_t *px = pattern(9, 4, 3);
    if (!stbi_write_bmp(tp("p.bmp"), 9, 4, 3, px)) test_die("bmp", tp("p.bmp"));
    Image img;
    Error e;
    CHECK(image_load(tp("p.bmp"), 3, &img, &e) == 0 && img.w == 9 && img.h == 4 && memcmp(img.px, px, 9 * 4 * 3) == 0,
          "bmp round trip: %s", e.msg);
    image_free(&img);
    if (!stbi_write_jpg(tp("p.jpg"), 9, 4, 3, px, 95)) test_die("jpg", tp("p.jpg"));
    CHECK(image_load(tp("p.jpg"), 3, &img, &e) == 0 && img.w == 9 && img.h == 4 && img.c == 3, "jpeg: %s", e.msg);
    image_free(&img);
    /* the same JPEG with 120 KB of metadata (two APP1 segments) before its frame header: the
     * header is found past the first 4 KiB and 64 KiB read */
    size_t n = 0;
    unsigned char *jpg = read_file(tp("p.jpg"), &n);
    size_t seg = 60000, m = 0;
    unsigned char *big = malloc(n + 2 * (seg + 2));
    memcpy(big, jpg, 2), m = 2;
    for (int k = 0; k < 2; k++) {
        big[m] = 0xFF, big[m + 1] = 0xE1, big[m + 2] = (uint8_t)(seg >> 8), big[m + 3] = (uint8_t)seg;
        memset(big + m + 4, 'x', seg - 2);
        m += seg + 2;
    }
    memcpy(big + m, jpg + 2, n - 2), m += n - 2;
    write_file("exif.jpg", big, m);
    ImageInfo in;
    CHECK(image_probe(tp("exif.jpg"), &in, &e) == 0 && in.w == 9 && in.h == 4, "probe a JPEG with 120 KB of metadata: %s",
          e.msg);
    CHECK(image_load(tp("exif.jpg"), 3, &img, &e) == 0 && img.w == 9 && img.h == 4, "load it: %s", e.msg);
    image_free(&img);
    free(big);
    free(jpg);
    free(px);
}

/* GIF (PIL's 3 x 2 palette GIF) and TGA (stb's writer) read as PIL reads them */
static void check_gif_tga(void)
{
    static const uint8_t gif[48] = {
        0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x03, 0x00, 0x02, 0x00, 0x81, 0x00, 0x00, 0x0a, 0x14, 0x1e,
        0xc8, 0x64, 0x00, 0x00, 0xff, 0x80, 0xff, 0xff, 0xff, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
        0x02, 0x00, 0x00, 0x08, 0x09, 0x00, 0x01, 0x04, 0x10, 0x30, 0x40, 0x40, 0x80, 0x80, 0x00, 0x3b,
    };
    /* PIL: Image.open('t.gif').convert('RGB').getdata() */
    static const uint8_t want[6][3] = { { 10, 20, 30 }, { 200, 100, 0 }, { 0, 255, 128 },
                                        { 255, 255, 255 }, { 0, 255, 128 }, { 200, 100, 0 } };
    write_file("p.gif", gif, sizeof gif);
    Image img;
    Error e;
    CHECK(image_load(tp("p.gif"), 3, &img, &e) == 0, "gif: %s", e.msg);
    if (img.px) CHECK(img.w == 3 && img.h == 2 && memcmp(img.px, want, 18) == 0, "gif: pixels differ from PIL's");
    image_free(&img);
    uint8_t *px = pattern(5, 3, 3);
    if (!stbi_write_tga(tp("p.tga"), 5, 3, 3, px)) test_die("tga", tp("p.tga"));
    CHECK(image_load(tp("p.tga"), 3, &img, &e) == 0, "tga: %s", e.msg);
    if (img.px) CHECK(img.w == 5 && img.h == 3 && memcmp(img.px, px, 45) == 0, "tga: pixels differ");
    image_free(&img);
    ImageInfo in;
    CHECK(image_probe(tp("p.tga"), &in, &e) == 0 && in.w == 5 && in.h == 3 && !strcmp(in.format, "TGA"), "probe tga: %s",
          e.msg);
    free(px);
}

/* deflate's bit order: fields least significant bit first, Huffman codes most significant first */
typedef struct Bits {
    uint8_t *p;
    size_t   n;         /* bits written */
} Bits;

static void put_bit(Bits *b, int bit)
{
    if (bit) b->p[b->n >> 3] |= (uint8_t)(1u << (b->n & 7));
    b->n++;
}

static void put_code(Bits *b, unsigned code, int len)
{
    for (int i = len - 1; i >= 0; i--) put_bit(b, (code >> i) & 1);
}

/* A PNG of w x h pixels of colour type `type` at `depth` bits, all zero. Its zlib stream is
 * written by hand, one fixed-Huffman block: a literal 0, then (length 258, distance 1)
 * matches, 13 bits per 258 bytes, so a bomb costs nothing to make (even under valgrind). */
static void zero_png(const char *rel, uint32_t w, uint32_t h, int depth, int type, int channels)
{
    uint64_t raw = (uint64_t)h * (1 + (uint64_t)w * (uint64_t)channels * (uint64_t)depth / 8);
    uint64_t matches = (raw - 1) / 258, tail = (raw - 1) % 258;
    size_t zcap = (size_t)((3 + 8 + 13 * matches + 8 * tail + 7) / 8) + 16;
    Bits b = { calloc(zcap, 1), 0 };
    b.p[0] = 0x78, b.p[1] = 0x01, b.n = 16;             /* zlib header */
    put_bit(&b, 1), put_bit(&b, 1), put_bit(&b, 0);      /* BFINAL, BTYPE 01: fixed codes */
    put_code(&b, 0x30, 8);                               /* literal 0 */
    for (uint64_t i = 0; i < matches; i++) {
        put_code(&b, 0xC5, 8);                           /* length 258 (code 285) */
        put_code(&b, 0, 5);                              /* distance 1 (code 0) */
    }
    for (uint64_t i = 0; i < tail; i++) put_code(&b, 0x30, 8);
    put_code(&b, 0, 7);                                  /* end of block (256) */
    size_t zn = (b.n + 7) / 8;
    uint32_t adler = (uint32_t)(raw % 65521) << 16 | 1; /* of raw zero bytes */
    put32(b.p + zn, adler);
    zn += 4;
    static const uint8_t sig[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };
    uint8_t ihdr[13], *file = malloc(zn + 100);
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = (uint8_t)depth, ihdr[9] = (uint8_t)type, ihdr[10] = ihdr[11] = ihdr[12] = 0;
    size_t m = 8;
    memcpy(file, sig, 8);
    m += chunk(file + m, "IHDR", ihdr, 13);
    m += chunk(file + m, "IDAT", b.p, (uint32_t)zn);
    m += chunk(file + m, "IEND", NULL, 0);
    write_file(rel, file, m);
    free(file);
    free(b.p);
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Refused before decoding or reading: the peak memory must not grow by the image's size */
static void check_refused_early(void)
{
    zero_png("zeros16.png", 300, 20, 16, 6, 4);         /* the hand-made stream decodes: 300 x 20 zeros */
    Image z;
    Error ze;
    CHECK(image_load(tp("zeros16.png"), 3, &z, &ze) == 0 && z.w == 300 && z.h == 20, "a hand-made PNG: %s", ze.msg);
    int nonzero = 0;
    for (size_t i = 0; z.px && i < 300 * 20 * 3; i++) nonzero += z.px[i] != 0;
    CHECK(nonzero == 0, "%d non-zero bytes", nonzero);
    image_free(&z);
    long rss0 = peak_rss_kb();
    /* 8192 x 8192 16-bit RGBA: a 3.4 MB file that decodes to 512 MiB */
    zero_png("bomb.png", 8192, 8192, 16, 6, 4);
    check_error("bomb.png", 3, "the image is 8192 x 8192 pixels (RGBA, 16 bits per channel: 512 MiB decoded), more "
                "than the 256 MiB cnnc decodes: resize it");
    ImageInfo in;
    Error e;
    CHECK(image_probe(tp("bomb.png"), &in, &e) == -1 && strstr(e.msg, "512 MiB decoded"), "probe of the bomb: %s", e.msg);
    /* 30000 x 30000, past stb's own limit: the size and the limit, not stb's "too large" */
    uint8_t file[64];
    static const uint8_t sig[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };
    uint8_t ihdr[13] = { 0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30, 8, 2, 0, 0, 0 };
    memcpy(file, sig, 8);
    size_t n = 8 + chunk(file + 8, "IHDR", ihdr, 13);
    n += chunk(file + n, "IEND", NULL, 0);
    write_file("huge.png", file, n);
    check_error("huge.png", 3, "the image is 30000 x 30000 pixels (RGB, 8 bits per channel: 2575 MiB decoded), more "
                "than the 256 MiB cnnc decodes");
    /* a 1000 MB file named .png and a 200 MB one that is not a PNG (sparse: no disk used) */
    FILE *f = fopen(tp("big.png"), "wb");
    if (!f || ftruncate(fileno(f), 1000L << 20) || fclose(f)) test_die("ftruncate", tp("big.png"));
    check_error("big.png", 3, "the file is 1000 MiB, more than the 256 MiB cnnc reads as an image");
    f = fopen(tp("zeros.png"), "wb");
    if (!f || ftruncate(fileno(f), 200L << 20) || fclose(f)) test_die("ftruncate", tp("zeros.png"));
    check_error("zeros.png", 3, "cannot decode image (not a PNG, JPEG, BMP, PPM, PGM, GIF or TGA file)");
    /* a FIFO (reading it would wait forever) and a link to /dev/zero (it would fill memory) */
    if (mkfifo(tp("fifo.png"), 0644)) test_die("mkfifo", tp("fifo.png"));
    check_error("fifo.png", 3, "not an image file but a FIFO: cnnc reads images from regular files only; remove it");
    CHECK(image_probe(tp("fifo.png"), &in, &e) == -1 && strstr(e.msg, "a FIFO"), "probe of the FIFO: %s", e.msg);
    if (symlink("/dev/zero", tp("zero.png"))) test_die("symlink", tp("zero.png"));
    check_error("zero.png", 3, "not an image file but a device");
    mkdirs("folder.png");
    check_error("folder.png", 3, "not an image file but a folder");
    long grew = peak_rss_kb() - rss0;      /* the bomb's file, made in memory: 3.4 MB */
    CHECK(grew < 64 * 1024, "the peak memory grew by %ld KB while refusing them", grew);
    printf("refusing a 512 MiB PNG bomb, a 1000 MB file, a 200 MB non-PNG, a FIFO and /dev/zero: peak RSS +%ld KB\n",
           grew);
}

int main(void)
{
    make_test_tmp("image");
    for (int c = 1; c <= 4; c++) check_conversions(c);
    check_luma_values();
    check_palette(0);
    check_palette(1);
    check_errors();
    check_formats();
    check_gif_tga();
    check_refused_early();
    remove_test_tmp();
    return test_done("test_image");
}
