/* runtime/graph.c: building the graph IR (values and nodes) and binding its storage. */
#include "graph.h"
#include "gradsync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "parallel.h"

Graph *graph_new(void)
{
    Graph *g = xcalloc(1, sizeof *g);
    g->input = g->label = g->logits = g->loss = g->probs = -1;
    g->cur_phase = PHASE_FORWARD;
    g->max_batch = g->batch = 1;
    par_set_threads(0);         /* OpenBLAS single-threaded: the runtime splits the work */
    g->threads = par_threads();
    rng_seed(&g->rng, 0);
    g->params_version = 1;      /* cache_version 0: nothing cached yet */
    return g;
}

void graph_params_changed(Graph *g) { g->params_version++; }

void graph_free(Graph *g)
{
    if (!g) return;
    gradsync_free(g->gsync);
    free(g->vals);
    free(g->nodes);
    free(g->arena);
    free(g->param_block);
    free(g->grad_block);
    free(g->state_block);
    free(g->lr0);
    for (int i = 0; i < g->nconsts; i++) free(g->consts[i]);
    free(g->consts);
    free(g);
}

const float *graph_floats(Graph *g, const float *src, int n)
{
    float *copy = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
    if (n > 0) memcpy(copy, src, (size_t)n * sizeof *copy);
    g->consts = xrealloc(g->consts, (size_t)(g->nconsts + 1) * sizeof *g->consts);
    g->consts[g->nconsts++] = copy;
    return copy;
}

static Value *new_value(Graph *g)
{
    if (g->nvals == g->capvals) {
        g->capvals = g->capvals ? 2 * g->capvals : 64;
        g->vals = xrealloc(g->vals, (size_t)g->capvals * sizeof *g->vals);
    }
    Value *v = &g->vals[g->nvals++];
    memset(v, 0, sizeof *v);
    v->view_of = -1;
    v->producer = -1;
    v->grad = -1;
    return v;
}

/* shape may point into g->vals (another value's shape), which new_value may move: copy it first */
static void copy_shape(int *dst, const int *shape, int ndim)
{
    for (int i = 0; i < ndim && i < CN_MAX_DIMS; i++) dst[i] = shape[i];
}

int graph_value(Graph *g, const char *name, ValueKind kind, DType dtype, int ndim,
                const int *shape, int batched)
{
    int s[CN_MAX_DIMS];
    copy_shape(s, shape, ndim);
    shape = s;
    Value *v = new_value(g);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->kind = kind;
    v->dtype = dtype;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
    v->batched = batched;
    v->requires_grad = (kind == VK_PARAM);
    return (int)(v - g->vals);
}

int graph_output(Graph *g, Node *n, DType dtype, int ndim, const int *shape, int batched)
{
    int rg = 0;
    for (int i = 0; i < n->nin; i++) rg |= g->vals[n->in[i]].requires_grad;
    int s[CN_MAX_DIMS];
    copy_shape(s, shape, ndim);
    shape = s;
    Value *v = new_value(g);
    int id = (int)(v - g->vals);
    int node = (int)(n - g->nodes);
    snprintf(v->name, sizeof v->name, "%%%d", id);
    v->kind = VK_ACT;
    v->dtype = dtype;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
    v->batched = batched;
    v->producer = node;
    v->requires_grad = rg && dtype == DT_F32 && g->cur_phase == PHASE_FORWARD;
    n->out[n->nout++] = id;
    return id;
}

int graph_add(Graph *g, int op, const int *in, int nin, const Attrs *a, Error *e)
{
    if (op < 0 || op >= OP_COUNT) return err_set(e, "internal: unknown op %d", op);
    if (nin > CN_MAX_IN) return err_set(e, "internal: too many inputs for %s", op_table[op]->name);
    if (g->nnodes == g->capnodes) {
        g->capnodes = g->capnodes ? 2 * g->capnodes : 64;
        g->nodes = xrealloc(g->nodes, (size_t)g->capnodes * sizeof *g->nodes);
    }
    Node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    for (int i = 0; i < nin; i++) {
        if (in[i] < 0 || in[i] >= g->nvals)
            return err_set(e, "internal: %s input %d is not a value", op_table[op]->name, i);
        n->in[i] = in[i];
    }
    n->nin = nin;
    if (a) n->a = *a;
    n->phase = g->cur_phase;
    n->line = g->cur_line;
    n->col = g->cur_col;
    snprintf(n->label, sizeof n->label, "%s", g->cur_label);
    int nv = g->nvals;
    if (op_table[op]->infer(g, n, e) < 0) {
        g->nvals = nv;          /* drop any outputs declared before the failure */
        return -1;
    }
    return g->nnodes++;
}

int graph_apply(Graph *g, int op, const int *in, int nin, const Attrs *a, Error *e)
{
    int n = graph_add(g, op, in, nin, a, e);
    if (n < 0) return -1;
    if (g->nodes[n].nout < 1) return err_set(e, "internal: %s has no output", op_table[op]->name);
    return g->nodes[n].out[0];
}

int graph_accumulate_grad(Graph *g, int v, int grad, Error *e)
{
    if (grad < 0) return 0;
    if (g->vals[v].grad < 0) {
        g->vals[v].grad = grad;
        return 0;
    }
    int in[2] = { g->vals[v].grad, grad };
    int sum = graph_apply(g, OP_add, in, 2, NULL, e);
    if (sum < 0) return -1;
    g->vals[v].grad = sum;
    return 0;
}

void graph_set_batch(Graph *g, int n)
{
    g->batch = n;
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].batched) g->vals[i].shape[0] = n;
}

size_t value_numel(const Value *v)
{
    size_t n = 1;
    for (int i = 0; i < v->ndim; i++) n *= (size_t)v->shape[i];
    return n;
}

size_t value_item_numel(const Value *v)
{
    size_t n = 1;
    for (int i = 1; i < v->ndim; i++) n *= (size_t)v->shape[i];
    return n;
}

size_t value_bytes(const Value *v) { return value_numel(v) * (v->dtype == DT_I64 ? 8 : 4); }

void graph_bind(Graph *g)
{
    free(g->arena);
    free(g->param_block);
    free(g->grad_block);
    free(g->state_block);
    g->arena = xcalloc(1, g->arena_bytes);
    g->param_block = xcalloc(1, g->param_bytes);
    g->grad_block = xcalloc(1, g->grad_bytes);
    g->state_block = xcalloc(1, g->state_bytes);
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        char *base;
        switch (v->kind) {
        case VK_PARAM:
        case VK_BUFFER: base = g->param_block; break;
        case VK_GRAD:  base = g->grad_block;  break;
        case VK_STATE: base = g->state_block; break;
        default:       base = g->arena;       break;
        }
        v->data = base + v->offset;
    }
    for (int i = 0; i < g->nvals; i++) {
        /* views share their base's storage */
        int b = i;
        while (g->vals[b].view_of >= 0) b = g->vals[b].view_of;
        g->vals[i].data = g->vals[b].data;
    }
    graph_params_changed(g);
}

void shape_str(const Value *v, int batch_symbol, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < v->ndim && len < n; i++) {
        if (i == 0 && v->batched && batch_symbol)
            len += (size_t)snprintf(buf + len, n - len, "N");
        else
            len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "x" : "", v->shape[i]);
    }
}

static double node_lr0(const Graph *g, int i)
{
    return g->lr0 ? g->lr0[i] : g->nodes[i].a.lr;
}

void graph_set_lr(Graph *g, double (*lr_of)(void *ctx, double lr0), void *ctx)
{
    if (!g->lr0) {
        g->lr0 = xcalloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *g->lr0);
        for (int i = 0; i < g->nnodes; i++) g->lr0[i] = g->nodes[i].a.lr;
    }
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].phase == PHASE_UPDATE) g->nodes[i].a.lr = lr_of(ctx, g->lr0[i]);
}

void graph_set_momentum(Graph *g, double m)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].phase == PHASE_UPDATE) {
            g->nodes[i].a.beta1 = m;
            g->nodes[i].a.momentum = m;
        }
}

int graph_lr_groups(const Graph *g, double *lr0, int max)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].phase != PHASE_UPDATE) continue;
        double lr = node_lr0(g, i);
        int seen = 0;
        for (int k = 0; k < n && k < max; k++) seen |= lr0[k] == lr;
        if (seen) continue;
        if (n < max) lr0[n] = lr;
        n++;
    }
    return n;
}
