/* runtime/json.c: strict JSON parsing into an arena, and JSON string writing; see json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: values and strings of one document, freed together ---- */

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} Chunk;

static void *arena_alloc(void **arena, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    Chunk *c = *arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        Chunk *nc = xmalloc(sizeof *nc + cap);
        nc->used = 0;
        nc->cap = cap;
        nc->next = c;
        *arena = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(void *arena)
{
    for (Chunk *c = arena; c;) {
        Chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* ---- parser: recursive descent, depth bounded by JSON_MAX_DEPTH ---- */

typedef struct Parser {
    const char *s;
    size_t      len, pos;
    const char *what;
    Error      *e;
    void      **arena;
} Parser;

static int fail(Parser *p, size_t at, const char *reason)
{
    return err_set(p->e, "%s: %s at byte %zu", p->what, reason, at);
}

static void skip_ws(Parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int parse_value(Parser *p, JsonValue *v, int depth);

static int literal(Parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, p->pos, "invalid literal (expected a value)");
    p->pos += n;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(Parser *p, JsonValue *v)
{
    size_t start = p->pos, i = p->pos;
    int is_int = 1;
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || !is_digit(p->s[i])) return fail(p, start, "invalid number");
    if (p->s[i] == '0') {
        i++;
        if (i < p->len && is_digit(p->s[i])) return fail(p, start, "number with a leading zero");
    } else {
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && p->s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail(p, start, "invalid number (no digits after '.')");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail(p, start, "invalid number (no digits in exponent)");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    size_t n = i - start;
    char stackbuf[64];
    char *buf = n < sizeof stackbuf ? stackbuf : xmalloc(n + 1);
    memcpy(buf, p->s + start, n);
    buf[n] = 0;
    v->type = JSON_NUMBER;
    v->num = strtod(buf, NULL);
    v->is_int = 0;
    if (is_int) {
        /* exact integer: accumulate digits with overflow checks */
        int neg = buf[0] == '-';
        uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int ok = 1;
        for (const char *d = buf + neg; *d; d++) {
            unsigned dig = (unsigned)(*d - '0');
            if (acc > (limit - dig) / 10) { ok = 0; break; }
            acc = acc * 10 + dig;
        }
        if (ok) {
            v->is_int = 1;
            v->i = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
        }
    }
    if (buf != stackbuf) free(buf);
    p->pos = i;
    return 0;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t k;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) { k = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

/* Parses the string starting at the opening quote; the decoded text goes into the arena. */
static int parse_string(Parser *p, char **out, size_t *outlen)
{
    size_t start = p->pos++;
    /* the decoded form is never longer than the source, so size the output by a first scan */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
    if (end >= p->len) return fail(p, start, "unterminated string");
    char *o = arena_alloc(p->arena, end - p->pos + 1);
    size_t n = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) return fail(p, p->pos, "control character in string (must be escaped)");
        if (c != '\\') {
            size_t k = utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
            if (!k) return fail(p, p->pos, "invalid UTF-8 in string");
            memcpy(o + n, p->s + p->pos, k);
            n += k;
            p->pos += k;
            continue;
        }
        size_t esc = p->pos;
        char x = p->s[p->pos + 1];
        p->pos += 2;
        switch (x) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (p->len - p->pos < 4 || hex4(p->s + p->pos, &cp)) return fail(p, esc, "invalid \\u escape");
            p->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, esc, "lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return fail(p, esc, "lone high surrogate in \\u escape");
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(o + n, cp);     /* at most as long as the 6 or 12 source bytes */
            break;
        }
        default: return fail(p, esc, "invalid escape in string");
        }
    }
    p->pos++;
    o[n] = 0;
    *out = o;
    *outlen = n;
    return 0;
}

/* A growable scratch vector for the items of one array or object while it is parsed. */
typedef struct Vec {
    void  *p;
    size_t n, cap, elem;
} Vec;

static void *vec_push(Vec *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->p = xrealloc(v->p, v->cap * v->elem);
    }
    return (char *)v->p + v->n++ * v->elem;
}

static void *vec_to_arena(Vec *v, void **arena)
{
    void *a = NULL;
    if (v->n) {
        a = arena_alloc(arena, v->n * v->elem);
        memcpy(a, v->p, v->n * v->elem);
    }
    free(v->p);
    return a;
}

static int parse_array(Parser *p, JsonValue *v, int depth)
{
    Vec items = { NULL, 0, 0, sizeof(JsonValue) };
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            if (parse_value(p, vec_push(&items), depth + 1)) goto bad;
            skip_ws(p);
            if (p->pos >= p->len) { fail(p, p->pos, "unterminated array"); goto bad; }
            char c = p->s[p->pos++];
            if (c == ']') break;
            if (c != ',') { fail(p, p->pos - 1, "expected ',' or ']' in array"); goto bad; }
        }
    }
    v->type = JSON_ARRAY;
    v->n = items.n;
    v->items = vec_to_arena(&items, p->arena);
    return 0;
bad:
    free(items.p);
    return -1;
}

static int parse_object(Parser *p, JsonValue *v, int depth)
{
    Vec mem = { NULL, 0, 0, sizeof(JsonMember) };
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') { fail(p, p->pos, "expected a string key in object"); goto bad; }
            JsonMember *m = vec_push(&mem);
            if (parse_string(p, &m->key, &m->keylen)) goto bad;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') { fail(p, p->pos, "expected ':' after object key"); goto bad; }
            p->pos++;
            if (parse_value(p, &m->value, depth + 1)) goto bad;
            skip_ws(p);
            if (p->pos >= p->len) { fail(p, p->pos, "unterminated object"); goto bad; }
            char c = p->s[p->pos++];
            if (c == '}') break;
            if (c != ',') { fail(p, p->pos - 1, "expected ',' or '}' in object"); goto bad; }
        }
    }
    v->type = JSON_OBJECT;
    v->n = mem.n;
    v->members = vec_to_arena(&mem, p->arena);
    return 0;
bad:
    free(mem.p);
    return -1;
}

static int parse_value(Parser *p, JsonValue *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth > JSON_MAX_DEPTH) return fail(p, p->pos, "nesting too deep");
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, p->pos, "unexpected end of text (expected a value)");
    v->offset = p->pos;
    switch (p->s[p->pos]) {
    case '{': return parse_object(p, v, depth);
    case '[': return parse_array(p, v, depth);
    case '"': v->type = JSON_STRING; return parse_string(p, &v->str, &v->len);
    case 't': v->type = JSON_TRUE; return literal(p, "true");
    case 'f': v->type = JSON_FALSE; return literal(p, "false");
    case 'n': v->type = JSON_NULL; return literal(p, "null");
    default:
        if (p->s[p->pos] == '-' || is_digit(p->s[p->pos])) return parse_number(p, v);
        return fail(p, p->pos, "unexpected character (expected a value)");
    }
}

int json_parse(JsonDoc *doc, const char *text, size_t len, const char *what, Error *e)
{
    Parser p = { text, len, 0, what, e, &doc->arena };
    doc->arena = NULL;
    if (parse_value(&p, &doc->root, 0)) goto bad;
    skip_ws(&p);
    if (p.pos != len) { fail(&p, p.pos, "unexpected text after the JSON value"); goto bad; }
    return 0;
bad:
    json_free(doc);
    return -1;
}

void json_free(JsonDoc *doc)
{
    arena_free(doc->arena);
    doc->arena = NULL;
    memset(&doc->root, 0, sizeof doc->root);
}

const JsonValue *json_get(const JsonValue *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->members[i].keylen == kl && memcmp(obj->members[i].key, key, kl) == 0) return &obj->members[i].value;
    return NULL;
}

const char *json_type_name(JsonType t)
{
    static const char *names[] = { "null", "false", "true", "a number", "a string", "an array", "an object" };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- writer ---- */

static void buf_reserve(JsonBuf *b, size_t extra)
{
    if (b->len + extra + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + extra + 1) cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
}

void json_buf_put(JsonBuf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void json_buf_puts(JsonBuf *b, const char *s) { json_buf_put(b, s, strlen(s)); }

void json_buf_printf(JsonBuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void json_buf_string(JsonBuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    json_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            json_buf_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *short_esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" :
                                    c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (short_esc) json_buf_puts(b, short_esc);
            else json_buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_seq(u + i, n - i);
            if (k) json_buf_put(b, s + i, k);
            else json_buf_puts(b, "\xEF\xBF\xBD");  /* U+FFFD for a byte that is not UTF-8 */
            i += k ? k : 1;
        }
    }
    json_buf_put(b, "\"", 1);
}

void json_buf_free(JsonBuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
