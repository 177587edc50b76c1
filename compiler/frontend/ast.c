/* compiler/frontend/ast.c: the arena that owns the syntax tree, and node constructors. */
#include "ast.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/error.h"

struct ArenaChunk {
    ArenaChunk *next;
    size_t      used, cap;
    max_align_t data[];
};

#define ARENA_CHUNK (64 * 1024)

void *arena_alloc(Arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0) n = align;
    ArenaChunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *s = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void arena_free(Arena *a)
{
    ArenaChunk *c = a->head;
    while (c) {
        ArenaChunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

AstList *astlist_new(Arena *a)
{
    return arena_alloc(a, sizeof(AstList));
}

void astlist_push(Arena *a, AstList *l, AstNode *n)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 4;
        AstNode **v = arena_alloc(a, (size_t)cap * sizeof *v);
        if (l->n) memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

AstNode *ast_node(Arena *a, AstKind kind, SrcLoc loc, int last_line)
{
    AstNode *n = arena_alloc(a, sizeof *n);
    n->kind = kind;
    n->loc = loc;
    n->last_line = last_line;
    n->depth = 1;
    return n;
}

void ast_set_kids(AstNode *n, AstList *l)
{
    n->kids = l ? l->v : NULL;
    n->nkids = l ? l->n : 0;
    int d = 0;
    for (int i = 0; i < n->nkids; i++)
        if (n->kids[i]->depth > d) d = n->kids[i]->depth;
    n->depth = d + 1;
}

void ast_set_aux(AstNode *n, AstList *l)
{
    n->aux = l ? l->v : NULL;
    n->naux = l ? l->n : 0;
}

void ast_free(Ast *ast)
{
    arena_free(&ast->arena);
    ast->stmts = NULL;
    ast->nstmts = 0;
}

const char *ast_kind_name(AstKind k)
{
    switch (k) {
    case A_INT: return "integer";
    case A_FLOAT: return "float";
    case A_STR: return "string";
    case A_BOOL: return "boolean";
    case A_NONE: return "None";
    case A_NAME: return "name";
    case A_LIST: return "list";
    case A_TUPLE: return "tuple";
    case A_BINOP: return "arithmetic";
    case A_NEG: case A_POS: return "sign";
    case A_CALL: return "call";
    case A_KWARG: return "keyword argument";
    case A_ASSIGN: return "assignment";
    case A_INPUT: return "input";
    case A_MODEL: return "model";
    case A_FORWARD: return "forward block";
    case A_RETURN: return "return";
    case A_IF: return "if";
    case A_BLOCK: return "block";
    case A_TERNARY: return "conditional expression";
    case A_BOOLOP: return "boolean operation";
    case A_NOT: return "not";
    case A_CMP: return "comparison";
    case A_STAR: return "starred argument";
    }
    return "?";
}
