// SPDX-License-Identifier: GPL-2.0-or-later
#include <endian.h>
#include <string.h>
#include <time.h>

#include "clock.h"

#define NSEC_PER_SEC	1000000000LL
#define CLOCK_SAMPLES	8

static inline int64_t ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

void clock_map_refresh(struct clock_map *c)
{
	int64_t best_width = INT64_MAX, best_offset = 0;
	struct timespec m0, rt, m1;
	int i;

	/*
	 * Bracket each realtime read between two monotonic reads; the
	 * narrowest bracket is the one least disturbed by preemption or
	 * interrupts, and its midpoint best estimates when realtime was read.
	 */
	for (i = 0; i < CLOCK_SAMPLES; i++) {
		int64_t width;

		clock_gettime(CLOCK_MONOTONIC, &m0);
		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &m1);
		width = ts_ns(&m1) - ts_ns(&m0);
		if (width < best_width) {
			best_width = width;
			best_offset = ts_ns(&rt) -
				      (ts_ns(&m0) + width / 2);
		}
	}
	c->offset_ns = best_offset;
}

static inline void put2(char *p, unsigned int v)
{
	p[0] = '0' + v / 10;
	p[1] = '0' + v % 10;
}

/* "YYYY-MM-DDTHH:MM:SS" for the last whole seconds formatted */
#define PREFIX_LEN 19
/*
 * A flow record has three times (now, its start and its end), each in
 * another second: with one slot each one took a gmtime_r (~50 ns, and
 * glibc's tz lock), ~150 ns a record. Slot by the second's low bits.
 */
#define CACHE_SLOTS 4

static struct {
	uint64_t sec;
	int valid;
	char text[PREFIX_LEN];
} cache[CACHE_SLOTS];

static void fill_prefix(unsigned int slot, uint64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	unsigned int year;
	char *p = cache[slot].text;

	gmtime_r(&t, &tm);
	/* uint64_t ns since 1970 stay below year 2555: 4 digits suffice. */
	year = tm.tm_year + 1900;
	put2(p, year / 100);
	put2(p + 2, year % 100);
	p[4] = '-';
	put2(p + 5, tm.tm_mon + 1);
	p[7] = '-';
	put2(p + 8, tm.tm_mday);
	p[10] = 'T';
	put2(p + 11, tm.tm_hour);
	p[13] = ':';
	put2(p + 14, tm.tm_min);
	p[16] = ':';
	put2(p + 17, tm.tm_sec);
	cache[slot].sec = sec;
	cache[slot].valid = 1;
}

/*
 * ".uuuuuuZ", the 8 bytes after the seconds, as one word: byte i in
 * memory is character i. Built in a register and stored once: put
 * byte by byte, the text read back whole (a copy of it) waited for the
 * stores to drain (store forwarding fails on a load that spans several
 * stores), the dearest part of a timestamp in the export profile.
 */
static inline uint64_t us_tail(unsigned int us)
{
	uint64_t v = '.' | (uint64_t)'Z' << 56;

	for (int i = 6; i >= 1; i--) {
		v |= (uint64_t)('0' + us % 10) << (8 * i);
		us /= 10;
	}
	return htole64(v);
}

size_t rfc3339_us(uint64_t realtime_ns, char *buf)
{
	uint64_t sec = realtime_ns / NSEC_PER_SEC;
	unsigned int us = (realtime_ns % NSEC_PER_SEC) / 1000; /* truncate */
	unsigned int slot = sec % CACHE_SLOTS;
	uint64_t tail = us_tail(us);

	if (!cache[slot].valid || cache[slot].sec != sec)
		fill_prefix(slot, sec);

	memcpy(buf, cache[slot].text, PREFIX_LEN);
	memcpy(buf + PREFIX_LEN, &tail, 8);
	buf[27] = '\0';
	return RFC3339_US_SIZE - 1;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t clock_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}
