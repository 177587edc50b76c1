/* compiler/passes/update.c: the update phase of a training graph, after autodiff: gradient
 * clipping (clip_grad_norm_, clip_grad_value_), the parameter groups' assignment and one
 * optimizer node per trainable parameter, with its state under torch's names. */
#include "update.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/ops.h"

/* A state tensor of parameter i, named "<key>.<what>" after torch's optimizer state. */
static int state_value(Graph *g, int i, const char *what)
{
    char name[128];
    int shape[CN_MAX_DIMS], ndim = g->vals[i].ndim;  /* a copy: graph_value may move vals */
    memcpy(shape, g->vals[i].shape, sizeof shape);
    snprintf(name, sizeof name, "%s.%s", g->vals[i].name, what);
    return graph_value(g, name, VK_STATE, DT_F32, ndim, shape, 0);
}

/* The optimizer node of parameter i: its op, with in[] its inputs after param and grad. */
static int optimizer_inputs(Graph *g, const Optimizer *opt, int i, int *in, int *nin)
{
    switch (opt->kind) {
    case OPT_ADAM:
    case OPT_ADAMW:
        in[(*nin)++] = state_value(g, i, "exp_avg");
        in[(*nin)++] = state_value(g, i, "exp_avg_sq");
        if (opt->amsgrad) in[(*nin)++] = state_value(g, i, "max_exp_avg_sq");
        return opt->kind == OPT_ADAM ? OP_adam : OP_adamw;
    case OPT_RMSPROP:
        in[(*nin)++] = state_value(g, i, "square_avg");
        if (opt->momentum > 0) in[(*nin)++] = state_value(g, i, "momentum_buffer");
        if (opt->centered) in[(*nin)++] = state_value(g, i, "grad_avg");
        return OP_rmsprop;
    default:
        if (opt->momentum != 0.0f) in[(*nin)++] = state_value(g, i, "momentum_buffer");
        return OP_sgd;
    }
}

/* Whether parameter `name` is a BatchNorm layer's weight or bias. */
static int norm_param(const Program *p, const char *name)
{
    for (int i = 0; i < p->nlayers; i++) {
        const Layer *L = &p->layers[i];
        size_t n = strlen(L->key);
        if ((L->kind == L_BATCHNORM2D || L->kind == L_BATCHNORM1D) && !strncmp(name, L->key, n) &&
            (!strcmp(name + n, ".weight") || !strcmp(name + n, ".bias")))
            return 1;
    }
    return 0;
}

/* Whether group gr selects parameter `name` by one of its patterns ('rest' aside). */
static int group_selects(const Program *p, const ParamGroup *gr, const char *name)
{
    for (int k = 0; k < gr->nselect; k++) {
        const char *s = gr->select[k];
        size_t n = strlen(name);
        if (!strcmp(s, "rest")) continue;
        if (!strcmp(s, "biases") ? n >= 5 && !strcmp(name + n - 5, ".bias")
                                 : !strcmp(s, "norm") ? norm_param(p, name) : !fnmatch(s, name, 0))
            return 1;
    }
    return 0;
}

static int group_is_rest(const ParamGroup *gr)
{
    for (int k = 0; k < gr->nselect; k++)
        if (!strcmp(gr->select[k], "rest")) return 1;
    return 0;
}

/* group[v]: the parameter group of each trainable parameter v (the others -1), with the
 * checks torch makes of groups: every trainable parameter in exactly one, no group empty.
 * NULL without groups. */
static int assign_groups(const Graph *g, const Program *p, int **group, Error *e)
{
    const Optimizer *o = &p->opt;
    *group = NULL;
    if (!o->ngroups) return 0;
    int *gv = xmalloc((size_t)g->nvals * sizeof *gv), used[OPT_MAX_GROUPS] = { 0 }, rest = -1;
    for (int k = 0; k < o->ngroups; k++)
        if (group_is_rest(&o->groups[k])) rest = k;
    for (int i = 0; i < g->nvals; i++) {
        gv[i] = -1;
        if (g->vals[i].kind != VK_PARAM || g->vals[i].grad < 0) continue;
        const char *name = g->vals[i].name;
        for (int k = 0; k < o->ngroups; k++) {
            if (!group_selects(p, &o->groups[k], name)) continue;
            if (gv[i] >= 0) {
                const SrcLoc *at = &o->groups[k].loc;
                err_set(e, "%s:%d:%d: error: parameter %s is in parameter groups %d and %d; each parameter must "
                        "be in exactly one group", p->path, at->line, at->col, name, gv[i] + 1, k + 1);
                free(gv);
                return -1;
            }
            gv[i] = k;
        }
        if (gv[i] < 0) gv[i] = rest;
        if (gv[i] < 0) {
            err_set(e, "%s:%d:%d: error: parameter %s is in no parameter group; select it in one, or add "
                    "dict(params='rest')", p->path, o->loc.line, o->loc.col, name);
            free(gv);
            return -1;
        }
        used[gv[i]]++;
    }
    for (int k = 0; k < o->ngroups; k++)
        if (!used[k]) {
            const SrcLoc *at = &o->groups[k].loc;
            const char *example = "";
            for (int i = 0; i < g->nvals && !example[0]; i++)
                if (gv[i] >= 0) example = g->vals[i].name;
            err_set(e, "%s:%d:%d: error: parameter group %d selects no trainable parameter; its patterns match "
                    "state_dict keys such as %s", p->path, at->line, at->col, k + 1, example);
            free(gv);
            return -1;
        }
    *group = gv;
    return 0;
}

/* The options parameter group k gives (kind: the optimizer's) */
static Optimizer group_options(const Optimizer *o, int k)
{
    Optimizer r = *o;
    const ParamGroup *gr = &o->groups[k];
    r.lr = gr->lr, r.beta1 = gr->beta1, r.beta2 = gr->beta2, r.eps = gr->eps, r.weight_decay = gr->weight_decay;
    r.momentum = gr->momentum, r.dampening = gr->dampening, r.alpha = gr->alpha, r.nesterov = gr->nesterov;
    r.amsgrad = gr->amsgrad, r.centered = gr->centered;
    return r;
}

/* clip_grad_norm_: a chain of grad_norm nodes over the gradients (in the optimizer's order),
 * then clip_grad_norm on each; clip_grad_value_: clip_grad_value on each. Update phase,
 * before the optimizer's nodes, so the executor runs them between backward and step. */
static int lower_clip(Graph *g, const ClipDecl *clip, Error *e)
{
    if (clip->kind == CLIP_NONE) return 0;
    Attrs a = { 0 };
    a.max_norm = clip->max_norm;
    a.norm_type = clip->norm_type;
    a.clip_value = clip->clip_value;
    g->cur_phase = PHASE_UPDATE;
    g->cur_line = clip->loc.line;
    g->cur_col = clip->loc.col;
    snprintf(g->cur_label, sizeof g->cur_label, "%s", clip->kind == CLIP_NORM ? "clip_grad_norm_" : "clip_grad_value_");
    int acc = -1, nv = g->nvals;
    for (int pass = clip->kind == CLIP_NORM ? 0 : 1; pass < 2; pass++)
        for (int i = 0; i < nv; i++) {
            if (g->vals[i].kind != VK_PARAM || g->vals[i].grad < 0) continue;
            int in[2] = { g->vals[i].grad, acc };
            if (pass == 0) acc = graph_apply(g, OP_grad_norm, in, acc < 0 ? 1 : 2, &a, e);
            else if (graph_add(g, clip->kind == CLIP_NORM ? OP_clip_grad_norm : OP_clip_grad_value, in,
                               clip->kind == CLIP_NORM ? 2 : 1, &a, e) < 0)
                return -1;
            if (pass == 0 && acc < 0) return -1;
        }
    g->cur_phase = PHASE_FORWARD;
    return 0;
}

/* The optimizer node of trainable parameter i, with opt's options */
static int lower_optimizer_node(Graph *g, const Optimizer *opt, int i, Error *e)
{
    Attrs a = { 0 };
    a.lr = opt->lr;
    a.weight_decay = opt->weight_decay;
    a.beta1 = opt->beta1;
    a.beta2 = opt->beta2;
    a.eps = opt->eps;
    a.momentum = opt->momentum;
    a.dampening = opt->dampening;
    a.nesterov = opt->nesterov;
    a.amsgrad = opt->amsgrad;
    a.alpha = opt->alpha;
    a.centered = opt->centered;
    int in[CN_MAX_IN] = { i, g->vals[i].grad }, nin = 2;
    int op = optimizer_inputs(g, opt, i, in, &nin);
    return graph_add(g, op, in, nin, &a, e) < 0 ? -1 : 0;
}

/* One optimizer node per trainable parameter, with its group's options (group: NULL for one
 * group, the optimizer's). */
static int lower_optimizer(Graph *g, const Optimizer *opt, const int *group, Error *e)
{
    g->cur_phase = PHASE_UPDATE;
    g->cur_line = opt->loc.line;
    g->cur_col = opt->loc.col;
    snprintf(g->cur_label, sizeof g->cur_label, "optimizer");
    int nv = g->nvals;
    for (int i = 0; i < nv; i++) {
        if (g->vals[i].kind != VK_PARAM || g->vals[i].grad < 0) continue;
        Optimizer go = group && group[i] >= 0 ? group_options(opt, group[i]) : *opt;
        if (lower_optimizer_node(g, &go, i, e) < 0) return -1;
    }
    g->cur_phase = PHASE_FORWARD;
    return 0;
}

int lower_update(Graph *g, const Program *p, Error *e)
{
    Error le;
    int *group = NULL;
    if (assign_groups(g, p, &group, e) < 0) return -1;      /* its message names the place */
    int rc = lower_clip(g, &p->clip, &le) < 0 || lower_optimizer(g, &p->opt, group, &le) < 0 ? -1 : 0;
    if (rc < 0) err_set(e, "%s: error: %s", p->path, le.msg);
    free(group);
    return rc;
}
