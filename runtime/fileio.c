/* runtime/fileio.c: writing a whole file atomically (see fileio.h). */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The folder of path into dir (".", "/" or the part before the last slash) and a pointer
 * to the name after it; -1 when the folder's name is too long */
static int split_path(const char *path, char *dir, size_t size, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else {
        size_t n = (size_t)(slash - path);
        if (n >= size) { errno = ENAMETOOLONG; return -1; }
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int sync_parent_dir(const char *path)
{
    char dir[4096];
    const char *base;
    if (split_path(path, dir, sizeof dir, &base)) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    if (rc && (errno == EINVAL || errno == ENOTSUP)) rc = 0;   /* file systems without directory fsync */
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Temporary files of path that a process killed while writing it left behind
 * (path.tmp.<pid>): removed once that process is gone and the file is over an hour old
 * (a process of that number on another machine sharing the folder would have finished
 * its write by then). Best effort: nothing here can fail the write. */
static void remove_stale_temps(const char *path)
{
    char dir[4096];
    const char *base;
    if (split_path(path, dir, sizeof dir, &base)) return;
    DIR *d = opendir(dir);
    if (!d) return;
    size_t blen = strlen(base);
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name, *digits = name + blen + 5;
        if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0 || !*digits) continue;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (*end || *digits < '0' || *digits > '9' || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[8300];
        struct stat st;
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, name) >= sizeof full) continue;
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 3600) unlink(full);
    }
    closedir(d);
}

/* CNNC_TEST_WRITE_DELAY_MS: a pause between writing the temporary file and renaming it, so
 * tests can kill a process in the middle of a write and check the target is intact */
static void test_write_delay(void)
{
    const char *s = getenv("CNNC_TEST_WRITE_DELAY_MS");
    long ms = s ? strtol(s, NULL, 10) : 0;
    if (ms > 0) nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

int write_file_atomic_with(const char *path, FileFill fill, void *ctx, Error *e)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return err_set(e, "cannot write %s: path too long", path);
    FILE *f = NULL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) goto fail;
    if (fill(f, ctx)) goto fail;
    if (fflush(f) || fsync(fileno(f))) goto fail;
    FILE *closing = f;
    f = NULL;
    fd = -1;
    if (fclose(closing)) goto fail;
    test_write_delay();
    if (rename(tmp, path)) goto fail;
    if (sync_parent_dir(path)) return err_set(e, "cannot write %s: %s", path, err_reason(errno, 1));
    remove_stale_temps(path);
    return 0;
fail:;
    int saved = errno ? errno : EIO;
    if (f) fclose(f);
    else if (fd >= 0) close(fd);
    unlink(tmp);
    return err_set(e, "cannot write %s: %s", path, err_reason(saved, 1));
}

typedef struct Bytes {
    const void *p;
    size_t      n;
} Bytes;

static int fill_bytes(FILE *f, void *ctx)
{
    const Bytes *b = ctx;
    return b->n == 0 || fwrite(b->p, 1, b->n, f) == b->n ? 0 : -1;
}

int write_file_atomic(const char *path, const void *buf, size_t n, Error *e)
{
    Bytes b = { buf, n };
    return write_file_atomic_with(path, fill_bytes, &b, e);
}
