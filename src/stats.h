/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HDRLOG_STATS_H
#define HDRLOG_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "options.h"
#include "record.h"
#include "respond.h"

struct sink;

/* One interface's counters, each way (index: enum hdrlog_direction - 1). */
struct stats_iface {
	const char *name;
	struct hdrlog_iface_counters way[2];	/* outgoing, incoming */
};

struct stats {
	struct hdrlog_counters kernel;	/* summed over CPUs */
	struct stats_iface ifaces[MAX_IFACES];	/* those captured on */
	int n_ifaces;
	uint64_t uptime_ns;		/* since the start */
	uint64_t ring_bytes;		/* in the ring buffer, not yet read */
	uint64_t ring_size;
	uint64_t undecodable;		/* records of an unknown layout */
	uint64_t filtered;		/* records the filter expression left out */
	uint64_t flows_exported[6];	/* --log flows: by enum flow_end_reason */
	const struct sink *const *sinks;	/* each counts its own */
	int n_sinks;
	const struct list_set *lists;	/* in force: their names; or NULL */
	const struct respond_config *respond;	/* --respond; or NULL */
	struct respond_stats respond_stats;
};

/*
 * Every counter as a metric: the one description each has (name, help,
 * where it goes in a stats record), shared by the stats record and the
 * Prometheus exposition (metrics.c).
 */
enum metric_type {
	METRIC_COUNTER,		/* only goes up: Prometheus name ends in _total */
	METRIC_GAUGE,
};

#define METRIC_LABELS	2

struct metric {
	const char *name;	/* Prometheus name */
	enum metric_type type;
	const char *help;
	/*
	 * In the stats record: stats.GROUP.KEY, or with labels
	 * stats.GROUP.LABEL0[.LABEL1].KEY (the labels' values); no group:
	 * stats.KEY.
	 */
	const char *group;
	const char *key;
	const char *label[METRIC_LABELS];	/* label names; NULL: fewer */
};

/*
 * Called once per value, in an order where the samples of one stats
 * record object (group and label values) come together; label holds the
 * values of m's labels.
 */
typedef void (*metric_emit_fn)(void *ctx, const struct metric *m,
			       const char *const *label, uint64_t value);

/* Walk every counter that applies to this run (o) once. */
void stats_walk(const struct stats *s, const struct options *o,
		metric_emit_fn emit, void *ctx);

/* The metrics stats_walk() may emit, in the order of their families. */
extern const struct metric stats_metrics[];
extern const int stats_n_metrics;

/* The tcpdump-like summary, at exit and on SIGUSR1. */
void stats_print(const struct stats *s, const struct options *o, FILE *f);

/*
 * One short line for a service manager's status (systemctl status):
 * records written, lost and frames dropped.
 */
void stats_status(const struct stats *s, char *buf, size_t size);

#endif
