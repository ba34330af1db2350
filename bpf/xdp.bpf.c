// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * XDP header capture: parse each ingress frame, check its addresses
 * against the named lists, put the header fields into the ring buffer,
 * and pass the frame on or, by the lists' policy, drop it.
 *
 * Built as part of hdrlog.bpf.c, with the socket programs: one object,
 * whose maps both share.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "parse.h"
#include "maps.h"
#include "lists.bpf.h"

/* Set by userspace before load. */
const volatile __u32 sample_every = 1;	/* log 1 in N unlisted frames */
const volatile __u32 snaplen;		/* frame bytes copied into records */
const volatile __u8 monitor;		/* --monitor: never drop */
const volatile __u8 log_listed;		/* --log listed */
const volatile __u8 too_deep_drop;	/* --too-deep drop */
const volatile __u64 block_src_mask;	/* block lists */
const volatile __u64 block_dest_mask;	/* block lists with :any */
const volatile __u64 allow_mask;	/* allow lists; 0: none */

/*
 * Where a record is built when the lists decide before it is logged, or
 * when the snap length is too long to reserve for every frame. Not the
 * stack: the verifier tracks every stack byte, and with the list
 * lookups that multiplies its work by four; map memory it does not
 * track. A plain array with one slot per possible CPU (both sizes set
 * at load), not a per-CPU array: the kernel caps a per-CPU value at
 * 32 KiB, and -s 0 needs 64 KiB. The slot of the running CPU has one
 * user at a time for the same reason a per-CPU value has: the program
 * runs to its end on that CPU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* possible CPUs, set at load */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct hdrlog_record));	/* + snaplen, set at load */
} scratch SEC(".maps");

static __always_inline struct hdrlog_record *scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch, &cpu);
}

/*
 * Up to this snap length a record without lists is built in place in
 * the ring: no copy. Past it, reserving the whole snap length for every
 * frame would fill the ring with unused bytes (64 KiB for a 64-byte
 * frame at -s 0), so the record is built in the scratch slot and only
 * the bytes captured are put in the ring.
 */
#define INPLACE_SNAPLEN_MAX	512

static __always_inline void parse_frame(struct xdp_md *ctx,
					struct hdrlog_record *r)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__be16 eth_proto;
	int proto;

	if (parse_eth(&c, r, &eth_proto) < 0)
		goto truncated;
	if (eth_proto == bpf_htons(ETH_P_IP))
		proto = parse_ipv4(&c, r);
	else if (eth_proto == bpf_htons(ETH_P_IPV6))
		proto = parse_ipv6(&c, r);
	else
		return;
	if (proto < 0)
		goto truncated;
	/* Only a first fragment carries the transport header. */
	if (proto == 0 || r->frag_off)
		return;
	if (parse_l4(&c, r, proto) < 0)
		goto truncated;
	return;
truncated:
	r->flags |= HDRLOG_RF_TRUNCATED;
}

/*
 * ARP and IPv6 neighbour discovery always pass: no list cuts a host off
 * its link. Real neighbour discovery has hop limit 255 (RFC 4861), which
 * no router forwards, so a blocked host afar cannot use this door.
 */
static __always_inline int is_link_essential(const struct hdrlog_record *r)
{
	if (r->ether_type == bpf_htons(0x0806))
		return 1;
	return r->ip_v == 6 && r->ip_proto == IPPROTO_ICMPV6 &&
	       (r->flags & HDRLOG_RF_ICMP) && r->ttl == 255 &&
	       r->icmp_type >= 133 && r->icmp_type <= 137;
}

static __always_inline void count_hits(struct hdrlog_counters *cnt,
				       __u64 src, __u64 dest)
{
	for (int i = 0; i < HDRLOG_MAX_LISTS; i++) {
		if (!(src | dest))
			break;
		cnt->src_hits[i] += src & 1;
		cnt->dest_hits[i] += dest & 1;
		src >>= 1;
		dest >>= 1;
	}
}

/*
 * A tag stack still going where the parser stopped: no IP header was
 * read, yet the kernel may deliver the frame to IP (see parse_eth()).
 */
static __always_inline int tags_unfinished(const struct hdrlog_record *r)
{
	return (r->flags & (HDRLOG_RF_DEPTH | HDRLOG_RF_IP)) == HDRLOG_RF_DEPTH;
}

enum verdict {
	PASS,
	DROP_BLOCK,
	DROP_ALLOW,
	DROP_DEEP,
};

/* Look the addresses up and apply the policy; returns the XDP action. */
static __always_inline int apply_lists(struct hdrlog_record *r,
				       struct hdrlog_counters *cnt)
{
	__u32 slot = list_slot;
	struct tables t;
	enum verdict v = PASS;

	if ((r->flags & HDRLOG_RF_IP) && tables_get(&t, slot)) {
		r->src_lists = lookup_addr(&t, r->ip_v, r->src_ip);
		r->dest_lists = lookup_addr(&t, r->ip_v, r->dest_ip);
		r->flags |= HDRLOG_RF_LISTS;
		count_hits(cnt, r->src_lists, r->dest_lists);
	}
	if (is_link_essential(r))
		v = PASS;
	else if ((r->src_lists & block_src_mask) ||
		 (r->dest_lists & block_dest_mask))
		v = DROP_BLOCK;
	else if (too_deep_drop && (r->flags & HDRLOG_RF_DEPTH))
		v = DROP_DEEP;
	/* Addresses never checked cannot pass a block or allow list. */
	else if ((block_src_mask | block_dest_mask | allow_mask) &&
		 tags_unfinished(r))
		v = DROP_DEEP;
	else if (allow_mask && (r->flags & HDRLOG_RF_IP) &&
		 !(r->src_lists & allow_mask))
		v = DROP_ALLOW;

	if (v == PASS || monitor) {
		if (v != PASS) {
			r->flags |= HDRLOG_RF_WOULD_DROP;
			cnt->would_drop++;
		}
		cnt->passed++;
		return XDP_PASS;
	}
	if (v == DROP_BLOCK)
		cnt->dropped++;
	else if (v == DROP_ALLOW)
		cnt->dropped_allow++;
	else
		cnt->dropped_deep++;
	return XDP_DROP;
}

/* Everything a record says about the frame, lists aside. */
static __always_inline void fill_record(struct xdp_md *ctx,
					struct hdrlog_record *r,
					struct hdrlog_counters *cnt, __u32 len)
{
	__builtin_memset(r, 0, sizeof(*r));
	parse_frame(ctx, r);
	/* Branch-free: a branch here would double the verifier's work. */
	cnt->too_deep += !!(r->flags & HDRLOG_RF_DEPTH);
	r->version = HDRLOG_RECORD_VERSION;
	r->kind = HDRLOG_REC_PACKET;
	r->ifindex = ctx->ingress_ifindex;
	r->pkt_len = len;
	r->action = XDP_PASS;
}

/*
 * The frame's first bytes after the header, for pcap outputs and filters;
 * returns how many were copied.
 */
static __always_inline __u32 copy_frame(struct xdp_md *ctx,
					struct hdrlog_record *r, __u32 len)
{
	/* Bounds the verifier can follow: 1 <= cap <= snaplen (<= 65535). */
	__u64 cap = len & 0xffff;

	if (len > 0xffff)
		cap = 0xffff;
	if (cap > snaplen)
		cap = snaplen;
	/* Keep clang from folding the two tests into one the verifier can't read. */
	asm volatile("" : "+r"(cap));
	if (!cap)
		return 0;
	if (bpf_xdp_load_bytes(ctx, 0, r->data, cap))
		return 0;
	r->cap_len = cap;
	return cap;
}

/* Without lists and with a short snap length: the record built in the ring. */
static __always_inline int log_in_place(struct xdp_md *ctx,
					struct hdrlog_counters *cnt, __u32 len)
{
	struct hdrlog_record *rp;

	rp = bpf_ringbuf_reserve(&records, sizeof(*rp) + snaplen, 0);
	if (!rp) {
		cnt->lost++;
		return XDP_PASS;
	}
	fill_record(ctx, rp, cnt, len);
	if (snaplen)
		copy_frame(ctx, rp, len);
	rp->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(rp, ring_flags());
	cnt->logged++;
	return XDP_PASS;
}

/*
 * Without lists every frame that sampling keeps is logged, and with a
 * short snap length the record is built in place in the ring buffer.
 * With lists the verdict must not depend on room in the ring, so the
 * record is built in the CPU's scratch slot, the lists decide, and only
 * then is it copied out, with the frame bytes captured and no more, if
 * it is logged.
 *
 * xdp.frags: frames longer than a page (a jumbo MTU) reach the program
 * too, so -s 0 can capture them whole; the headers are always in the
 * first buffer, which is what data..data_end covers.
 */
SEC("xdp.frags")
int hdrlog_xdp(struct xdp_md *ctx)
{
	/* Not data_end - data: that is the first buffer only. */
	__u32 len = bpf_xdp_get_buff_len(ctx);
	struct hdrlog_counters *cnt;
	struct hdrlog_record *rp;
	__u32 cap = 0;

	cnt = counters_get();
	if (!cnt)
		return XDP_PASS;
	cnt->seen++;

	if (!lists_enabled) {
		if (sample_every > 1 && cnt->seen % sample_every) {
			cnt->sampled_out++;
			return XDP_PASS;
		}
		if (snaplen <= INPLACE_SNAPLEN_MAX)
			return log_in_place(ctx, cnt, len);
	}

	rp = scratch_get();
	if (!rp)
		return XDP_PASS;
	fill_record(ctx, rp, cnt, len);
	if (lists_enabled) {
		int listed;

		rp->action = apply_lists(rp, cnt);
		listed = rp->src_lists || rp->dest_lists ||
			 rp->action == XDP_DROP ||
			 (rp->flags & HDRLOG_RF_WOULD_DROP);
		if (!listed && log_listed) {
			cnt->not_listed++;
			return rp->action;
		}
		if (!listed && sample_every > 1 && cnt->seen % sample_every) {
			cnt->sampled_out++;
			return rp->action;
		}
	}
	/* The clock costs ~60 ns in this VM: read it only for a logged frame. */
	rp->ts_ns = bpf_ktime_get_ns();
	if (snaplen)
		cap = copy_frame(ctx, rp, len);
	if (bpf_ringbuf_output(&records, rp, sizeof(*rp) + cap, ring_flags()))
		cnt->lost++;
	else
		cnt->logged++;
	return rp->action;
}
