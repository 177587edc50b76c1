/* compiler/driver/report.c: the HTML training report (see report.h). */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../runtime/exec.h"
#include "../../runtime/fileio.h"
#include "../../runtime/png.h"
#include "../frontend/eval.h"
#include "schedule.h"
#include "summary.h"

#define GRID_ROWS    5          /* validation images per class, as the notebook's 5 x 5 figure */
#define GRID_CLASSES 20         /* classes shown in the grid */

static const char *const color[2] = { "#1f77b4", "#ff7f0e" };  /* matplotlib's C0, C1 */

struct Report {
    const Program *p;
    RunOptions     o;
    int            threads, epochs_planned;
    char          *summary;
    EpochStats    *ep;
    int            nep, cap;
    time_t         started;
};

/* Every sample of one data set: predicted class, its probability, the true class. */
typedef struct Preds {
    int    n, k;
    int   *pred, *target;
    int   *index;               /* the data set's sample each prediction is of (bad images skipped) */
    float *prob;
    double loss;                /* mean over batches, as the notebook's line */
    int    correct;
} Preds;

Report *report_new(const Program *p, const Graph *g, const PlanStats *st, const RunOptions *o, int threads)
{
    Report *r = xcalloc(1, sizeof *r);
    r->p = p;
    r->o = *o;
    r->threads = threads;
    r->started = time(NULL);
    size_t n;
    FILE *f = open_memstream(&r->summary, &n);
    if (f) {
        print_model_summary(f, p, g, st, 1);
        fclose(f);
    }
    return r;
}

void report_epoch(void *ctx, const EpochStats *s)
{
    Report *r = ctx;
    if (r->nep == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 32;
        r->ep = xrealloc(r->ep, (size_t)r->cap * sizeof *r->ep);
    }
    r->ep[r->nep++] = *s;
}

void report_free(Report *r)
{
    if (!r) return;
    free(r->summary);
    free(r->ep);
    free(r);
}

/* ---- predictions ---- */

static void preds_free(Preds *q)
{
    free(q->pred);
    free(q->target);
    free(q->prob);
    free(q->index);
    memset(q, 0, sizeof *q);
}

/* In file order (no shuffling), Dropout off. With --skip-bad-images the images found bad
 * (before training, or now: the loader marks them) are left out, as in training. */
static int predict_set(Graph *g, const Dataset *ds, const DatasetDecl *d, int skip_bad, Preds *q, Error *e)
{
    const Value *in = &g->vals[g->input];
    DataLoader dl;
    memset(q, 0, sizeof *q);
    int bs = d->batch_size < g->max_batch ? d->batch_size : g->max_batch;
    LoaderOptions lo = { .skip_bad = skip_bad, .warn = stderr };
    if (dataloader_init_opts(&dl, ds, &d->transform, bs, 0, 0, in->shape[1], in->shape[2], in->shape[3], &lo, e) < 0)
        return -1;
    q->k = g->vals[g->probs].shape[1];
    q->pred = xcalloc((size_t)ds->n, sizeof *q->pred);
    q->target = xcalloc((size_t)ds->n, sizeof *q->target);
    q->prob = xcalloc((size_t)ds->n, sizeof *q->prob);
    dataloader_begin_epoch(&dl, 0);
    g->training = 0;
    double total = 0;
    int n, batches = 0;
    while ((n = dataloader_next(&dl, vf32(g, g->input), vi32(g, g->label), e)) > 0 && q->n + n <= ds->n) {
        graph_set_batch(g, n);
        exec_run(g, PHASE_FORWARD);
        total += vf32(g, g->loss)[0];
        batches++;
        const float *pr = vf32(g, g->probs);
        const int32_t *y = vi32(g, g->label);
        for (int i = 0; i < n; i++, q->n++) {
            int best = 0;
            for (int j = 1; j < q->k; j++)
                if (pr[(size_t)i * q->k + j] > pr[(size_t)i * q->k + best]) best = j;
            q->pred[q->n] = best;
            q->target[q->n] = y[i];
            q->prob[q->n] = pr[(size_t)i * q->k + best];
            q->correct += best == y[i];
        }
    }
    dataloader_free(&dl);
    if (n < 0) {
        preds_free(q);
        return -1;
    }
    q->loss = batches ? total / batches : 0.0;
    q->index = xcalloc((size_t)ds->n, sizeof *q->index);
    for (int i = 0, k = 0; i < ds->n && k < q->n; i++)
        if (!dataset_is_bad(ds, i)) q->index[k++] = i;
    return 0;
}

/* ---- HTML pieces ---- */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *class_name(const Sets *s, int i, char *buf, size_t n)
{
    if (i >= 0 && i < s->nclasses) return s->classes[i];
    snprintf(buf, n, "class %d", i);
    return buf;
}

/* A step of 1, 2, 2.5 or 5 times a power of ten giving about 5 intervals up to hi. */
static double nice_step(double hi)
{
    double raw = hi / 5, mag = pow(10, floor(log10(raw))), steps[] = { 1, 2, 2.5, 5, 10 };
    for (int i = 0; i < 5; i++)
        if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
}

/* A line plot of up to two series over epochs 1..n, in the notebook's style ('d-': lines with
 * diamond markers, grid, legend). Each series is a polyline with n points. */
static void svg_plot(FILE *f, const char *title, const char *ylabel, int n, const double *const *v,
                     const char *const *label, const char *const *cls, int nseries, int percent)
{
    const double W = 560, H = 320, L = 64, R = 16, T = 34, B = 48;
    double hi = percent ? 100 : 0;
    for (int s = 0; s < nseries; s++)
        for (int i = 0; i < n; i++)
            if (isfinite(v[s][i]) && v[s][i] > hi) hi = v[s][i];
    if (hi <= 0) hi = 1;
    double step = percent ? 20 : nice_step(hi);
    hi = percent ? 100 : step * ceil(hi / step - 1e-9);
    double x0 = n > 1 ? 1 : 0.5, x1 = n > 1 ? n : 1.5;
#define PX(x) (L + ((x) - x0) / (x1 - x0) * (W - L - R))
#define PY(y) (H - B - (y) / hi * (H - T - B))
    fprintf(f, "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", W, H, W, H);
    esc(f, title);
    fprintf(f, "\">\n<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", W, H);
    fprintf(f, "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">", (L + W - R) / 2);
    esc(f, title);
    fprintf(f, "</text>\n<g stroke=\"#ddd\" stroke-width=\"1\">\n");
    for (double y = 0; y <= hi + step / 2; y += step)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", L, W - R, PY(y), PY(y));
    int xstep = n <= 10 ? 1 : (n + 9) / 10;
    for (int x = 1; x <= n; x += xstep)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", PX(x), PX(x), T, H - B);
    fprintf(f, "</g>\n<g font-size=\"12\" fill=\"#333\">\n");
    for (double y = 0; y <= hi + step / 2; y += step)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g%s</text>\n", L - 6, PY(y) + 4, y,
                percent ? "%" : "");
    for (int x = 1; x <= n; x += xstep)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", PX(x), H - B + 16, x);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">Epoch</text>\n", (L + W - R) / 2, H - 10);
    fprintf(f, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
            (T + H - B) / 2, ylabel);
    fprintf(f, "</g>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n",
            L, T, W - L - R, H - T - B);
    for (int s = 0; s < nseries; s++) {
        fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", cls[s], color[s]);
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", PX(i + 1), PY(isfinite(v[s][i]) ? v[s][i] : 0));
        fprintf(f, "\"/>\n<g fill=\"%s\">\n", color[s]);
        for (int i = 0; i < n; i++) {
            double x = PX(i + 1), y = PY(isfinite(v[s][i]) ? v[s][i] : 0);
            fprintf(f, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\"><title>", x, y - 5);
            esc(f, label[s]);
            fprintf(f, ", epoch %d: %.4f%s</title></path>\n", i + 1, v[s][i], percent ? "%" : "");
        }
        fprintf(f, "</g>\n");
    }
    /* the legend, top right, or bottom right when more of the series pass under it there
     * (an accuracy that reaches 100%) */
    double lx0 = W - R - 156, lh = 12 + 18.0 * nseries, top = T + 4, bottom = H - B - 4 - lh;
    int under[2] = { 0, 0 };
    for (int s = 0; s < nseries; s++)
        for (int i = 0; i + 1 < n || (n == 1 && i == 0); i++)
            for (int k = 0; k <= 8; k++) {     /* points along each segment */
                double t = n > 1 ? k / 8.0 : 0, y0 = isfinite(v[s][i]) ? v[s][i] : 0;
                double y1 = n > 1 && isfinite(v[s][i + 1]) ? v[s][i + 1] : y0;
                double x = PX(i + 1 + t), y = PY(y0 + t * (y1 - y0));
                for (int c = 0; c < 2; c++) {
                    double ly0 = c ? bottom : top;
                    under[c] += x >= lx0 && y >= ly0 - 6 && y <= ly0 + lh + 6;
                }
            }
    double legend_top = under[1] < under[0] ? bottom : top;
    fprintf(f, "<g class=\"legend\">\n");
    for (int s = 0; s < nseries; s++) {
        double lx = W - R - 150, ly = legend_top + 12 + 18 * s;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", lx, lx + 24, ly, ly, color[s], lx + 30, ly + 4);
        esc(f, label[s]);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n</svg>\n");
#undef PX
#undef PY
}

static void confusion(FILE *f, const char *title, const Preds *q, const Sets *s)
{
    int k = q->k;
    int *m = xcalloc((size_t)k * k, sizeof *m);
    for (int i = 0; i < q->n; i++)
        if (q->target[i] >= 0 && q->target[i] < k) m[q->target[i] * k + q->pred[i]]++;
    char buf[32];
    fprintf(f, "<figure class=\"cm\"><figcaption>%s: %d/%d correct (%.1f%%), loss %.4f</figcaption>\n"
               "<table class=\"confusion\"><tr><th>true \\ predicted</th>",
            title, q->correct, q->n, q->n ? 100.0 * q->correct / q->n : 0.0, q->loss);
    for (int j = 0; j < k; j++) {
        fprintf(f, "<th>");
        esc(f, class_name(s, j, buf, sizeof buf));
        fprintf(f, "</th>");
    }
    fprintf(f, "<th>accuracy</th></tr>\n");
    for (int i = 0; i < k; i++) {
        int row = 0;
        for (int j = 0; j < k; j++) row += m[i * k + j];
        fprintf(f, "<tr><th>");
        esc(f, class_name(s, i, buf, sizeof buf));
        fprintf(f, "</th>");
        for (int j = 0; j < k; j++) {
            double share = row ? (double)m[i * k + j] / row : 0;
            fprintf(f, "<td style=\"background:rgba(%s,%.2f)\"%s>%d</td>",
                    i == j ? "31,119,180" : "214,39,40", share, share > 0.6 ? " class=\"dark\"" : "", m[i * k + j]);
        }
        fprintf(f, "<td class=\"acc\">%d/%d (%.0f%%)</td></tr>\n", m[i * k + i], row, row ? 100.0 * m[i * k + i] / row : 0.0);
    }
    fprintf(f, "</table></figure>\n");
    free(m);
}

/* The notebook's figure: a column per class, the first GRID_ROWS validation images of each,
 * titled with the predicted class; wrong ones marked. */
static int image_grid(FILE *f, const Preds *q, const Dataset *ds, const Sets *s, Error *e)
{
    int ncol = q->k < GRID_CLASSES ? q->k : GRID_CLASSES;
    char buf[32], buf2[32];
    fprintf(f, "<table class=\"grid\"><tr>");
    for (int c = 0; c < ncol; c++) {
        fprintf(f, "<th>");
        esc(f, class_name(s, c, buf, sizeof buf));
        fprintf(f, "</th>");
    }
    fprintf(f, "</tr>\n");
    for (int row = 0; row < GRID_ROWS; row++) {
        fprintf(f, "<tr>");
        for (int c = 0; c < ncol; c++) {
            int seen = 0, idx = -1;
            for (int i = 0; i < q->n && idx < 0; i++)
                if (q->target[i] == c && seen++ == row) idx = i;
            if (idx < 0) {
                fprintf(f, "<td></td>");
                continue;
            }
            Image img;
            int target;
            if (ds->get(ds, q->index[idx], &img, &target, e) < 0) return -1;
            char *uri = png_data_uri(img.px, img.w, img.h, img.c, e);
            int w = img.w, h = img.h;
            image_free(&img);
            if (!uri) return -1;
            int ok = q->pred[idx] == q->target[idx];
            const char *file = ds->path ? ds->path(ds, q->index[idx]) : "";
            const char *slash = strrchr(file, '/');
            fprintf(f, "<td><figure class=\"%s\"><img src=\"%s\" width=\"%d\" height=\"%d\" alt=\"", ok ? "right" : "wrong",
                    uri, w > 120 ? 120 : w, w > 120 ? h * 120 / w : h);
            esc(f, slash ? slash + 1 : file);
            fprintf(f, "\" title=\"");
            esc(f, slash ? slash + 1 : file);
            fprintf(f, "\"><figcaption>%s", ok ? "" : "<span class=\"mark\">&#x2717;</span> ");
            esc(f, class_name(s, q->pred[idx], buf, sizeof buf));
            fprintf(f, " <small>%.0f%%</small>", 100.0 * q->prob[idx]);
            if (!ok) {
                fprintf(f, "<br><small>true: ");
                esc(f, class_name(s, q->target[idx], buf2, sizeof buf2));
                fprintf(f, "</small>");
            }
            fprintf(f, "</figcaption></figure></td>");
            free(uri);
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
    if (q->k > ncol) fprintf(f, "<p>The first %d of %d classes.</p>\n", ncol, q->k);
    return 0;
}

static void transform_text(FILE *f, const Pipeline *t)
{
    char a[32];
    if (t->n == 0) fprintf(f, "ToTensor() (implicit)");
    for (int i = 0; i < t->n; i++) {
        const Transform *x = &t->steps[i];
        if (i) fprintf(f, ", ");
        if (x->kind == TF_TO_TENSOR) {
            fprintf(f, "ToTensor()");
        } else if (x->kind == TF_NORMALIZE) {
            fprintf(f, "Normalize(mean=[");
            for (int c = 0; c < x->nch; c++) fprintf(f, "%s%s", c ? ", " : "", fmt_num(a, sizeof a, x->mean[c]));
            fprintf(f, "], std=[");
            for (int c = 0; c < x->nch; c++) fprintf(f, "%s%s", c ? ", " : "", fmt_num(a, sizeof a, x->std[c]));
            fprintf(f, "])");
        } else {
            fprintf(f, "transform %d", (int)x->kind);
        }
    }
}

static void row(FILE *f, const char *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void row(FILE *f, const char *k, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(f, "<tr><th>%s</th><td>", k);
    esc(f, buf);
    fprintf(f, "</td></tr>\n");
}

static void settings(FILE *f, const Report *r, const Sets *s)
{
    const Program *p = r->p;
    const Optimizer *o = &p->opt;
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "<table class=\"settings\">\n");
    row(f, "model", "%s (%s)", p->model_name, p->path);
    row(f, "input", "%d x %d x %d", p->in_shape[0], p->in_shape[1], p->in_shape[2]);
    row(f, "epochs", "%d%s", r->nep, r->o.epochs > 0 ? " (--epochs)" : " (NUM_EPOCHS)");
    row(f, "seed", "%llu", (unsigned long long)r->o.seed);
    if (r->threads) row(f, "threads", "%d", r->threads);
    else row(f, "threads", "every core");
    for (int i = 0; i < p->nlayers; i++) {
        const Layer *L = &p->layers[i];
        char k[128];
        snprintf(k, sizeof k, "layer %s", L->key);
        switch (L->kind) {
        case L_CONV2D:
            row(f, k, "Conv2d(%d, %d, kernel_size=%d, stride=%d, padding=%d, bias=%s%s%s)", L->in_ch, L->out_ch,
                L->kernel, L->stride, L->padding, L->bias ? "True" : "False", L->weight ? ", weight given" : "",
                L->frozen ? ", requires_grad=False" : "");
            break;
        case L_LINEAR:
            row(f, k, "Linear(%d, %d, bias=%s%s%s)", L->in_ch, L->out_ch, L->bias ? "True" : "False",
                L->weight ? ", weight given" : "", L->frozen ? ", requires_grad=False" : "");
            break;
        case L_MAXPOOL2D:
            row(f, k, "MaxPool2d(kernel_size=%d, stride=%d, padding=%d)", L->kernel, L->stride, L->padding);
            break;
        case L_DROPOUT:
            row(f, k, "Dropout(p=%s)", fmt_num(a, sizeof a, L->p));
            break;
        default:
            row(f, k, "%s()", L->type_name);
        }
    }
    char loss[160];
    const LossDecl *l = &p->loss;
    int k = snprintf(loss, sizeof loss, "%s(%sreduction='%s'", l->nll ? "NLLLoss" : "CrossEntropyLoss",
                     l->weight ? "weight=[...], " : "", l->sum ? "sum" : "mean");
    if (l->ignore_index != -100) k += snprintf(loss + k, sizeof loss - (size_t)k, ", ignore_index=%lld",
                                               (long long)l->ignore_index);
    if (l->label_smoothing != 0) snprintf(loss + k, sizeof loss - (size_t)k, ", label_smoothing=%s",
                                          fmt_num(a, sizeof a, l->label_smoothing));
    row(f, "criterion", "%s)", loss);
    if (o->kind == OPT_ADAM || o->kind == OPT_ADAMW)
        row(f, "optimizer", "%s(lr=%s, betas=(%s, %s), eps=%s, weight_decay=%s, amsgrad=%s)",
            o->kind == OPT_ADAM ? "Adam" : "AdamW", fmt_num(a, sizeof a, o->lr), fmt_num(b, sizeof b, o->beta1),
            fmt_num(c, sizeof c, o->beta2), fmt_num(d, sizeof d, o->eps), fmt_num(e, sizeof e, o->weight_decay),
            o->amsgrad ? "True" : "False");
    else if (o->kind == OPT_RMSPROP)
        row(f, "optimizer", "RMSprop(lr=%s, alpha=%s, eps=%s, weight_decay=%s, momentum=%s, centered=%s)",
            fmt_num(a, sizeof a, o->lr), fmt_num(b, sizeof b, o->alpha), fmt_num(c, sizeof c, o->eps),
            fmt_num(d, sizeof d, o->weight_decay), fmt_num(e, sizeof e, o->momentum), o->centered ? "True" : "False");
    else if (o->kind == OPT_SGD)
        row(f, "optimizer", "SGD(lr=%s, momentum=%s, dampening=%s, weight_decay=%s, nesterov=%s)",
            fmt_num(a, sizeof a, o->lr), fmt_num(b, sizeof b, o->momentum), fmt_num(c, sizeof c, o->dampening),
            fmt_num(d, sizeof d, o->weight_decay), o->nesterov ? "True" : "False");
    if (p->sched.top.kind != LRS_NONE) {
        char buf[1024];
        lr_scheduler_describe(&p->sched, buf, sizeof buf);
        row(f, "scheduler", "%s", buf);
    }
    if (r->o.save_best) row(f, "--save-best", "the model file keeps the epoch with the best test accuracy");
    if (r->o.early_stop) row(f, "--early-stop", "%d epochs without a better test accuracy", r->o.early_stop);
    if (p->clip.kind == CLIP_NORM)
        row(f, "gradient clipping", "clip_grad_norm_(max_norm=%s, norm_type=%s)", fmt_num(a, sizeof a, p->clip.max_norm),
            isinf(p->clip.norm_type) ? "'inf'" : fmt_num(b, sizeof b, p->clip.norm_type));
    else if (p->clip.kind == CLIP_VALUE)
        row(f, "gradient clipping", "clip_grad_value_(clip_value=%s)", fmt_num(a, sizeof a, p->clip.clip_value));
    for (int k = 0; k < o->ngroups; k++) {
        const ParamGroup *gr = &o->groups[k];
        char sel[OPT_MAX_SELECT * 100] = "", key[32];
        for (int j = 0; j < gr->nselect; j++)
            snprintf(sel + strlen(sel), sizeof sel - strlen(sel), "%s'%s'", j ? ", " : "", gr->select[j]);
        snprintf(key, sizeof key, "parameter group %d", k + 1);
        row(f, key, "params=[%s], lr=%s, weight_decay=%s", sel, fmt_num(a, sizeof a, gr->lr),
            fmt_num(b, sizeof b, gr->weight_decay));
    }
    if (p->overrides) row(f, "command line", "%s (--lr, --batch-size, --weight-decay over the file's values)", p->overrides);
    struct { const char *name; const DatasetDecl *d; const Dataset *ds; int has; } sets[3] = {
        { "train", &p->train, &s->train, s->has_train },
        { "test", &p->test, &s->test, s->has_test },
        { "validation", &p->validation, &s->validation, s->has_validation },
    };
    for (int i = 0; i < 3; i++) {
        if (!sets[i].has) continue;
        char k[64];
        snprintf(k, sizeof k, "%s set", sets[i].name);
        row(f, k, "%s: %d images, %d classes, batch_size=%d, shuffle=%s", sets[i].ds->root, sets[i].ds->n,
            sets[i].ds->nclasses, sets[i].d->batch_size, sets[i].d->shuffle ? "True" : "False");
        snprintf(k, sizeof k, "%s transform", sets[i].name);
        fprintf(f, "<tr><th>%s</th><td>", k);
        transform_text(f, &sets[i].d->transform);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "<tr><th>classes</th><td>");
    for (int i = 0; i < s->nclasses; i++) {
        fprintf(f, "%s%d: ", i ? ", " : "", i);
        esc(f, s->classes[i]);
    }
    fprintf(f, "</td></tr>\n");
    if (r->o.out_path) row(f, "model file", "%s", r->o.out_path);
    double secs = 0;
    for (int i = 0; i < r->nep; i++) secs += r->ep[i].seconds;
    row(f, "training time", "%.1f s", secs);
    fprintf(f, "</table>\n");
}

static const char style[] =
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
    ".plots{display:flex;flex-wrap:wrap;gap:16px}"
    "table{border-collapse:collapse}th,td{padding:3px 8px;text-align:left}"
    ".confusion td{text-align:right;min-width:36px;border:1px solid #ddd}.confusion td.dark{color:#fff}"
    ".confusion td.acc{background:none;color:#222}.cms{display:flex;flex-wrap:wrap;gap:32px}"
    ".settings th{color:#555;font-weight:normal;vertical-align:top}.settings td{font-family:monospace}"
    ".grid td{vertical-align:top;padding:4px}.grid th{text-align:center}"
    ".grid figure{margin:0;padding:3px;border:3px solid transparent;text-align:center}"
    ".grid figure.wrong{border-color:#d62728;background:#fdecea}"
    ".grid img{display:block;margin:auto;image-rendering:pixelated}"
    ".grid figcaption{font-size:13px;max-width:130px}.mark{color:#d62728;font-weight:bold}"
    ".epochs td{text-align:right}pre{background:#f6f6f6;padding:10px;overflow-x:auto}";

/* --save-best's kept epoch and --early-stop's stop, as the run's log said them */
static void kept_and_stopped(FILE *f, const Report *r)
{
    BestEpoch b = { 0 };
    for (int i = 0; i < r->nep; i++)
        if (r->ep[i].has_test) best_epoch_update(&b, r->ep[i].epoch, r->ep[i].test_correct, r->ep[i].test_total,
                                                 r->ep[i].test_loss);
    int planned = r->nep ? r->ep[r->nep - 1].epochs : 0;
    if (r->o.early_stop && r->nep < planned && b.since >= r->o.early_stop)
        fprintf(f, " Stopped early after epoch %d of %d: no better test accuracy for %d epochs (--early-stop %d).",
                r->nep, planned, b.since, r->o.early_stop);
    if (r->o.save_best && b.epoch)
        fprintf(f, " Kept epoch %d (--save-best): test accuracy %.2f%% (%d/%d), test loss %.4f; the confusion matrices "
                   "and predictions below are its.", b.epoch, 100.0 * b.correct / (b.total ? b.total : 1), b.correct,
                b.total, b.loss);
}

int report_write(Report *r, Graph *g, const Sets *s, const char *path, FILE *log, Error *e)
{
    const Program *p = r->p;
    Preds test = { 0 }, val = { 0 };
    if (s->has_test && predict_set(g, &s->test, &p->test, r->o.loader.skip_bad, &test, e) < 0) return -1;
    if (s->has_validation && predict_set(g, &s->validation, &p->validation, r->o.loader.skip_bad, &val, e) < 0) {
        preds_free(&test);
        return -1;
    }
    char *html = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&html, &len);
    if (!f) {
        preds_free(&test);
        preds_free(&val);
        return err_set(e, "cannot write %s: out of memory", path);
    }
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&r->started));
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>");
    esc(f, p->model_name);
    fprintf(f, ": cnnc training report</title>\n<style>%s</style></head><body>\n<h1>", style);
    esc(f, p->model_name);
    fprintf(f, " trained on %d images, %d epoch%s</h1>\n<p>", s->train.n, r->nep, r->nep == 1 ? "" : "s");
    esc(f, p->path);
    fprintf(f, ", started %s, seed %llu.", when, (unsigned long long)r->o.seed);
    if (s->has_validation)
        fprintf(f, " Validation: %d/%d correct (%.1f%%).", val.correct, val.n, val.n ? 100.0 * val.correct / val.n : 0.0);
    kept_and_stopped(f, r);
    fprintf(f, "</p>\n");

    /* curves */
    int n = r->nep;
    double *v[4];
    for (int i = 0; i < 4; i++) v[i] = xcalloc((size_t)(n ? n : 1), sizeof *v[i]);
    int has_test = n && r->ep[0].has_test;
    for (int i = 0; i < n; i++) {
        const EpochStats *x = &r->ep[i];
        v[0][i] = x->train_loss;
        v[1][i] = x->test_loss;
        v[2][i] = x->train_total ? 100.0 * x->train_correct / x->train_total : 0;
        v[3][i] = x->test_total ? 100.0 * x->test_correct / x->test_total : 0;
    }
    static const char *const labels_loss[2] = { "Training Loss", "Test Loss" };
    static const char *const labels_acc[2] = { "Training Accuracy", "Test Accuracy" };
    static const char *const cls[2] = { "train", "test" };
    fprintf(f, "<h2>Loss and accuracy per epoch</h2>\n<div class=\"plots\">\n");
    const double *loss[2] = { v[0], v[1] }, *acc[2] = { v[2], v[3] };
    svg_plot(f, has_test ? "Training and Testing Loss Over Epochs" : "Training Loss Over Epochs", "Loss", n, loss,
             labels_loss, cls, has_test ? 2 : 1, 0);
    svg_plot(f, has_test ? "Training and Testing Accuracy Over Epochs" : "Training Accuracy Over Epochs",
             "Accuracy", n, acc, labels_acc, cls, has_test ? 2 : 1, 1);
    int sched = p->sched.top.kind != LRS_NONE;
    if (sched) {    /* the lr each epoch started with */
        static const char *const labels_lr[1] = { "Learning Rate" };
        for (int i = 0; i < n; i++) v[0][i] = r->ep[i].lr;
        const double *lr[1] = { v[0] };
        svg_plot(f, "Learning Rate Over Epochs", "lr", n, lr, labels_lr, cls, 1, 0);
    }
    fprintf(f, "</div>\n");
    for (int i = 0; i < 4; i++) free(v[i]);

    int rc = 0;
    if (s->has_validation) {
        fprintf(f, "<h2>Predicted labels of the validation images</h2>\n");
        rc = image_grid(f, &val, &s->validation, s, e);
    }
    if (rc == 0 && (s->has_test || s->has_validation)) {
        fprintf(f, "<h2>Confusion matrices and per-class accuracy</h2>\n<p>Rows: the true class; columns: the "
                   "predicted class.</p>\n<div class=\"cms\">\n");
        if (s->has_test) confusion(f, "Test set", &test, s);
        if (s->has_validation) confusion(f, "Validation set", &val, s);
        fprintf(f, "</div>\n");
    }
    if (rc == 0) {
        fprintf(f, "<h2>Per epoch</h2>\n<table class=\"epochs\"><tr><th>epoch</th><th>train loss</th>"
                   "<th>train correct</th>%s%s<th>seconds</th></tr>\n",
                has_test ? "<th>test loss</th><th>test correct</th>" : "", sched ? "<th>lr</th>" : "");
        for (int i = 0; i < n; i++) {
            const EpochStats *x = &r->ep[i];
            fprintf(f, "<tr><td>%d</td><td>%.4f</td><td>%d/%d</td>", x->epoch, x->train_loss, x->train_correct,
                    x->train_total);
            if (has_test) fprintf(f, "<td>%.4f</td><td>%d/%d</td>", x->test_loss, x->test_correct, x->test_total);
            if (sched) fprintf(f, "<td>%.6g</td>", x->lr);
            fprintf(f, "<td>%.2f</td></tr>\n", x->seconds);
        }
        fprintf(f, "</table>\n<h2>Model</h2>\n<pre class=\"summary\">");
        esc(f, r->summary ? r->summary : "");
        fprintf(f, "</pre>\n<h2>Hyperparameters</h2>\n");
        settings(f, r, s);
        fprintf(f, "<h2>Source</h2>\n<pre class=\"source\">");
        esc(f, p->source ? p->source : "");
        fprintf(f, "</pre>\n<p><small>Written by cnnc.</small></p>\n</body></html>\n");
    }
    fclose(f);
    if (rc == 0) rc = write_file_atomic(path, html, len, e);
    if (rc == 0) fprintf(log, "Wrote report to %s\n", path);
    free(html);
    preds_free(&test);
    preds_free(&val);
    return rc;
}
