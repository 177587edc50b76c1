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
    image_set_max_pixels(1u << 18);     /* 512 x 512: a decompression bomb still decodes in well under a second */
    for (int channels = 1; channels <= 3; channels += 2) {
        Image img;
        Error e;
        if (image_decode("fuzz.img", data, size, channels, &img, &e) < 0) {
            snprintf(fuzz_last_error, sizeof fuzz_last_error, "%s", e.msg);
        } else {
            volatile uint8_t sum = 0;     /* touch every pixel written */
            for (size_t i = 0; i < (size_t)img.w * (size_t)img.h * (size_t)img.c; i++) sum += img.px[i];
            image_free(&img);
        }
    }
    return 0;
}
