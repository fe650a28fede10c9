/* fixtures.c — see fixtures.h. */
#include "fixtures.h"

#include <string.h>

#define FIXTURE_DAY 86400000LL

void fixture_config(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->watch_score = 20;
    cfg->alarm_score = 50;
    cfg->max_message_bytes = 65536;
    cfg->clock = CLOCK_EVENT;
    for (int r = 0; r < RULE__COUNT; r++) {
        for (int t = 0; t < TIER__COUNT; t++) {
            struct rule_params *p = &cfg->rules[r].tier[t];
            p->enabled = true;
            p->weight = r == RULE_ORDER_GAP || r == RULE_COMPLAINT_UNRESOLVED ? 30 : 20;
            p->factor = 3;
            p->min_orders = 3;
            p->duration_ms = (r == RULE_COMPLAINT_UNRESOLVED ? 7 : 30) * FIXTURE_DAY;
        }
    }
}
