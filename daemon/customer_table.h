/* customer_table.h — an in-memory hash table of customers keyed by customer_id: the
 * in-memory store of replay, and the per-partition cache of churnwatchd. The table owns
 * its customers; pointers stay valid until the customer is removed or the table freed. */
#ifndef CW_CUSTOMER_TABLE_H
#define CW_CUSTOMER_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "customer.h"

struct customer_table;

struct customer_table *customer_table_new(void);
void customer_table_free(struct customer_table *t); /* accepts NULL */
/* Returns the customer with `id`, or NULL. */
struct customer *customer_table_find(struct customer_table *t, const char *id);
/* Returns the customer with `id`, inserting a fresh one (customer_init) if absent;
 * *created tells which. NULL on ENOMEM. */
struct customer *customer_table_upsert(struct customer_table *t, const char *id, bool *created);
void customer_table_remove(struct customer_table *t, const char *id);
size_t customer_table_count(const struct customer_table *t);
/* Calls fn for every customer, in an unspecified but deterministic order. */
void customer_table_each(struct customer_table *t, void (*fn)(void *ctx, struct customer *c),
                         void *ctx);

#endif
