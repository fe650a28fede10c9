/* vec.h — growing an array by doubling, the one way every module does it. */
#ifndef CW_VEC_H
#define CW_VEC_H

#include <stddef.h>

/* Returns `items` (an array of elements of `size` bytes with capacity *cap) with room for at
 * least `need` elements: itself when it has it, else a realloc'd copy with the capacity
 * doubled from `min` (and *cap updated); never NULL but on ENOMEM (even for need 0, a
 * NULL `items` gets an allocation). On ENOMEM `items` is unchanged and still the
 * caller's. */
void *vec_reserve(void *items, size_t *cap, size_t need, size_t size, size_t min);

#endif
