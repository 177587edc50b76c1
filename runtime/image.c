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
        { "bad huffman code", "corrupt PNG: bad compressed data" },
        { "unknown image type", "not a PNG, JPEG, BMP, GIF, TGA, PSD, HDR, PIC, PPM or PGM file" },
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

int image_load(const char *path, int channels, Image *img, Error *e)
{
    memset(img, 0, sizeof *img);
    if (channels != 1 && channels != 3)
        return err_set(e, "%s: cannot convert an image to %d channels (only 1, 'L', or 3, 'RGB')", path, channels);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open image: %s", path, err_reason(errno, 0));
    int w, h, n;
    uint8_t *px = stbi_load_from_file(f, &w, &h, &n, 0);
    fclose(f);
    if (!px) {
        const char *ext = ext_of(path);
        if (!strcasecmp(ext, ".tif") || !strcasecmp(ext, ".tiff") || !strcasecmp(ext, ".webp"))
            return err_set(e, "%s: cannot decode image: %s files are not supported (stb_image reads PNG, JPEG, BMP, "
                           "PPM/PGM, TGA, GIF): convert it to PNG", path, ext + 1);
        return err_set(e, "%s: cannot decode image (%s): re-export it or remove it", path,
                       explain(stbi_failure_reason()));
    }
    if (n < 1 || n > 4 || w < 1 || h < 1) {
        stbi_image_free(px);
        return err_set(e, "%s: cannot decode image (unexpected %d channels): re-export it or remove it", path, n);
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

void image_free(Image *img)
{
    free(img->px);
    img->px = NULL;
}
