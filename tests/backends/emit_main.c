/* tests/backends/emit_main.c: runs the code --emit-c wrote on PNG files, printing what
 * emit_ref prints (class, probabilities, the preprocessed input) for the test to compare.
 * Built with -DPREFIX=name -DUPPER=NAME -DHEADER='"out.h"' [-DWEIGHTS_BIN]. */
#include <stdio.h>
#include <stdlib.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb_image.h>

#include HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(PREFIX, x)
#define K(x) CAT(UPPER, x)

static float input[K(_INPUT_SIZE)], probs[K(_NUM_CLASSES)];
static float arena[K(_ARENA_SIZE) / sizeof(float)];

int main(int argc, char **argv)
{
    int i, j;
#ifdef WEIGHTS_BIN
    static float blob[K(_WEIGHTS_SIZE) / sizeof(float)];
    FILE *f = fopen(argv[1], "rb");
    if (!f || fread(blob, 1, sizeof blob, f) != sizeof blob || FN(_set_weights)(blob, sizeof blob)) {
        fprintf(stderr, "cannot read the weights %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    argv++, argc--;
#endif
    for (i = 1; i < argc; i++) {
        int w, h, n, best;
        unsigned char *px = stbi_load(argv[i], &w, &h, &n, 3);
        if (!px || FN(_preprocess_rgb8)(px, w, h, w * 3, input)) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        stbi_image_free(px);
        best = i % 2 ? FN(_predict)(input, probs) : FN(_predict_r)(input, probs, arena);
        printf("%d", best);
        for (j = 0; j < K(_NUM_CLASSES); j++) printf(" %.9g", (double)probs[j]);
        printf("\ninput");
        for (j = 0; j < K(_INPUT_SIZE); j++) printf(" %.9g", (double)input[j]);
        printf("\n");
    }
    return 0;
}
