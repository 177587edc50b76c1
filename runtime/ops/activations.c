/* runtime/ops/activations.c: the elementwise activations of torch.nn 1.13 and their
 * backward rules: LeakyReLU, ELU, GELU (erf and tanh forms), SiLU, Sigmoid, Tanh, ReLU6,
 * Hardswish, Hardsigmoid. Each has a forward and a backward function of one element, side
 * by side, written as ATen's CPU kernels write them (the same comparisons, so the same
 * values at the kinks and the same NaN propagation), and an op pair `name`, `name_backward`:
 *
 *   name(x) -> y                       same shape as x
 *   name_backward(dy, s) -> dx         s is x, or y for sigmoid and tanh (as torch saves)
 *
 * Attrs: alpha (leaky_relu's negative_slope, elu's alpha), approximate (gelu: 0 'none',
 * 1 'tanh'); the backward node carries the forward node's Attrs. */
#include <math.h>
#include <string.h>

/* No code here reads the floating-point exception flags; without this GCC will not turn the
 * selects below (x > 88 ? ...) into blends, and the loops stay scalar. Values are unchanged. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "../ops.h"
#include "../parallel.h"
#include "kernels.h"

/* e^x in float without calls or branches, so that the loops below vectorize: x = n ln2 + r,
 * Cephes' expf polynomial for e^r, 2^n put in the exponent (within 2 ulp of expf, as
 * torch's vectorized exp is). inf above 88.72, 0 below -87.34 (no subnormals); NaN stays
 * NaN (its n is garbage, but NaN times anything is NaN). */
static inline float exp_poly(float x)
{
    float xc = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float t = xc * 1.44269504088896341f + 12582912.0f;   /* 1.5 * 2^23: n in the low bits */
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f;                      /* ln2 in two parts, the first exact */
    r = r - n * -2.12194440e-4f;
    float z = r * r;
    float p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
                1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
    uint32_t sbits = (bits - 0x4B400000u + 127u) << 23;   /* 2^n, n in [-126, 127] */
    float scale;
    memcpy(&scale, &sbits, sizeof scale);
    float y = p * scale;
    y = x > 88.72283f ? INFINITY : y;
    return x < -87.33654f ? 0.0f : y;
}

/* tanh(x) the same way: Cephes' tanhf (an odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1)
 * above, the sign restored); +-1 at +-inf, NaN stays NaN */
static inline float tanh_poly(float x)
{
    float ax = fabsf(x), z = x * x;
    float big = copysignf(1.0f - 2.0f / (exp_poly(2.0f * ax) + 1.0f), x);
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                   3.33332819422e-1f) * z * x + x;
    return ax < 0.625f ? small : big;
}

/* LeakyReLU(negative_slope = a) */
static inline float leaky_relu1(float x, float a) { return x > 0 ? x : x * a; }
static inline float leaky_relu_grad1(float dy, float x, float a) { return x > 0 ? dy : dy * a; }

/* e^x - 1 for x <= 0 the same way: a Taylor polynomial to x^8 / 8! above -0.5 (no
 * cancellation near 0), e^x - 1 below (within 5 ulp of expm1f) */
static inline float expm1_poly(float x)
{
    float p = ((((((1.0f / 40320 * x + 1.0f / 5040) * x + 1.0f / 720) * x + 1.0f / 120) * x + 1.0f / 24) * x +
                1.0f / 6) * x + 0.5f) * x * x + x;
    return x > -0.5f ? p : exp_poly(x) - 1.0f;
}

/* ELU(alpha = a): torch's elu with scale = input_scale = 1 */
static inline float elu1(float x, float a) { return x <= 0 ? expm1_poly(x) * a : x; }
static inline float elu_grad1(float dy, float x, float a) { return x <= 0 ? dy * a * exp_poly(x) : dy; }

/* GELU, approximate='none': x * Phi(x) */
static inline float gelu_erf1(float x)
{
    return x * 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
}
static inline float gelu_erf_grad1(float dy, float x)
{
    const float alpha = (float)(M_2_SQRTPI * M_SQRT1_2 * 0.5);     /* 1 / sqrt(2 pi) */
    float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
    float pdf = alpha * exp_poly(x * x * -0.5f);
    return dy * (cdf + x * pdf);
}

/* GELU, approximate='tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
#define GELU_BETA ((float)(M_SQRT2 * M_2_SQRTPI * 0.5))
#define GELU_KAPPA 0.044715f
static inline float gelu_tanh1(float x)
{
    float inner = GELU_BETA * (x + GELU_KAPPA * x * x * x);
    return 0.5f * x * (1.0f + tanh_poly(inner));
}
static inline float gelu_tanh_grad1(float dy, float x)
{
    float x_sq = x * x, inner = GELU_BETA * (x + GELU_KAPPA * x_sq * x), t = tanh_poly(inner);
    float left = 0.5f * x, right = 1.0f + t;
    float left_derivative = 0.5f * right;
    float tanh_derivative = 1.0f - t * t;
    float inner_derivative = GELU_BETA * (1.0f + 3.0f * GELU_KAPPA * x_sq);
    float right_derivative = left * tanh_derivative * inner_derivative;
    return dy * (left_derivative + right_derivative);
}

/* SiLU: x * sigmoid(x) */
static inline float silu1(float x) { return x / (1.0f + exp_poly(-x)); }
static inline float silu_grad1(float dy, float x)
{
    float s = 1.0f / (1.0f + exp_poly(-x));
    return dy * s * (1.0f + x * (1.0f - s));
}

/* Sigmoid; the backward reads the result y */
static inline float sigmoid1(float x) { return 1.0f / (1.0f + exp_poly(-x)); }
static inline float sigmoid_grad1(float dy, float y) { return dy * (1.0f - y) * y; }

/* Tanh; the backward reads the result y */
static inline float tanh1(float x) { return tanh_poly(x); }
static inline float tanh_grad1(float dy, float y) { return dy * (1.0f - y * y); }

/* ReLU6 = hardtanh(x, 0, 6): NaN stays NaN; no gradient at 0 and 6 themselves */
static inline float relu6_1(float x) { return x < 0 ? 0.0f : x > 6 ? 6.0f : x; }
static inline float relu6_grad1(float dy, float x) { return x <= 0 || x >= 6 ? 0.0f : dy; }

/* min(max(x + 3, 0), 6), NaN propagating as std::min/std::max do */
static inline float relu6_shift3(float x)
{
    float t = x + 3.0f;
    t = t < 0 ? 0.0f : t;
    return t > 6 ? 6.0f : t;
}

/* Hardswish: x * relu6(x + 3) / 6; the gradient at -3 is -0.5 dy, at 3 (and NaN) dy */
static inline float hardswish1(float x) { return x * relu6_shift3(x) / 6.0f; }
static inline float hardswish_grad1(float dy, float x)
{
    if (x < -3.0f) return 0.0f;
    if (x < 3.0f) return dy * (x / 3.0f + 0.5f);
    return dy;
}

/* Hardsigmoid: relu6(x + 3) / 6; no gradient at -3 and 3 themselves */
static inline float hardsigmoid1(float x) { return relu6_shift3(x) / 6.0f; }
static inline float hardsigmoid_grad1(float dy, float x)
{
    return x > -3.0f && x < 3.0f ? dy * (1.0f / 6.0f) : 0.0f;
}

/* The loops: one per activation and direction, over share t of T, each vectorized */
#define ACT_LOOP _Pragma("omp simd") for (size_t i = lo; i < hi; i++)
typedef struct Act {
    Activation kind;
    float *out;
    const float *a, *b;   /* forward: x; backward: dy, s */
    float alpha;
    size_t n;
} Act;

CN_MULTIVERSION
static void forward_share(void *ctx, int t, int T)
{
    const Act *j = ctx;
    size_t lo = par_lo(j->n, t, T), hi = par_lo(j->n, t + 1, T);
    float *y = j->out, a = j->alpha;
    const float *x = j->a;
    switch (j->kind) {
    case ACT_LEAKY_RELU:  ACT_LOOP y[i] = leaky_relu1(x[i], a); break;
    case ACT_ELU:         ACT_LOOP y[i] = elu1(x[i], a); break;
    case ACT_GELU:        ACT_LOOP y[i] = gelu_erf1(x[i]); break;
    case ACT_GELU_TANH:   ACT_LOOP y[i] = gelu_tanh1(x[i]); break;
    case ACT_SILU:        ACT_LOOP y[i] = silu1(x[i]); break;
    case ACT_SIGMOID:     ACT_LOOP y[i] = sigmoid1(x[i]); break;
    case ACT_TANH:        ACT_LOOP y[i] = tanh1(x[i]); break;
    case ACT_RELU6:       ACT_LOOP y[i] = relu6_1(x[i]); break;
    case ACT_HARDSWISH:   ACT_LOOP y[i] = hardswish1(x[i]); break;
    case ACT_HARDSIGMOID: ACT_LOOP y[i] = hardsigmoid1(x[i]); break;
    }
}

CN_MULTIVERSION
static void backward_share(void *ctx, int t, int T)
{
    const Act *j = ctx;
    size_t lo = par_lo(j->n, t, T), hi = par_lo(j->n, t + 1, T);
    float *dx = j->out, a = j->alpha;
    const float *dy = j->a, *s = j->b;
    switch (j->kind) {
    case ACT_LEAKY_RELU:  ACT_LOOP dx[i] = leaky_relu_grad1(dy[i], s[i], a); break;
    case ACT_ELU:         ACT_LOOP dx[i] = elu_grad1(dy[i], s[i], a); break;
    case ACT_GELU:        ACT_LOOP dx[i] = gelu_erf_grad1(dy[i], s[i]); break;
    case ACT_GELU_TANH:   ACT_LOOP dx[i] = gelu_tanh_grad1(dy[i], s[i]); break;
    case ACT_SILU:        ACT_LOOP dx[i] = silu_grad1(dy[i], s[i]); break;
    case ACT_SIGMOID:     ACT_LOOP dx[i] = sigmoid_grad1(dy[i], s[i]); break;
    case ACT_TANH:        ACT_LOOP dx[i] = tanh_grad1(dy[i], s[i]); break;
    case ACT_RELU6:       ACT_LOOP dx[i] = relu6_grad1(dy[i], s[i]); break;
    case ACT_HARDSWISH:   ACT_LOOP dx[i] = hardswish_grad1(dy[i], s[i]); break;
    case ACT_HARDSIGMOID: ACT_LOOP dx[i] = hardsigmoid_grad1(dy[i], s[i]); break;
    }
}

/* Past this many elements the loops split across the threads */
#define ACT_PARALLEL 32768

void activation_forward(Activation kind, float *y, const float *x, size_t n, float alpha)
{
    Act j = { kind, y, x, NULL, alpha, n };
    par_run(n > ACT_PARALLEL ? par_threads() : 1, forward_share, &j);
}

void activation_backward(Activation kind, float *dx, const float *dy, const float *s, size_t n, float alpha)
{
    Act j = { kind, dx, dy, s, alpha, n };
    par_run(n > ACT_PARALLEL ? par_threads() : 1, backward_share, &j);
}

int activation_backward_reads_result(Activation kind) { return kind == ACT_SIGMOID || kind == ACT_TANH; }

/* The op rows: each forward op, its backward op and its kernel kind */
typedef struct ActOp { int op, backward; Activation kind; } ActOp;
static const ActOp ACT_OPS[] = {
    { OP_leaky_relu,  OP_leaky_relu_backward,  ACT_LEAKY_RELU },
    { OP_elu,         OP_elu_backward,         ACT_ELU },
    { OP_gelu,        OP_gelu_backward,        ACT_GELU },
    { OP_silu,        OP_silu_backward,        ACT_SILU },
    { OP_sigmoid,     OP_sigmoid_backward,     ACT_SIGMOID },
    { OP_tanh,        OP_tanh_backward,        ACT_TANH },
    { OP_relu6,       OP_relu6_backward,       ACT_RELU6 },
    { OP_hardswish,   OP_hardswish_backward,   ACT_HARDSWISH },
    { OP_hardsigmoid, OP_hardsigmoid_backward, ACT_HARDSIGMOID },
};

/* The row of op (forward or backward) n, and the kernel its Attrs select */
static const ActOp *act_op(const Node *n, Activation *kind)
{
    for (size_t i = 0; i < sizeof ACT_OPS / sizeof ACT_OPS[0]; i++) {
        const ActOp *r = &ACT_OPS[i];
        if (r->op != n->op && r->backward != n->op) continue;
        *kind = r->kind == ACT_GELU && n->a.approximate ? ACT_GELU_TANH : r->kind;
        return r;
    }
    return NULL;
}

/* name(x) -> y, same shape */
static int act_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 1, 1, e) < 0 || op_expect(g, n, 0, "x", DT_F32, 0, e) < 0) return -1;
    if (n->op == OP_gelu && n->a.approximate != 0 && n->a.approximate != 1)
        return err_set(e, "gelu expects approximate 0 ('none') or 1 ('tanh'), got %d", n->a.approximate);
    const Value *x = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, x->ndim, x->shape, x->batched);
    return 0;
}

static void act_run(Graph *g, const Node *n)
{
    Activation kind;
    act_op(n, &kind);
    activation_forward(kind, vf32(g, n->out[0]), vf32(g, n->in[0]), value_numel(&g->vals[n->in[0]]),
                       (float)n->a.alpha);
}

/* dx = name_backward(dy, x or y) */
static int act_grad(Graph *g, Node n, const int *dout, Error *e)
{
    if (dout[0] < 0 || !g->vals[n.in[0]].requires_grad) return 0;
    Activation kind;
    const ActOp *r = act_op(&n, &kind);
    int in[2] = { dout[0], activation_backward_reads_result(kind) ? n.out[0] : n.in[0] };
    int dx = graph_apply(g, r->backward, in, 2, &n.a, e);
    if (dx < 0) return -1;
    return graph_accumulate_grad(g, n.in[0], dx, e);
}

/* name_backward(dy, s) -> dx, all the same shape */
static int backward_infer(Graph *g, Node *n, Error *e)
{
    if (op_expect_inputs(g, n, 2, 2, e) < 0 || op_expect(g, n, 0, "dy", DT_F32, 0, e) < 0 ||
        op_expect(g, n, 1, "the saved x or y", DT_F32, 0, e) < 0 ||
        op_expect_same_shape(g, n, 0, "dy", 1, "the saved x or y", e) < 0)
        return -1;
    const Value *dy = &g->vals[n->in[0]];
    graph_output(g, n, DT_F32, dy->ndim, dy->shape, dy->batched);
    return 0;
}

static void backward_run(Graph *g, const Node *n)
{
    Activation kind;
    act_op(n, &kind);
    activation_backward(kind, vf32(g, n->out[0]), vf32(g, n->in[0]), vf32(g, n->in[1]),
                        value_numel(&g->vals[n->in[0]]), (float)n->a.alpha);
}

const OpDef op_leaky_relu = { "leaky_relu", act_infer, act_run, act_grad };
const OpDef op_leaky_relu_backward = { "leaky_relu_backward", backward_infer, backward_run, NULL };
const OpDef op_elu = { "elu", act_infer, act_run, act_grad };
const OpDef op_elu_backward = { "elu_backward", backward_infer, backward_run, NULL };
const OpDef op_gelu = { "gelu", act_infer, act_run, act_grad };
const OpDef op_gelu_backward = { "gelu_backward", backward_infer, backward_run, NULL };
const OpDef op_silu = { "silu", act_infer, act_run, act_grad };
const OpDef op_silu_backward = { "silu_backward", backward_infer, backward_run, NULL };
const OpDef op_sigmoid = { "sigmoid", act_infer, act_run, act_grad };
const OpDef op_sigmoid_backward = { "sigmoid_backward", backward_infer, backward_run, NULL };
const OpDef op_tanh = { "tanh", act_infer, act_run, act_grad };
const OpDef op_tanh_backward = { "tanh_backward", backward_infer, backward_run, NULL };
const OpDef op_relu6 = { "relu6", act_infer, act_run, act_grad };
const OpDef op_relu6_backward = { "relu6_backward", backward_infer, backward_run, NULL };
const OpDef op_hardswish = { "hardswish", act_infer, act_run, act_grad };
const OpDef op_hardswish_backward = { "hardswish_backward", backward_infer, backward_run, NULL };
const OpDef op_hardsigmoid = { "hardsigmoid", act_infer, act_run, act_grad };
const OpDef op_hardsigmoid_backward = { "hardsigmoid_backward", backward_infer, backward_run, NULL };
