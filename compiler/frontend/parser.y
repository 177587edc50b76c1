/* compiler/frontend/parser.y: the grammar of .cnn files (bison, pure, with locations). The lexer is
 * compiler/frontend/lexer.l; both share one ParseCtx, so parsing keeps no global state.
 *
 *   file    := { stmt | ';' }
 *   stmt    := 'model' NAME [ '(' [params] ')' ] '{' { mstmt | ';' } '}'  |  NAME '=' expr  |  call
 *            | 'model' NAME '(' [params] ')' '=' expr      (a module built from its parameters)
 *   params  := NAME ['=' expr] { ',' NAME ['=' expr] } [',']
 *   mstmt   := 'input' ['='] expr  |  NAME '=' expr  |  NAME '(' [names] ')' '{' fbody '}'
 *                                          (NAME may be self.NAME; the last form: forward)
 *   fstmt   := NAME '=' expr | NAME '+=' expr | 'return' expr
 *            | 'if' expr '{' fbody '}' [ ('else' | 'elif' ...) ]   ('if' first on its line)
 *   expr    := expr 'if' expr 'else' expr | expr 'or' expr | expr 'and' expr | 'not' expr
 *            | expr ('==' | '!=' | '<' | '<=' | '>' | '>=' | 'is' | 'is not') expr
 *            | expr ('+' | '-') expr | expr ('*' | '/' | '//' | '%') expr
 *            | ('-' | '+') expr | primary                   (Python's precedence)
 *   primary := INT | FLOAT | STRING | True | False | None | NAME | NAME '(' [args] ')'
 *            | '(' expr ')' | '(' ')' | '(' expr ',' [items] ')' | '[' [items] ']'
 *   args    := arg { ',' arg } [',']      arg := expr | NAME '=' expr | '*' expr
 *   items   := expr { ',' expr } [',']
 *
 * NAME is dotted as one token (nn.Conv2d, os.path.join, model.parameters). Newlines are
 * not significant. What the names mean is the checker's business (check.c). */
%require "3.6"
%define api.pure full
%define parse.error custom
%define parse.lac full
%locations
%param {yyscan_t scanner}
%parse-param {ParseCtx *ctx}

%code requires {
#include "compiler/frontend/ast.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* Shared by the lexer and the parser for one parse. */
typedef struct ParseCtx {
    Arena   *arena;
    Diag    *diag;
    AstList *stmts;
    int      line, col;         /* where the lexer is: the next byte's position */
    int     *line_end;          /* per line: one past the last token's last column */
    int      nline_end;
    int      prev_tok;          /* the last token returned, 0 at the start */
    int      prev2_tok;         /* and the one before it */
    int      prev_line;         /* and its line */
    int      floordiv_line;     /* last line where '//' was read as floor division */
    int      brackets;          /* ( and [ open: an `if` inside is Python's a if c else b */
    int      joined_line;       /* the line a `\` joined to the one before */
    int      last_line, last_col; /* end of the last token: where "end of file" points */
} ParseCtx;
}

%code {
#include <string.h>

/* Nesting deeper than this is reported ("nested too deeply"), not grown into. */
#define YYMAXDEPTH 2000

int yylex(YYSTYPE *lvalp, YYLTYPE *llocp, yyscan_t scanner);
static void yyerror(YYLTYPE *loc, yyscan_t scanner, ParseCtx *ctx, const char *msg);

/* A node's location: its first line and column, and its end column on that line (for a
 * construct spanning lines: the end of the last token on its first line). */
static SrcLoc mkloc(const ParseCtx *ctx, const YYLTYPE *l)
{
    SrcLoc s = { l->first_line, l->first_column, l->last_column };
    if (l->last_line != l->first_line)
        s.end_col = l->first_line < ctx->nline_end ? ctx->line_end[l->first_line] : 0;
    return s;
}

static AstNode *node(ParseCtx *ctx, AstKind k, const YYLTYPE *l)
{
    return ast_node(ctx->arena, k, mkloc(ctx, l), l->last_line);
}

static AstNode *node1(ParseCtx *ctx, AstKind k, const YYLTYPE *l, AstNode *a, AstNode *b)
{
    AstNode *n = node(ctx, k, l);
    AstList *kids = astlist_new(ctx->arena);
    astlist_push(ctx->arena, kids, a);
    if (b) astlist_push(ctx->arena, kids, b);
    ast_set_kids(n, kids);
    return n;
}

static AstNode *with_kids(ParseCtx *ctx, AstKind k, const YYLTYPE *l, AstList *kids)
{
    AstNode *n = node(ctx, k, l);
    ast_set_kids(n, kids);
    return n;
}

/* Refuses expressions nested past AST_MAX_DEPTH, so that nothing after the parser needs
 * more than bounded recursion. */
static int too_deep(ParseCtx *ctx, const AstNode *n)
{
    if (n->depth <= AST_MAX_DEPTH) return 0;
    diag_error(ctx->diag, n->loc, "expression nested too deeply (more than %d levels)",
               AST_MAX_DEPTH);
    return 1;
}

#define DEPTH(n) do { if (too_deep(ctx, (n))) YYABORT; } while (0)
}

%union {
    AstNode *node;
    AstList *list;
}

%token <node> TOK_NAME "identifier"
%token <node> TOK_INT "integer"
%token <node> TOK_FLOAT "number"
%token <node> TOK_STRING "string"
%token <node> TOK_TRUE "True"
%token <node> TOK_FALSE "False"
%token <node> TOK_NONE "None"
%token TOK_MODEL "model"
%token TOK_INPUT "input"
%token TOK_FLOORDIV "//"
%token TOK_RETURN "return"
%token TOK_IFSTMT "if"
%token TOK_IF "'if'"
%token TOK_ELSE "else"
%token TOK_ELIF "elif"
%token TOK_AND "and"
%token TOK_OR "or"
%token TOK_NOT "not"
%token TOK_IS "is"
%token TOK_ISNOT "is not"
%token TOK_CLASS "class"
%token TOK_DEF "def"
%token TOK_EQ "=="
%token TOK_NE "!="
%token TOK_LE "<="
%token TOK_GE ">="
%token TOK_PLUSEQ "+="

%type <node> stmt mstmt expr primary arg call fstmt ifstmt elsepart param
%type <list> mbody items args arglist fbody params paramlist names namelist

%right TOK_IF TOK_ELSE
%left TOK_OR
%left TOK_AND
%precedence TOK_NOT
%nonassoc TOK_EQ TOK_NE '<' '>' TOK_LE TOK_GE TOK_IS TOK_ISNOT
%left '+' '-'
%left '*' '/' '%' TOK_FLOORDIV
%precedence UNARY

%%

file
    : %empty
    | file stmt     { astlist_push(ctx->arena, ctx->stmts, $2); }
    | file ';'
    ;

stmt
    : TOK_MODEL TOK_NAME '{' mbody '}' {
          $$ = with_kids(ctx, A_MODEL, &@$, $4);
          $$->str = $2->str; $$->name_loc = $2->loc;
      }
    | TOK_MODEL TOK_NAME '(' params ')' '{' mbody '}' {
          $$ = with_kids(ctx, A_MODEL, &@$, $7);
          $$->str = $2->str; $$->name_loc = $2->loc;
          ast_set_aux($$, $4);
          $$->op = 'P';         /* parameterised: a block, called like a layer */
      }
    | TOK_MODEL TOK_NAME '(' params ')' '=' expr {
          $$ = node1(ctx, A_MODEL, &@$, $7, NULL);
          $$->str = $2->str; $$->name_loc = $2->loc;
          ast_set_aux($$, $4);
          $$->op = 'S';         /* a function of its parameters returning a module */
      }
    | TOK_NAME '=' expr {
          $$ = node1(ctx, A_ASSIGN, &@$, $3, NULL);
          $$->str = $1->str; $$->name_loc = $1->loc;
      }
    | call {            /* a call on its own, such as clip_grad_norm_(...): no target */
          $$ = node1(ctx, A_ASSIGN, &@$, $1, NULL);
          $$->str = ""; $$->name_loc = $1->loc;
      }
    ;

mbody
    : %empty        { $$ = astlist_new(ctx->arena); }
    | mbody mstmt   { $$ = $1; astlist_push(ctx->arena, $$, $2); }
    | mbody ';'     { $$ = $1; }
    ;

mstmt
    : TOK_INPUT expr        { $$ = node1(ctx, A_INPUT, &@$, $2, NULL); }
    | TOK_INPUT '=' expr    { $$ = node1(ctx, A_INPUT, &@$, $3, NULL); }
    | TOK_NAME '=' expr {
          $$ = node1(ctx, A_ASSIGN, &@$, $3, NULL);
          $$->str = $1->str; $$->name_loc = $1->loc;
      }
    | TOK_NAME '(' names ')' '{' fbody '}' {
          $$ = with_kids(ctx, A_FORWARD, &@$, $6);
          $$->str = $1->str; $$->name_loc = $1->loc;
          ast_set_aux($$, $3);
      }
    ;

params
    : %empty            { $$ = NULL; }
    | paramlist
    | paramlist ','
    ;

paramlist
    : param                 { $$ = astlist_new(ctx->arena); astlist_push(ctx->arena, $$, $1); }
    | paramlist ',' param   { $$ = $1; astlist_push(ctx->arena, $$, $3); }
    ;

param
    : TOK_NAME              { $$ = $1; }
    | TOK_NAME '=' expr {
          $$ = node1(ctx, A_KWARG, &@$, $3, NULL);
          $$->str = $1->str; $$->name_loc = $1->loc;
      }
    ;

names
    : %empty            { $$ = NULL; }
    | namelist
    | namelist ','
    ;

namelist
    : TOK_NAME                  { $$ = astlist_new(ctx->arena); astlist_push(ctx->arena, $$, $1); }
    | namelist ',' TOK_NAME     { $$ = $1; astlist_push(ctx->arena, $$, $3); }
    ;

fbody
    : %empty        { $$ = astlist_new(ctx->arena); }
    | fbody fstmt   { $$ = $1; astlist_push(ctx->arena, $$, $2); }
    | fbody ';'     { $$ = $1; }
    ;

fstmt
    : TOK_NAME '=' expr {
          $$ = node1(ctx, A_ASSIGN, &@$, $3, NULL);
          $$->str = $1->str; $$->name_loc = $1->loc;
      }
    | TOK_NAME TOK_PLUSEQ expr {
          AstNode *lhs = node(ctx, A_NAME, &@1);
          lhs->str = $1->str;
          AstNode *sum = node1(ctx, A_BINOP, &@$, lhs, $3);
          sum->op = '+';
          sum->loc.col = @2.first_column;   /* errors about the sum point at '+=' */
          sum->loc.end_col = @2.last_column;
          DEPTH(sum);
          $$ = node1(ctx, A_ASSIGN, &@$, sum, NULL);
          $$->str = $1->str; $$->name_loc = $1->loc;
      }
    | TOK_RETURN expr       { $$ = node1(ctx, A_RETURN, &@$, $2, NULL); }
    | ifstmt
    ;

ifstmt
    : TOK_IFSTMT expr '{' fbody '}' elsepart {
          AstNode *then = with_kids(ctx, A_BLOCK, &@4, $4);
          $$ = node1(ctx, A_IF, &@$, $2, then);
          if ($6) { AstList *l = astlist_new(ctx->arena); astlist_push(ctx->arena, l, $2);
                    astlist_push(ctx->arena, l, then); astlist_push(ctx->arena, l, $6);
                    ast_set_kids($$, l); }
      }
    ;

elsepart
    : %empty                        { $$ = NULL; }
    | TOK_ELSE '{' fbody '}'        { $$ = with_kids(ctx, A_BLOCK, &@3, $3); }
    | TOK_ELSE TOK_IF expr '{' fbody '}' elsepart {
          AstNode *then = with_kids(ctx, A_BLOCK, &@5, $5);
          AstNode *inner = node1(ctx, A_IF, &@$, $3, then);
          if ($7) { AstList *l = astlist_new(ctx->arena); astlist_push(ctx->arena, l, $3);
                    astlist_push(ctx->arena, l, then); astlist_push(ctx->arena, l, $7);
                    ast_set_kids(inner, l); }
          AstList *one = astlist_new(ctx->arena);
          astlist_push(ctx->arena, one, inner);
          $$ = with_kids(ctx, A_BLOCK, &@$, one);
      }
    | TOK_ELIF expr '{' fbody '}' elsepart {
          AstNode *then = with_kids(ctx, A_BLOCK, &@4, $4);
          AstNode *inner = node1(ctx, A_IF, &@$, $2, then);
          if ($6) { AstList *l = astlist_new(ctx->arena); astlist_push(ctx->arena, l, $2);
                    astlist_push(ctx->arena, l, then); astlist_push(ctx->arena, l, $6);
                    ast_set_kids(inner, l); }
          AstList *one = astlist_new(ctx->arena);
          astlist_push(ctx->arena, one, inner);
          $$ = with_kids(ctx, A_BLOCK, &@$, one);
      }
    ;

expr
    : expr TOK_IF expr TOK_ELSE expr {
          AstList *l = astlist_new(ctx->arena);
          astlist_push(ctx->arena, l, $1); astlist_push(ctx->arena, l, $3);
          astlist_push(ctx->arena, l, $5);
          $$ = with_kids(ctx, A_TERNARY, &@$, l); DEPTH($$);
      }
    | expr TOK_OR expr      { $$ = node1(ctx, A_BOOLOP, &@$, $1, $3); $$->op = '|'; DEPTH($$); }
    | expr TOK_AND expr     { $$ = node1(ctx, A_BOOLOP, &@$, $1, $3); $$->op = '&'; DEPTH($$); }
    | TOK_NOT expr          { $$ = node1(ctx, A_NOT, &@$, $2, NULL); DEPTH($$); }
    | expr TOK_EQ expr      { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = 'e'; DEPTH($$); }
    | expr TOK_NE expr      { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = 'n'; DEPTH($$); }
    | expr '<' expr         { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = '<'; DEPTH($$); }
    | expr '>' expr         { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = '>'; DEPTH($$); }
    | expr TOK_LE expr      { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = 'l'; DEPTH($$); }
    | expr TOK_GE expr      { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = 'g'; DEPTH($$); }
    | expr TOK_IS expr      { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = 'i'; DEPTH($$); }
    | expr TOK_ISNOT expr   { $$ = node1(ctx, A_CMP, &@$, $1, $3); $$->op = 'I'; DEPTH($$); }
    | expr '+' expr         { $$ = node1(ctx, A_BINOP, &@$, $1, $3); $$->op = '+'; DEPTH($$); }
    | expr '-' expr         { $$ = node1(ctx, A_BINOP, &@$, $1, $3); $$->op = '-'; DEPTH($$); }
    | expr '*' expr         { $$ = node1(ctx, A_BINOP, &@$, $1, $3); $$->op = '*'; DEPTH($$); }
    | expr '/' expr         { $$ = node1(ctx, A_BINOP, &@$, $1, $3); $$->op = '/'; DEPTH($$); }
    | expr TOK_FLOORDIV expr { $$ = node1(ctx, A_BINOP, &@$, $1, $3); $$->op = 'F'; DEPTH($$); }
    | expr '%' expr         { $$ = node1(ctx, A_BINOP, &@$, $1, $3); $$->op = '%'; DEPTH($$); }
    | '-' expr %prec UNARY  { $$ = node1(ctx, A_NEG, &@$, $2, NULL); DEPTH($$); }
    | '+' expr %prec UNARY  { $$ = node1(ctx, A_POS, &@$, $2, NULL); DEPTH($$); }
    | primary
    ;

primary
    : TOK_INT | TOK_FLOAT | TOK_STRING | TOK_TRUE | TOK_FALSE | TOK_NONE | TOK_NAME
    | call
    | '(' expr ')' {
          $$ = $2;      /* parentheses leave no node; errors point inside them */
      }
    | '(' ')'                       { $$ = with_kids(ctx, A_TUPLE, &@$, NULL); }
    | '(' expr ',' ')' {
          AstList *l = astlist_new(ctx->arena);
          astlist_push(ctx->arena, l, $2);
          $$ = with_kids(ctx, A_TUPLE, &@$, l); DEPTH($$);
      }
    | '(' expr ',' items ')' {
          AstList *l = astlist_new(ctx->arena);
          astlist_push(ctx->arena, l, $2);
          for (int i = 0; i < $4->n; i++) astlist_push(ctx->arena, l, $4->v[i]);
          $$ = with_kids(ctx, A_TUPLE, &@$, l); DEPTH($$);
      }
    | '(' expr ',' items ',' ')' {
          AstList *l = astlist_new(ctx->arena);
          astlist_push(ctx->arena, l, $2);
          for (int i = 0; i < $4->n; i++) astlist_push(ctx->arena, l, $4->v[i]);
          $$ = with_kids(ctx, A_TUPLE, &@$, l); DEPTH($$);
      }
    | '[' ']'                       { $$ = with_kids(ctx, A_LIST, &@$, NULL); }
    | '[' items ']'                 { $$ = with_kids(ctx, A_LIST, &@$, $2); DEPTH($$); }
    | '[' items ',' ']'             { $$ = with_kids(ctx, A_LIST, &@$, $2); DEPTH($$); }
    ;

call
    : TOK_NAME '(' args ')' {
          $$ = with_kids(ctx, A_CALL, &@$, $3);
          $$->str = $1->str; $$->name_loc = $1->loc;
          DEPTH($$);
      }
    ;

items
    : expr              { $$ = astlist_new(ctx->arena); astlist_push(ctx->arena, $$, $1); }
    | items ',' expr    { $$ = $1; astlist_push(ctx->arena, $$, $3); }
    ;

args
    : %empty            { $$ = NULL; }
    | arglist
    | arglist ','
    ;

arglist
    : arg               { $$ = astlist_new(ctx->arena); astlist_push(ctx->arena, $$, $1); }
    | arglist ',' arg   { $$ = $1; astlist_push(ctx->arena, $$, $3); }
    ;

arg
    : expr
    | '*' expr              { $$ = node1(ctx, A_STAR, &@$, $2, NULL); DEPTH($$); }
    | TOK_NAME '=' expr {
          if (strchr($1->str, '.')) {
              diag_error(ctx->diag, $1->loc, "a keyword argument is a plain name, not %s",
                         $1->str);
              YYABORT;
          }
          $$ = node1(ctx, A_KWARG, &@$, $3, NULL);
          $$->str = $1->str; $$->name_loc = $1->loc;
      }
    ;

%%

/* bison's "syntax error, unexpected X, expecting A or B", with the offending token's text
 * and without the tokens that could merely continue what came before (operators, '(' and
 * ';' are never what is missing). LAC is on, so the expected tokens are exact. */
static int yyreport_syntax_error(const yypcontext_t *pc, yyscan_t scanner, ParseCtx *ctx)
{
    (void)scanner;
    if (ctx->diag->nerrors) return 0;          /* the lexer already said what is wrong */
    const YYLTYPE *loc = yypcontext_location(pc);
    SrcLoc l = mkloc(ctx, loc);
    yysymbol_kind_t tok = yypcontext_token(pc);
    char msg[512], text[64];
    snprintf(msg, sizeof msg, "syntax error, unexpected %s", yysymbol_name(tok));
    if ((tok == YYSYMBOL_TOK_NAME || tok == YYSYMBOL_TOK_INT || tok == YYSYMBOL_TOK_FLOAT) &&
        diag_text(ctx->diag, l.line, l.col, l.end_col, text, sizeof text) == 0)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " %s", text);

    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(pc, exp, YYNTOKENS), kept = 0;
    for (int i = 0; i < n; i++) {
        static const char *const quiet[] = { "'+'", "'-'", "'*'", "'/'", "'%'", "//",
                                             "'('", "';'", "'if'", "and", "or", "==", "!=",
                                             "'<'", "'>'", "<=", ">=", "is", "is not", "+=" };
        int skip = 0;
        for (size_t q = 0; q < sizeof quiet / sizeof quiet[0]; q++)
            skip |= !strcmp(yysymbol_name(exp[i]), quiet[q]);
        if (!skip) exp[kept++] = exp[i];
    }
    if (kept > 0 && kept <= 4)
        for (int i = 0; i < kept; i++)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s",
                     i == 0 ? ", expecting " : " or ", yysymbol_name(exp[i]));
    if (tok == YYSYMBOL_TOK_CLASS || tok == YYSYMBOL_TOK_DEF) {
        /* a pasted PyTorch class: say what to write instead, in one line */
        diag_error(ctx->diag, l, tok == YYSYMBOL_TOK_CLASS
                   ? "a model is declared as `model Net { input [C, H, W] ... }`, not as a "
                     "Python class; write its __init__ layers as attributes and its forward "
                     "as `forward(x) { ... }` inside the braces"
                   : "a forward pass is written `forward(x) { ... }` inside the model's "
                     "braces, not with def");
        return 0;
    }
    diag_error(ctx->diag, l, "%s", msg);
    if (ctx->prev2_tok == TOK_MODEL && ctx->prev_tok == '=')
        diag_note(ctx->diag, "the model is declared as `model NAME { input [C, H, W] ... }`; "
                  "notebook lines such as `model = ClassificationCNN()` are not needed");
    if (ctx->floordiv_line == loc->first_line)
        diag_note(ctx->diag, "'//' after a value is Python's floor division; "
                  "start this comment with '#' instead");
    return 0;
}

static void yyerror(YYLTYPE *loc, yyscan_t scanner, ParseCtx *ctx, const char *msg)
{
    (void)scanner;
    if (ctx->diag->nerrors) return;        /* the lexer already said what is wrong */
    SrcLoc l = mkloc(ctx, loc);
    if (!strcmp(msg, "memory exhausted")) {
        diag_error(ctx->diag, l, "brackets or signs nested too deeply");
        return;
    }
    diag_error(ctx->diag, l, "%s", msg);
}
