/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Flow export (--log flows): sweep the kernel's flow table
 * (bpf/flows.bpf.h) and turn the flows that ended, went idle or have run
 * for an active timeout into flow records. Not flows.c, which attributes
 * connections to processes from socket events.
 */
#ifndef HDRLOG_FLOWTABLE_H
#define HDRLOG_FLOWTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

struct flow_table;

/* The kernel's flow table (bpf/flows.bpf.h): map fds. */
struct flow_table_maps {
	int slots;	/* flow_slots: the flows, mapped here */
	int index;	/* flow_index: key -> slot, mapped here */
	int free_ring;	/* flow_free_ring: slots given back, mapped here */
	int ended;	/* flows_ended: notices of flows that ended */
	uint64_t *free_tail;	/* flow_free_tail, in the mapped .bss */
	uint64_t *slots_fresh;	/* flow_slots_fresh, likewise: slots used */
};

/* Called once per flow record, which lives only for the call. */
typedef void (*flow_emit_fn)(void *ctx, struct event *e);

/* NULL when it cannot be (said why). Timeouts in seconds. */
struct flow_table *flow_table_new(const struct flow_table_maps *maps,
				  uint32_t idle_timeout, uint32_t active_timeout);
void flow_table_free(struct flow_table *t);

/*
 * Call once a second. Export what is due at now (clock_mono_ns()) among
 * the flows that ended and this tick's slice of the table; every flow
 * with shutdown. Counts each record in exported[reason].
 */
void flow_table_sweep(struct flow_table *t, uint64_t now, bool shutdown,
		      const struct decode_ctx *ctx, flow_emit_fn emit,
		      void *emit_ctx, uint64_t exported[FLOW_END_SHUTDOWN + 1]);

#endif
