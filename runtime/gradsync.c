/* runtime/gradsync.c: bucketed, overlapped gradient sums over the ranks (see gradsync.h). */
#include "gradsync.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist.h"

typedef struct Bucket {
    int      first, count;      /* its gradients: s->grads[first .. first + count) */
    int      ready;             /* of them written in this step */
    size_t   n;                 /* floats */
    float   *pack;              /* the gradients side by side while they are summed */
    DistSum *sum;
    int      state;             /* 0 waiting for its gradients, 1 being summed, 2 summed */
} Bucket;

struct GradSync {
    int     *grads, ngrads;     /* VK_GRAD value ids in the order the backward pass finishes them */
    int     *bucket_of;         /* value id -> bucket, -1 */
    Bucket  *b;
    int      nb;
    double   wait_s, skew_s;
    long     steps;
    int      timing, timed;         /* CNNC_MPI_STATS; whether this step's skew was taken */
    size_t   bytes;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

GradSync *gradsync_new(const Graph *g)
{
    GradSync *s = xcalloc(1, sizeof *s);
    s->grads = xmalloc(((size_t)g->nvals + 1) * sizeof *s->grads);
    s->bucket_of = xmalloc(((size_t)g->nvals + 1) * sizeof *s->bucket_of);
    for (int i = 0; i < g->nvals; i++) s->bucket_of[i] = -1;
    s->timing = getenv("CNNC_MPI_STATS") != NULL;
    const char *kb = getenv("CNNC_MPI_BUCKET_KB");
    size_t cap = (kb ? (size_t)strtoul(kb, NULL, 10) : 256) * 1024;   /* 0: one bucket, no overlap */
    s->b = xcalloc((size_t)g->nvals + 1, sizeof *s->b);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->phase != PHASE_BACKWARD) continue;
        for (int k = 0; k < n->nout; k++) {
            int v = n->out[k];
            if (g->vals[v].kind != VK_GRAD || s->bucket_of[v] >= 0) continue;
            Bucket *b = &s->b[s->nb];
            if (b->count == 0) b->first = s->ngrads;
            s->grads[s->ngrads++] = v;
            s->bucket_of[v] = s->nb;
            b->count++;
            b->n += value_numel(&g->vals[v]);
            if (cap && b->n * sizeof(float) >= cap) s->nb++;
        }
    }
    if (s->nb < (int)g->nvals + 1 && s->b[s->nb].count) s->nb++;
    for (int i = 0; i < s->nb; i++) {
        s->b[i].pack = xmalloc((s->b[i].n ? s->b[i].n : 1) * sizeof(float));
        s->bytes += s->b[i].n * sizeof(float);
    }
    return s;
}

void gradsync_free(GradSync *s)
{
    if (!s) return;
    for (int i = 0; i < s->nb; i++) {
        if (s->b[i].state == 1) dist_sum_wait(s->b[i].sum);
        free(s->b[i].pack);
    }
    free(s->b);
    free(s->grads);
    free(s->bucket_of);
    free(s);
}

void gradsync_begin(GradSync *s)
{
    for (int i = 0; i < s->nb; i++) s->b[i].ready = s->b[i].state = 0;
    s->steps++;
    s->timed = 0;
}

static void start(GradSync *s, Graph *g, Bucket *b)
{
    size_t off = 0;
    for (int i = b->first; i < b->first + b->count; i++) {
        const Value *v = &g->vals[s->grads[i]];
        memcpy(b->pack + off, v->data, value_numel(v) * sizeof(float));
        off += value_numel(v);
    }
    b->sum = dist_sum_start(b->pack, b->n);
    b->state = 1;
}

static void finish(GradSync *s, Graph *g, Bucket *b)
{
    if (b->state == 0) start(s, g, b);
    if (b->state != 1) return;
    if (s->timing && !s->timed) {   /* the wait for the slowest process, apart from the sums' */
        double t = now();
        dist_barrier();
        s->skew_s += now() - t;
        s->timed = 1;
    }
    double t0 = now();
    dist_sum_wait(b->sum);
    s->wait_s += now() - t0;
    b->sum = NULL;
    b->state = 2;
    size_t off = 0;
    for (int i = b->first; i < b->first + b->count; i++) {
        const Value *v = &g->vals[s->grads[i]];
        memcpy(v->data, b->pack + off, value_numel(v) * sizeof(float));
        off += value_numel(v);
    }
}

void gradsync_before_node(GradSync *s, Graph *g, const Node *n)
{
    for (int k = 0; k < n->nin; k++) {
        int b = s->bucket_of[n->in[k]];
        if (b >= 0 && s->b[b].state != 2) finish(s, g, &s->b[b]);
    }
}

void gradsync_after_node(GradSync *s, Graph *g, const Node *n)
{
    for (int k = 0; k < n->nout; k++) {
        int b = s->bucket_of[n->out[k]];
        if (b >= 0 && ++s->b[b].ready == s->b[b].count) start(s, g, &s->b[b]);
    }
    for (int i = 0; i < s->nb; i++)         /* let MPI move the sums in flight */
        if (s->b[i].state == 1) dist_sum_test(s->b[i].sum);
}

void gradsync_end(GradSync *s, Graph *g)
{
    for (int i = 0; i < s->nb; i++)
        if (s->b[i].state != 2) finish(s, g, &s->b[i]);
}

void gradsync_stats(const GradSync *s, double *wait_s, double *skew_s, long *steps, int *buckets, size_t *bytes)
{
    *wait_s = s->wait_s;
    *skew_s = s->skew_s;
    *steps = s->steps;
    *buckets = s->nb;
    *bytes = s->bytes;
}
