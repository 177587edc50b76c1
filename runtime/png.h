/* runtime/png.h: encoding 8-bit images as PNG in memory (stb_image_write), base64 for data
 * URIs, and writing a PNG file atomically (fileio.h). */
#ifndef CN_PNG_H
#define CN_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* PNG bytes of a w x h image with c channels (1 gray, 3 RGB, 4 RGBA), rows top to bottom.
 * Returns a malloc'd buffer and its size in *n, or NULL with e set. */
unsigned char *png_encode(const uint8_t *px, int w, int h, int c, size_t *n, Error *e);

/* "data:image/png;base64,..." for the same image; the caller frees. NULL with e set. */
char *png_data_uri(const uint8_t *px, int w, int h, int c, Error *e);

/* Standard base64 (RFC 4648, padded) of n bytes; the caller frees. */
char *base64_encode(const unsigned char *p, size_t n);

/* png_encode, then write_file_atomic (fileio.h). */
int png_write(const char *path, const uint8_t *px, int w, int h, int c, Error *e);

#endif
