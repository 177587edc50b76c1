/* runtime/fileio.c: writing a whole file atomically, and checking standard output (see fileio.h). */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_SUFFIX ".tmp.XXXXXX"        /* mkstemp's template after the target's name */
#define TMP_SUFFIX_LEN (sizeof TMP_SUFFIX - 1)

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

/* Whether name is base followed by ".tmp." and mkstemp's six letters and digits */
static int is_temp_of(const char *name, const char *base, size_t blen)
{
    if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0) return 0;
    const char *s = name + blen + 5;
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z'))) return 0;
    return n == 6;
}

/* Temporary files of path that a process killed while writing it left behind
 * (path.tmp.XXXXXX): removed once they are over an hour old and no process holds the lock
 * a writer keeps on its temporary file until the rename. Best effort: nothing here can
 * fail the write. */
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
        if (!is_temp_of(de->d_name, base, blen)) continue;
        char full[8300];
        struct stat st;
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, de->d_name) >= sizeof full) continue;
        if (lstat(full, &st) || !S_ISREG(st.st_mode) || now - st.st_mtime <= 3600) continue;
        int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) unlink(full);     /* no writer holds it */
        close(fd);
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

/* path, or the file a symbolic link at path points to (through every link), into out */
static int resolve_target(const char *path, char *out, size_t size)
{
    struct stat st;
    if ((size_t)snprintf(out, size, "%s", path) >= size) return errno = ENAMETOOLONG, -1;
    for (int hops = 0; lstat(out, &st) == 0 && S_ISLNK(st.st_mode); hops++) {
        if (hops == 40) return errno = ELOOP, -1;
        char link[4096], next[4200];
        ssize_t n = readlink(out, link, sizeof link - 1);
        if (n < 0) return -1;
        link[n] = 0;
        if (link[0] == '/') {
            if ((size_t)snprintf(next, sizeof next, "%s", link) >= sizeof next) return errno = ENAMETOOLONG, -1;
        } else {    /* relative to the folder holding the link */
            const char *slash = strrchr(out, '/');
            int dl = slash ? (int)(slash - out) + 1 : 0;
            if ((size_t)snprintf(next, sizeof next, "%.*s%s", dl, out, link) >= sizeof next)
                return errno = ENAMETOOLONG, -1;
        }
        if ((size_t)snprintf(out, size, "%s", next) >= size) return errno = ENAMETOOLONG, -1;
    }
    return 0;
}

/* The mode a new file gets: 0666 less the umask (read without changing it for long) */
static mode_t new_file_mode(void)
{
    mode_t m = umask(022);
    umask(m);
    return 0666 & ~m;
}

int fileio_check_name(const char *path, Error *e)
{
    char dir[4096];
    const char *base;
    if (split_path(path, dir, sizeof dir, &base)) return err_set(e, "cannot write %s: %s", path, err_reason(errno, 1));
    long max = pathconf(dir, _PC_NAME_MAX);
    if (max <= 0) max = NAME_MAX;
    size_t n = strlen(base);
    if (n + TMP_SUFFIX_LEN > (size_t)max)
        return err_set(e, "cannot write %s: its name is %zu bytes long, and the temporary file written beside it "
                          "needs %zu more within the folder's limit of %ld: shorten the name to at most %ld bytes",
                       path, n, TMP_SUFFIX_LEN, max, max - (long)TMP_SUFFIX_LEN);
    return 0;
}

int write_file_atomic_with(const char *path, FileFill fill, void *ctx, Error *e)
{
    char target[4200], tmp[4300];
    if (resolve_target(path, target, sizeof target))
        return err_set(e, "cannot write %s: %s", path, err_reason(errno, 1));
    if ((size_t)snprintf(tmp, sizeof tmp, "%s" TMP_SUFFIX, target) >= sizeof tmp)
        return err_set(e, "cannot write %s: path too long", path);
    if (fileio_check_name(target, e) < 0) return -1;
    struct stat st;
    mode_t mode = stat(target, &st) == 0 && S_ISREG(st.st_mode) ? st.st_mode & 07777 : new_file_mode();
    FILE *f = NULL;
    errno = 0;
    int fd = mkstemp(tmp), created = fd >= 0;
    if (fd < 0) goto fail;
    /* the lock tells remove_stale_temps of other writers that this file is being written */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) || flock(fd, LOCK_EX) || fchmod(fd, mode) || !(f = fdopen(fd, "wb"))) goto fail;
    if (fill(f, ctx)) goto fail;
    if (fflush(f) || fsync(fileno(f))) goto fail;
    test_write_delay();
    if (rename(tmp, target)) goto fail;
    created = 0;
    FILE *closing = f;
    f = NULL;
    fd = -1;
    if (fclose(closing)) goto fail;
    if (sync_parent_dir(target)) return err_set(e, "cannot write %s: %s", path, err_reason(errno, 1));
    remove_stale_temps(target);
    return 0;
fail:;
    int saved = errno ? errno : EIO;
    if (f) fclose(f);
    else if (fd >= 0) close(fd);
    if (created) unlink(tmp);
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

void stdio_guard_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        /* opened the wrong way round, so that reading stdin or writing stdout and stderr
         * fails (EBADF) as on a closed descriptor, while no file the run opens takes its number */
        int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (got >= 0 && got != fd) close(got);
    }
}

int stdout_close_checked(Error *e)
{
    int failed = ferror(stdout), err = 0;
    errno = 0;
    if (fflush(stdout) != 0) failed = 1, err = errno;
    if (failed && !err) {     /* the failed write was an earlier one: ask the descriptor again */
        err = EIO;
        if (write(STDOUT_FILENO, "", 0) < 0) err = errno;
    }
    errno = 0;
    if (fclose(stdout) != 0 && !failed) failed = 1, err = errno ? errno : EIO;
    if (!failed) return 0;
    return err_set(e, "cannot write the standard output: %s", err_reason(err, 1));
}
