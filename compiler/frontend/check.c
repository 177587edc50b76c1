/* compiler/frontend/check.c: the checker's entry points and the file's top level: the names cnnc
 * reads (train_dataset, BATCH_SIZE, criterion, ...), the checks that need the whole file,
 * and the Program it hands back. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/error.h"
#include "builtins.h"
#include "eval.h"
#include "layers.h"
#include "schedulers.h"
#include "transform_calls.h"

#define MAX_EPOCHS 1000000

/* ---- the names cnnc reads ---- */

typedef enum {
    R_TRAIN_DS, R_TEST_DS, R_VAL_DS, R_TRAIN_LD, R_TEST_LD, R_VAL_LD,
    R_CLASSES, R_BATCH, R_EPOCHS, R_CRITERION, R_OPTIMIZER, R_SCHEDULER, NROLES
} RoleId;

static const struct RoleName {
    const char *name;
    RoleId      id;
} role_names[] = {
    { "train_dataset", R_TRAIN_DS }, { "test_dataset", R_TEST_DS },
    { "validation_dataset", R_VAL_DS }, { "val_dataset", R_VAL_DS },
    { "validate_dataset", R_VAL_DS },
    { "train_loader", R_TRAIN_LD }, { "test_loader", R_TEST_LD },
    { "validation_loader", R_VAL_LD }, { "val_loader", R_VAL_LD },
    { "validate_loader", R_VAL_LD },
    { "classes", R_CLASSES }, { "species", R_CLASSES },
    { "BATCH_SIZE", R_BATCH }, { "NUM_EPOCHS", R_EPOCHS },
    { "criterion", R_CRITERION }, { "optimizer", R_OPTIMIZER },
    { "scheduler", R_SCHEDULER }, { "lr_scheduler", R_SCHEDULER },
};
#define NROLE_NAMES ((int)(sizeof role_names / sizeof role_names[0]))

typedef struct Check {
    const CheckOptions *opt;
    const AstNode *model;
    Val           *role[NROLES];
    const AstNode *role_def[NROLES];
} Check;

/* ---- the top level ---- */

static int is_obj(const Val *v, ObjKind k) { return v->kind == VAL_OBJ && v->obj_kind == k; }

static int check_int_role(Ctx *c, const char *name, const Val *v, int64_t hi)
{
    if (v->kind != VAL_INT)
        return diag_error(c->diag, v->at->loc, "%s must be an integer, got %s", name, val_what(v));
    if (v->i < 1)
        return diag_error(c->diag, v->at->loc, "%s must be at least 1, got %lld", name,
                          (long long)v->i);
    if (v->i > hi)
        return diag_error(c->diag, v->at->loc, "%s must be at most %lld, got %lld", name,
                          (long long)hi, (long long)v->i);
    return 0;
}

static int check_classes(Ctx *c, const char *name, const Val *v)
{
    if (v->kind != VAL_LIST && v->kind != VAL_TUPLE)
        return diag_error(c->diag, v->at->loc, "%s must be a list of class names, got %s", name,
                          val_what(v));
    if (v->n == 0) return diag_error(c->diag, v->at->loc, "%s must not be empty", name);
    for (int i = 0; i < v->n; i++) {
        const Val *x = v->items[i];
        if (x->kind != VAL_STR)
            return diag_error(c->diag, x->at->loc, "%s must hold strings, got %s", name,
                              val_what(x));
        if (!x->s[0]) return diag_error(c->diag, x->at->loc, "a class name cannot be empty");
        for (int j = 0; j < i; j++)
            if (!strcmp(v->items[j]->s, x->s))
                return diag_error(c->diag, x->at->loc, "class name \"%s\" appears twice", x->s);
    }
    return 0;
}

/* The names cnnc reads must hold the right kind of value; checked where they are set. */
static int check_role(Ctx *c, Check *k, const AstNode *st, RoleId id, Val *v)
{
    const char *name = st->str;
    if (k->role_def[id] && strcmp(k->role_def[id]->str, name))
        return diag_error(c->diag, st->name_loc, "%s and %s name the same thing; keep one",
                          k->role_def[id]->str, name);
    int bad = 0;
    const char *want = NULL;
    switch (id) {
    case R_TRAIN_DS: case R_TEST_DS: case R_VAL_DS:
        bad = !is_obj(v, OBJ_DATASET);
        want = "an ImageFolder(...) dataset";
        break;
    case R_TRAIN_LD: case R_TEST_LD: case R_VAL_LD:
        bad = !is_obj(v, OBJ_LOADER);
        want = "a DataLoader(...)";
        break;
    case R_CRITERION:
        bad = !is_obj(v, OBJ_LOSS);
        want = "a loss such as CrossEntropyLoss()";
        break;
    case R_OPTIMIZER:
        bad = !is_obj(v, OBJ_OPTIMIZER);
        want = "an optimizer such as Adam(lr=0.001)";
        break;
    case R_SCHEDULER:
        bad = !is_obj(v, OBJ_SCHEDULER);
        want = "a learning-rate scheduler such as StepLR(optimizer, step_size=5)";
        break;
    case R_CLASSES:
        if (check_classes(c, name, v)) return -1;
        break;
    case R_BATCH:
        if (check_int_role(c, name, v, MAX_BATCH)) return -1;
        break;
    case R_EPOCHS:
        if (check_int_role(c, name, v, MAX_EPOCHS)) return -1;
        break;
    case NROLES:
        break;
    }
    if (bad) return diag_error(c->diag, v->at->loc, "%s must be %s, got %s", name, want, val_what(v));
    k->role[id] = v;
    k->role_def[id] = st;
    return 0;
}

static int has_input(const AstNode *model)
{
    for (int i = 0; i < model->nkids; i++)
        if (model->kids[i]->kind == A_INPUT) return 1;
    return 0;
}

/* The models of the file, before anything is checked: each name bound to its definition
 * (blocks may be used before they are written), and the entry model chosen: the one that
 * declares input (else the first without parameters, whose check says what is missing). */
static int declare_models(Ctx *c, Check *k, const Ast *ast)
{
    const AstNode *first_plain = NULL, *first = NULL;
    for (int i = 0; i < ast->nstmts; i++) {
        const AstNode *st = ast->stmts[i];
        if (st->kind != A_MODEL) continue;
        if (!first) first = st;
        if (!first_plain && !st->op) first_plain = st;
        Binding *b = scope_find(&c->globals, st->str, 0);
        if (b) {
            char where[512];
            diag_error(c->diag, st->name_loc, "model %s is declared twice", st->str);
            diag_note(c->diag, "first declared at %s",
                      diag_where(c->diag, b->def->name_loc, where, sizeof where));
            return -1;
        }
        Val *v = val_new(c, VAL_OBJ, st);
        v->obj_kind = OBJ_BLOCKDEF;
        v->what = arena_printf(&c->arena, "the model %s", st->str);
        v->obj = (void *)st;
        scope_set(c, &c->globals, st->str, v, st);
        c->globals.b[c->globals.n - 1].used = 1;
        if (st->op == 'S' || !has_input(st)) continue;
        if (k->model) {
            char where[512];
            diag_error(c->diag, st->name_loc, "a file declares one entry model (the one with "
                       "input); %s is the second", st->str);
            diag_note(c->diag, "the first is %s at %s", k->model->str,
                      diag_where(c->diag, k->model->name_loc, where, sizeof where));
            return -1;
        }
        k->model = st;
    }
    if (!k->model) k->model = first_plain ? first_plain : first;
    return 0;
}

/* A call on its own line: gradient clipping, the one such statement a training loop has */
static int call_statement(Ctx *c, const AstNode *st, Program *p)
{
    Val *v = eval(c, st->kids[0]);
    if (!v) return -1;
    if (v->kind != VAL_OBJ || v->obj_kind != OBJ_CLIP)
        return diag_error(c->diag, st->loc, "%s on its own does nothing; assign it to a name (a call on its "
                          "own line can only be clip_grad_norm_ or clip_grad_value_)", val_what(v));
    if (p->clip.kind != CLIP_NONE) {
        char where[512];
        diag_error(c->diag, st->loc, "gradient clipping is given twice; keep one");
        diag_note(c->diag, "the first is at %s", diag_where(c->diag, p->clip.loc, where, sizeof where));
        return -1;
    }
    p->clip = *(const ClipDecl *)v->obj;
    return 0;
}

static int top_statement(Ctx *c, Check *k, const AstNode *st, Program *p)
{
    if (st->kind == A_MODEL)
        return st == k->model ? model_check(c, st, p) : 0;
    if (!st->str[0]) return call_statement(c, st, p);
    Binding *prev = scope_find(&c->globals, st->str, 0);
    if (prev && prev->val->kind == VAL_OBJ && prev->val->obj_kind == OBJ_BLOCKDEF)
        return diag_error(c->diag, st->name_loc, "%s names a model block; choose another name",
                          st->str);
    if (strchr(st->str, '.'))
        return diag_error(c->diag, st->name_loc, "cannot assign to %s: outside the model block "
                          "names are plain names", st->str);
    Val *v = eval(c, st->kids[0]);
    if (!v) return -1;
    for (int i = 0; i < NROLE_NAMES; i++)
        if (!strcmp(role_names[i].name, st->str) && check_role(c, k, st, role_names[i].id, v))
            return -1;
    scope_set(c, &c->globals, st->str, v, st);
    return 0;
}

/* A name that is never read and is one typo away from a name cnnc reads is a mistake. */
static int check_unused(Ctx *c)
{
    const char *cands[NROLE_NAMES];
    for (int i = 0; i < NROLE_NAMES; i++) cands[i] = role_names[i].name;
    for (int i = 0; i < c->globals.n; i++) {
        const Binding *b = &c->globals.b[i];
        int role = 0;
        for (int j = 0; j < NROLE_NAMES; j++) role |= !strcmp(cands[j], b->name);
        if (role || b->used) continue;
        const char *dym = did_you_mean(b->name, cands, NROLE_NAMES);
        if (dym)
            return diag_error(c->diag, b->def->name_loc, "%s is never used; did you mean %s?",
                              b->name, dym);
    }
    return 0;
}

static char *resolve(const char *cnn_path, const char *path)
{
    const char *slash = strrchr(cnn_path, '/');
    if (path[0] == '/' || !slash) return xstrdup(path);
    size_t dir = (size_t)(slash - cnn_path) + 1;
    char *r = xmalloc(dir + strlen(path) + 1);
    memcpy(r, cnn_path, dir);
    strcpy(r + dir, path);
    return r;
}

/* The data set a role ends up with: a loader's, else the dataset's own. */
static const DatasetObj *chosen(const Val *ds_val, const Val *ld_val)
{
    if (ld_val) return ((const LoaderObj *)ld_val->obj)->ds;
    return ds_val ? ds_val->obj : NULL;
}

/* ImageFolder reads RGB (PIL's convert('RGB')), or 'L' for a 1-channel model whose transform
 * has no Grayscale; MNIST-format data sets are 'L' */
static int load_channels(const Program *p, const DatasetObj *ds)
{
    if (ds->kind != DS_IMAGEFOLDER) return 1;
    return pipeline_has_grayscale(ds->tf) ? 3 : p->in_shape[0];
}

static void fill_dataset(const Program *p, DatasetDecl *d, const Val *ds_val, const Val *ld_val,
                         int is_train)
{
    const LoaderObj *ld = ld_val ? ld_val->obj : NULL;
    const DatasetObj *ds = chosen(ds_val, ld_val);
    if (!ds) return;
    d->present = 1;
    d->kind = ds->kind;
    d->train = ds->train;
    d->load_channels = load_channels(p, ds);
    d->path = xstrdup(ds->root);
    d->resolved = resolve(p->path, ds->root);
    d->loc = ds->call->loc;
    pipeline_copy(&d->transform, ds->tf->steps, ds->tf->n);
    d->batch_size = ld ? ld->batch_size : p->batch_size;
    d->shuffle = ld ? ld->shuffle : is_train;
}

/* A Normalize must have one mean and std per channel of the model's input. */
static int check_normalize(Ctx *c, const Program *p, const DatasetObj *ds)
{
    char where[512];
    for (int i = 0; ds && i < ds->tf->n; i++) {
        const Transform *t = &ds->tf->steps[i];
        if (t->kind != TF_NORMALIZE || t->nch == p->in_shape[0]) continue;
        diag_error(c->diag, ds->tf->at[i], "Normalize's mean and std have %d value%s, but the "
                   "model's input has %d channel%s", t->nch, t->nch == 1 ? "" : "s",
                   p->in_shape[0], p->in_shape[0] == 1 ? "" : "s");
        diag_note(c->diag, "the input is declared at %s",
                  diag_where(c->diag, model_input_loc(c), where, sizeof where));
        return -1;
    }
    return 0;
}

static const char *dataset_name(const DatasetObj *ds)
{
    return ds->kind == DS_IMAGEFOLDER ? "ImageFolder" : ds->kind == DS_MNIST ? "MNIST" : "FashionMNIST";
}

/* The pipeline's output must be the model's input: channels always; size when the images'
 * size is known (MNIST's 28 x 28, or a transform that sets it). */
static int check_pipeline_shape(Ctx *c, const Program *p, const DatasetObj *ds)
{
    if (!ds) return 0;
    char where[512];
    SrcLoc none = { 0, 0, 0 };
    int mnist = ds->kind != DS_IMAGEFOLDER;
    TfShape s = { load_channels(p, ds), mnist ? 28 : 0, mnist ? 28 : 0, none, none };
    if (pipeline_infer(c, ds->tf, &s)) return -1;
    const int *in = p->in_shape;
    if (s.c != in[0]) {
        if (s.c_at.line)
            diag_error(c->diag, s.c_at, "this transform gives %d-channel images, but the model's input has %d "
                       "channel%s", s.c, in[0], in[0] == 1 ? "" : "s");
        else
            diag_error(c->diag, ds->call->loc, "%s gives %d-channel images, but the model's input has %d channels; "
                       "add Grayscale(num_output_channels=%d) to its transform", dataset_name(ds), s.c, in[0], in[0]);
        diag_note(c->diag, "the input is declared at %s", diag_where(c->diag, model_input_loc(c), where, sizeof where));
        return -1;
    }
    if (s.h && s.w && (s.h != in[1] || s.w != in[2])) {
        if (s.hw_at.line)
            diag_error(c->diag, s.hw_at, "this transform gives %d x %d images (height x width), but the model's "
                       "input is %d x %d", s.h, s.w, in[1], in[2]);
        else
            diag_error(c->diag, ds->call->loc, "%s gives %d x %d images, but the model's input is %d x %d; add "
                       "Resize((%d, %d)) to its transform or change the model's input", dataset_name(ds), s.h, s.w,
                       in[1], in[2], in[1], in[2]);
        diag_note(c->diag, "the input is declared at %s", diag_where(c->diag, model_input_loc(c), where, sizeof where));
        return -1;
    }
    return 0;
}

/* "model X has no optimizer; add ...", with a note when another name holds one. */
static int missing(Ctx *c, const Program *p, ObjKind kind, const char *what, const char *name,
                   const char *add)
{
    diag_error(c->diag, p->model_loc, "model %s cannot be trained without %s; add `%s`",
               p->model_name, what, add);
    for (int i = 0; i < c->globals.n; i++) {
        const Binding *b = &c->globals.b[i];
        const Val *v = b->val;
        if (is_obj(v, kind) || (kind == OBJ_DATASET && is_obj(v, OBJ_LOADER))) {
            diag_note(c->diag, "%s holds %s, but cnnc reads it from the name %s", b->name,
                      val_what(v), name);
            break;
        }
    }
    return -1;
}

static int finish(Ctx *c, Check *k, Program *p)
{
    char where[512];
    if (!k->model)
        return diag_error(c->diag, (SrcLoc){ 1, 1, 1 }, "this file declares no model; add "
                          "`model NAME { input [3, 100, 100] ... }`");
    if (check_unused(c)) return -1;
    /* scores per class are what the loss, the data sets and `classes` read */
    int uses_scores = k->opt->require_training || k->opt->require_classifier;
    for (int id = 0; id < NROLES; id++) uses_scores |= id != R_BATCH && id != R_EPOCHS && k->role[id];
    if (uses_scores && model_check_classifier(c, p)) return -1;
    for (int set = 0; set < 3; set++)
        if (check_normalize(c, p, chosen(k->role[R_TRAIN_DS + set], k->role[R_TRAIN_LD + set])) ||
            check_pipeline_shape(c, p, chosen(k->role[R_TRAIN_DS + set], k->role[R_TRAIN_LD + set])))
            return -1;
    const Val *cls = k->role[R_CLASSES];
    if (cls) {
        if (p->out_shape[0] != cls->n) {
            diag_error(c->diag, model_output_loc(c), "the model gives %d score%s per sample, but "
                       "%s lists %d classes", p->out_shape[0], p->out_shape[0] == 1 ? "" : "s",
                       k->role_def[R_CLASSES]->str, cls->n);
            diag_note(c->diag, "%s is set at %s", k->role_def[R_CLASSES]->str,
                      diag_where(c->diag, k->role_def[R_CLASSES]->name_loc, where, sizeof where));
            return -1;
        }
        p->nclasses = cls->n;
        p->classes = xcalloc((size_t)cls->n, sizeof *p->classes);
        for (int i = 0; i < cls->n; i++) p->classes[i] = xstrdup(cls->items[i]->s);
    }
    if (k->role[R_BATCH]) p->batch_size = (int)k->role[R_BATCH]->i;
    if (k->role[R_EPOCHS]) p->epochs = (int)k->role[R_EPOCHS]->i;
    fill_dataset(p, &p->train, k->role[R_TRAIN_DS], k->role[R_TRAIN_LD], 1);
    fill_dataset(p, &p->test, k->role[R_TEST_DS], k->role[R_TEST_LD], 0);
    fill_dataset(p, &p->validation, k->role[R_VAL_DS], k->role[R_VAL_LD], 0);
    if (k->role[R_CRITERION]) {
        p->has_loss = 1;
        p->loss_loc = k->role[R_CRITERION]->at->loc;
        p->loss = *(const LossDecl *)k->role[R_CRITERION]->obj;
        p->nll_loss = p->loss.nll;
        if (p->loss.weight) {
            float *w = xmalloc((size_t)p->loss.nweight * sizeof *w);
            memcpy(w, p->loss.weight, (size_t)p->loss.nweight * sizeof *w);
            p->loss.weight = w;
            if (p->loss.nweight != p->out_shape[0]) {
                diag_error(c->diag, p->loss.weight_loc, "weight has %d class weight%s, but the model has %d "
                           "classes; give one weight per class", p->loss.nweight, p->loss.nweight == 1 ? "" : "s",
                           p->out_shape[0]);
                return -1;
            }
        }
        const Step *out = &p->steps[p->output];
        int logsoftmax = out->kind == S_LAYER && p->layers[out->layer].kind == L_LOG_SOFTMAX;
        if (p->nll_loss && !logsoftmax) {
            diag_error(c->diag, p->loss_loc, "NLLLoss takes log-probabilities, but the model "
                       "does not end with LogSoftmax(dim=1)");
            diag_note(c->diag, "end the model with LogSoftmax(dim=1), or use "
                      "CrossEntropyLoss(), which takes the scores themselves");
            return -1;
        }
    }
    if (k->role[R_OPTIMIZER]) p->opt = *(const Optimizer *)k->role[R_OPTIMIZER]->obj;
    if (k->role[R_SCHEDULER]) {
        const Val *sv = k->role[R_SCHEDULER];
        if (scheduler_check(c, sv, k->role[R_OPTIMIZER] ? k->role[R_OPTIMIZER]->obj : NULL, p)) return -1;
    }

    if (k->opt->require_training) {
        if (!p->train.present)
            return missing(c, p, OBJ_DATASET, "a training set", "train_dataset",
                           "train_dataset = ImageFolder(\"path/to/train\", transform=transform)");
        if (!p->has_loss)
            return missing(c, p, OBJ_LOSS, "a loss", "criterion", "criterion = CrossEntropyLoss()");
        if (p->opt.kind == OPT_NONE)
            return missing(c, p, OBJ_OPTIMIZER, "an optimizer", "optimizer",
                           "optimizer = Adam(lr=0.001)");
    }
    return 0;
}

int check_source(const char *path, const char *src, size_t len, const CheckOptions *opt,
                 Program *out, FILE *diag)
{
    static const CheckOptions defaults = { 0 };
    memset(out, 0, sizeof *out);
    if (!src) len = 0;
    out->path = xstrdup(path ? path : "<input>");
    out->source = xmalloc(len + 1);
    if (len) memcpy(out->source, src, len);
    out->source[len] = '\0';
    out->batch_size = 10;
    out->epochs = 10;
    out->opt.kind = OPT_NONE;
    out->loss.ignore_index = -100;

    Diag d;
    diag_init(&d, diag, out->path, src, len);
    Ast ast;
    int rc = ast_parse(&ast, src, len, &d);
    if (rc == 0) {
        Check k;
        memset(&k, 0, sizeof k);
        k.opt = opt ? opt : &defaults;
        Ctx c;
        memset(&c, 0, sizeof c);
        c.diag = &d;
        c.scope = &c.globals;
        c.path = out->path;
        c.call = call_builtin;
        rc = declare_models(&c, &k, &ast);
        for (int i = 0; i < ast.nstmts && rc == 0; i++)
            rc = top_statement(&c, &k, ast.stmts[i], out);
        if (rc == 0) rc = finish(&c, &k, out);
        arena_free(&c.arena);
    }
    ast_free(&ast);
    if (rc) {
        program_free(out);
        return -1;
    }
    return 0;
}

int check_file(const char *path, const CheckOptions *opt, Program *out, FILE *diag)
{
    Diag d;
    diag_init(&d, diag, path, NULL, 0);
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return diag_plain(&d, "cannot read %s: %s", path, err_reason(errno, 0));
    size_t len = 0, cap = 1 << 16;
    char *buf = xmalloc(cap);
    for (;;) {          /* reading stops past AST_MAX_BYTES: the parser refuses that much */
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0 || len > AST_MAX_BYTES) break;
        if (len == cap) buf = xrealloc(buf, cap *= 2);
    }
    if (ferror(f)) {
        int err = errno;
        fclose(f);
        free(buf);
        return diag_plain(&d, "cannot read %s: %s", path, err_reason(err, 0));
    }
    fclose(f);
    int rc = check_source(path, buf, len, opt, out, diag);
    free(buf);
    return rc;
}

void program_free(Program *p)
{
    if (!p) return;
    free((char *)p->path);
    free(p->source);
    for (int i = 0; i < p->nlayers; i++) {
        free(p->layers[i].weight);
        free(p->layers[i].bias_data);
    }
    free(p->layers);
    free(p->steps);
    free(p->mods);
    DatasetDecl *sets[3] = { &p->train, &p->test, &p->validation };
    for (int i = 0; i < 3; i++) {
        free(sets[i]->path);
        free(sets[i]->resolved);
        if (sets[i]->transform.steps) pipeline_free(&sets[i]->transform);
    }
    for (int i = 0; i < p->nclasses; i++) free(p->classes[i]);
    free(p->classes);
    free(p->loss.weight);
    memset(p, 0, sizeof *p);
}
