/* test_table.c — aligned text tables of the CLI (table.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static char *format(struct table *t, const char *indent)
{
    char *s = table_format(t, indent);
    cr_assert_not_null(s);
    return s;
}

Test(table, columns_are_padded_to_the_widest_cell)
{
    struct table t;
    cr_assert_eq(table_init(&t, 3), 0);
    cr_assert_eq(table_row(&t, "NAME", "SCORE", "LEVEL"), 0);
    cr_assert_eq(table_row(&t, "alice", "60.00", "alarm"), 0);
    cr_assert_eq(table_row(&t, "bo", "5", "ok"), 0);
    t.right[1] = true;
    char *s = format(&t, "");
    cr_assert_str_eq(s, "NAME   SCORE  LEVEL\n"
                        "alice  60.00  alarm\n"
                        "bo         5  ok\n");
    free(s);
    table_free(&t);
}

Test(table, no_line_ends_in_blanks_and_the_indent_is_kept)
{
    struct table t;
    table_init(&t, 2);
    table_row(&t, "key", "value");
    table_row(&t, "", "continued");
    table_row(&t, "longer key", "");
    char *s = format(&t, "  ");
    cr_assert_str_eq(s, "  key         value\n"
                        "              continued\n"
                        "  longer key\n");
    free(s);
    table_free(&t);
}

Test(table, widths_count_utf8_characters_not_bytes)
{
    struct table t;
    table_init(&t, 2);
    table_row(&t, "J\xc3\xbcrgen", "1"); /* Jürgen: 6 characters, 7 bytes */
    table_row(&t, "Daniel", "2");
    char *s = format(&t, "");
    cr_assert_str_eq(s, "J\xc3\xbcrgen  1\nDaniel  2\n");
    free(s);
    table_free(&t);
}

Test(table, empty_tables_and_bad_widths)
{
    struct table t;
    cr_assert_eq(table_init(&t, 0), -1);
    cr_assert_eq(table_init(&t, TABLE_MAX_COLS + 1), -1);
    cr_assert_eq(table_init(&t, 4), 0);
    char *s = format(&t, "  ");
    cr_assert_str_eq(s, "");
    free(s);
    const char *cells[4] = {"a", NULL, "c", "d"};
    cr_assert_eq(table_add(&t, cells), 0);
    s = format(&t, "");
    cr_assert_str_eq(s, "a    c  d\n");
    free(s);
    table_free(&t);
    table_free(NULL);
}
