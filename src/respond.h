/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Automated response (--respond FILE, issue 14): the policies of a
 * respond.conf, and the userspace half that reads the sources the kernel
 * marks hot (bpf/respond.bpf.h), decides by the policies, puts sources in
 * the kernel's dynamic block list and takes them out when they expire,
 * with an alert, block or unblock record for each decision.
 */
#ifndef HDRLOG_RESPOND_H
#define HDRLOG_RESPOND_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "lists.h"
#include "respond_layout.h"

#define RESPOND_NAME_MAX	32

struct respond_policy {
	char name[RESPOND_NAME_MAX];
	enum respond_detector detector;
	uint64_t threshold;	/* per second (syn, rates), per window (scans) */
	uint64_t per_window;	/* the kernel's unit: counts, or sketch bits */
	bool block;		/* action = block; else log */
	uint64_t ttl_s;
	uint8_t severity;
	unsigned int line;
	/* detector = baseline: threshold is its floor (min) */
	enum hdrlog_measure metric;	/* HDRLOG_M_PKTS or HDRLOG_M_BYTES */
	uint64_t history_ns;	/* the EWMA's time constant */
	uint64_t factor;	/* alert above factor x the EWMA */
};

struct respond_config {
	char path[LIST_PATH_MAX];
	struct respond_policy policies[HDRLOG_RESPOND_POLICIES];
	int n_policies;
	uint64_t window_ns;
	unsigned int prefix4, prefix6;
	uint32_t sources;	/* entries of the per-source table */
	uint32_t max_blocks;	/* entries of the dynamic block list */
	char never_block[MAX_LISTS][LIST_NAME_MAX];
	int n_never_block;
	unsigned int never_block_line;
	/* made by respond_config_bind() */
	uint64_t protect_mask;	/* allow lists and never-block lists */
	/* the kernel's notice thresholds, ascending; 0: none */
	uint64_t hot_at[HDRLOG_M_COUNT][HDRLOG_HOT_LEVELS];
};

/*
 * Read and check a respond.conf. 0, or -1 with "FILE:LINE: ..." printed.
 * respond_config_bind() then names its never-block lists among the
 * lists given (allow lists are always protected): 0 or -1, printed.
 */
int respond_config_load(struct respond_config *c, const char *path);
int respond_config_bind(struct respond_config *c,
			const struct list_spec *lists, int n_lists);

/* Distinct values a 128-bit sketch with bits set estimates. */
uint64_t respond_sketch_estimate(unsigned int bits);

/* Per policy, for the summary, stats records and metrics. */
struct respond_stats {
	uint64_t alerts[HDRLOG_RESPOND_POLICIES];
	uint64_t blocks[HDRLOG_RESPOND_POLICIES];
	uint64_t unblocks[HDRLOG_RESPOND_POLICIES];
	uint64_t dropped[HDRLOG_RESPOND_POLICIES];	/* the kernel's */
	uint64_t would_drop[HDRLOG_RESPOND_POLICIES];
	uint64_t list_full;		/* blocks refused: the list was full */
	uint64_t protected_alerts;	/* blocks refused: protected source */
	uint64_t protected_pass;	/* the kernel's: blocked but protected */
	uint64_t hot_lost;		/* the kernel's: hot ring full */
	uint64_t watch_full;		/* hot sources not watched: too many */
	uint64_t untracked;		/* the kernel's: no table entry */
	uint64_t baseline_full;		/* sources not learned: table full */
};

struct respond;

/* Called once per record, which lives only for the call. */
typedef void (*respond_emit_fn)(void *ctx, struct event *e);

struct respond_fds {
	int sources, blocks, hot, counters;	/* hot: the hot ring (-1: none) */
	__u64 *block_filter;	/* HDRLOG_BLOCK_FILTER_WORDS, the kernel's */
};

struct respond *respond_new(const struct respond_config *c,
			    const struct respond_fds *fds, bool monitor);
void respond_free(struct respond *r);

/*
 * The hot ring's fd, readable (level) while the kernel's notices wait:
 * the main loop waits on it and calls respond_poll() at once. -1: none.
 */
int respond_wake_fd(const struct respond *r);

/*
 * Read the hot ring, decide, expire blocks (now: clock_mono_ns()).
 * shutdown: every block left is reported as unblocked (the list goes
 * with hdrlog).
 */
void respond_poll(struct respond *r, uint64_t now, bool shutdown,
		  const struct decode_ctx *ctx, respond_emit_fn emit,
		  void *emit_ctx);

/* The counters, the kernel's summed over CPUs. */
void respond_stats_get(struct respond *r, struct respond_stats *s);

/*
 * --respond-state FILE: read it once at start (unexpired blocks back in
 * the kernel, expired ones an unblock record each; a bad file is warned
 * about with FILE:LINE and ignored: always 0), then it is rewritten at
 * most once a second when the blocks change, and at exit (force), by
 * respond_poll().
 */
int respond_state_load(struct respond *r, const char *path,
		       const struct decode_ctx *ctx, respond_emit_fn emit,
		       void *emit_ctx);
void respond_state_save(struct respond *r, uint64_t now, bool force,
			const struct decode_ctx *ctx);
/*
 * --check: FILE and FILE.baseline read as respond_state_load() reads
 * them, with its messages; nothing restored. 0, 1 if warned about (a
 * start would go on without what they hold), -1 if one that is there is
 * not a regular file (printed).
 */
int respond_state_check(const struct respond_config *c, const char *path);

/*
 * For the control socket (src/control.c): text for hdrlog --blocks and
 * --top, at most size - 1 bytes and a NUL; the length. respond_unblock()
 * takes ADDR[/PREFIX] out of the block list with an unblock record
 * (removed): 0, or -1 with why in err.
 */
size_t respond_blocks_text(struct respond *r, uint64_t now, char *buf,
			   size_t size);
size_t respond_top_text(struct respond *r, uint64_t now,
			const struct list_set *lists, char *buf, size_t size);
int respond_unblock(struct respond *r, const char *text, char *err,
		    size_t size, respond_emit_fn emit, void *emit_ctx);

#endif
