/* compiler/frontend/module.h: the checker's modules (layers, Sequentials, block instances) and the
 * shapes that flow through them, shared by layers.c (the layer table and shape rules),
 * model.c (model blocks, the module tree and its state_dict keys) and forward.c (forward
 * blocks: the dataflow graph). Internal to the checker. */
#ifndef CNNC_MODULE_H
#define CNNC_MODULE_H

#include "eval.h"

#define MAX_SIZE   (1 << 24)        /* channels, features, kernel, stride, padding */
#define MAX_SIDE   65536            /* input height and width */
#define MAX_VALUES 2147483647LL     /* values per sample, weights per layer */

typedef struct Module Module;
typedef struct Shape Shape;

/* A constant tensor written in the file as nested lists (weight=[[[[...]]]], bias=[...]);
 * its shape is checked against the layer's once in_channels / in_features are known. */
typedef struct Given {
    float  *v;                      /* NULL: not given (arena memory) */
    int     ndim, shape[4];
    size_t  n;
    SrcLoc  loc;
} Given;

typedef struct LayerDef {
    const char  *name;              /* as in torch.nn, or F.relu for a functional form */
    LayerKind    kind;
    const char  *type_name;         /* Layer.type_name: what it is once built (LazyLinear: Linear) */
    const Param *params;            /* PyTorch's order: positionals bind to these */
    int          out_arg;           /* the parameter giving the output size, -1: none */
    int (*build)(Ctx *c, Module *m);
    int (*infer)(Ctx *c, Module *m, Shape *s, int first);
} LayerDef;

typedef enum { M_LAYER, M_SEQUENTIAL, M_BLOCK } ModuleKind;

/* A named child of a block instance: a module, or None (`downsample = ... else None`). */
typedef struct BlockAttr {
    const char    *name;
    Module        *mod;             /* NULL: None */
    const AstNode *def;             /* the assignment */
} BlockAttr;

struct Module {
    ModuleKind      mk;
    const LayerDef *def;            /* M_LAYER */
    const AstNode  *call;
    Args            args;
    Layer           layer;
    int             infer_in;       /* in_channels / in_features left for cnnc to infer */
    Given           weight, bias;   /* weight=[...], bias=[...]: values given in the file */
    Module        **kids;           /* M_SEQUENTIAL: the children */
    int             nkids;
    /* M_BLOCK: an instance of `model NAME(...) { ... }` */
    const AstNode  *model;          /* its definition */
    BlockAttr      *attrs;
    int             nattrs;
    const AstNode  *forward;        /* A_FORWARD, or NULL: attributes in order */
    Scope          *scope;          /* its parameters, constants and attributes */
    /* set by model.c once the tree is named */
    char            key[96];        /* full state_dict prefix: "layer1.0.conv1" */
    int             index;          /* M_LAYER: Program.layers index, -1 before */
    int             applied;        /* called by a forward pass at least once */
};

/* The shape flowing through the model, and where it was last changed. */
struct Shape {
    int  ndim, d[3];
    int  flattened, flat_from[3];   /* a Flatten turned this C x H x W into d[0] */
    const Module *src;              /* the last layer that changed it; NULL: the input */
    char change[256];               /* "32 x 50 x 50 -> 32 x 25 x 25" */
};

/* The entry model's check in progress (Ctx.model). */
typedef struct ModelState {
    const AstNode *input;
    Program       *p;
    const Module  *out_src;         /* the layer that set the output's size */
    int            block_depth;     /* block instances being built, nested */
    int            layers_cap, mods_cap, steps_cap;  /* of p's arrays */
    const char    *prefix;          /* the key of the block whose forward runs */
} ModelState;

/* Room for one more item in an xrealloc'd array of n items (cap: its capacity). */
void *grow(void *v, int n, int *cap, size_t size);

/* ---- layers.c ---- */

/* The layer (or functional form) named `name`, or NULL. */
const LayerDef *layer_def(const char *name);
/* Builds module m of def from call (arguments bound and checked). NULL after an error. */
Module *layer_build(Ctx *c, const LayerDef *def, const AstNode *call);
Val *module_val(Ctx *c, const AstNode *at, Module *m, const char *name);
const char *shape_text(const int *d, int ndim, char *buf, size_t n);
const char *flow_text(const Shape *s, char *buf, size_t n);
/* "the shape comes from ..." for s. */
void note_source(Ctx *c, const Shape *s);
/* The same, naming what: "the left operand (16 x 28 x 28)" comes from ... */
void note_source_as(Ctx *c, const Shape *s, const char *what);
/* Records that m turned shape `in` into s (an error when it is too large). */
int  shape_changed(Ctx *c, const Module *m, const Shape *in, Shape *s);
/* After m's first application: given weights against the inferred shapes, copied out. */
int  layer_finish(Ctx *c, Module *m, Layer *out);

/* ---- model.c ---- */

/* Instantiates `model NAME(...) { ... }` for call (arguments bound to its parameters). */
Val *block_call(Ctx *c, const AstNode *call, const AstNode *model);
/* Appends m's layer to the program under key (functional: an F.relu in a forward). */
int  model_add_layer(Ctx *c, Module *m, const char *key, int functional);

/* ---- forward.c ---- */

/* Applies m to the value of step `in` (shape *s, updated), appending steps to the program;
 * returns the output's step, or -1 after an error. at: the call, for messages. */
int  forward_apply(Ctx *c, Module *m, int in, Shape *s, const AstNode *at);
/* The entry model's steps: its forward block, or its attributes in order; sets p's
 * output and output shape. */
int  forward_model(Ctx *c, Module *root, Program *p);

#endif
