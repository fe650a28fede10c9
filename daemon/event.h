/* event.h — one decoded input event (DESIGN.md §2), and the reasons a message is rejected.
 * A struct event is fixed-size: decoding allocates nothing that outlives the call. */
#ifndef CW_EVENT_H
#define CW_EVENT_H

#include <stdint.h>

#define CW_ID_MAX 128 /* customer_id and other ids: 1..128 bytes */
#define CW_TEXT_MAX 64 /* category, channel, currency, account_manager, name (truncated) */

enum event_type {
    EV_ORDER,
    EV_ORDER_CANCELLED,
    EV_COMPLAINT_OPENED,
    EV_COMPLAINT_RESOLVED,
    EV_COMPLAINT_REOPENED,
    EV_SUPPORT_OPENED,
    EV_SUPPORT_REPLIED,
    EV_SUPPORT_CLOSED,
    EV_CUSTOMER_UNSUBSCRIBED,
    EV_CUSTOMER_UPDATED,
    EV__COUNT
};

enum severity { SEV_NONE, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

enum tier { TIER_STANDARD, TIER_KEY, TIER_STRATEGIC, TIER__COUNT };

enum reject_reason {
    REJ_NONE,
    REJ_TOO_LARGE,     /* message exceeds limits.max_message_bytes */
    REJ_INVALID_JSON,  /* not valid JSON, or not an object */
    REJ_MISSING_FIELD, /* a required field is absent */
    REJ_WRONG_TYPE,    /* a field has the wrong JSON type */
    REJ_UNKNOWN_TYPE,  /* `type` is not one of DESIGN.md §2 */
    REJ_BAD_TIMESTAMP, /* `ts` cannot be parsed */
    REJ_BAD_VALUE,     /* a field is out of range (empty or >128-byte id, amount < 0, ...) */
    REJ__COUNT
};

struct event {
    enum event_type type;
    int64_t ts_ms; /* event time, epoch milliseconds UTC */
    char customer_id[CW_ID_MAX + 1];
    char event_id[CW_ID_MAX + 1]; /* "" when absent */
    /* order_id, complaint_id or ticket_id, by type; "" when the type has none */
    char ref_id[CW_ID_MAX + 1];
    double amount;        /* order, order.cancelled */
    enum severity severity; /* complaint.opened; SEV_NONE when absent */
    int satisfaction;     /* support.closed: 1..5, 0 when absent */
    int tier;             /* customer.updated: enum tier, or -1 when absent */
    char currency[CW_TEXT_MAX];
    char category[CW_TEXT_MAX]; /* complaint.opened */
    char channel[CW_TEXT_MAX];  /* support.opened */
    char account_manager[CW_TEXT_MAX]; /* customer.updated; "" when absent */
    char name[CW_TEXT_MAX];            /* customer.updated; "" when absent */
    unsigned has_account_manager : 1;
};

/* Names as they appear in events and configs ("order", "complaint.opened", ...). */
const char *event_type_name(enum event_type t);
/* Returns the type for `name`, or -1. */
int event_type_parse(const char *name);
/* Short snake_case name of a reject reason, used in logs and metrics ("invalid_json"). */
const char *reject_reason_name(enum reject_reason r);
const char *tier_name(enum tier t);
int tier_parse(const char *name); /* -1 if unknown */
const char *severity_name(enum severity s);
int severity_parse(const char *name); /* -1 if unknown */

#endif
