/* compiler/frontend/model.c: model blocks. The entry model (the one that declares `input`) and the
 * blocks other models use as layers (`model BasicBlock(channels) { ... }`): their
 * attributes, the module tree with PyTorch's state_dict keys (layer1.0.conv1), and the
 * check of the whole model: its forward pass (forward.c) or its attributes in order. */
#include "layers.h"

#include <stdio.h>
#include <string.h>

#include "../../runtime/error.h"
#include "module.h"

#define MAX_BLOCK_DEPTH 64          /* blocks inside blocks: deeper is a block using itself */

/* ---- the input ---- */

static int check_input(Ctx *c, const AstNode *stmt, Program *p)
{
    Val *v = eval(c, stmt->kids[0]);
    if (!v) return -1;
    if ((v->kind != VAL_LIST && v->kind != VAL_TUPLE) || v->n != 3) {
        if (v->kind == VAL_LIST || v->kind == VAL_TUPLE)
            return diag_error(c->diag, v->at->loc, "input must be [channels, height, width], got "
                              "%s of %d", val_what(v), v->n);
        return diag_error(c->diag, v->at->loc, "input must be [channels, height, width], got %s",
                          val_what(v));
    }
    static const char *const what[3] = { "channels", "height", "width" };
    for (int i = 0; i < 3; i++) {
        const Val *d = v->items[i];
        if (d->kind != VAL_INT)
            return diag_error(c->diag, d->at->loc, "the input's %s must be an integer, got %s",
                              what[i], val_what(d));
        if (i == 0 && d->i != 1 && d->i != 3)
            return diag_error(c->diag, d->at->loc, "the input's channels must be 1 (grayscale) "
                              "or 3 (RGB), got %lld", (long long)d->i);
        if (d->i < 1 || d->i > MAX_SIDE)
            return diag_error(c->diag, d->at->loc, "the input's %s must be between 1 and %d, "
                              "got %lld", what[i], MAX_SIDE, (long long)d->i);
        p->in_shape[i] = (int)d->i;
    }
    if ((int64_t)p->in_shape[0] * p->in_shape[1] * p->in_shape[2] > MAX_VALUES)
        return diag_error(c->diag, v->at->loc, "the input has more than %lld values per sample",
                          MAX_VALUES);
    return 0;
}

/* ---- a model's block: attributes, constants, forward ---- */

/* Evaluates the statements of a model block into the instance m (attributes, constants
 * in m->scope, the forward block); the entry model's input into p. */
static int model_body(Ctx *c, const AstNode *model, Module *m, Program *p)
{
    ModelState *ms = c->model;
    for (int k = 0; k < model->nkids; k++) {
        const AstNode *st = model->kids[k];
        if (st->kind == A_INPUT) {
            if (!p)
                return diag_error(c->diag, st->loc, "%s is used as a layer, so it takes no "
                                  "input; only the entry model declares one", model->str);
            if (ms->input) {
                char where[512];
                diag_error(c->diag, st->loc, "the model's input is given twice");
                diag_note(c->diag, "first given at %s",
                          diag_where(c->diag, ms->input->loc, where, sizeof where));
                return -1;
            }
            ms->input = st;
            if (check_input(c, st, p)) return -1;
            continue;
        }
        if (st->kind == A_FORWARD) {
            if (strcmp(st->str, "forward"))
                return diag_error(c->diag, st->name_loc, "a model block holds attributes and "
                                  "one forward(x) { ... }; %s(...) { ... } is not one of them",
                                  st->str);
            if (m->forward) {
                char where[512];
                diag_error(c->diag, st->name_loc, "model %s has two forward blocks", model->str);
                diag_note(c->diag, "the first is at %s",
                          diag_where(c->diag, m->forward->name_loc, where, sizeof where));
                return -1;
            }
            if (st->naux != 1)
                return diag_error(c->diag, st->name_loc, "forward takes one tensor, forward(x); "
                                  "this one has %d parameters", st->naux);
            m->forward = st;
            continue;
        }
        const char *name = st->str;
        if (!strncmp(name, "self.", 5)) name += 5;      /* pasted from an __init__ */
        if (strchr(name, '.'))
            return diag_error(c->diag, st->name_loc, "cannot assign to %s: a model attribute "
                              "is a plain name", st->str);
        Val *v = eval(c, st->kids[0]);
        if (!v) return -1;
        for (int i = 0; i < m->nattrs; i++)
            if (!strcmp(m->attrs[i].name, name)) {
                char where[512];
                diag_error(c->diag, st->name_loc, "the model already has an attribute %s", name);
                diag_note(c->diag, "first assigned at %s",
                          diag_where(c->diag, m->attrs[i].def->name_loc, where, sizeof where));
                return -1;
            }
        scope_set(c, c->scope, name, v, st);
        int is_mod = v->kind == VAL_OBJ && v->obj_kind == OBJ_MODULE;
        if (is_mod || v->kind == VAL_NONE) {
            BlockAttr *na = arena_alloc(&c->arena, (size_t)(m->nattrs + 1) * sizeof *na);
            if (m->nattrs) memcpy(na, m->attrs, (size_t)m->nattrs * sizeof *na);
            na[m->nattrs] = (BlockAttr){ name, is_mod ? v->obj : NULL, st };
            m->attrs = na;
            m->nattrs++;
        }
    }
    return 0;
}

/* Runs model's block for instance m in a scope of its own (parent: the file's names). */
static int model_instance(Ctx *c, const AstNode *model, Module *m, Program *p, Scope *params)
{
    Scope *sc = params ? params : arena_alloc(&c->arena, sizeof *sc);
    sc->parent = &c->globals;
    Scope *saved = c->scope;
    int saved_in = c->in_model;
    c->scope = sc;
    c->in_model = 1;
    m->mk = M_BLOCK;
    m->model = model;
    m->scope = sc;
    m->index = -1;
    int rc = model_body(c, model, m, p);
    c->scope = saved;
    c->in_model = saved_in;
    return rc;
}

Val *block_call(Ctx *c, const AstNode *call, const AstNode *model)
{
    ModelState *ms = c->model;
    if (!c->in_model)
        return diag_error(c->diag, call->loc, "%s is a model block; use it as a layer inside "
                          "another model", model->str), NULL;
    for (int k = 0; k < model->nkids && model->op != 'S'; k++)
        if (model->kids[k]->kind == A_INPUT)
            return diag_error(c->diag, call->name_loc, "%s declares an input, so it is the entry "
                              "model, not a block; remove its input to use it as a layer",
                              model->str), NULL;
    if (ms->block_depth >= MAX_BLOCK_DEPTH)
        return diag_error(c->diag, call->name_loc, "blocks nest more than %d deep here; does %s "
                          "use itself?", MAX_BLOCK_DEPTH, model->str), NULL;
    /* the block's parameters, bound as Python binds a call's arguments */
    Param params[MAX_PARAMS + 1];
    if (model->naux > MAX_PARAMS)
        return diag_error(c->diag, model->name_loc, "%s has more than %d parameters", model->str,
                          MAX_PARAMS), NULL;
    for (int i = 0; i < model->naux; i++) {
        const AstNode *pn = model->aux[i];
        params[i] = (Param){ pn->str, pn->kind != A_KWARG };
    }
    params[model->naux] = (Param){ NULL, 0 };
    for (int k = 0; k < call->nkids; k++)
        if (call->kids[k]->kind == A_STAR)
            return diag_error(c->diag, call->kids[k]->loc, "*args is not supported in a call of "
                              "%s", model->str), NULL;
    Args a;
    if (bind_args(c, call, model->str, params, &a)) return NULL;
    Scope *sc = arena_alloc(&c->arena, sizeof *sc);
    Scope *saved = c->scope;
    c->scope = &c->globals;             /* defaults see the file's names, as in Python */
    for (int i = 0; i < model->naux; i++) {
        Val *v = a.v[i];
        if (!v && !(v = eval(c, model->aux[i]->kids[0]))) {
            c->scope = saved;
            return NULL;
        }
        scope_set(c, sc, model->aux[i]->str, v, model->aux[i]);
        sc->b[sc->n - 1].used = 1;
    }
    c->scope = saved;
    if (model->op == 'S') {             /* model NAME(params) = Sequential(...) */
        sc->parent = &c->globals;
        int saved_in = c->in_model;
        c->scope = sc;
        c->in_model = 1;
        ms->block_depth++;
        Val *v = eval(c, model->kids[0]);
        ms->block_depth--;
        c->scope = saved;
        c->in_model = saved_in;
        if (!v) return NULL;
        if (v->kind != VAL_OBJ || v->obj_kind != OBJ_MODULE)
            return diag_error(c->diag, model->kids[0]->loc, "model %s(...) = ... must give a "
                              "layer or Sequential, got %s", model->str, val_what(v)), NULL;
        return v;
    }
    Module *m = arena_alloc(&c->arena, sizeof *m);
    m->call = call;
    ms->block_depth++;
    int rc = model_instance(c, model, m, NULL, sc);
    ms->block_depth--;
    if (rc) return NULL;
    return module_val(c, call, m, model->str);
}

/* ---- the module tree: full names, layers in pre-order ---- */

static int layer_append(Ctx *c, Program *p, Module *m, const char *key, int functional)
{
    ModelState *ms = c->model;
    p->layers = grow(p->layers, p->nlayers, &ms->layers_cap, sizeof *p->layers);
    Layer *l = &p->layers[p->nlayers];
    *l = m->layer;
    l->weight = l->bias_data = NULL;
    snprintf(l->key, sizeof l->key, "%s", key);
    l->loc = m->call->loc;
    l->functional = functional;
    m->index = p->nlayers++;
    return m->index;
}

int model_add_layer(Ctx *c, Module *m, const char *key, int functional)
{
    ModelState *ms = c->model;
    return layer_append(c, ms->p, m, key, functional);
}

static int mod_entry(Ctx *c, Program *p, const char *key, const char *type, int depth,
                     int layer)
{
    ModelState *ms = c->model;
    p->mods = grow(p->mods, p->nmods, &ms->mods_cap, sizeof *p->mods);
    ModuleEntry *e = &p->mods[p->nmods];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", key);
    snprintf(e->type_name, sizeof e->type_name, "%s", type);
    e->depth = depth;
    e->layer = layer;
    e->first = p->nlayers;
    return p->nmods++;
}

/* Names m and everything below it (key: its full name), appending its layers to p. */
static int name_tree(Ctx *c, Program *p, Module *m, const char *key, int depth,
                     const AstNode *attr)
{
    if (strlen(key) >= sizeof m->key)
        return diag_error(c->diag, attr->name_loc, "the state_dict key %s is too long (at most "
                          "%zu characters)", key, sizeof m->key - 1);
    if (m->key[0])
        return diag_error(c->diag, attr->name_loc, "%s is already part of the model as %s; a "
                          "layer can be used only once", key, m->key);
    snprintf(m->key, sizeof m->key, "%s", key);
    if (m->mk == M_LAYER) {
        int e = mod_entry(c, p, key, m->layer.type_name, depth, p->nlayers);
        layer_append(c, p, m, key, 0);
        p->mods[e].end = p->nlayers;
        return 0;
    }
    int e = mod_entry(c, p, key, m->mk == M_SEQUENTIAL ? "Sequential" : m->model->str, depth, -1);
    char k[256];
    if (m->mk == M_SEQUENTIAL) {
        for (int i = 0; i < m->nkids; i++) {
            snprintf(k, sizeof k, "%s.%d", key, i);
            if (name_tree(c, p, m->kids[i], k, depth + 1, attr)) return -1;
        }
    } else {
        for (int i = 0; i < m->nattrs; i++) {
            if (!m->attrs[i].mod) continue;
            snprintf(k, sizeof k, "%s.%s", key, m->attrs[i].name);
            if (name_tree(c, p, m->attrs[i].mod, k, depth + 1, attr)) return -1;
        }
    }
    p->mods[e].end = p->nlayers;
    return 0;
}

/* A warning for each attribute of a block with a forward that the forward never calls. */
static void warn_unused(Ctx *c, const Module *m)
{
    if (m->mk == M_SEQUENTIAL)
        for (int i = 0; i < m->nkids; i++) warn_unused(c, m->kids[i]);
    if (m->mk != M_BLOCK) return;
    for (int i = 0; i < m->nattrs; i++) {
        const Module *a = m->attrs[i].mod;
        if (!a) continue;
        if (m->forward && !a->applied)
            diag_warning(c->diag, m->attrs[i].def->name_loc, "attribute %s of %s is never used "
                         "by its forward; its parameters are still saved, as PyTorch's are",
                         m->attrs[i].name, m->model->str);
        warn_unused(c, a);
    }
}

/* ---- the entry model ---- */

int model_check(Ctx *c, const AstNode *model, Program *p)
{
    ModelState *ms = arena_alloc(&c->arena, sizeof *ms);
    c->model = ms;
    ms->p = p;
    if (strlen(model->str) >= sizeof p->model_name)
        return diag_error(c->diag, model->name_loc, "the model's name is too long (at most %zu "
                          "characters)", sizeof p->model_name - 1);
    snprintf(p->model_name, sizeof p->model_name, "%s", model->str);
    p->model_loc = model->loc;
    if (model->name_loc.line == model->loc.line) p->model_loc.end_col = model->name_loc.end_col;
    if (model->op)
        return diag_error(c->diag, model->name_loc, "the entry model %s (the one that declares "
                          "input) takes no parameters", model->str);

    Module *root = arena_alloc(&c->arena, sizeof *root);
    root->call = model;
    if (model_instance(c, model, root, p, NULL)) return -1;

    if (!ms->input)
        return diag_error(c->diag, p->model_loc, "model %s has no input shape; add `input [3, "
                          "100, 100]` (channels, height, width) to its block", p->model_name);
    int nmods = 0;
    for (int i = 0; i < root->nattrs; i++) {
        if (!root->attrs[i].mod) continue;
        if (name_tree(c, p, root->attrs[i].mod, root->attrs[i].name, 1, root->attrs[i].def))
            return -1;
        nmods++;
    }
    if (nmods == 0)
        return diag_error(c->diag, p->model_loc, "model %s has no layers; add some, e.g. "
                          "`layers = Sequential(Flatten(), Linear(None, 10))`", p->model_name);
    p->has_forward = root->forward != NULL;
    if (forward_model(c, root, p)) return -1;
    warn_unused(c, root);
    return 0;
}

int model_check_classifier(Ctx *c, const Program *p)
{
    if (p->out_ndim == 1) return 0;
    char a[128];
    diag_error(c->diag, p->steps[p->output].loc, "the model ends with a %s output; a classifier "
               "ends with Flatten() and a Linear that gives one score per class",
               shape_text(p->out_shape, 3, a, sizeof a));
    diag_note(c->diag, "a model that ends with a feature map can be checked and applied to an "
              "image (--apply), but not trained on classes");
    return -1;
}

SrcLoc model_input_loc(const Ctx *c)
{
    const ModelState *ms = c->model;
    return ms && ms->input ? ms->input->loc : (SrcLoc){ 0, 0, 0 };
}

SrcLoc model_output_loc(const Ctx *c)
{
    const ModelState *ms = c->model;
    const Module *m = ms ? ms->out_src : NULL;
    if (!m) return ms && ms->p->nsteps ? ms->p->steps[ms->p->output].loc : (SrcLoc){ 0, 0, 0 };
    return m->def && m->def->out_arg >= 0 ? arg_loc(&m->args, m->def->out_arg) : m->call->loc;
}
