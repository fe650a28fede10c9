/* json_escape.c — see json_escape.h. */
#include "json_escape.h"

#include <stdbool.h>
#include <string.h>

int utf8_seq_len(const unsigned char *p)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    int n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    /* a NUL terminator fails the range test, so this never reads past the string */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

size_t text_escape_next(const char **s, char out[TEXT_ESC_MAX])
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)*s;
    int n = *p < 0x80 ? 1 : utf8_seq_len(p);
    bool plain = *p >= 0x80 ? n > 0 : (*p >= 0x20 && *p != 0x7f) || *p == '\t';
    if (!plain) {
        out[0] = '\\';
        out[1] = 'x';
        out[2] = hex[*p >> 4];
        out[3] = hex[*p & 0xf];
        *s += 1;
        return 4;
    }
    memcpy(out, p, (size_t)n);
    *s += n;
    return (size_t)n;
}

size_t text_escape(char *out, size_t size, const char *s)
{
    size_t o = 0;
    char esc[TEXT_ESC_MAX];
    while (*s != '\0') {
        size_t n = text_escape_next(&s, esc);
        if (o + n >= size)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}
