/* tests/fuzz/fuzz_image.c: libFuzzer harness for image decoding: a file's bytes through
 * image_decode (stb_image, then PIL's conversion) to RGB and to grayscale. `make fuzz`
 * compiles stb_image itself with the sanitizers (tests/fuzz/stb_image_impl.c). */
#include <stdint.h>
#include <stdio.h>

#include "runtime/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

char fuzz_last_error[1024];    /* the last input's first error, for replay -v */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    image_set_max_bytes(1u << 20);      /* 512 x 512 RGBA: a decompression bomb still decodes in well under a second */
    for (int k = 0; k < 4; k++) {       /* RGB and L; named .img, then .tga (TGA is read by name) */
        int channels = k % 2 ? 1 : 3;
        Image img;
        Error e;
        if (image_decode(k < 2 ? "fuzz.img" : "fuzz.tga", data, size, channels, &img, &e) < 0) {
            snprintf(fuzz_last_error, sizeof fuzz_last_error, "%s", e.msg);
        } else {
            volatile uint8_t sum = 0;     /* touch every pixel written */
            for (size_t i = 0; i < (size_t)img.w * (size_t)img.h * (size_t)img.c; i++) sum += img.px[i];
            image_free(&img);
        }
    }
    return 0;
}

/* replay -f: image_load on a file by name, for what cannot be passed as bytes (a FIFO, a
 * device): it must be refused at once, without reading */
void fuzz_test_file(const char *path);
void fuzz_test_file(const char *path)
{
    Image img;
    Error e;
    if (image_load(path, 3, &img, &e) < 0) snprintf(fuzz_last_error, sizeof fuzz_last_error, "%s", e.msg);
    else image_free(&img);
}
