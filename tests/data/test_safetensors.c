/* tests/data/test_safetensors.c: tests runtime/safetensors.c: round trips, a refusal with a
 * specific message for each kind of corrupt file, and atomic writes that fail cleanly. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "runtime/fileio.h"
#include "runtime/safetensors.h"
#include "tests/test.h"

static char dir[256];

static char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) { perror(path); exit(99); }
    fclose(f);
}

static char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    char *p = malloc(*n ? *n : 1);
    if (fread(p, 1, *n, f) != *n) { perror(path); exit(99); }
    fclose(f);
    return p;
}

/* A file with header length hlen (as stored), the given header text and data bytes. */
static void write_raw(const char *path, uint64_t hlen, const char *header, const void *data, size_t ndata)
{
    size_t hn = strlen(header), n = 8 + hn + ndata;
    unsigned char *b = malloc(n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + 8, header, hn);
    if (ndata) memcpy(b + 8 + hn, data, ndata);
    write_bytes(path, b, n);
    free(b);
}

static void write_hdr(const char *path, const char *header, size_t ndata)
{
    unsigned char zero[256] = { 0 };
    write_raw(path, strlen(header), header, zero, ndata);
}

/* Reads path expecting failure with a message naming the file and containing want. */
static void refused(const char *path, const char *want)
{
    StFile f;
    Error e = { "" };
    int rc = safetensors_read(&f, path, &e);
    CHECK(rc == -1, "%s was read but should be refused (%s)", path, want);
    if (rc == 0) safetensors_free(&f);
    CHECK(strstr(e.msg, path) != NULL, "message '%s' does not name the file", e.msg);
    CHECK(strstr(e.msg, want) != NULL, "message '%s' lacks '%s'", e.msg, want);
    CHECK(strchr(e.msg, '\n') == NULL, "message '%s' is not one line", e.msg);
}

static int temp_files_left(const char *d)
{
    DIR *dd = opendir(d);
    int n = 0;
    struct dirent *de;
    while (dd && (de = readdir(dd)))
        if (strstr(de->d_name, ".tmp.")) n++;
    if (dd) closedir(dd);
    return n;
}

static void test_round_trip(void)
{
    float w[2 * 3 * 2];
    for (int i = 0; i < 12; i++) w[i] = (float)i * 0.25f - 1.0f;
    int32_t iv[3] = { -7, 0, 2147483647 };
    int64_t lv[2] = { INT64_MIN, 1234567890123LL };
    uint8_t u8[5] = { 0, 1, 127, 128, 255 };
    float scalar = 3.5f;
    StTensor t[] = {
        { "conv_layers.0.weight", ST_F32, 3, { 2, 3, 2 }, w },
        { "ints", ST_I32, 1, { 3 }, iv },
        { "longs", ST_I64, 1, { 2 }, lv },
        { "bytes", ST_U8, 2, { 1, 5 }, u8 },
        { "scalar", ST_F32, 0, { 0 }, &scalar },
        { "empty", ST_F32, 2, { 0, 4 }, NULL },
    };
    StMeta meta[] = {
        { "classes", "[\"sea sponge\", \"sea star\"]" },
        { "source", "model A {\n\tinput [3, 100, 100] # \"quoted\" \\ back\\slash\n}\n" },
        { "unicode", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\xA6\x80 \x01" },
        { "", "empty key" },
    };
    const char *path = tpath("model.safetensors");
    Error e;
    CHECK(safetensors_write(path, t, 6, meta, 4, &e) == 0, "write: %s", e.msg);
    CHECK(temp_files_left(dir) == 0, "temporary file left behind");
    StFile f;
    CHECK(safetensors_read(&f, path, &e) == 0, "read: %s", e.msg);
    if (f.nt != 6) { CHECK(0, "read %d tensors", f.nt); return; }
    /* the data starts 8-byte aligned; tensors follow each other in the order given */
    CHECK(((uintptr_t)f.t[0].data & 7) == 0, "data not 8-byte aligned");
    size_t at = 0;
    for (int i = 0; i < 6; i++) {
        const StEntry *en = safetensors_find(&f, t[i].name);
        CHECK(en != NULL, "tensor %s missing", t[i].name);
        if (!en) continue;
        CHECK(en == &f.t[i], "tensor %s out of order", t[i].name);
        CHECK(en->dtype == t[i].dtype && en->ndim == t[i].ndim, "%s: dtype/ndim", t[i].name);
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            CHECK(en->shape[d] == t[i].shape[d], "%s: dim %d", t[i].name, d);
            numel *= (size_t)t[i].shape[d];
        }
        size_t esz = t[i].dtype == ST_U8 ? 1 : t[i].dtype == ST_I64 ? 8 : 4;
        CHECK(en->nbytes == numel * esz, "%s: nbytes %zu", t[i].name, en->nbytes);
        CHECK((const char *)en->data == (const char *)f.t[0].data + at, "%s: data not at offset %zu", t[i].name, at);
        at += en->nbytes;
        if (numel) CHECK(memcmp(en->data, t[i].data, en->nbytes) == 0, "%s: data differs", t[i].name);
    }
    CHECK(f.nmeta == 4, "nmeta %d", f.nmeta);
    for (int i = 0; i < 4; i++) {
        const char *v = safetensors_meta(&f, meta[i].key);
        CHECK(v && strcmp(v, meta[i].value) == 0, "metadata %s: '%s'", meta[i].key, v ? v : "(null)");
    }
    CHECK(safetensors_find(&f, "nope") == NULL && safetensors_meta(&f, "nope") == NULL, "missing names");
    safetensors_free(&f);

    /* the header is padded with spaces to a multiple of 8, and data follows it in order */
    size_t n = 0;
    unsigned char *raw = (unsigned char *)read_bytes(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | raw[i];
    CHECK(hl % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)hl);
    CHECK(raw[8] == '{' && raw[8 + hl - 1] != '\n', "header starts with '{'");
    CHECK(memcmp(raw + 8 + hl, w, sizeof w) == 0, "first tensor's data right after the header");
    CHECK(n == 8 + hl + sizeof w + sizeof iv + sizeof lv + sizeof u8 + sizeof scalar, "file size %zu", n);
    free(raw);

    /* overwriting an existing file, without metadata */
    CHECK(safetensors_write(path, t, 1, NULL, 0, &e) == 0, "rewrite: %s", e.msg);
    CHECK(safetensors_read(&f, path, &e) == 0 && f.nt == 1 && f.nmeta == 0, "rewritten file");
    safetensors_free(&f);

    /* no tensors at all is a valid file */
    CHECK(safetensors_write(path, NULL, 0, NULL, 0, &e) == 0, "empty write: %s", e.msg);
    CHECK(safetensors_read(&f, path, &e) == 0 && f.nt == 0, "empty file: %s", e.msg);
    safetensors_free(&f);
}

/* A file from another writer: header length not a multiple of 8, names in the JSON in a
 * different order from the data, a tensor of zero elements. */
static void test_foreign_file(void)
{
    const char *h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                    "\"z\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[4,4]},"
                    "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}} ";
    unsigned char data[12];
    int32_t a = -5;
    float b[2] = { 1.5f, -2.25f };
    memcpy(data, &a, 4);
    memcpy(data + 4, b, 8);
    const char *path = tpath("foreign.safetensors");
    write_raw(path, strlen(h), h, data, 12);
    StFile f;
    Error e;
    CHECK(strlen(h) % 8 != 0, "test header should be unaligned");
    CHECK(safetensors_read(&f, path, &e) == 0, "foreign file: %s", e.msg);
    const StEntry *eb = safetensors_find(&f, "b"), *ea = safetensors_find(&f, "a");
    CHECK(ea && ea->ndim == 0 && ((uintptr_t)ea->data & 7) == 0 && memcmp(ea->data, &a, 4) == 0,
          "a: a scalar at the aligned start of the data");
    CHECK(eb && (const char *)eb->data == (const char *)ea->data + 4 && memcmp(eb->data, b, 8) == 0, "b's data");
    CHECK(f.nt == 3 && strcmp(f.t[0].name, "b") == 0 && strcmp(f.t[2].name, "a") == 0, "entries in header order");
    safetensors_free(&f);

    /* trailing spaces after the JSON (the padding) are fine */
    const char *hp = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}         ";
    write_hdr(path, hp, 1);
    CHECK(safetensors_read(&f, path, &e) == 0, "padded header: %s", e.msg);
    safetensors_free(&f);
}

static void test_corrupt(void)
{
    const char *p = tpath("bad.safetensors");
    Error e;
    /* truncated: shorter than the length field */
    write_bytes(p, "\x10\0\0", 3);
    refused(p, "too short");
    write_bytes(p, "", 0);
    refused(p, "too short");
    /* short header: length 0 or 1, or not an object */
    write_raw(p, 0, "", NULL, 0);
    refused(p, "does not start with '{'");
    write_raw(p, 1, "{", NULL, 0);
    refused(p, "does not start with '{'");
    write_hdr(p, "[1, 2]", 0);
    refused(p, "does not start with '{'");
    write_hdr(p, " {}", 0);
    refused(p, "does not start with '{'");
    /* header longer than the file */
    write_raw(p, 1000, "{\"a\":1}", NULL, 0);
    refused(p, "header length 1000 is longer than the rest of the file");
    write_raw(p, UINT64_MAX, "{}", NULL, 0);
    refused(p, "longer than the rest of the file");
    /* a good file cut short in its data */
    float w[4] = { 1, 2, 3, 4 };
    StTensor t = { "w", ST_F32, 1, { 4 }, w };
    const char *good = tpath("good.safetensors");
    CHECK(safetensors_write(good, &t, 1, NULL, 0, &e) == 0, "write: %s", e.msg);
    size_t n = 0;
    char *raw = read_bytes(good, &n);
    write_bytes(p, raw, n - 3);
    refused(p, "past the end of the data");
    write_bytes(p, raw, 20);
    refused(p, "longer than the rest of the file");
    free(raw);
    /* bad JSON */
    write_hdr(p, "{\"a\": {\"dtype\": \"F32\",}}", 0);
    refused(p, "header is not valid JSON: expected a string key in object at byte");
    write_hdr(p, "{\"a\": \"\xff\"}", 0);
    refused(p, "header is not valid JSON: invalid UTF-8");
    write_hdr(p, "{\"a\":1", 0);
    refused(p, "header is not valid JSON");
    /* dtypes */
    write_hdr(p, "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    refused(p, "tensor 'a' has dtype F16, which cnnc does not support");
    write_hdr(p, "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    refused(p, "tensor 'a' has unknown dtype \"Q4\"");
    write_hdr(p, "{\"a\":{\"dtype\":3,\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    refused(p, "tensor 'a' has no \"dtype\" string");
    /* shapes */
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0);
    refused(p, "tensor 'a' has an invalid shape");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,0]}}", 0);
    refused(p, "tensor 'a' has an invalid shape");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,0]}}", 0);
    refused(p, "tensor 'a' has no \"shape\" array");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1);
    refused(p, "tensor 'a' has 9 dimensions");
    write_hdr(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0);
    refused(p, "tensor 'a' has a shape whose size overflows");
    /* offsets */
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,8]}}", 4);
    refused(p, "tensor 'a' has data_offsets [0, 8] past the end of the data (4 bytes)");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,0]}}", 4);
    refused(p, "end before they begin");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0]}}", 4);
    refused(p, "tensor 'a' needs \"data_offsets\": [begin, end]");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,-4]}}", 4);
    refused(p, "tensor 'a' needs \"data_offsets\"");
    write_hdr(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    refused(p, "tensor 'a' has 4 bytes of data but its shape and dtype F32 need 8");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6);
    refused(p, "tensor 'b' overlaps 'a'");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}", 6);
    refused(p, "bytes 2 to 4 of the data belong to no tensor (before 'b')");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 6);
    refused(p, "bytes 2 to 6 of the data belong to no tensor");
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4);
    refused(p, "bytes 0 to 2 of the data belong to no tensor");
    /* names */
    write_hdr(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                 "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4);
    refused(p, "tensor name 'a' appears twice");
    write_hdr(p, "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
    refused(p, "NUL character");
    write_hdr(p, "{\"a\\nb\":{\"dtype\":\"Q\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
    refused(p, "tensor 'a?b' has unknown dtype");
    write_hdr(p, "{\"a\":[1,2]}", 0);
    refused(p, "entry 'a' is an array, not an object");
    /* metadata */
    write_hdr(p, "{\"__metadata__\":{\"epochs\":20}}", 0);
    refused(p, "metadata \"epochs\" is a number; safetensors metadata values must be strings");
    write_hdr(p, "{\"__metadata__\":[\"x\"]}", 0);
    refused(p, "\"__metadata__\" is an array, not an object");
    write_hdr(p, "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0);
    refused(p, "metadata key \"k\" appears twice");
    write_hdr(p, "{\"__metadata__\":{},\"__metadata__\":{}}", 0);
    refused(p, "two \"__metadata__\" entries");
    /* not a file */
    refused(tpath("missing.safetensors"), "No such file or directory");
    refused(dir, "it is a folder");
}

/* Whatever fails while writing, the temporary file goes and the old file stays. */
static void test_atomic_failures(void)
{
    float w[4] = { 1, 2, 3, 4 }, big[4096] = { 0 };
    StTensor t = { "w", ST_F32, 1, { 4 }, w }, tb = { "big", ST_F32, 1, { 4096 }, big };
    Error e;
    char sub[512];
    snprintf(sub, sizeof sub, "%s/ro", dir);
    mkdir(sub, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/m.safetensors", sub);
    CHECK(safetensors_write(path, &t, 1, NULL, 0, &e) == 0, "write: %s", e.msg);
    size_t n0;
    char *before = read_bytes(path, &n0);

    /* 1. the folder is not writable; root ignores permissions, so root runs this case in a
     *    child process that drops to user nobody */
    chmod(sub, 0555);
    chmod(dir, 0755);
    int as_root = geteuid() == 0;
    pid_t pid = as_root ? fork() : 0;
    if (pid == 0) {
        if (as_root && (setgid(65534) || setuid(65534))) _exit(3);
        int rc = safetensors_write(path, &tb, 1, NULL, 0, &e);
        char want[700];
        snprintf(want, sizeof want, "cannot write %s: Permission denied: choose a folder you can write to or change its permissions", path);
        int ok = rc == -1 && strcmp(e.msg, want) == 0;
        if (!ok) fprintf(stderr, "read-only folder: rc %d, message '%s'\n", rc, e.msg);
        if (as_root) _exit(ok ? 0 : 1);
        CHECK(ok, "write into a read-only folder");
    } else {
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 1, "write into a read-only folder (as nobody)");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3) printf("test_safetensors: cannot become nobody: skipped the read-only folder case\n");
    }
    chmod(sub, 0755);
    chmod(dir, 0700);

    /* 2. the disk fills up mid-write (a file size limit stands in for a full disk) */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1024;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
    int rc = safetensors_write(path, &tb, 1, NULL, 0, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(rc == -1, "write past the size limit succeeded");
    CHECK(strstr(e.msg, "cannot write ") == e.msg && strstr(e.msg, "File too large"), "message '%s'", e.msg);

    /* 3. the rename fails (the target is a folder) */
    char target[700];
    snprintf(target, sizeof target, "%s/adir", sub);
    mkdir(target, 0755);
    char inner[800];
    snprintf(inner, sizeof inner, "%s/x", target);
    write_bytes(inner, "x", 1);
    rc = safetensors_write(target, &t, 1, NULL, 0, &e);
    CHECK(rc == -1 && strstr(e.msg, "cannot write ") == e.msg, "rename onto a folder: rc %d '%s'", rc, e.msg);
    unlink(inner);
    rmdir(target);

    /* 4. the folder does not exist */
    char nodir[700];
    snprintf(nodir, sizeof nodir, "%s/nope/m.safetensors", dir);
    rc = safetensors_write(nodir, &t, 1, NULL, 0, &e);
    char want[800];
    snprintf(want, sizeof want, "cannot write %s: No such file or directory: create the folder first or choose another path", nodir);
    CHECK(rc == -1 && strcmp(e.msg, want) == 0, "message '%s'", e.msg);

    CHECK(temp_files_left(sub) == 0, "a temporary file was left behind");
    size_t n1;
    char *after = read_bytes(path, &n1);
    CHECK(after && n1 == n0 && memcmp(before, after, n0) == 0, "the old file changed");
    free(before);
    free(after);

    /* refusals of bad input, before any file is touched */
    StTensor dup[2] = { t, t };
    CHECK(safetensors_write(path, dup, 2, NULL, 0, &e) == -1 && strstr(e.msg, "two tensors are named 'w'"), "dup: %s", e.msg);
    StTensor neg = { "n", ST_F32, 1, { -1 }, w };
    CHECK(safetensors_write(path, &neg, 1, NULL, 0, &e) == -1 && strstr(e.msg, "invalid shape"), "neg: %s", e.msg);
    StTensor md = { "__metadata__", ST_F32, 1, { 1 }, w };
    CHECK(safetensors_write(path, &md, 1, NULL, 0, &e) == -1 && strstr(e.msg, "invalid name"), "md: %s", e.msg);
    CHECK(temp_files_left(sub) == 0, "a temporary file was left behind");
    unlink(path);
    rmdir(sub);
}

/* safetensors_parse takes a buffer from memory (e.g. a file embedded elsewhere). */
static void test_parse_buffer(void)
{
    const char *h = "{\"x\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}";
    size_t hn = strlen(h), n = 8 + hn + 3;
    char *b = malloc(n);
    for (int i = 0; i < 8; i++) b[i] = (char)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, h, hn);
    memcpy(b + 8 + hn, "abc", 3);
    StFile f;
    Error e;
    CHECK(safetensors_parse(&f, "embedded", b, n, &e) == 0, "parse: %s", e.msg);
    CHECK(f.nt == 1 && memcmp(f.t[0].data, "abc", 3) == 0, "parsed data");
    safetensors_free(&f);
    b = malloc(4);
    CHECK(safetensors_parse(&f, "embedded", b, 4, &e) == -1 && strstr(e.msg, "embedded: file is 4 bytes"), "%s", e.msg);
}

/* A file at path (any contents) whose modification time is `age` seconds ago */
static void touch_aged(const char *path, long age)
{
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age;
    t[1] = t[0];
    utimensat(AT_FDCWD, path, t, 0);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A write removes its target's temporary files that killed processes left (over an hour
 * old, no writer's lock on them), and nothing else. */
static void test_stale_temps(void)
{
    char target[600], stale[700], recent[700], locked[700], other[700], odd[700], longer[700], legacy[700];
    snprintf(target, sizeof target, "%s/s.safetensors", dir);
    snprintf(stale, sizeof stale, "%s.tmp.AbC123", target);
    snprintf(recent, sizeof recent, "%s.tmp.xYz789", target);
    snprintf(locked, sizeof locked, "%s.tmp.Lock01", target);
    snprintf(other, sizeof other, "%s/other.safetensors.tmp.AbC123", dir);
    snprintf(odd, sizeof odd, "%s.tmp.AbC12-", target);
    snprintf(longer, sizeof longer, "%s.tmp.AbC1234", target);
    snprintf(legacy, sizeof legacy, "%s.backup", target);
    touch_aged(stale, 7200);
    touch_aged(recent, 60);
    touch_aged(locked, 7200);
    touch_aged(other, 7200);
    touch_aged(odd, 7200);
    touch_aged(longer, 7200);
    touch_aged(legacy, 7200);
    int lk = open(locked, O_RDONLY);    /* a writer still at work holds its lock */
    CHECK(lk >= 0 && flock(lk, LOCK_EX) == 0, "cannot lock %s", locked);
    float w[2] = { 1, 2 };
    StTensor t = { "w", ST_F32, 1, { 2 }, w };
    Error e;
    CHECK(safetensors_write(target, &t, 1, NULL, 0, &e) == 0, "write: %s", e.msg);
    CHECK(!exists(stale), "a two-hour-old temporary file nobody holds was left");
    CHECK(exists(recent), "a one-minute-old temporary file was removed");
    CHECK(exists(locked), "a temporary file a writer holds locked was removed");
    CHECK(exists(other), "another file's temporary file was removed");
    CHECK(exists(odd), "a file that only looks like a temporary file was removed");
    CHECK(exists(longer), "a file with a longer suffix was removed");
    CHECK(exists(legacy), "a backup beside the target was removed");
    if (lk >= 0) close(lk);
    unlink(recent), unlink(locked), unlink(other), unlink(odd), unlink(longer), unlink(legacy);
}

/* The rename keeps the target's permission bits, writes through a symbolic link to its
 * target, and never touches another writer's file that has the name a temporary file of
 * this process would have had before mkstemp (FILE.tmp.PID: one PID in two containers). */
static void test_atomic_target(void)
{
    float w[2] = { 1, 2 };
    StTensor t = { "w", ST_F32, 1, { 2 }, w };
    Error e;
    struct stat st;
    char *p = tpath("mode.safetensors");
    CHECK(safetensors_write(p, &t, 1, NULL, 0, &e) == 0, "write: %s", e.msg);
    mode_t um = umask(022);
    umask(um);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == (0666 & ~um), "a new file has mode %o, not %o",
          (unsigned)(st.st_mode & 07777), (unsigned)(0666 & ~um));
    chmod(p, 0600);
    CHECK(safetensors_write(p, &t, 1, NULL, 0, &e) == 0, "write: %s", e.msg);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600, "a 0600 file became %o", (unsigned)(st.st_mode & 07777));
    chmod(p, 0640);
    CHECK(safetensors_write(p, &t, 1, NULL, 0, &e) == 0, "write: %s", e.msg);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640, "a 0640 file became %o", (unsigned)(st.st_mode & 07777));

    /* a symbolic link (relative, in another folder) stays a link; its target gets the file */
    char sub[600], real[700], link[700];
    snprintf(sub, sizeof sub, "%s/real", dir);
    mkdir(sub, 0755);
    snprintf(real, sizeof real, "%s/target.safetensors", sub);
    snprintf(link, sizeof link, "%s/link.safetensors", dir);
    write_bytes(real, "old", 3);
    CHECK(symlink("real/target.safetensors", link) == 0, "symlink");
    CHECK(safetensors_write(link, &t, 1, NULL, 0, &e) == 0, "write through a link: %s", e.msg);
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the symbolic link was replaced by a file");
    StFile f;
    int rc = safetensors_read(&f, real, &e);
    CHECK(rc == 0, "the link's target was not written: %s", e.msg);
    if (rc == 0) safetensors_free(&f);
    CHECK(temp_files_left(sub) == 0 && temp_files_left(dir) == 0, "a temporary file was left");

    /* FILE.tmp.PID of another writer with this PID */
    char theirs[700];
    snprintf(theirs, sizeof theirs, "%s.tmp.%ld", p, (long)getpid());
    write_bytes(theirs, "their half-written file", 23);
    CHECK(safetensors_write(p, &t, 1, NULL, 0, &e) == 0, "write: %s", e.msg);
    size_t n = 0;
    char *b = read_bytes(theirs, &n);
    CHECK(b && n == 23 && memcmp(b, "their half-written file", 23) == 0, "another writer's FILE.tmp.PID was taken over");
    rc = safetensors_read(&f, p, &e);
    CHECK(rc == 0, "the target is not this write's: %s", e.msg);
    if (rc == 0) safetensors_free(&f);
    free(b);
    unlink(theirs);
}

/* Two processes writing one file at once, many times: each write reports success and the
 * file is always one writer's whole file. */
static void test_two_writers(void)
{
    char *p = tpath("two.safetensors");
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            static float w[20000];
            for (int i = 0; i < 20000; i++) w[i] = (float)k;
            StTensor t = { k ? "b" : "a", ST_F32, 1, { 20000 }, w };
            Error e;
            for (int i = 0; i < 30; i++)
                if (safetensors_write(p, &t, 1, NULL, 0, &e) < 0) { fprintf(stderr, "%s\n", e.msg); _exit(1); }
            _exit(0);
        }
    }
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        int status = 0;
        waitpid(kids[k], &status, 0);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(ok, "a writer failed");
    StFile f;
    Error e;
    int rc = safetensors_read(&f, p, &e);
    CHECK(rc == 0, "two writers left a broken file: %s", e.msg);
    if (rc == 0) {
        const StEntry *a = safetensors_find(&f, "a"), *b = safetensors_find(&f, "b");
        CHECK((a != NULL) != (b != NULL), "the file is neither writer's");
        safetensors_free(&f);
    }
    CHECK(temp_files_left(dir) == 0, "two writers left a temporary file");
}

/* A name with no room for the temporary file's suffix is refused before any work */
static void test_long_name(void)
{
    char name[300], path[900];
    memset(name, 'x', 250);
    memcpy(name + 250, ".st", 4);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    Error e;
    CHECK(fileio_check_name(path, &e) == -1, "a 253-byte name was accepted");
    CHECK(strstr(e.msg, "shorten the name to at most 244 bytes") != NULL, "message: %s", e.msg);
    name[240] = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(fileio_check_name(path, &e) == 0, "a 240-byte name was refused: %s", e.msg);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/cnnc_test_st_XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 99; }
    test_round_trip();
    test_foreign_file();
    test_corrupt();
    test_atomic_failures();
    test_parse_buffer();
    test_stale_temps();
    test_atomic_target();
    test_two_writers();
    test_long_name();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return test_done("test_safetensors");
}
