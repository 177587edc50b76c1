/* tests/data/test_json.c: tests runtime/json.c: valid and invalid documents, escapes,
 * numbers, depth limit, and the string writer. */
#include <stdlib.h>
#include <string.h>

#include "runtime/json.h"
#include "tests/test.h"

static int parses(const char *text)
{
    JsonDoc d;
    Error e;
    if (json_parse(&d, text, strlen(text), "t", &e)) return 0;
    json_free(&d);
    return 1;
}

/* Parses text expecting failure; checks the message contains want. */
static void refuses(const char *text, const char *want)
{
    JsonDoc d;
    Error e = { "" };
    int rc = json_parse(&d, text, strlen(text), "hdr", &e);
    CHECK(rc == -1, "'%s' parsed but should not", text);
    CHECK(strstr(e.msg, want) != NULL, "'%s': message '%s' lacks '%s'", text, e.msg, want);
    CHECK(strncmp(e.msg, "hdr: ", 5) == 0, "message '%s' does not start with what", e.msg);
}

static void test_values(void)
{
    const char *text = " {\"a\": [1, -2, 3.5, 1e3, -0, 9223372036854775807, -9223372036854775808, 9223372036854775808],"
                       " \"b\": {\"c\": true, \"d\": false, \"e\": null}, \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\","
                       " \"a\": 7, \"empty\": {}, \"none\": []}\n";
    JsonDoc d;
    Error e;
    CHECK(json_parse(&d, text, strlen(text), "t", &e) == 0, "parse failed: %s", e.msg);
    const JsonValue *r = &d.root;
    CHECK(r->type == JSON_OBJECT && r->n == 6, "root: type %d n %zu", r->type, r->n);
    const JsonValue *a = json_get(r, "a");
    CHECK(a && a->type == JSON_ARRAY && a->n == 8, "a is the first 'a', an array of 8");
    if (a && a->n == 8) {
        CHECK(a->items[0].is_int && a->items[0].i == 1, "1");
        CHECK(a->items[1].is_int && a->items[1].i == -2, "-2");
        CHECK(!a->items[2].is_int && a->items[2].num == 3.5, "3.5");
        CHECK(!a->items[3].is_int && a->items[3].num == 1000.0, "1e3");
        CHECK(a->items[4].is_int && a->items[4].i == 0, "-0");
        CHECK(a->items[5].is_int && a->items[5].i == INT64_MAX, "int64 max");
        CHECK(a->items[6].is_int && a->items[6].i == INT64_MIN, "int64 min");
        CHECK(!a->items[7].is_int && a->items[7].num == 9223372036854775808.0, "2^63 is not an int64");
    }
    const JsonValue *b = json_get(r, "b");
    CHECK(b && json_get(b, "c")->type == JSON_TRUE && json_get(b, "d")->type == JSON_FALSE &&
          json_get(b, "e")->type == JSON_NULL, "literals");
    const JsonValue *s = json_get(r, "s");
    const char *want = "x\"\\/\b\f\n\r\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    CHECK(s && s->type == JSON_STRING && s->len == strlen(want) && strcmp(s->str, want) == 0, "escapes decoded");
    CHECK(json_get(r, "empty")->type == JSON_OBJECT && json_get(r, "empty")->n == 0, "empty object");
    CHECK(json_get(r, "none")->type == JSON_ARRAY && json_get(r, "none")->n == 0, "empty array");
    CHECK(json_get(r, "missing") == NULL, "missing key");
    json_free(&d);

    /* \u0000 inside a string keeps its length */
    CHECK(json_parse(&d, "\"a\\u0000b\"", 10, "t", &e) == 0, "nul escape");
    CHECK(d.root.len == 3 && d.root.str[1] == 0 && d.root.str[2] == 'b', "nul inside string");
    json_free(&d);
    CHECK(parses("0") && parses("-1.5E-3") && parses("\"\"") && parses(" null ") && parses("[[[]]]"), "scalars");
}

static void test_errors(void)
{
    refuses("", "unexpected end");
    refuses("   ", "unexpected end");
    refuses("{", "expected a string key");
    refuses("{\"a\" 1}", "expected ':'");
    refuses("{\"a\":1,}", "expected a string key");
    refuses("[1,]", "expected a value");
    refuses("[1 2]", "expected ',' or ']'");
    refuses("[1", "unterminated array");
    refuses("{\"a\":1", "unterminated object");
    refuses("{\"a\":1 \"b\":2}", "expected ',' or '}'");
    refuses("01", "leading zero");
    refuses("1.", "no digits after '.'");
    refuses("1e", "no digits in exponent");
    refuses("+1", "expected a value");
    refuses("-", "invalid number");
    refuses("-a", "invalid number");
    refuses(".5", "expected a value");
    refuses("tru", "invalid literal");
    refuses("nul", "invalid literal");
    refuses("\"abc", "unterminated string");
    refuses("\"a\nb\"", "control character");
    refuses("\"\\x\"", "invalid escape");
    refuses("\"\\u12g4\"", "invalid \\u escape");
    refuses("\"\\u12\"", "invalid \\u escape");
    refuses("\"\\ud800\"", "lone high surrogate");
    refuses("\"\\ud800\\u0041\"", "lone high surrogate");
    refuses("\"\\udc00\"", "lone low surrogate");
    refuses("\"\xff\"", "invalid UTF-8");
    refuses("\"\xc0\xaf\"", "invalid UTF-8");             /* overlong '/' */
    refuses("\"\xed\xa0\x80\"", "invalid UTF-8");         /* encoded surrogate */
    refuses("\"\xe2\x82\"", "invalid UTF-8");             /* truncated sequence */
    refuses("{} {}", "unexpected text after");
    refuses("[1] x", "unexpected text after");
    refuses("{'a':1}", "expected a string key");
    refuses("[1] // comment", "unexpected text after");
    refuses("NaN", "expected a value");
    refuses("{\"a\":1}\x01", "unexpected text after");

    /* the error offset points at the problem */
    JsonDoc d;
    Error e;
    json_parse(&d, "[1, 2, x]", 9, "h", &e);
    CHECK(strstr(e.msg, "at byte 7") != NULL, "offset in '%s'", e.msg);

    /* text with an embedded NUL: the length given is what counts */
    CHECK(json_parse(&d, "[1]\0", 4, "h", &e) == -1, "NUL after the value");
}

static void test_depth(void)
{
    char deep[JSON_MAX_DEPTH + 3];
    /* JSON_MAX_DEPTH + 1 nested arrays: depths 0..JSON_MAX_DEPTH, accepted */
    size_t n = JSON_MAX_DEPTH + 1;
    char *ok = malloc(2 * n + 1);
    memset(ok, '[', n);
    memset(ok + n, ']', n);
    ok[2 * n] = 0;
    CHECK(parses(ok), "depth %d accepted", JSON_MAX_DEPTH);
    free(ok);
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    refuses(deep, "nesting too deep");
    /* a million brackets: refused quickly, no stack overflow */
    size_t big = 1000000;
    char *huge = malloc(big + 1);
    memset(huge, '[', big);
    huge[big] = 0;
    refuses(huge, "nesting too deep");
    for (size_t i = 0; i < big; i += 2) huge[i] = '{', huge[i + 1] = '"';
    refuses(huge, "");
    free(huge);
}

static void test_writer(void)
{
    JsonBuf b = { 0 };
    json_buf_string(&b, "q\"b\\n\nt\tc\x01 \xC3\xA9\xF0\x9F\x98\x80 bad\xff!");
    CHECK(strcmp(b.p, "\"q\\\"b\\\\n\\nt\\tc\\u0001 \xC3\xA9\xF0\x9F\x98\x80 bad\xEF\xBF\xBD!\"") == 0, "escaped: %s", b.p);
    /* what the writer writes, the parser reads back */
    JsonDoc d;
    Error e;
    CHECK(json_parse(&d, b.p, b.len, "t", &e) == 0, "writer output parses: %s", e.msg);
    CHECK(d.root.type == JSON_STRING && strcmp(d.root.str, "q\"b\\n\nt\tc\x01 \xC3\xA9\xF0\x9F\x98\x80 bad\xEF\xBF\xBD!") == 0,
          "round trip");
    json_free(&d);
    json_buf_free(&b);
    json_buf_printf(&b, "[%d,%s]", 42, "true");
    json_buf_puts(&b, "");
    CHECK(strcmp(b.p, "[42,true]") == 0 && b.len == 9, "printf: %s", b.p);
    json_buf_free(&b);
}

int main(void)
{
    test_values();
    test_errors();
    test_depth();
    test_writer();
    return test_done("test_json");
}
