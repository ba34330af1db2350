/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel monotonic time to wall-clock UTC, and RFC 3339 text. */
#ifndef HDRLOG_CLOCK_H
#define HDRLOG_CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct clock_map {
	int64_t offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
};

/*
 * Measure the offset between the two clocks; call again now and then to
 * follow NTP steps and slewing.
 */
void clock_map_refresh(struct clock_map *c);

static inline uint64_t clock_map_realtime(const struct clock_map *c,
					  uint64_t mono_ns)
{
	return mono_ns + c->offset_ns;
}

/* Now, in ns: CLOCK_MONOTONIC for intervals, CLOCK_REALTIME for the wall. */
uint64_t clock_mono_ns(void);
uint64_t clock_real_ns(void);

#define RFC3339_US_SIZE 28	/* "2026-11-26T16:01:02.123456Z" + NUL */

/* Write ns since the epoch as RFC 3339 UTC with microseconds; returns 27. */
size_t rfc3339_us(uint64_t realtime_ns, char *buf);

#endif
