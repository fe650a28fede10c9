/* test_vec.c — vec_reserve, the array growth every module uses. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "vec.h"

Test(vec, grows_by_doubling_and_keeps_what_fits)
{
    size_t cap = 0;
    int *v = vec_reserve(NULL, &cap, 0, sizeof *v, 4);
    cr_assert_not_null(v, "an empty array still gets storage (NULL means ENOMEM)");
    cr_assert_eq(cap, 4);
    v[0] = 7;
    int *same = vec_reserve(v, &cap, 4, sizeof *v, 4);
    cr_assert_eq(same, v, "no realloc while it fits");
    v = vec_reserve(v, &cap, 5, sizeof *v, 4);
    cr_assert_not_null(v);
    cr_assert_eq(cap, 8);
    cr_assert_eq(v[0], 7, "contents kept");
    v = vec_reserve(v, &cap, 33, sizeof *v, 4);
    cr_assert_eq(cap, 64);
    size_t before = cap;
    cr_assert_null(vec_reserve(v, &cap, SIZE_MAX, sizeof *v, 4), "overflow is ENOMEM");
    cr_assert_eq(cap, before, "capacity unchanged on failure");
    free(v);
}
