/* tests/data/test_make_sea_data.c: tests examples/make_sea_data: the layout (5 class folders,
 * 35/10/5 images each for train/test/validate), 100x100 RGB PNGs, a set under 5 MB, and the
 * same bytes from two runs. */
#include <dirent.h>
#include <stb_image.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/data.h"
#include "tests/data/datatest.h"
#include "tests/test.h"

static const char *splits[3] = { "train", "test", "validate" };
static const int counts[3] = { 35, 10, 5 };

static double now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

static int run(const char *tool, const char *out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' > /dev/null", tool, out);
    return system(cmd);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    if (d) closedir(d);
    return d ? n : -1;
}

int main(void)
{
    const char *b = getenv("top_builddir");
    char tool[1024];
    snprintf(tool, sizeof tool, "%s/examples/make_sea_data", b ? b : ".");
    if (access(tool, X_OK)) {
        fprintf(stderr, "test_make_sea_data: %s is not built\n", tool);
        return 99;
    }
    make_test_tmp("seadata");
    double t0 = now();
    CHECK(run(tool, tp("a")) == 0, "first run failed");
    double secs = now() - t0;
    CHECK(run(tool, tp("b/nested")) == 0, "second run failed");
    printf("test_make_sea_data: one run took %.2f s (a figure, not a check: the machine is shared)\n", secs);

    long total = 0;
    int differ = 0, bad_size = 0;
    for (int s = 0; s < 3; s++) {
        char rel[256];
        snprintf(rel, sizeof rel, "a/%s", splits[s]);
        CHECK(count_entries(tp(rel)) == 5, "%s: %d class folders", splits[s], count_entries(tp(rel)));
        for (int c = 0; c < 5; c++) {
            snprintf(rel, sizeof rel, "a/%s/%d", splits[s], c);
            CHECK(count_entries(tp(rel)) == counts[s], "%s has %d images, want %d", rel, count_entries(tp(rel)), counts[s]);
            for (int i = 0; i < counts[s]; i++) {
                char pa[256], pb[256];
                snprintf(pa, sizeof pa, "a/%s/%d/%03d.png", splits[s], c, i);
                snprintf(pb, sizeof pb, "b/nested/%s/%d/%03d.png", splits[s], c, i);
                size_t na = 0, nb = 0;
                unsigned char *da = read_file(tp(pa), &na), *db = read_file(tp(pb), &nb);
                CHECK(da != NULL, "%s missing", pa);
                differ += !da || !db || na != nb || memcmp(da, db, na) != 0;
                int w = 0, h = 0, comp = 0;
                bad_size += !da || !stbi_info_from_memory(da, (int)na, &w, &h, &comp) || w != 100 || h != 100 || comp != 3;
                total += (long)na;
                free(da);
                free(db);
            }
        }
    }
    CHECK(differ == 0, "%d images differ between two runs", differ);
    CHECK(bad_size == 0, "%d images are not 100x100 RGB", bad_size);
    printf("test_make_sea_data: %ld bytes in all\n", total);
    CHECK(total < 5000000, "the set is %ld bytes, over 5 MB", total);

    /* ImageFolder reads it as the notebook does: classes "0".."4" */
    for (int s = 0; s < 3; s++) {
        char rel[64];
        snprintf(rel, sizeof rel, "a/%s", splits[s]);
        Dataset ds;
        Error e;
        CHECK(dataset_open_imagefolder(&ds, tp(rel), 3, &e) == 0, "open %s: %s", rel, e.msg);
        CHECK(ds.n == 5 * counts[s] && ds.nclasses == 5 && strcmp(ds.class_names[4], "4") == 0, "%s: %d samples", rel, ds.n);
        dataset_free(&ds);
    }
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "'%s' a b 2> /dev/null", tool);
    CHECK(system(cmd) != 0, "two arguments are a usage error");
    remove_test_tmp();
    return test_done("test_make_sea_data");
}
