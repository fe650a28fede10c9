/* table.c — see table.h. */
#include "table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

int table_init(struct table *t, size_t n_cols)
{
    memset(t, 0, sizeof *t);
    if (n_cols == 0 || n_cols > TABLE_MAX_COLS)
        return -1;
    t->n_cols = n_cols;
    return 0;
}

void table_free(struct table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cell[i]);
    free(t->cell);
    size_t n_cols = t->n_cols;
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
}

int table_add(struct table *t, const char *const *cells)
{
    size_t at = t->n_rows * t->n_cols;
    char **grown = vec_reserve(t->cell, &t->cap, at + t->n_cols, sizeof *grown, 64);
    if (grown == NULL)
        return -1;
    t->cell = grown;
    for (size_t i = 0; i < t->n_cols; i++) {
        t->cell[at + i] = strdup(cells[i] ? cells[i] : "");
        if (t->cell[at + i] == NULL) {
            while (i-- > 0)
                free(t->cell[at + i]);
            return -1;
        }
    }
    t->n_rows++;
    return 0;
}

int table_row(struct table *t, ...)
{
    const char *cells[TABLE_MAX_COLS];
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->n_cols; i++)
        cells[i] = va_arg(ap, const char *);
    va_end(ap);
    return table_add(t, cells);
}

/* Characters in a UTF-8 string: every byte but continuation bytes. */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

char *table_format(const struct table *t, const char *indent)
{
    size_t width[TABLE_MAX_COLS] = {0};
    size_t total = 1;
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *s = t->cell[r * t->n_cols + c];
            size_t w = text_width(s);
            if (w > width[c])
                width[c] = w;
            total += strlen(s);
        }
    size_t line = strlen(indent) + 1;
    for (size_t c = 0; c < t->n_cols; c++)
        line += width[c] + 2;
    total += t->n_rows * line;
    char *out = malloc(total), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t r = 0; r < t->n_rows; r++) {
        char *start = o;
        o += sprintf(o, "%s", indent);
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *s = t->cell[r * t->n_cols + c];
            size_t pad = width[c] - text_width(s);
            bool last = c + 1 == t->n_cols;
            if (t->right[c]) {
                memset(o, ' ', pad);
                o += pad;
            }
            o += sprintf(o, "%s", s);
            if (!t->right[c] && !last) {
                memset(o, ' ', pad);
                o += pad;
            }
            if (!last)
                o += sprintf(o, "  ");
        }
        while (o > start && o[-1] == ' ') /* empty last cells leave no trailing blanks */
            o--;
        *o++ = '\n';
    }
    *o = '\0';
    return out;
}

int table_print(const struct table *t, const char *indent, FILE *f)
{
    char *s = table_format(t, indent);
    if (s == NULL)
        return -1;
    int rc = fputs(s, f) < 0 ? -1 : 0;
    free(s);
    return rc;
}
