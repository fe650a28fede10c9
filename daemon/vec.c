/* vec.c — see vec.h. */
#include "vec.h"

#include <stdint.h>
#include <stdlib.h>

void *vec_reserve(void *items, size_t *cap, size_t need, size_t size, size_t min)
{
    if (need <= *cap && items != NULL)
        return items;
    size_t n = *cap ? *cap : (min ? min : 1);
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / size)
        return NULL;
    void *grown = realloc(items, n * size);
    if (grown != NULL)
        *cap = n;
    return grown;
}
