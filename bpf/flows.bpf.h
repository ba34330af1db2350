// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flow table (--log flows): every IP frame the packet programs see
 * counts in its flow's entry, whatever --sample and --log packets do;
 * userspace (src/flowtable.c) reads a slice of the table every second,
 * and the flows TCP ended from a queue the program fills (flows_ended),
 * and exports the flows that ended or went idle.
 *
 * Two arrays, both mapped by userspace and read in place (about 15 ns a
 * flow; reading a BPF hash means copying it out through the kernel,
 * about 0.5 us a flow at a million flows), beside them the ring of free
 * slots (mapped too), a front cache for each CPU and the queue of flows
 * that ended, all below:
 *
 *   - flow_slots, --flow-table slots of 192 bytes: the flows' keys and
 *     counts (struct hdrlog_flow). A new flow takes the next slot never
 *     used (flow_slots_fresh), else one from flow_free_ring, where
 *     userspace puts the slots of the flows it exported; neither: the
 *     table is full. So the flows that start together sit together, as
 *     their frames tend to come together.
 *   - flow_index, twice as many 8-byte entries: an open-addressed hash
 *     (linear probing) from a key to its slot. An entry holds the slot
 *     number and a 32-bit tag from the key's hash, so that a probe past
 *     another flow's entry reads no slot; at the index's load (half at
 *     most) a lookup reads about 1.5 entries, in one cache line.
 *
 * Why not a BPF hash from key to slot, as before: at a million flows
 * almost every frame's lookup missed the cache three times (the bucket,
 * the element, then the slot), and the element's chain walk and the
 * freelist cost more. Here a frame of a known flow reads one index line
 * (32 MB at 2,000,000 flows, against 241 MB of hash) and its slot's
 * first two lines (the key and state, then the counts); with a large
 * table, a line of flow_cache (below) instead of the index's, mostly.
 *
 * Why not an LRU: an LRU makes room by dropping a flow without telling
 * anyone, so a flow would vanish unexported, or be cut in the middle of
 * its life and start again as a new one. This table never drops a flow:
 * with no slot left, or (never seen at the index's load) no free index
 * entry within FLOW_PROBES of the key's home, a new flow's frame is
 * counted in flow_table_full ("frames not tracked: flow table full" in
 * the summary and the metrics): a full table loses counted frames, never
 * a silent flow. Everything is allocated at start; the packet path never
 * allocates.
 *
 * A new flow: the walk from the key's home entry ends at an EMPTY entry
 * (or FLOW_PROBES entries) without finding the key; the frame takes a
 * slot, fills every field (no memset) with the state BUSY, and puts
 * tag | slot in the chain's first EMPTY or tombstone entry with cmpxchg
 * (fully ordered: a slot found through the index is whole), then makes
 * the slot LIVE. BUSY tells userspace, which reads the slots and not
 * the index, that the slot may not be in the index yet: it skips it. A
 * lookup that finds a BUSY slot through the index counts in it: it is
 * whole, and waiting for its maker (a preempted vCPU can stall for
 * milliseconds) would lose frames. Two CPUs that insert
 * the same key at once both walk to the same free entry: the loser's
 * cmpxchg fails and it walks again (FLOW_ATTEMPTS walks in all), finds
 * the winner's entry, counts in the winner's slot and leaves its own
 * slot ORPHAN, for userspace to give back.
 *
 * Taking a flow out (src/flowtable.c): userspace makes its slot GONE as
 * it exports it (it matches no key from then on, and a later frame of
 * the key makes a new flow), then at least RETIRE_NS later makes its
 * index entry a tombstone and puts the slot in flow_free_ring: a CPU
 * that matched the key just before the export may still be adding to
 * the slot, and programs run for microseconds, so such a late frame adds
 * to the exported flow, never to the next one. A tombstone continues
 * chains; userspace turns it back to EMPTY when the next entry is EMPTY
 * and it has been a tombstone since an earlier tick (no chain can pass
 * it then).
 *
 * The race left: two CPUs inserting one key at once put it in two
 * entries if the chain changes between their walks (userspace made a
 * tombstone earlier in the chain, or a third CPU took the entry the
 * first chose). The flow then has two slots: both are counted in and
 * exported, as two records of one flow whose counts add up to the
 * frames sent; no frame is lost or counted twice. Closing it needs a
 * lock per chain on every insert, for a case that needs a flow's first
 * frames on two CPUs (RSS sends a flow to one) in the same microsecond
 * as an export nearby.
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
 * Set by userspace before load: --log has flows; --flow-table (the
 * slots); the index's entries (twice as many).
 */
const volatile __u8 log_flows;
const volatile __u32 flow_table_size = 1;
const volatile __u32 flow_index_n = 1;

/* The flows: flow_table_size slots, set at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdrlog_flow);
} flow_slots SEC(".maps");

/* key -> slot: flow_index_n entries, set at load */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} flow_index SEC(".maps");

/*
 * Slots given back by userspace, a ring of flow_table_size: userspace
 * writes entries and then moves flow_free_tail; the programs take them
 * from flow_free_head. 64 bits: clang's BPF atomics.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);	/* an array's values are 8 bytes apart */
} flow_free_ring SEC(".maps");

/*
 * A front cache before the index, one for each CPU: 1 << flow_cache_bits
 * entries a CPU, each tag | slot as in the index, placed by the hash's
 * low bits, one entry a place, overwritten by whichever flow last used
 * it; none (flow_cache_bits 0) when the index is small enough to stay in
 * the TLB by itself. Why: the index has two entries for every flow the
 * table may hold, so far fewer flows than --flow-table (10,000 in a
 * table of 2,000,000, say) have their entries spread one to a page over
 * the whole index (32 MB there), and every frame's walk then missed the
 * TLB; in BPF_PROG_RUN 10,000 known flows cost 353 ns a frame with
 * --flow-table 2000000 and no cache, 230 with it. A CPU's cache (512 KB)
 * stays in its TLB and mostly in its cache. An entry is only a hint,
 * never taken out: a hit is a slot whose key is the frame's and which is
 * LIVE (in the index, so not an insert that may yet lose its race and be
 * an ORPHAN); anything else falls back to the walk, which refreshes it.
 * One for each CPU, as a flow's frames mostly come to one CPU (RSS):
 * shared, a frame that missed would write a line another CPU reads next,
 * a cross-core transfer on the next frame's path. loader.c keeps all the
 * CPUs' caches together no larger than the index.
 */
const volatile __u32 flow_cache_bits;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* CPUs << flow_cache_bits, at load */
	__type(key, __u32);
	__type(value, __u64);
} flow_cache SEC(".maps");

__u64 flow_free_head;
__u64 flow_free_tail;
/* Slots from here on were never used: taken in order before the ring. */
__u64 flow_slots_fresh;

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

/*
 * ICMP replies counted in their request's flow: (type, the request's).
 * The pairs of the Community ID (src/community_id.c, Zeek's), which a
 * flow record carries: a pair split here made two one-way flows of one
 * community_id (an NS and its NA, say).
 */
static __always_inline __u8 icmp_request_type(__u8 ip_v, __u8 type)
{
	if (ip_v == 4) {
		switch (type) {
		case 0:		/* echo reply */
			return 8;
		case 9:		/* router advertisement */
			return 10;
		case 14:	/* timestamp, information, address mask */
		case 16:
		case 18:
			return type - 1;
		}
		return type;
	}
	switch (type) {
	case 129:	/* echo reply */
	case 131:	/* MLD report */
	case 134:	/* router advertisement */
	case 136:	/* neighbor advertisement */
	case 140:	/* node information reply */
	case 145:	/* home agent address discovery reply */
		return type - 1;
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

#define FLOW_PROBES	64	/* index entries a chain may reach */
#define FLOW_ATTEMPTS	3	/* walks of a chain when an entry is lost */
#define FLOW_NEW	(1ll << 32)	/* flow_find(): the flow is new */
#define FLOW_NONE	(-1ll)		/* flow_find(): not tracked */

/*
 * A slot's state. No barrier: the slot was found through an index entry
 * set after it was filled (a fully ordered cmpxchg), and its address
 * comes from that entry's value, which orders the reads of the slot
 * after the entry's on every CPU the kernel runs on.
 */
static __always_inline __u64 flow_state(struct hdrlog_flow *v)
{
	return *(volatile __u64 *)&v->state;
}

/* The key's words, for the hash and the compare: 48 bytes. */
#define FLOW_KEY_U64	6
_Static_assert(sizeof(struct hdrlog_flow_key) == FLOW_KEY_U64 * 8,
	       "the key is six 64-bit words");

static __always_inline int flow_key_eq(const struct hdrlog_flow *v,
				       const struct hdrlog_flow_key *k)
{
	const __u64 *a = (const __u64 *)&v->key, *b = (const __u64 *)k;

	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] &&
	       a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

/*
 * Multiply-xorshift over the key's words, then a final mix: the low 32
 * bits place the key, the high 32 are its tag.
 */
static __always_inline __u64 flow_hash(const struct hdrlog_flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = 0;

	for (int i = 0; i < FLOW_KEY_U64; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	return h ^ (h >> 32);
}

/* A slot for a new flow, in *slot; NULL when there is none. */
static __always_inline struct hdrlog_flow *flow_slot_take(__u32 *slot)
{
	struct hdrlog_flow *v;
	__u64 *e;

	if (flow_slots_fresh < flow_table_size) {
		*slot = __sync_fetch_and_add(&flow_slots_fresh, 1);
		/* NULL: other CPUs took the last fresh ones */
		v = bpf_map_lookup_elem(&flow_slots, slot);
		if (v)
			return v;
	}
	for (int i = 0; i < FLOW_ATTEMPTS; i++) {
		__u64 head = *(volatile __u64 *)&flow_free_head;
		__u32 at;

		if (head >= *(volatile __u64 *)&flow_free_tail)
			return NULL;
		if (__sync_val_compare_and_swap(&flow_free_head, head,
						head + 1) != head)
			continue;	/* another CPU took it */
		at = head % flow_table_size;
		e = bpf_map_lookup_elem(&flow_free_ring, &at);
		if (!e)
			return NULL;	/* cannot be: at < flow_table_size */
		*slot = (__u32)*e;
		return bpf_map_lookup_elem(&flow_slots, slot);
	}
	return NULL;
}

/* flow_find()'s first: what flow_update() made of the first frame */
#define FLOW_FIRST_BYTES(x)	((x) & 0xffffffff)
#define FLOW_FIRST_FROM_HI	(1ull << 32)	/* from the key's hi end */
#define FLOW_FIRST_TCP		(1ull << 33)	/* its TCP flags count */

/* Fill slot v for the flow of key k from its first frame r: every field. */
static __always_inline void flow_fill(struct hdrlog_flow *v,
				      const struct hdrlog_flow_key *k,
				      const struct hdrlog_record *r,
				      __u64 first, __u32 pos)
{
	__u64 now = bpf_ktime_get_ns();

	__u64 *d = (__u64 *)&v->key;
	const __u64 *w = (const __u64 *)k;

	/* word by word, each stored as loaded: memcpy spills them all */
	for (int i = 0; i < FLOW_KEY_U64; i++)
		d[i] = w[i];
	/*
	 * BUSY only once the key is whole: a CPU that read this slot's
	 * number from its old flow's index entry and stalled past the grace
	 * period (a vCPU the host paused) finds the slot GONE or the new key
	 * whole, never a half-written key equal to its old one (same hosts,
	 * other ports), which would count its frame in the new flow. In
	 * program order on x86 (TSO); elsewhere the grace period alone.
	 */
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&v->state = HDRLOG_FLOW_BUSY;
	v->last_ns = now;
	v->pkts[0] = 1;
	v->pkts[1] = 0;
	v->bytes[0] = FLOW_FIRST_BYTES(first);
	v->bytes[1] = 0;
	v->tcp_flags = first & FLOW_FIRST_TCP ? r->tcp_flags : 0;
	v->dropped = r->action == XDP_DROP;
	v->client_hi = !!(first & FLOW_FIRST_FROM_HI);
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
	v->index_pos = pos;
}

/* flow_walk()'s answers besides a slot number */
#define FLOW_WALK_ABSENT	(1ll << 40)	/* | entry, | TOMB if one */
#define FLOW_WALK_TOMB		(1ll << 39)

/*
 * One walk of key k's chain (hash h): the slot of its flow; or
 * FLOW_WALK_ABSENT | the chain's first free entry (| FLOW_WALK_TOMB if a
 * tombstone); or FLOW_NONE: no free entry within FLOW_PROBES. A slot
 * found through the index is whole (the entry was set after the slot was
 * filled, fully ordered), so a BUSY one (its maker has yet to mark it
 * LIVE) is the flow as much as a LIVE one: no waiting for another CPU,
 * which a preempted vCPU could make long. A global function,
 * as flow_find(): the verifier checks its loop once, apart (nested in
 * flow_find()'s, it took over a million instructions).
 */
__attribute__((noinline)) long long
flow_walk(const struct hdrlog_flow_key *k, __u64 h)
{
	__u32 n = flow_index_n, probes = n < FLOW_PROBES ? n : FLOW_PROBES;
	__u64 tag = (h | 1ull << 32) >> 32 << 32, e, st;
	long long cand = FLOW_NONE;
	struct hdrlog_flow *v;
	__u32 i, s;
	__u64 *ep;

	if (!k)
		return FLOW_NONE;
	i = ((h & 0xffffffff) * n) >> 32;
	for (__u32 p = 0; p < FLOW_PROBES && p < probes; p++) {
		ep = bpf_map_lookup_elem(&flow_index, &i);
		if (!ep)
			return FLOW_NONE;	/* cannot be: i < n */
		e = *(volatile __u64 *)ep;
		if (e == HDRLOG_FLOW_INDEX_EMPTY)
			/* no chain goes past: absent */
			return cand != FLOW_NONE ? cand : FLOW_WALK_ABSENT | i;
		if (e == HDRLOG_FLOW_INDEX_TOMB) {
			if (cand == FLOW_NONE)
				cand = FLOW_WALK_ABSENT | FLOW_WALK_TOMB | i;
		} else if ((e & 0xffffffff00000000ull) == tag) {
			s = (__u32)e;
			v = bpf_map_lookup_elem(&flow_slots, &s);
			if (!v)
				return FLOW_NONE;	/* cannot be */
			st = flow_state(v);
			if ((st == HDRLOG_FLOW_LIVE || st == HDRLOG_FLOW_BUSY) &&
			    flow_key_eq(v, k))
				return s;
		}
		if (++i == n)
			i = 0;
	}
	return cand;
}

/*
 * Between a cache hit's read of the slot's state and of its key: the
 * key read must not be older than the state read. A walk needs no such
 * thing (the slot's number came from an index entry read just before,
 * and the slot cannot be reused for RETIRE_NS), but a cache entry can be
 * stale for ever: its slot may be being filled for another flow right
 * now, key first, then (after the fully ordered cmpxchg of its index
 * entry) LIVE. x86 never reorders a load with an older load: nothing to
 * do. arm64 may, and could then pair the new flow's LIVE with the old
 * flow's key and count this frame in the new flow: a fully ordered
 * atomic (a BPF_FETCH one; its result is used, so that clang does not
 * make it a plain, unordered add) on the CPU's own entry orders them.
 * True when the entry still holds hint, as it does unless a program on
 * this CPU rewrote it meanwhile (then walk).
 */
static __always_inline int flow_cache_ordered(__u64 *cp, __u64 hint)
{
#if defined(__TARGET_ARCH_arm64)
	return __sync_fetch_and_add(cp, 0) == hint;
#else
	return 1;
#endif
}

/*
 * The slot of key k's flow: its number, or a new flow's made from its
 * first frame (r, and first: FLOW_FIRST_*), the number | FLOW_NEW; or
 * FLOW_NONE: not tracked (no slot left, no free index entry within
 * FLOW_PROBES, or FLOW_ATTEMPTS entries lost to other CPUs).
 */
__attribute__((noinline)) long long
flow_find(const struct hdrlog_flow_key *k, const struct hdrlog_record *r,
	  __u64 first)
{
	struct hdrlog_flow *mine = NULL, *v;
	__u64 h, tag, old, hint, *cp = NULL;
	long long w;
	__u32 slot = 0, pos;
	__u64 *ep;

	if (!k || !r)
		return FLOW_NONE;
	h = flow_hash(k);
	tag = (h | 1ull << 32) >> 32 << 32;	/* never 0 */
	if (flow_cache_bits) {
		pos = bpf_get_smp_processor_id() << flow_cache_bits |
		      (h & ((1u << flow_cache_bits) - 1));
		cp = bpf_map_lookup_elem(&flow_cache, &pos);
		hint = cp ? *cp : 0;
		if ((hint & 0xffffffff00000000ull) == tag) {
			slot = (__u32)hint;
			v = bpf_map_lookup_elem(&flow_slots, &slot);
			if (v && flow_state(v) == HDRLOG_FLOW_LIVE &&
			    flow_cache_ordered(cp, hint) && flow_key_eq(v, k))
				return slot;
		}
	}
	for (int attempt = 0; attempt < FLOW_ATTEMPTS; attempt++) {
		w = flow_walk(k, h);
		if (w == FLOW_NONE)
			break;
		if (!(w & FLOW_WALK_ABSENT)) {
			/* another CPU made it first: ours is not needed */
			if (mine)
				mine->state = HDRLOG_FLOW_ORPHAN;
			if (cp)
				*cp = tag | (__u32)w;
			return (__u32)w;
		}
		if (!mine) {
			mine = flow_slot_take(&slot);
			if (!mine)
				return FLOW_NONE;
		}
		pos = (__u32)w;
		old = w & FLOW_WALK_TOMB ? HDRLOG_FLOW_INDEX_TOMB :
					   HDRLOG_FLOW_INDEX_EMPTY;
		flow_fill(mine, k, r, first, pos);
		ep = bpf_map_lookup_elem(&flow_index, &pos);
		if (!ep)
			break;	/* cannot be: pos < flow_index_n */
		/* fully ordered: the slot is whole before it can be found */
		if (__sync_val_compare_and_swap(ep, old, tag | slot) == old) {
			/*
			 * not put in the cache: a flow's second frame does
			 * that, and a flow of one frame (half of the frames
			 * with a million flows of two) costs no store
			 */
			*(volatile __u64 *)&mine->state = HDRLOG_FLOW_LIVE;
			return slot | FLOW_NEW;
		}
		/* another CPU took the entry, maybe for this flow: walk again */
	}
	if (mine)
		mine->state = HDRLOG_FLOW_ORPHAN;
	return FLOW_NONE;
}

/*
 * Count frame r (parsed, lists applied) in its flow. The first frame's
 * time is read from the precise clock; later frames' (last seen) from
 * the coarse one, a tick behind at most (4 ms at HZ=250): the precise
 * clock costs ~60 ns here, a quarter of the whole update, and last seen
 * only has to be good enough for timeouts in seconds and a flow's end.
 *
 * A frame of a known flow: the index walk to its slot (usually the home
 * entry), the slot's first line to compare, its second to count in, two atomic
 * adds (packets and bytes: several CPUs may count in one flow), and
 * plain stores for the rest; the flags' atomic OR only when the frame
 * brings a flag the flow had not seen that way (most TCP frames bring
 * none). A new flow: the walk to the first EMPTY index entry, a slot
 * taken (an atomic add, or a cmpxchg on the ring's head), its fields
 * written with the first frame's, and a cmpxchg of the entry.
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
	if (r->vlan_count > 1)
		k.inner_vlan = bpf_ntohs(r->vlan_tci[1]) & 0x0fff;
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

	found = flow_find(&k, r, bytes | (from_hi ? FLOW_FIRST_FROM_HI : 0) |
				(tcp ? FLOW_FIRST_TCP : 0));
	if (found == FLOW_NONE) {
		cnt->flow_table_full++;
		return;
	}
	slot = (__u32)found;
	v = bpf_map_lookup_elem(&flow_slots, &slot);
	if (!v)
		return;		/* cannot be: flow_find() checked it */
	if (found & FLOW_NEW) {
		cnt->flows_new++;
		if (flow_tcp_ended(v->tcp_flags))
			flow_ended(slot, v->first_ns);
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
