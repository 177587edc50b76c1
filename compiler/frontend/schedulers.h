/* compiler/frontend/schedulers.h: torch.optim.lr_scheduler's schedulers in the .cnn language
 * (scheduler = StepLR(optimizer, step_size=5)): their arguments checked, their defaults
 * filled in, as the runtime's LrScheduler (runtime/lr_scheduler.h). */
#ifndef CNNC_SCHEDULERS_H
#define CNNC_SCHEDULERS_H

#include "eval.h"

typedef struct SchedObj {
    LrScheduler s;
    const void *opt;            /* the optimizer object it schedules */
} SchedObj;

/* The builtin for every scheduler name (builtins.c's table). */
Val *scheduler_call(Ctx *c, const AstNode *call, const char *name);

/* The whole file's checks: the scheduler schedules the `optimizer` (opt: its object, or NULL
 * when the file has none); ReduceLROnPlateau needs a test set. Then sets p->sched and, for a
 * OneCycleLR cycling the momentum, p->opt's momentum (SGD) or beta1 (Adam) to max_momentum,
 * as torch does (p->opt and p->test must be filled). */
int  scheduler_check(Ctx *c, const Val *sched, const void *opt, Program *p);

#endif
