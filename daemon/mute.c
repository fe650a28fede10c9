/* mute.c — see mute.h. */
#include "mute.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vec.h"

static void no_memory(void)
{
    log_error("out of memory keeping a silence or an acknowledgement; aborting");
    abort();
}

static void record_clear(struct mute_record *r)
{
    for (size_t i = 0; i < r->n_held; i++)
        free(r->held[i]);
    free(r->held);
    free(r->unseen);
    r->held = NULL;
    r->unseen = NULL;
    r->n_held = r->cap_held = r->n_unseen = r->cap_unseen = 0;
}

static void silences_free(struct mute_silence *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i].raw);
    free(s);
}

void mute_set_free(struct mute_set *m)
{
    if (m == NULL)
        return;
    silences_free(m->sil, m->n_sil);
    free(m->ack);
    for (size_t i = 0; i < m->n_rec; i++)
        record_clear(&m->rec[i]);
    free(m->rec);
    free(m->ack_del);
    memset(m, 0, sizeof *m);
}

bool mute_any(const struct mute_set *m)
{
    return m->n_sil > 0 || m->n_ack > 0 || m->n_rec > 0;
}

/* ---- values ---- */

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* A JSON object's member as epoch ms: a finite number within int64. */
static int get_ms(const cJSON *obj, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 9.0e15)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

static const char *get_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Prints obj (which this deletes) unformatted: a malloc'd string, or NULL. */
static char *print_delete(cJSON *obj)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (s == NULL)
        return NULL;
    char *copy = strdup(s); /* the caller frees with free(), not cJSON_free */
    cJSON_free(s);
    return copy;
}

char *mute_silence_value(int64_t until_ms, int64_t at_ms, const char *note)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddNumberToObject(o, "until", (double)until_ms) ||
        !cJSON_AddNumberToObject(o, "at", (double)at_ms) ||
        !cJSON_AddStringToObject(o, "note", note ? note : "")) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_delete(o);
}

char *mute_ack_value(const char *customer, const char *rule, int64_t at_ms, const char *note)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddStringToObject(o, "customer", customer) ||
        !cJSON_AddStringToObject(o, "rule", rule) ||
        !cJSON_AddNumberToObject(o, "at", (double)at_ms) ||
        !cJSON_AddStringToObject(o, "note", note ? note : "")) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_delete(o);
}

int mute_silence_parse(const char *customer, const char *value, size_t len,
                       struct mute_silence *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(customer) == 0 || strlen(customer) > CW_ID_MAX)
        return -1;
    cJSON *o = cJSON_ParseWithLength(value, len);
    int rc = -1;
    if (cJSON_IsObject(o) && get_ms(o, "until", &out->until_ms) == 0) {
        if (get_ms(o, "at", &out->at_ms) < 0)
            out->at_ms = 0;
        copy_text(out->customer, sizeof out->customer, customer);
        copy_text(out->note, sizeof out->note, get_str(o, "note"));
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

int mute_ack_parse(const char *alert_id, const char *value, size_t len, struct mute_ack *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(alert_id) != CW_ALERT_ID_LEN)
        return -1;
    cJSON *o = cJSON_ParseWithLength(value, len);
    int rc = -1;
    const char *customer = cJSON_IsObject(o) ? get_str(o, "customer") : NULL;
    if (customer != NULL && strlen(customer) <= CW_ID_MAX) {
        copy_text(out->alert_id, sizeof out->alert_id, alert_id);
        copy_text(out->customer, sizeof out->customer, customer);
        copy_text(out->rule, sizeof out->rule, get_str(o, "rule"));
        copy_text(out->note, sizeof out->note, get_str(o, "note"));
        if (get_ms(o, "at", &out->at_ms) < 0)
            out->at_ms = 0;
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

/* ---- the set ---- */

const struct mute_silence *mute_silence_find(const struct mute_set *m, const char *customer)
{
    for (size_t i = 0; i < m->n_sil; i++)
        if (strcmp(m->sil[i].customer, customer) == 0)
            return &m->sil[i];
    return NULL;
}

const struct mute_ack *mute_ack_find(const struct mute_set *m, const char *alert_id)
{
    for (size_t i = 0; i < m->n_ack; i++)
        if (strcmp(m->ack[i].alert_id, alert_id) == 0)
            return &m->ack[i];
    return NULL;
}

struct mute_record *mute_record_find(struct mute_set *m, const char *customer)
{
    for (size_t i = 0; i < m->n_rec; i++)
        if (!m->rec[i].deleted && strcmp(m->rec[i].customer, customer) == 0)
            return &m->rec[i];
    return NULL;
}

void mute_replace(struct mute_set *m, struct mute_silence *sil, size_t n_sil, struct mute_ack *ack,
                  size_t n_ack)
{
    for (size_t i = 0; i < m->n_sil; i++) {
        if (!m->sil[i].ending)
            continue;
        for (size_t j = 0; j < n_sil; j++)
            if (strcmp(sil[j].customer, m->sil[i].customer) == 0 && sil[j].raw && m->sil[i].raw &&
                strcmp(sil[j].raw, m->sil[i].raw) == 0)
                sil[j].ending = true;
    }
    silences_free(m->sil, m->n_sil);
    free(m->ack);
    m->sil = sil;
    m->n_sil = n_sil;
    m->ack = ack;
    m->n_ack = n_ack;
}

static struct mute_record *record_add(struct mute_set *m, const char *customer)
{
    struct mute_record *r = vec_reserve(m->rec, &m->cap_rec, m->n_rec + 1, sizeof *r, 8);
    if (r == NULL)
        return NULL;
    m->rec = r;
    r = &m->rec[m->n_rec++];
    memset(r, 0, sizeof *r);
    copy_text(r->customer, sizeof r->customer, customer);
    return r;
}

static int record_add_unseen(struct mute_record *r, const char *alert_id)
{
    char(*u)[CW_ALERT_ID_LEN + 1] =
        vec_reserve(r->unseen, &r->cap_unseen, r->n_unseen + 1, sizeof *u, 4);
    if (u == NULL)
        return -1;
    r->unseen = u;
    copy_text(r->unseen[r->n_unseen++], sizeof r->unseen[0], alert_id);
    return 0;
}

static int record_add_held(struct mute_record *r, const char *json, size_t len)
{
    char **h = vec_reserve(r->held, &r->cap_held, r->n_held + 1, sizeof *h, 4);
    if (h == NULL)
        return -1;
    r->held = h;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, json, len);
    copy[len] = '\0';
    r->held[r->n_held++] = copy;
    return 0;
}

int mute_record_load(struct mute_set *m, const char *customer, const char *value, size_t len)
{
    if (strlen(customer) == 0 || strlen(customer) > CW_ID_MAX)
        return -1;
    cJSON *o = cJSON_ParseWithLength(value, len);
    const cJSON *unseen = cJSON_GetObjectItemCaseSensitive(o, "unseen");
    const cJSON *held = cJSON_GetObjectItemCaseSensitive(o, "held");
    int rc = -1;
    struct mute_record *r = NULL;
    if (cJSON_IsObject(o) && cJSON_IsArray(unseen) && cJSON_IsArray(held) &&
        (r = record_add(m, customer)) != NULL) {
        rc = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, unseen)
        {
            if (!cJSON_IsString(e) || strlen(e->valuestring) != CW_ALERT_ID_LEN ||
                record_add_unseen(r, e->valuestring) < 0)
                rc = -1;
        }
        cJSON_ArrayForEach(e, held)
        {
            if (!cJSON_IsString(e) ||
                record_add_held(r, e->valuestring, strlen(e->valuestring)) < 0)
                rc = -1;
        }
        if (rc < 0) {
            record_clear(r);
            m->n_rec--;
        }
    }
    cJSON_Delete(o);
    return rc;
}

char *mute_record_value(const struct mute_record *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *unseen = cJSON_AddArrayToObject(o, "unseen");
    cJSON *held = cJSON_AddArrayToObject(o, "held");
    if (o == NULL || unseen == NULL || held == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    for (size_t i = 0; i < r->n_unseen; i++)
        if (!cJSON_AddItemToArray(unseen, cJSON_CreateString(r->unseen[i]))) {
            cJSON_Delete(o);
            return NULL;
        }
    for (size_t i = 0; i < r->n_held; i++)
        if (!cJSON_AddItemToArray(held, cJSON_CreateString(r->held[i]))) {
            cJSON_Delete(o);
            return NULL;
        }
    return print_delete(o);
}

static bool silenced(const struct mute_set *m, const char *customer, int64_t now_ms)
{
    const struct mute_silence *s = mute_silence_find(m, customer);
    return s != NULL && !s->ending && s->until_ms > now_ms;
}

static struct mute_record *record_get(struct mute_set *m, const char *customer)
{
    struct mute_record *r = mute_record_find(m, customer);
    if (r == NULL && (r = record_add(m, customer)) == NULL)
        no_memory();
    r->dirty = true;
    return r;
}

static int unseen_index(const struct mute_record *r, const char *alert_id)
{
    for (size_t i = 0; r != NULL && i < r->n_unseen; i++)
        if (strcmp(r->unseen[i], alert_id) == 0)
            return (int)i;
    return -1;
}

bool mute_unseen(const struct mute_set *m, const char *customer, const char *alert_id)
{
    for (size_t i = 0; i < m->n_rec; i++)
        if (strcmp(m->rec[i].customer, customer) == 0 && unseen_index(&m->rec[i], alert_id) >= 0)
            return true;
    return false;
}

/* The episode resolved: its acknowledgement, if any, goes with the next commit. */
static void ack_forget(struct mute_set *m, const char *alert_id)
{
    for (size_t i = 0; i < m->n_ack; i++) {
        if (strcmp(m->ack[i].alert_id, alert_id) != 0)
            continue;
        char(*d)[CW_ALERT_ID_LEN + 1] =
            vec_reserve(m->ack_del, &m->cap_ack_del, m->n_ack_del + 1, sizeof *d, 8);
        if (d == NULL)
            no_memory();
        m->ack_del = d;
        copy_text(m->ack_del[m->n_ack_del++], sizeof m->ack_del[0], alert_id);
        m->ack[i] = m->ack[--m->n_ack];
        return;
    }
}

enum mute_verdict mute_decide(struct mute_set *m, const char *customer, const struct notice *n,
                              const char *alert_id, int64_t now_ms)
{
    if (!mute_any(m))
        return MUTE_SEND;
    if (!n->firing)
        ack_forget(m, alert_id);
    if (silenced(m, customer, now_ms)) {
        if (n->firing) {
            if (!n->repeat) { /* a new episode the sinks will not hear of */
                struct mute_record *r = record_get(m, customer);
                if (unseen_index(r, alert_id) < 0 && record_add_unseen(r, alert_id) < 0)
                    no_memory();
            }
            return MUTE_DROP;
        }
        struct mute_record *r = mute_record_find(m, customer);
        int i = unseen_index(r, alert_id);
        if (i < 0)
            return MUTE_HOLD;
        /* it began and ended unheard */
        memmove(r->unseen[i], r->unseen[--r->n_unseen], sizeof r->unseen[i]);
        r->dirty = true;
        return MUTE_DROP;
    }
    if (n->firing && n->repeat && n->escalation == 0 && mute_ack_find(m, alert_id) != NULL)
        return MUTE_DROP;
    return MUTE_SEND;
}

void mute_hold(struct mute_set *m, const char *customer, const char *json, size_t len)
{
    if (record_add_held(record_get(m, customer), json, len) < 0)
        no_memory();
}

size_t mute_due_ends(const struct mute_set *m, int64_t now_ms, char (*ids)[CW_ID_MAX + 1],
                     size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_sil && n < max; i++)
        if (!m->sil[i].ending && m->sil[i].until_ms <= now_ms)
            copy_text(ids[n++], sizeof ids[0], m->sil[i].customer);
    for (size_t i = 0; i < m->n_rec && n < max; i++)
        if (!m->rec[i].deleted && mute_silence_find(m, m->rec[i].customer) == NULL)
            copy_text(ids[n++], sizeof ids[0], m->rec[i].customer);
    return n;
}

void mute_end(struct mute_set *m, const char *customer, char *const **held, size_t *n_held)
{
    *held = NULL;
    *n_held = 0;
    struct mute_record *r = mute_record_find(m, customer);
    if (r != NULL) {
        r->deleted = true;
        *held = r->held;
        *n_held = r->n_held;
    }
    for (size_t i = 0; i < m->n_sil; i++)
        if (strcmp(m->sil[i].customer, customer) == 0)
            m->sil[i].ending = true;
}

void mute_committed(struct mute_set *m)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n_rec; i++) {
        if (m->rec[i].deleted) {
            record_clear(&m->rec[i]);
            continue;
        }
        m->rec[i].dirty = false;
        m->rec[k++] = m->rec[i];
    }
    m->n_rec = k;
    k = 0;
    for (size_t i = 0; i < m->n_sil; i++) {
        if (m->sil[i].ending) {
            free(m->sil[i].raw);
            continue;
        }
        m->sil[k++] = m->sil[i];
    }
    m->n_sil = k;
    m->n_ack_del = 0;
}
