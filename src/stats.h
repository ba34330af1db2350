/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HDRLOG_STATS_H
#define HDRLOG_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "options.h"
#include "record.h"

struct stats {
	struct hdrlog_counters kernel;	/* summed over CPUs */
	uint64_t written;		/* records the outputs took */
	uint64_t undecodable;		/* records of an unknown layout */
	uint64_t write_failed;		/* records an output failed to write */
};

/* The tcpdump-like summary, at exit and on SIGUSR1. */
void stats_print(const struct stats *s, const struct options *o, FILE *f);

#endif
