/* runtime/image.c: reading image files safely (regular files only, the format from the
 * first bytes, the size from the header before any pixel is decoded) and decoding them with
 * stb_image, converted as PIL does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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
        { "unknown image type", "not a PNG, JPEG, BMP, PPM, PGM, GIF or TGA file" },
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

/* The one limit on what an image may cost: its decoded size, stb_image's pixel buffer at
 * the file's own depth (width x height x channels x bytes per channel), read from the
 * header before any pixel is decoded; and files larger than that are not read at all.
 * Decoding holds at most two such buffers at once (stb's inflated data and pixels, then the
 * pixels and their conversion): an 8192 x 8192 RGBA PNG, at the limit, peaked at 519 MiB in
 * --predict. So the loader's decoding costs at most (workers + 1) x 2 x IMAGE_MAX_BYTES, over
 * its ring of batches and the --cache-mb budget. */
#define IMAGE_MAX_BYTES ((uint64_t)256 << 20)

static uint64_t max_bytes = IMAGE_MAX_BYTES;

void image_set_max_bytes(uint64_t n) { max_bytes = n ? n : IMAGE_MAX_BYTES; }
uint64_t image_max_bytes(void) { return max_bytes; }

static const char *mode_name(int n)
{
    static const char *const names[] = { "?", "L", "LA", "RGB", "RGBA" };
    return n >= 1 && n <= 4 ? names[n] : names[0];
}

static double mib(uint64_t n) { return (double)n / (1 << 20); }

static int check_dims(const char *what, const ImageInfo *in, Error *e)
{
    if (in->w < 1 || in->h < 1)
        return err_set(e, "%s: cannot decode image (it claims %d x %d pixels): re-export it or remove it", what, in->w,
                       in->h);
    uint64_t bytes = (uint64_t)in->w * (uint64_t)in->h * (uint64_t)in->channels * (uint64_t)(in->depth / 8);
    if (bytes > max_bytes)
        return err_set(e, "%s: the image is %d x %d pixels (%s, %d bits per channel: %.0f MiB decoded), more than "
                       "the %.0f MiB cnnc decodes: resize it", what, in->w, in->h, mode_name(in->channels), in->depth,
                       mib(bytes), mib(max_bytes));
    return 0;
}
static int decode_failed(const char *what, const char *why, Error *e)
{
    const char *ext = ext_of(what);
    if (!strcasecmp(ext, ".tif") || !strcasecmp(ext, ".tiff") || !strcasecmp(ext, ".webp"))
        return err_set(e, "%s: cannot decode image: %s files are not supported (cnnc reads PNG, JPEG, BMP, PPM, "
                       "PGM, GIF and TGA): convert it to PNG", what, ext + 1);
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

/* The formats cnnc reads, found by their first bytes as stb_image finds them: JPEG, PNG,
 * BMP, PPM/PGM and GIF; TGA, which has no signature, only in a file named .tga (stb would
 * guess it of any bytes). What else stb_image would try (PSD, HDR, PIC) is refused before
 * stb sees it: fewer of Debian's stb_image 2.27 decoders face untrusted files. Returns the
 * format's name; *ok says whether cnnc reads it ("" when none is recognised). */
static const char *format_of(const char *what, const uint8_t *p, size_t len, int *ok)
{
    size_t soi = 0;
    *ok = 1;
    while (soi < len && p[soi] == 0xFF) soi++;
    if (soi > 0 && soi < len && p[soi] == 0xD8) return "JPEG";                   /* as stb finds it */
    if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return "PNG";
    if (len >= 2 && p[0] == 'B' && p[1] == 'M') return "BMP";
    if (len >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return "PNM";   /* PGM, PPM */
    if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return "GIF";
    if (!strcasecmp(ext_of(what), ".tga")) return "TGA";
    *ok = 0;
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

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* A PNG's size, channels and depth from its IHDR chunk, read here rather than by stb, which
 * gives only "too large" past 2^30 bytes. Palette images count as RGBA, the most stb makes
 * of them. */
static int png_header(const char *what, const uint8_t *p, size_t len, ImageInfo *in, Error *e)
{
    if (len < 33 || memcmp(p + 12, "IHDR", 4) != 0)
        return err_set(e, "%s: cannot decode image (corrupt PNG: no IHDR header): re-export it or remove it", what);
    uint32_t w = be32(p + 16), h = be32(p + 20);
    int depth = p[24], type = p[25];
    static const int channels[7] = { 1, 0, 3, 4, 2, 0, 4 };    /* by colour type: L, -, RGB, palette, LA, -, RGBA */
    if (w > INT32_MAX || h > INT32_MAX || type > 6 || !channels[type])
        return err_set(e, "%s: cannot decode image (corrupt PNG header): re-export it or remove it", what);
    *in = (ImageInfo){ (int)w, (int)h, channels[type], depth == 16 ? 16 : 8, "PNG" };
    return 0;
}

/* What can be known from the first bytes of an image file: its format (refusing those cnnc
 * does not read), its size, channels and depth, and the guards against stb 2.27's bugs that
 * stb would meet while reading the header. buf may be only the file's beginning. */
static int image_header(const char *what, const uint8_t *buf, size_t len, ImageInfo *in, Error *e)
{
    int ok;
    const char *fmt = format_of(what, buf, len, &ok);
    if (!ok && *fmt)
        return err_set(e, "%s: cannot decode image: %s files are not read (cnnc reads PNG, JPEG, BMP, PPM, PGM, GIF "
                          "and TGA): convert it to PNG", what, fmt);
    if (!ok) return decode_failed(what, "not a PNG, JPEG, BMP, PPM, PGM, GIF or TGA file", e);
    if (!strcmp(fmt, "PNG")) return png_header(what, buf, len, in, e);
    if (!pnm_header_ok(buf, len))
        return err_set(e, "%s: cannot decode image (a corrupt PPM/PGM header: a number with more than 9 digits): "
                          "re-export it or remove it", what);
    if (!jpeg_tables_ok(buf, len))      /* before stb reads any of it, stbi_info included */
        return err_set(e, "%s: cannot decode image (a corrupt JPEG: a Huffman table with more than 256 codes): "
                          "re-export it or remove it", what);
    if (len > INT32_MAX) len = INT32_MAX;      /* the header is at the start */
    int w = 0, h = 0, n = 0;
    if (!stbi_info_from_memory(buf, (int)len, &w, &h, &n)) return decode_failed(what, NULL, e);
    *in = (ImageInfo){ w, h, n, stbi_is_16_bit_from_memory(buf, (int)len) ? 16 : 8, fmt };
    return 0;
}

/* Opens path for reading if it is a regular file no larger than the limit: a FIFO, a device
 * (a link to /dev/zero) or a folder is refused without reading, so it can neither block nor
 * fill memory. Returns the descriptor and the file's size. */
static int open_regular(const char *path, size_t *size, Error *e)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);     /* O_NONBLOCK: opening a FIFO must not wait */
    if (fd < 0) return err_set(e, "%s: cannot open image: %s", path, err_reason(errno, 0)), -1;
    struct stat st;
    const char *kind = NULL;
    if (fstat(fd, &st)) kind = "a file that cannot be examined";
    else if (S_ISDIR(st.st_mode)) kind = "a folder";
    else if (S_ISFIFO(st.st_mode)) kind = "a FIFO";
    else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) kind = "a device";
    else if (S_ISSOCK(st.st_mode)) kind = "a socket";
    else if (!S_ISREG(st.st_mode)) kind = "not a regular file";
    if (kind) {
        close(fd);
        return err_set(e, "%s: not an image file but %s: cnnc reads images from regular files only; remove it", path,
                       kind), -1;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return err_set(e, "%s: the file is %.0f MiB, more than the %.0f MiB cnnc reads as an image: re-export it "
                          "smaller or remove it", path, mib((uint64_t)st.st_size), mib(max_bytes)), -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *size = (size_t)st.st_size;
    return fd;
}

/* Reads up to n bytes at offset off into buf; returns the count (short at the end of the
 * file), -1 with e set on an error. */
static long read_at(int fd, const char *path, uint8_t *buf, size_t off, size_t n, Error *e)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return err_set(e, "%s: cannot read image: %s", path, err_reason(errno, 0)), -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long)got;
}

/* The first bytes read for the header: 4 KiB holds every format's header but a JPEG's with
 * large metadata (EXIF, a thumbnail) before its frame header, for which 64 KiB and then the
 * whole file are read. */
#define HEADER_BYTES ((size_t)4 << 10)

/* Opens path and reads its header: the file's bytes so far in *buf (*have of *size), its
 * descriptor returned. */
static int open_and_probe(const char *path, ImageInfo *in, uint8_t **buf, size_t *have, size_t *size, Error *e)
{
    *buf = NULL;
    *have = 0;
    int fd = open_regular(path, size, e);
    if (fd < 0) return -1;
    for (size_t want = HEADER_BYTES;; want = want < (64u << 10) ? 64u << 10 : *size) {
        size_t n = *size < want ? *size : want;
        *buf = xrealloc(*buf, n ? n : 1);
        long got = read_at(fd, path, *buf + *have, *have, n - *have, e);
        if (got < 0) break;
        int short_read = *have + (size_t)got < n;       /* the file shrank */
        *have += (size_t)got;
        Error why;
        if (image_header(path, *buf, *have, in, &why) == 0) {
            if (check_dims(path, in, e)) break;
            return fd;
        }
        int known;
        if (*have >= *size || short_read || strcmp(format_of(path, *buf, *have, &known), "JPEG") != 0) {
            *e = why;           /* nothing more to read, or more would not help */
            break;
        }
    }
    close(fd);
    return -1;
}

int image_probe(const char *path, ImageInfo *info, Error *e)
{
    uint8_t *buf;
    size_t have, size;
    int fd = open_and_probe(path, info, &buf, &have, &size, e);
    free(buf);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

int image_load(const char *path, int channels, Image *img, Error *e)
{
    memset(img, 0, sizeof *img);
    if (check_channels(path, channels, e)) return -1;
    ImageInfo in;
    uint8_t *buf;
    size_t have, size;
    int fd = open_and_probe(path, &in, &buf, &have, &size, e);
    if (fd < 0) {
        free(buf);
        return -1;
    }
    long got = 0;
    if (have < size) {
        buf = xrealloc(buf, size);
        got = read_at(fd, path, buf + have, have, size - have, e);
    }
    close(fd);
    int rc = got < 0 ? -1 : image_decode(path, buf, have + (size_t)got, channels, img, e);
    free(buf);
    return rc;
}

int image_decode(const char *what, const void *buf, size_t len, int channels, Image *img, Error *e)
{
    memset(img, 0, sizeof *img);
    if (check_channels(what, channels, e)) return -1;
    if (len > max_bytes || len > INT32_MAX)
        return err_set(e, "%s: the file is %.0f MiB, more than the %.0f MiB cnnc reads as an image: re-export it "
                          "smaller or remove it", what, mib(len), mib(max_bytes < INT32_MAX ? max_bytes : INT32_MAX));
    ImageInfo in;
    if (image_header(what, buf, len, &in, e) || check_dims(what, &in, e)) return -1;
    if (!png_chunks_ok(buf, len))
        return err_set(e, "%s: cannot decode image (the file is truncated): re-export it or remove it", what);
    if (!jpeg_scans_ok(buf, len))
        return err_set(e, "%s: cannot decode image (a corrupt JPEG: a scan uses a Huffman table that was never "
                          "defined): re-export it or remove it", what);
    int w = 0, h = 0, n = 0;
    uint8_t *px = stbi_load_from_memory(buf, (int)len, &w, &h, &n, 0);
    return from_stb(what, px, w, h, n, channels, img, e);
}

void image_free(Image *img)
{
    free(img->px);
    img->px = NULL;
}
