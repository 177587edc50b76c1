/* compiler/frontend/builtins.c: the builtin table (every PyTorch name cnnc knows, with its module)
 * and the calls outside the model block: transforms, ImageFolder, DataLoader,
 * os.path.join and model.parameters(); the loss, the optimizers and gradient clipping are
 * training_calls.c's, the schedulers schedulers.c's. */
#include "builtins.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers.h"
#include "module.h"
#include "schedulers.h"
#include "training_calls.h"
#include "transform_calls.h"

/* ---- the builtin table ---- */

typedef enum { FAM_LAYER, FAM_LOSS, FAM_TRANSFORM, FAM_DATASET, FAM_LOADER, FAM_OPTIM, FAM_SCHED, NFAM } Family;

static const char *const family_word[NFAM] = {
    "layer", "loss", "transform", "dataset", "data loader", "optimizer", "scheduler"
};
static const char *const family_words[NFAM] = {
    "layers", "losses", "transforms", "datasets", "data loaders", "optimizers", "schedulers"
};
static const char *const family_module[NFAM] = {
    "torch.nn", "torch.nn", "torchvision.transforms", "torchvision.datasets",
    "torch.utils.data", "torch.optim", "torch.optim.lr_scheduler"
};
/* the module prefixes accepted before a name, as the notebook imports them */
static const char *const family_prefix[NFAM][3] = {
    { "nn", "torch.nn", NULL }, { "nn", "torch.nn", NULL },
    { "transforms", "torchvision.transforms", "T" }, { "datasets", "torchvision.datasets", NULL },
    { "torch.utils.data", "data", NULL }, { "optim", "torch.optim", NULL },
    { "lr_scheduler", "optim.lr_scheduler", "torch.optim.lr_scheduler" },
};

typedef Val *(*BuiltinFn)(Ctx *c, const AstNode *call, const char *name);

typedef struct Builtin {
    const char *name;
    Family      fam;
    BuiltinFn   fn;             /* NULL: a PyTorch name cnnc does not implement */
} Builtin;

static Val *call_imagefolder(Ctx *c, const AstNode *call, const char *name);
static Val *call_mnist(Ctx *c, const AstNode *call, const char *name);
static Val *call_dataloader(Ctx *c, const AstNode *call, const char *name);

static const Builtin builtins[] = {
    { "Sequential", FAM_LAYER, layer_call }, { "Conv2d", FAM_LAYER, layer_call },
    { "ReLU", FAM_LAYER, layer_call }, { "MaxPool2d", FAM_LAYER, layer_call },
    { "Dropout", FAM_LAYER, layer_call }, { "Flatten", FAM_LAYER, layer_call },
    { "Linear", FAM_LAYER, layer_call }, { "LazyLinear", FAM_LAYER, layer_call },
    { "BatchNorm1d", FAM_LAYER, layer_call }, { "BatchNorm2d", FAM_LAYER, layer_call },
    { "AvgPool2d", FAM_LAYER, layer_call }, { "AdaptiveAvgPool2d", FAM_LAYER, layer_call },
    { "AdaptiveMaxPool2d", FAM_LAYER, layer_call },
    { "Conv1d", FAM_LAYER, NULL }, { "Dropout2d", FAM_LAYER, layer_call },
    { "Sigmoid", FAM_LAYER, layer_call }, { "Tanh", FAM_LAYER, layer_call },
    { "LeakyReLU", FAM_LAYER, layer_call }, { "ELU", FAM_LAYER, layer_call },
    { "GELU", FAM_LAYER, layer_call }, { "SiLU", FAM_LAYER, layer_call },
    { "ReLU6", FAM_LAYER, layer_call }, { "Hardswish", FAM_LAYER, layer_call },
    { "Hardsigmoid", FAM_LAYER, layer_call }, { "Softmax", FAM_LAYER, layer_call },
    { "LogSoftmax", FAM_LAYER, layer_call }, { "Identity", FAM_LAYER, layer_call },
    { "BatchNorm3d", FAM_LAYER, NULL }, { "Conv3d", FAM_LAYER, NULL },
    { "ConvTranspose2d", FAM_LAYER, NULL }, { "LayerNorm", FAM_LAYER, NULL },
    { "GroupNorm", FAM_LAYER, NULL }, { "Upsample", FAM_LAYER, NULL },
    { "CrossEntropyLoss", FAM_LOSS, call_loss }, { "NLLLoss", FAM_LOSS, call_loss },
    { "MSELoss", FAM_LOSS, NULL }, { "L1Loss", FAM_LOSS, NULL }, { "BCELoss", FAM_LOSS, NULL },
    { "BCEWithLogitsLoss", FAM_LOSS, NULL },
    { "Compose", FAM_TRANSFORM, transform_call }, { "ToTensor", FAM_TRANSFORM, transform_call },
    { "Normalize", FAM_TRANSFORM, transform_call },
    { "RandomHorizontalFlip", FAM_TRANSFORM, transform_call },
    { "RandomVerticalFlip", FAM_TRANSFORM, transform_call },
    { "RandomRotation", FAM_TRANSFORM, transform_call }, { "ColorJitter", FAM_TRANSFORM, transform_call },
    { "RandomPerspective", FAM_TRANSFORM, transform_call },
    { "RandomApply", FAM_TRANSFORM, transform_call }, { "Resize", FAM_TRANSFORM, transform_call },
    { "CenterCrop", FAM_TRANSFORM, transform_call }, { "RandomCrop", FAM_TRANSFORM, transform_call },
    { "RandomResizedCrop", FAM_TRANSFORM, transform_call }, { "Grayscale", FAM_TRANSFORM, transform_call },
    { "RandomAffine", FAM_TRANSFORM, NULL }, { "GaussianBlur", FAM_TRANSFORM, NULL },
    { "RandomErasing", FAM_TRANSFORM, NULL }, { "Pad", FAM_TRANSFORM, NULL },
    { "ImageFolder", FAM_DATASET, call_imagefolder },
    { "MNIST", FAM_DATASET, call_mnist }, { "FashionMNIST", FAM_DATASET, call_mnist },
    { "CIFAR10", FAM_DATASET, NULL },
    { "DataLoader", FAM_LOADER, call_dataloader },
    { "Adam", FAM_OPTIM, call_optimizer }, { "SGD", FAM_OPTIM, call_optimizer },
    { "AdamW", FAM_OPTIM, call_optimizer }, { "RMSprop", FAM_OPTIM, call_optimizer }, { "Adagrad", FAM_OPTIM, NULL },
    { "StepLR", FAM_SCHED, scheduler_call }, { "MultiStepLR", FAM_SCHED, scheduler_call },
    { "ExponentialLR", FAM_SCHED, scheduler_call }, { "CosineAnnealingLR", FAM_SCHED, scheduler_call },
    { "LinearLR", FAM_SCHED, scheduler_call }, { "OneCycleLR", FAM_SCHED, scheduler_call },
    { "SequentialLR", FAM_SCHED, scheduler_call }, { "ReduceLROnPlateau", FAM_SCHED, scheduler_call },
    { "LambdaLR", FAM_SCHED, NULL }, { "MultiplicativeLR", FAM_SCHED, NULL }, { "ConstantLR", FAM_SCHED, NULL },
    { "PolynomialLR", FAM_SCHED, NULL }, { "CyclicLR", FAM_SCHED, NULL },
    { "CosineAnnealingWarmRestarts", FAM_SCHED, NULL }, { "ChainedScheduler", FAM_SCHED, NULL },
};
#define NBUILTINS ((int)(sizeof builtins / sizeof builtins[0]))

static const char *implemented(Family fam, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; i < NBUILTINS; i++)
        if (builtins[i].fam == fam && builtins[i].fn)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     builtins[i].name);
    return buf;
}

static int prefix_family(const char *prefix)
{
    for (int f = 0; f < NFAM; f++)
        for (int j = 0; j < 3; j++)
            if (family_prefix[f][j] && !strcmp(prefix, family_prefix[f][j])) return f;
    return -1;
}

static Val *unknown_callee(Ctx *c, const AstNode *call, const char *prefix, const char *base)
{
    /* candidates: the names of the module the prefix names (nn: layers and losses), or all */
    int fam = prefix_family(prefix);
    const char *cands[NBUILTINS];
    Family cand_fam[NBUILTINS];
    int nc = 0;
    for (int i = 0; i < NBUILTINS; i++)
        if (fam < 0 || !strcmp(family_module[builtins[i].fam], family_module[fam])) {
            cand_fam[nc] = builtins[i].fam;
            cands[nc++] = builtins[i].name;
        }
    const char *dym = did_you_mean(base, cands, nc);
    int word = c->in_model ? FAM_LAYER : fam;
    for (int i = 0; dym && i < nc; i++)
        if (cands[i] == dym) word = (int)cand_fam[i];
    const char *what = word >= 0 ? family_word[word] : "function";
    if (dym)
        return diag_error(c->diag, call->name_loc, "unknown %s %s; did you mean %s%s%s?", what,
                          call->str, prefix, prefix[0] ? "." : "", dym), NULL;
    diag_error(c->diag, call->name_loc, "unknown %s %s", what, call->str);
    char list[512];
    if (word >= 0)
        diag_note(c->diag, "cnnc's %s: %s", family_words[word], implemented(word, list, sizeof list));
    return NULL;
}

Val *obj_val(Ctx *c, const AstNode *at, ObjKind k, const char *what, void *obj)
{
    Val *v = val_new(c, VAL_OBJ, at);
    v->obj_kind = k;
    v->what = what;
    v->obj = obj;
    return v;
}

static Val *call_join(Ctx *c, const AstNode *call)
{
    if (call->nkids == 0)
        return diag_error(c->diag, call->loc, "os.path.join needs at least one path"), NULL;
    char *path = arena_strndup(&c->arena, "", 0);
    for (int i = 0; i < call->nkids; i++) {
        const AstNode *arg = call->kids[i];
        if (arg->kind == A_KWARG)
            return diag_error(c->diag, arg->name_loc, "os.path.join takes no keyword "
                              "arguments"), NULL;
        Val *v = eval(c, arg);
        if (!v) return NULL;
        if (v->kind != VAL_STR)
            return diag_error(c->diag, arg->loc, "os.path.join takes strings, got %s",
                              val_what(v)), NULL;
        size_t n = strlen(path);
        if (v->s[0] == '/' || n == 0)       /* an absolute part starts over, as in Python */
            path = arena_strndup(&c->arena, v->s, strlen(v->s));
        else
            path = arena_printf(&c->arena, "%s%s%s", path, path[n - 1] == '/' ? "" : "/", v->s);
    }
    Val *r = val_new(c, VAL_STR, call);
    r->s = path;
    return r;
}

Val *call_builtin(Ctx *c, const AstNode *call)
{
    const char *full = call->str;
    if (!strcmp(full, "os.path.join")) {
        if (c->in_model)
            return diag_error(c->diag, call->loc, "os.path.join belongs outside the model "
                              "block"), NULL;
        return call_join(c, call);
    }
    const char *clip = strrchr(full, '.') ? strrchr(full, '.') + 1 : full;
    if ((!strcmp(clip, "clip_grad_norm_") || !strcmp(clip, "clip_grad_value_")) &&
        (clip == full || !strncmp(full, "torch.nn.utils.", (size_t)(clip - full)) ||
         !strncmp(full, "nn.utils.", (size_t)(clip - full))))
        return call_clip(c, call, clip);
    if (!strcmp(full, "dict"))      /* a parameter group: read by the optimizer it is given to */
        return obj_val(c, call, OBJ_PARAM_GROUP, "a parameter group dict(...)", (void *)call);
    if (!strcmp(full, "model.parameters")) {
        if (call->nkids)
            return diag_error(c->diag, call->kids[0]->loc, "model.parameters() takes no "
                              "arguments"), NULL;
        return obj_val(c, call, OBJ_PARAMS, "model.parameters()", NULL);
    }
    Binding *blk = scope_find(&c->globals, full, 0);
    if (blk && blk->val->kind == VAL_OBJ && blk->val->obj_kind == OBJ_BLOCKDEF)
        return block_call(c, call, blk->val->obj);
    const char *dot = strrchr(full, '.');
    const char *base = dot ? dot + 1 : full;
    char prefix[128] = "";
    if (dot) snprintf(prefix, sizeof prefix, "%.*s", (int)(dot - full), full);

    const Builtin *b = NULL;
    for (int i = 0; i < NBUILTINS && !b; i++)
        if (!strcmp(builtins[i].name, base)) b = &builtins[i];
    if (!b) return unknown_callee(c, call, prefix, base);
    if (dot && prefix_family(prefix) != (int)b->fam &&
        !(b->fam == FAM_LOSS && prefix_family(prefix) == FAM_LAYER))
        return diag_error(c->diag, call->name_loc, "%s is in %s, not %s; write %s.%s or %s",
                          b->name, family_module[b->fam], prefix, family_prefix[b->fam][0],
                          b->name, b->name), NULL;
    if (!b->fn) {
        char list[512];
        if (b->fam == FAM_TRANSFORM) {
            diag_error(c->diag, call->loc, "%s is a torchvision transform cnnc does not "
                       "implement yet", b->name);
        } else {
            diag_error(c->diag, call->loc, "%s is a %s %s cnnc does not implement", b->name,
                       family_module[b->fam], family_word[b->fam]);
            diag_note(c->diag, "cnnc's %s: %s", family_words[b->fam],
                      implemented(b->fam, list, sizeof list));
        }
        return NULL;
    }
    if (b->fam == FAM_LAYER && !c->in_model)
        return diag_error(c->diag, call->loc, "%s is a layer; layers go inside the model block",
                          b->name), NULL;
    if (b->fam != FAM_LAYER && c->in_model)
        return diag_error(c->diag, call->loc, "%s is a %s, not a layer; it goes outside the "
                          "model block", b->name, family_word[b->fam]), NULL;
    return b->fn(c, call, b->name);
}

/* ---- transforms ---- */

/* ---- data ---- */

int must_be_none(Ctx *c, const Args *a, int i)
{
    if (a->v[i] && a->v[i]->kind != VAL_NONE)
        return diag_error(c->diag, arg_loc(a, i), "%s is not supported", a->params[i].name);
    return 0;
}

/* A dataset's transform (argument i: None or a pipeline, checked for order) and
 * target_transform (argument i + 1: None only). */
static int dataset_transforms(Ctx *c, const Args *a, int i, DatasetObj *ds)
{
    const Val *tf = a->v[i];
    if (!tf || tf->kind == VAL_NONE) {
        TfObj *none = arena_alloc(&c->arena, sizeof *none);
        memset(none, 0, sizeof *none);
        ds->tf = none;
    } else if (tf->kind == VAL_OBJ && tf->obj_kind == OBJ_TRANSFORM) {
        ds->tf = tf->obj;
        if (pipeline_check_order(c, ds->tf)) return -1;
    } else {
        return diag_error(c->diag, tf->at->loc, "transform must be a transform such as "
                          "Compose([ToTensor()]), got %s", val_what(tf));
    }
    return must_be_none(c, a, i + 1);
}

static Val *call_imagefolder(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = {
        { "root", 1 }, { "transform", 0 }, { "target_transform", 0 }, { NULL, 0 }
    };
    Args a;
    DatasetObj *ds = arena_alloc(&c->arena, sizeof *ds);
    if (bind_args(c, call, name, params, &a) || arg_str(c, &a, 0, NULL, &ds->root)) return NULL;
    if (!ds->root[0]) return diag_error(c->diag, arg_loc(&a, 0), "root must not be empty"), NULL;
    ds->call = call;
    if (dataset_transforms(c, &a, 1, ds)) return NULL;
    ds->kind = DS_IMAGEFOLDER;
    return obj_val(c, call, OBJ_DATASET, "an ImageFolder dataset", ds);
}

/* MNIST / FashionMNIST(root, train=True, transform=None, target_transform=None,
 * download=False): torchvision's folder root/NAME/raw, or the IDX files in root itself */
static Val *call_mnist(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = {
        { "root", 1 }, { "train", 0 }, { "transform", 0 }, { "target_transform", 0 }, { "download", 0 },
        { NULL, 0 }
    };
    Args a;
    int download;
    DatasetObj *ds = arena_alloc(&c->arena, sizeof *ds);
    if (bind_args(c, call, name, params, &a) || arg_str(c, &a, 0, NULL, &ds->root) ||
        arg_bool(c, &a, 1, 1, &ds->train) || arg_bool(c, &a, 4, 0, &download)) return NULL;
    if (!ds->root[0]) return diag_error(c->diag, arg_loc(&a, 0), "root must not be empty"), NULL;
    if (download)
        return diag_error(c->diag, arg_loc(&a, 4), "cnnc does not download data sets: put the IDX files under "
                          "%s/%s/raw/ (or install Debian's dataset-fashion-mnist) and drop download=True",
                          ds->root, name), NULL;
    ds->call = call;
    ds->kind = !strcmp(name, "MNIST") ? DS_MNIST : DS_FASHION_MNIST;
    if (dataset_transforms(c, &a, 2, ds)) return NULL;
    return obj_val(c, call, OBJ_DATASET, ds->kind == DS_MNIST ? "an MNIST dataset" : "a FashionMNIST dataset", ds);
}

static Val *call_dataloader(Ctx *c, const AstNode *call, const char *name)
{
    static const Param params[] = {
        { "dataset", 1 }, { "batch_size", 0 }, { "shuffle", 0 }, { "sampler", 0 },
        { "batch_sampler", 0 }, { "num_workers", 0 }, { "collate_fn", 0 }, { "pin_memory", 0 },
        { "drop_last", 0 }, { NULL, 0 }
    };
    Args a;
    LoaderObj *ld = arena_alloc(&c->arena, sizeof *ld);
    int64_t bs, workers;
    int pin, drop;
    if (bind_args(c, call, name, params, &a)) return NULL;
    if (a.v[0]->kind != VAL_OBJ || a.v[0]->obj_kind != OBJ_DATASET)
        return diag_error(c->diag, arg_loc(&a, 0), "dataset must be an ImageFolder dataset, got "
                          "%s", val_what(a.v[0])), NULL;
    ld->ds = a.v[0]->obj;
    if (arg_int(c, &a, 1, 1, &bs) || arg_range(c, &a, 1, bs, 1, MAX_BATCH)) return NULL;
    ld->batch_size = (int)bs;
    if (a.v[2] && a.v[2]->kind == VAL_NONE) ld->shuffle = 0;
    else if (arg_bool(c, &a, 2, 0, &ld->shuffle)) return NULL;
    if (must_be_none(c, &a, 3) || must_be_none(c, &a, 4) ||
        arg_int(c, &a, 5, 0, &workers) || arg_range(c, &a, 5, workers, 0, 1024) ||
        must_be_none(c, &a, 6) || arg_bool(c, &a, 7, 0, &pin) || arg_bool(c, &a, 8, 0, &drop))
        return NULL;
    if (drop)
        return diag_error(c->diag, arg_loc(&a, 8), "drop_last=True is not supported (cnnc keeps "
                          "the last partial batch)"), NULL;
    return obj_val(c, call, OBJ_LOADER, "a DataLoader", ld);
}
