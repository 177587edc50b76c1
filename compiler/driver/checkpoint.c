/* compiler/driver/checkpoint.c: saving and restoring training checkpoints (see checkpoint.h). */
#include "checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/modelfile.h"
#include "../../runtime/safetensors.h"

#define CKPT_FORMAT "cnnc-checkpoint-1"

int checkpoint_save(const char *path, const Graph *g, const char *source, const TrainState *ts, Error *e)
{
    int n = 0;
    for (int i = 0; i < g->nvals; i++) n += model_value_saved(&g->vals[i]) || g->vals[i].kind == VK_STATE;
    StTensor *t = xcalloc(n ? (size_t)n : 1, sizeof *t);
    int k = 0;
    for (int i = 0; i < g->nvals; i++) {
        const Value *v = &g->vals[i];
        if (!model_value_saved(v) && v->kind != VK_STATE) continue;
        t[k].name = v->name;
        t[k].dtype = model_value_st_dtype(v);
        t[k].ndim = v->ndim;
        for (int d = 0; d < v->ndim; d++) t[k].shape[d] = v->shape[d];
        t[k].data = v->data;
        k++;
    }
    char epoch[24], batch[24], step[24], seed[24], threads[24], ranks[24], correct[24], images[24], loss[64], rng[80];
    snprintf(epoch, sizeof epoch, "%d", ts->epoch);
    snprintf(batch, sizeof batch, "%d", ts->batch);
    snprintf(step, sizeof step, "%" PRId64, g->step);
    snprintf(seed, sizeof seed, "%" PRIu64, ts->seed);
    snprintf(threads, sizeof threads, "%d", ts->threads);
    snprintf(ranks, sizeof ranks, "%d", ts->ranks > 0 ? ts->ranks : 1);
    snprintf(correct, sizeof correct, "%" PRId64, ts->correct);
    snprintf(images, sizeof images, "%" PRId64, ts->images);
    snprintf(loss, sizeof loss, "%a", ts->loss_sum);   /* hexadecimal: exact */
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, g->rng.s[0], g->rng.s[1],
             g->rng.s[2], g->rng.s[3]);
    StMeta meta[] = {
        { "format", CKPT_FORMAT }, { "epoch", epoch },     { "batch", batch },       { "step", step },
        { "seed", seed },          { "threads", threads }, { "loss_sum", loss },     { "correct", correct },
        { "images", images },      { "rng", rng },         { "cnnc_source", source ? source : "" },
        { "history", ts->history ? ts->history : "" }, { "ranks", ranks },
    };
    int rc = safetensors_write(path, t, n, meta, (int)(sizeof meta / sizeof meta[0]), e);
    free(t);
    return rc;
}

/* metadata key as an integer in [lo, hi] */
static int meta_int(const StFile *f, const char *path, const char *key, int64_t lo, int64_t hi, int64_t *out, Error *e)
{
    const char *s = safetensors_meta(f, key);
    if (!s) return err_set(e, "%s: not a cnnc checkpoint (no \"%s\" in its metadata)", path, key);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return err_set(e, "%s: checkpoint metadata \"%s\" is '%.40s', not an integer from %lld to %lld", path, key, s,
                       (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int parse_hex64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int c = s[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int word_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
           c >= 0x80;
}

/* The tokens of a .cnn source as the lexer sees them: comments (#, / * * /, and // where it
 * is not floor division: not after a value on the same line) dropped, strings kept as
 * written, whitespace kept only where it separates two words. The caller frees. */
char *checkpoint_source_tokens(const char *src)
{
    size_t n = strlen(src), k = 0;
    char *out = xmalloc(n + 1);
    int pending = 0, operand = 0;       /* whitespace seen; the last token was a value on this line */
    for (size_t i = 0; i < n;) {
        char c = src[i];
        if (c == '\\' && (src[i + 1] == '\n' || (src[i + 1] == '\r' && src[i + 2] == '\n'))) {
            i += src[i + 1] == '\n' ? 2 : 3;
            pending = 1;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\n') {
            if (c == '\n') operand = 0;
            pending = 1;
            i++;
        } else if (c == '#' || (c == '/' && src[i + 1] == '/' && !operand)) {
            while (i < n && src[i] != '\n') i++;
            pending = 1;
        } else if (c == '/' && src[i + 1] == '*') {
            const char *end = strstr(src + i + 2, "*/");
            for (size_t j = i; j < (end ? (size_t)(end - src) : n); j++)
                if (src[j] == '\n') operand = 0;
            i = end ? (size_t)(end - src) + 2 : n;
            pending = 1;
        } else {
            if (pending && k > 0 && word_char((unsigned char)out[k - 1]) && word_char((unsigned char)c)) out[k++] = ' ';
            pending = 0;
            if (c == '"' || c == '\'') {      /* a string, to its closing quote or the line's end */
                out[k++] = src[i++];
                while (i < n && src[i] != c && src[i] != '\n') {
                    if (src[i] == '\\' && i + 1 < n) out[k++] = src[i++];
                    out[k++] = src[i++];
                }
                if (i < n && src[i] == c) out[k++] = src[i++];
                operand = 1;
            } else {
                out[k++] = src[i++];
                operand = word_char((unsigned char)c) || c == ')' || c == ']';
            }
        }
    }
    out[k] = 0;
    return out;
}

static int same_program(const char *a, const char *b)
{
    char *ta = checkpoint_source_tokens(a), *tb = checkpoint_source_tokens(b);
    int same = strcmp(ta, tb) == 0;
    free(ta);
    free(tb);
    return same;
}

static int load_meta(const StFile *f, const char *path, Graph *g, const char *source, TrainState *ts, Error *e)
{
    const char *fmt = safetensors_meta(f, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0)
        return err_set(e, "%s: not a cnnc checkpoint (metadata format is '%.40s', expected '%s'): give --resume a file "
                          "written by --checkpoint", path, fmt ? fmt : "(none)", CKPT_FORMAT);
    const char *src = safetensors_meta(f, "cnnc_source");
    if (!src || !same_program(src, source ? source : ""))
        return err_set(e, "%s: the checkpoint was written for a different .cnn file (its model or settings differ, "
                          "not only comments or layout): resume with the file it was trained from, or train from "
                          "scratch without --resume", path);
    int64_t epoch, batch, step, seed, threads, correct, images;
    if (meta_int(f, path, "epoch", 0, 1000000, &epoch, e) || meta_int(f, path, "batch", 0, INT32_MAX, &batch, e) ||
        meta_int(f, path, "step", 0, INT64_MAX, &step, e) || meta_int(f, path, "seed", 0, INT64_MAX, &seed, e) ||
        meta_int(f, path, "threads", 1, 1024, &threads, e) || meta_int(f, path, "correct", 0, INT64_MAX, &correct, e) ||
        meta_int(f, path, "images", 0, INT64_MAX, &images, e))
        return -1;
    if (correct > images)
        return err_set(e, "%s: checkpoint metadata is inconsistent (%lld correct of %lld images)", path,
                       (long long)correct, (long long)images);
    const char *loss = safetensors_meta(f, "loss_sum"), *rng = safetensors_meta(f, "rng");
    char *end = NULL;
    double lsum = loss ? strtod(loss, &end) : 0;
    if (!loss || end == loss || *end)
        return err_set(e, "%s: checkpoint metadata \"loss_sum\" is missing or not a number", path);
    uint64_t s[4];
    if (!rng || strlen(rng) != 64 || parse_hex64(rng, &s[0]) || parse_hex64(rng + 16, &s[1]) ||
        parse_hex64(rng + 32, &s[2]) || parse_hex64(rng + 48, &s[3]))
        return err_set(e, "%s: checkpoint metadata \"rng\" is missing or not 64 hexadecimal digits", path);
    ts->epoch = (int)epoch;
    ts->batch = (int)batch;
    ts->loss_sum = lsum;
    ts->correct = correct;
    ts->images = images;
    ts->seed = (uint64_t)seed;
    ts->threads = (int)threads;
    ts->ranks = 1;                      /* "ranks": absent in checkpoints before MPI */
    int64_t ranks;
    if (safetensors_meta(f, "ranks")) {
        if (meta_int(f, path, "ranks", 1, 1 << 20, &ranks, e)) return -1;
        ts->ranks = (int)ranks;
    }
    g->step = step;
    memcpy(g->rng.s, s, sizeof s);
    return 0;
}

int checkpoint_history_line(const char **cursor, double *v)
{
    const char *c = *cursor;
    if (!*c) return 0;
    v[CKPT_HISTORY_FIELDS - 1] = NAN;
    for (int i = 0; i < CKPT_HISTORY_FIELDS; i++) {
        char *end;
        if (*c == ' ' || *c == '\n') return -1;
        v[i] = strtod(c, &end);
        if (i == CKPT_HISTORY_FIELDS - 2 && *end == '\n') {    /* a line without the last field */
            c = end + 1;
            break;
        }
        if (end == c || *end != (i + 1 < CKPT_HISTORY_FIELDS ? ' ' : '\n')) return -1;
        if ((CKPT_HISTORY_INTS >> i & 1) && !(v[i] >= 0 && v[i] <= INT32_MAX && v[i] == (double)(int32_t)v[i]))
            return -1;
        c = end + 1;
    }
    *cursor = c;
    return 1;
}

int checkpoint_restore(const StFile *f, const char *path, Graph *g, const char *source, TrainState *ts, Error *e)
{
    /* everything is checked before anything in g changes */
    Graph probe = *g;
    int rc = load_meta(f, path, &probe, source, ts, e);
    const char *history = safetensors_meta(f, "history"), *cur = history;
    double v[CKPT_HISTORY_FIELDS];
    int line;
    while (rc == 0 && cur && (line = checkpoint_history_line(&cur, v)) != 0)
        if (line < 0) {
            int len = (int)strcspn(cur, "\n");
            rc = err_set(e, "%s: checkpoint metadata \"history\" is malformed at '%.*s'", path, len < 40 ? len : 40, cur);
        }
    if (rc == 0) {   /* a dry run over copies of the values with no storage: names and shapes only */
        Value *saved = g->vals, *dry = xmalloc((size_t)g->nvals * sizeof *dry);
        memcpy(dry, g->vals, (size_t)g->nvals * sizeof *dry);
        for (int i = 0; i < g->nvals; i++) dry[i].data = NULL;
        g->vals = dry;
        rc = model_load_values(g, f, path, 1, e);
        g->vals = saved;
        free(dry);
    }
    ts->history = NULL;
    if (rc == 0) {
        model_load_values(g, f, path, 1, e);
        g->step = probe.step;
        g->rng = probe.rng;
        if (history && *history) ts->history = xstrdup(history);
    }
    return rc;
}

int checkpoint_load(const char *path, Graph *g, const char *source, TrainState *ts, Error *e)
{
    StFile f;
    ts->history = NULL;
    if (safetensors_read(&f, path, e) < 0) return -1;
    int rc = checkpoint_restore(&f, path, g, source, ts, e);
    safetensors_free(&f);
    return rc;
}
