/* tests/ops/testpool.h: what the pool tests share. One pool node over x[N,C,H,W] is built,
 * differentiated and run on random x and dy; its output is checked against the test's own
 * double-precision reference (and its argmax, for the max pools) and dx against central
 * differences of sum(y * dy) through that reference. */
#ifndef CN_TESTPOOL_H
#define CN_TESTPOOL_H

#include "testgraph.h"

typedef struct PoolRef PoolRef;
struct PoolRef {
    const void *c;                  /* the test's case */
    int Ho, Wo;                     /* the node's output size (set by tp_run) */
    size_t ny;
    double *x, *r, *y;              /* x, dy and the reference's y */
    int *argmax;                    /* the reference's argmax, max pools only */
    void (*forward)(PoolRef *f);    /* the reference: y (and argmax) from x */
};

static inline double tp_loss(void *ctx)
{
    PoolRef *f = ctx;
    f->forward(f);
    double s = 0;
    for (size_t i = 0; i < f->ny; i++) s += f->y[i] * f->r[i];
    return s;
}

/* Runs op (attrs a) over x of shape xs and checks y to ytol (absolute and relative), dx,
 * and for a max pool (max set: the node's second output) the argmax. A max pool's x holds
 * distinct values 0.01 apart, shuffled, so a window's max is unique and stays put under
 * the differences' step. f->c and f->forward are the caller's. */
static inline void tp_run(PoolRef *f, int op, const Attrs *a, const int xs[4], int max, double ytol,
                          const char *what, Rng *rng)
{
    Graph *g = graph_new();
    int x = tg_value(g, "x", VK_ACT, DT_F32, 1, 4, xs);
    g->vals[x].requires_grad = 1;
    int node = tg_node(g, op, &x, 1, a);
    int y = tg_out(g, node, 0);
    f->Ho = g->vals[y].shape[2], f->Wo = g->vals[y].shape[3];
    int dy = tg_value(g, "dy", VK_ACT, DT_F32, 1, 4, g->vals[y].shape);
    int dout[2] = { dy, -1 };
    tg_backward(g, node, dout);
    tg_bind(g);
    size_t nx = (size_t)xs[0] * xs[1] * xs[2] * xs[3];
    f->ny = (size_t)xs[0] * xs[1] * f->Ho * f->Wo;
    f->x = xcalloc(nx, sizeof *f->x);
    f->r = xcalloc(f->ny, sizeof *f->r);
    f->y = xcalloc(f->ny, sizeof *f->y);
    f->argmax = max ? xcalloc(f->ny, sizeof *f->argmax) : NULL;
    float *xv = vf32(g, x);
    if (max) {
        for (size_t i = 0; i < nx; i++) xv[i] = (float)i * 0.01f - 1;
        for (size_t i = nx - 1; i > 0; i--) {
            size_t j = (size_t)(rng_uniform(rng) * (float)(i + 1)) % (i + 1);
            float t = xv[i];
            xv[i] = xv[j], xv[j] = t;
        }
    } else {
        tg_fill(xv, nx, -1, 1, rng);
    }
    tg_fill(vf32(g, dy), f->ny, -1, 1, rng);
    tg_to_double(f->x, xv, nx);
    tg_to_double(f->r, vf32(g, dy), f->ny);
    tg_run(g, PHASE_FORWARD | PHASE_BACKWARD);
    f->forward(f);
    tg_check_array(vf32(g, y), f->y, f->ny, ytol, ytol, what);
    if (max) {
        size_t bad = 0;
        for (size_t i = 0; i < f->ny; i++) bad += vi32(g, tg_out(g, node, 1))[i] != f->argmax[i];
        CHECK(bad == 0, "%s: %zu argmax differ", what, bad);
    }
    double *num = xcalloc(nx, sizeof *num);
    tg_numeric_grad(num, f->x, nx, 1e-3, tp_loss, f);
    tg_check_array(vf32(g, g->vals[x].grad), num, nx, 1e-6, 1e-5, what);
    free(num);
    free(f->x);
    free(f->r);
    free(f->y);
    free(f->argmax);
    graph_free(g);
}

#endif
