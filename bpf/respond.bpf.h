// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Automated response (--respond): per-source counters and the dynamic
 * block list. handle_frame() calls respond_frame() only when
 * respond_enabled, a .rodata constant: without --respond the verifier
 * prunes all of this, and a frame pays nothing.
 *
 * Why an LRU hash with atomic adds and not a per-CPU LRU hash: the
 * thresholds are per source, and a flood with varying ports (a SYN flood,
 * a scan) is spread by RSS over every CPU, so no one CPU's share would
 * cross a threshold; a program cannot sum another CPU's value. A shared
 * value also costs one entry per source, not one per source and CPU.
 * LRU, not a plain hash: a source that stops sending may be forgotten
 * (its counters are only needed while it sends), and a spoofed flood from
 * many sources must not fill the table and blind it to the next one.
 * Frames that find no entry (an insert raced out) are counted untracked.
 *
 * The window rolls when a frame sees that its window is over: the CPU
 * that wins a compare-and-swap of the window number moves cur to prev and
 * zeroes cur. Adds other CPUs make during that copy may land in either
 * window or be lost: a few frames per window, at most one per CPU.
 *
 * A measure crossing hot_at[m][l] (the lowest distinct thresholds of the
 * policies on it, in counts per window, set by the loader) sends a notice
 * of the source on the hot ring, once per window, measure and threshold:
 * userspace is woken by it and judges the source at once (not at its next
 * 50 ms poll), and never scans the table. The first notice starts the
 * source's watch; the next ones judge at once a policy above the lowest
 * threshold (a 1000/s packet-rate beside a baseline's min of 100/s),
 * which the watch's poll alone would judge up to 50 ms late.
 */
#ifndef HDRLOG_RESPOND_BPF_H
#define HDRLOG_RESPOND_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "respond_layout.h"

/* Set by userspace before load (src/respond.c). */
const volatile __u8 respond_enabled;
const volatile __u64 respond_window_ns = 1000000000;
const volatile __u32 respond_mask4 = 0xffffffff;	/* network order */
const volatile __u32 respond_mask6[4] = { ~0U, ~0U, 0, 0 };	/* network order */
/* ascending; 0: none (hot_at[m][0] == 0: measure m not watched) */
const volatile __u64 hot_at[HDRLOG_M_COUNT][HDRLOG_HOT_LEVELS];
const volatile __u64 protect_mask;	/* allow and never-block lists */
/* Set by userspace while running (src/respond.c): see respond_layout.h. */
volatile __u64 block_filter[HDRLOG_BLOCK_FILTER_WORDS];

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);	/* respond.conf sources, set at load */
	__type(key, struct hdrlog_src_key);
	__type(value, struct hdrlog_src);
} sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);	/* respond.conf max-blocks, set at load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hdrlog_src_key);
	__type(value, struct hdrlog_block);
} blocks SEC(".maps");

/*
 * A ring buffer, not a queue map: its fd wakes the main loop's epoll.
 * 64 KiB holds 1638 notices (32 bytes and an 8-byte header each) that
 * hdrlog has not read yet; one page without --respond (src/loader.c).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 65536);
} hot_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdrlog_respond_counters);
} respond_counters SEC(".maps");

/*
 * A sketch bit for v: MurmurHash3's finaliser, whose bits behave as
 * random ones even for consecutive ports (a sequential scan). Fibonacci
 * hashing spread 150 consecutive ports over 124 bits, nearly without the
 * collisions linear counting expects: it read 444 ports.
 */
static __always_inline __u32 sketch_bit(__u32 v)
{
	v ^= v >> 16;
	v *= 0x85ebca6bu;
	v ^= v >> 13;
	v *= 0xc2b2ae35u;
	v ^= v >> 16;
	return v & 127;
}

/*
 * Send a notice of the source for measure m, once per window for its
 * hot bit: only the frame that crosses the threshold gets past the plain
 * read of s->hot, so a source above its threshold (a flood, all its
 * window long) costs no atomic here. Flags 0: the ring wakes its reader when the reader has
 * read all before this notice, so the first notice after a read wakes
 * hdrlog at once, and notices that come while it is awake (it reads them
 * all in the same turn) cost no wake-up each: a flood from many sources
 * crossing a low threshold is many notices.
 */
static __always_inline void hot_signal(struct hdrlog_src *s, int m,
				       int bit,
				       struct hdrlog_respond_counters *rc,
				       const struct hdrlog_src_key *k)
{
	struct hdrlog_hot h;

	if ((s->hot & (1ULL << bit)) ||
	    (__sync_fetch_and_or(&s->hot, 1ULL << bit) & (1ULL << bit)))
		return;
	h = (struct hdrlog_hot){ .key = *k, .measure = m, .window = s->window };
	if (bpf_ringbuf_output(&hot_ring, &h, sizeof(h), 0))
		rc->hot_lost++;		/* the ring is full: reported */
}

static __always_inline void measure_add(struct hdrlog_src *s, int m,
					__u64 inc,
					struct hdrlog_respond_counters *rc,
					const struct hdrlog_src_key *k)
{
	__u64 v = __sync_fetch_and_add(&s->cur.n[m], inc) + inc;

	/* most frames: below the lowest, one compare */
	for (int l = 0; l < HDRLOG_HOT_LEVELS; l++) {
		if (!hot_at[m][l] || v < hot_at[m][l])
			break;
		hot_signal(s, m, m * HDRLOG_HOT_LEVELS + l, rc, k);
	}
}

/* A sketch's measure counts the bits set, so only a new bit adds. */
static __always_inline void sketch_add(struct hdrlog_src *s, __u64 *map,
				       __u32 bit, int m,
				       struct hdrlog_respond_counters *rc,
				       const struct hdrlog_src_key *k)
{
	__u64 b = 1ULL << (bit & 63);

	if (map[(bit >> 6) & 1] & b)	/* most frames: set already */
		return;
	if (__sync_fetch_and_or(&map[(bit >> 6) & 1], b) & b)
		return;
	measure_add(s, m, 1, rc, k);
}

/*
 * The source's counters. The packets and bytes are always counted (--top
 * shows them, baseline learns from them); a SYN or sketch measure only
 * when a policy judges it: hot_at[] is .rodata, so the verifier drops the
 * code of the others.
 */
static __always_inline void src_count(const struct hdrlog_record *r,
				      const struct hdrlog_src_key *k,
				      struct hdrlog_respond_counters *rc,
				      __u64 now)
{
	struct hdrlog_src *s;
	__u64 w, old;

	s = bpf_map_lookup_elem(&sources, k);
	if (!s) {
		struct hdrlog_src fresh = { .window = now / respond_window_ns };

		bpf_map_update_elem(&sources, k, &fresh, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&sources, k);
		if (!s) {
			rc->untracked++;
			return;
		}
	}
	/*
	 * A multiply per frame, the divide only when the window is over; and
	 * only forward: a CPU whose clock read came just before another's
	 * roll must not roll the window back (and zero it).
	 */
	old = s->window;
	if (now >= (old + 1) * respond_window_ns) {
		w = now / respond_window_ns;
		if (__sync_val_compare_and_swap(&s->window, old, w) == old) {
			if (w == old + 1)
				s->prev = s->cur;
			else
				__builtin_memset(&s->prev, 0, sizeof(s->prev));
			__builtin_memset(&s->cur, 0, sizeof(s->cur));
			s->hot = 0;
		}
	}
	if (s->lists != r->src_lists)
		s->lists = r->src_lists;
	measure_add(s, HDRLOG_M_PKTS, 1, rc, k);
	measure_add(s, HDRLOG_M_BYTES, r->pkt_len, rc, k);
	if (hot_at[HDRLOG_M_SYNS][0] && (r->flags & HDRLOG_RF_TCP) &&
	    (r->tcp_flags & 0x12) == 0x02)
		measure_add(s, HDRLOG_M_SYNS, 1, rc, k);
	if (hot_at[HDRLOG_M_PORT_BITS][0] && (r->flags & HDRLOG_RF_PORTS))
		sketch_add(s, s->cur.ports, sketch_bit(bpf_ntohs(r->dest_port)),
			   HDRLOG_M_PORT_BITS, rc, k);
	if (hot_at[HDRLOG_M_HOST_BITS][0]) {
		const __u32 *d = (const __u32 *)r->dest_ip;

		sketch_add(s, s->cur.hosts, sketch_bit(d[0] ^ d[1] ^ d[2] ^ d[3]),
			   HDRLOG_M_HOST_BITS, rc, k);
	}
}

/* False: the key is not in the block list (true: it may be). */
static __always_inline int block_maybe(const struct hdrlog_src_key *k)
{
	__u32 bit = hdrlog_block_filter_bit(k);

	return (block_filter[(bit >> 6) & (HDRLOG_BLOCK_FILTER_WORDS - 1)] >>
		(bit & 63)) & 1;
}

/*
 * Count an incoming frame (parsed, lists applied, passed by them) and
 * apply the dynamic block list; returns the XDP action. A source on an
 * allow list or a never-block list is never dropped here, even if it is
 * in the block list: userspace checks before it inserts, and this check
 * covers a list reload since then and a block of a prefix that holds a
 * protected address. Nor is a frame the link needs (essential: ARP, IPv6
 * neighbour discovery). monitor_only: --monitor, mark and pass. The
 * block list is looked up only for a source whose bit is set in the block
 * filter: one lookup (the counters') for most frames, not two.
 */
static __always_inline int respond_frame(struct hdrlog_record *r,
					 struct hdrlog_counters *cnt,
					 int essential, int monitor_only)
{
	struct hdrlog_respond_counters *rc;
	struct hdrlog_src_key k = {};
	struct hdrlog_block *b;
	const __u32 *a;
	__u32 zero = 0;
	__u64 now;

	if (!(r->flags & HDRLOG_RF_IP))
		return XDP_PASS;
	rc = bpf_map_lookup_elem(&respond_counters, &zero);
	if (!rc)
		return XDP_PASS;
	k.ip_v = r->ip_v;
	/* 4-byte words: the record's addresses are 4-byte aligned */
	a = (const __u32 *)r->src_ip;
	if (r->ip_v == 4) {
		k.addr[0] = a[0] & respond_mask4;
	} else {
		k.addr[0] = a[0] & respond_mask6[0];
		k.addr[1] = a[1] & respond_mask6[1];
		k.addr[2] = a[2] & respond_mask6[2];
		k.addr[3] = a[3] & respond_mask6[3];
	}
	now = bpf_ktime_get_coarse_ns();
	b = block_maybe(&k) ? bpf_map_lookup_elem(&blocks, &k) : NULL;
	if (b && b->expires_ns > now) {
		__u32 p = b->policy & (HDRLOG_RESPOND_POLICIES - 1);

		if ((r->src_lists & protect_mask) || essential) {
			rc->protected_pass++;
			return XDP_PASS;
		}
		/*
		 * Atomic, not per-CPU: a blocked flood comes in on every CPU
		 * (RSS), and a per-CPU value would multiply max-blocks' memory
		 * by the CPUs and make each insert from userspace an array.
		 * Only frames of a blocked source pay for it.
		 */
		__sync_fetch_and_add(&b->dropped, 1);
		if (monitor_only) {
			r->flags |= HDRLOG_RF_WOULD_DROP;
			rc->would_drop[p]++;
			cnt->would_drop++;
			return XDP_PASS;
		}
		rc->dropped[p]++;
		return XDP_DROP;
	}
	src_count(r, &k, rc, now);
	return XDP_PASS;
}

#endif
