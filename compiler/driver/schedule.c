/* compiler/driver/schedule.c: the learning-rate scheduler and the best epoch during training
 * (see schedule.h). */
#include "schedule.h"

#include <math.h>

#include "checkpoint.h"

static double lr_of(void *ctx, double lr0)
{
    return lr_scheduler_lr(ctx, lr0);
}

/* the optimizer nodes' lr, and their momentum where OneCycleLR cycles it */
static void set_nodes(RunSchedule *rs, Graph *g)
{
    double m;
    graph_set_lr(g, lr_of, &rs->s);
    if (lr_scheduler_momentum(&rs->s, &m)) graph_set_momentum(g, m);
}

int schedule_begin(RunSchedule *rs, const Program *p, Graph *g, int epochs, int nbatches, int epochs_done,
                   const char *history, Error *e)
{
    rs->s = p->sched;
    rs->active = p->sched.top.kind != LRS_NONE;
    rs->lr0 = p->opt.lr;
    rs->start_lr = -1;
    if (!rs->active) return 0;
    const LrSchedule *top = &p->sched.top;
    if (top->kind == LRS_ONECYCLE && (long long)epochs * nbatches > top->total_steps)
        return err_set(e, "%s:%d:%d: error: OneCycleLR has %d total steps, but the run takes %d epochs x %d batches = "
                          "%lld steps; give total_steps=%lld, or epochs=%d, steps_per_epoch=%d",
                       p->path, p->sched_loc.line, p->sched_loc.col, top->total_steps, epochs, nbatches,
                       (long long)epochs * nbatches, (long long)epochs * nbatches, epochs, nbatches);
    double lr0[LRS_MAX_GROUPS];
    int n = graph_lr_groups(g, lr0, LRS_MAX_GROUPS);
    if (lr_scheduler_start(&rs->s, lr0, n) < 0)
        return err_set(e, "%s: %d parameter groups with different learning rates; a scheduler takes at most %d",
                       p->path, n, LRS_MAX_GROUPS);
    if (lr_scheduler_per_batch(&rs->s)) {
        for (int64_t i = 0; i < g->step; i++) {
            if (i == (int64_t)epochs_done * nbatches) rs->start_lr = schedule_lr(rs);
            lr_scheduler_step(&rs->s, 0);
        }
    } else {
        const char *cur = history;
        double v[CKPT_HISTORY_FIELDS];
        for (int i = 0; i < epochs_done; i++)
            lr_scheduler_step(&rs->s, cur && checkpoint_history_line(&cur, v) > 0 ? v[6] : NAN);
    }
    set_nodes(rs, g);
    return 0;
}

void schedule_after_batch(RunSchedule *rs, Graph *g)
{
    if (!rs->active || !lr_scheduler_per_batch(&rs->s)) return;
    lr_scheduler_step(&rs->s, 0);
    set_nodes(rs, g);
}

void schedule_after_epoch(RunSchedule *rs, Graph *g, double test_loss)
{
    if (!rs->active || lr_scheduler_per_batch(&rs->s)) return;
    lr_scheduler_step(&rs->s, test_loss);
    set_nodes(rs, g);
}

double schedule_lr(const RunSchedule *rs)
{
    return rs->active && rs->s.ngroups ? rs->s.lr[0] : rs->lr0;
}

double schedule_epoch_lr(RunSchedule *rs)
{
    double lr = rs->start_lr >= 0 ? rs->start_lr : schedule_lr(rs);
    rs->start_lr = -1;
    return lr;
}

int best_epoch_update(BestEpoch *b, int epoch, int correct, int total, double loss)
{
    double acc = total ? (double)correct / total : 0, best = b->total ? (double)b->correct / b->total : 0;
    if (b->epoch == 0 || acc > best || (acc == best && loss < b->loss)) {
        *b = (BestEpoch){ epoch, correct, total, loss, 0 };
        return 1;
    }
    b->since++;
    return 0;
}

void best_epoch_from_history(BestEpoch *b, const char *history)
{
    double v[CKPT_HISTORY_FIELDS];
    *b = (BestEpoch){ 0 };
    while (history && checkpoint_history_line(&history, v) > 0)
        if (v[5]) best_epoch_update(b, (int)v[0], (int)v[7], (int)v[8], v[6]);
}
