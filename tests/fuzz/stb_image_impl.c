/* tests/fuzz/stb_image_impl.c: stb_image (and stb_image_write) compiled into the fuzz harnesses, so the decoder
 * itself runs under the sanitizers and gives libFuzzer coverage (the normal build links
 * Debian's prebuilt libstb instead). */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
/* PNG writing (--apply, --preview-augment) is linked in too, instrumented alike */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
