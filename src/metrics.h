/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hdrlog's own metrics (issue 12): every --stats-interval a stats record
 * to every output that takes one, and the Prometheus text exposition
 * (format 0.0.4) written to a file for node_exporter's textfile collector
 * or served over HTTP from the capture loop (--metrics). Both come from
 * one walk over struct stats (stats_walk()), as does the exit summary.
 */
#ifndef HDRLOG_METRICS_H
#define HDRLOG_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"
#include "stats.h"

struct metrics;
struct sink;

/* Refresh *s (the caller's collect_stats()) and return it. */
typedef const struct stats *(*metrics_collect_fn)(void *ctx);

/*
 * Whether a --metrics value is a path (it holds a '/' or ends in ".prom")
 * or ADDR:PORT, ADDR a numeric IPv4 address or an IPv6 one in brackets.
 */
bool metrics_target_valid(const char *target);

/*
 * Set up what o asks for (maybe nothing): the listening socket, a check
 * that the file's directory takes files. Before the program is loaded,
 * so that a port in use is said at once. NULL with a message on failure;
 * errno EINVAL for a bad value (a bad command line).
 */
struct metrics *metrics_open(const struct options *o);
/*
 * --check: whether metrics_open() would work, creating nothing: the
 * file's directory takes files, the address can be bound (and is let go
 * at once). 0, or -1 with a message.
 */
int metrics_check(const struct options *o);

/* The ring buffer (its map fd), whose use the metrics read. */
void metrics_ring(struct metrics *m, int ring_fd);
void metrics_close(struct metrics *m);

/* Something for the capture loop to wait on (HTTP clients), or -1. */
int metrics_fd(const struct metrics *m);

/* Bytes in the ring buffer not yet read, now. */
uint64_t metrics_ring_bytes(const struct metrics *m);

/*
 * Called every turn of the capture loop (at least every 50 ms): take new
 * HTTP clients, read their requests, answer, close; drop clients past
 * their deadline; and when the interval is up, a stats record to the
 * outputs and the exposition to the file. Never blocks.
 */
void metrics_tick(struct metrics *m, const struct options *o,
		  struct sink *const *sinks, int n_sinks,
		  metrics_collect_fn collect, void *ctx);

/* At exit, with the summary's counters: the file written once more. */
void metrics_final(struct metrics *m, const struct stats *s,
		   const struct options *o);

#endif
