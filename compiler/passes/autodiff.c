/* compiler/passes/autodiff.c: reverse-mode autodiff (see autodiff.h). */
#include "autodiff.h"

#include <stdio.h>
#include <string.h>

#include "../../runtime/ops.h"

int autodiff(Graph *g, Error *e)
{
    if (g->loss < 0 || g->vals[g->loss].producer < 0) return err_set(e, "internal: the graph has no loss");
    int loss_node = g->vals[g->loss].producer;
    int nforward = g->nnodes;
    Phase saved = g->cur_phase;
    g->cur_phase = PHASE_BACKWARD;
    for (int i = nforward - 1; i >= 0; i--) {
        Node n = g->nodes[i];                 /* a copy: rules append nodes */
        if (n.phase != PHASE_FORWARD || i > loss_node) continue;
        int any_in = 0, any_out = 0;
        int dout[CN_MAX_OUT];
        for (int k = 0; k < n.nin; k++) any_in |= g->vals[n.in[k]].requires_grad;
        for (int k = 0; k < n.nout; k++) {
            dout[k] = g->vals[n.out[k]].grad;
            any_out |= dout[k] >= 0;
        }
        if (i == loss_node) {
            dout[0] = g->loss;                /* d(loss)/d(loss) = 1: the root */
            any_out = 1;
        }
        if (!any_in || !any_out) continue;
        if (!op_table[n.op]->backward)
            return err_set(e, "internal: %s has no backward rule", op_table[n.op]->name);
        g->cur_line = n.line;
        g->cur_col = n.col;
        memcpy(g->cur_label, n.label, sizeof g->cur_label);
        if (op_table[n.op]->backward(g, n, dout, e) < 0) return -1;
    }
    g->cur_phase = saved;
    for (int i = 0; i < g->nvals; i++) {
        Value *p = &g->vals[i];
        if (p->kind != VK_PARAM || p->grad < 0) continue;
        char name[sizeof p->name];
        snprintf(name, sizeof name, "%.90s.grad", p->name);
        Value *gv = &g->vals[p->grad];
        gv->kind = VK_GRAD;
        memcpy(gv->name, name, sizeof name);
    }
    return 0;
}
