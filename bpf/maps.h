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

/* Set by userspace before load: with socket events, see ring_flags(). */
const volatile __u64 wakeup_bytes;

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
 * Socket events come a few at a time, and each found the reader idle, so
 * each woke it: an IPI and a context switch (~7 us in a VM) that doubled
 * the cost of a TCP connection. With socket events on (wakeup_bytes set)
 * they wake it only once the ring holds wakeup_bytes, and otherwise wait
 * for its next poll (every 50 ms). Packets keep the kernel's own rule
 * (wake a reader that has caught up) and also force a wake-up past
 * wakeup_bytes: a socket record waiting unread would otherwise keep the
 * kernel's rule from ever firing.
 */
static __always_inline __u64 ring_flags(__u64 below)
{
	if (!wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&records, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
	       BPF_RB_FORCE_WAKEUP : below;
}

#endif
