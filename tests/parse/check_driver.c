/* tests/parse/check_driver.c: runs the checker on one .cnn file and prints the checked
 * Program (model, layers with keys, arguments and output shapes, data sets, transforms,
 * loss, optimizer) to stdout; diagnostics go to stderr. The golden tests compare both.
 *
 *   check_driver [--train] FILE     --train: CheckOptions.require_training
 *
 * It checks every file twice, through check_file and through check_source, and fails
 * (status 3) if the two runs disagree: the checker must keep no state between calls.
 * Exit status: 0 checked, 1 the file has an error, 2 usage, 3 runs disagree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/frontend/check.h"

/* The shortest decimal that reads back as the same double, written as Python would. */
static const char *num(char *buf, size_t n, double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eni")) strncat(buf, ".0", n - strlen(buf) - 1);
    return buf;
}

/* A string in double quotes, with C escapes for quotes, backslashes and control bytes. */
static void quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void loc(FILE *f, SrcLoc l)
{
    fprintf(f, " at %d:%d-%d", l.line, l.col, l.end_col);
}

static void shape(FILE *f, const Layer *l)
{
    if (l->out_ndim == 3) fprintf(f, "[%d, %d, %d]", l->out_shape[0], l->out_shape[1], l->out_shape[2]);
    else fprintf(f, "[%d]", l->out_shape[0]);
}

static const char *tf(int b) { return b ? "True" : "False"; }

static void floats(FILE *f, const float *v, int n)
{
    char a[32];
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? ", " : "", num(a, sizeof a, v[i]));
    fputc(']', f);
}

static void layer(FILE *f, const Layer *l)
{
    char a[32];
    fprintf(f, "layer %s %s(", l->key, l->type_name);
    switch (l->kind) {
    case L_CONV2D:
        fprintf(f, "in_channels=%d, out_channels=%d, kernel_size=%d, stride=%d, padding=%d, "
                "bias=%s", l->in_ch, l->out_ch, l->kernel, l->stride, l->padding, tf(l->bias));
        if (l->kernel_hw[0] != l->kernel_hw[1] || l->stride_hw[0] != l->stride_hw[1] ||
            l->padding_hw[0] != l->padding_hw[1])
            fprintf(f, ", kernel_size=(%d, %d), stride=(%d, %d), padding=(%d, %d)", l->kernel_hw[0],
                    l->kernel_hw[1], l->stride_hw[0], l->stride_hw[1], l->padding_hw[0], l->padding_hw[1]);
        if (l->dilation[0] != 1 || l->dilation[1] != 1)
            fprintf(f, ", dilation=(%d, %d)", l->dilation[0], l->dilation[1]);
        if (l->groups != 1) fprintf(f, ", groups=%d", l->groups);
        if (l->reflect) fprintf(f, ", padding_mode='reflect'");
        break;
    case L_AVGPOOL2D:
        fprintf(f, "kernel_size=(%d, %d), stride=(%d, %d), padding=(%d, %d), ceil_mode=%s, "
                "count_include_pad=%s", l->kernel_hw[0], l->kernel_hw[1], l->stride_hw[0],
                l->stride_hw[1], l->padding_hw[0], l->padding_hw[1], tf(l->ceil_mode),
                tf(l->count_include_pad));
        break;
    case L_ADAPTIVE_AVGPOOL2D:
    case L_ADAPTIVE_MAXPOOL2D:
        fprintf(f, "output_size=(%d, %d)", l->out_hw[0], l->out_hw[1]);
        break;
    case L_BATCHNORM2D:
    case L_BATCHNORM1D:
        fprintf(f, "num_features=%d, eps=%s, momentum=", l->in_ch, num(a, sizeof a, l->eps));
        if (l->momentum_none) fprintf(f, "None");
        else fprintf(f, "%s", num(a, sizeof a, l->momentum));
        fprintf(f, ", affine=%s, track_running_stats=%s", tf(l->affine), tf(l->track_running_stats));
        break;
    case L_LEAKY_RELU:
        fprintf(f, "negative_slope=%s", num(a, sizeof a, l->alpha));
        break;
    case L_ELU:
        fprintf(f, "alpha=%s", num(a, sizeof a, l->alpha));
        break;
    case L_GELU:
        fprintf(f, "approximate='%s'", l->approximate_tanh ? "tanh" : "none");
        break;
    case L_DROPOUT2D:
        fprintf(f, "p=%s", num(a, sizeof a, l->p));
        break;
    case L_SILU: case L_SIGMOID: case L_TANH: case L_RELU6: case L_HARDSWISH:
    case L_HARDSIGMOID: case L_SOFTMAX: case L_LOG_SOFTMAX: case L_IDENTITY:
        break;
    case L_MAXPOOL2D:
        fprintf(f, "kernel_size=%d, stride=%d, padding=%d", l->kernel, l->stride, l->padding);
        if (l->ceil_mode) fprintf(f, ", ceil_mode=True");
        if (l->dilation[0] != 1 || l->dilation[1] != 1)
            fprintf(f, ", dilation=(%d, %d)", l->dilation[0], l->dilation[1]);
        if (l->kernel_hw[0] != l->kernel_hw[1] || l->stride_hw[0] != l->stride_hw[1])
            fprintf(f, ", kernel_size=(%d, %d), stride=(%d, %d)", l->kernel_hw[0], l->kernel_hw[1],
                    l->stride_hw[0], l->stride_hw[1]);
        break;
    case L_DROPOUT:
        fprintf(f, "p=%s", num(a, sizeof a, l->p));
        break;
    case L_LINEAR:
        fprintf(f, "in_features=%d, out_features=%d, bias=%s", l->in_ch, l->out_ch, tf(l->bias));
        break;
    case L_RELU:
    case L_FLATTEN:
        break;
    }
    fprintf(f, ") -> ");
    shape(f, l);
    loc(f, l->loc);
    if (l->frozen) fprintf(f, " frozen");
    fputc('\n', f);
    size_t nw = (size_t)l->out_ch * l->in_ch * (l->kind == L_CONV2D ? (size_t)l->kernel * l->kernel : 1);
    if (l->weight) {
        fprintf(f, "  weight ");
        floats(f, l->weight, (int)nw);
        fputc('\n', f);
    }
    if (l->bias_data) {
        fprintf(f, "  bias ");
        floats(f, l->bias_data, l->out_ch);
        fputc('\n', f);
    }
}

static void doubles(FILE *f, const char *sep, const char *name, const double *v, int n)
{
    char a[32];
    fprintf(f, "%s%s=(", sep, name);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? ", " : "", num(a, sizeof a, v[i]));
    fputc(')', f);
}

/* every transform with the parameters the checker settled on */
static void transform(FILE *f, const Transform *t)
{
    char a[32];
    fprintf(f, "%s(", transform_name(t->kind));
    switch (t->kind) {
    case TF_TO_TENSOR: break;
    case TF_NORMALIZE:
        fprintf(f, "mean=");
        floats(f, t->mean, t->nch);
        fprintf(f, ", std=");
        floats(f, t->std, t->nch);
        break;
    case TF_HFLIP: case TF_VFLIP: fprintf(f, "p=%s", num(a, sizeof a, t->p)); break;
    case TF_ROTATION:
        doubles(f, "", "degrees", t->degrees, 2);
        if (t->has_center) doubles(f, ", ", "center", t->center, 2);
        break;
    case TF_COLOR_JITTER: {
        static const char *const names[4] = { "brightness", "contrast", "saturation", "hue" };
        const char *sep = "";
        for (int k = 0; k < 4; k++)
            if (t->has_jitter[k]) {
                doubles(f, sep, names[k], t->jitter[k], 2);
                sep = ", ";
            }
        break;
    }
    case TF_PERSPECTIVE:
        fprintf(f, "distortion_scale=%s", num(a, sizeof a, t->distortion));
        fprintf(f, ", p=%s", num(a, sizeof a, t->p));
        break;
    case TF_RANDOM_APPLY:
        fprintf(f, "[");
        for (int i = 0; i < t->nsub; i++) {
            if (i) fprintf(f, ", ");
            transform(f, &t->sub[i]);
        }
        fprintf(f, "], p=%s", num(a, sizeof a, t->p));
        break;
    case TF_RESIZE: case TF_CENTER_CROP: case TF_RANDOM_CROP: case TF_RANDOM_RESIZED_CROP:
        fprintf(f, "size=(%d, %d)", t->size[0], t->size[1]);
        if (t->kind == TF_RANDOM_CROP)
            fprintf(f, ", padding=(%d, %d, %d, %d), pad_if_needed=%d, padding_mode=%d", t->padding[0], t->padding[1],
                    t->padding[2], t->padding[3], t->pad_if_needed, (int)t->padding_mode);
        if (t->kind == TF_RANDOM_RESIZED_CROP) {
            doubles(f, ", ", "scale", t->scale, 2);
            doubles(f, ", ", "ratio", t->ratio, 2);
        }
        break;
    case TF_GRAYSCALE: fprintf(f, "num_output_channels=%d", t->out_channels); break;
    case TF_NKINDS: break;
    }
    if (t->nfill) {
        fprintf(f, ", fill=(");
        for (int i = 0; i < t->nfill; i++) fprintf(f, "%s%d", i ? ", " : "", t->fill[i]);
        fputc(')', f);
    }
    fputc(')', f);
}

static void dataset(FILE *f, const char *name, const DatasetDecl *d)
{
    if (!d->present) {
        fprintf(f, "%s none\n", name);
        return;
    }
    fprintf(f, "%s ", name);
    quoted(f, d->path);
    fprintf(f, " -> ");
    quoted(f, d->resolved);
    fprintf(f, " batch_size=%d shuffle=%s", d->batch_size, tf(d->shuffle));
    if (d->kind != DS_IMAGEFOLDER)
        fprintf(f, " %s train=%s", d->kind == DS_MNIST ? "MNIST" : "FashionMNIST", tf(d->train));
    loc(f, d->loc);
    fprintf(f, "\n  transform [");
    for (int i = 0; i < d->transform.n; i++) {
        if (i) fprintf(f, ", ");
        transform(f, &d->transform.steps[i]);
    }
    fprintf(f, "]\n");
}

static void dump(FILE *f, const Program *p)
{
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "model %s", p->model_name);
    loc(f, p->model_loc);
    fprintf(f, "\ninput [%d, %d, %d]\n", p->in_shape[0], p->in_shape[1], p->in_shape[2]);
    for (int i = 0; i < p->nlayers; i++) layer(f, &p->layers[i]);
    if (p->has_forward) {       /* the dataflow graph, for models with a forward block */
        static const char *const kinds[] = { "input", "layer", "add", "cat" };
        for (int i = 0; i < p->nsteps; i++) {
            const Step *st = &p->steps[i];
            fprintf(f, "step %d %s", i, kinds[st->kind]);
            if (st->kind == S_LAYER) fprintf(f, " %s %s", p->layers[st->layer].key,
                                             p->layers[st->layer].type_name);
            else fprintf(f, " %s", st->label);
            fprintf(f, " (");
            for (int k = 0; k < st->nin; k++) fprintf(f, "%s%d", k ? ", " : "", st->in[k]);
            fprintf(f, ") -> ");
            if (st->out_ndim == 3) fprintf(f, "[%d, %d, %d]", st->out_shape[0], st->out_shape[1], st->out_shape[2]);
            else fprintf(f, "[%d]", st->out_shape[0]);
            loc(f, st->loc);
            fputc('\n', f);
        }
        fprintf(f, "output step %d\n", p->output);
    }
    int blocks = p->has_forward;
    for (int i = 0; i < p->nmods; i++)
        blocks |= p->mods[i].layer < 0 && strcmp(p->mods[i].type_name, "Sequential");
    for (int i = 0; blocks && i < p->nmods; i++)
            fprintf(f, "module %s %s depth=%d layers=[%d, %d)\n", p->mods[i].name,
                    p->mods[i].type_name, p->mods[i].depth, p->mods[i].first, p->mods[i].end);
    if (p->nclasses) {
        fprintf(f, "classes %d:", p->nclasses);
        for (int i = 0; i < p->nclasses; i++) {
            fprintf(f, "%s ", i ? "," : "");
            quoted(f, p->classes[i]);
        }
        fputc('\n', f);
    } else {
        fprintf(f, "classes none\n");
    }
    fprintf(f, "batch_size %d\nepochs %d\n", p->batch_size, p->epochs);
    dataset(f, "train", &p->train);
    dataset(f, "test", &p->test);
    dataset(f, "validation", &p->validation);
    if (p->has_loss) {
        fprintf(f, "loss %s", p->nll_loss ? "NLLLoss" : "CrossEntropyLoss");
        if (p->loss.nweight) {
            fprintf(f, " weight=[");
            for (int i = 0; i < p->loss.nweight; i++) fprintf(f, "%s%s", i ? ", " : "", num(a, sizeof a, p->loss.weight[i]));
            fprintf(f, "]");
        }
        if (p->loss.ignore_index != -100) fprintf(f, " ignore_index=%lld", (long long)p->loss.ignore_index);
        if (p->loss.sum) fprintf(f, " reduction='sum'");
        if (p->loss.label_smoothing != 0) fprintf(f, " label_smoothing=%s", num(a, sizeof a, p->loss.label_smoothing));
        loc(f, p->loss_loc);
        fputc('\n', f);
    } else {
        fprintf(f, "loss none\n");
    }
    const Optimizer *o = &p->opt;
    if (o->kind == OPT_ADAM || o->kind == OPT_ADAMW)
        fprintf(f, "optimizer %s(lr=%s, betas=(%s, %s), eps=%s, weight_decay=%s%s)", o->kind == OPT_ADAM ? "Adam" : "AdamW",
                num(a, sizeof a, o->lr), num(b, sizeof b, o->beta1), num(c, sizeof c, o->beta2),
                num(d, sizeof d, o->eps), num(e, sizeof e, o->weight_decay), o->amsgrad ? ", amsgrad=True" : "");
    else if (o->kind == OPT_RMSPROP)
        fprintf(f, "optimizer RMSprop(lr=%s, alpha=%s, eps=%s, weight_decay=%s, momentum=%s, centered=%s)",
                num(a, sizeof a, o->lr), num(b, sizeof b, o->alpha), num(c, sizeof c, o->eps),
                num(d, sizeof d, o->weight_decay), num(e, sizeof e, o->momentum), tf(o->centered));
    else if (o->kind == OPT_SGD)
        fprintf(f, "optimizer SGD(lr=%s, momentum=%s, dampening=%s, weight_decay=%s, "
                "nesterov=%s)", num(a, sizeof a, o->lr), num(b, sizeof b, o->momentum),
                num(c, sizeof c, o->dampening), num(d, sizeof d, o->weight_decay),
                tf(o->nesterov));
    else
        fprintf(f, "optimizer none");
    if (o->kind != OPT_NONE) loc(f, o->loc);
    fputc('\n', f);
    for (int k = 0; k < o->ngroups; k++) {   /* parameter groups: selection, then the options */
        const ParamGroup *g = &o->groups[k];
        fprintf(f, "  group %d params=[", k + 1);
        for (int j = 0; j < g->nselect; j++) fprintf(f, "%s'%s'", j ? ", " : "", g->select[j]);
        fprintf(f, "] lr=%s weight_decay=%s momentum=%s betas=(%s, %s) amsgrad=%s centered=%s\n",
                num(a, sizeof a, g->lr), num(b, sizeof b, g->weight_decay), num(c, sizeof c, g->momentum),
                num(d, sizeof d, g->beta1), num(e, sizeof e, g->beta2), tf(g->amsgrad), tf(g->centered));
    }
    if (p->clip.kind == CLIP_NORM)
        fprintf(f, "clip_grad_norm_(max_norm=%s, norm_type=%s)\n", num(a, sizeof a, p->clip.max_norm),
                num(b, sizeof b, p->clip.norm_type));
    else if (p->clip.kind == CLIP_VALUE)
        fprintf(f, "clip_grad_value_(clip_value=%s)\n", num(a, sizeof a, p->clip.clip_value));
    fprintf(f, "source %zu bytes\n", strlen(p->source));
}

/* Reads the file, for the second run through check_source. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Runs check_source on the same text; its dump and diagnostics go to memory. */
static int second_run(const char *path, const CheckOptions *opt, char **dump_out, char **diag_out)
{
    size_t len = 0, n1, n2;
    char *src = slurp(path, &len);
    FILE *out = open_memstream(dump_out, &n1);
    FILE *diag = open_memstream(diag_out, &n2);
    Program p;
    int rc = check_source(path, src, len, opt, &p, diag);
    if (rc == 0) dump(out, &p);
    program_free(&p);
    fclose(out);
    fclose(diag);
    free(src);
    return rc;
}

int main(int argc, char **argv)
{
    CheckOptions opt = { 0 };
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--train")) opt.require_training = 1;
        else if (!path) path = argv[i];
        else path = NULL, i = argc;
    }
    if (!path) {
        fprintf(stderr, "usage: check_driver [--train] FILE.cnn\n");
        return 2;
    }
    char *dump1 = NULL, *diag1 = NULL, *dump2 = NULL, *diag2 = NULL;
    size_t n1, n2;
    FILE *out = open_memstream(&dump1, &n1);
    FILE *diag = open_memstream(&diag1, &n2);
    Program p;
    int rc = check_file(path, &opt, &p, diag);
    if (rc == 0) dump(out, &p);
    program_free(&p);
    fclose(out);
    fclose(diag);
    fputs(dump1, stdout);
    fputs(diag1, stderr);

    int status = rc == 0 ? 0 : 1;
    size_t len;
    char *src = slurp(path, &len);
    if (src) {          /* a file that cannot be read has nothing to compare */
        int rc2 = second_run(path, &opt, &dump2, &diag2);
        if (rc2 != rc || strcmp(dump1, dump2) || strcmp(diag1, diag2)) {
            fprintf(stderr, "check_driver: check_source disagrees with check_file on %s\n", path);
            status = 3;
        }
        free(src);
    }
    free(dump1);
    free(diag1);
    free(dump2);
    free(diag2);
    return status;
}
