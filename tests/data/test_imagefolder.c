/* tests/data/test_imagefolder.c: tests runtime/imagefolder.c: class and file order as
 * torchvision's ImageFolder, nested and linked folders, extension filtering, targets, and
 * the errors for a missing root, no classes and an empty class. */
#include <unistd.h>

#include "runtime/data.h"
#include "tests/data/datatest.h"
#include "tests/test.h"

static void touch_png(const char *rel, uint8_t v) { write_png_fill(rel, 3, 2, 3, v); }

static void test_order(void)
{
    /* classes in byte order: "B" < "_x" < "a" < "a b" < "b"; a plain file at the top is no class */
    const char *classes[] = { "B", "_x", "a", "a b", "b" };
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "root/%s", classes[i]);
        mkdirs(rel);
        snprintf(rel, sizeof rel, "root/%s/only.png", classes[i]);
        if (strcmp(classes[i], "a")) touch_png(rel, (uint8_t)i);
    }
    write_file("root/README.png", "x", 1);
    /* class "a": files sorted by bytes, folders sorted by full path as sorted(os.walk()) does */
    mkdirs("root/a/sub/deeper");
    mkdirs("root/a/sub b");
    mkdirs("root/a/zz");
    mkdirs("root/a/empty");
    const char *files[] = { "10.png", "2.png", "1.PNG", "x.JPEG", "a.bmp", "s.Jpg", "t.tiff", "u.webp", "v.ppm", "w.pgm",
                            "notes.txt", "y.png.bak", "png", "image.pngx", ".png",
                            "sub/c.png", "sub/deeper/d.png", "sub b/e.png", "zz/f.png" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "root/a/%s", files[i]);
        touch_png(rel, 100);
    }
    /* a folder reached through a symbolic link is walked (followlinks=True) */
    mkdirs("elsewhere");
    touch_png("elsewhere/g.png", 1);
    if (symlink(tp("elsewhere"), tp("root/a/link"))) test_die("symlink", tp("root/a/link"));
    const char *want_a[] = { ".png", "1.PNG", "10.png", "2.png", "a.bmp", "s.Jpg", "t.tiff", "u.webp", "v.ppm", "w.pgm",
                             "x.JPEG", "link/g.png", "sub/c.png", "sub b/e.png", "sub/deeper/d.png", "zz/f.png" };
    int na = (int)(sizeof want_a / sizeof want_a[0]);

    Dataset ds;
    Error e;
    CHECK(dataset_open_imagefolder(&ds, tp("root"), 3, &e) == 0, "open: %s", e.msg);
    CHECK(ds.nclasses == 5, "nclasses %d", ds.nclasses);
    for (int i = 0; i < 5 && i < ds.nclasses; i++)
        CHECK(strcmp(ds.class_names[i], classes[i]) == 0, "class %d is '%s', want '%s'", i, ds.class_names[i], classes[i]);
    CHECK(ds.n == 4 + na, "n %d, want %d", ds.n, 4 + na);
    /* samples: B, _x, then a's, then "a b", b */
    int k = 0;
    for (int c = 0; c < 5; c++) {
        int count = c == 2 ? na : 1;
        for (int j = 0; j < count && k < ds.n; j++, k++) {
            char want[1024];
            if (c == 2) snprintf(want, sizeof want, "%s/a/%s", tp("root"), want_a[j]);
            else snprintf(want, sizeof want, "%s/%s/only.png", tp("root"), classes[c]);
            CHECK(strcmp(ds.path(&ds, k), want) == 0, "sample %d is '%s', want '%s'", k, ds.path(&ds, k), want);
            Image img;
            int target = -1;
            /* all are PNG bytes, whatever the extension: stb_image reads the content */
            CHECK(ds.get(&ds, k, &img, &target, &e) == 0, "get %d: %s", k, e.msg);
            CHECK(target == c, "sample %d target %d, want %d", k, target, c);
            CHECK(img.w == 3 && img.h == 2 && img.c == 3, "sample %d size", k);
            image_free(&img);
        }
    }
    dataset_free(&ds);

    /* the same folder with a trailing slash, and as grayscale */
    char slash[1024];
    snprintf(slash, sizeof slash, "%s/", tp("root"));
    CHECK(dataset_open_imagefolder(&ds, slash, 1, &e) == 0, "open with /: %s", e.msg);
    char want0[1024];
    snprintf(want0, sizeof want0, "%s/B/only.png", tp("root"));
    CHECK(ds.n == 4 + na && strcmp(ds.path(&ds, 0), want0) == 0, "path with trailing slash: %s", ds.path(&ds, 0));
    Image img;
    int target;
    CHECK(ds.get(&ds, 0, &img, &target, &e) == 0 && img.c == 1 && target == 0, "gray get: %s", e.msg);
    image_free(&img);
    CHECK(ds.get(&ds, ds.n, &img, &target, &e) == -1, "out of range get");
    dataset_free(&ds);
}

static void refused(const char *root, const char *want)
{
    Dataset ds;
    Error e = { "" };
    CHECK(dataset_open_imagefolder(&ds, root, 3, &e) == -1, "%s opened but should not", root);
    CHECK(strstr(e.msg, want) != NULL, "'%s' lacks '%s'", e.msg, want);
    dataset_free(&ds);          /* harmless after a failed open */
}

static void test_errors(void)
{
    char want[1200];
    snprintf(want, sizeof want, "%s: no such folder: check the dataset path in the .cnn file or pass --data DIR",
             tp("nothere"));
    refused(tp("nothere"), want);
    write_file("afile", "x", 1);
    refused(tp("afile"), "afile: no such folder");
    mkdirs("noclasses");
    touch_png("noclasses/loose.png", 1);
    refused(tp("noclasses"), "noclasses: no class folders: ImageFolder expects");
    mkdirs("emptyclass/cat");
    mkdirs("emptyclass/dog/sub");
    touch_png("emptyclass/cat/1.png", 1);
    write_file("emptyclass/dog/notes.txt", "x", 1);
    snprintf(want, sizeof want, "%s: class folder has no images", tp("emptyclass/dog"));
    refused(tp("emptyclass"), want);
    refused(tp("emptyclass"), ".jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp");
    /* a hidden folder is a class to torchvision too, and an empty one is refused */
    mkdirs("hidden/.ipynb_checkpoints");
    mkdirs("hidden/cat");
    touch_png("hidden/cat/1.png", 1);
    refused(tp("hidden"), ".ipynb_checkpoints: class folder has no images");
    /* a link back up the tree */
    mkdirs("loop/cat/sub");
    touch_png("loop/cat/1.png", 1);
    if (symlink(tp("loop/cat"), tp("loop/cat/sub/up"))) test_die("symlink", tp("loop/cat/sub/up"));
    refused(tp("loop"), "symbolic link loop");
}

int main(void)
{
    make_test_tmp("imagefolder");
    test_order();
    test_errors();
    remove_test_tmp();
    return test_done("test_imagefolder");
}
