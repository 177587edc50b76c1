/* compiler/driver/preflight.c: the data check before any work (see preflight.h): the data sets
 * opened as the run will read them, every image's header read, every bad image reported
 * at once, so that no run fails on its data after it has started. */
#include "preflight.h"

#include <stdlib.h>
#include <string.h>

typedef struct Bad {
    const Dataset *ds;
    int    skip;            /* --skip-bad-images: warn and mark, else collect */
    int    n;
    char **msgs;
    int    nmsgs, cap;
} Bad;

static void on_bad(void *ctx, int i, const char *msg)
{
    Bad *b = ctx;
    b->n++;
    if (b->skip) {
        if (dataset_mark_bad(b->ds, i)) fprintf(stderr, "cnnc: warning: %s (skipped)\n", msg);
        return;
    }
    if (b->nmsgs == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->msgs = xrealloc(b->msgs, (size_t)b->cap * sizeof *b->msgs);
    }
    b->msgs[b->nmsgs++] = xstrdup(msg);
}

int sets_good(const Dataset *ds) { return ds->n - dataset_bad_count(ds); }

void sets_print(FILE *out, const Sets *s)
{
    const Dataset *ds[3] = { s->has_train ? &s->train : NULL, s->has_test ? &s->test : NULL,
                             s->has_validation ? &s->validation : NULL };
    static const char *const what[3] = { "training", "test", "validation" };
    int bad = 0, n = 0, classes = 0;
    fprintf(out, "Data checked:");
    for (int k = 0; k < 3; k++) {
        if (!ds[k]) continue;
        fprintf(out, "%s %d %s", n++ ? "," : "", sets_good(ds[k]), what[k]);
        bad += dataset_bad_count(ds[k]);
        classes = ds[k]->nclasses;
    }
    if (!n) fprintf(out, " the file declares no data set\n");
    else fprintf(out, " images (%d classes), every header read%s", classes, bad ? "" : ", none bad\n");
    if (n && bad) fprintf(out, ", %d bad skipped\n", bad);
}

int sets_check(const Program *p, const RunOptions *o, int need_train, Sets *s, Error *e)
{
    if (sets_open(p, o, need_train, s, e) < 0) return -1;
    struct { const DatasetDecl *d; const Dataset *ds; int has; const char *what; } all[] = {
        { &p->train, &s->train, s->has_train, "train_dataset" },
        { &p->test, &s->test, s->has_test, "test_dataset" },
        { &p->validation, &s->validation, s->has_validation, "validation_dataset" },
    };
    Bad b = { .skip = o->loader.skip_bad };
    int counts[3] = { 0 }, total = 0, rc = 0;
    for (int k = 0; k < 3; k++) {
        if (!all[k].has) continue;
        b.ds = all[k].ds;
        b.n = 0;
        dataset_check(all[k].ds, &all[k].d->transform, p->in_shape[0], p->in_shape[1], p->in_shape[2], on_bad, &b);
        counts[k] = b.n;
        total += b.n;
        if (b.skip && b.n && b.n == all[k].ds->n && rc == 0)
            rc = err_set(e, "%s: %s has no image left to read: all %d are bad (listed above)", all[k].ds->root,
                         all[k].what, b.n);
    }
    if (total && !b.skip) {
        if (b.nmsgs == 1) {
            rc = err_set(e, "%s (or pass --skip-bad-images to skip it)", b.msgs[0]);
        } else {
            for (int i = 0; i < b.nmsgs; i++) fprintf(stderr, "cnnc: error: %s\n", b.msgs[i]);
            char where[200] = "";
            size_t n = 0;
            for (int k = 0; k < 3; k++)
                if (counts[k])
                    n += (size_t)snprintf(where + n, sizeof where - n, "%s%s %d", n ? ", " : "", all[k].what,
                                          counts[k]);
            rc = err_set(e, "%d bad images (%s), listed above: re-export or remove them, or pass --skip-bad-images "
                            "to skip them", total, where);
        }
    }
    for (int i = 0; i < b.nmsgs; i++) free(b.msgs[i]);
    free(b.msgs);
    if (rc) sets_free(s);
    return rc;
}
