/* tests/outputs/png_stats.c: prints an image's size and what is drawn on it, for the shell
 * tests: "W H distinct_colors nonwhite_fraction count_of_#RRGGBB..." where each listed color
 * (hex, without #) is counted within a tolerance of 24 per channel.
 *   png_stats FILE [RRGGBB...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: png_stats FILE [RRGGBB...]\n");
        return 2;
    }
    Image img;
    Error e;
    if (image_load(argv[1], 3, &img, &e) < 0) {
        fprintf(stderr, "png_stats: %s\n", e.msg);
        return 1;
    }
    size_t n = (size_t)img.w * img.h, nonwhite = 0, distinct = 0;
    unsigned char *seen = calloc(1 << 21, 1);   /* 2^24 colors, one bit each */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = img.px + 3 * i;
        unsigned v = (unsigned)q[0] << 16 | (unsigned)q[1] << 8 | q[2];
        if (!(seen[v >> 3] & (1u << (v & 7)))) distinct++;
        seen[v >> 3] |= (unsigned char)(1u << (v & 7));
        nonwhite += q[0] < 250 || q[1] < 250 || q[2] < 250;
    }
    printf("%d %d %zu %.4f", img.w, img.h, distinct, (double)nonwhite / (double)n);
    for (int a = 2; a < argc; a++) {
        unsigned c = (unsigned)strtoul(argv[a], NULL, 16);
        int want[3] = { (int)(c >> 16), (int)(c >> 8 & 255), (int)(c & 255) };
        size_t count = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = img.px + 3 * i;
            count += abs(q[0] - want[0]) <= 24 && abs(q[1] - want[1]) <= 24 && abs(q[2] - want[2]) <= 24;
        }
        printf(" %zu", count);
    }
    printf("\n");
    free(seen);
    image_free(&img);
    return 0;
}
