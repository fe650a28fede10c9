/* fixtures.h — configurations several unit test files share (tests/unit/fixtures.c). */
#ifndef CW_TEST_FIXTURES_H
#define CW_TEST_FIXTURES_H

#include "config.h"

/* Every rule enabled, no repeats; weights 30 for order_gap and complaint_unresolved, 20 for
 * the others; factor 3, min_orders 3; durations 7 days for complaint_unresolved, 30 days
 * for the others; levels watch 20 / alarm 50; event clock; 64 KiB messages. */
void fixture_config(struct config *cfg);

#endif
