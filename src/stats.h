/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HDRLOG_STATS_H
#define HDRLOG_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "record.h"

struct stats {
	struct hdrlog_counters kernel;	/* summed over CPUs */
	uint64_t written;		/* records every output took */
	uint64_t undecodable;		/* records of an unknown layout */
	uint64_t write_failed;		/* records an output failed to write */
};

/* The tcpdump-like summary printed at exit. */
void stats_print(const struct stats *s, FILE *f);

#endif
