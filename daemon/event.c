/* event.c — names of event types, reject reasons, tiers, severities and rules. */
#include "event.h"

#include <string.h>

#include "config.h"

static const char *const event_type_names[EV__COUNT] = {
    [EV_ORDER] = "order",
    [EV_ORDER_CANCELLED] = "order.cancelled",
    [EV_COMPLAINT_OPENED] = "complaint.opened",
    [EV_COMPLAINT_RESOLVED] = "complaint.resolved",
    [EV_COMPLAINT_REOPENED] = "complaint.reopened",
    [EV_SUPPORT_OPENED] = "support.opened",
    [EV_SUPPORT_REPLIED] = "support.replied",
    [EV_SUPPORT_CLOSED] = "support.closed",
    [EV_CUSTOMER_UNSUBSCRIBED] = "customer.unsubscribed",
    [EV_CUSTOMER_UPDATED] = "customer.updated",
};

static const char *const reject_reason_names[REJ__COUNT] = {
    [REJ_NONE] = "none",
    [REJ_TOO_LARGE] = "too_large",
    [REJ_INVALID_JSON] = "invalid_json",
    [REJ_MISSING_FIELD] = "missing_field",
    [REJ_WRONG_TYPE] = "wrong_type",
    [REJ_UNKNOWN_TYPE] = "unknown_type",
    [REJ_BAD_TIMESTAMP] = "bad_timestamp",
    [REJ_BAD_VALUE] = "bad_value",
};

static const char *const tier_names[TIER__COUNT] = {
    [TIER_STANDARD] = "standard",
    [TIER_KEY] = "key",
    [TIER_STRATEGIC] = "strategic",
};

static const char *const severity_names[] = {
    [SEV_NONE] = "none", [SEV_LOW] = "low",           [SEV_MEDIUM] = "medium",
    [SEV_HIGH] = "high", [SEV_CRITICAL] = "critical",
};

static const char *const rule_names[RULE__COUNT] = {
    [RULE_ORDER_GAP] = "order_gap",
    [RULE_FIRST_REPEAT_OVERDUE] = "first_repeat_overdue",
    [RULE_SPEND_DROP] = "spend_drop",
    [RULE_COMPLAINT_UNRESOLVED] = "complaint_unresolved",
    [RULE_OPEN_COMPLAINTS] = "open_complaints",
    [RULE_COMPLAINT_REOPENED] = "complaint_reopened",
    [RULE_SUPPORT_UNANSWERED] = "support_unanswered",
    [RULE_LOW_SATISFACTION] = "low_satisfaction",
    [RULE_UNSUBSCRIBED] = "unsubscribed",
    [RULE_MANAGER_CHANGED] = "manager_changed",
};

static int name_lookup(const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *event_type_name(enum event_type t)
{
    return (unsigned)t < EV__COUNT ? event_type_names[t] : "?";
}

int event_type_parse(const char *name)
{
    return name_lookup(event_type_names, EV__COUNT, name);
}

const char *reject_reason_name(enum reject_reason r)
{
    return (unsigned)r < REJ__COUNT ? reject_reason_names[r] : "?";
}

const char *tier_name(enum tier t)
{
    return (unsigned)t < TIER__COUNT ? tier_names[t] : "?";
}

int tier_parse(const char *name)
{
    return name_lookup(tier_names, TIER__COUNT, name);
}

const char *severity_name(enum severity s)
{
    return (unsigned)s <= SEV_CRITICAL ? severity_names[s] : "?";
}

int severity_parse(const char *name)
{
    int s = name_lookup(severity_names, SEV_CRITICAL + 1, name);
    return s == SEV_NONE ? -1 : s;
}

const char *rule_name(enum rule_id r)
{
    return (unsigned)r < RULE__COUNT ? rule_names[r] : "?";
}

int rule_parse(const char *name)
{
    return name_lookup(rule_names, RULE__COUNT, name);
}
