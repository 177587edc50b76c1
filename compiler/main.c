/* compiler/main.c: the cnnc driver: parses the command line, checks the .cnn file, lowers
 * it, plans memory and runs what was asked (check, summary, dump, train with its report,
 * eval, predict, apply). */
#ifdef HAVE_CONFIG_H
#include "config.h"             /* PACKAGE_VERSION, from configure.ac */
#endif

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runtime/exec.h"
#include "../runtime/fileio.h"
#include "../runtime/init.h"
#include "../runtime/modelfile.h"
#include "apply.h"
#include "check.h"
#include "dump.h"
#include "lower.h"
#include "plan.h"
#include "report.h"
#include "summary.h"
#include "train.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

static const char usage[] =
    "usage: cnnc FILE.cnn [ACTION] [OPTIONS]\n"
    "\n"
    "Actions (default --check):\n"
    "  --check               check the file, infer every shape, print a short model summary\n"
    "  --summary             the model summary: each layer's output shape, parameters and\n"
    "                        multiply-accumulates; totals, model file size, training memory\n"
    "  --dump-graph[=dot]    print the forward, backward and update graph (text, or Graphviz dot)\n"
    "  --train               train on train_dataset, report test_dataset each epoch and\n"
    "                        validation_dataset at the end, write the model file\n"
    "  --eval                report loss and correct counts on the test and validation sets\n"
    "  --predict IMG...      print each image's predicted class and class probabilities\n"
    "  --apply IMG -o OUT    run a model that ends with a feature map (examples/sobel.cnn) on\n"
    "                        IMG and write its output channels and their magnitude to OUT.png\n"
    "  --preview-augment N   write N augmented versions of each class's first training image\n"
    "                        as PNG to the folder given with -o DIR\n"
    "\n"
    "Options:\n"
    "  --epochs N            train for N epochs instead of NUM_EPOCHS\n"
    "  --seed N              seed initialisation, shuffling and dropout (default: random, printed)\n"
    "  --data DIR            read train/, test/, validate/ from DIR instead of the paths in the file\n"
    "  -o, --output MODEL    model file to write (default: FILE with .safetensors, beside it)\n"
    "  --weights MODEL       model file to load for --eval and --predict\n"
    "  --threads N           threads to use (default: every core)\n"
    "  --history FILE.csv    with --train: write per-epoch losses and correct counts as CSV\n"
    "  --report FILE.html    with --train: write a self-contained HTML report (loss and accuracy\n"
    "                        plots, confusion matrices, validation images, summary, settings)\n"
    "  --workers N           data loader threads decoding and augmenting ahead (default 2; 0: none)\n"
    "  --cache-mb N          keep up to N MB of decoded images per data set in memory (default 512)\n"
    "  --skip-bad-images     skip undecodable images with a warning (default: stop with an error)\n"
    "  --checkpoint FILE     with --train: write a checkpoint (weights, optimizer state, position,\n"
    "                        random state) to FILE at each epoch's end, atomically\n"
    "  --checkpoint-every N  write it every N batches instead\n"
    "  --resume FILE         with --train: continue from a checkpoint; the result is bit-identical\n"
    "                        to an uninterrupted run with the same seed and --threads\n"
    "  -h, --help            this help\n"
    "  --version             the version\n";

enum { A_CHECK, A_DUMP, A_TRAIN, A_EVAL, A_PREDICT, A_SUMMARY, A_APPLY, A_PREVIEW };
enum { OPT_CHECKPOINT = 1000, OPT_CHECKPOINT_EVERY, OPT_RESUME };   /* long options without a letter */

typedef struct Args {
    int         action, dump_dot, threads, epochs;
    int         workers, cache_mb, skip_bad, preview;
    int         have_seed;
    uint64_t    seed;
    const char *file, *data, *output, *weights, *history;
    const char *apply, *report;
    const char *checkpoint, *resume;
    int         checkpoint_every;
    char      **images;
    int         nimages;
} Args;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cnnc: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see cnnc --help)\n");
    return 2;
}

static int parse_int(const char *s, const char *flag, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "cnnc: error: %s expects an integer from %ld to %ld, got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, Args *a)
{
    static const struct option opts[] = {
        { "check", no_argument, 0, 'c' },       { "summary", no_argument, 0, 'S' },
        { "dump-graph", optional_argument, 0, 'g' }, { "train", no_argument, 0, 't' },
        { "eval", no_argument, 0, 'E' },        { "predict", no_argument, 0, 'p' },
        { "epochs", required_argument, 0, 'e' }, { "seed", required_argument, 0, 's' },
        { "data", required_argument, 0, 'd' },  { "output", required_argument, 0, 'o' },
        { "weights", required_argument, 0, 'w' }, { "threads", required_argument, 0, 'j' },
        { "history", required_argument, 0, 'H' },
        { "apply", required_argument, 0, 'a' }, { "report", required_argument, 0, 'R' },
        { "workers", required_argument, 0, 'W' }, { "cache-mb", required_argument, 0, 'C' },
        { "skip-bad-images", no_argument, 0, 'B' }, { "preview-augment", required_argument, 0, 'P' },
        { "checkpoint", required_argument, 0, OPT_CHECKPOINT },
        { "checkpoint-every", required_argument, 0, OPT_CHECKPOINT_EVERY },
        { "resume", required_argument, 0, OPT_RESUME },
        { "help", no_argument, 0, 'h' },        { "version", no_argument, 0, 'V' },
        { 0, 0, 0, 0 },
    };
    memset(a, 0, sizeof *a);
    a->workers = 2;
    a->cache_mb = 512;
    int c, actions = 0;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->action = A_CHECK; actions++; break;
        case 'S': a->action = A_SUMMARY; actions++; break;
        case 'a': a->action = A_APPLY; a->apply = optarg; actions++; break;
        case 'R': a->report = optarg; break;
        case 'g':
            a->action = A_DUMP; actions++;
            if (optarg && strcmp(optarg, "dot") == 0) a->dump_dot = 1;
            else if (optarg && strcmp(optarg, "text") != 0)
                return usage_error("--dump-graph takes 'text' or 'dot', not '%s'", optarg);
            break;
        case 't': a->action = A_TRAIN; actions++; break;
        case 'E': a->action = A_EVAL; actions++; break;
        case 'p': a->action = A_PREDICT; actions++; break;
        case 'e': if (parse_int(optarg, "--epochs", 1, 1000000, &v) < 0) return 2; a->epochs = (int)v; break;
        case 's': if (parse_int(optarg, "--seed", 0, 0x7fffffffffffffffL, &v) < 0) return 2;
                  a->seed = (uint64_t)v; a->have_seed = 1; break;
        case 'd': a->data = optarg; break;
        case 'o': a->output = optarg; break;
        case 'w': a->weights = optarg; break;
        case 'H': a->history = optarg; break;
        case 'W': if (parse_int(optarg, "--workers", 0, 64, &v) < 0) return 2; a->workers = (int)v; break;
        case 'C': if (parse_int(optarg, "--cache-mb", 0, 1 << 20, &v) < 0) return 2; a->cache_mb = (int)v; break;
        case 'B': a->skip_bad = 1; break;
        case OPT_CHECKPOINT: a->checkpoint = optarg; break;
        case OPT_RESUME: a->resume = optarg; break;
        case OPT_CHECKPOINT_EVERY: if (parse_int(optarg, "--checkpoint-every", 1, 1000000000, &v) < 0) return 2;
                  a->checkpoint_every = (int)v; break;
        case 'P': if (parse_int(optarg, "--preview-augment", 1, 1000, &v) < 0) return 2;
                  a->action = A_PREVIEW; a->preview = (int)v; actions++; break;
        case 'j': if (parse_int(optarg, "--threads", 1, 1024, &v) < 0) return 2; a->threads = (int)v; break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': printf("cnnc %s\n", PACKAGE_VERSION); exit(0);
        default:
            if (optopt && strchr(argv[optind - 1], '='))
                return usage_error("option '%s' takes no value", argv[optind - 1]);
            if (optopt) return usage_error("option '%s' needs a value", argv[optind - 1]);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (actions > 1)
        return usage_error("%s", "give one action: --check, --summary, --dump-graph, --train, --eval, --predict, --apply or --preview-augment");
    if (optind >= argc) return usage_error("%s", "no .cnn file given");
    a->file = argv[optind++];
    if (a->action == A_PREDICT) {
        a->images = argv + optind;
        a->nimages = argc - optind;
        if (!a->nimages) return usage_error("%s", "--predict needs at least one image");
    } else if (optind < argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (a->action == A_APPLY && !a->output) return usage_error("%s", "--apply needs -o OUT.png, the figure to write");
    if (a->report && a->action != A_TRAIN) return usage_error("%s", "--report goes with --train");
    if ((a->checkpoint || a->resume || a->checkpoint_every) && a->action != A_TRAIN)
        return usage_error("%s", "--checkpoint, --checkpoint-every and --resume go with --train");
    if (a->checkpoint_every && !a->checkpoint)
        return usage_error("%s", "--checkpoint-every N needs --checkpoint FILE to say where to write");
    if (a->action == A_PREVIEW && !a->output)
        return usage_error("%s", "--preview-augment N needs -o DIR, the folder to write the images to");
    if ((a->action == A_EVAL || a->action == A_PREDICT) && !a->weights)
        return usage_error("%s", "--eval and --predict need --weights MODEL (a file written by --train)");
    return 0;
}

/* FILE.cnn -> FILE.safetensors */
static char *default_output(const char *file)
{
    size_t n = strlen(file);
    char *s = xmalloc(n + 16);
    memcpy(s, file, n + 1);
    char *dot = strrchr(s, '.'), *slash = strrchr(s, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    strcat(s, ".safetensors");
    return s;
}

static int max_batch(const Program *p, int action)
{
    if (action == A_PREDICT) return 1;
    int b = p->batch_size;
    const DatasetDecl *d[3] = { &p->train, &p->test, &p->validation };
    for (int i = 0; i < 3; i++)
        if (d[i]->present && d[i]->batch_size > b) b = d[i]->batch_size;
    return b;
}

static int fail(const Error *e)
{
    if (strstr(e->msg, ": error: ")) fprintf(stderr, "%s\n", e->msg);
    else fprintf(stderr, "cnnc: error: %s\n", e->msg);
    return 1;
}

/* --preview-augment: needs only the data sets, not the graph */
static int run_preview(const Args *a, const Program *p, const RunOptions *ro)
{
    Error e;
    Sets s;
    if (sets_open(p, ro, 1, &s, &e) < 0) return fail(&e);
    int rc = preview_augment(p, &s, ro, a->preview, a->output, stdout, &e) < 0 ? fail(&e) : 0;
    sets_free(&s);
    return rc;
}

static void report_skipped(const Sets *s)
{
    int n = sets_skipped(s);
    if (n) fprintf(stderr, "cnnc: warning: %d bad image%s skipped (--skip-bad-images)\n", n, n == 1 ? "" : "s");
}

/* Bytes this machine can give: MemAvailable from /proc/meminfo, else its physical memory. */
static uint64_t machine_memory(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb) return (uint64_t)kb * 1024;
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

/* Refuses a plan that needs more memory than the machine has, before any is taken. */
static int check_memory(const Program *p, const PlanStats *st, int batch, int training)
{
    uint64_t need = plan_total_bytes(st), have = machine_memory();
    const char *env = getenv("CNNC_MEMORY_LIMIT");     /* bytes; lets a test or a user cap it */
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (!*end && v > 0 && v < have) have = v;
    }
    if (need <= have) return 0;
    fprintf(stderr, "%s: error: %s %s with batch %d needs %llu bytes (%.1f GiB) of memory for its tensors, but this "
                    "machine has %llu bytes (%.1f GiB) available: lower the batch size (BATCH_SIZE or the DataLoader's "
                    "batch_size) or the input size\n",
            p->path, training ? "training" : "running", p->model_name, batch, (unsigned long long)need,
            (double)need / (1 << 30), (unsigned long long)have, (double)have / (1 << 30));
    return -1;
}

/* Whether path can be written (its folder exists and is writable, it is not a folder), so
 * a run that could not save its result stops before training, not after. */
static int check_writable(const char *path, const char *what)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir) n = sizeof dir - 1;
    if (!slash) strcpy(dir, ".");
    else if (n == 0) strcpy(dir, "/");
    else memcpy(dir, path, n), dir[n] = 0;
    struct stat st;
    int err = 0;
    if (stat(dir, &st)) err = errno;
    else if (!S_ISDIR(st.st_mode)) err = ENOTDIR;
    else if (access(dir, W_OK | X_OK)) err = errno;
    else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) err = EISDIR;
    Error e;
    if (!err) return fileio_check_name(path, &e) < 0 ? fail(&e), -1 : 0;
    fprintf(stderr, "cnnc: error: cannot write %s %s: %s\n", what, path, err_reason(err, 1));
    return -1;
}

/* MODEL.safetensors -> MODEL.checkpoint.safetensors: where SIGINT's checkpoint goes by default */
static char *default_checkpoint(const char *out)
{
    size_t n = strlen(out);
    char *s = xmalloc(n + 32);
    memcpy(s, out, n + 1);
    char *dot = strrchr(s, '.'), *slash = strrchr(s, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    strcat(s, ".checkpoint.safetensors");
    return s;
}

static int run(const Args *a, const Program *p)
{
    Error e;
    if (a->action == A_APPLY) return apply_run(p, a->apply, a->output, a->threads, stdout, &e) < 0 ? fail(&e) : 0;
    RunOptions ro = { .epochs = a->epochs, .seed = a->seed, .data_dir = a->data, .history_path = a->history,
                      .loader = { .workers = a->workers, .skip_bad = a->skip_bad, .warn = stderr },
                      .cache_bytes = (size_t)a->cache_mb << 20 };
    if (a->action == A_PREVIEW) return run_preview(a, p, &ro);
    int fmap = p->out_ndim != 1;    /* ends with a feature map: no loss */
    int planning = a->action == A_CHECK || a->action == A_SUMMARY || a->action == A_DUMP;
    int training = !fmap && (a->action == A_TRAIN || (planning && p->opt.kind != OPT_NONE));
    LowerOptions lo = { .batch = max_batch(p, a->action), .training = training };
    Graph *g = fmap ? lower_forward(p, lo.batch, p->in_shape[1], p->in_shape[2], &e) : lower_program(p, &lo, &e);
    if (!g) return fail(&e);
    PlanStats st;
    plan_memory(g, &st);
    if (check_memory(p, &st, lo.batch, training) < 0) {
        graph_free(g);
        return 1;
    }
    int rc = 0;
    if (a->action == A_CHECK) {
        print_summary(stdout, p, training ? &st : NULL, lo.batch);
    } else if (a->action == A_SUMMARY) {
        print_model_summary(stdout, p, g, &st, training);
    } else if (a->action == A_DUMP) {
        if (a->dump_dot) dump_graph_dot(stdout, g, p->path);
        else dump_graph_text(stdout, g, p->path, &st);
    } else {
        graph_bind(g);
        exec_set_threads(g, a->threads);
        if (a->action == A_TRAIN) {
            char *out = a->output ? xstrdup(a->output) : default_output(a->file);
            char *interrupt = a->checkpoint ? NULL : default_checkpoint(out);
            ro.out_path = out;
            ro.checkpoint_path = a->checkpoint;
            ro.checkpoint_every = a->checkpoint_every;
            ro.interrupt_path = interrupt;
            ro.threads = g->threads;
            if (check_writable(out, "the model file") || (a->checkpoint && check_writable(a->checkpoint, "the checkpoint")) ||
                (a->history && check_writable(a->history, "the history")) ||
                (a->report && check_writable(a->report, "the report")) ||
                (interrupt && check_writable(interrupt, "the checkpoint written on Ctrl-C")))
                rc = 1;
            Sets s;
            TrainState resume = { 0 };
            init_parameters(g, a->seed);
            lower_given_weights(g, p);
            if (rc) {
            } else if (a->resume) {
                if (checkpoint_load(a->resume, g, p->source, &resume, &e) < 0) {
                    rc = fail(&e);
                } else if (a->have_seed && resume.seed != a->seed) {
                    rc = 1;
                    fprintf(stderr, "cnnc: error: %s was written by a run with --seed %llu, not %llu: drop --seed "
                                    "to continue that run\n", a->resume, (unsigned long long)resume.seed,
                            (unsigned long long)a->seed);
                } else {
                    if (resume.threads != g->threads)
                        fprintf(stderr, "cnnc: warning: %s was written by a run with --threads %d, this one has %d: "
                                        "the result may differ in the last bits from an uninterrupted run\n",
                                a->resume, resume.threads, g->threads);
                    ro.seed = resume.seed;
                    ro.resume = &resume;
                    fprintf(stderr, "cnnc: resuming from %s at epoch %d, batch %d\n", a->resume, resume.epoch + 1,
                            resume.batch);
                }
            }
            Report *rep = a->report ? report_new(p, g, &st, &ro, a->threads) : NULL;
            if (rep) {
                ro.on_epoch = report_epoch;
                ro.on_epoch_ctx = rep;
            }
            if (rc) {
            } else if (sets_open(p, &ro, 1, &s, &e) < 0) {
                rc = fail(&e);
            } else {
                printf("Training %s on %d images (%d classes), batch %d, %d epochs, seed %llu\n", p->model_name,
                       s.train.n, s.train.nclasses, p->train.batch_size, a->epochs ? a->epochs : p->epochs,
                       (unsigned long long)ro.seed);
                fflush(stdout);
                int tr = train_run(p, g, &s, &ro, stdout, &e);
                if (tr == TRAIN_INTERRUPTED) {
                    fprintf(stderr, "cnnc: %s\n", e.msg);
                    rc = 128 + train_signal();
                } else if (tr < 0) {
                    rc = fail(&e);
                } else if (rep && report_write(rep, g, &s, a->report, stdout, &e) < 0) {
                    fprintf(stderr, "cnnc: error: %s (after training: the model was saved to %s)\n", e.msg, out);
                    rc = 1;
                }
                report_skipped(&s);
                sets_free(&s);
            }
            report_free(rep);
            free(resume.history);
            free(interrupt);
            free(out);
        } else {
            StFile mf;
            int loaded = model_load(g, a->weights, &mf, &e) == 0;
            if (!loaded) {
                rc = fail(&e);
            } else if (a->action == A_EVAL) {
                Sets s;
                char **names = NULL;
                int n = 0;
                if (sets_open(p, &ro, 0, &s, &e) < 0) {
                    rc = fail(&e);
                } else {
                    EvalResult r;
                    if (model_file_classes(p, &mf, a->weights, &s, stderr, &names, &n, &e) < 0) rc = fail(&e);
                    for (int i = 0; i < n; i++) free(names[i]);
                    free(names);
                    if (!rc && !s.has_test && !s.has_validation) {
                        rc = fail(&(Error){ "the file declares no test_dataset or validation_dataset to evaluate on" });
                    }
                    if (!rc && s.has_test) {
                        if (evaluate(g, &s.test, &p->test, &ro, &r, &e) < 0) rc = fail(&e);
                        else printf("Test Loss: %.4f, Test Correct: %d/%d\n", r.loss, r.correct, r.total);
                    }
                    if (!rc && s.has_validation) {
                        if (evaluate(g, &s.validation, &p->validation, &ro, &r, &e) < 0) rc = fail(&e);
                        else printf("Validation Loss: %.4f, Validation Correct: %d/%d\n", r.loss, r.correct, r.total);
                    }
                    report_skipped(&s);
                    sets_free(&s);
                }
            } else {
                char **names = NULL;
                int n = 0;
                if (model_file_classes(p, &mf, a->weights, NULL, stderr, &names, &n, &e) < 0) rc = fail(&e);
                else if (predict_images(p, g, names, n, a->images, a->nimages, stdout, &e) < 0) rc = fail(&e);
                for (int i = 0; i < n; i++) free(names[i]);
                free(names);
            }
            if (loaded) safetensors_free(&mf);
        }
    }
    graph_free(g);
    return rc;
}

/* OpenMP threads that wait at a barrier spin by default, which on a shared machine steals
 * the core the other thread needs (a training step measured 4x slower under load). The
 * policy is read when libgomp loads, so cnnc sets it and starts itself again, once, unless
 * the user chose one. */
static void prefer_passive_threads(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv);      /* on failure, carry on as we are */
}

int main(int argc, char **argv)
{
    stdio_guard_fds();
    prefer_passive_threads(argv);
    Args a;
    signal(SIGXFSZ, SIG_IGN);      /* past `ulimit -f`, write fails with EFBIG and says so */
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    if (!a.have_seed) a.seed = ((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16)) % 1000000;
    CheckOptions co = { .require_training = a.action == A_TRAIN,
                        .require_classifier = a.action == A_EVAL || a.action == A_PREDICT };
    Program p;
    if (check_file(a.file, &co, &p, stderr) < 0) return 1;
    rc = run(&a, &p);
    program_free(&p);
    Error e;
    if (stdout_close_checked(&e) < 0) {
        fail(&e);
        rc = rc ? rc : 1;
    }
    return rc;
}
