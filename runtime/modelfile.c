/* runtime/modelfile.c: saving and loading model files (see modelfile.h). */
#include "modelfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Whether v is saved in model files: parameters and buffers (BatchNorm's running stats) */
int model_value_saved(const Value *v) { return v->kind == VK_PARAM || v->kind == VK_BUFFER; }

StDType model_value_st_dtype(const Value *v)
{
    return v->dtype == DT_I64 ? ST_I64 : v->dtype == DT_I32 ? ST_I32 : ST_F32;
}

static const char *st_dtype_name(StDType t)
{
    return t == ST_F32 ? "float32" : t == ST_I64 ? "int64" : t == ST_I32 ? "int32" : "uint8";
}

/* ["a", "b"] with JSON escapes; the caller frees */
static char *classes_json(char *const *classes, int n)
{
    JsonBuf b = { 0 };
    json_buf_puts(&b, "[");
    for (int i = 0; i < n; i++) {
        if (i) json_buf_puts(&b, ", ");
        json_buf_string(&b, classes[i]);
    }
    json_buf_puts(&b, "]");
    return b.p;
}

int model_save(const Graph *g, const char *path, char *const *classes, int nclasses,
               const char *source, Error *e)
{
    return model_save_overrides(g, path, classes, nclasses, source, NULL, e);
}

int model_save_overrides(const Graph *g, const char *path, char *const *classes, int nclasses,
                         const char *source, const char *overrides, Error *e)
{
    int np = 0;
    for (int i = 0; i < g->nvals; i++) np += model_value_saved(&g->vals[i]);
    StTensor *t = xcalloc((size_t)np ? (size_t)np : 1, sizeof *t);
    int k = 0;
    for (int i = 0; i < g->nvals; i++) {
        const Value *v = &g->vals[i];
        if (!model_value_saved(v)) continue;
        t[k].name = v->name;
        t[k].dtype = model_value_st_dtype(v);
        t[k].ndim = v->ndim;
        for (int d = 0; d < v->ndim; d++) t[k].shape[d] = v->shape[d];
        t[k].data = v->data;
        k++;
    }
    char *cls = classes_json(classes, classes ? nclasses : 0);
    StMeta meta[4] = {
        { "format", "pt" },
        { "classes", cls },
        { "cnnc_source", source ? source : "" },
        { "cnnc_overrides", overrides },
    };
    int rc = safetensors_write(path, t, np, meta, overrides ? 4 : 3, e);
    free(cls);
    free(t);
    return rc;
}

static void dims_str(const int64_t *s, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? " x " : "", (long long)s[i]);
    if (n == 0) snprintf(buf, cap, "scalar");
}

/* A float32 tensor holding NaN or an infinity is refused: it comes from a diverged or
 * damaged run, and every prediction made with it would be NaN */
static int check_finite(const StEntry *t, const char *path, Error *e)
{
    if (t->dtype != ST_F32) return 0;
    const unsigned char *raw = t->data;    /* the file's bytes: not necessarily aligned */
    for (size_t k = 0; k < t->nbytes / sizeof(float); k++) {
        float x;
        memcpy(&x, raw + k * sizeof x, sizeof x);
        if (!isfinite(x))
            return err_set(e, "%s: tensor '%s' holds %s at element %zu: the file comes from a run whose training "
                              "diverged or is damaged; train again (lower the learning rate if the loss grew)",
                           path, t->name, isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf", k);
    }
    return 0;
}

/* Copies the tensors of f into g's values of kind `kind` (VK_PARAM, or VK_STATE too when
 * `with_state`): f must hold exactly those, with the same names, dtypes and shapes. */
int model_load_values(Graph *g, const StFile *f, const char *path, int with_state, Error *e)
{
    graph_params_changed(g);    /* even a failed load may have written some */
    int np = 0;
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (!model_value_saved(v) && !(with_state && v->kind == VK_STATE)) continue;
        np++;
        const StEntry *t = safetensors_find(f, v->name);
        if (!t)
            return err_set(e, "%s: has no tensor '%s' that the model needs: was it saved from a different .cnn model?",
                           path, v->name);
        int64_t want[CN_MAX_DIMS];
        for (int d = 0; d < v->ndim; d++) want[d] = v->shape[d];
        StDType dt = model_value_st_dtype(v);
        int same = t->dtype == dt && t->ndim == v->ndim;
        for (int d = 0; same && d < v->ndim; d++) same = t->shape[d] == want[d];
        if (!same) {
            char a[96], b[96];
            dims_str(want, v->ndim, a, sizeof a);
            dims_str(t->shape, t->ndim, b, sizeof b);
            char not_dt[24] = "";
            if (t->dtype != dt) snprintf(not_dt, sizeof not_dt, " (not %s)", st_dtype_name(dt));
            return err_set(e, "%s: tensor '%s' is %s%s but the model expects %s %s: was it saved from a different .cnn model?",
                           path, v->name, b, not_dt, a, st_dtype_name(dt));
        }
        if (t->nbytes != value_bytes(v))    /* implied by the shape check; never copy past either end */
            return err_set(e, "%s: tensor '%s' holds %zu bytes, not %zu", path, v->name, t->nbytes, value_bytes(v));
        if (check_finite(t, path, e) < 0) return -1;
        if (v->data) memcpy(v->data, t->data, t->nbytes);
    }
    if (f->nt != np) {
        for (int i = 0; i < f->nt; i++) {
            int found = 0;
            for (int j = 0; j < g->nvals && !found; j++)
                found = (model_value_saved(&g->vals[j]) || (with_state && g->vals[j].kind == VK_STATE)) &&
                        strcmp(g->vals[j].name, f->t[i].name) == 0;
            if (!found)
                return err_set(e, "%s: tensor '%s' is not a parameter of this model: was it saved from a different .cnn model?",
                               path, f->t[i].name);
        }
    }
    return 0;
}

/* The values model_load_start loads, and their dtype: those a model file holds (parameters
 * and buffers such as BatchNorm's running statistics) */
static int start_value(const Value *v) { return model_value_saved(v); }
static StDType start_dtype(const Value *v) { return model_value_st_dtype(v); }

/* One difference between a file's tensor and the model's, for model_load_start's messages */
static void describe_difference(char *buf, size_t cap, const Value *v, const StEntry *t, const char *tname)
{
    char a[96], b[96];
    if (!t) {
        snprintf(buf, cap, "the model's %s is not in the file", v->name);
    } else if (!v) {
        snprintf(buf, cap, "%s is not in the model", tname);
    } else {
        int64_t want[CN_MAX_DIMS];
        for (int d = 0; d < v->ndim; d++) want[d] = v->shape[d];
        dims_str(want, v->ndim, a, sizeof a);
        dims_str(t->shape, t->ndim, b, sizeof b);
        snprintf(buf, cap, "%s is %s%s, the model's %s", v->name, b, t->dtype == start_dtype(v) ? "" : " (another dtype)", a);
    }
}

static int entry_matches(const Value *v, const StEntry *t)
{
    int same = t->dtype == start_dtype(v) && t->ndim == v->ndim && t->nbytes == value_bytes(v);
    for (int d = 0; same && d < v->ndim; d++) same = t->shape[d] == v->shape[d];
    return same;
}

int model_load_start(Graph *g, const StFile *f, const char *path, int partial, FILE *warn, Error *e)
{
    graph_params_changed(g);
    char list[1400] = "", item[320];
    size_t len = 0;
    int nparams = 0, loaded = 0, differ = 0;
    /* the differences, the model's order first, then the file's tensors the model lacks */
    for (int pass = 0; pass < 2; pass++) {
        int count = pass == 0 ? g->nvals : f->nt;
        for (int i = 0; i < count; i++) {
            const Value *v = NULL;
            const StEntry *t = NULL;
            if (pass == 0) {
                v = &g->vals[i];
                if (!start_value(v)) continue;
                nparams++;
                t = safetensors_find(f, v->name);
                if (t && entry_matches(v, t)) {
                    loaded++;
                    continue;
                }
            } else {
                t = &f->t[i];
                int found = 0;
                for (int j = 0; j < g->nvals && !found; j++)
                    found = start_value(&g->vals[j]) && strcmp(g->vals[j].name, t->name) == 0;
                if (found) continue;
            }
            describe_difference(item, sizeof item, v, t, t ? t->name : NULL);
            if (differ++ < 4 && len < sizeof list)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? "; " : "", item);
        }
    }
    if (differ > 4 && len < sizeof list) snprintf(list + len, sizeof list - len, "; and %d more", differ - 4);
    if (!partial && differ)
        return err_set(e, "%s does not match the model (%d difference%s): %s; use --weights-partial %s to load only the "
                          "tensors that match", path, differ, differ == 1 ? "" : "s", list, path);
    if (partial && loaded == 0)
        return err_set(e, "%s: none of its tensors matches the model by name and shape: was it saved from another kind "
                          "of model?", path);
    for (int i = 0; i < g->nvals; i++) {
        const StEntry *t = start_value(&g->vals[i]) ? safetensors_find(f, g->vals[i].name) : NULL;
        if (t && entry_matches(&g->vals[i], t) && check_finite(t, path, e) < 0) return -1;
    }
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        const StEntry *t = start_value(v) ? safetensors_find(f, v->name) : NULL;
        if (t && entry_matches(v, t) && v->data) memcpy(v->data, t->data, t->nbytes);
    }
    if (differ && warn)
        fprintf(warn, "cnnc: --weights-partial %s: loaded %d of the model's %d tensors; skipped: %s\n", path, loaded,
                nparams, list);
    return 0;
}

int model_load(Graph *g, const char *path, StFile *meta_out, Error *e)
{
    StFile f;
    if (safetensors_read(&f, path, e) < 0) return -1;
    const char *fmt = safetensors_meta(&f, "format");
    if (fmt && strncmp(fmt, "cnnc-checkpoint", 15) == 0) {
        safetensors_free(&f);
        return err_set(e, "%s: this is a checkpoint, not a model file: use --resume %s with --train to continue "
                          "that run, or give the model file it writes", path, path);
    }
    if (model_load_values(g, &f, path, 0, e) < 0) {
        safetensors_free(&f);
        return -1;
    }
    if (meta_out) *meta_out = f;
    else safetensors_free(&f);
    return 0;
}

int model_classes(const StFile *f, char ***names, int *n, Error *e)
{
    const char *s = safetensors_meta(f, "classes");
    if (!s) return err_set(e, "model file has no class names");
    JsonDoc doc;
    if (json_parse(&doc, s, strlen(s), "model file's class names", e) < 0) return -1;
    const JsonValue *v = &doc.root;
    int ok = v->type == JSON_ARRAY;
    for (size_t i = 0; ok && i < v->n; i++) ok = v->items[i].type == JSON_STRING;
    if (!ok) {
        json_free(&doc);
        return err_set(e, "model file's class names are not a list of strings");
    }
    *n = (int)v->n;
    *names = xcalloc(v->n ? v->n : 1, sizeof **names);
    for (size_t i = 0; i < v->n; i++) (*names)[i] = xstrdup(v->items[i].str);
    json_free(&doc);
    return 0;
}
