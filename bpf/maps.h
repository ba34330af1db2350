/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every hdrlog program writes to: the ring buffer userspace reads
 * records from, the per-CPU counters it sums, and the wake-up rule both
 * kinds of record follow. The XDP and the socket programs are loaded as
 * one object (hdrlog.bpf.c), so they share these maps.
 */
#ifndef HDRLOG_MAPS_H
#define HDRLOG_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "record.h"

/* Set by userspace before load (1/8 of the ring): see ring_flags(). */
const volatile __u64 wakeup_bytes;
/* Producer position of the last forced wake-up: see ring_flags(). */
__u64 woken_at_prod;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);	/* resized from --ringbuf-size */
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdrlog_counters);
} counters SEC(".maps");

static __always_inline struct hdrlog_counters *counters_get(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&counters, &key);
}

/*
 * The interfaces hdrlog attached to, in the loader's order (set before
 * load): a frame's slot in hdrlog_counters.iface[] is its interface's
 * index here. The counters then cost an add in the value counters_get()
 * already returned, and finding the slot one compare per interface
 * before it (the verifier sees iface_count as the constant it is, so the
 * loop is as long as the list). It was a per-CPU hash keyed by interface
 * and way: a second map lookup for every frame, 9 ns of a sampled-out
 * frame's 20 (tests/bench/xdp_cost.sh). An interface not listed (cannot
 * happen: the programs run only where hdrlog attached them) goes
 * uncounted here and still counts in the totals.
 */
const volatile __u32 iface_count;
const volatile __u32 iface_ifindex[HDRLOG_MAX_IFACES];

static __always_inline struct hdrlog_iface_counters *
iface_counters_get(struct hdrlog_counters *cnt, __u32 ifindex, __u8 dir)
{
	for (__u32 i = 0; i < HDRLOG_MAX_IFACES && i < iface_count; i++)
		if (iface_ifindex[i] == ifindex)
			return &cnt->iface[i][dir == HDRLOG_DIR_INBOUND];
	return 0;
}

/*
 * Wake-ups, for packets and socket events alike. Each is an IPI and a
 * context switch (~7 us in a VM). The kernel's own rule (flags 0: wake a
 * reader that has caught up) woke hdrlog once per 17 frames of a flood
 * (issue 11), since the reader catches up after every small batch; a
 * socket event that woke an idle reader doubled the cost of a TCP
 * connection. So no record wakes the reader on its own: it reads the ring
 * at least every 50 ms anyway (POLL_MS in src/main.c), which bounds how
 * long a record waits, and it is woken only once the ring holds
 * wakeup_bytes (1/8 of it), early enough that a flood does not fill the
 * rest before the reader is back, and then reads it in one batch.
 *
 * Once per wakeup_bytes produced, not for every record past the mark:
 * each forced wake-up queues an irq_work, and doing that for every frame
 * while the reader is on its way cost ~700 ns a frame (tests/bench/README).
 * woken_at_prod is racy between CPUs on purpose: a lost update means one
 * wake-up more, never one less, and the poll timeout covers anything else.
 */
static __always_inline __u64 ring_flags(void)
{
	__u64 prod;

	if (!wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(&records, BPF_RB_AVAIL_DATA) < wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	prod = bpf_ringbuf_query(&records, BPF_RB_PROD_POS);
	if (prod - woken_at_prod < wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	woken_at_prod = prod;
	return BPF_RB_FORCE_WAKEUP;
}

#endif
