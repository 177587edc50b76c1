/* runtime/image.c: decoding image files with stb_image and converting them as PIL does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stb_image.h>

#include "data.h"

/* PIL's convert('L') of an RGB pixel: ITU-R 601-2 luma in 16-bit fixed point, rounded. */
static uint8_t luma(const uint8_t *rgb)
{
    return (uint8_t)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

/* Converts n pixels of `from` channels (stb's 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to `to`
 * channels (1 or 3), as PIL's convert('L') / convert('RGB'): alpha is dropped, not composited. */
static void convert_pixels(uint8_t *dst, int to, const uint8_t *src, int from, size_t n)
{
    for (size_t i = 0; i < n; i++, src += from, dst += to) {
        if (to == 3) {
            if (from >= 3) memcpy(dst, src, 3);
            else dst[0] = dst[1] = dst[2] = src[0];
        } else {
            dst[0] = from >= 3 ? luma(src) : src[0];
        }
    }
}

/* stb_image's terse reasons, in words; others are shown as stb gives them */
static const char *explain(const char *why)
{
    static const struct {
        const char *stb, *say;
    } reasons[] = {
        { "outofdata", "the file is truncated" },
        { "unexpected end", "the file is truncated" },
        { "read past buffer", "the file is truncated" },
        { "not enough pixels", "the file is truncated" },
        { "no IDAT", "the file is truncated" },
        { "expected marker", "corrupt or truncated JPEG" },
        { "bad png sig", "corrupt PNG: bad signature" },
        { "zlib corrupt", "corrupt PNG: bad compressed data" },
        { "bad huffman code", "corrupt image: bad compressed data" },
        { "unknown image type", "not a PNG, JPEG, BMP, PPM or PGM file" },
        { "can't fopen", "cannot open the file" },
        { "outofmem", "out of memory" },
    };
    if (!why) return "unknown reason";
    if (strstr(why, "PNG chunk not known")) return "corrupt PNG: unknown chunk";
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (!strcmp(why, reasons[i].stb)) return reasons[i].say;
    return why;
}

static const char *ext_of(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot : "";
}

/* Larger images are refused before decoding: 8192 x 8192, far past what a small CNN's
 * input is resized from, and 256 MiB of RGBA to decode into. */
#define IMAGE_MAX_PIXELS (1u << 26)

static uint64_t max_pixels = IMAGE_MAX_PIXELS;

void image_set_max_pixels(uint64_t n) { max_pixels = n ? n : IMAGE_MAX_PIXELS; }

static int check_dims(const char *what, int ok, int w, int h, Error *e)
{
    if (ok && (w < 1 || h < 1))
        return err_set(e, "%s: cannot decode image (it claims %d x %d pixels): re-export it or remove it", what, w, h);
    if (ok && (uint64_t)w * (uint64_t)h > max_pixels)
        return err_set(e, "%s: the image is %d x %d pixels, more than the %llu cnnc decodes: resize it", what, w, h,
                       (unsigned long long)max_pixels);
    return 0;
}

static int decode_failed(const char *what, const char *why, Error *e)
{
    const char *ext = ext_of(what);
    if (!strcasecmp(ext, ".tif") || !strcasecmp(ext, ".tiff") || !strcasecmp(ext, ".webp"))
        return err_set(e, "%s: cannot decode image: %s files are not supported (cnnc reads PNG, JPEG, BMP, PPM "
                       "and PGM): convert it to PNG", what, ext + 1);
    return err_set(e, "%s: cannot decode image (%s): re-export it or remove it", what,
                   why ? why : explain(stbi_failure_reason()));
}

/* stb's w x h x n pixels (taken) into img, converted to `channels` */
static int from_stb(const char *what, uint8_t *px, int w, int h, int n, int channels, Image *img, Error *e)
{
    if (!px) return decode_failed(what, NULL, e);
    if (n < 1 || n > 4 || w < 1 || h < 1) {
        stbi_image_free(px);
        return err_set(e, "%s: cannot decode image (unexpected %d channels): re-export it or remove it", what, n);
    }
    size_t npx = (size_t)w * (size_t)h;
    img->w = w;
    img->h = h;
    img->c = channels;
    img->px = xmalloc(npx * (size_t)channels);
    convert_pixels(img->px, channels, px, n, npx);
    stbi_image_free(px);
    return 0;
}

static int check_channels(const char *what, int channels, Error *e)
{
    if (channels != 1 && channels != 3)
        return err_set(e, "%s: cannot convert an image to %d channels (only 1, 'L', or 3, 'RGB')", what, channels);
    return 0;
}

/* Debian's stb_image 2.27 writes past its Huffman tables on a JPEG whose DHT segment
 * declares more than 256 codes (fixed upstream in 2.28): such files are refused here,
 * before stb sees them. stb finds markers by skipping any other bytes, between scans as
 * well as before, so every FF C4 in the file is read as stb would read a DHT segment there
 * (bytes past the end read as 0, as stbi__get8 does). A legitimate FF C4 can only be a
 * DHT marker (entropy-coded data stuffs every FF with 00). */
static uint8_t byte_at(const uint8_t *p, size_t len, size_t i) { return i < len ? p[i] : 0; }

static int jpeg_tables_ok(const uint8_t *p, size_t len)
{
    size_t soi = 0;     /* stb takes FF... D8 as the start: any number of FF fill bytes */
    while (soi < len && p[soi] == 0xFF) soi++;
    if (soi == 0 || soi >= len || p[soi] != 0xD8) return 1;    /* not a JPEG */
    for (size_t i = soi + 1; i + 1 < len; i++) {
        if (p[i] != 0xFF || p[i + 1] != 0xC4) continue;
        long L = (long)(byte_at(p, len, i + 2) << 8 | byte_at(p, len, i + 3)) - 2;
        size_t j = i + 4;
        while (L > 0 && j < len) {      /* stb's loop in stbi__process_marker */
            long n = 0;
            for (int k = 1; k <= 16; k++) n += byte_at(p, len, j + (size_t)k);
            if (n > 256) return 0;
            j += 17 + (size_t)n;
            L -= 17 + n;
        }
    }
    return 1;
}

/* The formats of torchvision's ImageFolder extensions that stb reads, by their first bytes:
 * JPEG, PNG, BMP, PPM and PGM. Whatever else stb_image would try (GIF, TGA, PSD, HDR, PIC;
 * TGA by guesswork, as it has no signature) is refused before stb sees it: fewer of Debian's
 * stb_image 2.27 decoders face untrusted files. Returns NULL when allowed, else the name of
 * the format found ("" for none). */
static const char *refused_format(const uint8_t *p, size_t len)
{
    size_t soi = 0;
    while (soi < len && p[soi] == 0xFF) soi++;
    if (soi > 0 && soi < len && p[soi] == 0xD8) return NULL;                      /* JPEG, as stb finds it */
    if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return NULL;
    if (len >= 2 && p[0] == 'B' && p[1] == 'M') return NULL;
    if (len >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return NULL;    /* PGM, PPM */
    if (len >= 4 && !memcmp(p, "GIF8", 4)) return "GIF";
    if (len >= 4 && !memcmp(p, "8BPS", 4)) return "PSD";
    if (len >= 2 && p[0] == '#' && p[1] == '?') return "HDR";
    if (len >= 4 && !memcmp(p, "\x53\x80\xF6\x34", 4)) return "PIC";
    return "";
}

/* stb 2.27 reads a PNM header's numbers into an int without an overflow check (undefined
 * behaviour; fixed upstream in 2.28): refuse any of its three numbers past 9 digits. Reads
 * the header as stbi__pnm_info does: whitespace and # comments between the numbers. */
static int pnm_header_ok(const uint8_t *p, size_t len)
{
    if (len < 2 || p[0] != 'P' || (p[1] != '5' && p[1] != '6')) return 1;
    size_t i = 2;
    for (int k = 0; k < 3; k++) {
        for (;;) {
            while (i < len && (p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r'))) i++;
            if (i < len && p[i] == '#') {
                while (i < len && p[i] != '\n' && p[i] != '\r') i++;
                continue;
            }
            break;
        }
        size_t digits = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9') i++, digits++;
        if (digits > 9) return 0;
    }
    return 1;
}

/* stb 2.27 decodes a scan with whatever Huffman table its header names, defined or not:
 * a table never defined is read uninitialised. Walks the markers in stb's order (skipping
 * bytes that are not markers, as stb does; a scan's data runs to the next marker) and
 * refuses a scan that names a table no DHT before it defined: a progressive DC scan needs
 * its DC table (first pass only), an AC scan its AC table, a baseline scan both. */
static int jpeg_scans_ok(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] == 0xFF) i++;
    if (i == 0 || i >= len || p[i] != 0xD8) return 1;     /* not a JPEG */
    i++;
    int defined[2][4] = { { 0 } }, progressive = 0;
    while (i + 1 < len) {
        if (p[i] != 0xFF) { i++; continue; }
        int m = p[i + 1];
        if (m == 0xFF) { i++; continue; }
        i += 2;
        if (m == 0xD9) return 1;                                /* EOI */
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue;
        size_t seg = (size_t)byte_at(p, len, i) << 8 | byte_at(p, len, i + 1);
        if (seg < 2) return 1;                                  /* stb refuses it */
        if (m == 0xC2) progressive = 1;
        if (m == 0xC4) {                                        /* DHT: mark the tables it defines */
            size_t j = i + 2, end = i + seg;
            while (j < end && j < len) {
                int tc = byte_at(p, len, j) >> 4, th = byte_at(p, len, j) & 15;
                if (tc > 1 || th > 3) return 1;                 /* stb refuses it */
                size_t n = 0;
                for (int k = 1; k <= 16; k++) n += byte_at(p, len, j + (size_t)k);
                defined[tc][th] = 1;
                j += 17 + n;
            }
        } else if (m == 0xDA) {                                 /* SOS: the tables it names */
            int ns = byte_at(p, len, i + 2);
            size_t after = i + 3 + 2 * (size_t)ns;
            int ss = byte_at(p, len, after), ah = byte_at(p, len, after + 2) >> 4;
            for (int c = 0; c < ns; c++) {
                int q = byte_at(p, len, i + 4 + 2 * (size_t)c), td = q >> 4, ta = q & 15;
                if (td > 3 || ta > 3) return 1;                 /* stb refuses it */
                int need_dc = !progressive || (ss == 0 && ah == 0), need_ac = !progressive || ss > 0;
                if ((need_dc && !defined[0][td]) || (need_ac && !defined[1][ta])) return 0;
            }
            i += seg;                                           /* then the scan's data, to the next marker */
            while (i + 1 < len && !(p[i] == 0xFF && p[i + 1] != 0x00 && !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7)))
                i++;
            continue;
        }
        i += seg;
    }
    return 1;
}

/* stb 2.27 grows its buffer to a PNG chunk's declared length before reading it, so a few
 * bytes claiming a 2 GiB IDAT chunk cost 2 GiB: a chunk running past the end of the file
 * (truncated or forged) is refused first. */
static int png_chunks_ok(const uint8_t *p, size_t len)
{
    if (len < 8 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) != 0) return 1;
    size_t i = 8;
    while (i + 8 <= len) {
        size_t n = (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
        if (n > len - i - 8 || len - i - 8 - n < 4) return 0;      /* data and CRC must be there */
        if (!memcmp(p + i + 4, "IEND", 4)) return 1;
        i += 12 + n;
    }
    return 1;
}

int image_load(const char *path, int channels, Image *img, Error *e)
{
    memset(img, 0, sizeof *img);
    if (check_channels(path, channels, e)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open image: %s", path, err_reason(errno, 0));
    size_t n = 0, cap = 1 << 16, got;
    uint8_t *buf = xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= (size_t)1 << 31) break;
            buf = xrealloc(buf, cap *= 2);
        }
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    int rc = err ? err_set(e, "%s: cannot read image: %s", path, err_reason(err, 0))
                 : image_decode(path, buf, n, channels, img, e);
    free(buf);
    return rc;
}

int image_decode(const char *what, const void *buf, size_t len, int channels, Image *img, Error *e)
{
    memset(img, 0, sizeof *img);
    if (check_channels(what, channels, e)) return -1;
    if (len > INT32_MAX) return err_set(e, "%s: the image file is larger than 2 GiB: re-export it smaller", what);
    int w = 0, h = 0, n = 0;
    const char *other = refused_format(buf, len);
    if (other && *other)
        return err_set(e, "%s: cannot decode image: %s files are not read (cnnc reads PNG, JPEG, BMP, PPM and PGM, "
                          "the formats of torchvision's ImageFolder): convert it to PNG", what, other);
    if (other) return decode_failed(what, "not a PNG, JPEG, BMP, PPM or PGM file", e);
    if (!pnm_header_ok(buf, len))
        return err_set(e, "%s: cannot decode image (a corrupt PPM/PGM header: a number with more than 9 digits): "
                          "re-export it or remove it", what);
    if (!png_chunks_ok(buf, len))
        return err_set(e, "%s: cannot decode image (the file is truncated): re-export it or remove it", what);
    if (!jpeg_tables_ok(buf, len))      /* before stb reads any of it, stbi_info included */
        return err_set(e, "%s: cannot decode image (a corrupt JPEG: a Huffman table with more than 256 codes): "
                          "re-export it or remove it", what);
    if (!jpeg_scans_ok(buf, len))
        return err_set(e, "%s: cannot decode image (a corrupt JPEG: a scan uses a Huffman table that was never "
                          "defined): re-export it or remove it", what);
    int known = stbi_info_from_memory(buf, (int)len, &w, &h, &n);
    if (check_dims(what, known, w, h, e)) return -1;
    uint8_t *px = stbi_load_from_memory(buf, (int)len, &w, &h, &n, 0);
    return from_stb(what, px, w, h, n, channels, img, e);
}

void image_free(Image *img)
{
    free(img->px);
    img->px = NULL;
}
