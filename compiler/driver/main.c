/* compiler/driver/main.c: the cnnc driver: parses the command line, checks the .cnn file, lowers
 * it, plans memory and runs what was asked (check, summary, dump, train with its report,
 * eval, predict, apply). */
#ifdef HAVE_CONFIG_H
#include "config.h"             /* PACKAGE_VERSION, from configure.ac */
#endif

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/dist.h"
#include "../../runtime/exec.h"
#include "../../runtime/gradsync.h"
#include "../../runtime/fileio.h"
#include "../../runtime/init.h"
#include "../../runtime/modelfile.h"
#include "apply.h"
#include "../backends/emit_c.h"
#include "../frontend/check.h"
#include "preflight.h"
#include "dump.h"
#include "../passes/lower.h"
#include "../passes/plan.h"
#ifdef HAVE_ONNX
#include "../backends/onnx_export.h"
#endif
#include "report.h"
#include "runfiles.h"
#include "summary.h"
#include "train.h"

static int rank_threads(void);
static void mpi_stats(const Graph *g);

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

static const char usage_head[] =
    "usage: cnnc FILE.cnn [ACTION] [OPTIONS]    (options and FILE.cnn in any order)\n"
    "\n"
    "Actions (default --check):\n"
    "  --check               check the file, infer every shape, print a short model summary\n"
    "  --summary             the model summary: each layer's output shape, parameters and\n"
    "                        multiply-accumulates; totals, model file size, training memory\n"
    "  --dump-graph[=dot]    print the forward, backward and update graph (text, or Graphviz dot)\n"
    "  --train               train on train_dataset, report test_dataset each epoch and\n"
    "                        validation_dataset at the end, write the model file\n"
    "  --eval                report loss and correct counts on the test and validation sets\n"
    "  --predict IMG|DIR...  print each image's predicted class and class probabilities (a\n"
    "                        folder: every image under it, sorted)\n"
    "  --apply IMG -o OUT    run a model that ends with a feature map (examples/sobel.cnn) on\n"
    "                        IMG and write its output channels and their magnitude to OUT.png\n"
    "  --preview-augment N   write N augmented versions of each class's first training image\n"
    "                        as PNG to the folder given with -o DIR\n"
    "  --export-onnx OUT.onnx\n"
    "                        write the inference graph as an ONNX model (opset 13, output\n"
    "                        \"probs\": the class probabilities), in a build with ONNX export\n"
    "  --emit-c OUT.c        write the trained model (--weights) as standalone C99 inference\n"
    "                        code, OUT.c and OUT.h (libm only, no heap)\n"
    "\n"
    "Options (each goes only with the actions its \"with\" line names):\n";

static const char usage_tail[] =
    "  -h, --help            this help\n"
    "  --version             the version\n";

enum { A_CHECK, A_SUMMARY, A_DUMP, A_TRAIN, A_EVAL, A_PREDICT, A_APPLY, A_PREVIEW, A_EXPORT_ONNX, A_EMIT_C, NACTIONS };
static const char *const action_name[NACTIONS] = {
    "--check", "--summary", "--dump-graph", "--train", "--eval", "--predict", "--apply", "--preview-augment",
    "--export-onnx", "--emit-c",
};
/* long options without a letter */
enum { OPT_CHECKPOINT = 1000, OPT_CHECKPOINT_EVERY, OPT_RESUME, OPT_LR, OPT_BATCH_SIZE, OPT_WEIGHT_DECAY,
       OPT_WEIGHTS_PARTIAL, OPT_NO_DATA, OPT_SAVE_BEST, OPT_EARLY_STOP, OPT_EXPORT_ONNX, OPT_EMIT_C, OPT_WEIGHTS_BIN,
       OPT_QUANTIZE, OPT_CALIBRATE };

/* Which actions each option goes with: the one place that says so. parse_args refuses any
 * other pairing naming both, and --help prints each row with its actions. */
#define ON(a) (1u << (a))
typedef struct OptionUse {
    int         id;             /* getopt_long's value */
    const char *name, *arg;     /* "--epochs", "N" */
    unsigned    actions;        /* ON(A_...) */
    const char *help;           /* '\n' continues on the next line, indented */
} OptionUse;
static const OptionUse option_use[] = {
    { 'e', "--epochs", "N", ON(A_TRAIN), "train for N epochs instead of NUM_EPOCHS" },
    { OPT_LR, "--lr", "LR", ON(A_TRAIN), "the optimizer's learning rate instead of the file's lr" },
    { OPT_BATCH_SIZE, "--batch-size", "N", ON(A_TRAIN) | ON(A_CHECK) | ON(A_SUMMARY) | ON(A_DUMP),
      "the training batch size instead of the train loader's batch_size\n(or BATCH_SIZE); test and validation keep theirs" },
    { OPT_WEIGHT_DECAY, "--weight-decay", "WD", ON(A_TRAIN), "the optimizer's weight_decay instead of the file's" },
    { 's', "--seed", "N", ON(A_TRAIN) | ON(A_EVAL) | ON(A_PREVIEW),
      "seed initialisation, shuffling, dropout and augmentation (--eval:\nof a random test transform; default: random, printed)" },
    /* --data goes with --check for its data checks */
    { 'd', "--data", "DIR", ON(A_CHECK) | ON(A_TRAIN) | ON(A_EVAL) | ON(A_PREVIEW),
      "read train/, test/, validate/ from DIR instead of the paths in the file" },
    { 'o', "-o, --output", "FILE", ON(A_TRAIN) | ON(A_APPLY) | ON(A_PREVIEW),
      "--train: the model file (default: FILE.cnn with .safetensors, beside\nit); --apply: the PNG; --preview-augment: the folder" },
    { 'w', "--weights", "MODEL", ON(A_EVAL) | ON(A_PREDICT) | ON(A_TRAIN) | ON(A_EXPORT_ONNX) | ON(A_EMIT_C),
      "the model file to load; with --train, training starts from its\nweights (every tensor must match; the optimizer starts fresh)" },
    { OPT_WEIGHTS_BIN, "--weights-bin", "FILE", ON(A_EMIT_C),
      "write the weights to FILE (raw float32; with --quantize, int8 and\ntheir float factors) instead of const arrays in OUT.c; the program\nhands them to NAME_set_weights" },
    { OPT_QUANTIZE, "--quantize", "int8", ON(A_EMIT_C),
      "Conv2d and Linear on int8 (per-channel weights, per-tensor inputs\ncalibrated by --calibrate N training images), int32 sums" },
    { OPT_CALIBRATE, "--calibrate", "N", ON(A_EMIT_C), "the training images --quantize calibrates on" },
    { OPT_WEIGHTS_PARTIAL, "--weights-partial", "MODEL", ON(A_TRAIN),
      "start training from the tensors of MODEL whose name and shape\nmatch the model, naming those skipped (transfer learning)" },
    { 'j', "--threads", "N", ON(A_TRAIN) | ON(A_EVAL) | ON(A_PREDICT) | ON(A_APPLY),
      "threads to use (default: every core)" },
    { 'H', "--history", "FILE.csv", ON(A_TRAIN), "write per-epoch losses and correct counts as CSV" },
    { 'R', "--report", "FILE.html", ON(A_TRAIN),
      "write a self-contained HTML report (loss and accuracy plots,\nconfusion matrices, validation images, summary, settings)" },
    { 'W', "--workers", "N", ON(A_TRAIN) | ON(A_EVAL),
      "data loader threads decoding and augmenting ahead (default 2; 0: none)" },
    { 'C', "--cache-mb", "N", ON(A_TRAIN), "keep up to N MB of decoded images per data set in memory (default 512)" },
    { 'B', "--skip-bad-images", NULL, ON(A_TRAIN) | ON(A_EVAL) | ON(A_PREDICT) | ON(A_PREVIEW),
      "skip undecodable images with a warning (--predict: silently) and\ncount them (default: an error naming the file)" },
    { OPT_NO_DATA, "--no-data", NULL, ON(A_CHECK), "do not open and check the data sets" },
    { OPT_CHECKPOINT, "--checkpoint", "FILE", ON(A_TRAIN),
      "write a checkpoint (weights, optimizer state, position, random\nstate) to FILE at each epoch's end, atomically" },
    { OPT_CHECKPOINT_EVERY, "--checkpoint-every", "N", ON(A_TRAIN), "write it every N batches instead" },
    { OPT_RESUME, "--resume", "FILE", ON(A_TRAIN),
      "continue from a checkpoint; the result is bit-identical to an\nuninterrupted run with the same seed and --threads" },
    { OPT_SAVE_BEST, "--save-best", NULL, ON(A_TRAIN),
      "the model file keeps the epoch with the best test accuracy (ties:\nthe lower test loss), written when it ends" },
    { OPT_EARLY_STOP, "--early-stop", "N", ON(A_TRAIN), "stop after N epochs without a better test accuracy" },
};
#define NOPTIONS (int)(sizeof option_use / sizeof option_use[0])

static void print_usage(FILE *f)
{
    fputs(usage_head, f);
    for (int i = 0; i < NOPTIONS; i++) {
        const OptionUse *u = &option_use[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", u->name, u->arg ? " " : "", u->arg ? u->arg : "");
        fprintf(f, strlen(left) > 20 ? "  %s\n%24s" : "  %-20s  ", left, "");
        for (const char *h = u->help; *h; h++) {
            if (*h == '\n') fprintf(f, "\n%24s", "");
            else fputc(*h, f);
        }
        fprintf(f, "\n%24swith", "");
        for (int a = 0, n = 0; a < NACTIONS; a++)
            if (u->actions & ON(a)) fprintf(f, "%s %s", n++ ? "," : "", action_name[a]);
        fputs("\n", f);
    }
    fputs(usage_tail, f);
}

typedef struct Args {
    int         action, dump_dot, threads, epochs;
    int         workers, cache_mb, skip_bad, preview;
    int         have_seed, no_data, save_best, early_stop;
    uint64_t    seed;
    const char *file, *data, *output, *weights, *history;
    const char *apply, *report, *emit_c, *weights_bin;
    const char *export_onnx;        /* --export-onnx's output */
    const char *checkpoint, *resume;
    int         checkpoint_every;
    int         quantize, calibrate;    /* --quantize int8: 8; --calibrate N */
    int         weights_partial;    /* --weights-partial: a.weights loads what matches */
    double      lr, weight_decay;   /* overrides, where have_lr, have_weight_decay */
    int         have_lr, have_weight_decay, batch_size;     /* batch_size: 0 unless given */
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

/* --lr and --weight-decay: the range the checker allows in the file (optimizer arguments
 * must not be negative and must fit a float) */
static int parse_float(const char *s, const char *flag, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > FLT_MAX) {
        fprintf(stderr, "cnnc: error: %s expects a number, 0 or more, that fits a float (as in the file), got '%s'\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* "--history goes with --train, not with --check" for an option given to an action that
 * does not use it */
static int check_option_actions(const Args *a, const int *given)
{
    for (int i = 0; i < NOPTIONS; i++) {
        const OptionUse *u = &option_use[i];
        if (!given[i] || (u->actions & ON(a->action))) continue;
        char with[256];
        size_t len = 0;
        int n = 0, total = 0;
        for (int k = 0; k < NACTIONS; k++) total += (u->actions & ON(k)) != 0;
        for (int k = 0; k < NACTIONS && len < sizeof with; k++)
            if (u->actions & ON(k))
                len += (size_t)snprintf(with + len, sizeof with - len, "%s%s", n++ == 0 ? "" : n == total ? " or " : ", ",
                                        action_name[k]);
        fprintf(stderr, "cnnc: error: %s goes with %s, not with %s%s (see cnnc --help)\n",
                u->id == 'o' ? "-o" : u->name, with, action_name[a->action],
                a->action == A_CHECK && !given[NOPTIONS] ? " (the default action)" : "");
        return 2;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
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
        { "resume", required_argument, 0, OPT_RESUME }, { "no-data", no_argument, 0, OPT_NO_DATA },
        { "lr", required_argument, 0, OPT_LR },
        { "batch-size", required_argument, 0, OPT_BATCH_SIZE },
        { "weight-decay", required_argument, 0, OPT_WEIGHT_DECAY },
        { "weights-partial", required_argument, 0, OPT_WEIGHTS_PARTIAL },
        { "save-best", no_argument, 0, OPT_SAVE_BEST }, { "early-stop", required_argument, 0, OPT_EARLY_STOP },
        { "export-onnx", required_argument, 0, OPT_EXPORT_ONNX },
        { "emit-c", required_argument, 0, OPT_EMIT_C }, { "weights-bin", required_argument, 0, OPT_WEIGHTS_BIN },
        { "quantize", required_argument, 0, OPT_QUANTIZE }, { "calibrate", required_argument, 0, OPT_CALIBRATE },
        { "help", no_argument, 0, 'h' },        { "version", no_argument, 0, 'V' },
        { 0, 0, 0, 0 },
    };
    memset(a, 0, sizeof *a);
    a->workers = 2;
    a->cache_mb = 512;
    int c, actions = 0, given[NOPTIONS + 1] = { 0 };    /* given[NOPTIONS]: an action was named */
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        for (int i = 0; i < NOPTIONS; i++) given[i] |= option_use[i].id == c;
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
        case 'w':
            if (a->weights_partial) return usage_error("%s", "give --weights or --weights-partial, not both");
            a->weights = optarg; break;
        case OPT_WEIGHTS_PARTIAL:
            if (a->weights && !a->weights_partial) return usage_error("%s", "give --weights or --weights-partial, not both");
            a->weights = optarg; a->weights_partial = 1; break;
        case 'H': a->history = optarg; break;
        case 'W': if (parse_int(optarg, "--workers", 0, 64, &v) < 0) return 2; a->workers = (int)v; break;
        case 'C': if (parse_int(optarg, "--cache-mb", 0, 1 << 20, &v) < 0) return 2; a->cache_mb = (int)v; break;
        case 'B': a->skip_bad = 1; break;
        case OPT_CHECKPOINT: a->checkpoint = optarg; break;
        case OPT_RESUME: a->resume = optarg; break;
        case OPT_NO_DATA: a->no_data = 1; break;
        case OPT_SAVE_BEST: a->save_best = 1; break;
        case OPT_EARLY_STOP: if (parse_int(optarg, "--early-stop", 1, 1000000, &v) < 0) return 2;
                  a->early_stop = (int)v; break;
        case OPT_EMIT_C: a->action = A_EMIT_C; a->emit_c = optarg; actions++; break;
        case OPT_WEIGHTS_BIN: a->weights_bin = optarg; break;
        case OPT_QUANTIZE:
            if (strcmp(optarg, "int8") != 0) return usage_error("--quantize takes 'int8', not '%s'", optarg);
            a->quantize = 8; break;
        case OPT_CALIBRATE: if (parse_int(optarg, "--calibrate", 1, 1000000, &v) < 0) return 2; a->calibrate = (int)v; break;
        case OPT_CHECKPOINT_EVERY: if (parse_int(optarg, "--checkpoint-every", 1, 1000000000, &v) < 0) return 2;
                  a->checkpoint_every = (int)v; break;
        case OPT_LR: if (parse_float(optarg, "--lr", &a->lr) < 0) return 2; a->have_lr = 1; break;
        case OPT_WEIGHT_DECAY: if (parse_float(optarg, "--weight-decay", &a->weight_decay) < 0) return 2;
                  a->have_weight_decay = 1; break;
        case OPT_BATCH_SIZE: if (parse_int(optarg, "--batch-size", 1, 1 << 20, &v) < 0) return 2;   /* MAX_BATCH */
                  a->batch_size = (int)v; break;
        case 'P': if (parse_int(optarg, "--preview-augment", 1, 1000, &v) < 0) return 2;
                  a->action = A_PREVIEW; a->preview = (int)v; actions++; break;
        case OPT_EXPORT_ONNX: a->action = A_EXPORT_ONNX; a->export_onnx = optarg; actions++; break;
        case 'j': if (parse_int(optarg, "--threads", 1, 1024, &v) < 0) return 2; a->threads = (int)v; break;
        case 'h': print_usage(stdout); exit(0);
        case 'V': printf("cnnc %s\n", PACKAGE_VERSION); exit(0);
        default:
            if (optopt && strchr(argv[optind - 1], '='))
                return usage_error("option '%s' takes no value", argv[optind - 1]);
            if (optopt) return usage_error("option '%s' needs a value", argv[optind - 1]);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (actions > 1)
        return usage_error("%s", "give one action: --check, --summary, --dump-graph, --train, --eval, --predict, --apply, --preview-augment, --export-onnx or --emit-c");
    given[NOPTIONS] = actions;
    int rc = check_option_actions(a, given);
    if (rc) return rc;
    /* getopt_long moved the other arguments to the end, in their order: the .cnn file is the
     * first that ends with .cnn (else the first), the rest are --predict's images */
    if (optind >= argc) return usage_error("%s", "no .cnn file given");
    int fi = optind;
    for (int i = optind; i < argc; i++)
        if (ends_with(argv[i], ".cnn")) { fi = i; break; }
    a->file = argv[fi];
    for (int i = fi; i > optind; i--) argv[i] = argv[i - 1];
    optind++;
    if (a->action == A_PREDICT) {
        a->images = argv + optind;
        a->nimages = argc - optind;
        if (!a->nimages) return usage_error("%s", "--predict needs at least one image or folder");
    } else if (optind < argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (a->action == A_APPLY && !a->output) return usage_error("%s", "--apply needs -o OUT.png, the figure to write");
    if (a->checkpoint_every && !a->checkpoint)
        return usage_error("%s", "--checkpoint-every N needs --checkpoint FILE to say where to write");
    if (a->resume && a->weights)
        return usage_error("%s", "--resume continues a run, --weights starts a new one from a model file: give one of them");
    if (a->action == A_PREVIEW && !a->output)
        return usage_error("%s", "--preview-augment N needs -o DIR, the folder to write the images to");
    if ((a->action == A_EVAL || a->action == A_PREDICT) && !a->weights)
        return usage_error("%s", "--eval and --predict need --weights MODEL (a file written by --train)");
#ifndef HAVE_ONNX
    if (a->action == A_EXPORT_ONNX) {
        fprintf(stderr, "cnnc: error: this cnnc was built without ONNX export: install libprotobuf-c-dev, "
                        "protobuf-c-compiler and libonnx-dev, then run ./configure and make again\n");
        return 2;
    }
#endif
    if (a->action == A_EXPORT_ONNX && !a->weights)
        return usage_error("%s", "--export-onnx needs --weights MODEL (a file written by --train)");
    if (a->action == A_EMIT_C && !a->weights)
        return usage_error("%s", "--emit-c needs --weights MODEL, the trained model to write as C (a file written by --train)");
    if (a->quantize && !a->calibrate)
        return usage_error("%s", "--quantize int8 needs --calibrate N, the number of training images that set the activation scales");
    if (a->calibrate && !a->quantize) return usage_error("%s", "--calibrate N goes with --quantize int8");
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

/* The largest batch the run makes: the declared batch sizes, or with the data sets open,
 * each loader's batch size capped by its set's size (BATCH_SIZE = 100000 on 175 images
 * plans for 175). */
static int max_batch(const Program *p, int action, const Sets *s)
{
    if (action == A_PREDICT || action == A_EXPORT_ONNX) return 1;
    int b = s ? 1 : p->batch_size;
    const DatasetDecl *d[3] = { &p->train, &p->test, &p->validation };
    const Dataset *ds[3] = { s && s->has_train ? &s->train : NULL, s && s->has_test ? &s->test : NULL,
                             s && s->has_validation ? &s->validation : NULL };
    for (int i = 0; i < 3; i++) {
        if (!d[i]->present || (s && !ds[i])) continue;
        int bi = ds[i] && ds[i]->n < d[i]->batch_size ? ds[i]->n : d[i]->batch_size;
        if (bi > b) b = bi;
    }
    return b;
}

static int fail(const Error *e)
{
    if (strstr(e->msg, ": error: ")) fprintf(stderr, "%s\n", e->msg);
    else fprintf(stderr, "cnnc: error: %s\n", e->msg);
    return 1;
}

static void report_skipped(const Sets *s)
{
    int n = sets_skipped(s);
    if (n) fprintf(stderr, "cnnc: warning: %d bad image%s skipped (--skip-bad-images)\n", n, n == 1 ? "" : "s");
}

/* --preview-augment: needs only the data sets, not the graph */
static int run_preview(const Args *a, const Program *p, const RunOptions *ro)
{
    Error e;
    Sets s;
    if (sets_open(p, ro, 1, &s, &e) < 0) return fail(&e);
    int rc = preview_augment(p, &s, ro, a->preview, a->output, stdout, &e) < 0 ? fail(&e) : 0;
    report_skipped(&s);
    sets_free(&s);
    return rc;
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

/* 49454592 -> "47.2 MiB" */
static const char *human_size(uint64_t n, char *buf, size_t cap)
{
    static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
    if (n < 1024) {
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
        return buf;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) v /= 1024, u++;
    snprintf(buf, cap, "%.1f %s", v, unit[u]);
    return buf;
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
    char a[32], b[32];
    fprintf(stderr, "%s: error: %s %s with batch %d needs %s (%llu bytes) of memory for its tensors, but this "
                    "machine has %s (%llu bytes) available: lower the batch size (BATCH_SIZE or the DataLoader's "
                    "batch_size) or the input size\n",
            p->path, training ? "training" : "running", p->model_name, batch, human_size(need, a, sizeof a),
            (unsigned long long)need, human_size(have, b, sizeof b), (unsigned long long)have);
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

/* The run's files: every output against the inputs, the data folders and the other
 * outputs, before anything runs. out and interrupt: --train's model file and SIGINT's
 * checkpoint, or NULL. */
static int check_files(const Args *a, const Program *p, const char *out, const char *interrupt)
{
    RunFile f[32];
    int n = 0;
    f[n++] = (RunFile){ a->file, "the .cnn file", RF_INPUT };
    if (a->weights) f[n++] = (RunFile){ a->weights, a->weights_partial ? "--weights-partial" : "--weights", RF_INPUT };
    if (a->resume) f[n++] = (RunFile){ a->resume, "--resume", RF_RESUME };
    if (a->apply) f[n++] = (RunFile){ a->apply, "--apply's image", RF_INPUT };
    if (a->data) {
        f[n++] = (RunFile){ a->data, "--data", RF_DATA };
    } else {
        const DatasetDecl *d[3] = { &p->train, &p->test, &p->validation };
        for (int i = 0; i < 3; i++)
            if (d[i]->present && d[i]->resolved) f[n++] = (RunFile){ d[i]->resolved, "a data set", RF_DATA };
    }
    if (a->action == A_TRAIN) {
        f[n++] = (RunFile){ out, a->output ? "-o" : "the model file", RF_MODEL };
        if (a->checkpoint) f[n++] = (RunFile){ a->checkpoint, "--checkpoint", RF_CHECKPOINT };
        if (interrupt) f[n++] = (RunFile){ interrupt, "the interrupt checkpoint", RF_CHECKPOINT };
        if (a->history) f[n++] = (RunFile){ a->history, "--history", RF_HISTORY };
        if (a->report) f[n++] = (RunFile){ a->report, "--report", RF_REPORT };
    } else if (a->action == A_APPLY) {
        f[n++] = (RunFile){ a->output, "-o", RF_PNG };
    } else if (a->action == A_PREVIEW) {
        f[n++] = (RunFile){ a->output, "-o", RF_DIR };
    } else if (a->action == A_EXPORT_ONNX) {
        f[n++] = (RunFile){ a->export_onnx, "--export-onnx", RF_ONNX };
    }
    return runfiles_check(f, n);
}

/* --weights or --weights-partial with --train: the starting weights */
static int load_start_weights(const Args *a, Graph *g)
{
    StFile f;
    Error e;
    if (safetensors_read(&f, a->weights, &e) < 0) return fail(&e);
    const char *format = safetensors_meta(&f, "format");
    int rc = 0;
    if (format && strncmp(format, "cnnc-checkpoint", 15) == 0) {     /* checkpoint.c's format */
        fprintf(stderr, "cnnc: error: %s is a checkpoint, not a model file: continue its run with --resume %s, or "
                        "start from the model file that run wrote\n", a->weights, a->weights);
        rc = 1;
    } else if (model_load_start(g, &f, a->weights, a->weights_partial, stderr, &e) < 0) {
        rc = fail(&e);
    }
    safetensors_free(&f);
    return rc;
}

/* --predict: each file, and every image under each folder; a bad one is said and the
 * others go on; the exit status says whether any failed */
static int run_predict(const Args *a, const Program *p, Graph *g, const StFile *mf)
{
    Error e;
    char **names = NULL, **paths = NULL;
    int n = 0, bad = 0, rc = 0;
    int npaths = runfiles_expand(a->images, a->nimages, &paths, &bad);
    if (npaths < 0) return 1;
    if (model_file_classes(p, mf, a->weights, NULL, stderr, &names, &n, &e) < 0) rc = fail(&e);
    else predict_images(p, g, names, n, paths, npaths, a->skip_bad, &bad, stdout);
    if (!rc && bad && a->skip_bad)
        fprintf(stderr, "cnnc: warning: %d bad image%s skipped (--skip-bad-images)\n", bad, bad == 1 ? "" : "s");
    else if (!rc && bad)
        rc = 1;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    for (int i = 0; i < npaths; i++) free(paths[i]);
    free(paths);
    return rc;
}

/* --export-onnx: the inference graph g with the weights of mf, and mf's class names */
static int run_export_onnx(const Args *a, const Program *p, Graph *g, const StFile *mf)
{
#ifdef HAVE_ONNX
    Error e;
    char **names = NULL;
    int n = 0, rc = 0;
    if (check_writable(a->export_onnx, "the ONNX model") < 0) return 1;
    if (model_file_classes(p, mf, a->weights, NULL, stderr, &names, &n, &e) < 0) rc = fail(&e);
    else if (onnx_export(g, p, names, n, a->export_onnx, &e) < 0) rc = fail(&e);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
#else
    (void)a, (void)p, (void)g, (void)mf;
    return 1;                   /* parse_args refused --export-onnx */
#endif
}

/* The run once its files are checked and the data sets it reads are open and checked
 * (sets; NULL when it reads none). out and interrupt: --train's model file and the
 * checkpoint written on Ctrl-C, or NULL. */
static int run_planned(const Args *a, const Program *p, const RunOptions *ro0, Sets *sets,
                       const char *out, const char *interrupt)
{
    Error e;
    RunOptions ro = *ro0;
    int fmap = p->out_ndim != 1;    /* ends with a feature map: no loss */
    int planning = a->action == A_CHECK || a->action == A_SUMMARY || a->action == A_DUMP;
    int training = !fmap && (a->action == A_TRAIN || (planning && p->opt.kind != OPT_NONE));
    LowerOptions lo = { .batch = max_batch(p, a->action, sets), .training = training };
    Graph *g = fmap ? lower_forward(p, lo.batch, p->in_shape[1], p->in_shape[2], &e) : lower_program(p, &lo, &e);
    if (!g) {
        return fail(&e);
    }
    PlanStats st;
    plan_memory(g, &st);
    if (check_memory(p, &st, lo.batch, training) < 0) {
        graph_free(g);
        return 1;
    }
    int rc = 0;
    if (a->action == A_CHECK) {
        print_summary(stdout, p, training ? &st : NULL, lo.batch);
        if (sets) sets_print(stdout, sets);
    } else if (a->action == A_SUMMARY) {
        print_model_summary(stdout, p, g, &st, training);
    } else if (a->action == A_DUMP) {
        if (a->dump_dot) dump_graph_dot(stdout, g, p->path);
        else dump_graph_text(stdout, g, p->path, &st);
    } else {
        graph_bind(g);
        exec_set_threads(g, a->threads ? a->threads : rank_threads());
        if (a->action == A_TRAIN) {
            ro.out_path = dist_rank() == 0 ? out : NULL;     /* a data-parallel run: rank 0 writes */
            if (dist_rank() > 0) ro.history_path = NULL;
            ro.checkpoint_path = a->checkpoint;
            ro.checkpoint_every = a->checkpoint_every;
            ro.interrupt_path = interrupt;
            ro.threads = g->threads;
            ro.save_best = a->save_best;
            ro.early_stop = a->early_stop;
            if (check_writable(out, "the model file") || (a->checkpoint && check_writable(a->checkpoint, "the checkpoint")) ||
                (a->history && check_writable(a->history, "the history")) ||
                (a->report && check_writable(a->report, "the report")) ||
                (interrupt && check_writable(interrupt, "the checkpoint written on Ctrl-C")))
                rc = 1;
            TrainState resume = { 0 };
            init_parameters(g, a->seed);
            lower_given_weights(g, p);
            if (rc) {
            } else if (a->weights) {
                rc = load_start_weights(a, g);
            } else if (a->resume) {
                if (checkpoint_load(a->resume, g, p->source, &resume, &e) < 0) {
                    rc = fail(&e);
                } else if (a->have_seed && resume.seed != a->seed) {
                    rc = 1;
                    fprintf(stderr, "cnnc: error: %s was written by a run with --seed %llu, not %llu: drop --seed "
                                    "to continue that run\n", a->resume, (unsigned long long)resume.seed,
                            (unsigned long long)a->seed);
                } else if (resume.ranks != dist_size()) {
                    rc = 1;
                    fprintf(stderr, "cnnc: error: %s was written by a run on %d process%s, this one has %d: resume it "
                                    "with mpirun -np %d (each process's share of every batch depends on it)\n",
                            a->resume, resume.ranks, resume.ranks == 1 ? "" : "es", dist_size(), resume.ranks);
                } else {
                    if (resume.threads != g->threads)
                        fprintf(stderr, "cnnc: warning: %s was written by a run with --threads %d, this one has %d: "
                                        "the result may differ in the last bits from an uninterrupted run\n",
                                a->resume, resume.threads, g->threads);
                    ro.seed = resume.seed;
                    ro.resume = &resume;
                    if (dist_rank() == 0)
                    fprintf(stderr, "cnnc: resuming from %s at epoch %d, batch %d\n", a->resume, resume.epoch + 1,
                            resume.batch);
                }
            }
            Report *rep = a->report && dist_rank() == 0 ? report_new(p, g, &st, &ro, a->threads) : NULL;
            if (rep) {
                ro.on_epoch = report_epoch;
                ro.on_epoch_ctx = rep;
            }
            if (!rc) {
                Sets *s = sets;
                int epochs = a->epochs ? a->epochs : p->epochs;
                printf("Training %s on %d images (%d classes), batch %d, %d epoch%s, seed %llu%s%s\n", p->model_name,
                       sets_good(&s->train), s->train.nclasses, p->train.batch_size, epochs, epochs == 1 ? "" : "s",
                       (unsigned long long)ro.seed, a->weights ? ", from the weights of " : "",
                       a->weights ? a->weights : "");
                fflush(stdout);
                int tr = train_run(p, g, s, &ro, stdout, &e);
                mpi_stats(g);
                if (tr == TRAIN_INTERRUPTED) {
                    if (dist_rank() == 0) fprintf(stderr, "cnnc: %s\n", e.msg);   /* the same on every rank */
                    rc = 128 + train_signal();
                } else if (tr < 0) {
                    rc = fail(&e);
                } else if (rep && report_write(rep, g, s, a->report, stdout, &e) < 0) {
                    fprintf(stderr, "cnnc: error: %s (after training: the model was saved to %s)\n", e.msg, out);
                    rc = 1;
                }
                report_skipped(s);
            }
            report_free(rep);
            free(resume.history);
        } else {
            StFile mf;
            int loaded = model_load(g, a->weights, &mf, &e) == 0;
            if (!loaded) {
                rc = fail(&e);
            } else if (a->action == A_EVAL) {
                Sets *s = sets;
                char **names = NULL;
                int n = 0;
                {
                    EvalResult r;
                    if (model_file_classes(p, &mf, a->weights, s, stderr, &names, &n, &e) < 0) rc = fail(&e);
                    for (int i = 0; i < n; i++) free(names[i]);
                    free(names);
                    if (!rc && !s->has_test && !s->has_validation) {
                        rc = fail(&(Error){ "the file declares no test_dataset or validation_dataset to evaluate on" });
                    }
                    if (!rc && s->has_test) {
                        if (evaluate(g, &s->test, &p->test, &ro, &r, &e) < 0) rc = fail(&e);
                        else printf("Test Loss: %.4f, Test Correct: %d/%d\n", r.loss, r.correct, r.total);
                    }
                    if (!rc && s->has_validation) {
                        if (evaluate(g, &s->validation, &p->validation, &ro, &r, &e) < 0) rc = fail(&e);
                        else printf("Validation Loss: %.4f, Validation Correct: %d/%d\n", r.loss, r.correct, r.total);
                    }
                    report_skipped(s);
                }
            } else if (a->action == A_EXPORT_ONNX) {
                rc = run_export_onnx(a, p, g, &mf);
            } else {
                rc = run_predict(a, p, g, &mf);
            }
            if (loaded) safetensors_free(&mf);
        }
    }
    graph_free(g);
    return rc;
}

/* --emit-c: OUT.c, OUT.h (and --weights-bin's file); with --quantize, the training set
 * calibrates */
static int run_emit_c(const Args *a, const Program *p, const RunOptions *ro)
{
    Error e;
    if (check_writable(a->emit_c, "--emit-c's file") ||
        (a->weights_bin && check_writable(a->weights_bin, "--weights-bin's file")))
        return 1;
    EmitCOptions o = { .out_c = a->emit_c, .weights = a->weights, .weights_bin = a->weights_bin,
                       .calibrate = a->calibrate };
    Sets s;
    if (a->quantize) {
        if (sets_open(p, ro, 1, &s, &e) < 0) return fail(&e);
        o.calib_set = &s.train;
    }
    int rc = emit_c(p, &o, &e) < 0 ? fail(&e) : 0;
    if (a->quantize) sets_free(&s);
    return rc;
}

static int run(const Args *a, const Program *p)
{
    Error e;
    char *out = a->action == A_TRAIN ? (a->output ? xstrdup(a->output) : default_output(a->file)) : NULL;
    char *interrupt = out && !a->checkpoint ? default_checkpoint(out) : NULL;
    int rc = check_files(a, p, out, interrupt) < 0 ? 1 : 0;
    if (!rc && (a->save_best || a->early_stop) && !p->test.present) {
        fprintf(stderr, "cnnc: error: %s: %s compares the epochs' test accuracy, but the file declares no test set; "
                        "add test_dataset = ImageFolder(...)\n", p->path, a->save_best ? "--save-best" : "--early-stop");
        rc = 1;
    }
    if (!rc && a->save_best && dist_size() > 1) {     /* the kept weights live in rank 0's file alone */
        /* every rank says it, as dist_end's "its error above" expects: a rank that failed
         * silently could end the run before rank 0 had printed */
        fprintf(stderr, "cnnc: error: --save-best under mpirun is not supported yet: train in one process, or use "
                        "--early-stop and --checkpoint-every\n");
        rc = 1;
    }
    if (!rc && a->action == A_APPLY) rc = apply_run(p, a->apply, a->output, a->threads, stdout, &e) < 0 ? fail(&e) : 0;
    if (rc || a->action == A_APPLY) {
        free(interrupt);
        free(out);
        return rc;
    }
    RunOptions ro = { .epochs = a->epochs, .seed = a->seed, .data_dir = a->data, .history_path = a->history,
                      .loader = { .workers = a->workers, .skip_bad = a->skip_bad, .warn = stderr },
                      .cache_bytes = (size_t)a->cache_mb << 20 };
    if (dist_size() > 1) {          /* a data-parallel run: each process loads its share of every batch */
        ro.loader.rank = dist_rank();
        ro.loader.ranks = dist_size();
        if (a->skip_bad) {
            fprintf(stderr, "cnnc: error: --skip-bad-images does not work under mpirun yet (the processes' shares "
                            "would differ): remove the bad images (cnnc --check lists them) or train in one process\n");
            free(interrupt);
            free(out);
            return 1;
        }
    }
    if (a->action == A_PREVIEW || a->action == A_EMIT_C) {
        free(interrupt);
        free(out);
        return a->action == A_PREVIEW ? run_preview(a, p, &ro) : run_emit_c(a, p, &ro);
    }
    /* every data set the action reads, opened and checked before any work */
    int fmap = p->out_ndim != 1;
    int reads = !fmap && (a->action == A_TRAIN || a->action == A_EVAL || (a->action == A_CHECK && !a->no_data));
    Sets s;
    int opened = 0;
    if (reads) {
        if (sets_check(p, &ro, a->action != A_EVAL, &s, &e) < 0) rc = fail(&e);
        else opened = 1;
    }
    if (!rc) rc = run_planned(a, p, &ro, opened ? &s : NULL, out, interrupt);
    if (opened) sets_free(&s);
    free(interrupt);
    free(out);
    return rc;
}

/* --lr, --batch-size, --weight-decay replace the file's values; buf gets them as the JSON
 * object model files record (p->overrides), e.g. {"lr": 0.01, "batch_size": 32} */
static void apply_overrides(const Args *a, Program *p, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    if (a->have_lr) {
        p->opt.lr = a->lr;
        for (int k = 0; k < p->opt.ngroups; k++) p->opt.groups[k].lr = a->lr;   /* every parameter group's */
        len += (size_t)snprintf(buf + len, cap - len, "%s\"lr\": %.9g", len ? ", " : "{", a->lr);
    }
    if (a->batch_size) {
        p->train.batch_size = a->batch_size;
        len += (size_t)snprintf(buf + len, cap - len, "%s\"batch_size\": %d", len ? ", " : "{", a->batch_size);
    }
    if (a->have_weight_decay) {
        p->opt.weight_decay = a->weight_decay;
        for (int k = 0; k < p->opt.ngroups; k++) p->opt.groups[k].weight_decay = a->weight_decay;
        len += (size_t)snprintf(buf + len, cap - len, "%s\"weight_decay\": %.9g", len ? ", " : "{", a->weight_decay);
    }
    if (len) snprintf(buf + len, cap - len, "}");
    p->overrides = len ? buf : NULL;
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

/* ---- a data-parallel run (mpirun; runtime/dist.h) ---- */

/* --threads' default: the machine's cores shared among the run's processes on it */
static int rank_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (dist_local_size() <= 1 || cores < 1) return 0;      /* 0: every core */
    return cores / dist_local_size() > 1 ? (int)(cores / dist_local_size()) : 1;
}

/* CNNC_MPI_STATS: rank 0 says how long the training steps waited for the gradient sums */
static void mpi_stats(const Graph *g)
{
    if (!getenv("CNNC_MPI_STATS") || dist_rank() != 0 || !g->gsync) return;
    double wait, skew;
    long steps;
    int buckets;
    size_t bytes;
    gradsync_stats(g->gsync, &wait, &skew, &steps, &buckets, &bytes);
    fprintf(stderr, "cnnc: mpi: %d processes, %ld steps, %.3f ms per step waiting for the gradient sums "
                    "(%zu bytes in %d buckets), %.3f ms for the slowest process\n", dist_size(), steps,
            steps ? 1e3 * wait / steps : 0.0, bytes, buckets, steps ? 1e3 * skew / steps : 0.0);
}

/* Joins the run; rank 0 alone prints results (stdout) and its seed is everyone's. */
static int dist_start(int *argc, char ***argv)
{
    if (dist_init(argc, argv) < 0) {
        fprintf(stderr, "cnnc: error: MPI could not start (MPI_Init_thread failed): check the mpirun command line\n");
        return 1;
    }
    if (dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) return 1;
    return 0;
}

/* The end of a process of the run: a failed one ends them all (MPI_Abort, naming its rank),
 * else all finish together, after rank 0 has written its files. */
static int dist_end(int rc)
{
    if (dist_size() > 1 && rc != 0 && !(train_signal() && rc == 128 + train_signal())) {
        char msg[96];
        snprintf(msg, sizeof msg, "failed (exit code %d, its error above): ending the run", rc);
        dist_abort(rc, msg);
    }
    dist_barrier();
    dist_finalize();
    return rc;
}

int main(int argc, char **argv)
{
    stdio_guard_fds();
    prefer_passive_threads(argv);
    Args a;
    signal(SIGXFSZ, SIG_IGN);      /* past `ulimit -f`, write fails with EFBIG and says so */
    if (dist_start(&argc, &argv)) return 1;
    int rc = parse_args(argc, argv, &a);
    if (rc) return dist_end(rc);
    if (!a.have_seed) a.seed = ((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16)) % 1000000;
    int64_t seed0 = dist_rank() == 0 ? (int64_t)a.seed : 0;
    dist_sum_i64(&seed0, 1);        /* rank 0's seed */
    a.seed = (uint64_t)seed0;
    CheckOptions co = { .require_training = a.action == A_TRAIN,
                        .require_classifier = a.action == A_EVAL || a.action == A_PREDICT ||
                                              a.action == A_EXPORT_ONNX || a.action == A_EMIT_C };
    Program p;
    if (check_file(a.file, &co, &p, stderr) < 0) return dist_end(1);
    char overrides[256];
    apply_overrides(&a, &p, overrides, sizeof overrides);
    rc = run(&a, &p);
    program_free(&p);
    Error e;
    if (stdout_close_checked(&e) < 0) {
        fail(&e);
        rc = rc ? rc : 1;
    }
    return dist_end(rc);
}
