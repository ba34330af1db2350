/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HDRLOG_STATS_H
#define HDRLOG_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "options.h"
#include "record.h"

struct sink;

struct stats {
	struct hdrlog_counters kernel;	/* summed over CPUs */
	uint64_t undecodable;		/* records of an unknown layout */
	uint64_t filtered;		/* records the filter expression left out */
	const struct sink *const *sinks;	/* each counts its own */
	int n_sinks;
	const struct list_set *lists;	/* in force: their names; or NULL */
};

/* The tcpdump-like summary, at exit and on SIGUSR1. */
void stats_print(const struct stats *s, const struct options *o, FILE *f);

/*
 * One short line for a service manager's status (systemctl status):
 * records written, lost and frames dropped.
 */
void stats_status(const struct stats *s, char *buf, size_t size);

#endif
