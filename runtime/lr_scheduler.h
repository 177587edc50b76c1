/* runtime/lr_scheduler.h: torch.optim.lr_scheduler's schedules as torch 1.13 computes them (the
 * chainable get_lr() forms, in doubles as Python's floats), for the learning rate of each
 * parameter group. A group is known by the lr it starts with; the driver sets the optimizer
 * nodes' lr from lr_scheduler_lr after each step (graph_set_lr). */
#ifndef CNNC_LR_SCHEDULER_H
#define CNNC_LR_SCHEDULER_H

#include <stddef.h>

#define LRS_MAX_GROUPS 16
#define LRS_MAX_MILESTONES 64
#define LRS_MAX_SUB 8           /* SequentialLR's schedulers */

typedef enum {
    LRS_NONE, LRS_STEP, LRS_MULTISTEP, LRS_EXPONENTIAL, LRS_COSINE, LRS_LINEAR, LRS_ONECYCLE,
    LRS_SEQUENTIAL, LRS_PLATEAU
} LrSchedKind;

/* One scheduler as written, with its torch defaults filled in, and its step counter. */
typedef struct LrSchedule {
    LrSchedKind kind;
    double gamma;                       /* StepLR, MultiStepLR, ExponentialLR */
    int    step_size;                   /* StepLR */
    int    milestones[LRS_MAX_MILESTONES], nmilestones;    /* MultiStepLR, SequentialLR (sorted) */
    int    T_max;                       /* CosineAnnealingLR */
    double eta_min;
    double start_factor, end_factor;    /* LinearLR */
    int    total_iters;
    double max_lr, pct_start, div_factor, final_div_factor;    /* OneCycleLR */
    int    total_steps, anneal_linear, three_phase;
    int    cycle_momentum;              /* OneCycleLR: cycles Adam's beta1 / SGD's momentum */
    double base_momentum, max_momentum;
    int    mode_max, threshold_abs, patience, cooldown;        /* ReduceLROnPlateau */
    double factor, threshold, min_lr, eps;
    int    last_epoch;                  /* state: torch's last_epoch */
} LrSchedule;

typedef struct LrScheduler {
    LrSchedule top;
    LrSchedule sub[LRS_MAX_SUB];        /* SequentialLR(schedulers=[...]) */
    int        nsub;
    int        ngroups;
    double     base[LRS_MAX_GROUPS];    /* each group's initial lr (torch's initial_lr) */
    double     lr[LRS_MAX_GROUPS];      /* and its lr now */
    double     start[LRS_MAX_GROUPS];   /* the optimizer's lr for the group, as the driver knows it */
    double     momentum;                /* OneCycleLR with cycle_momentum: beta1 / momentum now */
    double     best;                    /* ReduceLROnPlateau's state */
    int        num_bad_epochs, cooldown_counter;
} LrScheduler;

/* The scheduler's construction (torch's initial step) for groups starting at lr0[0..n):
 * sets lr[]. Returns -1 when there are more than LRS_MAX_GROUPS groups. */
int    lr_scheduler_start(LrScheduler *s, const double *lr0, int n);
/* One scheduler.step() (ReduceLROnPlateau: scheduler.step(metric)); returns group 0's lr. */
double lr_scheduler_step(LrScheduler *s, double metric);
/* The lr now of the group whose optimizer lr was lr0 (lr0 itself for an unknown group). */
double lr_scheduler_lr(const LrScheduler *s, double lr0);
/* OneCycleLR with cycle_momentum: 1 with *m the momentum (Adam's beta1, SGD's momentum) the
 * next step uses, as torch sets it in every group; else 0. */
int    lr_scheduler_momentum(const LrScheduler *s, double *m);
/* OneCycleLR is stepped after every batch, the others after every epoch. */
int    lr_scheduler_per_batch(const LrScheduler *s);
/* "StepLR" and the like */
const char *lr_scheduler_name(LrSchedKind k);
/* "StepLR(step_size=5, gamma=0.1), stepped after each epoch": the scheduler as configured */
void   lr_scheduler_describe(const LrScheduler *s, char *buf, size_t n);

#endif
