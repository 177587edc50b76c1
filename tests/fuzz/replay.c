/* tests/fuzz/replay.c: main() for a fuzz harness built without libFuzzer: runs
 * LLVMFuzzerTestOneInput on each file named (a crash found by `make fuzz`, kept in
 * tests/fuzz/regressions/, or a seed), so the normal and sanitizer builds replay them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern char fuzz_last_error[1024];

/* replay [-v] FILE...: with -v, prints "FILE: the error it was refused with" (or "ok") */
int main(int argc, char **argv)
{
    int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    for (int i = 1 + verbose; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "replay: cannot read %s\n", argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, n = 0, got;
        uint8_t *buf = malloc(cap);
        while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
            if ((n += got) == cap) buf = realloc(buf, cap *= 2);
        fclose(f);
        if (!buf) return 1;
        fuzz_last_error[0] = 0;
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        if (verbose) printf("%s: %s\n", argv[i], fuzz_last_error[0] ? fuzz_last_error : "ok");
    }
    if (!verbose) printf("replayed %d input%s\n", argc - 1, argc == 2 ? "" : "s");
    return 0;
}
