/* runtime/json.h: a small strict JSON parser (RFC 8259) and a string-escaping writer, enough
 * for safetensors headers. Parsing is bounded: nesting deeper than JSON_MAX_DEPTH is an error,
 * so hostile input cannot exhaust the stack. */
#ifndef CN_JSON_H
#define CN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define JSON_MAX_DEPTH 64

typedef enum { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue JsonValue;
typedef struct JsonMember JsonMember;

struct JsonValue {
    JsonType    type;
    size_t      offset;         /* byte offset of the value in the text, for messages */
    /* JSON_NUMBER: the value as a double; is_int when the text is an integer (no fraction or
     * exponent) that fits int64_t, which is then in i exactly. */
    double      num;
    int         is_int;
    int64_t     i;
    /* JSON_STRING: UTF-8 text, NUL-terminated; len excludes the NUL (\u0000 may occur inside) */
    char       *str;
    size_t      len;
    /* JSON_ARRAY: n items; JSON_OBJECT: n members in file order (duplicate keys are kept) */
    JsonValue  *items;
    JsonMember *members;
    size_t      n;
};

struct JsonMember {
    char     *key;              /* NUL-terminated UTF-8 */
    size_t    keylen;
    JsonValue value;
};

/* A parsed document: every value lives in its arena and is freed with it. */
typedef struct JsonDoc {
    JsonValue root;
    void     *arena;
} JsonDoc;

/* Parses text[0..len) as exactly one JSON value (surrounding whitespace allowed). Strict:
 * no trailing commas, comments, leading zeros, control characters in strings, invalid UTF-8
 * or lone surrogates. On error returns -1 with e set to "<what>: <reason> at byte <offset>". */
int  json_parse(JsonDoc *doc, const char *text, size_t len, const char *what, Error *e);
void json_free(JsonDoc *doc);

/* The member named key of an object (the first, if duplicated), or NULL. */
const JsonValue *json_get(const JsonValue *obj, const char *key);
const char *json_type_name(JsonType t);

/* A growable text buffer for writing JSON. */
typedef struct JsonBuf {
    char  *p;                   /* NUL-terminated */
    size_t len, cap;
} JsonBuf;

void json_buf_put(JsonBuf *b, const char *s, size_t n);
void json_buf_puts(JsonBuf *b, const char *s);
void json_buf_printf(JsonBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string: escapes '"', '\\' and control characters; bytes that
 * are not valid UTF-8 are written as U+FFFD, so the output is always valid JSON. */
void json_buf_string(JsonBuf *b, const char *s);
void json_buf_free(JsonBuf *b);

#endif
