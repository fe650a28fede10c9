/* table.h — aligned text tables for the CLI's human-readable output (churnwatch inspect,
 * top, silence --list). Columns are separated by two spaces and padded to the widest cell
 * (counted in UTF-8 characters); columns marked numeric are aligned right; the last
 * column is not padded, so no line ends in spaces. Pure: no I/O but the FILE it prints to. */
#ifndef CW_TABLE_H
#define CW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLS 16

struct table {
    size_t n_cols;
    bool right[TABLE_MAX_COLS]; /* align column i to the right (numbers) */
    char **cell;                /* owned: row-major, n_rows x n_cols copies */
    size_t n_rows, cap;
};

/* Starts an empty table of n_cols (1..TABLE_MAX_COLS) columns. Returns 0 or -1. */
int table_init(struct table *t, size_t n_cols);
/* Frees the cells (not `t` itself); the table is empty afterwards. Accepts NULL. */
void table_free(struct table *t);
/* Appends a row of n_cols cells (copied; NULL counts as ""). Returns 0 or -1 (ENOMEM). */
int table_add(struct table *t, const char *const *cells);
/* The same with the cells as arguments: exactly n_cols strings. */
int table_row(struct table *t, ...);
/* Returns the table as text, one line per row, each line starting with `indent`: a new
 * string the caller frees, or NULL on ENOMEM. An empty table gives "". */
char *table_format(const struct table *t, const char *indent);
/* Prints table_format's text to f. Returns 0 or -1. */
int table_print(const struct table *t, const char *indent, FILE *f);

#endif
