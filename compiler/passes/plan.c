/* compiler/passes/plan.c: liveness-based static memory planning (see plan.h). */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static size_t align_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

typedef struct Interval {
    int    value;
    int    first, last;         /* node indices, inclusive */
    size_t bytes, offset;
} Interval;

static int base_of(const Graph *g, int v)
{
    while (g->vals[v].view_of >= 0) v = g->vals[v].view_of;
    return v;
}

static int by_size_desc(const void *a, const void *b)
{
    const Interval *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->first - y->first;
}

static int in_arena(const Value *v)
{
    return v->kind == VK_ACT || v->kind == VK_INPUT || v->kind == VK_LABEL;
}

void plan_memory(Graph *g, PlanStats *st)
{
    memset(st, 0, sizeof *st);
    int saved_batch = g->batch;
    graph_set_batch(g, g->max_batch);

    /* persistent blocks, in creation order */
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        size_t *block = v->kind == VK_PARAM || v->kind == VK_BUFFER ? &st->param_bytes
                      : v->kind == VK_GRAD  ? &st->grad_bytes
                      : v->kind == VK_STATE ? &st->state_bytes : NULL;
        if (!block || v->view_of >= 0) continue;
        v->offset = *block;
        *block += align_up(value_bytes(v));
    }

    /* lifetimes of arena values; a view extends its base */
    int *first = xmalloc((size_t)(unsigned)g->nvals * sizeof *first);
    int *last = xmalloc((size_t)(unsigned)g->nvals * sizeof *last);
    for (int i = 0; i < g->nvals; i++) {
        const Value *v = &g->vals[i];
        first[i] = v->cached ? -1 : v->producer;    /* -1: fed before the first node; cached: kept between runs */
        last[i] = v->keep || v->cached ? g->nnodes : v->producer;
    }
    for (int n = 0; n < g->nnodes; n++) {
        const Node *nd = &g->nodes[n];
        for (int k = 0; k < nd->nin; k++) {
            int b = base_of(g, nd->in[k]);
            if (n > last[b]) last[b] = n;
        }
        for (int k = 0; k < nd->nout; k++) {
            int v = nd->out[k], b = base_of(g, v);
            if (b != v && g->vals[v].keep) last[b] = g->nnodes;
            if (n > last[b]) last[b] = n;
        }
    }

    Interval *iv = xmalloc((size_t)(unsigned)g->nvals * sizeof *iv);
    int m = 0;
    for (int i = 0; i < g->nvals; i++) {
        const Value *v = &g->vals[i];
        if (!in_arena(v) || v->view_of >= 0) continue;
        iv[m].value = i;
        iv[m].first = first[i];
        iv[m].last = last[i];
        iv[m].bytes = align_up(value_bytes(v));
        st->unshared_bytes += iv[m].bytes;
        m++;
    }
    qsort(iv, (size_t)m, sizeof *iv, by_size_desc);

    /* greedy: largest first, lowest offset that no overlapping-lifetime tensor occupies */
    for (int i = 0; i < m; i++) {
        size_t off = 0;
        int moved = 1;
        while (moved) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                if (iv[j].last < iv[i].first || iv[i].last < iv[j].first) continue;
                if (off < iv[j].offset + iv[j].bytes && iv[j].offset < off + iv[i].bytes) {
                    off = iv[j].offset + iv[j].bytes;
                    moved = 1;
                }
            }
        }
        iv[i].offset = off;
        if (off + iv[i].bytes > st->arena_bytes) st->arena_bytes = off + iv[i].bytes;
        g->vals[iv[i].value].offset = off;
    }
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].view_of >= 0) g->vals[i].offset = g->vals[base_of(g, i)].offset;

    g->arena_bytes = st->arena_bytes;
    g->param_bytes = st->param_bytes;
    g->grad_bytes = st->grad_bytes;
    g->state_bytes = st->state_bytes;
    free(iv);
    free(first);
    free(last);
    graph_set_batch(g, saved_batch);
}

size_t plan_total_bytes(const PlanStats *st)
{
    return st->arena_bytes + st->param_bytes + st->grad_bytes + st->state_bytes;
}
