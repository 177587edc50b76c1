/* compiler/frontend/training_calls.c: the calls of a .cnn file's training part: the loss
 * (CrossEntropyLoss, NLLLoss with torch's options), the optimizers (Adam, AdamW, RMSprop, SGD)
 * with their parameter groups, and gradient clipping (clip_grad_norm_, clip_grad_value_). */
#include "training_calls.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* weight=[w0, w1, ...]: the class weights, numbers >= 0 */
static int class_weights(Ctx *c, const Args *a, int i, LossDecl *l)
{
    const Val *v = a->v[i];
    char buf[32];
    if (!v || v->kind == VAL_NONE) return 0;
    if ((v->kind != VAL_LIST && v->kind != VAL_TUPLE) || v->n < 1)
        return diag_error(c->diag, v->at->loc, "weight must be a list of class weights such as [1.0, 2.0], got %s",
                          val_what(v));
    l->weight = arena_alloc(&c->arena, (size_t)v->n * sizeof *l->weight);
    l->nweight = v->n;
    l->weight_loc = v->at->loc;
    for (int k = 0; k < v->n; k++) {
        const Val *x = v->items[k];
        if (x->kind != VAL_INT && x->kind != VAL_FLOAT)
            return diag_error(c->diag, x->at->loc, "weight must hold numbers, got %s", val_what(x));
        double d = x->kind == VAL_INT ? (double)x->i : x->f;
        if (!(d >= 0 && d <= FLT_MAX))
            return diag_error(c->diag, x->at->loc, "weight[%d] must be a number from 0 that fits a float, got %s",
                              k, fmt_num(buf, sizeof buf, d));
        l->weight[k] = (float)d;
    }
    return 0;
}

Val *call_loss(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = {
        { "weight", 0 }, { "size_average", 0 }, { "ignore_index", 0 }, { "reduce", 0 },
        { "reduction", 0 }, { "label_smoothing", 0 }, { NULL, 0 }
    };
    static const Param nll_params[] = {   /* NLLLoss: no label_smoothing */
        { "weight", 0 }, { "size_average", 0 }, { "ignore_index", 0 }, { "reduce", 0 },
        { "reduction", 0 }, { NULL, 0 }
    };
    LossDecl *l = arena_alloc(&c->arena, sizeof *l);
    memset(l, 0, sizeof *l);
    l->nll = !strcmp(name, "NLLLoss");
    Args a;
    const char *reduction;
    char buf[32];
    if (bind_args(c, call, name, l->nll ? nll_params : params, &a) || class_weights(c, &a, 0, l) ||
        must_be_none(c, &a, 1) || arg_int(c, &a, 2, -100, &l->ignore_index) || must_be_none(c, &a, 3) ||
        arg_str(c, &a, 4, "mean", &reduction) ||
        (!l->nll && arg_float(c, &a, 5, 0, &l->label_smoothing))) return NULL;
    if (!strcmp(reduction, "sum")) l->sum = 1;
    else if (strcmp(reduction, "mean"))
        return diag_error(c->diag, arg_loc(&a, 4), "reduction='%s' is not supported; cnnc trains on one "
                          "number per batch: use reduction='mean' or 'sum'", reduction), NULL;
    if (l->ignore_index < INT32_MIN || l->ignore_index > INT32_MAX)
        return diag_error(c->diag, arg_loc(&a, 2), "ignore_index %lld does not fit a 32-bit integer; give "
                          "a class index, or leave the default -100", (long long)l->ignore_index), NULL;
    if (!(l->label_smoothing >= 0 && l->label_smoothing <= 1))
        return diag_error(c->diag, arg_loc(&a, 5), "label_smoothing must be between 0.0 and 1.0, got %s",
                          fmt_num(buf, sizeof buf, l->label_smoothing)), NULL;
    return obj_val(c, call, OBJ_LOSS, l->nll ? "an NLLLoss loss" : "a CrossEntropyLoss loss", l);
}

/* A number argument that must be >= 0 (and fit in a float, as the runtime computes in them). */
static int nonneg(Ctx *c, const Args *a, int i, double dflt, double *out)
{
    double v;
    char buf[32];
    if (arg_float(c, a, i, dflt, &v)) return -1;
    if (v < 0)
        return diag_error(c->diag, arg_loc(a, i), "%s must not be negative, got %s",
                          a->params[i].name, fmt_num(buf, sizeof buf, v));
    if (v > FLT_MAX)
        return diag_error(c->diag, arg_loc(a, i), "%s is too large for a float",
                          a->params[i].name);
    *out = v;
    return 0;
}

/* betas=(beta1, beta2), each in [0, 1); absent: d's */
static int betas(Ctx *c, const Args *a, int i, const Optimizer *d, Optimizer *o)
{
    const Val *v = a->v[i];
    char buf[32];
    o->beta1 = d->beta1;
    o->beta2 = d->beta2;
    if (!v) return 0;
    if ((v->kind != VAL_TUPLE && v->kind != VAL_LIST) || v->n != 2)
        return diag_error(c->diag, v->at->loc, "betas must be a pair of numbers such as (0.9, "
                          "0.999), got %s", val_what(v));
    for (int k = 0; k < 2; k++) {
        const Val *x = v->items[k];
        if (x->kind != VAL_INT && x->kind != VAL_FLOAT)
            return diag_error(c->diag, x->at->loc, "betas must hold numbers, got %s", val_what(x));
        double f = x->kind == VAL_INT ? (double)x->i : x->f;
        if (!(f >= 0 && f < 1))
            return diag_error(c->diag, x->at->loc, "betas[%d] must be in [0, 1), got %s", k,
                              fmt_num(buf, sizeof buf, f));
        if (k == 0) o->beta1 = f;
        else o->beta2 = f;
    }
    return 0;
}

/* The options of an optimizer of o->kind from a's arguments (the optimizer's call, or a
 * parameter group's dict), each defaulting to d's: torch's defaults for the call, the
 * optimizer's own values for a group. The tables below give the argument order. */
static int optimizer_options(Ctx *c, const Args *a, const Optimizer *d, Optimizer *o)
{
    char buf[32];
    double damp;
    if (nonneg(c, a, 1, d->lr, &o->lr)) return -1;
    switch (o->kind) {
    case OPT_ADAM:
    case OPT_ADAMW:
        return betas(c, a, 2, d, o) || nonneg(c, a, 3, d->eps, &o->eps) ||
               nonneg(c, a, 4, d->weight_decay, &o->weight_decay) || arg_bool(c, a, 5, d->amsgrad, &o->amsgrad)
                   ? -1 : 0;
    case OPT_RMSPROP:
        return nonneg(c, a, 2, d->alpha, &o->alpha) || nonneg(c, a, 3, d->eps, &o->eps) ||
               nonneg(c, a, 4, d->weight_decay, &o->weight_decay) || nonneg(c, a, 5, d->momentum, &o->momentum) ||
               arg_bool(c, a, 6, d->centered, &o->centered) ? -1 : 0;
    default:
        if (nonneg(c, a, 2, d->momentum, &o->momentum) || arg_float(c, a, 3, d->dampening, &damp) ||
            nonneg(c, a, 4, d->weight_decay, &o->weight_decay) || arg_bool(c, a, 5, d->nesterov, &o->nesterov))
            return -1;
        if (damp > FLT_MAX || damp < -FLT_MAX)
            return diag_error(c->diag, arg_loc(a, 3), "dampening %s is too large for a float",
                              fmt_num(buf, sizeof buf, damp));
        o->dampening = damp;
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
            return diag_error(c->diag, arg_loc(a, 5), "Nesterov momentum requires a momentum and "
                              "zero dampening");
        return 0;
    }
}

/* A group's params: a string (a glob over the state_dict keys, or biases, norm, rest) or a
 * list of them. */
static int group_select(Ctx *c, const Val *v, ParamGroup *g)
{
    int n = v->kind == VAL_LIST || v->kind == VAL_TUPLE ? v->n : 1;
    if (n < 1 || n > OPT_MAX_SELECT)
        return diag_error(c->diag, v->at->loc, "a parameter group selects with 1 to %d patterns, got %d",
                          OPT_MAX_SELECT, n);
    for (int k = 0; k < n; k++) {
        const Val *x = v->kind == VAL_LIST || v->kind == VAL_TUPLE ? v->items[k] : v;
        if (x->kind != VAL_STR || !x->s[0] || strlen(x->s) >= sizeof g->select[0])
            return diag_error(c->diag, x->at->loc, "a parameter group's params must be a pattern over the "
                              "state_dict keys such as '*.bias', or 'biases', 'norm' or 'rest', got %s",
                              val_what(x));
        snprintf(g->select[k], sizeof g->select[k], "%s", x->s);
    }
    g->nselect = n;
    return 0;
}

/* params=[dict(params=SELECT, OPTION=VALUE...), ...]: torch's parameter groups, each with
 * the optimizer's options (table) but params, which it must give. */
static int param_groups(Ctx *c, const Val *list, const char *name, const Param *table, Optimizer *o)
{
    char fn[64];
    snprintf(fn, sizeof fn, "a parameter group of %s", name);
    Param gt[MAX_PARAMS + 1];
    int np = 0;
    for (; table[np].name; np++) {
        gt[np] = table[np];
        gt[np].required = np == 0;
    }
    gt[np] = table[np];
    if (list->n < 1 || list->n > OPT_MAX_GROUPS)
        return diag_error(c->diag, list->at->loc, "cnnc takes 1 to %d parameter groups, got %d; merge the "
                          "groups that have the same options", OPT_MAX_GROUPS,
                          list->n);
    for (int k = 0; k < list->n; k++) {
        const Val *item = list->items[k];
        if (item->kind != VAL_OBJ || item->obj_kind != OBJ_PARAM_GROUP)
            return diag_error(c->diag, item->at->loc, "a parameter group is written dict(params='*.bias', "
                              "weight_decay=0.0), got %s", val_what(item));
        Args ga;
        Optimizer go = *o;
        if (bind_args(c, item->obj, fn, gt, &ga) || optimizer_options(c, &ga, o, &go) ||
            group_select(c, ga.v[0], &o->groups[k]))
            return -1;
        ParamGroup *g = &o->groups[k];
        g->loc = item->at->loc;
        g->lr = go.lr, g->beta1 = go.beta1, g->beta2 = go.beta2, g->eps = go.eps;
        g->weight_decay = go.weight_decay, g->momentum = go.momentum, g->dampening = go.dampening;
        g->alpha = go.alpha, g->nesterov = go.nesterov, g->amsgrad = go.amsgrad, g->centered = go.centered;
    }
    o->ngroups = list->n;
    return 0;
}

Val *call_optimizer(Ctx *c, const AstNode *call, const char *name)
{
    static const Param adam[] = {
        { "params", 0 }, { "lr", 0 }, { "betas", 0 }, { "eps", 0 }, { "weight_decay", 0 },
        { "amsgrad", 0 }, { NULL, 0 }
    };
    static const Param sgd[] = {
        { "params", 0 }, { "lr", 1 }, { "momentum", 0 }, { "dampening", 0 },
        { "weight_decay", 0 }, { "nesterov", 0 }, { NULL, 0 }
    };
    static const Param rmsprop[] = {
        { "params", 0 }, { "lr", 0 }, { "alpha", 0 }, { "eps", 0 }, { "weight_decay", 0 },
        { "momentum", 0 }, { "centered", 0 }, { NULL, 0 }
    };
    Optimizer d = { 0 };    /* torch's defaults */
    d.lr = 1e-3, d.beta1 = 0.9, d.beta2 = 0.999, d.eps = 1e-8, d.alpha = 0.99;
    Optimizer *o = arena_alloc(&c->arena, sizeof *o);
    memset(o, 0, sizeof *o);
    const Param *table = sgd;
    const char *what = "an SGD optimizer";
    o->kind = OPT_SGD;
    if (!strcmp(name, "Adam")) o->kind = OPT_ADAM, table = adam, what = "an Adam optimizer";
    if (!strcmp(name, "AdamW")) o->kind = OPT_ADAMW, table = adam, what = "an AdamW optimizer", d.weight_decay = 1e-2;
    if (!strcmp(name, "RMSprop")) o->kind = OPT_RMSPROP, table = rmsprop, what = "an RMSprop optimizer", d.lr = 1e-2;
    Args a;
    if (bind_args(c, call, name, table, &a)) return NULL;
    const Val *params = a.v[0];
    int groups = params && params->kind == VAL_LIST;
    if (params && !groups && (params->kind != VAL_OBJ || params->obj_kind != OBJ_PARAMS))
        return diag_error(c->diag, arg_loc(&a, 0), "the first argument of %s is params, which "
                          "must be model.parameters() or a list of parameter groups, got %s; give the "
                          "learning rate as lr=%s", name, val_what(params), o->kind == OPT_SGD ? "0.01" : "0.001"),
               NULL;
    o->loc = call->loc;
    if (optimizer_options(c, &a, &d, o) || (groups && param_groups(c, params, name, table, o))) return NULL;
    return obj_val(c, call, OBJ_OPTIMIZER, what, o);
}

/* ---- gradient clipping (torch.nn.utils) ---- */

/* clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None),
 * clip_grad_value_(parameters, clip_value, foreach=None); norm_type may be 'inf' */
Val *call_clip(Ctx *c, const AstNode *call, const char *name)
{
    static const Param norm[] = {
        { "parameters", 1 }, { "max_norm", 1 }, { "norm_type", 0 }, { "error_if_nonfinite", 0 }, { "foreach", 0 },
        { NULL, 0 }
    };
    static const Param value[] = { { "parameters", 1 }, { "clip_value", 1 }, { "foreach", 0 }, { NULL, 0 } };
    int is_norm = !strcmp(name, "clip_grad_norm_");
    Args a;
    char buf[32];
    if (c->in_model)
        return diag_error(c->diag, call->loc, "%s belongs to the training part, outside the model block", name),
               NULL;
    ClipDecl *k = arena_alloc(&c->arena, sizeof *k);
    memset(k, 0, sizeof *k);
    k->loc = call->loc;
    if (bind_args(c, call, name, is_norm ? norm : value, &a)) return NULL;
    if (a.v[0]->kind != VAL_OBJ || a.v[0]->obj_kind != OBJ_PARAMS)
        return diag_error(c->diag, arg_loc(&a, 0), "%s clips model.parameters(), got %s", name,
                          val_what(a.v[0])), NULL;
    if (!is_norm) {
        k->kind = CLIP_VALUE;
        if (nonneg(c, &a, 1, 0, &k->clip_value) || must_be_none(c, &a, 2)) return NULL;
        return obj_val(c, call, OBJ_CLIP, "clip_grad_value_(...)", k);
    }
    k->kind = CLIP_NORM;
    int nonfinite;
    const Val *t = a.v[2];
    if (nonneg(c, &a, 1, 0, &k->max_norm) || arg_bool(c, &a, 3, 0, &nonfinite) || must_be_none(c, &a, 4))
        return NULL;
    if (nonfinite)
        return diag_error(c->diag, arg_loc(&a, 3), "error_if_nonfinite=True is not supported; cnnc stops at a "
                          "non-finite loss"), NULL;
    if (t && t->kind == VAL_STR && !strcmp(t->s, "inf")) k->norm_type = INFINITY;
    else if (t && t->kind == VAL_STR)
        return diag_error(c->diag, t->at->loc, "norm_type must be a number or 'inf', got '%s'", t->s), NULL;
    else if (arg_float(c, &a, 2, 2.0, &k->norm_type)) return NULL;
    if (!(k->norm_type > 0))
        return diag_error(c->diag, arg_loc(&a, 2), "norm_type must be above 0 or 'inf', got %s",
                          fmt_num(buf, sizeof buf, k->norm_type)), NULL;
    return obj_val(c, call, OBJ_CLIP, "clip_grad_norm_(...)", k);
}
