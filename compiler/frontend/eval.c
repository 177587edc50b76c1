/* compiler/frontend/eval.c: evaluating .cnn expressions (Python's arithmetic on integers, floats and
 * strings; names; lists and tuples) and binding call arguments to parameters. */
#include "eval.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/error.h"

Val *val_new(Ctx *c, ValKind k, const AstNode *at)
{
    Val *v = arena_alloc(&c->arena, sizeof *v);
    v->kind = k;
    v->at = at;
    return v;
}

const char *val_what(const Val *v)
{
    switch (v->kind) {
    case VAL_INT: return "an integer";
    case VAL_FLOAT: return "a float";
    case VAL_STR: return "a string";
    case VAL_BOOL: return "a boolean";
    case VAL_NONE: return "None";
    case VAL_LIST: return "a list";
    case VAL_TUPLE: return "a tuple";
    case VAL_OBJ: return v->what;
    case VAL_TENSOR: return "a tensor";
    }
    return "a value";
}

/* ---- names ---- */

Binding *scope_find(Scope *s, const char *name, int walk_parents)
{
    for (; s; s = walk_parents ? s->parent : NULL)
        for (int i = s->n - 1; i >= 0; i--)
            if (!strcmp(s->b[i].name, name)) return &s->b[i];
    return NULL;
}

void scope_set(Ctx *c, Scope *s, const char *name, Val *v, const AstNode *def)
{
    Binding *b = scope_find(s, name, 0);
    if (!b) {
        if (s->n == s->cap) {
            int cap = s->cap ? 2 * s->cap : 16;
            Binding *nb = arena_alloc(&c->arena, (size_t)cap * sizeof *nb);
            if (s->n) memcpy(nb, s->b, (size_t)s->n * sizeof *nb);
            s->b = nb;
            s->cap = cap;
        }
        b = &s->b[s->n++];
        b->name = name;
        b->used = 0;
    }
    b->val = v;
    b->def = def;
}

/* A name as the model block reads it: `self.x` is the attribute x. */
static const char *plain_name(const Ctx *c, const char *name)
{
    return c->in_model && !strncmp(name, "self.", 5) && name[5] ? name + 5 : name;
}

/* An operand of a condition: a name may hold a layer here (`self.downsample is None`). */
Val *eval_cond(Ctx *c, const AstNode *n)
{
    if (n->kind == A_NAME) {
        Binding *b = scope_find(c->scope, plain_name(c, n->str), 1);
        if (b && b->val->kind == VAL_OBJ && b->val->obj_kind == OBJ_TRAINING)
            return diag_error(c->diag, n->loc, "%s is known only when the model runs; a "
                              "condition is decided when it is checked (Dropout and BatchNorm "
                              "follow the mode by themselves)", n->str), NULL;
        if (b && b->val->kind == VAL_OBJ) {
            b->used = 1;
            Val *v = val_new(c, VAL_OBJ, n);
            *v = *b->val;
            v->at = n;
            return v;
        }
    }
    return eval(c, n);
}

static Val *eval_name(Ctx *c, const AstNode *n)
{
    Binding *b = scope_find(c->scope, plain_name(c, n->str), 1);
    if (!b) {
        if (!strcmp(n->str, "_")) return val_new(c, VAL_NONE, n);
        const char *cands[256];
        int nc = 0;
        for (Scope *s = c->scope; s; s = s->parent)
            for (int i = 0; i < s->n && nc < 256; i++) cands[nc++] = s->b[i].name;
        const char *dym = did_you_mean(n->str, cands, nc);
        if (dym)
            return diag_error(c->diag, n->loc, "unknown name %s; did you mean %s?", n->str, dym), NULL;
        if (!strcmp(n->str, "model.parameters"))
            return diag_error(c->diag, n->loc, "model.parameters must be called: "
                              "model.parameters()"), NULL;
        return diag_error(c->diag, n->loc, "unknown name %s (a name must be assigned before "
                          "it is used)", n->str), NULL;
    }
    b->used = 1;
    if (b->val->kind == VAL_OBJ && b->val->obj_kind == OBJ_MODULE)
        return diag_error(c->diag, n->loc, "%s is a layer of the model already; a layer can be "
                          "used only once", n->str), NULL;
    Val *v = val_new(c, VAL_INT, n);
    *v = *b->val;
    v->at = n;
    return v;
}

/* ---- arithmetic, as Python does it ---- */

static const char *op_text(int op)
{
    switch (op) {
    case '+': return "+";
    case '-': return "-";
    case '*': return "*";
    case '/': return "/";
    case '%': return "%";
    case 'F': return "//";
    }
    return "?";
}

static int is_num(const Val *v) { return v->kind == VAL_INT || v->kind == VAL_FLOAT; }
static double num(const Val *v) { return v->kind == VAL_INT ? (double)v->i : v->f; }

static Val *int_op(Ctx *c, const AstNode *n, int64_t a, int64_t b)
{
    Val *r = val_new(c, VAL_INT, n);
    int ovf = 0;
    switch (n->op) {
    case '+': ovf = __builtin_add_overflow(a, b, &r->i); break;
    case '-': ovf = __builtin_sub_overflow(a, b, &r->i); break;
    case '*': ovf = __builtin_mul_overflow(a, b, &r->i); break;
    case 'F':
    case '%':
        if (b == 0) return diag_error(c->diag, n->loc, "division by zero"), NULL;
        if (b == -1) {                  /* INT64_MIN / -1 overflows; the remainder is 0 */
            if (n->op == '%') { r->i = 0; break; }
            ovf = __builtin_sub_overflow((int64_t)0, a, &r->i);
            break;
        }
        if (n->op == 'F') {
            r->i = a / b;
            if (a % b != 0 && ((a < 0) != (b < 0))) r->i--;
        } else {
            r->i = a % b;
            if (r->i != 0 && ((r->i < 0) != (b < 0))) r->i += b;
        }
        break;
    }
    if (ovf)
        return diag_error(c->diag, n->loc, "integer overflow: the result does not fit in 64 "
                          "bits"), NULL;
    return r;
}

static Val *float_op(Ctx *c, const AstNode *n, double a, double b)
{
    Val *r = val_new(c, VAL_FLOAT, n);
    switch (n->op) {
    case '+': r->f = a + b; break;
    case '-': r->f = a - b; break;
    case '*': r->f = a * b; break;
    case '/': case 'F': case '%':
        if (b == 0) return diag_error(c->diag, n->loc, "division by zero"), NULL;
        if (n->op == '/') r->f = a / b;
        else if (n->op == 'F') r->f = floor(a / b);
        else {
            r->f = fmod(a, b);
            if (r->f != 0 && ((r->f < 0) != (b < 0))) r->f += b;
        }
        break;
    }
    if (!isfinite(r->f))
        return diag_error(c->diag, n->loc, "arithmetic overflow: the result is not a finite "
                          "number"), NULL;
    return r;
}

/* Python's list * int: the items repeated k times (k <= 0: empty). */
static Val *repeat(Ctx *c, const AstNode *n, const Val *l, int64_t k)
{
    if (k < 0) k = 0;
    if (l->n && k > (1 << 20) / l->n)
        return diag_error(c->diag, n->loc, "list repetition gives more than %d items", 1 << 20),
               NULL;
    Val *r = val_new(c, l->kind, n);
    r->n = (int)(l->n * k);
    r->items = arena_alloc(&c->arena, (size_t)(r->n ? r->n : 1) * sizeof *r->items);
    for (int i = 0; i < r->n; i++) r->items[i] = l->items[i % l->n];
    return r;
}

static Val *eval_binop(Ctx *c, const AstNode *n)
{
    Val *a = eval(c, n->kids[0]);
    if (!a) return NULL;
    Val *b = eval(c, n->kids[1]);
    if (!b) return NULL;
    if (a->kind == VAL_INT && b->kind == VAL_INT && n->op != '/')
        return int_op(c, n, a->i, b->i);
    if (is_num(a) && is_num(b))
        return float_op(c, n, num(a), num(b));
    if (n->op == '*' && (a->kind == VAL_LIST || a->kind == VAL_TUPLE) && b->kind == VAL_INT)
        return repeat(c, n, a, b->i);           /* [0.5] * 3 */
    if (n->op == '*' && a->kind == VAL_INT && (b->kind == VAL_LIST || b->kind == VAL_TUPLE))
        return repeat(c, n, b, a->i);
    if (n->op == '+' && (a->kind == VAL_LIST || a->kind == VAL_TUPLE) && b->kind == a->kind) {
        Val *r = val_new(c, a->kind, n);        /* [a] + [b] */
        r->n = a->n + b->n;
        r->items = arena_alloc(&c->arena, (size_t)(r->n ? r->n : 1) * sizeof *r->items);
        for (int i = 0; i < a->n; i++) r->items[i] = a->items[i];
        for (int i = 0; i < b->n; i++) r->items[a->n + i] = b->items[i];
        return r;
    }
    if (a->kind == VAL_STR && b->kind == VAL_STR && n->op == '+') {
        Val *r = val_new(c, VAL_STR, n);
        r->s = arena_printf(&c->arena, "%s%s", a->s, b->s);
        return r;
    }
    return diag_error(c->diag, n->loc, "cannot apply '%s' to %s and %s", op_text(n->op),
                      val_what(a), val_what(b)), NULL;
}

static Val *eval_sign(Ctx *c, const AstNode *n)
{
    Val *a = eval(c, n->kids[0]);
    if (!a) return NULL;
    if (!is_num(a))
        return diag_error(c->diag, n->loc, "cannot apply unary '%c' to %s",
                          n->kind == A_NEG ? '-' : '+', val_what(a)), NULL;
    Val *r = val_new(c, a->kind, n);
    if (n->kind == A_POS) {
        *r = *a;
        r->at = n;
    } else if (a->kind == VAL_FLOAT) {
        r->f = -a->f;
    } else if (__builtin_sub_overflow((int64_t)0, a->i, &r->i)) {
        return diag_error(c->diag, n->loc, "integer overflow: the result does not fit in 64 "
                          "bits"), NULL;
    }
    return r;
}

/* ---- conditions: comparisons, and, or, not, a if c else b ---- */

int val_truth(const Val *v)
{
    switch (v->kind) {
    case VAL_INT: case VAL_BOOL: return v->i != 0;
    case VAL_FLOAT: return v->f != 0;
    case VAL_STR: return v->s[0] != 0;
    case VAL_NONE: return 0;
    case VAL_LIST: case VAL_TUPLE: return v->n != 0;
    case VAL_OBJ: case VAL_TENSOR: return 1;
    }
    return 0;
}

static Val *bool_val(Ctx *c, const AstNode *n, int b)
{
    Val *v = val_new(c, VAL_BOOL, n);
    v->i = b != 0;
    return v;
}

static const char *cmp_text(int op)
{
    switch (op) {
    case 'e': return "==";
    case 'n': return "!=";
    case 'l': return "<=";
    case 'g': return ">=";
    case '<': return "<";
    case '>': return ">";
    case 'i': return "is";
    }
    return "is not";
}

static Val *eval_cmp(Ctx *c, const AstNode *n)
{
    Val *a = eval_cond(c, n->kids[0]);
    if (!a) return NULL;
    Val *b = eval_cond(c, n->kids[1]);
    if (!b) return NULL;
    int op = n->op, r;
    if (op == 'i' || op == 'I') {
        if (a->kind != VAL_NONE && b->kind != VAL_NONE)
            return diag_error(c->diag, n->loc, "'%s' compares with None here (x is None, x is "
                              "not None); use == or != for %s and %s", cmp_text(op),
                              val_what(a), val_what(b)), NULL;
        r = (a->kind == VAL_NONE) == (b->kind == VAL_NONE);
        return bool_val(c, n, op == 'i' ? r : !r);
    }
    int na = is_num(a) || a->kind == VAL_BOOL, nb = is_num(b) || b->kind == VAL_BOOL;
    if (na && nb) {
        double x = a->kind == VAL_FLOAT ? a->f : (double)a->i;
        double y = b->kind == VAL_FLOAT ? b->f : (double)b->i;
        if (a->kind != VAL_FLOAT && b->kind != VAL_FLOAT) {      /* exact on 64-bit ints */
            x = (double)(a->i > b->i) - (double)(a->i < b->i);
            y = 0;
        }
        switch (op) {
        case 'e': r = x == y; break;
        case 'n': r = x != y; break;
        case '<': r = x < y; break;
        case '>': r = x > y; break;
        case 'l': r = x <= y; break;
        default:  r = x >= y; break;
        }
        return bool_val(c, n, r);
    }
    if (a->kind == VAL_STR && b->kind == VAL_STR) {
        int d = strcmp(a->s, b->s);
        switch (op) {
        case 'e': r = d == 0; break;
        case 'n': r = d != 0; break;
        case '<': r = d < 0; break;
        case '>': r = d > 0; break;
        case 'l': r = d <= 0; break;
        default:  r = d >= 0; break;
        }
        return bool_val(c, n, r);
    }
    if (op == 'e' || op == 'n') {
        r = a->kind == VAL_NONE && b->kind == VAL_NONE;
        return bool_val(c, n, op == 'e' ? r : !r);
    }
    return diag_error(c->diag, n->loc, "cannot compare %s and %s with '%s'", val_what(a),
                      val_what(b), cmp_text(op)), NULL;
}

Val *eval(Ctx *c, const AstNode *n)
{
    Val *v;
    switch (n->kind) {
    case A_INT:
        v = val_new(c, VAL_INT, n);
        v->i = n->ival;
        return v;
    case A_FLOAT:
        v = val_new(c, VAL_FLOAT, n);
        v->f = n->fval;
        return v;
    case A_STR:
        v = val_new(c, VAL_STR, n);
        v->s = n->str;
        return v;
    case A_BOOL:
        v = val_new(c, VAL_BOOL, n);
        v->i = n->ival;
        return v;
    case A_NONE:
        return val_new(c, VAL_NONE, n);
    case A_NAME:
        return eval_name(c, n);
    case A_LIST:
    case A_TUPLE:
        v = val_new(c, n->kind == A_LIST ? VAL_LIST : VAL_TUPLE, n);
        v->n = n->nkids;
        v->items = arena_alloc(&c->arena, (size_t)(n->nkids ? n->nkids : 1) * sizeof *v->items);
        for (int i = 0; i < n->nkids; i++)
            if (!(v->items[i] = eval(c, n->kids[i]))) return NULL;
        return v;
    case A_BINOP:
        return eval_binop(c, n);
    case A_NEG:
    case A_POS:
        return eval_sign(c, n);
    case A_CALL:
        return c->call(c, n);
    case A_TERNARY: {                           /* only the branch taken is evaluated */
        Val *cond = eval_cond(c, n->kids[1]);
        if (!cond) return NULL;
        return eval(c, n->kids[val_truth(cond) ? 0 : 2]);
    }
    case A_BOOLOP: {                            /* Python's: the deciding operand */
        Val *a = eval_cond(c, n->kids[0]);
        if (!a) return NULL;
        if (val_truth(a) == (n->op == '|')) return a;
        return eval_cond(c, n->kids[1]);
    }
    case A_NOT: {
        Val *a = eval_cond(c, n->kids[0]);
        return a ? bool_val(c, n, !val_truth(a)) : NULL;
    }
    case A_CMP:
        return eval_cmp(c, n);
    case A_KWARG:
    case A_ASSIGN:
    case A_INPUT:
    case A_MODEL:
    case A_FORWARD:
    case A_RETURN:
    case A_IF:
    case A_BLOCK:
    case A_STAR:
        break;
    }
    diag_error(c->diag, n->loc, "a %s is not an expression", ast_kind_name(n->kind));
    return NULL;
}

/* ---- arguments ---- */

static const char *ordinal(int i)
{
    static const char *const names[] = { "first", "second", "third", "fourth", "fifth",
                                         "sixth", "seventh", "eighth", "ninth", "tenth" };
    return i < 10 ? names[i] : "next";
}

int bind_args(Ctx *c, const AstNode *call, const char *fn, const Param *params, Args *a)
{
    memset(a, 0, sizeof *a);
    a->call = call;
    a->fn = fn;
    a->params = params;
    while (params[a->np].name) a->np++;
    int given_pos[MAX_PARAMS] = { 0 };
    int npos = 0, seen_kw = 0;
    for (int k = 0; k < call->nkids; k++) {
        const AstNode *arg = call->kids[k];
        if (arg->kind == A_KWARG) {
            seen_kw = 1;
            int i = 0;
            while (i < a->np && strcmp(params[i].name, arg->str)) i++;
            if (i == a->np) {
                const char *cands[MAX_PARAMS] = { NULL };
                for (int j = 0; j < a->np; j++) cands[j] = params[j].name;
                const char *dym = did_you_mean(arg->str, cands, a->np);
                if (dym)
                    return diag_error(c->diag, arg->name_loc, "%s has no argument named %s; "
                                      "did you mean %s?", fn, arg->str, dym);
                if (a->np == 0)
                    return diag_error(c->diag, arg->name_loc, "%s takes no arguments", fn);
                char list[512] = "";
                for (int j = 0; j < a->np; j++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                             j ? ", " : "", params[j].name);
                return diag_error(c->diag, arg->name_loc, "%s has no argument named %s (its "
                                  "arguments: %s)", fn, arg->str, list);
            }
            if (a->v[i]) {
                if (given_pos[i])
                    return diag_error(c->diag, arg->name_loc, "%s got two values for %s: the %s "
                                      "argument and %s=", fn, params[i].name, ordinal(i),
                                      params[i].name);
                return diag_error(c->diag, arg->name_loc, "%s is given twice", arg->str);
            }
            if (!(a->v[i] = eval(c, arg->kids[0]))) return -1;
        } else {
            if (seen_kw)
                return diag_error(c->diag, arg->loc, "positional argument follows keyword "
                                  "argument");
            if (npos >= a->np) {
                if (a->np == 0)
                    return diag_error(c->diag, arg->loc, "%s takes no arguments", fn);
                return diag_error(c->diag, arg->loc, "%s takes at most %d argument%s, this is "
                                  "the %s", fn, a->np, a->np == 1 ? "" : "s", ordinal(npos));
            }
            given_pos[npos] = 1;
            if (!(a->v[npos] = eval(c, arg))) return -1;
            npos++;
        }
    }
    for (int i = 0; i < a->np; i++)
        if (params[i].required && !a->v[i])
            return diag_error(c->diag, call->loc, "%s is missing its %s argument", fn,
                              params[i].name);
    return 0;
}

SrcLoc arg_loc(const Args *a, int i)
{
    return a->v[i] ? a->v[i]->at->loc : a->call->loc;
}

static int type_error(Ctx *c, const Args *a, int i, const char *want)
{
    return diag_error(c->diag, arg_loc(a, i), "%s must be %s, got %s", a->params[i].name, want,
                      val_what(a->v[i]));
}

int arg_int(Ctx *c, const Args *a, int i, int64_t dflt, int64_t *out)
{
    const Val *v = a->v[i];
    if (!v) *out = dflt;
    else if (v->kind == VAL_INT) *out = v->i;
    else return type_error(c, a, i, "an integer");
    return 0;
}

int arg_float(Ctx *c, const Args *a, int i, double dflt, double *out)
{
    const Val *v = a->v[i];
    if (!v) *out = dflt;
    else if (is_num(v)) *out = num(v);
    else return type_error(c, a, i, "a number");
    return 0;
}

int arg_bool(Ctx *c, const Args *a, int i, int dflt, int *out)
{
    const Val *v = a->v[i];
    if (!v) *out = dflt;
    else if (v->kind == VAL_BOOL || v->kind == VAL_INT) *out = v->i != 0;
    else return type_error(c, a, i, "True or False");
    return 0;
}

int arg_str(Ctx *c, const Args *a, int i, const char *dflt, const char **out)
{
    const Val *v = a->v[i];
    if (!v) *out = dflt;
    else if (v->kind == VAL_STR) *out = v->s;
    else return type_error(c, a, i, "a string");
    return 0;
}

int arg_square(Ctx *c, const Args *a, int i, int64_t dflt, const char *unequal, int64_t *out)
{
    const Val *v = a->v[i];
    if (!v) { *out = dflt; return 0; }
    if (v->kind == VAL_INT) { *out = v->i; return 0; }
    if ((v->kind == VAL_TUPLE || v->kind == VAL_LIST) && v->n == 2 &&
        v->items[0]->kind == VAL_INT && v->items[1]->kind == VAL_INT) {
        if (v->items[0]->i != v->items[1]->i)
            return diag_error(c->diag, v->at->loc, "%s, got %s=(%lld, %lld)", unequal,
                              a->params[i].name, (long long)v->items[0]->i,
                              (long long)v->items[1]->i);
        *out = v->items[0]->i;
        return 0;
    }
    if (v->kind == VAL_TUPLE || v->kind == VAL_LIST) {
        if (v->n != 2)
            return diag_error(c->diag, v->at->loc, "%s must be an integer or a pair of "
                              "integers, got %s of %d", a->params[i].name, val_what(v), v->n);
        const Val *bad = v->items[0]->kind != VAL_INT ? v->items[0] : v->items[1];
        return diag_error(c->diag, bad->at->loc, "%s must be an integer or a pair of integers, "
                          "got %s holding %s", a->params[i].name, val_what(v), val_what(bad));
    }
    return type_error(c, a, i, "an integer or a pair of integers");
}

int arg_range(Ctx *c, const Args *a, int i, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo)
        return diag_error(c->diag, arg_loc(a, i), "%s must be at least %lld, got %lld",
                          a->params[i].name, (long long)lo, (long long)v);
    if (v > hi)
        return diag_error(c->diag, arg_loc(a, i), "%s must be at most %lld, got %lld",
                          a->params[i].name, (long long)hi, (long long)v);
    return 0;
}

/* ---- helpers ---- */

/* Optimal string alignment distance, ignoring case, capped at 99. */
static int edit_distance(const char *s, const char *t)
{
    size_t n = strlen(s), m = strlen(t);
    if (n > 64 || m > 64) return 99;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = tolower((unsigned char)s[i - 1]) != tolower((unsigned char)t[j - 1]);
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 &&
                tolower((unsigned char)s[i - 1]) == tolower((unsigned char)t[j - 2]) &&
                tolower((unsigned char)s[i - 2]) == tolower((unsigned char)t[j - 1]) &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *did_you_mean(const char *name, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 99;
    for (int i = 0; i < n; i++) {
        if (!strcmp(name, cands[i])) continue;
        int d = edit_distance(name, cands[i]);
        int limit = (int)strlen(cands[i]) / 3;
        if (limit < 1) limit = 1;
        if (d <= limit && d < bestd) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}

const char *fmt_num(char *buf, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e16) {
        snprintf(buf, n, "%.1f", v);
        return buf;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}
