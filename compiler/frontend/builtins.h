/* compiler/frontend/builtins.h: what the PyTorch names outside the model block build (transforms,
 * ImageFolder, DataLoader, the loss, the optimizers) and the table that resolves every
 * called name, layers included, as eval() meets it. */
#ifndef CNNC_BUILTINS_H
#define CNNC_BUILTINS_H

#include "eval.h"

#define MAX_BATCH (1 << 20)     /* batch sizes: BATCH_SIZE, DataLoader's batch_size */

typedef struct TfObj {          /* one transform, or a Compose of them */
    Transform *steps;
    SrcLoc    *at;
    int        n;
} TfObj;

typedef struct DatasetObj {     /* ImageFolder(root, transform=...), FashionMNIST(root, train) */
    DatasetKind    kind;
    const char    *root;
    int            train;       /* MNIST, FashionMNIST */
    const AstNode *call;
    const TfObj   *tf;
} DatasetObj;

typedef struct LoaderObj {      /* DataLoader(dataset, batch_size=..., shuffle=...) */
    const DatasetObj *ds;
    int               batch_size, shuffle;
} LoaderObj;

/* The hook eval() calls for every call expression: resolves the name (module prefixes
 * stripped, "did you mean" for unknown ones), checks that it is used where it belongs
 * (layers inside the model block, the rest outside) and builds its value. */
Val *call_builtin(Ctx *c, const AstNode *call);

/* For the builders: a value holding object obj of kind k ("an Adam optimizer" as what);
 * 0, or an error "NAME is not supported" when argument i is given and not None. */
Val *obj_val(Ctx *c, const AstNode *at, ObjKind k, const char *what, void *obj);
int  must_be_none(Ctx *c, const Args *a, int i);

#endif
