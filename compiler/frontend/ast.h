/* compiler/frontend/ast.h: the syntax tree of a .cnn file as the parser builds it, and the arena
 * that owns it. Every node keeps where it was written (begin line/col, end col). */
#ifndef CNNC_AST_H
#define CNNC_AST_H

#include <stddef.h>
#include <stdint.h>

#include "program.h"
#include "diag.h"

/* Bump allocator: everything allocated from it goes away with arena_free. */
typedef struct ArenaChunk ArenaChunk;
typedef struct Arena {
    ArenaChunk *head;
} Arena;

void *arena_alloc(Arena *a, size_t n);          /* zeroed, aligned for any type */
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void  arena_free(Arena *a);

typedef enum {
    A_INT,      /* ival */
    A_FLOAT,    /* fval */
    A_STR,      /* str (no NUL inside), slen */
    A_BOOL,     /* ival 0 or 1 */
    A_NONE,
    A_NAME,     /* str: "x", or dotted "nn.Conv2d" as one token */
    A_LIST,     /* kids: items */
    A_TUPLE,    /* kids: items */
    A_BINOP,    /* op: '+' '-' '*' '/' '%' or 'F' (//); kids[0], kids[1] */
    A_NEG,      /* kids[0] */
    A_POS,      /* kids[0] */
    A_CALL,     /* str: callee as written, name_loc: its location; kids: arguments */
    A_KWARG,    /* str: keyword, name_loc; kids[0]: value (only inside A_CALL) */
    A_ASSIGN,   /* str: target ("" for a call on its own line), name_loc; kids[0]: value */
    A_INPUT,    /* kids[0]: the shape expression */
    A_MODEL,    /* str: model name, name_loc; kids: body (A_INPUT, A_ASSIGN, A_FORWARD);
                   op 'P' with aux: its parameters (A_NAME, or A_KWARG with a default);
                   op 'S': `model NAME(params) = expr`, kids[0] the expression */
    A_FORWARD,  /* str: "forward", name_loc; aux: its parameters (A_NAME); kids: statements */
    A_RETURN,   /* kids[0]: the value */
    A_IF,       /* kids[0]: condition, kids[1]: A_BLOCK then, kids[2]: A_BLOCK else (optional) */
    A_BLOCK,    /* kids: statements */
    A_TERNARY,  /* kids[0] if kids[1] else kids[2] */
    A_BOOLOP,   /* op '&' (and) or '|' (or); kids[0], kids[1] */
    A_NOT,      /* kids[0] */
    A_CMP,      /* op: 'e' ==, 'n' !=, '<', '>', 'l' <=, 'g' >=, 'i' is, 'I' is not */
    A_STAR,     /* *kids[0], only inside A_CALL */
} AstKind;

typedef struct AstNode AstNode;
struct AstNode {
    AstKind   kind;
    SrcLoc    loc;          /* the whole construct; end_col on its first line */
    int       last_line;    /* the line it ends on */
    int       depth;        /* nesting depth of the expression (leaves: 1) */
    int64_t   ival;
    double    fval;
    const char *str;
    size_t    slen;
    SrcLoc    name_loc;
    int       op;
    AstNode **kids;
    int       nkids;
    AstNode **aux;          /* a second list: A_MODEL's and A_FORWARD's parameters */
    int       naux;
};

typedef struct Ast {
    Arena     arena;
    AstNode **stmts;        /* A_MODEL and A_ASSIGN, in file order */
    int       nstmts;
} Ast;

/* Deepest expression nesting accepted; deeper input is an error, not a stack overflow. */
#define AST_MAX_DEPTH 200
/* Largest file accepted (bytes), so that lines and columns fit in an int with room. */
#define AST_MAX_BYTES (1 << 28)

/* Parses src (len bytes, NULs allowed) into ast. On a lexical or syntax error prints one
 * diagnostic to d and returns -1; ast must still be released with ast_free. */
int  ast_parse(Ast *ast, const char *src, size_t len, Diag *d);
void ast_free(Ast *ast);

/* Growable node list used while parsing (lives in the arena). */
typedef struct AstList {
    AstNode **v;
    int       n, cap;
} AstList;

AstList *astlist_new(Arena *a);
void     astlist_push(Arena *a, AstList *l, AstNode *n);
AstNode *ast_node(Arena *a, AstKind kind, SrcLoc loc, int last_line);
/* Sets n->kids from l and n->depth from them. */
void     ast_set_kids(AstNode *n, AstList *l);
const char *ast_kind_name(AstKind k);
/* Sets n->aux from l (NULL: none). */
void     ast_set_aux(AstNode *n, AstList *l);

#endif
