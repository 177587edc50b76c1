/* compiler/frontend/transform_calls.c: the torchvision transforms as .cnn calls: their parameters and
 * torchvision 0.14's checks (transforms.py's _setup_size, _check_input, ...), and the shape
 * rule of each, so a pipeline whose output does not fit the model is refused at its line. */
#include "transform_calls.h"

#include <float.h>
#include <math.h>
#include <string.h>

static TfObj *tf_one(Ctx *c, const AstNode *call, TransformKind kind)
{
    TfObj *t = arena_alloc(&c->arena, sizeof *t);
    t->n = 1;
    t->steps = arena_alloc(&c->arena, sizeof *t->steps);
    t->at = arena_alloc(&c->arena, sizeof *t->at);
    memset(t->steps, 0, sizeof *t->steps);
    t->steps[0].kind = kind;
    t->at[0] = call->loc;
    return t;
}

static Val *tf_val(Ctx *c, const AstNode *call, TfObj *t, const char *name)
{
    Val *v = val_new(c, VAL_OBJ, call);
    v->obj_kind = OBJ_TRANSFORM;
    v->what = arena_printf(&c->arena, "a %s transform", name);
    v->obj = t;
    return v;
}

static int is_num(const Val *v) { return v && (v->kind == VAL_INT || v->kind == VAL_FLOAT); }
static double num(const Val *v) { return v->kind == VAL_INT ? (double)v->i : v->f; }
static int is_seq(const Val *v) { return v && (v->kind == VAL_LIST || v->kind == VAL_TUPLE); }

/* a number in [lo, hi] */
static int arg_between(Ctx *c, const Args *a, int i, double dflt, double lo, double hi, double *out)
{
    char b1[32], b2[32], b3[32];
    if (arg_float(c, a, i, dflt, out)) return -1;
    if (!(*out >= lo && *out <= hi))
        return diag_error(c->diag, arg_loc(a, i), "%s must be between %s and %s, got %s", a->params[i].name,
                          fmt_num(b1, sizeof b1, lo), fmt_num(b2, sizeof b2, hi), fmt_num(b3, sizeof b3, *out));
    return 0;
}

/* torchvision's _setup_size: an int, or a sequence of one (square) or two (h, w) ints.
 * With single_edge, an int (or one value) means Resize's smaller edge: out[1] = 0. */
static int size_arg(Ctx *c, const Args *a, int i, int single_edge, int out[2])
{
    const Val *v = a->v[i];
    const char *name = a->params[i].name;
    const Val *items[2] = { v, NULL };
    int n = 1;
    if (is_seq(v)) {
        if (v->n != 1 && v->n != 2)
            return diag_error(c->diag, v->at->loc, "%s must be an integer or a sequence of 1 or 2 integers (h, w), "
                              "got %d values", name, v->n);
        n = v->n;
        items[0] = v->items[0];
        items[1] = n == 2 ? v->items[1] : NULL;
    }
    for (int k = 0; k < n; k++) {
        if (items[k]->kind != VAL_INT)
            return diag_error(c->diag, items[k]->at->loc, "%s must be an integer or a sequence of integers (h, w), "
                              "got %s", name, val_what(items[k]));
        if (items[k]->i < 1 || items[k]->i > 65536)
            return diag_error(c->diag, items[k]->at->loc, "%s must be from 1 to 65536, got %lld", name,
                              (long long)items[k]->i);
        out[k] = (int)items[k]->i;
    }
    if (n == 1) out[1] = single_edge ? 0 : out[0];
    return 0;
}

/* a pair of numbers lo <= hi, or (with single) one number d meaning (-d, d) */
static int pair_arg(Ctx *c, const Args *a, int i, double d0, double d1, int single, double out[2])
{
    const Val *v = a->v[i];
    const char *name = a->params[i].name;
    out[0] = d0;
    out[1] = d1;
    if (!v) return 0;
    if (single && is_num(v)) {
        if (num(v) < 0)
            return diag_error(c->diag, v->at->loc, "if %s is a single number, it must be positive", name);
        out[0] = -num(v);
        out[1] = num(v);
        return 0;
    }
    if (!is_seq(v) || v->n != 2 || !is_num(v->items[0]) || !is_num(v->items[1]))
        return diag_error(c->diag, v->at->loc, "%s must be %sa pair of numbers (min, max), got %s", name,
                          single ? "a number or " : "", val_what(v));
    out[0] = num(v->items[0]);
    out[1] = num(v->items[1]);
    if (out[0] > out[1])
        return diag_error(c->diag, v->at->loc, "%s must be (min, max) with min <= max", name);
    return 0;
}

/* fill: a number or one number per channel, each 0 to 255 (8-bit images) */
static int fill_arg(Ctx *c, const Args *a, int i, Transform *t)
{
    const Val *v = a->v[i];
    if (!v || v->kind == VAL_NONE) return 0;
    const Val *one[1] = { v };
    const Val *const *items = one;
    int n = 1;
    if (is_seq(v)) {
        if (v->n < 1 || v->n > 4)
            return diag_error(c->diag, v->at->loc, "fill must be a number or one number per channel, got %d values",
                              v->n);
        items = (const Val *const *)v->items;
        n = v->n;
    }
    for (int k = 0; k < n; k++) {
        if (!is_num(items[k]))
            return diag_error(c->diag, items[k]->at->loc, "fill must hold numbers, got %s", val_what(items[k]));
        double f = num(items[k]);
        if (!(f >= 0 && f < 256))
            return diag_error(c->diag, items[k]->at->loc, "fill must be from 0 to 255 on 8-bit images");
        t->fill[k] = (uint8_t)(int)f;           /* torchvision's int(x) */
    }
    t->nfill = n;
    return 0;
}

static int must_be_false(Ctx *c, const Args *a, int i, const char *why)
{
    int b;
    if (arg_bool(c, a, i, 0, &b)) return -1;
    if (b) return diag_error(c->diag, arg_loc(a, i), "%s=True is not supported: %s", a->params[i].name, why);
    return 0;
}

/* ---- the transforms ---- */

static Val *call_totensor(Ctx *c, const AstNode *call, const char *name)
{
    static const Param none[] = { { NULL, 0 } };
    Args a;
    if (bind_args(c, call, name, none, &a)) return NULL;
    return tf_val(c, call, tf_one(c, call, TF_TO_TENSOR), name);
}

/* mean / std: a list of 1 to 4 numbers. */
static int num_list(Ctx *c, const Args *a, int i, float *out, int *n)
{
    const Val *v = a->v[i];
    const char *name = a->params[i].name;
    if (v->kind != VAL_LIST && v->kind != VAL_TUPLE)
        return diag_error(c->diag, v->at->loc, "%s must be a list of numbers, got %s", name, val_what(v));
    if (v->n == 0) return diag_error(c->diag, v->at->loc, "%s must not be empty", name);
    if (v->n > 4)
        return diag_error(c->diag, v->at->loc, "Normalize supports at most 4 channels, but %s has %d values", name,
                          v->n);
    for (int k = 0; k < v->n; k++) {
        const Val *x = v->items[k];
        if (!is_num(x)) return diag_error(c->diag, x->at->loc, "%s must hold numbers, got %s", name, val_what(x));
        double d = num(x);
        if (d > FLT_MAX || d < -FLT_MAX)
            return diag_error(c->diag, x->at->loc, "%s[%d] is too large for a float", name, k);
        out[k] = (float)d;
    }
    *n = v->n;
    return 0;
}

static Val *call_normalize(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "mean", 1 }, { "std", 1 }, { "inplace", 0 }, { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_NORMALIZE);
    Transform *tf = &t->steps[0];
    int nmean, nstd, inplace;
    if (bind_args(c, call, name, params, &a) || num_list(c, &a, 0, tf->mean, &nmean) ||
        num_list(c, &a, 1, tf->std, &nstd) || arg_bool(c, &a, 2, 0, &inplace)) return NULL;
    if (nmean != nstd)
        return diag_error(c->diag, arg_loc(&a, 1), "std has %d value%s but mean has %d", nstd, nstd == 1 ? "" : "s",
                          nmean), NULL;
    for (int i = 0; i < nstd; i++)
        if (tf->std[i] == 0)
            return diag_error(c->diag, a.v[1]->items[i]->at->loc, "std must not be 0 (Normalize divides by it)"), NULL;
    tf->nch = nmean;
    return tf_val(c, call, t, name);
}

/* the transforms of Compose([...]) or RandomApply([...]): a list, or (Compose) the
 * transforms themselves; flattened in order */
static TfObj *transform_list(Ctx *c, const AstNode *call, const char *name, Val **items, int n)
{
    if (n == 1 && is_seq(items[0])) {
        n = items[0]->n;
        items = items[0]->items;
    }
    int total = 0;
    for (int i = 0; i < n; i++) {
        if (items[i]->kind != VAL_OBJ || items[i]->obj_kind != OBJ_TRANSFORM)
            return diag_error(c->diag, items[i]->at->loc, "%s takes transforms, got %s", name, val_what(items[i])), NULL;
        total += ((TfObj *)items[i]->obj)->n;
    }
    TfObj *t = arena_alloc(&c->arena, sizeof *t);
    t->steps = arena_alloc(&c->arena, (size_t)(total ? total : 1) * sizeof *t->steps);
    t->at = arena_alloc(&c->arena, (size_t)(total ? total : 1) * sizeof *t->at);
    t->n = 0;
    for (int i = 0; i < n; i++) {
        const TfObj *s = items[i]->obj;
        memcpy(t->steps + t->n, s->steps, (size_t)s->n * sizeof *s->steps);
        memcpy(t->at + t->n, s->at, (size_t)s->n * sizeof *s->at);
        t->n += s->n;
    }
    (void)call;
    return t;
}

static Val *call_compose(Ctx *c, const AstNode *call, const char *name)
{
    /* Compose([a, b]) as torchvision writes it, or Compose(a, b) */
    Val **items = arena_alloc(&c->arena, (size_t)(call->nkids ? call->nkids : 1) * sizeof *items);
    int n = 0;
    for (int i = 0; i < call->nkids; i++) {
        const AstNode *arg = call->kids[i];
        if (arg->kind == A_KWARG) {
            if (strcmp(arg->str, "transforms")) {
                const char *cand[1] = { "transforms" };
                const char *dym = did_you_mean(arg->str, cand, 1);
                return diag_error(c->diag, arg->name_loc, "%s has no argument named %s%s", name, arg->str,
                                  dym ? "; did you mean transforms?" : ""), NULL;
            }
            if (call->nkids > 1)
                return diag_error(c->diag, arg->name_loc, "Compose takes either transforms=[...] or the transforms "
                                  "themselves, not both"), NULL;
            arg = arg->kids[0];
        }
        if (!(items[n++] = eval(c, arg))) return NULL;
    }
    TfObj *t = transform_list(c, call, name, items, n);
    return t ? tf_val(c, call, t, name) : NULL;
}

/* RandomHorizontalFlip(p=0.5), RandomVerticalFlip(p=0.5) */
static Val *call_flip(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "p", 0 }, { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, !strcmp(name, "RandomHorizontalFlip") ? TF_HFLIP : TF_VFLIP);
    if (bind_args(c, call, name, params, &a) || arg_between(c, &a, 0, 0.5, 0, 1, &t->steps[0].p)) return NULL;
    return tf_val(c, call, t, name);
}

/* RandomRotation(degrees, interpolation=NEAREST, expand=False, center=None, fill=0) */
static Val *call_rotation(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "degrees", 1 }, { "interpolation", 0 }, { "expand", 0 }, { "center", 0 },
                                    { "fill", 0 }, { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_ROTATION);
    Transform *tf = &t->steps[0];
    if (bind_args(c, call, name, params, &a) || pair_arg(c, &a, 0, 0, 0, 1, tf->degrees)) return NULL;
    if (a.v[1] && a.v[1]->kind != VAL_NONE)
        return diag_error(c->diag, arg_loc(&a, 1), "only the default interpolation (nearest) is supported"), NULL;
    if (must_be_false(c, &a, 2, "cnnc rotates within the same size") || fill_arg(c, &a, 4, tf)) return NULL;
    const Val *ctr = a.v[3];
    if (ctr && ctr->kind != VAL_NONE) {
        if (!is_seq(ctr) || ctr->n != 2 || !is_num(ctr->items[0]) || !is_num(ctr->items[1]))
            return diag_error(c->diag, ctr->at->loc, "center must be a pair of numbers (x, y), got %s",
                              val_what(ctr)), NULL;
        tf->has_center = 1;
        tf->center[0] = num(ctr->items[0]);
        tf->center[1] = num(ctr->items[1]);
    }
    return tf_val(c, call, t, name);
}

/* torchvision's ColorJitter._check_input: a number v gives [center - v, center + v] (the
 * low end clipped at 0 for all but hue), or a pair within the bound; (center, center) is off */
static int jitter_arg(Ctx *c, const Args *a, int i, double center, double lo, double hi, int clip, Transform *t,
                      int k)
{
    const Val *v = a->v[i];
    const char *name = a->params[i].name;
    char b1[32], b2[32];
    double r[2];
    if (!v || v->kind == VAL_NONE) return 0;
    if (is_num(v)) {
        if (num(v) < 0)
            return diag_error(c->diag, v->at->loc, "if %s is a single number, it must be non negative", name);
        r[0] = center - num(v);
        r[1] = center + num(v);
        if (clip && r[0] < 0) r[0] = 0;
        if (!clip && (r[0] < lo || r[1] > hi))
            return diag_error(c->diag, v->at->loc, "%s must be at most %s", name, fmt_num(b1, sizeof b1, hi));
    } else if (is_seq(v) && v->n == 2 && is_num(v->items[0]) && is_num(v->items[1])) {
        r[0] = num(v->items[0]);
        r[1] = num(v->items[1]);
        if (!(lo <= r[0] && r[0] <= r[1] && r[1] <= hi))
            return diag_error(c->diag, v->at->loc, "%s values should be between %s and %s, with min <= max", name,
                              fmt_num(b1, sizeof b1, lo), isinf(hi) ? "infinity" : fmt_num(b2, sizeof b2, hi));
    } else {
        return diag_error(c->diag, v->at->loc, "%s should be a single number or a pair (min, max), got %s", name,
                          val_what(v));
    }
    if (r[0] == center && r[1] == center) return 0;
    t->has_jitter[k] = 1;
    t->jitter[k][0] = r[0];
    t->jitter[k][1] = r[1];
    return 0;
}

/* ColorJitter(brightness=0, contrast=0, saturation=0, hue=0) */
static Val *call_color_jitter(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "brightness", 0 }, { "contrast", 0 }, { "saturation", 0 }, { "hue", 0 },
                                    { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_COLOR_JITTER);
    Transform *tf = &t->steps[0];
    if (bind_args(c, call, name, params, &a) || jitter_arg(c, &a, 0, 1, 0, INFINITY, 1, tf, JIT_BRIGHTNESS) ||
        jitter_arg(c, &a, 1, 1, 0, INFINITY, 1, tf, JIT_CONTRAST) ||
        jitter_arg(c, &a, 2, 1, 0, INFINITY, 1, tf, JIT_SATURATION) ||
        jitter_arg(c, &a, 3, 0, -0.5, 0.5, 0, tf, JIT_HUE)) return NULL;
    return tf_val(c, call, t, name);
}

/* RandomPerspective(distortion_scale=0.5, p=0.5, interpolation=BILINEAR, fill=0) */
static Val *call_perspective(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "distortion_scale", 0 }, { "p", 0 }, { "interpolation", 0 }, { "fill", 0 },
                                    { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_PERSPECTIVE);
    Transform *tf = &t->steps[0];
    tf->bilinear = 1;
    if (bind_args(c, call, name, params, &a) || arg_between(c, &a, 0, 0.5, 0, 1, &tf->distortion) ||
        arg_between(c, &a, 1, 0.5, 0, 1, &tf->p) || fill_arg(c, &a, 3, tf)) return NULL;
    if (a.v[2] && a.v[2]->kind != VAL_NONE)
        return diag_error(c->diag, arg_loc(&a, 2), "only the default interpolation (bilinear) is supported"), NULL;
    return tf_val(c, call, t, name);
}

/* RandomApply(transforms, p=0.5): image transforms only */
static Val *call_random_apply(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "transforms", 1 }, { "p", 0 }, { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_RANDOM_APPLY);
    if (bind_args(c, call, name, params, &a) || arg_between(c, &a, 1, 0.5, 0, 1, &t->steps[0].p)) return NULL;
    if (!is_seq(a.v[0]))
        return diag_error(c->diag, arg_loc(&a, 0), "transforms must be a list of transforms, got %s",
                          val_what(a.v[0])), NULL;
    TfObj *list = transform_list(c, call, name, a.v[0]->items, a.v[0]->n);
    if (!list) return NULL;
    for (int i = 0; i < list->n; i++)
        if (list->steps[i].kind == TF_TO_TENSOR || list->steps[i].kind == TF_NORMALIZE)
            return diag_error(c->diag, list->at[i], "RandomApply takes image transforms; put %s() after it, in "
                              "Compose", transform_name(list->steps[i].kind)), NULL;
    t->steps[0].sub = list->steps;
    t->steps[0].nsub = list->n;
    return tf_val(c, call, t, name);
}

/* Resize(size, interpolation=BILINEAR, max_size=None, antialias=None) */
static Val *call_resize(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "size", 1 }, { "interpolation", 0 }, { "max_size", 0 }, { "antialias", 0 },
                                    { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_RESIZE);
    if (bind_args(c, call, name, params, &a) || size_arg(c, &a, 0, 1, t->steps[0].size)) return NULL;
    for (int i = 1; i <= 2; i++)
        if (a.v[i] && a.v[i]->kind != VAL_NONE)
            return diag_error(c->diag, arg_loc(&a, i), "%s is not supported (cnnc resizes bilinearly, as PIL does)",
                              params[i].name), NULL;
    return tf_val(c, call, t, name);
}

/* CenterCrop(size) */
static Val *call_center_crop(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "size", 1 }, { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_CENTER_CROP);
    if (bind_args(c, call, name, params, &a) || size_arg(c, &a, 0, 0, t->steps[0].size)) return NULL;
    return tf_val(c, call, t, name);
}

/* RandomCrop(size, padding=None, pad_if_needed=False, fill=0, padding_mode='constant') */
static Val *call_random_crop(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "size", 1 }, { "padding", 0 }, { "pad_if_needed", 0 }, { "fill", 0 },
                                    { "padding_mode", 0 }, { NULL, 0 } };
    static const char *const modes[] = { "constant", "edge", "reflect", "symmetric" };
    Args a;
    TfObj *t = tf_one(c, call, TF_RANDOM_CROP);
    Transform *tf = &t->steps[0];
    const char *mode;
    if (bind_args(c, call, name, params, &a) || size_arg(c, &a, 0, 0, tf->size) ||
        arg_bool(c, &a, 2, 0, &tf->pad_if_needed) || fill_arg(c, &a, 3, tf) ||
        arg_str(c, &a, 4, "constant", &mode)) return NULL;
    int m = 0;
    while (m < 4 && strcmp(modes[m], mode)) m++;
    if (m == 4)
        return diag_error(c->diag, arg_loc(&a, 4), "padding_mode must be 'constant', 'edge', 'reflect' or "
                          "'symmetric', got '%s'", mode), NULL;
    tf->padding_mode = (PadMode)m;
    const Val *p = a.v[1];
    if (p && p->kind != VAL_NONE) {
        const Val *one[1] = { p };
        const Val *const *items = one;
        int n = 1;
        if (is_seq(p)) {
            if (p->n != 1 && p->n != 2 && p->n != 4)
                return diag_error(c->diag, p->at->loc, "padding must be an integer or a sequence of 1, 2 or 4 "
                                  "integers, got %d values", p->n), NULL;
            items = (const Val *const *)p->items;
            n = p->n;
        }
        int v[4];
        for (int k = 0; k < n; k++) {
            if (items[k]->kind != VAL_INT || items[k]->i < 0 || items[k]->i > 4096)
                return diag_error(c->diag, items[k]->at->loc, "padding must hold integers from 0 to 4096"), NULL;
            v[k] = (int)items[k]->i;
        }
        /* torchvision: one value for all sides; (left/right, top/bottom); (l, t, r, b) */
        int l = v[0], tp = n >= 2 ? v[1] : v[0], r = n == 4 ? v[2] : v[0], b = n == 4 ? v[3] : tp;
        if (n == 2) r = v[0];
        tf->padding[0] = l, tf->padding[1] = tp, tf->padding[2] = r, tf->padding[3] = b;
    }
    return tf_val(c, call, t, name);
}

/* RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3/4, 4/3), interpolation, antialias) */
static Val *call_random_resized_crop(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "size", 1 }, { "scale", 0 }, { "ratio", 0 }, { "interpolation", 0 },
                                    { "antialias", 0 }, { NULL, 0 } };
    Args a;
    TfObj *t = tf_one(c, call, TF_RANDOM_RESIZED_CROP);
    Transform *tf = &t->steps[0];
    if (bind_args(c, call, name, params, &a) || size_arg(c, &a, 0, 0, tf->size) ||
        pair_arg(c, &a, 1, 0.08, 1.0, 0, tf->scale) || pair_arg(c, &a, 2, 3.0 / 4.0, 4.0 / 3.0, 0, tf->ratio))
        return NULL;
    if (tf->scale[0] <= 0 || tf->ratio[0] <= 0)
        return diag_error(c->diag, arg_loc(&a, tf->scale[0] <= 0 ? 1 : 2), "%s must be positive",
                          tf->scale[0] <= 0 ? "scale" : "ratio"), NULL;
    if (a.v[3] && a.v[3]->kind != VAL_NONE)
        return diag_error(c->diag, arg_loc(&a, 3), "only the default interpolation (bilinear) is supported"), NULL;
    return tf_val(c, call, t, name);
}

/* Grayscale(num_output_channels=1) */
static Val *call_grayscale(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = { { "num_output_channels", 0 }, { NULL, 0 } };
    Args a;
    int64_t n;
    TfObj *t = tf_one(c, call, TF_GRAYSCALE);
    if (bind_args(c, call, name, params, &a) || arg_int(c, &a, 0, 1, &n)) return NULL;
    if (n != 1 && n != 3)
        return diag_error(c->diag, arg_loc(&a, 0), "num_output_channels must be 1 or 3, got %lld", (long long)n), NULL;
    t->steps[0].out_channels = (int)n;
    return tf_val(c, call, t, name);
}

static const struct {
    const char *name;
    Val *(*fn)(Ctx *c, const AstNode *call, const char *name);
} calls[] = {
    { "Compose", call_compose }, { "ToTensor", call_totensor }, { "Normalize", call_normalize },
    { "RandomHorizontalFlip", call_flip }, { "RandomVerticalFlip", call_flip },
    { "RandomRotation", call_rotation }, { "ColorJitter", call_color_jitter },
    { "RandomPerspective", call_perspective }, { "RandomApply", call_random_apply },
    { "Resize", call_resize }, { "CenterCrop", call_center_crop }, { "RandomCrop", call_random_crop },
    { "RandomResizedCrop", call_random_resized_crop }, { "Grayscale", call_grayscale },
};

Val *transform_call(Ctx *c, const AstNode *call, const char *name)
{
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (!strcmp(calls[i].name, name)) return calls[i].fn(c, call, name);
    return diag_error(c->diag, call->loc, "%s is a torchvision transform cnnc does not implement yet", name), NULL;
}

/* ---- order and shapes ---- */

int pipeline_check_order(Ctx *c, const TfObj *t)
{
    int tensor = -1;
    for (int i = 0; i < t->n; i++) {
        TransformKind k = t->steps[i].kind;
        if (k == TF_TO_TENSOR) {
            if (tensor >= 0) {
                char where[512];
                diag_error(c->diag, t->at[i], "ToTensor() appears twice in this transform");
                diag_note(c->diag, "the first is at %s", diag_where(c->diag, t->at[tensor], where, sizeof where));
                return -1;
            }
            tensor = i;
        } else if (k == TF_NORMALIZE && tensor < 0) {
            return diag_error(c->diag, t->at[i], "Normalize works on tensors: ToTensor() must come before it");
        } else if (k != TF_NORMALIZE && tensor >= 0) {
            return diag_error(c->diag, t->at[i], "%s works on PIL images in cnnc: put it before ToTensor()",
                              transform_name(k));
        }
    }
    return 0;
}

static int infer_one(Ctx *c, const Transform *t, SrcLoc at, TfShape *s)
{
    const char *name = transform_name(t->kind);
    if (t->nfill > 1 && t->nfill != s->c)
        return diag_error(c->diag, at, "%s's fill has %d values but the images have %d channel%s here", name,
                          t->nfill, s->c, s->c == 1 ? "" : "s");
    switch (t->kind) {
    case TF_RESIZE:
        if (t->size[1]) {
            s->h = t->size[0], s->w = t->size[1];
        } else if (s->h && s->w) {
            int shrt = s->w <= s->h ? s->w : s->h, lng = s->w <= s->h ? s->h : s->w;
            int nlong = (int)((double)t->size[0] * lng / shrt);
            if (s->w <= s->h) s->w = t->size[0], s->h = nlong;
            else s->h = t->size[0], s->w = nlong;
        } else {
            s->h = s->w = 0;            /* the smaller edge of images not known yet */
        }
        s->hw_at = at;
        break;
    case TF_CENTER_CROP:
    case TF_RANDOM_RESIZED_CROP:
        s->h = t->size[0], s->w = t->size[1];
        s->hw_at = at;
        break;
    case TF_RANDOM_CROP: {
        int h = s->h ? s->h + t->padding[1] + t->padding[3] : 0, w = s->w ? s->w + t->padding[0] + t->padding[2] : 0;
        if (h && w && !t->pad_if_needed && (h < t->size[0] || w < t->size[1]))
            return diag_error(c->diag, at, "RandomCrop(%d, %d) is larger than the %d x %d images it gets%s: add "
                              "padding or pad_if_needed=True", t->size[0], t->size[1], h, w,
                              t->padding[0] + t->padding[1] + t->padding[2] + t->padding[3] ? " (padded)" : "");
        s->h = t->size[0], s->w = t->size[1];
        s->hw_at = at;
        break;
    }
    case TF_GRAYSCALE:
        s->c = t->out_channels;
        s->c_at = at;
        break;
    case TF_RANDOM_APPLY:       /* its steps are reported at the RandomApply */
        for (int k = 0; k < t->nsub; k++)
            if (infer_one(c, &t->sub[k], at, s)) return -1;
        break;
    default:
        break;
    }
    return 0;
}

int pipeline_infer(Ctx *c, const TfObj *t, TfShape *s)
{
    for (int i = 0; i < t->n; i++)
        if (infer_one(c, &t->steps[i], t->at[i], s)) return -1;
    return 0;
}

static int has_kind(const Transform *steps, int n, TransformKind k)
{
    for (int i = 0; i < n; i++)
        if (steps[i].kind == k || (steps[i].kind == TF_RANDOM_APPLY && has_kind(steps[i].sub, steps[i].nsub, k)))
            return 1;
    return 0;
}

int pipeline_has_grayscale(const TfObj *t) { return has_kind(t->steps, t->n, TF_GRAYSCALE); }
