// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flow table (--log flows): every IP frame the packet programs see
 * counts in its flow's entry, whatever --sample and --log packets do;
 * userspace (src/flowtable.c) reads a slice of the table every second,
 * and the flows TCP ended from a queue the program fills (flows_ended),
 * and exports and deletes the flows that ended or went idle.
 *
 * Why a plain hash and not an LRU hash: an LRU hash makes room by
 * deleting an entry without telling anyone, so a flow would vanish
 * unexported, and a busy table could even evict a flow in the middle of
 * its life and start it again as a new one. A plain hash never deletes
 * on its own: when it is full the insert fails, and the frame is
 * counted in flow_table_full ("frames not tracked: flow table full" in
 * the summary and the metrics), so a full table loses counted frames,
 * never a silent flow. Room comes back as the sweep exports idle flows;
 * --flow-table sizes the table (it is preallocated: the memory is taken
 * at start, and an insert never allocates in the packet path).
 *
 * Why the counts are not the hash's values: userspace reads every flow
 * a few times per idle timeout, and reading a hash means copying it out
 * through the kernel in hash order (bpf_map_lookup_batch: about 0.5 us a
 * flow at a million flows, half a second of CPU per pass). So the hash
 * maps a key to a slot of flow_slots, an array that userspace mmaps and
 * reads in place (about 15 ns a flow); the slot holds the counts, its
 * key (for the delete) and whether it is live.
 *
 * A new flow's slot: one never used yet (flow_slots_fresh counts them
 * out, so that nothing has to fill a free list at start), else one from
 * flow_free, where userspace puts the slots of the flows it exported.
 * Neither: the table is full (flow_table_full, as above). The slot is
 * filled, then the key inserted (BPF_NOEXIST), then marked live: a slot
 * userspace sees live is whole. Another CPU may insert the same key
 * first (EEXIST): the slot goes back to flow_free (nobody can have found
 * it) and the frame counts in the winner's.
 *
 * Why a slot is not reused at once: a frame on another CPU may have
 * looked up the key just before userspace deleted it, and still be
 * adding to the slot. Programs run under RCU and take microseconds;
 * userspace puts a slot in flow_free a sweep tick (a second) after the
 * delete at the earliest, which is ample, so such a late frame adds to
 * the exported flow's slot (not counted: see src/flowtable.c), never to
 * the next flow's.
 *
 * Why one shared value with atomic adds and not a per-CPU value: a
 * per-CPU value multiplies the table's memory by the number of CPUs
 * (1M flows x 64 CPUs x a 160-byte value: 10 GiB), and the frames of one
 * flow mostly arrive on one CPU (RSS hashes the 5-tuple), so the cache
 * line an atomic add locks is rarely contended. Flags are ORed
 * atomically; last seen and the TTL range are plain stores: a race
 * between two CPUs can only lose a few nanoseconds of last-seen or one
 * TTL of the range.
 */
#ifndef HDRLOG_FLOWS_BPF_H
#define HDRLOG_FLOWS_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "maps.h"

/* Set by userspace before load: --log has flows; --flow-table. */
const volatile __u8 log_flows;
const volatile __u32 flow_table_size;

/* key -> slot in flow_slots */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);	/* --flow-table, set at load */
	__type(key, struct hdrlog_flow_key);
	__type(value, __u32);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 65536);	/* --flow-table, set at load */
	__type(key, __u32);
	__type(value, struct hdrlog_flow);
} flow_slots SEC(".maps");

/* Slots of exported flows, put back by userspace after a grace period. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 65536);	/* --flow-table, set at load */
	__uint(key_size, 0);
	__type(value, __u32);
} flow_free SEC(".maps");

/* Slots from here on were never used: taken in order before flow_free. */
__u64 flow_slots_fresh;	/* 64 bits: clang's BPF atomics */

/*
 * Flows that just ended (RST, or FIN both ways), for the sweep to find
 * them within a second: see flow_ended().
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);	/* 1 without --log flows, set at load */
	__uint(key_size, 0);
	__type(value, struct hdrlog_flow_ended);
} flows_ended SEC(".maps");

/* ICMP replies counted in their request's flow: (type, the request's). */
static __always_inline __u8 icmp_request_type(__u8 ip_v, __u8 type)
{
	if (ip_v == 4) {
		/* echo, timestamp, information, address mask */
		if (type == 0 || type == 14 || type == 16 || type == 18)
			return type == 0 ? 8 : type - 1;
	} else if (type == 129) {
		return 128;
	}
	return type;
}

/* a < b, as the key orders endpoints; 16 bytes, IPv4 zero-padded */
static __always_inline int endpoint_lower(const __u8 *a, __be16 pa,
					  const __u8 *b, __be16 pb)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	if (x[0] != y[0])
		return bpf_be64_to_cpu(x[0]) < bpf_be64_to_cpu(y[0]);
	if (x[1] != y[1])
		return bpf_be64_to_cpu(x[1]) < bpf_be64_to_cpu(y[1]);
	return bpf_ntohs(pa) < bpf_ntohs(pb);
}

#define FLOW_TH_FIN	0x01
#define FLOW_TH_RST	0x04

/* A TCP flow's flags (both ways) say it ended: RST, or FIN both ways. */
static __always_inline int flow_tcp_ended(__u64 f)
{
	return (f & (FLOW_TH_RST | FLOW_TH_RST << 8)) ||
	       ((f & FLOW_TH_FIN) && (f & FLOW_TH_FIN << 8));
}

/*
 * The flow in slot just ended: tell the sweep now (src/flowtable.c),
 * which otherwise visits a flow only every few seconds. Full (the sweep
 * takes the queue every second, and only flows that end are put in it):
 * the flow is found by the sweep's slice instead, a few seconds later,
 * and nothing is lost.
 */
static __always_inline void flow_ended(__u32 slot, __u64 first_ns)
{
	struct hdrlog_flow_ended n = { .slot = slot, .first_ns = first_ns };

	bpf_map_push_elem(&flows_ended, &n, 0);
}

/* A slot for a new flow, in *slot; NULL when the table is full. */
static __always_inline struct hdrlog_flow *flow_slot_take(__u32 *slot)
{
	struct hdrlog_flow *v;

	if (flow_slots_fresh < flow_table_size) {
		*slot = __sync_fetch_and_add(&flow_slots_fresh, 1);
		/* NULL: other CPUs took the last fresh ones */
		v = bpf_map_lookup_elem(&flow_slots, slot);
		if (v)
			return v;
	}
	if (bpf_map_pop_elem(&flow_free, slot))
		return NULL;
	return bpf_map_lookup_elem(&flow_slots, slot);
}

/*
 * Count frame r (parsed, lists applied) in its flow. The first frame's
 * time is read from the precise clock; later frames' (last seen) from
 * the coarse one, a tick behind at most (4 ms at HZ=250): the precise
 * clock costs ~60 ns here, a quarter of the whole update, and last seen
 * only has to be good enough for timeouts in seconds and a flow's end.
 *
 * A frame of a known flow: the hash lookup and the slot's (an array
 * index), two atomic adds (packets and bytes: several CPUs may count in
 * one flow), and plain stores for the rest; the flags' atomic OR only
 * when the frame brings a flag the flow had not seen that way (most TCP
 * frames bring none). A new flow: the lookup that missed, a slot filled
 * with the first frame's counts and one insert of its number; the flow
 * is looked up again only when another CPU inserted it first.
 */
static __always_inline void flow_update(const struct hdrlog_record *r,
					struct hdrlog_counters *cnt)
{
	struct hdrlog_flow_key k = {};
	struct hdrlog_flow *v;
	__u32 *slot;
	__be16 sport = 0, dport = 0;
	__u64 bytes, src_lists = 0, dest_lists = 0, flags, old;
	int from_hi, toclient, tcp;

	if (!(r->flags & HDRLOG_RF_IP))
		return;
	if (r->flags & HDRLOG_RF_PORTS) {
		sport = r->src_port;
		dport = r->dest_port;
	}
	k.ifindex = r->ifindex;
	if (r->vlan_count)
		k.vlan = bpf_ntohs(r->vlan_tci[0]) & 0x0fff;
	k.ip_v = r->ip_v;
	k.ip_proto = r->ip_proto;
	if (r->flags & HDRLOG_RF_ICMP) {
		/* no ports: the order of the addresses alone */
		from_hi = !endpoint_lower(r->src_ip, 0, r->dest_ip, 0);
		k.lo_port = bpf_htons(icmp_request_type(r->ip_v, r->icmp_type));
		k.hi_port = bpf_htons(r->icmp_code);
	} else {
		from_hi = !endpoint_lower(r->src_ip, sport, r->dest_ip, dport);
		k.lo_port = from_hi ? dport : sport;
		k.hi_port = from_hi ? sport : dport;
	}
	__builtin_memcpy(k.lo_ip, from_hi ? r->dest_ip : r->src_ip, 16);
	__builtin_memcpy(k.hi_ip, from_hi ? r->src_ip : r->dest_ip, 16);
	bytes = bpf_ntohs(r->ip_len) + (r->ip_v == 6 ? 40 : 0);
	tcp = (r->flags & HDRLOG_RF_TCP) && r->ip_proto == IPPROTO_TCP;

	slot = bpf_map_lookup_elem(&flows, &k);
	v = slot ? bpf_map_lookup_elem(&flow_slots, slot) : NULL;
	if (!v) {
		__u64 now = bpf_ktime_get_ns();
		__u32 new_slot;
		long err;

		v = flow_slot_take(&new_slot);
		if (!v) {
			cnt->flow_table_full++;
			return;
		}
		/* the slot may hold an old flow: every field is written */
		__builtin_memset(v, 0, sizeof(*v));
		v->first_ns = now;
		v->last_ns = now;
		v->client_hi = from_hi;
		v->direction = r->direction;
		v->icmp_type = r->icmp_type;
		v->icmp_code = r->icmp_code;
		v->min_ttl = r->ttl;
		v->max_ttl = r->ttl;
		v->client_lists = r->src_lists;
		v->server_lists = r->dest_lists;
		v->pkts[0] = 1;
		v->bytes[0] = bytes;
		v->tcp_flags = tcp ? r->tcp_flags : 0;
		v->dropped = r->action == XDP_DROP;
		if (r->flags & HDRLOG_RF_OWNER) {
			v->pid = r->pid;
			__builtin_memcpy(v->comm, r->comm, sizeof(v->comm));
			v->has_owner = 1;
		}
		__builtin_memcpy(&v->key, &k, sizeof(k));
		/* EEXIST: another CPU made it first */
		err = bpf_map_update_elem(&flows, &k, &new_slot, BPF_NOEXIST);
		if (!err) {
			/* fully ordered: after the stores above */
			__sync_val_compare_and_swap(&v->live, 0, 1);
			cnt->flows_new++;
			if (flow_tcp_ended(v->tcp_flags))
				flow_ended(new_slot, now);
			return;
		}
		/* not in the hash: nobody else can have found it */
		bpf_map_push_elem(&flow_free, &new_slot, 0);
		slot = bpf_map_lookup_elem(&flows, &k);
		v = slot ? bpf_map_lookup_elem(&flow_slots, slot) : NULL;
		if (!v) {
			cnt->flow_table_full++;
			return;
		}
	}
	toclient = from_hi != v->client_hi;
	if (toclient) {
		__sync_fetch_and_add(&v->pkts[1], 1);
		__sync_fetch_and_add(&v->bytes[1], bytes);
	} else {
		__sync_fetch_and_add(&v->pkts[0], 1);
		__sync_fetch_and_add(&v->bytes[0], bytes);
	}
	flags = (__u64)r->tcp_flags << (toclient ? 8 : 0);
	old = v->tcp_flags;
	if (tcp && (flags & ~old)) {
		__sync_fetch_and_or(&v->tcp_flags, flags);
		/* two CPUs may both see the end: the sweep takes it once */
		if (flow_tcp_ended(old | flags) && !flow_tcp_ended(old))
			flow_ended(*slot, v->first_ns);
	}
	if (r->action == XDP_DROP)
		__sync_fetch_and_add(&v->dropped, 1);
	/*
	 * A list reload can change a mask: rarely, so test before writing;
	 * and a frame of no list does not read the masks' cache line.
	 */
	if (r->src_lists | r->dest_lists) {
		src_lists = toclient ? v->server_lists : v->client_lists;
		dest_lists = toclient ? v->client_lists : v->server_lists;
	}
	if ((r->src_lists | r->dest_lists) &&
	    ((r->src_lists & ~src_lists) || (r->dest_lists & ~dest_lists))) {
		__sync_fetch_and_or(toclient ? &v->server_lists :
					       &v->client_lists, r->src_lists);
		__sync_fetch_and_or(toclient ? &v->client_lists :
					       &v->server_lists, r->dest_lists);
	}
	if (r->ttl < v->min_ttl)
		v->min_ttl = r->ttl;
	if (r->ttl > v->max_ttl)
		v->max_ttl = r->ttl;
	if ((r->flags & HDRLOG_RF_OWNER) && !v->has_owner) {
		v->pid = r->pid;
		__builtin_memcpy(v->comm, r->comm, sizeof(v->comm));
		v->has_owner = 1;
	}
	v->last_ns = bpf_ktime_get_coarse_ns();
}

#endif
