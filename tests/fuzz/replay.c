/* tests/fuzz/replay.c: main() for a fuzz harness built without libFuzzer: runs
 * LLVMFuzzerTestOneInput on each file named (a crash found by `make fuzz`, kept in
 * tests/fuzz/regressions/, or a seed), so the normal and sanitizer builds replay them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* A harness that reads files by name itself may define this: replay -f passes it the names,
 * for inputs that cannot be read as bytes (a FIFO, a link to /dev/zero). */
__attribute__((weak)) void fuzz_test_file(const char *path);
extern char fuzz_last_error[1024];

/* replay [-v] [-f] FILE...: with -v, prints "FILE: the error it was refused with" (or "ok");
 * with -f, hands the harness the file names (fuzz_test_file) instead of the bytes */
int main(int argc, char **argv)
{
    int verbose = 0, by_name = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]; i++) {
        if (argv[i][1] == 'v') verbose = 1;
        else if (argv[i][1] == 'f' && fuzz_test_file) by_name = 1;
        else break;
    }
    int first = i;
    for (; i < argc; i++) {
        if (by_name) {
            fuzz_last_error[0] = 0;
            fuzz_test_file(argv[i]);
            if (verbose) printf("%s: %s\n", argv[i], fuzz_last_error[0] ? fuzz_last_error : "ok");
            continue;
        }
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
    if (!verbose) printf("replayed %d input%s\n", argc - first, argc - first == 1 ? "" : "s");
    return 0;
}
