/* am_alert.c — see am_alert.h. */
#include "am_alert.h"

#include <stdio.h>
#include <string.h>

#include "decode.h"

static const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
}

/* "a,b,c" from an array of strings; NULL when it is not one or memory runs out. */
static char *join_signals(const cJSON *arr)
{
    size_t len = 1;
    const cJSON *s;
    cJSON_ArrayForEach(s, arr)
    {
        if (!cJSON_IsString(s))
            return NULL;
        len += strlen(s->valuestring) + 1;
    }
    char *out = cJSON_malloc(len), *o = out;
    if (out == NULL)
        return NULL;
    *o = '\0';
    cJSON_ArrayForEach(s, arr)
    {
        size_t n = strlen(s->valuestring);
        if (o != out)
            *o++ = ',';
        memcpy(o, s->valuestring, n);
        o += n;
        *o = '\0';
    }
    return out;
}

int am_notice_parse(const char *json, size_t len, const char *generator_url, struct am_notice *out,
                    const char **why)
{
    memset(out, 0, sizeof *out);
    cJSON *n = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(n)) {
        cJSON_Delete(n);
        *why = "not a JSON object";
        return -1;
    }
    const char *id = str_field(n, "alert_id"), *customer = str_field(n, "customer_id");
    const char *rule = str_field(n, "rule"), *status = str_field(n, "status");
    const char *level = str_field(n, "level"), *tier = str_field(n, "tier");
    const char *started = str_field(n, "started_at"), *ts = str_field(n, "ts");
    const char *summary = str_field(n, "summary"), *action = str_field(n, "action");
    const cJSON *evidence = cJSON_GetObjectItemCaseSensitive(n, "evidence");
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(n, "score");
    const cJSON *signals = cJSON_GetObjectItemCaseSensitive(n, "signals");
    int64_t started_ms, ts_ms;
    *why = NULL;
    if (id == NULL || strlen(id) != CW_ALERT_ID_LEN)
        *why = "no alert_id";
    else if (customer == NULL || rule == NULL || level == NULL || tier == NULL)
        *why = "no customer_id, rule, level or tier";
    else if (status == NULL || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0))
        *why = "no status firing or resolved";
    else if (started == NULL || decode_rfc3339(started, strlen(started), &started_ms) < 0 ||
             ts == NULL || decode_rfc3339(ts, strlen(ts), &ts_ms) < 0)
        *why = "no valid started_at or ts";
    if (*why != NULL) {
        cJSON_Delete(n);
        return -1;
    }
    memcpy(out->alert_id, id, CW_ALERT_ID_LEN + 1);
    out->firing = strcmp(status, "firing") == 0;
    out->resolved_ms = out->firing ? 0 : ts_ms;

    cJSON *a = cJSON_CreateObject();
    cJSON *labels = cJSON_AddObjectToObject(a, "labels");
    cJSON *ann = cJSON_AddObjectToObject(a, "annotations");
    bool ok = labels && ann && cJSON_AddStringToObject(labels, "alertname", rule) &&
              cJSON_AddStringToObject(labels, "customer_id", customer) &&
              cJSON_AddStringToObject(labels, "tier", tier) &&
              cJSON_AddStringToObject(labels, "severity", level) &&
              cJSON_AddStringToObject(labels, "source", "churnwatch");
    if (ok && summary)
        ok = cJSON_AddStringToObject(ann, "summary", summary) != NULL;
    if (ok && cJSON_IsObject(evidence)) {
        char *text = cJSON_PrintUnformatted(evidence);
        ok = text && cJSON_AddStringToObject(ann, "evidence", text);
        cJSON_free(text);
    }
    if (ok && action && out->firing)
        ok = cJSON_AddStringToObject(ann, "action", action) != NULL;
    if (ok)
        ok = cJSON_AddStringToObject(ann, "alert_id", id) != NULL;
    if (ok && cJSON_IsNumber(score)) {
        char num[32];
        snprintf(num, sizeof num, "%.15g", score->valuedouble);
        ok = cJSON_AddStringToObject(ann, "score", num) != NULL;
    }
    if (ok && cJSON_IsArray(signals)) {
        char *list = join_signals(signals);
        ok = list && cJSON_AddStringToObject(ann, "signals", list);
        cJSON_free(list);
    }
    if (ok)
        ok = cJSON_AddStringToObject(a, "startsAt", started) != NULL;
    if (ok && generator_url)
        ok = cJSON_AddStringToObject(a, "generatorURL", generator_url) != NULL;
    cJSON_Delete(n);
    if (!ok) {
        cJSON_Delete(a);
        *why = "out of memory";
        return -1;
    }
    out->alert = a;
    return 0;
}

void am_notice_clear(struct am_notice *n)
{
    cJSON_Delete(n->alert);
    n->alert = NULL;
}

int am_alert_set_ends(cJSON *alert, int64_t ends_ms)
{
    const char *starts = str_field(alert, "startsAt");
    int64_t starts_ms;
    char text[32];
    if (starts == NULL || decode_rfc3339(starts, strlen(starts), &starts_ms) < 0)
        return -1;
    format_rfc3339(ends_ms > starts_ms ? ends_ms : starts_ms, text);
    cJSON *v = cJSON_CreateString(text);
    if (v == NULL)
        return -1;
    if (cJSON_HasObjectItem(alert, "endsAt"))
        return cJSON_ReplaceItemInObjectCaseSensitive(alert, "endsAt", v) ? 0 : -1;
    if (!cJSON_AddItemToObject(alert, "endsAt", v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}
