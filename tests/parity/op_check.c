/* tests/parity/op_check.c: runs one op of the op table, forward and backward, on inputs
 * read from a safetensors file, and writes its outputs and its inputs' gradients to
 * another, so that test_ops_torch.py can hold any op to torch.nn.functional.
 *
 *   op_check OP IN.safetensors OUT.safetensors [key=value ...]
 *
 * IN holds in0, in1, ... (float32 or int32: the op's inputs in order) and optionally dy0,
 * dy1, ... (the gradient of output k; an output without one gets none). OUT receives out0,
 * out1, ... (every output of the forward node) and gradK for each input K that received a
 * gradient. The backward nodes come from the op's backward rule, called as compiler/
 * autodiff.c calls it; a loss op's rule is the root and does not read its dy.
 *
 * Keys: any Attrs field listed in ATTR_KEYS (kernel=3 p=0.5 alpha=0.2 approximate=tanh
 * hint=2,3,4), and
 *   batched=LIST   inputs whose dim 0 is the batch (default: in0 and every int32 input);
 *                  the others are parameters (VK_PARAM)
 *   grad=LIST      inputs that require a gradient (default: every float32 input)
 *   training=0|1   g->training (default 1)      seed=N   g->rng's seed (default 1)
 *   buffers=LIST   inputs that are module buffers (VK_BUFFER: BatchNorm's running
 *                  statistics; int64 inputs always are): no gradient, and their values
 *                  after the run go to OUT as bufK
 * Pairs (kernel_hw=3,2 out_hw=7,7) take two comma-separated integers; padding_mode takes
 * zeros or reflect.
 * LIST is comma-separated input indices, or "none". */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/graph.h"
#include "runtime/ops.h"
#include "runtime/safetensors.h"

/* Attrs fields settable from the command line: one line each. */
typedef enum { K_INT, K_DOUBLE, K_INTS, K_PAIR } KeyType;
typedef struct AttrKey { const char *name; KeyType type; size_t off, count_off; } AttrKey;
#define INT_KEY(f)  { #f, K_INT, offsetof(Attrs, f), 0 }
#define DBL_KEY(f)  { #f, K_DOUBLE, offsetof(Attrs, f), 0 }
static const AttrKey ATTR_KEYS[] = {
    INT_KEY(kernel), INT_KEY(stride), INT_KEY(padding),
    INT_KEY(pool_kernel), INT_KEY(pool_stride), INT_KEY(pool_padding),
    DBL_KEY(p), DBL_KEY(lr), DBL_KEY(beta1), DBL_KEY(beta2), DBL_KEY(eps),
    DBL_KEY(weight_decay), DBL_KEY(momentum), DBL_KEY(dampening), INT_KEY(nesterov),
    { "hint", K_INTS, offsetof(Attrs, hint), offsetof(Attrs, hint_ndim) },
    DBL_KEY(alpha), INT_KEY(approximate), INT_KEY(start), INT_KEY(count),
#define PAIR_KEY(f) { #f, K_PAIR, offsetof(Attrs, f), 0 }
    INT_KEY(momentum_none), PAIR_KEY(kernel_hw), PAIR_KEY(stride_hw), PAIR_KEY(padding_hw), PAIR_KEY(dilation_hw),
    INT_KEY(groups), INT_KEY(padding_mode), INT_KEY(ceil_mode), INT_KEY(count_include_pad), PAIR_KEY(out_hw),
};

static void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "op_check: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(2);
}

static int parse_int(const char *s, const char *key)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end) die("%s: %s is not an integer", key, s);
    return (int)v;
}

/* Sets the Attrs field named key from value; "approximate" also takes none/tanh. */
static void set_attr(Attrs *a, const char *key, const char *value)
{
    if (!strcmp(key, "approximate") && (!strcmp(value, "none") || !strcmp(value, "tanh"))) {
        a->approximate = !strcmp(value, "tanh");
        return;
    }
    if (!strcmp(key, "padding_mode") && (!strcmp(value, "zeros") || !strcmp(value, "reflect"))) {
        a->padding_mode = !strcmp(value, "reflect") ? PADDING_REFLECT : PADDING_ZEROS;
        return;
    }
    for (size_t i = 0; i < sizeof ATTR_KEYS / sizeof ATTR_KEYS[0]; i++) {
        const AttrKey *k = &ATTR_KEYS[i];
        if (strcmp(k->name, key)) continue;
        char *field = (char *)a + k->off;
        if (k->type == K_INT) {
            *(int *)field = parse_int(value, key);
        } else if (k->type == K_PAIR) {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", value);
            char *comma = strchr(buf, ',');
            if (!comma) die("%s: %s is not a pair h,w", key, value);
            *comma = 0;
            ((int *)field)[0] = parse_int(buf, key);
            ((int *)field)[1] = parse_int(comma + 1, key);
        } else if (k->type == K_DOUBLE) {
            char *end;
            *(double *)field = strtod(value, &end);
            if (end == value || *end) die("%s: %s is not a number", key, value);
        } else {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", value);
            int n = 0;
            for (char *t = strtok(buf, ","); t && n < CN_MAX_DIMS; t = strtok(NULL, ","))
                ((int *)field)[n++] = parse_int(t, key);
            *(int *)((char *)a + k->count_off) = n;
        }
        return;
    }
    die("unknown key %s (add it to ATTR_KEYS)%s", key, "");
}

/* A LIST of input indices as a bit set; "none" is empty */
static unsigned parse_list(const char *s, const char *key)
{
    if (!strcmp(s, "none")) return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    unsigned set = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        int i = parse_int(t, key);
        if (i < 0 || i >= CN_MAX_IN) die("%s: input %s out of range", key, t);
        set |= 1u << i;
    }
    return set;
}

/* Every value that is not a view gets its own zeroed storage (no memory plan). */
static void bind_all(Graph *g)
{
    size_t at = 0;
    for (int i = 0; i < g->nvals; i++) {
        Value *v = &g->vals[i];
        if (v->kind == VK_PARAM || v->kind == VK_BUFFER) v->kind = VK_INPUT;   /* one block for all */
        if (v->view_of >= 0) continue;
        v->offset = at;
        at += (value_bytes(v) + 63) / 64 * 64;
    }
    g->arena_bytes = at;
    g->param_bytes = g->grad_bytes = g->state_bytes = 0;
    graph_bind(g);
}

static int find_op(const char *name)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (!strcmp(op_table[i]->name, name)) return i;
    die("no op named %s in the op table%s", name, "");
    return -1;
}

static StTensor tensor_of(const Graph *g, int v, const char *name)
{
    const Value *x = &g->vals[v];
    StTensor t = { name, x->dtype == DT_F32 ? ST_F32 : x->dtype == DT_I64 ? ST_I64 : ST_I32, x->ndim, { 0 }, x->data };
    for (int d = 0; d < x->ndim; d++) t.shape[d] = x->shape[d];
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: op_check OP IN.safetensors OUT.safetensors [key=value ...]\n");
        return 2;
    }
    int op = find_op(argv[1]);
    Attrs a;
    memset(&a, 0, sizeof a);
    int training = 1, have_batched = 0, have_grad = 0;
    unsigned batched = 0, grad = 0, buffers = 0;
    uint64_t seed = 1;
    for (int i = 4; i < argc; i++) {
        char key[64];
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq - argv[i] >= (long)sizeof key) die("expected key=value, got %s%s", argv[i], "");
        memcpy(key, argv[i], (size_t)(eq - argv[i]));
        key[eq - argv[i]] = 0;
        const char *value = eq + 1;
        if (!strcmp(key, "training")) training = parse_int(value, key);
        else if (!strcmp(key, "seed")) seed = (uint64_t)parse_int(value, key);
        else if (!strcmp(key, "batched")) batched = parse_list(value, key), have_batched = 1;
        else if (!strcmp(key, "grad")) grad = parse_list(value, key), have_grad = 1;
        else if (!strcmp(key, "buffers")) buffers = parse_list(value, key);
        else set_attr(&a, key, value);
    }

    Error e;
    StFile f;
    if (safetensors_read(&f, argv[2], &e) < 0) die("%s%s", e.msg, "");
    Graph *g = graph_new();
    int in[CN_MAX_IN], nin = 0;
    const StEntry *src[CN_MAX_IN];
    char name[32];
    for (; nin < CN_MAX_IN; nin++) {
        snprintf(name, sizeof name, "in%d", nin);
        const StEntry *t = safetensors_find(&f, name);
        if (!t) break;
        if ((t->dtype != ST_F32 && t->dtype != ST_I32 && t->dtype != ST_I64) || t->ndim < 1 || t->ndim > CN_MAX_DIMS)
            die("%s: %s must be float32, int32 or int64 with 1 to 4 dims", argv[2], name);
        DType dt = t->dtype == ST_F32 ? DT_F32 : t->dtype == ST_I64 ? DT_I64 : DT_I32;
        if (dt == DT_I64) buffers |= 1u << nin;
        int isbuf = (int)(buffers >> nin & 1);
        int isb = have_batched ? (int)(batched >> nin & 1) : !isbuf && (nin == 0 || dt == DT_I32);
        int rg = have_grad ? (int)(grad >> nin & 1) : dt == DT_F32 && !isbuf;
        int shape[CN_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) shape[d] = (int)t->shape[d];
        if (isb) g->max_batch = g->batch = shape[0];
        in[nin] = graph_value(g, name, isbuf ? VK_BUFFER : isb ? (dt == DT_I32 ? VK_LABEL : VK_INPUT) : VK_PARAM, dt,
                              t->ndim, shape, isb);
        g->vals[in[nin]].requires_grad = rg;
        src[nin] = t;
    }
    if (nin == 0) die("%s has no in0%s", argv[2], "");

    g->cur_phase = PHASE_FORWARD;
    int node = graph_add(g, op, in, nin, &a, &e);
    if (node < 0) die("%s: %s", argv[1], e.msg);
    Node fwd = g->nodes[node];

    /* the gradients of the outputs, then the backward rule, as autodiff calls it */
    int dout[CN_MAX_OUT], any = 0;
    const StEntry *dsrc[CN_MAX_OUT];
    for (int k = 0; k < fwd.nout; k++) {
        snprintf(name, sizeof name, "dy%d", k);
        dsrc[k] = safetensors_find(&f, name);
        dout[k] = -1;
        if (!dsrc[k]) continue;
        const Value *y = &g->vals[fwd.out[k]];
        if (dsrc[k]->dtype != ST_F32 || dsrc[k]->nbytes != value_bytes(y))
            die("%s: %s must be float32 of its output's size", argv[2], name);
        dout[k] = graph_value(g, name, y->batched ? VK_INPUT : VK_PARAM, DT_F32, y->ndim, y->shape, y->batched);
        any = 1;
    }
    int any_in = 0;
    for (int i = 0; i < nin; i++) any_in |= g->vals[in[i]].requires_grad;
    if (any && any_in) {
        if (!op_table[op]->backward) die("%s has no backward rule%s", argv[1], "");
        g->cur_phase = PHASE_BACKWARD;
        if (op_table[op]->backward(g, fwd, dout, &e) < 0) die("backward of %s: %s", argv[1], e.msg);
    }

    bind_all(g);
    g->training = training;
    rng_seed(&g->rng, seed);
    for (int i = 0; i < nin; i++) memcpy(g->vals[in[i]].data, src[i]->data, src[i]->nbytes);
    for (int k = 0; k < fwd.nout; k++)
        if (dout[k] >= 0) memcpy(g->vals[dout[k]].data, dsrc[k]->data, dsrc[k]->nbytes);
    for (int i = 0; i < g->nnodes; i++) op_table[g->nodes[i].op]->forward(g, &g->nodes[i]);

    StTensor out[CN_MAX_OUT + 2 * CN_MAX_IN];
    char names[CN_MAX_OUT + 2 * CN_MAX_IN][16];
    int nout = 0;
    for (int k = 0; k < fwd.nout; k++) {
        snprintf(names[nout], sizeof names[nout], "out%d", k);
        out[nout] = tensor_of(g, fwd.out[k], names[nout]);
        nout++;
    }
    for (int i = 0; i < nin; i++) {
        if (!(buffers >> i & 1)) continue;
        snprintf(names[nout], sizeof names[nout], "buf%d", i);
        out[nout] = tensor_of(g, in[i], names[nout]);
        nout++;
    }
    for (int i = 0; i < nin; i++) {
        if (g->vals[in[i]].grad < 0) continue;
        snprintf(names[nout], sizeof names[nout], "grad%d", i);
        out[nout] = tensor_of(g, g->vals[in[i]].grad, names[nout]);
        nout++;
    }
    int rc = safetensors_write(argv[3], out, nout, NULL, 0, &e);
    if (rc < 0) fprintf(stderr, "op_check: %s\n", e.msg);
    graph_free(g);
    safetensors_free(&f);
    return rc < 0 ? 1 : 0;
}
