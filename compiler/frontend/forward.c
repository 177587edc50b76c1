/* compiler/frontend/forward.c: the model's dataflow graph. Runs forward blocks symbolically (names
 * bound to tensors, each with its shape and where that came from), or a model's
 * attributes in order when it has none, and appends one Program step per layer
 * application, `+` and torch.cat, checking shapes as it goes. */
#include <stdio.h>
#include <string.h>

#include "../../runtime/error.h"
#include "layers.h"
#include "module.h"

void *grow(void *v, int n, int *cap, size_t size)
{
    if (n < *cap) return v;
    *cap = *cap ? 2 * *cap : 16;
    return xrealloc(v, (size_t)*cap * size);
}

/* A forward block being run. */
typedef struct Fwd {
    Module *block;          /* the instance whose forward it is */
    Scope   scope;          /* its local names: tensors and constants */
    int     returned;
    Val    *result;
} Fwd;

static int step_add(Ctx *c, StepKind kind, int layer, const int *in, int nin, SrcLoc loc,
                    const char *label, const Shape *s)
{
    ModelState *ms = c->model;
    Program *p = ms->p;
    p->steps = grow(p->steps, p->nsteps, &ms->steps_cap, sizeof *p->steps);
    Step *st = &p->steps[p->nsteps];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->layer = layer;
    for (int i = 0; i < nin; i++) st->in[i] = in[i];
    st->nin = nin;
    st->loc = loc;
    snprintf(st->label, sizeof st->label, "%s", label);
    st->out_ndim = s->ndim;
    for (int i = 0; i < s->ndim; i++) st->out_shape[i] = s->d[i];
    return p->nsteps++;
}

static Val *tensor_val(Ctx *c, const AstNode *at, int step, const Shape *s)
{
    Val *v = val_new(c, VAL_TENSOR, at);
    Shape *copy = arena_alloc(&c->arena, sizeof *copy);
    *copy = *s;
    v->i = step;
    v->obj = copy;
    return v;
}

static const char *label_of(const Ctx *c, const char *dflt)
{
    const ModelState *ms = c->model;
    return ms->prefix && ms->prefix[0] ? ms->prefix : dflt;
}

static int block_forward(Ctx *c, Module *m, int in, Shape *s);

int forward_apply(Ctx *c, Module *m, int in, Shape *s, const AstNode *at)
{
    ModelState *ms = c->model;
    (void)at;
    switch (m->mk) {
    case M_LAYER: {
        if (m->def->infer(c, m, s, in == 0)) return -1;
        if (m->index < 0) model_add_layer(c, m, label_of(c, m->def->type_name), 1);
        Layer *L = &ms->p->layers[m->index];
        if (!m->applied) {
            if (layer_finish(c, m, L)) return -1;
            L->out_ndim = s->ndim;
            for (int i = 0; i < 3; i++) L->out_shape[i] = i < s->ndim ? s->d[i] : 0;
        }
        m->applied = 1;
        return step_add(c, S_LAYER, m->index, &in, 1, L->functional ? m->call->loc : L->loc,
                        L->key, s);
    }
    case M_SEQUENTIAL:
        m->applied = 1;
        for (int i = 0; i < m->nkids && in >= 0; i++) in = forward_apply(c, m->kids[i], in, s, NULL);
        return in;
    case M_BLOCK:
        return block_forward(c, m, in, s);
    }
    return -1;
}

/* ---- expressions ---- */

static Val *fwd_eval(Ctx *c, Fwd *f, const AstNode *n);

static int is_tensor(const Val *v) { return v->kind == VAL_TENSOR; }

/* Where name is assigned in stmts (searching if blocks too), or NULL. */
static const AstNode *assigned_in(AstNode *const *stmts, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const AstNode *st = stmts[i];
        if (st->kind == A_ASSIGN && !strcmp(st->str, name)) return st;
        if (st->kind == A_IF)
            for (int k = 1; k < st->nkids; k++) {
                const AstNode *r = assigned_in(st->kids[k]->kids, st->kids[k]->nkids, name);
                if (r) return r;
            }
    }
    return NULL;
}

static Val *fwd_name(Ctx *c, Fwd *f, const AstNode *n)
{
    const char *name = !strncmp(n->str, "self.", 5) && n->str[5] ? n->str + 5 : n->str;
    Binding *b = scope_find(c->scope, name, 1);
    if (!b) {
        const AstNode *later = assigned_in(f->block->forward->kids, f->block->forward->nkids, name);
        if (later) {
            char where[512];
            diag_error(c->diag, n->loc, "%s is used before it is assigned", n->str);
            diag_note(c->diag, "it is assigned at %s",
                      diag_where(c->diag, later->name_loc, where, sizeof where));
            return NULL;
        }
        return eval(c, n);              /* the unknown-name error, with "did you mean" */
    }
    if (b->val->kind == VAL_OBJ && b->val->obj_kind == OBJ_MODULE)
        return diag_error(c->diag, n->loc, "%s is a layer; call it on a tensor: %s(x)", n->str,
                          n->str), NULL;
    return eval(c, n);
}

static Val *fwd_add(Ctx *c, const AstNode *n, Val *a, Val *b)
{
    const Shape *sa = a->obj, *sb = b->obj;
    int same = sa->ndim == sb->ndim;
    for (int i = 0; same && i < sa->ndim; i++) same = sa->d[i] == sb->d[i];
    if (!same) {
        char x[64], y[64], wa[128], wb[128];
        shape_text(sa->d, sa->ndim, x, sizeof x);
        shape_text(sb->d, sb->ndim, y, sizeof y);
        diag_error(c->diag, n->loc, "cannot add tensors of different shapes: %s and %s", x, y);
        snprintf(wa, sizeof wa, "the left operand (%s)", x);
        snprintf(wb, sizeof wb, "the right operand (%s)", y);
        note_source_as(c, sa, wa);
        note_source_as(c, sb, wb);
        return NULL;
    }
    int in[2] = { a->i, b->i };
    int st = step_add(c, S_ADD, -1, in, 2, n->loc, label_of(c, "+"), sa);
    return tensor_val(c, n, st, sa);
}

static Val *fwd_binop(Ctx *c, Fwd *f, const AstNode *n)
{
    Val *a = fwd_eval(c, f, n->kids[0]);
    if (!a) return NULL;
    Val *b = fwd_eval(c, f, n->kids[1]);
    if (!b) return NULL;
    if (!is_tensor(a) && !is_tensor(b)) return eval(c, n);
    if (n->op != '+')
        return diag_error(c->diag, n->loc, "a forward block adds tensors (+) and concatenates "
                          "them (torch.cat); this operator is not supported on tensors"), NULL;
    if (!is_tensor(a) || !is_tensor(b))
        return diag_error(c->diag, n->loc, "cannot add %s and %s; `+` in a forward adds two "
                          "tensors of one shape", val_what(a), val_what(b)), NULL;
    return fwd_add(c, n, a, b);
}

/* torch.cat(tensors, dim): along dim 1 (channels, or features of flat tensors). */
static const LayerDef cat_def = { "torch.cat", L_IDENTITY, "torch.cat", NULL, -1, NULL, NULL };

static Val *fwd_cat(Ctx *c, Fwd *f, const AstNode *n)
{
    const AstNode *list = NULL, *dim = NULL;
    int npos = 0;
    for (int i = 0; i < n->nkids; i++) {
        const AstNode *k = n->kids[i];
        if (k->kind == A_KWARG && !strcmp(k->str, "dim") && !dim) dim = k->kids[0];
        else if (k->kind == A_KWARG && !strcmp(k->str, "tensors") && !list) list = k->kids[0];
        else if (k->kind != A_KWARG && npos == 0 && !list) { list = k; npos++; }
        else if (k->kind != A_KWARG && npos == 1 && !dim) { dim = k; npos++; }
        else
            return diag_error(c->diag, k->loc, "torch.cat takes (tensors, dim=1)"), NULL;
    }
    if (!list) return diag_error(c->diag, n->loc, "torch.cat needs a list of tensors"), NULL;
    Val *dv = NULL;
    if (dim && !(dv = eval(c, dim))) return NULL;
    if (!dv || dv->kind != VAL_INT || dv->i != 1)
        return diag_error(c->diag, dim ? dim->loc : n->loc, "torch.cat joins along channels "
                          "here: write dim=1"), NULL;
    Val *lv = fwd_eval(c, f, list);
    if (!lv) return NULL;
    if (lv->kind != VAL_LIST && lv->kind != VAL_TUPLE)
        return diag_error(c->diag, list->loc, "torch.cat takes a list of tensors, got %s",
                          val_what(lv)), NULL;
    if (lv->n < 1 || lv->n > STEP_MAX_IN)
        return diag_error(c->diag, list->loc, "torch.cat joins 1 to %d tensors here, got %d",
                          STEP_MAX_IN, lv->n), NULL;
    int in[STEP_MAX_IN];
    const Shape *first = NULL;
    Shape out;
    for (int i = 0; i < lv->n; i++) {
        const Val *t = lv->items[i];
        if (!is_tensor(t))
            return diag_error(c->diag, t->at->loc, "torch.cat takes tensors, got %s",
                              val_what(t)), NULL;
        const Shape *s = t->obj;
        in[i] = t->i;
        if (!first) {
            first = s;
            out = *s;
            continue;
        }
        int ok = s->ndim == first->ndim && (s->ndim == 1 || (s->d[1] == first->d[1] &&
                                                             s->d[2] == first->d[2]));
        if (!ok) {
            char x[64], y[64], wa[128], wb[128];
            shape_text(first->d, first->ndim, x, sizeof x);
            shape_text(s->d, s->ndim, y, sizeof y);
            diag_error(c->diag, t->at->loc, "torch.cat joins tensors along channels, so their "
                       "other sizes must agree: the first is %s, this one %s", x, y);
            snprintf(wa, sizeof wa, "the first (%s)", x);
            snprintf(wb, sizeof wb, "this one (%s)", y);
            note_source_as(c, first, wa);
            note_source_as(c, s, wb);
            return NULL;
        }
        out.d[0] += s->d[0];
    }
    if (lv->n == 1) return lv->items[0];
    Module *src = arena_alloc(&c->arena, sizeof *src);
    src->def = &cat_def;
    src->call = n;
    if (shape_changed(c, src, first, &out)) return NULL;
    int st = step_add(c, S_CAT, -1, in, lv->n, n->loc, label_of(c, "torch.cat"), &out);
    return tensor_val(c, n, st, &out);
}

/* The tensor argument of a call: exactly one, positional. */
static Val *one_tensor(Ctx *c, Fwd *f, const AstNode *n, const char *what)
{
    if (n->nkids < 1 || n->kids[0]->kind == A_KWARG || n->kids[0]->kind == A_STAR)
        return diag_error(c->diag, n->loc, "%s takes a tensor as its first argument", what), NULL;
    Val *x = fwd_eval(c, f, n->kids[0]);
    if (!x) return NULL;
    if (!is_tensor(x))
        return diag_error(c->diag, n->kids[0]->loc, "%s takes a tensor, got %s", what,
                          val_what(x)), NULL;
    return x;
}

static Val *fwd_call(Ctx *c, Fwd *f, const AstNode *n)
{
    const char *name = !strncmp(n->str, "self.", 5) && n->str[5] ? n->str + 5 : n->str;
    Binding *b = scope_find(f->block->scope, name, 0);
    if (b && b->val->kind == VAL_OBJ && b->val->obj_kind == OBJ_MODULE) {
        b->used = 1;
        if (n->nkids != 1)
            return diag_error(c->diag, n->loc, "%s takes one tensor: %s(x)", n->str, n->str), NULL;
        Val *x = one_tensor(c, f, n, n->str);
        if (!x) return NULL;
        Shape s = *(const Shape *)x->obj;
        int st = forward_apply(c, b->val->obj, x->i, &s, n);
        return st < 0 ? NULL : tensor_val(c, n, st, &s);
    }
    if (b && b->val->kind == VAL_NONE) {
        char where[512];
        diag_error(c->diag, n->name_loc, "%s is None in this %s; call it under `if self.%s is "
                   "not None { ... }`", n->str, f->block->model->str, name);
        diag_note(c->diag, "it is set at %s", diag_where(c->diag, b->def->name_loc, where,
                                                          sizeof where));
        return NULL;
    }
    if (!strcmp(n->str, "torch.cat")) return fwd_cat(c, f, n);
    const LayerDef *def = layer_def(n->str);
    int functional = def && (!strncmp(def->name, "F.", 2) || !strncmp(def->name, "torch.", 6));
    if (functional) {
        Val *x = one_tensor(c, f, n, n->str);
        if (!x) return NULL;
        AstNode *rest = arena_alloc(&c->arena, sizeof *rest);
        *rest = *n;                     /* the call without its tensor */
        rest->kids = n->kids + 1;
        rest->nkids = n->nkids - 1;
        Module *m = layer_build(c, def, rest);
        if (!m) return NULL;
        Shape s = *(const Shape *)x->obj;
        int st = forward_apply(c, m, x->i, &s, n);
        return st < 0 ? NULL : tensor_val(c, n, st, &s);
    }
    if (def)
        return diag_error(c->diag, n->name_loc, "%s is a layer: make it an attribute (%s = "
                          "%s(...)) and call that in forward, or use its functional form",
                          n->str, "name", n->str), NULL;
    const char *cands[64];
    int nc = 0;
    for (int i = 0; i < f->block->nattrs && nc < 64; i++) cands[nc++] = f->block->attrs[i].name;
    const char *dym = did_you_mean(name, cands, nc);
    if (dym)
        return diag_error(c->diag, n->name_loc, "%s has no attribute %s; did you mean %s?",
                          f->block->model->str, name, dym), NULL;
    return diag_error(c->diag, n->name_loc, "a forward calls the model's attributes and "
                      "functions such as F.relu or torch.cat; %s is neither", n->str), NULL;
}

static Val *fwd_eval(Ctx *c, Fwd *f, const AstNode *n)
{
    switch (n->kind) {
    case A_NAME:
        return fwd_name(c, f, n);
    case A_CALL:
        return fwd_call(c, f, n);
    case A_BINOP:
        return fwd_binop(c, f, n);
    case A_TERNARY: {
        Val *cond = eval_cond(c, n->kids[1]);
        if (!cond) return NULL;
        if (cond->kind == VAL_TENSOR)
            return diag_error(c->diag, n->kids[1]->loc, "a condition here is decided when the "
                              "model is checked; it cannot test a tensor"), NULL;
        return fwd_eval(c, f, n->kids[val_truth(cond) ? 0 : 2]);
    }
    case A_LIST:
    case A_TUPLE: {
        Val *v = val_new(c, n->kind == A_LIST ? VAL_LIST : VAL_TUPLE, n);
        v->n = n->nkids;
        v->items = arena_alloc(&c->arena, (size_t)(n->nkids ? n->nkids : 1) * sizeof *v->items);
        for (int i = 0; i < n->nkids; i++)
            if (!(v->items[i] = fwd_eval(c, f, n->kids[i]))) return NULL;
        return v;
    }
    default:
        return eval(c, n);
    }
}

/* ---- statements ---- */

static int fwd_stmts(Ctx *c, Fwd *f, AstNode *const *stmts, int n)
{
    for (int i = 0; i < n && !f->returned; i++) {
        const AstNode *st = stmts[i];
        switch (st->kind) {
        case A_ASSIGN: {
            if (strchr(st->str, '.'))
                return diag_error(c->diag, st->name_loc, "a forward assigns plain names; %s is "
                                  "an attribute (attributes are set outside forward)", st->str);
            Val *v = fwd_eval(c, f, st->kids[0]);
            if (!v) return -1;
            scope_set(c, &f->scope, st->str, v, st);
            break;
        }
        case A_RETURN: {
            Val *v = fwd_eval(c, f, st->kids[0]);
            if (!v) return -1;
            if (!is_tensor(v))
                return diag_error(c->diag, st->kids[0]->loc, "forward returns a tensor, got %s",
                                  val_what(v));
            f->returned = 1;
            f->result = v;
            break;
        }
        case A_IF: {
            Val *cond = eval_cond(c, st->kids[0]);
            if (!cond) return -1;
            if (cond->kind == VAL_TENSOR)
                return diag_error(c->diag, st->kids[0]->loc, "an if in forward is decided when "
                                  "the model is checked, from the block's arguments and "
                                  "attributes; it cannot test a tensor");
            const AstNode *br = val_truth(cond) ? st->kids[1] : st->nkids > 2 ? st->kids[2] : NULL;
            if (br && fwd_stmts(c, f, br->kids, br->nkids)) return -1;
            break;
        }
        default:
            return diag_error(c->diag, st->loc, "a forward holds assignments, if and return; "
                              "not a %s", ast_kind_name(st->kind));
        }
    }
    return 0;
}

static int block_forward(Ctx *c, Module *m, int in, Shape *s)
{
    ModelState *ms = c->model;
    m->applied = 1;
    const char *saved_prefix = ms->prefix;
    ms->prefix = m->key;
    if (!m->forward) {                  /* attributes in order, as today's models */
        for (int i = 0; i < m->nattrs && in >= 0; i++)
            if (m->attrs[i].mod) in = forward_apply(c, m->attrs[i].mod, in, s, NULL);
        ms->prefix = saved_prefix;
        return in;
    }
    Fwd f;
    memset(&f, 0, sizeof f);
    f.block = m;
    f.scope.parent = m->scope;
    const AstNode *param = m->forward->aux[0];
    scope_set(c, &f.scope, param->str, tensor_val(c, param, in, s), param);
    Val *training = val_new(c, VAL_OBJ, m->forward);
    training->obj_kind = OBJ_TRAINING;
    training->what = "self.training";
    scope_set(c, &f.scope, "training", training, m->forward);
    Scope *saved = c->scope;
    int saved_in = c->in_model, saved_fwd = c->in_forward;
    c->scope = &f.scope;
    c->in_model = c->in_forward = 1;
    int rc = fwd_stmts(c, &f, m->forward->kids, m->forward->nkids);
    c->scope = saved;
    c->in_model = saved_in;
    c->in_forward = saved_fwd;
    ms->prefix = saved_prefix;
    if (rc) return -1;
    if (!f.returned)
        return diag_error(c->diag, m->forward->name_loc, "forward of %s ends without return; "
                          "end it with `return out`", m->model->str);
    *s = *(const Shape *)f.result->obj;
    return f.result->i;
}

/* ---- the entry model ---- */

int forward_model(Ctx *c, Module *root, Program *p)
{
    ModelState *ms = c->model;
    Shape s;
    memset(&s, 0, sizeof s);
    s.ndim = 3;
    memcpy(s.d, p->in_shape, sizeof s.d);
    step_add(c, S_INPUT, -1, NULL, 0, ms->input->loc, "input", &s);
    ms->prefix = "";
    int out = block_forward(c, root, 0, &s);
    if (out < 0) return -1;
    p->output = out;
    p->out_ndim = s.ndim;
    for (int i = 0; i < 3; i++) p->out_shape[i] = i < s.ndim ? s.d[i] : 0;
    ms->out_src = s.src;
    for (int i = 1; i < p->nsteps; i++) {
        const Step *st = &p->steps[i];
        if (st->kind != S_LAYER || i == out) continue;
        const Layer *L = &p->layers[st->layer];
        if (L->kind == L_SOFTMAX || L->kind == L_LOG_SOFTMAX)
            return diag_error(c->diag, st->loc, "%s must be the model's last layer (it gives "
                              "the class probabilities)", L->type_name);
    }
    return 0;
}
