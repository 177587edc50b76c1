/* runtime/ops/common.c: helpers shared by the op files: input checks for the shape rules
 * and the kernels' scratch memory, and a data-parallel run's loss and random draws. */
#include <stdio.h>
#include <stdlib.h>

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

static const char *dtype_name(DType dt) { return dt == DT_F32 ? "float32" : dt == DT_I64 ? "int64" : "int32"; }

int op_expect_inputs(const Graph *g, const Node *n, int lo, int hi, Error *e)
{
    (void)g;
    if (n->nin >= lo && n->nin <= hi) return 0;
    if (lo == hi)
        return err_set(e, "%s takes %d inputs, got %d", op_table[n->op]->name, lo, n->nin);
    return err_set(e, "%s takes %d to %d inputs, got %d", op_table[n->op]->name, lo, hi, n->nin);
}

int op_expect(const Graph *g, const Node *n, int i, const char *what, DType dt, int ndim, Error *e)
{
    const Value *v = &g->vals[n->in[i]];
    if (v->dtype == dt && (ndim <= 0 || v->ndim == ndim)) return 0;
    char shape[64];
    shape_str(v, 0, shape, sizeof shape);
    if (ndim <= 0)
        return err_set(e, "%s expects %s as a %s tensor, but it is %s (%s)",
                       op_table[n->op]->name, what, dtype_name(dt), shape, dtype_name(v->dtype));
    return err_set(e, "%s expects %s as a %s tensor with %d dims, but it is %s (%s)",
                   op_table[n->op]->name, what, dtype_name(dt), ndim, shape, dtype_name(v->dtype));
}

int op_expect_same_shape(const Graph *g, const Node *n, int i, const char *what_i, int j,
                         const char *what_j, Error *e)
{
    const Value *a = &g->vals[n->in[i]], *b = &g->vals[n->in[j]];
    int same = a->ndim == b->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
    if (same) return 0;
    char sa[64], sb[64];
    shape_str(a, 0, sa, sizeof sa);
    shape_str(b, 0, sb, sizeof sb);
    return err_set(e, "%s expects %s and %s of the same shape, but they are %s and %s",
                   op_table[n->op]->name, what_i, what_j, sa, sb);
}

int op_expect_param_state(const Graph *g, const Node *n, int nin, const char *const *what, Error *e)
{
    if (op_expect_inputs(g, n, nin, nin, e) < 0) return -1;
    for (int i = 0; i < nin; i++)
        if (op_expect(g, n, i, what[i], DT_F32, 0, e) < 0 ||
            op_expect_same_shape(g, n, 0, what[0], i, what[i], e) < 0)
            return -1;
    return 0;
}

/* Scratch of the shares of a par_run (any thread may run share t, one at a time), and of
 * each thread outside them */
#define SHARE_SETS 256
static float *share_buf[SHARE_SETS][OP_SCRATCH_SLOTS];
static size_t share_cap[SHARE_SETS][OP_SCRATCH_SLOTS];

float *op_scratch(int slot, size_t n)
{
    static _Thread_local float *own_buf[OP_SCRATCH_SLOTS];
    static _Thread_local size_t own_cap[OP_SCRATCH_SLOTS];
    int share = par_share();
    float **buf = share >= 0 && share < SHARE_SETS ? share_buf[share] : own_buf;
    size_t *cap = share >= 0 && share < SHARE_SETS ? share_cap[share] : own_cap;
    if (n > cap[slot]) {
        cap[slot] = n > 2 * cap[slot] ? n : 2 * cap[slot];
        free(buf[slot]);
        buf[slot] = xmalloc(cap[slot] * sizeof *buf[slot]);
    }
    return buf[slot];
}

void op_loss_share(const Graph *g, float *x, size_t n, int N)
{
    if (g->global_batch <= 0 || g->global_batch == N) return;
    float s = (float)((double)N / g->global_batch);
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

void op_rng_skip_shard(Graph *g, size_t per_sample, int before)
{
    if (g->global_batch <= 0) return;
    size_t skip = per_sample * (size_t)(before ? g->shard_before : g->shard_after);
    for (size_t i = 0; i < skip; i++) rng_u64(&g->rng);
}
