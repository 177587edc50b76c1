/* compiler/frontend/diag.c: error and note printing with source excerpts and carets. */
#include "diag.h"

#include <stdarg.h>
#include <string.h>

void diag_init(Diag *d, FILE *out, const char *path, const char *src, size_t len)
{
    d->out = out ? out : stderr;
    d->path = path ? path : "<input>";
    d->src = src;
    d->len = src ? len : 0;
    d->nerrors = 0;
}

/* Finds line `line` (1-based): its start and length without the newline (and a '\r'
 * before it). Returns -1 when the file has no such line. */
static int find_line(const Diag *d, int line, const char **start, size_t *n)
{
    if (!d->src || line < 1) return -1;
    const char *p = d->src, *end = d->src + d->len;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return -1;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (len > 0 && p[len - 1] == '\r') len--;
    *start = p;
    *n = len;
    return 0;
}

static int is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/* The length of the valid UTF-8 multi-byte character at s, or 0. */
static size_t utf8_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (k == 0 || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if (!is_continuation((unsigned char)s[i])) return 0;
    return k;
}

/* The excerpt: the line in a gutter as wide as its number (at least 5), then the caret
 * line. Columns count bytes; the caret line copies tabs and skips UTF-8 continuation
 * bytes so that it lines up under what a terminal shows. */
static void excerpt(Diag *d, SrcLoc loc)
{
    const char *s;
    size_t n;
    if (find_line(d, loc.line, &s, &n) < 0) return;
    int width = 5;
    for (int l = loc.line; l >= 100000; l /= 10) width++;
    fprintf(d->out, "%*d | ", width, loc.line);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_len(s + i, n - i);
        if (c >= 0x80 && k > 0) {               /* a whole, valid UTF-8 character */
            fwrite(s + i, 1, k, d->out);
            i += k - 1;
        } else {                                /* control bytes and broken UTF-8 */
            fputc((c < 0x20 && c != '\t') || c >= 0x7f ? '?' : c, d->out);
        }
    }
    fprintf(d->out, "\n%*s | ", width, "");
    size_t col = loc.col > 0 ? (size_t)loc.col : 1;
    for (size_t i = 0; i + 1 < col && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t') fputc('\t', d->out);
        else if (!is_continuation(c)) fputc(' ', d->out);
    }
    for (size_t i = n; i + 1 < col; i++) fputc(' ', d->out);
    fputc('^', d->out);
    size_t end = loc.end_col > loc.col ? (size_t)loc.end_col : col + 1;
    if (end > n + 1) end = n + 1 > col ? n + 1 : col + 1;
    for (size_t i = col; i + 1 < end; i++)
        if (i >= n || !is_continuation((unsigned char)s[i])) fputc('~', d->out);
    fputc('\n', d->out);
}

int diag_error(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    if (d->nerrors++ > 0) return -1;
    if (loc.line > 0) fprintf(d->out, "%s:%d:%d: error: ", d->path, loc.line, loc.col);
    else fprintf(d->out, "%s: error: ", d->path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
    if (loc.line > 0) excerpt(d, loc);
    return -1;
}

void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    if (d->nerrors > 0) return;
    fprintf(d->out, "%s:%d:%d: warning: ", d->path, loc.line, loc.col);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
    excerpt(d, loc);
}

void diag_note(Diag *d, const char *fmt, ...)
{
    if (d->nerrors != 1) return;
    fputs("note: ", d->out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
}

int diag_plain(Diag *d, const char *fmt, ...)
{
    if (d->nerrors++ > 0) return -1;
    fputs("cnnc: error: ", d->out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
    return -1;
}

const char *diag_where(const Diag *d, SrcLoc loc, char *buf, size_t n)
{
    snprintf(buf, n, "%s:%d:%d", d->path, loc.line, loc.col);
    return buf;
}

int diag_text(const Diag *d, int line, int col, int end_col, char *buf, size_t n)
{
    const char *s;
    size_t len;
    if (n == 0) return -1;
    buf[0] = '\0';
    if (find_line(d, line, &s, &len) < 0 || col < 1 || end_col < col) return -1;
    if ((size_t)end_col - 1 > len) return -1;
    size_t k = (size_t)(end_col - col);
    if (k >= n) return -1;
    memcpy(buf, s + col - 1, k);
    buf[k] = '\0';
    return 0;
}
