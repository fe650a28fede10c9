/* topic.c — per-topic field mapping: field names and the default JSON pointers. */
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const field_names[F__COUNT] = {
    [F_CUSTOMER_ID] = "customer_id",
    [F_TS] = "ts",
    [F_TYPE] = "type",
    [F_EVENT_ID] = "event_id",
    [F_ORDER_ID] = "order_id",
    [F_AMOUNT] = "amount",
    [F_CURRENCY] = "currency",
    [F_COMPLAINT_ID] = "complaint_id",
    [F_SEVERITY] = "severity",
    [F_CATEGORY] = "category",
    [F_TICKET_ID] = "ticket_id",
    [F_CHANNEL] = "channel",
    [F_SATISFACTION] = "satisfaction",
    [F_TIER] = "tier",
    [F_ACCOUNT_MANAGER] = "account_manager",
    [F_NAME] = "name",
};

const char *field_name(enum field_id f)
{
    return (unsigned)f < F__COUNT ? field_names[f] : "?";
}

int topic_config_init_default(struct topic_config *t, const char *name)
{
    memset(t, 0, sizeof *t);
    t->fixed_type = -1;
    t->name = strdup(name);
    if (t->name == NULL)
        return -1;
    for (int f = 0; f < F__COUNT; f++) {
        t->field[f].token[0] = strdup(field_names[f]);
        if (t->field[f].token[0] == NULL) {
            topic_config_clear(t);
            return -1;
        }
        t->field[f].depth = 1;
    }
    return 0;
}

void topic_config_clear(struct topic_config *t)
{
    free(t->name);
    t->name = NULL;
    for (int f = 0; f < F__COUNT; f++)
        json_pointer_clear(&t->field[f]);
}
