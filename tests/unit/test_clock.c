// SPDX-License-Identifier: GPL-2.0-or-later
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

#define NS	1000000000ULL

static void check_ts(uint64_t ns, const char *want)
{
	char buf[RFC3339_US_SIZE + 4];

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(rfc3339_us(ns, buf), RFC3339_US_SIZE - 1);
	assert_string_equal(buf, want);
	assert_int_equal((unsigned char)buf[RFC3339_US_SIZE], 0x5a);
}

static void test_epoch(void **state)
{
	(void)state;
	check_ts(0, "1970-01-01T00:00:00.000000Z");
	check_ts(999, "1970-01-01T00:00:00.000000Z");
	check_ts(1000, "1970-01-01T00:00:00.000001Z");
}

static void test_known_instants(void **state)
{
	(void)state;
	check_ts(1795708862 * NS + 123456789, "2026-11-26T16:01:02.123456Z");
	/* leap days, including the 400-year rule */
	check_ts(1709210096 * NS + 500000, "2024-02-29T12:34:56.000500Z");
	check_ts(951782400 * NS, "2000-02-29T00:00:00.000000Z");
	check_ts(4107542400 * NS - 1, "2100-02-28T23:59:59.999999Z");
	check_ts(4107542400 * NS, "2100-03-01T00:00:00.000000Z");
	/* past 32-bit time_t */
	check_ts(2147483648 * NS + 7000, "2038-01-19T03:14:08.000007Z");
}

static void test_end_of_year(void **state)
{
	(void)state;
	check_ts(1704067199 * NS + 999999999, "2023-12-31T23:59:59.999999Z");
	check_ts(1704067200 * NS, "2024-01-01T00:00:00.000000Z");
	check_ts(1704067200 * NS - 1, "2023-12-31T23:59:59.999999Z");
}

static void test_truncation(void **state)
{
	uint64_t base = 1795708862 * NS;

	(void)state;
	/* never rounded up, not even into the next second */
	check_ts(base + 999999999, "2026-11-26T16:01:02.999999Z");
	check_ts(base + 123456999, "2026-11-26T16:01:02.123456Z");
	check_ts(base + 1999, "2026-11-26T16:01:02.000001Z");
	check_ts(base + 10000, "2026-11-26T16:01:02.000010Z");
	check_ts(base + 100000000, "2026-11-26T16:01:02.100000Z");
}

/* The cached prefix must follow the second both ways, and repeat. */
static void test_cache_changes(void **state)
{
	uint64_t base = 1795708862 * NS;

	(void)state;
	check_ts(base + 1, "2026-11-26T16:01:02.000000Z");
	check_ts(base + 2, "2026-11-26T16:01:02.000000Z");
	check_ts(base + NS, "2026-11-26T16:01:03.000000Z");
	check_ts(base + 5, "2026-11-26T16:01:02.000000Z");
	check_ts(base + 58 * NS, "2026-11-26T16:02:00.000000Z");
	check_ts(base + 86400 * NS, "2026-11-27T16:01:02.000000Z");
	check_ts(base + 86400 * NS + 42000, "2026-11-27T16:01:02.000042Z");
	check_ts(0, "1970-01-01T00:00:00.000000Z");
	check_ts(base, "2026-11-26T16:01:02.000000Z");
	/* a flow record's three seconds, interleaved, and one in a used slot */
	for (int i = 0; i < 2; i++) {
		check_ts(base + 3 * NS, "2026-11-26T16:01:05.000000Z");
		check_ts(base + 1 * NS, "2026-11-26T16:01:03.000000Z");
		check_ts(base + 2 * NS, "2026-11-26T16:01:04.000000Z");
		check_ts(base, "2026-11-26T16:01:02.000000Z");
	}
	check_ts(base + 4 * NS, "2026-11-26T16:01:06.000000Z");
	check_ts(base, "2026-11-26T16:01:02.000000Z");
	check_ts(base + 4 * NS + 7000, "2026-11-26T16:01:06.000007Z");
}

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * (int64_t)NS + ts.tv_nsec;
}

static void test_refresh_offset(void **state)
{
	struct clock_map c = { 0 };
	int64_t mono, real, diff;
	char buf[RFC3339_US_SIZE];

	(void)state;
	clock_map_refresh(&c);
	mono = now_ns(CLOCK_MONOTONIC);
	real = now_ns(CLOCK_REALTIME);
	diff = real - mono - c.offset_ns;
	if (diff < 0)
		diff = -diff;
	assert_true(diff < 1000000);

	/* the mapping itself agrees too */
	diff = (int64_t)clock_map_realtime(&c, mono) - real;
	assert_true(diff > -1000000 && diff < 1000000);
	assert_int_equal(rfc3339_us(clock_map_realtime(&c, mono), buf), 27);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_known_instants),
		cmocka_unit_test(test_end_of_year),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_cache_changes),
		cmocka_unit_test(test_refresh_offset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
