/* compiler/frontend/eval.h: values of .cnn expressions, the names they are bound to, and the binding
 * of call arguments to PyTorch's parameters, shared by the checker's parts (check.c: the
 * file's top level; builtins.c: what each called name builds; layers.c: the model block). */
#ifndef CNNC_EVAL_H
#define CNNC_EVAL_H

#include <stdint.h>

#include "ast.h"
#include "check.h"
#include "diag.h"

typedef enum {
    VAL_INT, VAL_FLOAT, VAL_STR, VAL_BOOL, VAL_NONE, VAL_LIST, VAL_TUPLE, VAL_OBJ,
    VAL_TENSOR                  /* in a forward block: i is the step, obj its Shape (module.h) */
} ValKind;

/* What a call built: a layer, a transform, a dataset... (layers.c, builtins.h). */
typedef enum {
    OBJ_MODULE, OBJ_TRANSFORM, OBJ_DATASET, OBJ_LOADER, OBJ_LOSS, OBJ_OPTIMIZER, OBJ_PARAMS,
    OBJ_BLOCKDEF,               /* `model NAME(...) { ... }`: obj is its A_MODEL node */
    OBJ_TRAINING,               /* self.training in a forward block */
    OBJ_SCHEDULER,              /* a learning-rate scheduler: obj is a SchedObj (schedulers.h) */
    OBJ_PARAM_GROUP,            /* dict(params=..., lr=...): obj is the call's AstNode */
    OBJ_CLIP                    /* clip_grad_norm_(...), clip_grad_value_(...): a ClipDecl */
} ObjKind;

typedef struct Val Val;
struct Val {
    ValKind        kind;
    const AstNode *at;          /* where the value was written (its use, for a name) */
    int64_t        i;           /* VAL_INT, VAL_BOOL */
    double         f;           /* VAL_FLOAT */
    const char    *s;           /* VAL_STR */
    Val          **items;       /* VAL_LIST, VAL_TUPLE */
    int            n;
    ObjKind        obj_kind;    /* VAL_OBJ */
    const char    *what;        /* VAL_OBJ: "a Conv2d layer", for messages */
    void          *obj;
};

typedef struct Binding {
    const char    *name;
    Val           *val;
    const AstNode *def;         /* the assignment */
    int            used;        /* read by a later expression */
} Binding;

typedef struct Scope {
    Binding *b;
    int      n, cap;
    struct Scope *parent;
} Scope;

typedef struct Ctx Ctx;
struct Ctx {
    Diag    *diag;
    Arena    arena;             /* values and objects; freed when the check ends */
    Scope    globals;
    Scope   *scope;             /* the innermost: the model's inside its block */
    int      in_model;
    int      in_forward;        /* evaluating a forward block (forward.c) */
    const char *path;           /* the .cnn file, for resolving data paths */
    /* Evaluates a call node (builtins.c's table). NULL after an error. */
    Val   *(*call)(Ctx *c, const AstNode *call);
    void    *model;             /* layers.c's state, once the model block is checked */
};

/* Evaluates an expression; NULL after reporting an error. */
Val  *eval(Ctx *c, const AstNode *n);
/* The same for an operand of a condition, where a name may hold a layer or None
 * (`self.downsample is not None`). */
Val  *eval_cond(Ctx *c, const AstNode *n);
Val  *val_new(Ctx *c, ValKind k, const AstNode *at);
const char *val_what(const Val *v);     /* "an integer", "a string", "a Conv2d layer" */
/* Python's truth of a value (0, "", None, [] are false). */
int   val_truth(const Val *v);

void     scope_set(Ctx *c, Scope *s, const char *name, Val *v, const AstNode *def);
Binding *scope_find(Scope *s, const char *name, int walk_parents);

/* ---- calls ---- */

#define MAX_PARAMS 16

typedef struct Param {
    const char *name;
    int         required;
} Param;

/* A call's arguments bound to a function's parameters as Python binds them: positionals
 * in order, then keywords by name. v[i] is NULL where parameter i was not given. */
typedef struct Args {
    const AstNode *call;
    const char    *fn;          /* "Conv2d" */
    const Param   *params;
    int            np;
    Val           *v[MAX_PARAMS];
} Args;

/* Evaluates the arguments of call and binds them to params (terminated by a NULL name).
 * Reports unknown keywords (with "did you mean"), repeated and missing arguments. */
int  bind_args(Ctx *c, const AstNode *call, const char *fn, const Param *params, Args *a);

/* Typed reads of bound arguments: each returns 0 with *out set (to dflt when absent), or
 * -1 after reporting "NAME must be ..., got ...". */
int  arg_int(Ctx *c, const Args *a, int i, int64_t dflt, int64_t *out);
int  arg_float(Ctx *c, const Args *a, int i, double dflt, double *out);
int  arg_bool(Ctx *c, const Args *a, int i, int dflt, int *out);
int  arg_str(Ctx *c, const Args *a, int i, const char *dflt, const char **out);
/* An int or a pair of equal ints ((3, 3)); `unequal` is the message for (3, 5). */
int  arg_square(Ctx *c, const Args *a, int i, int64_t dflt, const char *unequal, int64_t *out);
/* Reports "NAME must be at least lo, got v" / "at most hi" for an int argument. */
int  arg_range(Ctx *c, const Args *a, int i, int64_t v, int64_t lo, int64_t hi);
/* Where argument i was written, or the call when it was not. */
SrcLoc arg_loc(const Args *a, int i);

/* ---- helpers ---- */

/* The candidate closest to name by edit distance (ignoring case), when close enough to be
 * a likely typo; NULL otherwise. */
const char *did_you_mean(const char *name, const char *const *cands, int n);
/* Formats a number the way Python prints it (1.0, 0.001, 1e-08). */
const char *fmt_num(char *buf, size_t n, double v);

#endif
