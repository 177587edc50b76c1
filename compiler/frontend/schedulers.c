/* compiler/frontend/schedulers.c: the learning-rate schedulers of torch.optim.lr_scheduler as a
 * .cnn file writes them: each one's parameters with torch's defaults and ranges (see
 * schedulers.h). SequentialLR takes its schedulers inline or as names set before it. */
#include "schedulers.h"

#include <math.h>
#include <string.h>

#include "builtins.h"

static int is_sched(const Val *v) { return v && v->kind == VAL_OBJ && v->obj_kind == OBJ_SCHEDULER; }

/* a number argument in [lo, hi] (open at an end where lo_open / hi_open) */
static int num_in(Ctx *c, const Args *a, int i, double dflt, double lo, int lo_open, double hi, int hi_open,
                  double *out)
{
    char b1[32], b2[32], b3[32];
    if (arg_float(c, a, i, dflt, out)) return -1;
    double v = *out;
    if (!isfinite(v) || (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
        if (isinf(hi))
            return diag_error(c->diag, arg_loc(a, i), "%s must be %s %s, got %s", a->params[i].name,
                              lo_open ? "greater than" : "at least", fmt_num(b1, sizeof b1, lo),
                              fmt_num(b3, sizeof b3, v));
        return diag_error(c->diag, arg_loc(a, i), "%s must be in %c%s, %s%c, got %s", a->params[i].name,
                          lo_open ? '(' : '[', fmt_num(b1, sizeof b1, lo), fmt_num(b2, sizeof b2, hi),
                          hi_open ? ')' : ']', fmt_num(b3, sizeof b3, v));
    }
    return 0;
}

static int int_in(Ctx *c, const Args *a, int i, int64_t dflt, int64_t lo, int *out)
{
    int64_t v;
    if (arg_int(c, a, i, dflt, &v) || arg_range(c, a, i, v, lo, 100000000)) return -1;
    *out = (int)v;
    return 0;
}

/* milestones=[...]: integers >= 1 (strictly increasing where `increasing`) */
static int milestones(Ctx *c, const Args *a, int i, int increasing, LrSchedule *s)
{
    const Val *v = a->v[i];
    if (v->kind != VAL_LIST && v->kind != VAL_TUPLE)
        return diag_error(c->diag, v->at->loc, "milestones must be a list of epochs such as [30, 80], got %s",
                          val_what(v));
    if (v->n > LRS_MAX_MILESTONES)
        return diag_error(c->diag, v->at->loc, "milestones holds %d epochs; cnnc takes at most %d", v->n,
                          LRS_MAX_MILESTONES);
    s->nmilestones = v->n;
    for (int k = 0; k < v->n; k++) {
        const Val *x = v->items[k];
        if (x->kind != VAL_INT || x->i < 1 || x->i > 100000000)
            return diag_error(c->diag, x->at->loc, "milestones must hold epoch numbers (integers from 1), got %s",
                              val_what(x));
        if (increasing && k && x->i <= s->milestones[k - 1])
            return diag_error(c->diag, x->at->loc, "milestones must increase: %lld comes after %d",
                              (long long)x->i, s->milestones[k - 1]);
        s->milestones[k] = (int)x->i;
    }
    for (int k = 1; k < v->n; k++)      /* sorted, as MultiStepLR's Counter is read */
        for (int j = k; j > 0 && s->milestones[j] < s->milestones[j - 1]; j--) {
            int t = s->milestones[j];
            s->milestones[j] = s->milestones[j - 1];
            s->milestones[j - 1] = t;
        }
    return 0;
}

/* last_epoch=-1 and verbose=False only (arguments i and i + 1) */
static int no_resume_args(Ctx *c, const Args *a, int i)
{
    int64_t last;
    int verbose;
    if (arg_int(c, a, i, -1, &last) || arg_bool(c, a, i + 1, 0, &verbose)) return -1;
    if (last != -1)
        return diag_error(c->diag, arg_loc(a, i), "last_epoch must be -1; to continue a run use --resume");
    if (verbose)
        return diag_error(c->diag, arg_loc(a, i + 1), "verbose=True is not supported; the epoch line shows the "
                          "learning rate");
    return 0;
}

static int one_of(Ctx *c, const Args *a, int i, const char *dflt, const char *x, const char *y, int *is_y)
{
    const char *s;
    if (arg_str(c, a, i, dflt, &s)) return -1;
    if (strcmp(s, x) && strcmp(s, y))
        return diag_error(c->diag, arg_loc(a, i), "%s must be '%s' or '%s', got '%s'", a->params[i].name, x, y, s);
    *is_y = !strcmp(s, y);
    return 0;
}

static int onecycle(Ctx *c, const Args *a, LrSchedule *s)
{
    int epochs = 0, spe = 0;
    if (num_in(c, a, 1, 0, 0, 1, INFINITY, 0, &s->max_lr)) return -1;
    if (a->v[2] && a->v[2]->kind != VAL_NONE) {
        if (int_in(c, a, 2, 0, 1, &s->total_steps)) return -1;
    } else if (a->v[3] && a->v[3]->kind != VAL_NONE && a->v[4] && a->v[4]->kind != VAL_NONE) {
        if (int_in(c, a, 3, 0, 1, &epochs) || int_in(c, a, 4, 0, 1, &spe)) return -1;
        if ((long long)epochs * spe > 100000000)
            return diag_error(c->diag, a->call->loc, "epochs x steps_per_epoch is too large");
        s->total_steps = epochs * spe;
    } else {
        return diag_error(c->diag, a->call->loc, "OneCycleLR needs total_steps, or epochs and steps_per_epoch "
                          "(the batches per epoch)");
    }
    if (num_in(c, a, 5, 0.3, 0, 0, 1, 0, &s->pct_start) ||
        one_of(c, a, 6, "cos", "cos", "linear", &s->anneal_linear) || arg_bool(c, a, 7, 1, &s->cycle_momentum) ||
        num_in(c, a, 8, 0.85, 0, 0, 1, 1, &s->base_momentum) || num_in(c, a, 9, 0.95, 0, 0, 1, 1, &s->max_momentum) ||
        num_in(c, a, 10, 25, 0, 1, INFINITY, 0, &s->div_factor) ||
        num_in(c, a, 11, 1e4, 0, 1, INFINITY, 0, &s->final_div_factor) || arg_bool(c, a, 12, 0, &s->three_phase) ||
        no_resume_args(c, a, 13))
        return -1;
    double T = s->total_steps, end0 = s->pct_start * T - 1, end1 = 2 * s->pct_start * T - 2;
    if (end0 == 0 || (!s->three_phase && end0 == T - 1) || (s->three_phase && (end1 == end0 || end1 == T - 1))) {
        char b[32];
        return diag_error(c->diag, a->v[5] ? arg_loc(a, 5) : a->call->loc, "pct_start=%s with %d total steps makes "
                          "a phase of OneCycleLR zero steps long (torch divides by zero); choose another pct_start",
                          fmt_num(b, sizeof b, s->pct_start), s->total_steps);
    }
    return 0;
}

static int sequential(Ctx *c, const Args *a, LrScheduler *s, const void *opt)
{
    const Val *v = a->v[1];
    if (v->kind != VAL_LIST && v->kind != VAL_TUPLE)
        return diag_error(c->diag, v->at->loc, "schedulers must be a list of schedulers such as [LinearLR(optimizer, "
                          "total_iters=5), CosineAnnealingLR(optimizer, T_max=25)], got %s", val_what(v));
    if (v->n < 1 || v->n > LRS_MAX_SUB)
        return diag_error(c->diag, v->at->loc, "schedulers must hold 1 to %d schedulers, got %d", LRS_MAX_SUB, v->n);
    for (int k = 0; k < v->n; k++) {
        const Val *x = v->items[k];
        if (!is_sched(x))
            return diag_error(c->diag, x->at->loc, "schedulers must hold schedulers, got %s", val_what(x));
        const SchedObj *o = x->obj;
        LrSchedKind kind = o->s.top.kind;
        if (kind == LRS_SEQUENTIAL || kind == LRS_ONECYCLE || kind == LRS_PLATEAU)
            return diag_error(c->diag, x->at->loc, "SequentialLR cannot hold a %s; it takes StepLR, MultiStepLR, "
                              "ExponentialLR, CosineAnnealingLR and LinearLR", lr_scheduler_name(kind));
        if (o->opt != opt)
            return diag_error(c->diag, x->at->loc, "the schedulers of a SequentialLR must schedule its optimizer");
        s->sub[k] = o->s.top;
    }
    s->nsub = v->n;
    if (milestones(c, a, 2, 1, &s->top)) return -1;
    if (s->top.nmilestones != v->n - 1)
        return diag_error(c->diag, a->v[2]->at->loc, "milestones must hold one epoch fewer than schedulers (%d), got "
                          "%d", v->n - 1, s->top.nmilestones);
    return no_resume_args(c, a, 3);
}

Val *scheduler_call(Ctx *c, const AstNode *call, const char *name)
{
    static const Param step[] = { { "optimizer", 1 }, { "step_size", 1 }, { "gamma", 0 }, { "last_epoch", 0 },
                                  { "verbose", 0 }, { NULL, 0 } };
    static const Param multistep[] = { { "optimizer", 1 }, { "milestones", 1 }, { "gamma", 0 }, { "last_epoch", 0 },
                                       { "verbose", 0 }, { NULL, 0 } };
    static const Param expo[] = { { "optimizer", 1 }, { "gamma", 1 }, { "last_epoch", 0 }, { "verbose", 0 },
                                  { NULL, 0 } };
    static const Param cosine[] = { { "optimizer", 1 }, { "T_max", 1 }, { "eta_min", 0 }, { "last_epoch", 0 },
                                    { "verbose", 0 }, { NULL, 0 } };
    static const Param linear[] = { { "optimizer", 1 }, { "start_factor", 0 }, { "end_factor", 0 },
                                    { "total_iters", 0 }, { "last_epoch", 0 }, { "verbose", 0 }, { NULL, 0 } };
    static const Param cycle[] = { { "optimizer", 1 }, { "max_lr", 1 }, { "total_steps", 0 }, { "epochs", 0 },
                                   { "steps_per_epoch", 0 }, { "pct_start", 0 }, { "anneal_strategy", 0 },
                                   { "cycle_momentum", 0 }, { "base_momentum", 0 }, { "max_momentum", 0 },
                                   { "div_factor", 0 }, { "final_div_factor", 0 }, { "three_phase", 0 },
                                   { "last_epoch", 0 }, { "verbose", 0 }, { NULL, 0 } };
    static const Param seq[] = { { "optimizer", 1 }, { "schedulers", 1 }, { "milestones", 1 }, { "last_epoch", 0 },
                                 { "verbose", 0 }, { NULL, 0 } };
    static const Param plateau[] = { { "optimizer", 1 }, { "mode", 0 }, { "factor", 0 }, { "patience", 0 },
                                     { "threshold", 0 }, { "threshold_mode", 0 }, { "cooldown", 0 }, { "min_lr", 0 },
                                     { "eps", 0 }, { "verbose", 0 }, { NULL, 0 } };
    static const struct { const char *name; LrSchedKind kind; const Param *params; } table[] = {
        { "StepLR", LRS_STEP, step }, { "MultiStepLR", LRS_MULTISTEP, multistep },
        { "ExponentialLR", LRS_EXPONENTIAL, expo }, { "CosineAnnealingLR", LRS_COSINE, cosine },
        { "LinearLR", LRS_LINEAR, linear }, { "OneCycleLR", LRS_ONECYCLE, cycle },
        { "SequentialLR", LRS_SEQUENTIAL, seq }, { "ReduceLROnPlateau", LRS_PLATEAU, plateau },
    };
    int t = 0;
    while (strcmp(table[t].name, name)) t++;
    Args a;
    if (bind_args(c, call, name, table[t].params, &a)) return NULL;
    if (a.v[0]->kind != VAL_OBJ || a.v[0]->obj_kind != OBJ_OPTIMIZER)
        return diag_error(c->diag, arg_loc(&a, 0), "the first argument of %s is the optimizer it schedules, such as "
                          "%s(optimizer, ...), got %s", name, name, val_what(a.v[0])), NULL;
    SchedObj *o = arena_alloc(&c->arena, sizeof *o);
    memset(o, 0, sizeof *o);
    o->opt = a.v[0]->obj;
    LrSchedule *s = &o->s.top;
    s->kind = table[t].kind;
    int rc = 0;
    switch (s->kind) {
    case LRS_STEP:
        rc = int_in(c, &a, 1, 0, 1, &s->step_size) || num_in(c, &a, 2, 0.1, 0, 1, INFINITY, 0, &s->gamma) ||
             no_resume_args(c, &a, 3);
        break;
    case LRS_MULTISTEP:
        rc = milestones(c, &a, 1, 0, s) || num_in(c, &a, 2, 0.1, 0, 1, INFINITY, 0, &s->gamma) ||
             no_resume_args(c, &a, 3);
        break;
    case LRS_EXPONENTIAL:
        rc = num_in(c, &a, 1, 0, 0, 1, INFINITY, 0, &s->gamma) || no_resume_args(c, &a, 2);
        break;
    case LRS_COSINE:
        rc = int_in(c, &a, 1, 0, 1, &s->T_max) || num_in(c, &a, 2, 0, 0, 0, INFINITY, 0, &s->eta_min) ||
             no_resume_args(c, &a, 3);
        break;
    case LRS_LINEAR:
        rc = num_in(c, &a, 1, 1.0 / 3, 0, 1, 1, 0, &s->start_factor) ||
             num_in(c, &a, 2, 1.0, 0, 0, 1, 0, &s->end_factor) || int_in(c, &a, 3, 5, 1, &s->total_iters) ||
             no_resume_args(c, &a, 4);
        break;
    case LRS_ONECYCLE:
        rc = onecycle(c, &a, s);
        break;
    case LRS_SEQUENTIAL:
        rc = sequential(c, &a, &o->s, o->opt);
        break;
    case LRS_PLATEAU: {
        int verbose;
        rc = one_of(c, &a, 1, "min", "min", "max", &s->mode_max) ||
             num_in(c, &a, 2, 0.1, 0, 1, 1, 1, &s->factor) || int_in(c, &a, 3, 10, 0, &s->patience) ||
             num_in(c, &a, 4, 1e-4, 0, 0, INFINITY, 0, &s->threshold) ||
             one_of(c, &a, 5, "rel", "rel", "abs", &s->threshold_abs) || int_in(c, &a, 6, 0, 0, &s->cooldown) ||
             num_in(c, &a, 7, 0, 0, 0, INFINITY, 0, &s->min_lr) || num_in(c, &a, 8, 1e-8, 0, 0, INFINITY, 0, &s->eps) ||
             arg_bool(c, &a, 9, 0, &verbose);
        if (!rc && verbose)
            rc = diag_error(c->diag, arg_loc(&a, 9), "verbose=True is not supported; the epoch line shows the "
                            "learning rate");
        break;
    }
    default:
        break;
    }
    if (rc) return NULL;
    Val *v = val_new(c, VAL_OBJ, call);
    v->obj_kind = OBJ_SCHEDULER;
    v->what = arena_printf(&c->arena, "a %s scheduler", name);
    v->obj = o;
    return v;
}

int scheduler_check(Ctx *c, const Val *sched, const void *opt, Program *p)
{
    const SchedObj *o = sched->obj;
    int has_test = p->test.present;
    if (o->opt != opt)
        return diag_error(c->diag, sched->at->loc, "this scheduler does not schedule the optimizer cnnc trains with "
                          "(the one named optimizer); give it optimizer");
    if (o->s.top.kind == LRS_PLATEAU && !has_test)
        return diag_error(c->diag, sched->at->loc, "ReduceLROnPlateau steps on the test loss, but the file declares "
                          "no test set; add test_dataset = ImageFolder(...)");
    p->sched = o->s;
    p->sched_loc = sched->at->loc;
    const LrSchedule *t = &o->s.top;
    if (t->kind == LRS_ONECYCLE && t->cycle_momentum) {     /* torch sets it at the construction */
        if (p->opt.kind == OPT_SGD) p->opt.momentum = t->max_momentum;
        else p->opt.beta1 = t->max_momentum;
    }
    return 0;
}
