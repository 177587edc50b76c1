/* compiler/driver/dump.c: graph dumps for --dump-graph (see dump.h). */
#include "dump.h"

#include <string.h>

#include "../../runtime/ops.h"

static void value_name(const Graph *g, int v, char *buf, size_t n)
{
    const Value *x = &g->vals[v];
    if (x->kind == VK_ACT) snprintf(buf, n, "%%%d", v);
    else snprintf(buf, n, "%s", x->name);
}

static void attrs_str(const Node *n, char *buf, size_t cap)
{
    const Attrs *a = &n->a;
    buf[0] = 0;
    switch (n->op) {
    case OP_conv2d: case OP_conv2d_backward_input: case OP_conv2d_backward_weight:
    case OP_maxpool2d: case OP_maxpool2d_backward: case OP_avgpool2d: case OP_avgpool2d_backward:
    case OP_add_relu_maxpool2d: {
        Window2d w = attrs_window(a);
        size_t len;
        if (w.kh == w.kw && w.sh == w.sw && w.ph == w.pw)
            len = (size_t)snprintf(buf, cap, " kernel=%d stride=%d padding=%d", w.kh, w.sh, w.ph);
        else
            len = (size_t)snprintf(buf, cap, " kernel=(%d, %d) stride=(%d, %d) padding=(%d, %d)", w.kh, w.kw,
                                 w.sh, w.sw, w.ph, w.pw);
        if (len < cap && (w.dh > 1 || w.dw > 1))
            len += (size_t)snprintf(buf + len, cap - len, " dilation=(%d, %d)", w.dh, w.dw);
        if (len < cap && a->groups > 1) len += (size_t)snprintf(buf + len, cap - len, " groups=%d", a->groups);
        if (len < cap && a->padding_mode == PADDING_REFLECT) len += (size_t)snprintf(buf + len, cap - len, " padding_mode=reflect");
        if (len < cap && a->ceil_mode) len += (size_t)snprintf(buf + len, cap - len, " ceil_mode=1");
        if (len < cap && n->op == OP_avgpool2d && !a->count_include_pad)
            snprintf(buf + len, cap - len, " count_include_pad=0");
        break;
    }
    case OP_batchnorm2d: case OP_batchnorm1d: case OP_batchnorm2d_relu:
        if (a->momentum_none) snprintf(buf, cap, " eps=%g momentum=None", a->eps);
        else snprintf(buf, cap, " eps=%g momentum=%g", a->eps, a->momentum);
        break;
    case OP_adaptive_avgpool2d: case OP_adaptive_maxpool2d:
        snprintf(buf, cap, " output_size=(%d, %d)", a->out_hw[0], a->out_hw[1]);
        break;
    case OP_leaky_relu: case OP_elu:
        snprintf(buf, cap, " alpha=%g", a->alpha);
        break;
    case OP_gelu:
        snprintf(buf, cap, " approximate=%s", a->approximate ? "tanh" : "none");
        break;
    case OP_dropout2d:
        snprintf(buf, cap, " p=%g", a->p);
        break;
    case OP_conv2d_relu_maxpool2d: case OP_conv2d_relu_maxpool2d_backward:
        snprintf(buf, cap, " kernel=%d stride=%d padding=%d pool_kernel=%d pool_stride=%d pool_padding=%d",
                 a->kernel, a->stride, a->padding, a->pool_kernel, a->pool_stride, a->pool_padding);
        break;
    case OP_relu_maxpool2d_backward:
        snprintf(buf, cap, " pool_kernel=%d pool_stride=%d pool_padding=%d", a->pool_kernel, a->pool_stride,
                 a->pool_padding);
        break;
    case OP_dropout:
        snprintf(buf, cap, " p=%g", (double)a->p);
        break;
    case OP_adam:
    case OP_adamw:
        snprintf(buf, cap, " lr=%g betas=(%g, %g) eps=%g weight_decay=%g%s", (double)a->lr,
                 (double)a->beta1, (double)a->beta2, (double)a->eps, (double)a->weight_decay,
                 a->amsgrad ? " amsgrad=1" : "");
        break;
    case OP_cross_entropy:
    case OP_nll_loss:
    case OP_cross_entropy_backward:
    case OP_nll_loss_backward: {
        int k = snprintf(buf, cap, "%s", a->reduction_sum ? " reduction='sum'" : "");
        if (a->ignore && a->ignore_index != -100 && k < (int)cap)
            k += snprintf(buf + k, cap - (size_t)k, " ignore_index=%d", a->ignore_index);
        if (a->label_smoothing != 0 && k < (int)cap)
            k += snprintf(buf + k, cap - (size_t)k, " label_smoothing=%g", a->label_smoothing);
        if (a->class_weight && k < (int)cap) snprintf(buf + k, cap - (size_t)k, " weight=[...]");
        break;
    }
    case OP_grad_norm:
        snprintf(buf, cap, " norm_type=%g", a->norm_type);
        break;
    case OP_clip_grad_norm:
        snprintf(buf, cap, " max_norm=%g norm_type=%g", a->max_norm, a->norm_type);
        break;
    case OP_clip_grad_value:
        snprintf(buf, cap, " clip_value=%g", a->clip_value);
        break;
    case OP_rmsprop:
        snprintf(buf, cap, " lr=%g alpha=%g eps=%g weight_decay=%g momentum=%g centered=%d", a->lr, a->alpha,
                 a->eps, a->weight_decay, a->momentum, a->centered);
        break;
    case OP_sgd:
        snprintf(buf, cap, " lr=%g momentum=%g dampening=%g weight_decay=%g nesterov=%d", (double)a->lr,
                 (double)a->momentum, (double)a->dampening, (double)a->weight_decay, a->nesterov);
        break;
    default:
        break;
    }
}

/* How many forward nodes read value v (more than one: the graph branches there). */
static int forward_users(const Graph *g, int v)
{
    int users = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].phase != PHASE_FORWARD) continue;
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] == v) {
                users++;
                break;
            }
    }
    return users;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static double mib(size_t b) { return (double)b / (1024.0 * 1024.0); }

void dump_graph_text(FILE *f, const Graph *g, const char *path, const PlanStats *st)
{
    fprintf(f, "graph of %s, batch %d: %d values, %d nodes\n", path, g->max_batch, g->nvals, g->nnodes);
    static const struct { Phase ph; const char *name; } phases[] = {
        { PHASE_FORWARD, "forward" }, { PHASE_BACKWARD, "backward" }, { PHASE_UPDATE, "update" },
    };
    for (size_t p = 0; p < sizeof phases / sizeof phases[0]; p++) {
        int any = 0;
        for (int i = 0; i < g->nnodes; i++) {
            const Node *n = &g->nodes[i];
            if (n->phase != phases[p].ph) continue;
            if (!any++) fprintf(f, "%s:\n", phases[p].name);
            char outs[160] = "", ins[400] = "", attrs[160], tmp[128];
            size_t len = 0;
            for (int k = 0; k < n->nout && len < sizeof outs; k++) {
                char shp[64];
                value_name(g, n->out[k], tmp, sizeof tmp);
                shape_str(&g->vals[n->out[k]], 0, shp, sizeof shp);
                len += (size_t)snprintf(outs + len, sizeof outs - len, "%s%s[%s]", k ? ", " : "", tmp, shp);
            }
            len = 0;
            for (int k = 0; k < n->nin && len < sizeof ins; k++) {
                value_name(g, n->in[k], tmp, sizeof tmp);
                len += (size_t)snprintf(ins + len, sizeof ins - len, "%s%s", k ? ", " : "", tmp);
            }
            attrs_str(n, attrs, sizeof attrs);
            fprintf(f, "  %4d  %-32s = %s(%s)%s", i, n->nout ? outs : "-", op_table[n->op]->name, ins, attrs);
            if (n->line) fprintf(f, "  # %s:%d %s", base_name(path), n->line, n->label);
            else if (n->label[0]) fprintf(f, "  # %s", n->label);
            int users = n->nout && n->phase == PHASE_FORWARD ? forward_users(g, n->out[0]) : 0;
            if (users > 1) fprintf(f, "  (branches: read by %d nodes)", users);
            fputc('\n', f);
        }
    }
    if (st)
        fprintf(f, "memory plan: activations %.2f MiB (%.2f MiB without sharing), parameters %.2f MiB, "
                   "gradients %.2f MiB, optimizer state %.2f MiB, total %.2f MiB\n",
                mib(st->arena_bytes), mib(st->unshared_bytes), mib(st->param_bytes),
                mib(st->grad_bytes), mib(st->state_bytes), mib(plan_total_bytes(st)));
}

void dump_graph_dot(FILE *f, const Graph *g, const char *path)
{
    static const char *colour[] = { "", "lightblue", "lightsalmon", "", "palegreen" };
    fprintf(f, "// graph of %s, batch %d (forward: blue, backward: salmon, update: green)\n", path, g->max_batch);
    fprintf(f, "digraph cnnc {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n");
    for (int v = 0; v < g->nvals; v++) {
        char name[128], shp[64];
        value_name(g, v, name, sizeof name);
        shape_str(&g->vals[v], 0, shp, sizeof shp);
        const char *style = g->vals[v].kind == VK_ACT ? "" : ", style=filled, fillcolor=lightgrey";
        fprintf(f, "  v%d [shape=ellipse, label=\"%s\\n%s\"%s];\n", v, name, shp, style);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        fprintf(f, "  n%d [shape=box, style=filled, fillcolor=%s, label=\"%s", i, colour[n->phase], op_table[n->op]->name);
        if (n->line) fprintf(f, "\\n%s:%d", base_name(path), n->line);
        fprintf(f, "\"];\n");
        for (int k = 0; k < n->nin; k++) fprintf(f, "  v%d -> n%d;\n", n->in[k], i);
        for (int k = 0; k < n->nout; k++) fprintf(f, "  n%d -> v%d;\n", i, n->out[k]);
    }
    fprintf(f, "}\n");
}
