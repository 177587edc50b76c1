/* examples/embed/classify.c: classifies a PNG with the C that `cnnc --emit-c` wrote for
 * models/sea.cnn (model ClassificationCNN -> classificationcnn_*), its weights in model.bin
 * (--weights-bin). No cnnc library, no BLAS: model.c, libm and stb_image for the PNG.
 * usage: classify MODEL.bin IMAGE.png */
#include <stdio.h>

#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#include "model.h"

static float weights[CLASSIFICATIONCNN_WEIGHTS_SIZE / sizeof(float)], input[CLASSIFICATIONCNN_INPUT_SIZE];

int main(int argc, char **argv)
{
    float probs[CLASSIFICATIONCNN_NUM_CLASSES];
    int w, h, best;
    unsigned char *px;
    FILE *f = argc == 3 ? fopen(argv[1], "rb") : NULL;
    if (!f || fread(weights, 1, sizeof weights, f) != sizeof weights || getc(f) != EOF ||
        classificationcnn_set_weights(weights, sizeof weights) != 0) {
        fprintf(stderr, argc == 3 ? "classify: cannot read the weights %s\n" : "usage: classify MODEL.bin IMAGE.png\n",
                argv[1]);
        return 2;
    }
    fclose(f);
    px = stbi_load(argv[2], &w, &h, NULL, 3);       /* RGB, 3 bytes a pixel */
    if (!px || classificationcnn_preprocess_rgb8(px, w, h, 3 * w, input) != 0) {
        fprintf(stderr, "classify: %s is not a %dx%d image\n", argv[2], CLASSIFICATIONCNN_INPUT_W, CLASSIFICATIONCNN_INPUT_H);
        return 1;
    }
    stbi_image_free(px);
    best = classificationcnn_predict(input, probs);
    printf("%s: %s (%.4f)\n", argv[2], classificationcnn_class_names[best], probs[best]);
    return 0;
}
