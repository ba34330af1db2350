// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flow table (--log flows): every IP frame the packet programs see
 * counts in its flow's entry, whatever --sample and --log packets do;
 * userspace (src/flowtable.c) reads a slice of the table every second,
 * and the flows TCP ended from a queue the program fills (flows_ended),
 * and exports the flows that ended or went idle.
 *
 * The table is one array, flow_slots, open addressed: a flow's key is
 * hashed here to a home slot and the flow lives in the first slot of
 * the probe chain from there (linear probing) that was free when it
 * came. Userspace mmaps the array and reads the flows in place (about
 * 15 ns a flow; reading a BPF hash means copying it out through the
 * kernel, about 0.5 us a flow at a million flows). Why not a BPF hash
 * from key to slot, as before: at a million flows almost every frame's
 * lookup missed the cache (the bucket, the element, then the slot: three
 * cold lines and their TLB misses); here a frame of a known flow reads
 * its home slot's first line (the key and state) and the line after
 * (the counts), usually one slot (about 1.3 probes at the table's usual
 * load), and a new flow claims a slot with one cmpxchg instead of a
 * freelist pop and an insert.
 *
 * Why not an LRU: an LRU makes room by dropping a flow without telling
 * anyone, so a flow would vanish unexported, or be cut in the middle of
 * its life and start again as a new one. This table never drops a flow:
 * when it holds --flow-table flows (flow_count), or a chain has no free
 * slot within FLOW_PROBES of the home, a new flow's frame is counted in
 * flow_table_full ("frames not tracked: flow table full" in the summary
 * and the metrics): a full table loses counted frames, never a silent
 * flow. The array has half again as many slots as --flow-table flows
 * (loader.c), so that at a full table's load (2/3) a chain rarely
 * reaches FLOW_PROBES (about 1 flow in 80,000 when filled to the last
 * flow); it is allocated whole at start, and the packet path never
 * allocates.
 *
 * A slot's states (enum hdrlog_flow_state in record.h): EMPTY -> BUSY
 * (a CPU claimed it with cmpxchg and fills every field; no memset) ->
 * LIVE (cmpxchg, fully ordered: a slot seen LIVE is whole) -> GONE
 * (userspace exported it: it matches no key, a later frame of the key
 * makes a new flow, but it still continues chains) -> FREE, at least
 * RETIRE_NS later (src/flowtable.c): a CPU that matched the key just
 * before the export may still be adding to the slot, and programs run
 * for microseconds, so such a late frame adds to the exported flow,
 * never to the next one. A FREE slot is claimed as an EMPTY one is, and
 * userspace turns a FREE slot back to EMPTY when the next one is EMPTY
 * and it has been FREE since an earlier tick (no chain can pass it).
 *
 * A lookup walks the chain from the home slot: a LIVE slot with the key
 * is the flow; an EMPTY slot (or FLOW_PROBES slots) means the key is
 * absent; the first FREE or EMPTY slot on the way is where it goes. A
 * BUSY slot is waited for (FLOW_SPINS re-reads: filling takes tens of
 * nanoseconds) and then compared; still BUSY, the frame is counted not
 * tracked, as it may be the same flow. Two CPUs that insert the same key
 * at once both see it absent and both cmpxchg the same first free slot:
 * the loser walks the chain again (FLOW_ATTEMPTS walks in all) and finds
 * the winner's slot, waiting while it is BUSY.
 *
 * The race left: two CPUs inserting one key at once choose different
 * slots if the chain changes between their walks (userspace freed a slot
 * earlier in the chain, or a third CPU claimed the one the first chose).
 * The flow then has two slots: both are counted in and exported, as two
 * records of one flow whose counts add up to the frames sent; no frame
 * is lost or counted twice. Closing it needs a lock per chain on every
 * insert, for a case that needs a flow's first frames on two CPUs (RSS
 * sends a flow to one) in the same microsecond as an export nearby.
 *
 * Why one shared value with atomic adds and not a per-CPU value: a
 * per-CPU value multiplies the table's memory by the number of CPUs
 * (1M flows x 64 CPUs x 192 bytes: 12 GiB), and the frames of one flow
 * mostly arrive on one CPU (RSS hashes the 5-tuple), so the cache line
 * an atomic add locks is rarely contended. Flags are ORed atomically;
 * last seen and the TTL range are plain stores: a race between two CPUs
 * can only lose a few nanoseconds of last-seen or one TTL of the range.
 */
#ifndef HDRLOG_FLOWS_BPF_H
#define HDRLOG_FLOWS_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "maps.h"

/*
 * Set by userspace before load: --log has flows; --flow-table; the
 * slots of flow_slots.
 */
const volatile __u8 log_flows;
const volatile __u32 flow_table_size;
const volatile __u32 flow_slots_n = 1;

/* The table: flow_slots_n slots, set at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdrlog_flow);
} flow_slots SEC(".maps");

/*
 * Slots BUSY, LIVE or GONE: at most flow_table_size. Userspace takes
 * one off for each slot it makes FREE. 64 bits: clang's BPF atomics.
 */
__u64 flow_count;

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

#define FLOW_PROBES	64	/* slots a chain may reach from its home */
#define FLOW_SPINS	64	/* re-reads of a BUSY slot */
#define FLOW_ATTEMPTS	3	/* walks of a chain when a claim is lost */
#define FLOW_CLAIMED	(1ll << 32)	/* flow_find(): a new slot, BUSY */
#define FLOW_NONE	(-1ll)		/* flow_find(): not tracked */

/*
 * A slot's state, ordered before the reads of the slot that follow: a
 * slot seen LIVE is whole (the writer published it with a fully ordered
 * cmpxchg). x86 keeps loads in order; elsewhere a fully ordered atomic
 * (an add of 0) does.
 */
static __always_inline __u64 flow_state(struct hdrlog_flow *v)
{
#if defined(__TARGET_ARCH_x86)
	__u64 st = *(volatile __u64 *)&v->state;

	asm volatile("" ::: "memory");
	return st;
#else
	return __sync_fetch_and_add(&v->state, 0);
#endif
}

/* The key's words, for the hash and the compare: 44 bytes. */
#define FLOW_KEY_U64	5
_Static_assert(sizeof(struct hdrlog_flow_key) == FLOW_KEY_U64 * 8 + 4,
	       "the key is five 64-bit words and one 32-bit");

static __always_inline int flow_key_eq(const struct hdrlog_flow *v,
				       const struct hdrlog_flow_key *k)
{
	const __u64 *a = (const __u64 *)&v->key, *b = (const __u64 *)k;

	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] &&
	       a[3] == b[3] && a[4] == b[4] &&
	       ((const __u32 *)a)[10] == ((const __u32 *)b)[10];
}

/* Multiply-xorshift over the key's words, then a final mix. */
static __always_inline __u64 flow_hash(const struct hdrlog_flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = 0;

	for (int i = 0; i < FLOW_KEY_U64; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	h = (h ^ ((const __u32 *)k)[10]) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	return h ^ (h >> 32);
}

/*
 * The slot of key k: its flow's (a number), or one claimed for it (the
 * number | FLOW_CLAIMED, BUSY and counted in flow_count: the caller
 * fills it and makes it LIVE), or FLOW_NONE: not tracked (the table
 * holds flow_table_size flows, the chain has no free slot within
 * FLOW_PROBES, or a slot stayed BUSY). A global function: the verifier
 * checks its loops once, not at every path into flow_update().
 */
__attribute__((noinline)) long long flow_find(const struct hdrlog_flow_key *k)
{
	__u32 n = flow_slots_n, probes = n < FLOW_PROBES ? n : FLOW_PROBES;
	__u32 home, i, cand;
	__u64 st, cand_st;
	struct hdrlog_flow *v;

	if (!k)
		return FLOW_NONE;
	home = ((flow_hash(k) & 0xffffffff) * n) >> 32;
	for (int attempt = 0; attempt < FLOW_ATTEMPTS; attempt++) {
		cand = n;
		cand_st = 0;
		i = home;
		for (__u32 p = 0; p < FLOW_PROBES && p < probes; p++) {
			v = bpf_map_lookup_elem(&flow_slots, &i);
			if (!v)
				return FLOW_NONE;	/* cannot be: i < n */
			st = flow_state(v);
			for (int spin = 0; spin < FLOW_SPINS &&
					   st == HDRLOG_FLOW_BUSY; spin++)
				st = flow_state(v);
			if (st == HDRLOG_FLOW_BUSY)
				return FLOW_NONE;
			if (st == HDRLOG_FLOW_LIVE && flow_key_eq(v, k))
				return i;
			if ((st == HDRLOG_FLOW_EMPTY || st == HDRLOG_FLOW_FREE) &&
			    cand == n) {
				cand = i;
				cand_st = st;
			}
			if (st == HDRLOG_FLOW_EMPTY)
				break;	/* no chain goes past: absent */
			if (++i == n)
				i = 0;
		}
		/* absent: claim the chain's first free slot, if there is room */
		if (cand == n)
			return FLOW_NONE;
		if (__sync_fetch_and_add(&flow_count, 1) >= flow_table_size) {
			__sync_fetch_and_add(&flow_count, -1);
			return FLOW_NONE;
		}
		v = bpf_map_lookup_elem(&flow_slots, &cand);
		if (v && __sync_val_compare_and_swap(&v->state, cand_st,
						     HDRLOG_FLOW_BUSY) == cand_st)
			return cand | FLOW_CLAIMED;
		/* another CPU took it (maybe for this key): walk again */
		__sync_fetch_and_add(&flow_count, -1);
	}
	return FLOW_NONE;
}

/*
 * Count frame r (parsed, lists applied) in its flow. The first frame's
 * time is read from the precise clock; later frames' (last seen) from
 * the coarse one, a tick behind at most (4 ms at HZ=250): the precise
 * clock costs ~60 ns here, a quarter of the whole update, and last seen
 * only has to be good enough for timeouts in seconds and a flow's end.
 *
 * A frame of a known flow: the chain walk to its slot (usually the home
 * slot: its first line to compare, its second to count in), two atomic
 * adds (packets and bytes: several CPUs may count in one flow), and
 * plain stores for the rest; the flags' atomic OR only when the frame
 * brings a flag the flow had not seen that way (most TCP frames bring
 * none). A new flow: the walk to the first EMPTY slot, an atomic add to
 * flow_count, a cmpxchg to claim the slot, the fields written with the
 * first frame's counts, and a cmpxchg to make it LIVE.
 */
static __always_inline void flow_update(const struct hdrlog_record *r,
					struct hdrlog_counters *cnt)
{
	/* aligned: flow_key_eq() reads it in 64-bit words */
	struct hdrlog_flow_key k __attribute__((aligned(8))) = {};
	struct hdrlog_flow *v;
	long long found;
	__u32 slot;
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

	found = flow_find(&k);
	if (found == FLOW_NONE) {
		cnt->flow_table_full++;
		return;
	}
	slot = (__u32)found;
	v = bpf_map_lookup_elem(&flow_slots, &slot);
	if (!v)
		return;		/* cannot be: flow_find() checked it */
	if (found & FLOW_CLAIMED) {
		__u64 now = bpf_ktime_get_ns();

		/* the slot may hold an old flow: every field is written */
		v->last_ns = now;
		v->pkts[0] = 1;
		v->pkts[1] = 0;
		v->bytes[0] = bytes;
		v->bytes[1] = 0;
		v->tcp_flags = tcp ? r->tcp_flags : 0;
		v->dropped = r->action == XDP_DROP;
		v->client_hi = from_hi;
		v->min_ttl = r->ttl;
		v->max_ttl = r->ttl;
		v->direction = r->direction;
		v->icmp_type = r->icmp_type;
		v->icmp_code = r->icmp_code;
		v->first_ns = now;
		v->client_lists = r->src_lists;
		v->server_lists = r->dest_lists;
		v->has_owner = 0;
		if (r->flags & HDRLOG_RF_OWNER) {
			v->pid = r->pid;
			__builtin_memcpy(v->comm, r->comm, sizeof(v->comm));
			v->has_owner = 1;
		}
		__builtin_memcpy(&v->key, &k, sizeof(k));
		/* fully ordered: after the stores above */
		__sync_val_compare_and_swap(&v->state, HDRLOG_FLOW_BUSY,
					    HDRLOG_FLOW_LIVE);
		cnt->flows_new++;
		if (flow_tcp_ended(v->tcp_flags))
			flow_ended(slot, now);
		return;
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
			flow_ended(slot, v->first_ns);
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
