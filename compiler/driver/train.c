/* compiler/driver/train.c: training, evaluation and prediction loops (see train.h). */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "../../runtime/dist.h"
#include "../../runtime/exec.h"
#include "../../runtime/fileio.h"
#include "../../runtime/modelfile.h"
#include "../../runtime/ops.h"
#include "../../runtime/png.h"
#include "schedule.h"
#include "shard.h"

/* --data DIR keeps the last path component (train, test, validate) under DIR; MNIST-format
 * data sets take DIR as their root */
static char *dataset_root(const DatasetDecl *d, const RunOptions *o)
{
    if (!o->data_dir) return xstrdup(d->resolved);
    if (d->kind != DS_IMAGEFOLDER) return xstrdup(o->data_dir);
    const char *r = d->resolved;
    size_t n = strlen(r);
    while (n > 1 && r[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && r[b - 1] != '/') b--;
    size_t dl = strlen(o->data_dir);
    char *s = xmalloc(dl + 1 + (n - b) + 1);
    sprintf(s, "%s/%.*s", o->data_dir, (int)(n - b), r + b);
    return s;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* With --data DIR, the validation set may be DIR/validate, DIR/val or DIR/valid, or absent
 * (returns NULL: the run has none); a training or test folder must be there. */
static char *data_dir_root(const Program *p, const DatasetDecl *d, const RunOptions *o, const char *what, Error *e)
{
    char *root = dataset_root(d, o);
    if (d->kind != DS_IMAGEFOLDER || is_dir(root)) return root;
    if (d == &p->validation) {
        static const char *const names[] = { "validate", "val", "valid" };
        for (int i = 0; i < 3; i++) {
            char *alt = xmalloc(strlen(o->data_dir) + 16);
            sprintf(alt, "%s/%s", o->data_dir, names[i]);
            if (is_dir(alt)) {
                free(root);
                return alt;
            }
            free(alt);
        }
        fprintf(stderr, "cnnc: note: %s has no validate/, val/ or valid/ folder: this run has no validation set\n",
                o->data_dir);
        free(root);
        return NULL;
    }
    /* the folders the file's training and test sets name, as --data looks for them */
    char need[200] = "";
    const DatasetDecl *sets[2] = { &p->train, &p->test };
    for (int i = 0, n = 0; i < 2; i++) {
        if (!sets[i]->present || sets[i]->kind != DS_IMAGEFOLDER) continue;
        char *r = dataset_root(sets[i], o);
        const char *base = r + strlen(o->data_dir) + 1;
        n += snprintf(need + n, sizeof need - (size_t)n, "%s%.80s/", n ? " and " : "", base);
        free(r);
        if (n >= (int)sizeof need) break;
    }
    err_set(e, "%s: %s: no such folder: check --data %s (it must hold %s, and validate/, val/ or valid/ for a "
               "validation set)", what, root, o->data_dir, need);
    free(root);
    return NULL;
}

/* Opens one data set; returns 1 when --data has no validation set for it (none is opened). */
static int open_one(const Program *p, const DatasetDecl *d, const RunOptions *o, const char *what,
                    Dataset *ds, Error *e)
{
    char *root = o->data_dir ? data_dir_root(p, d, o, what, e) : dataset_root(d, o);
    if (!root) return d == &p->validation ? 1 : -1;
    Error de;
    int rc = d->kind == DS_IMAGEFOLDER ? dataset_open_imagefolder(ds, root, d->load_channels, &de)
                                       : dataset_open_mnist(ds, root, d->kind == DS_FASHION_MNIST, d->train, &de);
    if (rc == 0) dataset_set_cache(ds, o->cache_bytes);
    if (rc < 0) {
        if (d->loc.line && !o->data_dir)
            err_set(e, "%s:%d:%d: error: %s: %s", p->path, d->loc.line, d->loc.col, what, de.msg);
        else
            err_set(e, "%s: %s", what, de.msg);
    }
    free(root);
    return rc;
}

static int out_features(const Program *p)
{
    return p->out_ndim == 1 ? p->out_shape[0] : -1;
}

/* Whether `classes` holds the folder names in another order than ImageFolder's (sorted):
 * every label would be renamed. Returns the first index that differs, or -1. */
static int classes_reordered(const Program *p, const Dataset *ds)
{
    int first = -1;
    for (int i = 0; i < ds->nclasses; i++) {
        int found = 0;
        for (int j = 0; j < p->nclasses && !found; j++) found = !strcmp(p->classes[j], ds->class_names[i]);
        if (!found) return -1;                          /* other names: a naming, not a reordering */
        if (first < 0 && strcmp(p->classes[i], ds->class_names[i])) first = i;
    }
    return first;
}

static int check_classes(const Program *p, const Dataset *ds, const char *what, int *warned, Error *e)
{
    int k = out_features(p);
    if (ds->nclasses != k)
        return err_set(e, "%s: %s has %d class folder%s but the model outputs %d classes: make the last Linear's out_features %d",
                       ds->root, what, ds->nclasses, ds->nclasses == 1 ? "" : "s", k, ds->nclasses);
    if (p->nclasses && p->nclasses != ds->nclasses)
        return err_set(e, "%s: %s has %d class folders but `classes` names %d", ds->root, what, ds->nclasses, p->nclasses);
    int at = p->nclasses && !*warned ? classes_reordered(p, ds) : -1;
    if (at >= 0) {
        *warned = 1;
        fprintf(stderr, "cnnc: warning: %s: `classes` lists the class names of %s in another order than the data "
                        "set's labels (ImageFolder's: the sorted folder names): label %d is '%s' but classes[%d] is "
                        "'%s', so predictions and the report would name classes wrongly: list them in label order\n",
                p->path, ds->root, at, ds->class_names[at], at, p->classes[at]);
    }
    return 0;
}

int sets_open(const Program *p, const RunOptions *o, int need_train, Sets *s, Error *e)
{
    memset(s, 0, sizeof *s);
    struct { const DatasetDecl *d; Dataset *ds; int *has; const char *what; } all[] = {
        { &p->train, &s->train, &s->has_train, "train_dataset" },
        { &p->test, &s->test, &s->has_test, "test_dataset" },
        { &p->validation, &s->validation, &s->has_validation, "validation_dataset" },
    };
    int warned = 0;
    for (int i = 0; i < 3; i++) {
        if (!all[i].d->present || (i == 0 && !need_train)) continue;
        int rc = open_one(p, all[i].d, o, all[i].what, all[i].ds, e);
        if (rc < 0) goto fail;
        if (rc > 0) continue;           /* --data DIR without a validation folder */
        *all[i].has = 1;
        if (check_classes(p, all[i].ds, all[i].what, &warned, e) < 0) goto fail;
    }
    if (p->nclasses) {
        s->classes = p->classes;
        s->nclasses = p->nclasses;
    } else {
        const Dataset *first = s->has_train ? &s->train : s->has_test ? &s->test : s->has_validation ? &s->validation : NULL;
        if (first) {
            s->classes = first->class_names;
            s->nclasses = first->nclasses;
        }
    }
    return 0;
fail:
    sets_free(s);
    return -1;
}

void sets_free(Sets *s)
{
    if (s->has_train) dataset_free(&s->train);
    if (s->has_test) dataset_free(&s->test);
    if (s->has_validation) dataset_free(&s->validation);
    memset(s, 0, sizeof *s);
}

static int count_correct(const Graph *g, int n)
{
    const float *z = vf32(g, g->logits);
    const int32_t *y = vi32(g, g->label);
    int k = g->vals[g->logits].shape[1], correct = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (z[(size_t)i * k + j] > z[(size_t)i * k + best]) best = j;
        correct += best == y[i];
    }
    return correct;
}

int sets_skipped(const Sets *s)
{
    int n = 0;
    if (s->has_train) n += dataset_bad_count(&s->train);
    if (s->has_test) n += dataset_bad_count(&s->test);
    if (s->has_validation) n += dataset_bad_count(&s->validation);
    return n;
}

/* the signal that asked train_run to stop, or 0; in a data-parallel run, a signal is
 * pending until the processes agree on it (shard_sum), so that all stop at the same batch */
static volatile sig_atomic_t interrupted, pending;
static int distributed;

static void agree_signal(void)
{
    int sig = shard_sum(NULL, NULL, NULL, pending);
    if (sig) interrupted = sig;
}

/* CNNC_TEST_EVAL_DELAY_MS: a pause after each evaluation batch, so tests can interrupt a
 * run during its test pass */
static void test_eval_delay(void)
{
    const char *s = getenv("CNNC_TEST_EVAL_DELAY_MS");
    long ms = s ? strtol(s, NULL, 10) : 0;
    if (ms > 0) nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

int evaluate(Graph *g, const Dataset *ds, const DatasetDecl *d, const RunOptions *o, EvalResult *r, Error *e)
{
    const Value *in = &g->vals[g->input];
    DataLoader dl;
    memset(r, 0, sizeof *r);
    int bs = d->batch_size < g->max_batch ? d->batch_size : g->max_batch;
    if (dataloader_init_opts(&dl, ds, &d->transform, bs, d->shuffle, o->seed, in->shape[1], in->shape[2],
                             in->shape[3], &o->loader, e) < 0)
        return -1;
    dataloader_begin_epoch(&dl, 0);
    g->training = 0;
    double total = 0;
    int n = 0;
    if (shard_check(ds->n, bs, ds->root, e) < 0) {
        dataloader_free(&dl);
        return -1;
    }
    while (!interrupted && (n = dataloader_next(&dl, vf32(g, g->input), vi32(g, g->label), e)) > 0) {
        shard_batch(g, ds->n, bs, r->batches);
        graph_set_batch(g, n);
        exec_run(g, PHASE_FORWARD);
        double loss = vf32(g, g->loss)[0];
        int64_t correct = count_correct(g, n), images = n;
        int sig = shard_sum(&loss, &correct, &images, pending);
        if (sig) interrupted = sig;
        total += loss;
        r->correct += (int)correct;
        r->total += (int)images;
        r->batches++;
        test_eval_delay();
    }
    shard_clear(g);
    dataloader_free(&dl);
    if (interrupted) return EVAL_INTERRUPTED;
    if (n < 0) return -1;
    r->loss = r->batches ? total / r->batches : 0.0;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One line, redrawn in place: only when out is a terminal, so logs stay clean. */
static void progress(FILE *out, int epoch, int epochs, int batch, int batches, int images, double loss, double t0)
{
    double dt = now() - t0, rate = dt > 0 ? images / dt : 0;
    double left = batch ? dt / batch * (batches - batch) : 0;
    fprintf(out, "\r\033[KEpoch %d/%d [", epoch, epochs);
    int width = 24, done = batches ? batch * width / batches : width;
    for (int i = 0; i < width; i++) fputc(i < done ? '#' : '.', out);
    fprintf(out, "] %d/%d batches, %.0f images/s, loss %.4f, %.0fs left", batch, batches, rate, loss, left);
    fflush(out);
}

static void on_signal(int sig)
{
    if (distributed) pending = sig;
    else interrupted = sig;
}

int train_signal(void)
{
    return interrupted;
}

/* CNNC_TEST_BATCH_DELAY_MS: a pause after each batch, so tests can interrupt a run mid-epoch */
static void test_batch_delay(void)
{
    static long ms = -1;
    if (ms < 0) {
        const char *s = getenv("CNNC_TEST_BATCH_DELAY_MS");
        ms = s ? strtol(s, NULL, 10) : 0;
        if (ms < 0) ms = 0;
    }
    if (ms > 0) nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

typedef struct Saver {
    const Program    *p;
    const RunOptions *o;
    const char       *path;
    int               nbatches;
    char              last[160];    /* "PATH (epoch E, batch B of N)" of the last good checkpoint, or "" */
} Saver;

static int save_checkpoint(Saver *sv, Graph *g, const TrainState *ts, Error *e)
{
    if (!sv->path) return err_set(e, "no checkpoint file was given");
    if (dist_rank() == 0 && checkpoint_save(sv->path, g, sv->p->source, ts, e) < 0) return -1;   /* rank 0 writes */
    snprintf(sv->last, sizeof sv->last, "%.100s (epoch %d, batch %d of %d)", sv->path, ts->epoch + 1, ts->batch,
             sv->nbatches);
    return 0;
}

/* An epoch's figures appended to the history as the line checkpoint_history_line reads
 * back: epoch, epochs, train loss, train correct, train total, has_test, test loss, test
 * correct, test total, seconds (CKPT_HISTORY_INTS marks the integers); the losses and
 * seconds in hexadecimal, so they come back exactly */
static void history_append(char **h, size_t *len, size_t *cap, const EpochStats *x)
{
    char line[360];
    int n = snprintf(line, sizeof line, "%d %d %a %d %d %d %a %d %d %a %a\n", x->epoch, x->epochs, x->train_loss,
                     x->train_correct, x->train_total, x->has_test, x->test_loss, x->test_correct, x->test_total,
                     x->seconds, x->lr);
    if (*len + (size_t)n + 1 > *cap) {
        *cap = 2 * (*len + (size_t)n + 1);
        *h = xrealloc(*h, *cap);
    }
    memcpy(*h + *len, line, (size_t)n + 1);
    *len += (size_t)n;
}

/* The epochs a resumed run's checkpoint had finished, to on_epoch (the report), and into
 * the run's own history */
static void history_resume(const RunOptions *o, double lr0, char **h, size_t *len, size_t *cap)
{
    const char *cur = o->resume ? o->resume->history : NULL;
    double v[CKPT_HISTORY_FIELDS];
    while (cur && checkpoint_history_line(&cur, v) > 0) {
        EpochStats x = { (int)v[0], (int)v[1], v[2], (int)v[3], (int)v[4], (int)v[5], v[6], (int)v[7], (int)v[8], v[9],
                         isnan(v[10]) ? lr0 : v[10] };
        history_append(h, len, cap, &x);
        if (o->on_epoch) o->on_epoch(o->on_epoch_ctx, &x);
    }
}

/* The --history CSV from the history lines (history_append): every finished epoch, those
 * of the checkpoint a run resumed from too */
/* What fill_history_csv writes: the finished epochs, and the run's hyperparameters for
 * the lr, batch_size and weight_decay columns (the file's, or the command line's) */
typedef struct HistoryCsv {
    const char    *history;
    const Program *p;
} HistoryCsv;

static int fill_history_csv(FILE *f, void *ctx)
{
    const HistoryCsv *h = ctx;
    const char *cur = h->history;
    double v[CKPT_HISTORY_FIELDS];
    if (fputs("epoch,train_loss,train_correct,train_total,test_loss,test_correct,test_total,lr,batch_size,weight_decay\n",
              f) < 0)
        return -1;
    while (cur && checkpoint_history_line(&cur, v) > 0) {
        int rc = v[5] ? fprintf(f, "%d,%.6f,%d,%d,%.6f,%d,%d,", (int)v[0], v[2], (int)v[3], (int)v[4], v[6], (int)v[7], (int)v[8])
                      : fprintf(f, "%d,%.6f,%d,%d,,,,", (int)v[0], v[2], (int)v[3], (int)v[4]);
        if (rc < 0 || fprintf(f, "%.9g,%d,%.9g\n", isnan(v[10]) ? h->p->opt.lr : v[10], h->p->train.batch_size,
                              h->p->opt.weight_decay) < 0)
            return -1;
    }
    return 0;
}

/* Rewrites the history file (atomically) after an epoch; a failure is told once and tried
 * again after the next epoch and at the end, where it is an error */
static int history_write(const Program *p, const RunOptions *o, const char *history, int *warned, Error *e)
{
    if (!o->history_path) return 0;
    HistoryCsv h = { history, p };
    if (write_file_atomic_with(o->history_path, fill_history_csv, &h, e) == 0) return 0;
    if (!*warned && o->loader.warn)
        fprintf(o->loader.warn, "cnnc: warning: %s; trying again after the next epoch\n", e->msg);
    *warned = 1;
    return -1;
}

/* CNNC_TEST_VALIDATION_DELAY_MS: a pause before the final validation, so tests can
 * interrupt a run there */
static void test_validation_delay(void)
{
    const char *s = getenv("CNNC_TEST_VALIDATION_DELAY_MS");
    long ms = s ? strtol(s, NULL, 10) : 0;
    if (ms > 0) nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

static const char *signal_word(int sig)
{
    return sig == SIGTERM ? "terminated (SIGTERM)" : "interrupted";
}

/* After the last epoch (ts: where training ends): the model file first, so that nothing after
 * it (an interrupt, a bad validation image, the history) can lose the run, then the
 * validation set's line. Where the model file cannot be written, a checkpoint keeps the
 * weights if it can. */
static int train_finish(const Program *p, Graph *g, Sets *s, const RunOptions *o, Saver *sv, const TrainState *ts,
                        const BestEpoch *best, FILE *out, Error *e)
{
    const char *history = ts->history;
    char saved[300] = "";
    if (o->out_path && o->save_best && best->epoch) {   /* written at that epoch; its weights for the validation */
        if (model_load(g, o->out_path, NULL, e) < 0) return -1;
        fprintf(out, "Kept epoch %d of %d: test accuracy %.2f%% (%d/%d), test loss %.4f\n", best->epoch,
                ts->epoch, 100.0 * best->correct / (best->total ? best->total : 1), best->correct, best->total,
                best->loss);
        snprintf(saved, sizeof saved, "the model of epoch %d was saved to %.200s", best->epoch, o->out_path);
        if (!o->checkpoint_path && o->interrupt_path) unlink(o->interrupt_path);
    } else if (o->out_path) {
        if (model_save_overrides(g, o->out_path, s->classes, s->nclasses, p->source, p->overrides, e) < 0) {
            Error ce;
            if (sv->path && save_checkpoint(sv, g, ts, &ce) == 0) {
                char msg[sizeof e->msg];
                snprintf(msg, sizeof msg, "%s", e->msg);
                err_set(e, "%.700s; the trained weights are in the checkpoint %.100s: make room and write the model "
                           "file with --resume %.100s", msg, sv->path, sv->path);
            }
            return -1;
        }
        snprintf(saved, sizeof saved, "the model was saved to %.200s", o->out_path);
        if (!o->checkpoint_path && o->interrupt_path) unlink(o->interrupt_path);    /* the model supersedes it */
    }
    int rc = 0;
    Error ve;
    if (s->has_validation) {
        EvalResult r;
        test_validation_delay();
        rc = evaluate(g, &s->validation, &p->validation, o, &r, &ve);
        if (rc == EVAL_INTERRUPTED) {
            err_set(e, "%s during the final validation: %s; the validation was not finished", signal_word(interrupted),
                    saved[0] ? saved : "no model file was asked for");
            return TRAIN_INTERRUPTED;
        }
        if (rc < 0) {
            err_set(e, "%s (after training: %s)", ve.msg, saved[0] ? saved : "no model file was asked for");
            return -1;
        }
        fprintf(out, "Validation Loss: %.4f, Validation Correct: %d/%d\n", r.loss, r.correct, r.total);
    }
    int warned = 1;
    if (history_write(p, o, history, &warned, &ve) < 0) {
        err_set(e, "%s (after training: %s)", ve.msg, saved[0] ? saved : "no model file was asked for");
        return -1;
    }
    if (o->out_path) fprintf(out, "Saved model to %s\n", o->out_path);
    agree_signal();
    if (interrupted) {
        err_set(e, "%s after training: %s", signal_word(interrupted), saved[0] ? saved : "no model file was asked for");
        return TRAIN_INTERRUPTED;
    }
    return 0;
}

int train_run(const Program *p, Graph *g, Sets *s, const RunOptions *o, FILE *out, Error *e)
{
    const Value *in = &g->vals[g->input];
    int epochs = o->epochs > 0 ? o->epochs : p->epochs;
    DataLoader dl;
    if (dataloader_init_opts(&dl, &s->train, &p->train.transform, p->train.batch_size, p->train.shuffle, o->seed,
                             in->shape[1], in->shape[2], in->shape[3], &o->loader, e) < 0)
        return -1;
    TrainState ts = { 0 };
    if (o->resume) ts = *o->resume;
    else rng_seed3(&g->rng, o->seed, 2, 0);     /* a resumed run restored g->rng and g->step */
    size_t hlen = 0, hcap = 256;
    char *history = xmalloc(hcap);
    history[0] = '\0';
    history_resume(o, p->opt.lr, &history, &hlen, &hcap);
    ts.history = history;
    ts.seed = o->seed;
    ts.threads = o->threads;
    ts.ranks = dist_size();
    /* under mpirun, stdout is a pipe or mpirun's terminal: no progress line */
    int tty = isatty(fileno(out)) && !dist_active(), nbatches = dataloader_num_batches(&dl);
    Saver sv = { p, o, o->checkpoint_path ? o->checkpoint_path : o->interrupt_path, nbatches, "" };
    if (o->resume && o->checkpoint_path)
        snprintf(sv.last, sizeof sv.last, "%.100s (epoch %d, batch %d of %d)", o->checkpoint_path, ts.epoch + 1,
                 ts.batch, nbatches);
    if (ts.batch > nbatches) {
        dataloader_free(&dl);
        free(history);
        return err_set(e, "the checkpoint is at batch %d of epoch %d, but the training set has only %d batches: "
                          "resume with the same data and batch size", ts.batch, ts.epoch + 1, nbatches);
    }
    int last = s->train.n % p->train.batch_size;     /* BatchNorm refuses batches of one value per channel */
    RunSchedule rs;
    BestEpoch best;
    best_epoch_from_history(&best, history);
    if (batchnorm_check_batch(g, p->train.batch_size, p->path, e) < 0 ||
        (last && batchnorm_check_batch(g, last, p->path, e) < 0) ||
        shard_check(s->train.n, p->train.batch_size, p->path, e) < 0 ||
        shard_check_loss(&p->loss, p->path, e) < 0 ||
        schedule_begin(&rs, p, g, epochs, nbatches, ts.epoch, history, e) < 0) {
        dataloader_free(&dl);
        free(history);
        return -1;
    }
    /* SIGINT and SIGTERM (kill, timeout, Docker, Slurm) finish the batch and write a
     * checkpoint, or after the last epoch let the model file be written */
    interrupted = pending = 0;
    distributed = dist_size() > 1;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_RESETHAND;    /* a second ^C stops at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int rc = 0, hist_warned = 0, hist_failed = 0;
    int stop = o->early_stop && best.epoch && best.since >= o->early_stop;    /* a resumed run that had stopped */
    Error he;
    for (int epoch = ts.epoch; epoch < epochs && rc == 0 && !stop; epoch++) {
        if (epoch == ts.epoch && ts.batch > 0) {    /* resuming mid-epoch: the loader skips the batches done */
            dataloader_begin_epoch_at(&dl, epoch, ts.batch);
        } else {
            dataloader_begin_epoch(&dl, epoch);
            ts.epoch = epoch;
            ts.batch = 0;
            ts.loss_sum = 0;
            ts.correct = ts.images = 0;
        }
        double t0 = now(), epoch_lr = schedule_epoch_lr(&rs);
        int n = 0, images0 = (int)ts.images;
        while ((n = dataloader_next(&dl, vf32(g, g->input), vi32(g, g->label), e)) > 0) {
            shard_batch(g, s->train.n, p->train.batch_size, ts.batch);
            graph_set_batch(g, n);
            g->training = 1;
            g->step++;
            exec_run(g, PHASE_FORWARD | PHASE_BACKWARD | PHASE_UPDATE);
            double dloss = vf32(g, g->loss)[0];
            int64_t correct = count_correct(g, n), images = n;
            int sig = shard_sum(&dloss, &correct, &images, pending);     /* over the processes */
            if (sig) interrupted = sig;
            float loss = (float)dloss;
            if (!isfinite(loss)) {
                if (tty) fprintf(out, "\r\033[K");
                err_set(e, "the training loss became %s at epoch %d, batch %d: training stopped; lower the learning "
                           "rate (optimizer lr) or check the Normalize values; %s%s",
                        isnan(loss) ? "NaN" : "infinite", epoch + 1, ts.batch + 1,
                        sv.last[0] ? "the last good checkpoint is kept: " : "no checkpoint was written",
                        sv.last);
                rc = -1;
                break;
            }
            schedule_after_batch(&rs, g);
            ts.loss_sum += loss;
            ts.correct += correct;
            ts.images += images;
            ts.batch++;
            test_batch_delay();
            if (tty) progress(out, epoch + 1, epochs, ts.batch, nbatches, (int)ts.images - images0,
                              ts.loss_sum / ts.batch, t0);
            int every = o->checkpoint_path && o->checkpoint_every > 0 && g->step % o->checkpoint_every == 0;
            if (interrupted || every) {
                if (tty) fprintf(out, "\r\033[K");
                if (save_checkpoint(&sv, g, &ts, e) < 0) { rc = -1; break; }
                if (interrupted) { rc = TRAIN_INTERRUPTED; break; }
            }
        }
        shard_clear(g);
        if (tty && rc == 0) fprintf(out, "\r\033[K");
        if (rc == 0 && n < 0) rc = -1;
        if (rc) break;
        double train_loss = ts.batch ? ts.loss_sum / ts.batch : 0.0;
        EvalResult r = { 0 };
        if (s->has_test) {
            int er = evaluate(g, &s->test, &p->test, o, &r, e);
            if (er == EVAL_INTERRUPTED) {   /* the epoch's training is done: a resumed run repeats the test pass */
                if (save_checkpoint(&sv, g, &ts, e) < 0) { rc = -1; break; }
                rc = TRAIN_INTERRUPTED;
                break;
            }
            if (er < 0) { rc = -1; break; }
        }
        fprintf(out, "Epoch %d/%d - Train Loss: %.4f, Train Correct: %lld/%lld", epoch + 1, epochs, train_loss,
                (long long)ts.correct, (long long)ts.images);
        if (s->has_test) fprintf(out, " - Test Loss: %.4f, Test Correct: %d/%d", r.loss, r.correct, r.total);
        if (rs.active) fprintf(out, " - lr: %.6g", epoch_lr);
        fputc('\n', out);
        fflush(out);
        EpochStats stats = { epoch + 1, epochs, train_loss, (int)ts.correct, (int)ts.images, s->has_test, r.loss,
                             r.correct, r.total, now() - t0, epoch_lr };
        history_append(&history, &hlen, &hcap, &stats);
        if (o->on_epoch) o->on_epoch(o->on_epoch_ctx, &stats);
        hist_failed = history_write(p, o, history, &hist_warned, &he) < 0;
        schedule_after_epoch(&rs, g, r.loss);
        if (s->has_test && (o->save_best || o->early_stop) &&
            best_epoch_update(&best, epoch + 1, r.correct, r.total, r.loss) && o->save_best && o->out_path &&
            model_save_overrides(g, o->out_path, s->classes, s->nclasses, p->source, p->overrides, e) < 0) {
            rc = -1;
            break;
        }
        stop = o->early_stop && best.since >= o->early_stop && epoch + 1 < epochs;
        if (stop)
            fprintf(out, "Stopping early after epoch %d of %d: no better test accuracy for %d epochs (the best: epoch "
                         "%d)\n", epoch + 1, epochs, best.since, best.epoch);
        /* the epoch is done: the next one starts from its beginning */
        TrainState next = { epoch + 1, 0, 0, 0, 0, ts.seed, ts.threads, history, ts.ranks };
        agree_signal();
        if ((o->checkpoint_path && o->checkpoint_every == 0) || (interrupted && epoch + 1 < epochs)) {
            if (save_checkpoint(&sv, g, &next, e) < 0) { rc = -1; break; }
            if (interrupted && epoch + 1 < epochs) rc = TRAIN_INTERRUPTED;    /* after the last, train_finish */
        }
        ts = next;
    }
    dataloader_free(&dl);
    if (rc == TRAIN_INTERRUPTED) {
        err_set(e, "%s: checkpoint written to %s; continue with --resume %s", signal_word(interrupted), sv.last, sv.path);
    } else if (rc == 0) {
        ts.history = history;
        rc = train_finish(p, g, s, o, &sv, &ts, &best, out, e);
    } else {
        rc = -1;
        if (hist_failed) history_write(p, o, history, &hist_warned, &he);   /* once more, for the epochs finished */
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(history);
    return rc;
}

static const DatasetDecl *eval_set(const Program *p)
{
    if (p->validation.present) return &p->validation;
    if (p->test.present) return &p->test;
    return &p->train;
}

void predict_images(const Program *p, Graph *g, char *const *classes, int nclasses,
                    char *const *paths, int npaths, int skip_bad, int *bad, FILE *out)
{
    const Value *in = &g->vals[g->input];
    int C = in->shape[1], H = in->shape[2], W = in->shape[3];
    g->training = 0;
    for (int i = 0; i < npaths; i++) {
        Image img;
        Rng r;
        Error ie;
        char why[512];
        rng_seed3(&r, 0, 3, (uint64_t)i);
        const DatasetDecl *d = eval_set(p);
        int rc = image_load(paths[i], d->present && d->kind == DS_IMAGEFOLDER ? d->load_channels : C, &img, &ie);
        int w = rc == 0 ? img.w : 0, h = rc == 0 ? img.h : 0;
        if (rc == 0 && pipeline_apply(&d->transform, &img, vf32(g, g->input), C, H, W, &r, &ie) < 0) {
            transform_size_problem(&d->transform, w, h, H, W, why, sizeof why);
            char msg[sizeof ie.msg];
            snprintf(msg, sizeof msg, "%s", why[0] ? why : ie.msg);
            err_set(&ie, "%s: %s", paths[i], msg);
            rc = -1;
        }
        if (rc < 0) {       /* a bad image: said (or, with --skip-bad-images, counted), then the next */
            if (!skip_bad) fprintf(stderr, "cnnc: error: %s\n", ie.msg);
            (*bad)++;
            continue;
        }
        vi32(g, g->label)[0] = 0;   /* no label: the loss is ignored, the softmax is read */
        graph_set_batch(g, 1);
        exec_run(g, PHASE_FORWARD);
        const float *pr = vf32(g, g->probs);
        int k = g->vals[g->probs].shape[1], best = 0;
        for (int j = 1; j < k; j++)
            if (pr[j] > pr[best]) best = j;
        fprintf(out, "%s: %s", paths[i], best < nclasses ? classes[best] : "?");
        for (int j = 0; j < k; j++) {
            if (j < nclasses) fprintf(out, "%s%s %.4f", j ? ", " : " (", classes[j], (double)pr[j]);
            else fprintf(out, "%sclass %d %.4f", j ? ", " : " (", j, (double)pr[j]);
        }
        fprintf(out, ")\n");
    }
}

/* a class name as a file name: '/' and control characters become '_' */
static void file_safe(char *dst, size_t n, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < n; i++) dst[i] = (name[i] == '/' || (unsigned char)name[i] < 32) ? '_' : name[i];
    dst[i] = 0;
}

int preview_augment(const Program *p, const Sets *s, const RunOptions *o, int n, const char *dir, FILE *out, Error *e)
{
    const Dataset *ds = s->has_train ? &s->train : s->has_test ? &s->test : s->has_validation ? &s->validation : NULL;
    const DatasetDecl *d = s->has_train ? &p->train : s->has_test ? &p->test : &p->validation;
    if (!ds) return err_set(e, "the file declares no data set to preview");
    if (mkdir(dir, 0777) && errno != EEXIST) return err_set(e, "cannot create %s: %s", dir, err_reason(errno, 1));
    TfScratch scratch = { 0 };
    int written = 0, rc = 0;
    for (int c = 0; c < ds->nclasses && rc == 0; c++) {
        int first = -1;
        for (int i = 0; i < ds->n && first < 0; i++) {      /* the first sample of class c */
            Image img;
            int target, owned;
            if (dataset_sample(ds, i, &img, &owned, &target, e)) {
                if (!o->loader.skip_bad) {
                    rc = -1;
                    break;
                }
                if (dataset_mark_bad(ds, i))        /* --skip-bad-images: warned once, counted */
                    fprintf(o->loader.warn ? o->loader.warn : stderr, "cnnc: warning: %s (skipped)\n", e->msg);
                continue;
            }
            if (target == c) first = i;
            for (int k = 0; k < n && target == c; k++) {
                Rng r;
                Image aug;
                Error te;
                rng_seed3(&r, o->seed, 4, (uint64_t)c * 1000003u + (uint64_t)k);
                if (pipeline_run_image(&d->transform, &img, &aug, &r, &scratch, &te)) {
                    rc = err_set(e, "%s: %s", ds->path ? ds->path(ds, i) : ds->root, te.msg);
                    break;
                }
                char name[256], path[4400];
                file_safe(name, sizeof name, s->nclasses == ds->nclasses ? s->classes[c] : ds->class_names[c]);
                snprintf(path, sizeof path, "%s/%s_%d.png", dir, name, k + 1);
                if (png_write(path, aug.px, aug.w, aug.h, aug.c, e) < 0) {    /* every write checked */
                    rc = -1;
                    break;
                }
                written++;
            }
            if (owned) free(img.px);
        }
    }
    tf_scratch_free(&scratch);
    if (rc == 0) fprintf(out, "Wrote %d augmented images (%d per class, %d classes) to %s\n", written, n, ds->nclasses, dir);
    return rc;
}

/* "[a, b, c]" of at most cap bytes, for messages */
static void names_str(char *buf, size_t cap, char *const *names, int n)
{
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\"", i ? ", " : "", names[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
    if (len >= cap - 1 && cap > 4) strcpy(buf + cap - 5, "...]");
}

static int same_names(char *const *a, int na, char *const *b, int nb)
{
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    return 1;
}

int model_file_classes(const Program *p, const StFile *mf, const char *path, const Sets *s, FILE *warn,
                       char ***names, int *n, Error *e)
{
    *names = NULL;
    *n = 0;
    char **m = NULL, a[300], b[300];
    int nm = 0, k = out_features(p);
    if (safetensors_meta(mf, "classes")) {
        Error ce;
        if (model_classes(mf, &m, &nm, &ce) < 0)
            return err_set(e, "%s: its metadata \"classes\" is not a JSON list of strings (%s): the file was edited or "
                              "not written by cnnc; write the names in the .cnn file's `classes` and train again",
                           path, ce.msg);
    }
    int rc = 0;
    if (nm > 0 && k > 0 && nm != k) {
        rc = err_set(e, "%s: the model file names %d class%s but the model outputs %d: the file was edited or "
                        "written for another model; train again", path, nm, nm == 1 ? "" : "es", k);
    } else if (nm > 0 && p->nclasses > 0 && !same_names(m, nm, p->classes, p->nclasses)) {
        names_str(a, sizeof a, m, nm);
        names_str(b, sizeof b, p->classes, p->nclasses);
        rc = err_set(e, "%s: the model file's classes %s differ from %s's `classes` %s: make them the same, or "
                        "train again with this file", path, a, p->path, b);
    } else if (nm > 0 && p->nclasses == 0 && s && s->classes && !same_names(m, nm, s->classes, s->nclasses)) {
        names_str(a, sizeof a, m, nm);
        names_str(b, sizeof b, s->classes, s->nclasses);
        if (warn)
            fprintf(warn, "cnnc: warning: %s: the model file's classes %s differ from the data folders %s: the "
                          "labels are the folders' sorted order, as in training\n", path, a, b);
    }
    if (rc == 0 && nm > 0) {
        *names = m;
        *n = nm;
        return 0;
    }
    for (int i = 0; i < nm; i++) free(m[i]);
    free(m);
    if (rc == 0 && p->nclasses > 0) {    /* a model file without names: the .cnn's */
        *names = xcalloc((size_t)p->nclasses, sizeof **names);
        for (int i = 0; i < p->nclasses; i++) (*names)[i] = xstrdup(p->classes[i]);
        *n = p->nclasses;
    }
    return rc;
}
