/* compiler/passes/fuse.c: the fusion pass (see fuse.h). Matches chains over single-use values,
 * adds the fused node through the graph API (so the op's shape rule checks it), points the
 * chain's users at the fused node's outputs, then drops the chain's nodes and values and
 * renumbers the graph. */
#include "fuse.h"

#include <stdlib.h>
#include <string.h>

#include "../../runtime/ops.h"

/* the one node reading v, or -1 when none or several do (or v is read by the caller) */
static int sole_user(const Graph *g, int v)
{
    if (g->vals[v].keep) return -1;
    int user = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] == v) {
                if (user >= 0 && user != i) return -1;
                user = i;
            }
    return user;
}

/* Drops the nodes and values marked dead and renumbers everything that refers to them. */
static void compact(Graph *g, const int *node_at, int nnew, const char *dead_val)
{
    int *vmap = xmalloc((size_t)(unsigned)g->nvals * sizeof *vmap);
    int *nmap = xmalloc((size_t)(unsigned)g->nnodes * sizeof *nmap);
    int nv = 0;
    for (int i = 0; i < g->nvals; i++) vmap[i] = dead_val[i] ? -1 : nv++;
    for (int i = 0; i < g->nnodes; i++) nmap[i] = -1;
    for (int i = 0; i < nnew; i++) nmap[node_at[i]] = i;
    Node *nodes = xmalloc((size_t)(unsigned)nnew * sizeof *nodes);
    for (int i = 0; i < nnew; i++) {
        nodes[i] = g->nodes[node_at[i]];
        for (int k = 0; k < nodes[i].nin; k++) nodes[i].in[k] = vmap[nodes[i].in[k]];
        for (int k = 0; k < nodes[i].nout; k++) nodes[i].out[k] = vmap[nodes[i].out[k]];
    }
    for (int i = 0; i < g->nvals; i++) {
        if (vmap[i] < 0) continue;
        Value v = g->vals[i];
        if (v.producer >= 0) v.producer = nmap[v.producer];
        if (v.view_of >= 0) v.view_of = vmap[v.view_of];
        if (v.grad >= 0) v.grad = vmap[v.grad];
        g->vals[vmap[i]] = v;
    }
    int *ids[] = { &g->input, &g->label, &g->logits, &g->loss, &g->probs };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (*ids[i] >= 0) *ids[i] = vmap[*ids[i]];
    memcpy(g->nodes, nodes, (size_t)nnew * sizeof *nodes);
    g->nnodes = nnew;
    g->nvals = nv;
    free(nodes);
    free(vmap);
    free(nmap);
}

static void finish(Graph *g, int *place, int n0, int fused);

static void redirect(Graph *g, int from, int to)
{
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] == from) g->nodes[i].in[k] = to;
    for (int i = 0; i < g->nvals; i++) {
        if (g->vals[i].view_of == from) g->vals[i].view_of = to;
        if (g->vals[i].grad == from) g->vals[i].grad = to;
    }
    int *ids[] = { &g->input, &g->label, &g->logits, &g->loss, &g->probs };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (*ids[i] == from) *ids[i] = to;
    g->vals[to].keep |= g->vals[from].keep;
}

int fuse_graph(Graph *g, Error *e)
{
    int n0 = g->nnodes, fused = 0;
    /* where each original node goes: itself, a fused node appended at the end, or nowhere */
    int *place = xmalloc((size_t)(unsigned)n0 * sizeof *place);
    for (int i = 0; i < n0; i++) place[i] = i;
    for (int i = 0; i < n0; i++) {
        Node *c = &g->nodes[i];
        if (c->op != OP_conv2d || c->phase != PHASE_FORWARD || place[i] != i) continue;
        if (!conv2d_attrs_plain(&c->a)) continue;        /* the fused kernels take the plain ones alone */
        int r = sole_user(g, c->out[0]);
        if (r < 0 || g->nodes[r].op != OP_relu) continue;
        int m = sole_user(g, g->nodes[r].out[0]);
        if (m < 0 || g->nodes[m].op != OP_maxpool2d || !maxpool2d_attrs_plain(&g->nodes[m].a)) continue;
        Node conv = *c, pool = g->nodes[m];
        Attrs a = conv.a;
        a.pool_kernel = pool.a.kernel;
        a.pool_stride = pool.a.stride;
        a.pool_padding = pool.a.padding;
        g->cur_phase = PHASE_FORWARD;
        g->cur_line = conv.line;
        g->cur_col = conv.col;
        memcpy(g->cur_label, conv.label, sizeof g->cur_label);
        int f = graph_add(g, OP_conv2d_relu_maxpool2d, conv.in, conv.nin, &a, e);
        if (f < 0) {
            free(place);
            return -1;
        }
        redirect(g, pool.out[0], g->nodes[f].out[0]);
        redirect(g, pool.out[1], g->nodes[f].out[1]);
        place[i] = f;
        place[r] = place[m] = -1;
        fused++;
    }
    finish(g, place, n0, fused);
    return fused;
}

/* Drops the chains' nodes (place[i] = -1) and values, puts each fused node where its chain
 * began (place[i]: the node standing at original node i), and frees place. */
static void finish(Graph *g, int *place, int n0, int fused)
{
    if (fused) {
        char *dead = xcalloc((size_t)(unsigned)g->nvals, 1);
        int *order = xmalloc((size_t)(unsigned)g->nnodes * sizeof *order), n = 0;
        for (int i = 0; i < n0; i++) {
            if (place[i] == i) continue;
            Node *old = &g->nodes[i];                   /* the chain's nodes: their values go */
            for (int k = 0; k < old->nout; k++) dead[old->out[k]] = 1;
        }
        for (int i = 0; i < n0; i++)
            if (place[i] >= 0) order[n++] = place[i];
        for (int i = 0; i < n; i++) {                   /* the fused nodes now produce their outputs */
            Node *nd = &g->nodes[order[i]];
            for (int k = 0; k < nd->nout; k++) g->vals[nd->out[k]].producer = order[i];
        }
        compact(g, order, n, dead);
        free(order);
        free(dead);
    }
    free(place);
}

/* Replaces node i (of op first, read by the relu after it alone) and that relu by one node
 * of op fused: node i's inputs and attributes, the relu's result as its first output, node
 * i's other outputs after it. Returns the relu's node, -1 when the pattern does not hold
 * (nothing changed), -2 on error. */
static int fuse_with_relu(Graph *g, int i, int first, int fused, int *place, Error *e)
{
    Node b = g->nodes[i];
    if (b.op != first || b.phase != PHASE_FORWARD || place[i] != i) return -1;
    int r = sole_user(g, b.out[0]);
    if (r < 0 || g->nodes[r].op != OP_relu || g->nodes[r].phase != PHASE_FORWARD || place[r] != r) return -1;
    int relu_out = g->nodes[r].out[0];
    g->cur_phase = PHASE_FORWARD;
    g->cur_line = b.line;
    g->cur_col = b.col;
    memcpy(g->cur_label, b.label, sizeof g->cur_label);
    int f = graph_add(g, fused, b.in, b.nin, &b.a, e);
    if (f < 0) return -2;
    redirect(g, relu_out, g->nodes[f].out[0]);
    for (int k = 1; k < b.nout; k++) redirect(g, b.out[k], g->nodes[f].out[k]);
    place[i] = f;
    place[r] = -1;
    return r;
}

/* add_relu(a, b) at node i whose result only a plain maxpool2d reads -> add_relu_maxpool2d */
static int fuse_add_pool(Graph *g, int i, int *place, Error *e)
{
    Node s = g->nodes[i];
    if (s.op != OP_add_relu || s.phase != PHASE_FORWARD) return 0;
    int m = sole_user(g, s.out[0]);
    if (m < 0 || place[m] != m || g->nodes[m].op != OP_maxpool2d || g->nodes[m].phase != PHASE_FORWARD ||
        !maxpool2d_attrs_plain(&g->nodes[m].a))
        return 0;
    Node pool = g->nodes[m];
    g->cur_phase = PHASE_FORWARD;
    g->cur_line = s.line;
    g->cur_col = s.col;
    memcpy(g->cur_label, s.label, sizeof g->cur_label);
    int f = graph_add(g, OP_add_relu_maxpool2d, s.in, 2, &pool.a, e);
    if (f < 0) return -1;
    redirect(g, pool.out[0], g->nodes[f].out[0]);
    redirect(g, pool.out[1], g->nodes[f].out[1]);
    place[i] = f;
    place[m] = -1;
    return 1;
}

int fuse_training_graph(Graph *g, Error *e)
{
    int n0 = g->nnodes, fused = 0;
    int *place = xmalloc((size_t)(unsigned)n0 * sizeof *place);
    for (int i = 0; i < n0; i++) place[i] = i;
    for (int i = 0; i < n0; i++) {
        int r = fuse_with_relu(g, i, OP_batchnorm2d, OP_batchnorm2d_relu, place, e);
        if (r == -1) r = fuse_with_relu(g, i, OP_add, OP_add_relu, place, e);
        if (r == -2) {
            free(place);
            return -1;
        }
        fused += r >= 0;
    }
    finish(g, place, n0, fused);
    /* then each add_relu into the MaxPool2d after it */
    int n1 = g->nnodes, pooled = 0;
    place = xmalloc((size_t)(unsigned)n1 * sizeof *place);
    for (int i = 0; i < n1; i++) place[i] = i;
    for (int i = 0; i < n1; i++) {
        int r = place[i] == i ? fuse_add_pool(g, i, place, e) : 0;
        if (r < 0) {
            free(place);
            return -1;
        }
        pooled += r;
    }
    finish(g, place, n1, pooled);
    return fused + pooled;
}

/* the value whose storage v shares (v itself when it is not a view) */
static int storage_of(const Graph *g, int v)
{
    while (g->vals[v].view_of >= 0) v = g->vals[v].view_of;
    return v;
}

/* Whether node c may write over acc's storage in place, node a (an add of it, after c) being
 * dropped: an activation computed before c that nothing but a reads at c or after, nor the
 * caller (views of its storage alike) */
static int overwritable(const Graph *g, int acc, int c, int a)
{
    int b = storage_of(g, acc);
    const Value *v = &g->vals[b];
    if (v->kind != VK_ACT || v->cached || v->producer < 0 || g->vals[acc].producer >= c) return 0;
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].keep && storage_of(g, i) == b) return 0;
    for (int i = c; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (i != a && storage_of(g, g->nodes[i].in[k]) == b) return 0;
    return 1;
}

/* Replaces nodes first (placed there) and second (dropped) by one node of op over in[0..nin)
 * with attributes a, stamped as first, its output taking second's. Returns 1, or -1 on error. */
static int fuse_pair(Graph *g, int first, int second, int op, const int *in, int nin, const Attrs *a, int *place,
                     Error *e)
{
    Node at = g->nodes[first];
    int out = g->nodes[second].out[0];
    g->cur_phase = at.phase;
    g->cur_line = at.line;
    g->cur_col = at.col;
    memcpy(g->cur_label, at.label, sizeof g->cur_label);
    int f = graph_add(g, op, in, nin, a, e);
    if (f < 0) return -1;
    redirect(g, out, g->nodes[f].out[0]);
    place[first] = f;
    place[second] = -1;
    return 1;
}

/* add(acc, conv2d_backward_input(dy, w)) at node i -> conv2d_backward_input(dy, w, acc) */
static int fuse_sum(Graph *g, int i, int n0, int *place, Error *e)
{
    Node s = g->nodes[i];
    if (s.op != OP_add || s.phase != PHASE_BACKWARD) return 0;
    for (int k = 0; k < 2; k++) {
        int c = g->vals[s.in[k]].producer, acc = s.in[1 - k];
        if (c < 0 || c >= n0 || place[c] != c || sole_user(g, s.in[k]) != i) continue;
        Node conv = g->nodes[c];
        if (conv.op != OP_conv2d_backward_input || conv.nin != 2 || !conv2d_attrs_plain(&conv.a) ||
            !overwritable(g, acc, c, i))
            continue;
        int in[3] = { conv.in[0], conv.in[1], acc };
        return fuse_pair(g, c, i, OP_conv2d_backward_input, in, 3, &conv.a, place, e);
    }
    return 0;
}

/* relu_backward(maxpool2d_backward(dy, argmax), y) at node i, y being the input of the
 * maxpool2d that gave argmax -> relu_maxpool2d_backward(dy, the pooled y, argmax): y > 0 at a
 * window's argmax where the window's maximum is */
static int fuse_unpool(Graph *g, int i, int n0, int *place, Error *e)
{
    Node r = g->nodes[i];
    if (r.op != OP_relu_backward || r.phase != PHASE_BACKWARD) return 0;
    int m = g->vals[r.in[0]].producer;
    if (m < 0 || m >= n0 || place[m] != m || g->nodes[m].op != OP_maxpool2d_backward || sole_user(g, r.in[0]) != i)
        return 0;
    Node mb = g->nodes[m];
    int p = g->vals[mb.in[1]].producer;
    if (p < 0 || g->nodes[p].op != OP_maxpool2d || g->nodes[p].in[0] != r.in[1] ||
        !maxpool2d_attrs_plain(&g->nodes[p].a))
        return 0;
    Node pool = g->nodes[p];
    Attrs a = { 0 };
    a.hint_ndim = 4;
    memcpy(a.hint, mb.a.hint, sizeof a.hint);
    a.pool_kernel = pool.a.kernel;
    a.pool_stride = pool.a.stride;
    a.pool_padding = pool.a.padding;
    int in[3] = { mb.in[0], pool.out[0], mb.in[1] };
    return fuse_pair(g, m, i, OP_relu_maxpool2d_backward, in, 3, &a, place, e);
}

/* One pass of fuse (fuse_sum, fuse_unpool) over the nodes; the number fused, or -1 */
static int backward_pass(Graph *g, int (*fuse)(Graph *, int, int, int *, Error *), Error *e)
{
    int n0 = g->nnodes, fused = 0;
    int *place = xmalloc((size_t)(unsigned)n0 * sizeof *place);
    for (int i = 0; i < n0; i++) place[i] = i;
    for (int i = 0; i < n0; i++) {
        int r = place[i] == i ? fuse(g, i, n0, place, e) : 0;
        if (r < 0) {
            free(place);
            return -1;
        }
        fused += r;
    }
    finish(g, place, n0, fused);
    return fused;
}

/* BatchNorm's backward writes dx over dy (each float read just before it is written, a
 * channel at a time) where nothing else reads dy's storage from it on: no fresh buffer to
 * bring into cache for the writes. Returns how many. */
static int batchnorm_in_place(Graph *g)
{
    int shared = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if ((n->op != OP_batchnorm_backward && n->op != OP_batchnorm_relu_backward) || n->phase != PHASE_BACKWARD ||
            g->vals[n->out[0]].view_of >= 0 || g->vals[n->out[0]].keep || !overwritable(g, n->in[0], i, i))
            continue;
        int alone = 1;              /* dy's storage is none of the node's other inputs */
        for (int k = 1; k < n->nin; k++) alone &= storage_of(g, n->in[k]) != storage_of(g, n->in[0]);
        if (!alone) continue;
        g->vals[n->out[0]].view_of = n->in[0];
        shared++;
    }
    return shared;
}

/* the unpooling first: its output, in its place, is then a sum's acc */
int fuse_backward_graph(Graph *g, Error *e)
{
    int unpooled = backward_pass(g, fuse_unpool, e);
    int summed = unpooled < 0 ? -1 : backward_pass(g, fuse_sum, e);
    if (summed < 0) return -1;
    batchnorm_in_place(g);
    return unpooled + summed;
}

/* how many nodes read v */
static int user_count(const Graph *g, int v)
{
    int users = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) users += g->nodes[i].in[k] == v;
    return users;
}

int fold_batchnorm(Graph *g, Error *e)
{
    int n0 = g->nnodes, folded = 0;
    /* what each original node becomes: itself, the two nodes first[i], second[i], or nothing (-1) */
    int *first = xmalloc((size_t)(unsigned)n0 * sizeof *first), *second = xmalloc((size_t)(unsigned)n0 * sizeof *second);
    for (int i = 0; i < n0; i++) first[i] = i, second[i] = -1;
    for (int i = 0; i < n0; i++) {
        Node b = g->nodes[i];
        /* batchnorm2d with running statistics (4 or 6 inputs) of a conv2d's output read by it alone */
        if (b.op != OP_batchnorm2d || b.phase != PHASE_FORWARD || (b.nin != 4 && b.nin != 6)) continue;
        int c = g->vals[b.in[0]].producer;
        if (c < 0 || c >= n0 || g->nodes[c].op != OP_conv2d || first[c] != c || sole_user(g, b.in[0]) != i) continue;
        if (user_count(g, b.out[1]) || user_count(g, b.out[2]) || g->vals[b.out[1]].keep || g->vals[b.out[2]].keep)
            continue;
        Node conv = g->nodes[c];
        int in[6], nin = 0;
        in[nin++] = conv.in[1];
        in[nin++] = b.in[b.nin == 6 ? 3 : 1];       /* running_mean, running_var */
        in[nin++] = b.in[b.nin == 6 ? 4 : 2];
        if (b.nin == 6) in[nin++] = b.in[1], in[nin++] = b.in[2];     /* weight, bias */
        if (conv.nin == 3) in[nin++] = conv.in[2];
        Attrs fa = { 0 };
        fa.eps = b.a.eps;
        g->cur_phase = PHASE_FORWARD;
        g->cur_line = b.line;
        g->cur_col = b.col;
        memcpy(g->cur_label, b.label, sizeof g->cur_label);
        int f = graph_add(g, OP_batchnorm_fold, in, nin, &fa, e);
        if (f >= 0) {
            /* folded once, then again only when the parameters change (exec.c) */
            g->vals[g->nodes[f].out[0]].cached = g->vals[g->nodes[f].out[1]].cached = 1;
            int cin[3] = { conv.in[0], g->nodes[f].out[0], g->nodes[f].out[1] };
            g->cur_line = conv.line;
            g->cur_col = conv.col;
            memcpy(g->cur_label, conv.label, sizeof g->cur_label);
            int nc = graph_add(g, OP_conv2d, cin, 3, &conv.a, e);
            if (nc >= 0) {
                redirect(g, b.out[0], g->nodes[nc].out[0]);
                first[c] = f, second[c] = nc, first[i] = -1;
                folded++;
                continue;
            }
        }
        free(first);
        free(second);
        return -1;
    }
    if (folded) {
        char *dead = xcalloc((size_t)(unsigned)g->nvals, 1);
        int *order = xmalloc((size_t)(unsigned)g->nnodes * sizeof *order), n = 0;
        for (int i = 0; i < n0; i++) {
            if (first[i] == i) {
                order[n++] = i;
                continue;
            }
            const Node *old = &g->nodes[i];             /* the conv and the batchnorm: their values go */
            for (int k = 0; k < old->nout; k++) dead[old->out[k]] = 1;
            if (first[i] >= 0) order[n++] = first[i], order[n++] = second[i];
        }
        compact(g, order, n, dead);
        free(order);
        free(dead);
    }
    free(first);
    free(second);
    return folded;
}
