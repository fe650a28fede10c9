/* json_escape.h — escaping of text that may quote hostile input. Pure.
 * - JSON strings, for the alert payloads (alerts.c) and the JSON log lines (log.c): quotes
 *   and backslashes escaped, control characters and DEL written as \u00XX, bytes that are
 *   not valid UTF-8 replaced by \ufffd, so that the output is valid JSON whatever the input.
 * - One-line text, for text and journald log lines (log.c) and configuration error
 *   messages (config.c): control characters but tab, DEL and bytes that are not valid
 *   UTF-8 written as \xNN, so that a newline in a quoted value cannot start a line of its
 *   own (a forged "<3>" journal line, or an error line without its file:line:column). */
#ifndef CW_JSON_ESCAPE_H
#define CW_JSON_ESCAPE_H

#include <stddef.h>

#define JSON_ESC_MAX 6 /* the longest output of json_escape_next: "\u00XX" or "\ufffd" */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not valid (overlong
 * forms, surrogates and code points above U+10FFFF are not). p is NUL-terminated; this
 * never reads past the NUL. */
int utf8_seq_len(const unsigned char *p);

/* Writes the escaped form of the character at *s (which is not the NUL) into out and
 * advances *s past it. Returns the number of bytes written, 1..JSON_ESC_MAX. Inline: the
 * alert payloads of a timer sweep call it for every character. */
static inline size_t json_escape_next(const char **s, char out[JSON_ESC_MAX])
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)*s;
    unsigned char ch = *p;
    if (ch == '"' || ch == '\\') {
        out[0] = '\\';
        out[1] = (char)ch;
        *s += 1;
        return 2;
    }
    if (ch < 0x20 || ch == 0x7f) {
        out[0] = '\\';
        out[1] = 'u';
        out[2] = '0';
        out[3] = '0';
        out[4] = hex[ch >> 4];
        out[5] = hex[ch & 0xf];
        *s += 1;
        return 6;
    }
    if (ch < 0x80) {
        out[0] = (char)ch;
        *s += 1;
        return 1;
    }
    int n = utf8_seq_len(p);
    if (n == 0) {
        for (int i = 0; i < 6; i++)
            out[i] = "\\ufffd"[i];
        *s += 1;
        return 6;
    }
    for (int i = 0; i < n; i++)
        out[i] = (char)p[i];
    *s += n;
    return (size_t)n;
}

#define TEXT_ESC_MAX 4 /* the longest output of text_escape_next: "\xNN" or a UTF-8 sequence */

/* Writes the one-line text form of the character at *s (which is not the NUL) into out and
 * advances *s past it. Returns the number of bytes written, 1..TEXT_ESC_MAX. */
size_t text_escape_next(const char **s, char out[TEXT_ESC_MAX]);

/* Escapes the NUL-terminated s into out (size > 0) as one-line text and NUL-terminates it;
 * a character whose form would not fit is left out with everything after it. Returns the
 * length written. */
size_t text_escape(char *out, size_t size, const char *s);

#endif
