/* runtime/lr_scheduler.c: torch 1.13's learning-rate schedulers (torch/optim/lr_scheduler.py),
 * expression for expression in doubles, so that the sequences match torch's over a run. */
#include "lr_scheduler.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Python's a % b for b > 0 (never negative) */
static int py_mod(int a, int b)
{
    int r = a % b;
    return r < 0 ? r + b : r;
}

/* how many milestones are <= e (bisect_right over a sorted list) */
static int milestones_upto(const LrSchedule *c, int e)
{
    int k = 0;
    while (k < c->nmilestones && c->milestones[k] <= e) k++;
    return k;
}

/* how many times e appears in the milestones (MultiStepLR's Counter) */
static int milestone_count(const LrSchedule *c, int e)
{
    int k = 0;
    for (int i = 0; i < c->nmilestones; i++) k += c->milestones[i] == e;
    return k;
}

/* OneCycleLR's get_lr for one group at step c->last_epoch; *mom: the momentum it sets */
static double onecycle(const LrSchedule *c, double initial, double *mom)
{
    double max_lr = c->max_lr, min_lr = initial / c->final_div_factor;
    double T = (double)c->total_steps;
    double ends[3], from[3], to[3], mfrom[3], mto[3], lo = c->base_momentum, hi = c->max_momentum;
    int n;
    if (c->three_phase) {
        ends[0] = c->pct_start * T - 1;       from[0] = initial; to[0] = max_lr;  mfrom[0] = hi; mto[0] = lo;
        ends[1] = 2 * c->pct_start * T - 2;   from[1] = max_lr;  to[1] = initial; mfrom[1] = lo; mto[1] = hi;
        ends[2] = T - 1;                      from[2] = initial; to[2] = min_lr;  mfrom[2] = hi; mto[2] = hi;
        n = 3;
    } else {
        ends[0] = c->pct_start * T - 1;       from[0] = initial; to[0] = max_lr;  mfrom[0] = hi; mto[0] = lo;
        ends[1] = T - 1;                      from[1] = max_lr;  to[1] = min_lr;  mfrom[1] = lo; mto[1] = hi;
        n = 2;
    }
    double step = (double)c->last_epoch, start_step = 0, lr = 0;
    for (int i = 0; i < n; i++) {
        if (step <= ends[i] || i == n - 1) {
            double pct = (step - start_step) / (ends[i] - start_step);
            if (c->anneal_linear) {
                lr = (to[i] - from[i]) * pct + from[i];
                *mom = (mto[i] - mfrom[i]) * pct + mfrom[i];
            } else {
                double cos_out = cos(M_PI * pct) + 1;
                lr = to[i] + (from[i] - to[i]) / 2.0 * cos_out;
                *mom = mto[i] + (mfrom[i] - mto[i]) / 2.0 * cos_out;
            }
            break;
        }
        start_step = ends[i];
    }
    return lr;
}

/* get_lr(): the chainable form, from the group's lr now and its initial lr, at c->last_epoch */
static double chain_lr(const LrSchedule *c, double lr, double base)
{
    int e = c->last_epoch;
    switch (c->kind) {
    case LRS_STEP:
        if (e == 0 || e % c->step_size != 0) return lr;
        return lr * c->gamma;
    case LRS_MULTISTEP: {
        int k = milestone_count(c, e);
        return k ? lr * pow(c->gamma, (double)k) : lr;
    }
    case LRS_EXPONENTIAL:
        return e == 0 ? lr : lr * c->gamma;
    case LRS_COSINE: {
        double T = (double)c->T_max;
        if (e == 0) return lr;
        if (py_mod(e - 1 - c->T_max, 2 * c->T_max) == 0)
            return lr + (base - c->eta_min) * (1 - cos(M_PI / T)) / 2;
        return (1 + cos(M_PI * (double)e / T)) / (1 + cos(M_PI * (double)(e - 1) / T)) * (lr - c->eta_min) +
               c->eta_min;
    }
    case LRS_LINEAR:
        if (e == 0) return lr * c->start_factor;
        if (e > c->total_iters) return lr;
        return lr * (1. + (c->end_factor - c->start_factor) /
                          ((double)c->total_iters * c->start_factor +
                           (double)(e - 1) * (c->end_factor - c->start_factor)));
    case LRS_ONECYCLE: {
        double mom;
        return onecycle(c, base, &mom);
    }
    default:
        return lr;
    }
}

/* _get_closed_form_lr() at c->last_epoch: what SequentialLR's step(0) at a milestone uses */
static double closed_lr(const LrSchedule *c, double lr, double base)
{
    int e = c->last_epoch;
    switch (c->kind) {
    case LRS_STEP:
        return base * pow(c->gamma, (double)(e / c->step_size));
    case LRS_MULTISTEP:
        return base * pow(c->gamma, (double)milestones_upto(c, e));
    case LRS_EXPONENTIAL:
        return base * pow(c->gamma, (double)e);
    case LRS_COSINE:
        return c->eta_min + (base - c->eta_min) * (1 + cos(M_PI * (double)e / (double)c->T_max)) / 2;
    case LRS_LINEAR: {
        int m = c->total_iters < e ? c->total_iters : e;
        return base * (c->start_factor +
                       (c->end_factor - c->start_factor) * (double)m / (double)c->total_iters);
    }
    default:
        return chain_lr(c, lr, base);
    }
}

/* OneCycleLR's momentum at its step now (the same in every group) */
static void onecycle_momentum(LrScheduler *s)
{
    if (s->top.kind == LRS_ONECYCLE && s->top.cycle_momentum) onecycle(&s->top, s->top.max_lr, &s->momentum);
}

int lr_scheduler_start(LrScheduler *s, const double *lr0, int n)
{
    if (n > LRS_MAX_GROUPS) return -1;
    s->ngroups = n;
    s->best = s->top.mode_max ? -INFINITY : INFINITY;
    s->num_bad_epochs = s->cooldown_counter = 0;
    s->top.last_epoch = 0;
    for (int i = 0; i < s->nsub; i++) s->sub[i].last_epoch = -1;
    if (s->nsub) s->sub[0].last_epoch = 0;
    for (int g = 0; g < n; g++) {
        s->start[g] = lr0[g];
        s->base[g] = s->top.kind == LRS_ONECYCLE ? s->top.max_lr / s->top.div_factor : lr0[g];
        double lr = s->base[g];
        if (s->top.kind == LRS_SEQUENTIAL) lr = chain_lr(&s->sub[0], lr, s->base[g]);
        else if (s->top.kind != LRS_PLATEAU) lr = chain_lr(&s->top, lr, s->base[g]);
        s->lr[g] = lr;
    }
    onecycle_momentum(s);
    return 0;
}

static int plateau_better(const LrScheduler *s, double a)
{
    const LrSchedule *c = &s->top;
    if (!c->mode_max && !c->threshold_abs) return a < s->best * (1. - c->threshold);
    if (!c->mode_max) return a < s->best - c->threshold;
    if (!c->threshold_abs) return a > s->best * (c->threshold + 1.);
    return a > s->best + c->threshold;
}

static void plateau_step(LrScheduler *s, double metric)
{
    const LrSchedule *c = &s->top;
    s->top.last_epoch++;
    if (plateau_better(s, metric)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0;
    }
    if (s->num_bad_epochs > c->patience) {
        for (int g = 0; g < s->ngroups; g++) {
            double old = s->lr[g], lr = old * c->factor;
            if (c->min_lr > lr) lr = c->min_lr;
            if (old - lr > c->eps) s->lr[g] = lr;
        }
        s->cooldown_counter = c->cooldown;
        s->num_bad_epochs = 0;
    }
}

double lr_scheduler_step(LrScheduler *s, double metric)
{
    if (s->top.kind == LRS_PLATEAU) {
        plateau_step(s, metric);
    } else if (s->top.kind == LRS_SEQUENTIAL) {
        int e = ++s->top.last_epoch, idx = milestones_upto(&s->top, e);
        LrSchedule *c = &s->sub[idx];
        int restart = idx > 0 && s->top.milestones[idx - 1] == e;
        c->last_epoch = restart ? 0 : c->last_epoch + 1;
        for (int g = 0; g < s->ngroups; g++)
            s->lr[g] = restart ? closed_lr(c, s->lr[g], s->base[g]) : chain_lr(c, s->lr[g], s->base[g]);
    } else if (s->top.kind != LRS_NONE) {
        s->top.last_epoch++;
        for (int g = 0; g < s->ngroups; g++) s->lr[g] = chain_lr(&s->top, s->lr[g], s->base[g]);
        onecycle_momentum(s);
    }
    return s->ngroups ? s->lr[0] : 0;
}

double lr_scheduler_lr(const LrScheduler *s, double lr0)
{
    for (int g = 0; g < s->ngroups; g++)
        if (s->start[g] == lr0) return s->lr[g];
    return lr0;
}

int lr_scheduler_momentum(const LrScheduler *s, double *m)
{
    if (s->top.kind != LRS_ONECYCLE || !s->top.cycle_momentum) return 0;
    *m = s->momentum;
    return 1;
}

int lr_scheduler_per_batch(const LrScheduler *s)
{
    return s->top.kind == LRS_ONECYCLE;
}

const char *lr_scheduler_name(LrSchedKind k)
{
    static const char *const names[] = {
        "none", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "OneCycleLR",
        "SequentialLR", "ReduceLROnPlateau"
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* one schedule's arguments as written in Python, e.g. "StepLR(step_size=5, gamma=0.1)" */
static int describe_one(const LrSchedule *c, char *buf, size_t n)
{
    const char *name = lr_scheduler_name(c->kind);
    char ms[160] = "";
    for (int i = 0, len = 0; i < c->nmilestones && len < (int)sizeof ms - 16; i++)
        len += snprintf(ms + len, sizeof ms - (size_t)len, "%s%d", i ? ", " : "", c->milestones[i]);
    switch (c->kind) {
    case LRS_STEP: return snprintf(buf, n, "%s(step_size=%d, gamma=%g)", name, c->step_size, c->gamma);
    case LRS_MULTISTEP: return snprintf(buf, n, "%s(milestones=[%s], gamma=%g)", name, ms, c->gamma);
    case LRS_EXPONENTIAL: return snprintf(buf, n, "%s(gamma=%g)", name, c->gamma);
    case LRS_COSINE: return snprintf(buf, n, "%s(T_max=%d, eta_min=%g)", name, c->T_max, c->eta_min);
    case LRS_LINEAR:
        return snprintf(buf, n, "%s(start_factor=%g, end_factor=%g, total_iters=%d)", name, c->start_factor,
                        c->end_factor, c->total_iters);
    case LRS_ONECYCLE:
        return snprintf(buf, n, "%s(max_lr=%g, total_steps=%d, pct_start=%g, anneal_strategy='%s', "
                        "cycle_momentum=%s, base_momentum=%g, max_momentum=%g, div_factor=%g, final_div_factor=%g, "
                        "three_phase=%s)", name, c->max_lr, c->total_steps, c->pct_start,
                        c->anneal_linear ? "linear" : "cos", c->cycle_momentum ? "True" : "False", c->base_momentum,
                        c->max_momentum, c->div_factor, c->final_div_factor, c->three_phase ? "True" : "False");
    case LRS_PLATEAU:
        return snprintf(buf, n, "%s(mode='%s', factor=%g, patience=%d, threshold=%g, threshold_mode='%s', "
                        "cooldown=%d, min_lr=%g, eps=%g)", name, c->mode_max ? "max" : "min", c->factor, c->patience,
                        c->threshold, c->threshold_abs ? "abs" : "rel", c->cooldown, c->min_lr, c->eps);
    default: return snprintf(buf, n, "%s", name);
    }
}

void lr_scheduler_describe(const LrScheduler *s, char *buf, size_t n)
{
    const LrSchedule *c = &s->top;
    if (c->kind != LRS_SEQUENTIAL) {
        describe_one(c, buf, n);
    } else {
        size_t len = (size_t)snprintf(buf, n, "SequentialLR(schedulers=[");
        for (int i = 0; i < s->nsub && len < n; i++) {
            if (i) len += (size_t)snprintf(buf + len, n - len, ", ");
            if (len < n) len += (size_t)describe_one(&s->sub[i], buf + len, n - len);
        }
        if (len < n) len += (size_t)snprintf(buf + len, n - len, "], milestones=[");
        for (int i = 0; i < c->nmilestones && len < n; i++)
            len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? ", " : "", c->milestones[i]);
        if (len < n) snprintf(buf + len, n - len, "])");
    }
    size_t len = strlen(buf);
    if (len < n)
        snprintf(buf + len, n - len, ", stepped after each %s", c->kind == LRS_ONECYCLE ? "batch" :
                 c->kind == LRS_PLATEAU ? "epoch on the test loss" : "epoch");
}
