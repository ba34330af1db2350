// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Header capture, the one body of every packet program: parse a frame,
 * check its addresses against the named lists, put the header fields
 * into the ring buffer, and pass the frame on or, by the lists' policy,
 * drop it. Two hooks run it: XDP (xdp.bpf.c) on ingress, tc (tc.bpf.c)
 * on ingress or egress. Each entry point calls handle_frame() with its
 * hook and direction as constants, so the compiler keeps only that
 * hook's branch of every "if (hook == ...)" below: one source, no
 * run-time cost for sharing it.
 *
 * A record's action is XDP's word (XDP_PASS, XDP_DROP) whatever the
 * hook; the tc entry points turn it into TC_ACT_OK or TC_ACT_SHOT.
 */
#ifndef HDRLOG_PACKET_BPF_H
#define HDRLOG_PACKET_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "parse.h"
#include "maps.h"
#include "lists.bpf.h"
#include "owners.bpf.h"
#include "flows.bpf.h"
#include "respond.bpf.h"

enum hook {
	HOOK_XDP = HDRLOG_HOOK_XDP,
	HOOK_TC = HDRLOG_HOOK_TC,	/* __sk_buff: tcx or a clsact filter */
};

/* Set by userspace before load. */
const volatile __u32 sample_every = 1;	/* log 1 in N unlisted frames */
const volatile __u32 snaplen;		/* frame bytes copied into records */
const volatile __u8 monitor;		/* --monitor: never drop */
const volatile __u8 log_listed;		/* --log listed (not packets) */
const volatile __u8 log_no_packets;	/* --log flows: no packet records */
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

/* The bytes the hook gives direct access to. */
static __always_inline void frame_cursor(void *ctx, enum hook hook,
					 struct cursor *c)
{
	if (hook == HOOK_XDP) {
		struct xdp_md *x = ctx;

		c->pos = (void *)(long)x->data;
		c->end = (void *)(long)x->data_end;
	} else {
		struct __sk_buff *s = ctx;

		c->pos = (void *)(long)s->data;
		c->end = (void *)(long)s->data_end;
	}
}

static __always_inline void parse_frame(void *ctx, enum hook hook,
					struct hdrlog_record *r)
{
	struct cursor c;
	__be16 eth_proto;
	int proto;

	frame_cursor(ctx, hook, &c);
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

/*
 * Look the addresses up and apply the policy; returns the XDP action.
 * Block lists work both ways: a frame from a listed address, or with
 * :any to one, is dropped whichever way it goes. Allow lists and the
 * depth rules say who may reach this host: they judge incoming frames
 * only, so an allow list never cuts off what the host itself sends.
 */
static __always_inline int apply_lists(struct hdrlog_record *r,
				       struct hdrlog_counters *cnt, __u8 dir)
{
	const int in = dir == HDRLOG_DIR_INBOUND;
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
	else if (in && too_deep_drop && (r->flags & HDRLOG_RF_DEPTH))
		v = DROP_DEEP;
	/* Addresses never checked cannot pass a block or allow list. */
	else if (in && (block_src_mask | block_dest_mask | allow_mask) &&
		 tags_unfinished(r))
		v = DROP_DEEP;
	else if (in && allow_mask && (r->flags & HDRLOG_RF_IP) &&
		 !(r->src_lists & allow_mask))
		v = DROP_ALLOW;

	if (v == PASS || monitor) {
		if (v != PASS) {
			r->flags |= HDRLOG_RF_WOULD_DROP;
			cnt->would_drop++;
			cnt->out_would_drop += !in;
		}
		cnt->passed++;
		cnt->out_passed += !in;
		return XDP_PASS;
	}
	cnt->out_dropped += !in;
	if (v == DROP_BLOCK)
		cnt->dropped++;
	else if (v == DROP_ALLOW)
		cnt->dropped_allow++;
	else
		cnt->dropped_deep++;
	return XDP_DROP;
}

/* What the entry point knows about a frame before it is parsed. */
struct frame_info {
	__u32 len;		/* the whole frame, all fragments */
	__u32 ifindex;		/* where it arrived, or where it leaves */
	__u8 dir;		/* enum hdrlog_direction */
};

/*
 * An skb may hold its outer VLAN tag apart from the bytes (vlan_tci):
 * the receive path takes it out before tc ingress, and a VLAN device
 * gives it to a lower device that inserts tags, veth included. XDP sees
 * the tag in the frame; put it back in front, so that a record reads
 * the same from either hook and the length is the one on the wire.
 */
static __always_inline void add_offloaded_tag(struct __sk_buff *skb,
					      struct hdrlog_record *r)
{
	if (!skb->vlan_present)
		return;
	r->vlan_tci[1] = r->vlan_tci[0];
	r->vlan_tci[0] = bpf_htons(skb->vlan_tci);
	if (r->vlan_count < HDRLOG_MAX_VLANS)
		r->vlan_count++;
	r->vlan_depth++;
}

/*
 * A frame leaving from a local socket carries that socket (skb->sk): the
 * process the socket programs recorded for it when it was opened is the
 * one sending. Exact, by the socket's own address, where matching
 * addresses and ports in userspace (flows.c) is a lookup after the fact
 * that knows nothing before the connect event (a SYN, say). Only with
 * socket events: nothing fills owners otherwise.
 */
static __always_inline void add_owner(struct __sk_buff *skb,
				      struct hdrlog_record *r)
{
	struct bpf_sock *sk = skb->sk;
	struct owner *o;
	__u64 key;

	if (!sk)
		return;
	/* the address as a key: needs CAP_PERFMON, which hdrlog has */
	key = (__u64)sk;
	o = bpf_map_lookup_elem(&owners, &key);
	if (!o)
		o = udp_sending_owner(key);
	if (!o)
		return;
	r->pid = o->pid;
	__builtin_memcpy(r->comm, o->comm, sizeof(r->comm));
	r->flags |= HDRLOG_RF_OWNER;
}

/* Everything a record says about the frame, lists aside. */
static __always_inline void fill_record(void *ctx, enum hook hook,
					struct hdrlog_record *r,
					struct hdrlog_counters *cnt,
					const struct frame_info *fi)
{
	__builtin_memset(r, 0, sizeof(*r));
	parse_frame(ctx, hook, r);
	if (hook == HOOK_TC)
		add_offloaded_tag(ctx, r);
	if (hook == HOOK_TC && fi->dir == HDRLOG_DIR_OUTBOUND && sockets_attach)
		add_owner(ctx, r);
	/* Branch-free: a branch here would double the verifier's work. */
	cnt->too_deep += !!(r->flags & HDRLOG_RF_DEPTH);
	r->version = HDRLOG_RECORD_VERSION;
	r->kind = HDRLOG_REC_PACKET;
	r->ifindex = fi->ifindex;
	r->pkt_len = fi->len;
	r->direction = fi->dir;
	r->hook = hook;
	r->action = XDP_PASS;
}

/*
 * The frame's first bytes after the header, for pcap outputs and filters;
 * returns how many were copied.
 */
static __always_inline __u32 copy_frame(void *ctx, enum hook hook,
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
	if (hook == HOOK_TC && ((struct __sk_buff *)ctx)->vlan_present &&
	    cap > 16) {
		/* the offloaded tag back between the MACs and the rest */
		struct __sk_buff *skb = ctx;
		__u64 rest = cap - 16;

		asm volatile("" : "+r"(rest));
		if (rest > HDRLOG_MAX_SNAPLEN)
			return 0;
		if (bpf_skb_load_bytes(skb, 0, r->data, 12) ||
		    bpf_skb_load_bytes(skb, 12, r->data + 16, rest))
			return 0;
		*(__be16 *)&r->data[12] = skb->vlan_proto;
		*(__be16 *)&r->data[14] = bpf_htons(skb->vlan_tci);
	} else if (hook == HOOK_XDP ? bpf_xdp_load_bytes(ctx, 0, r->data, cap) :
		   bpf_skb_load_bytes(ctx, 0, r->data, cap)) {
		return 0;
	}
	r->cap_len = cap;
	return cap;
}

/* Without lists and with a short snap length: the record built in the ring. */
static __always_inline int log_in_place(void *ctx, enum hook hook,
					struct hdrlog_counters *cnt,
					const struct frame_info *fi)
{
	struct hdrlog_record *rp;

	rp = bpf_ringbuf_reserve(&records, sizeof(*rp) + snaplen, 0);
	if (!rp) {
		cnt->lost++;
		return XDP_PASS;
	}
	fill_record(ctx, hook, rp, cnt, fi);
	if (snaplen)
		copy_frame(ctx, hook, rp, fi->len);
	rp->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(rp, ring_flags());
	cnt->logged++;
	return XDP_PASS;
}

/*
 * Without lists and flows every frame that sampling keeps is logged, and
 * with a short snap length the record is built in place in the ring
 * buffer. With lists the verdict must not depend on room in the ring,
 * and with flows every frame counts whatever is logged, so the record is
 * built in the CPU's scratch slot, the lists decide, the flow counts it,
 * and only then is it copied out, with the frame bytes captured and no
 * more, if it is logged. --log flows alone reserves nothing in the ring:
 * that, not the parse, is most of a logged frame's cost.
 * Returns XDP_PASS or XDP_DROP.
 */
static __always_inline int handle_frame(void *ctx, enum hook hook,
					const struct frame_info *fi)
{
	struct hdrlog_iface_counters *ic;
	struct hdrlog_counters *cnt;
	struct hdrlog_record *rp;
	__u32 cap = 0;
	int listed = 0;

	cnt = counters_get();
	if (!cnt)
		return XDP_PASS;
	cnt->seen++;
	cnt->out_seen += fi->dir == HDRLOG_DIR_OUTBOUND;
	ic = iface_counters_get(cnt, fi->ifindex, fi->dir);
	if (ic)
		ic->seen++;

	if (!lists_enabled && !log_flows && !respond_enabled) {
		if (sample_every > 1 && cnt->seen % sample_every) {
			cnt->sampled_out++;
			if (ic)
				ic->sampled_out++;
			return XDP_PASS;
		}
		if (snaplen <= INPLACE_SNAPLEN_MAX)
			return log_in_place(ctx, hook, cnt, fi);
	}

	rp = scratch_get();
	if (!rp)
		return XDP_PASS;
	fill_record(ctx, hook, rp, cnt, fi);
	if (lists_enabled) {
		rp->action = apply_lists(rp, cnt, fi->dir);
		if (ic && rp->action == XDP_DROP)
			ic->dropped++;
		listed = rp->src_lists || rp->dest_lists ||
			 rp->action == XDP_DROP ||
			 (rp->flags & HDRLOG_RF_WOULD_DROP);
	}
	/* Dropped or not, a dynamic block is sampled as any other frame. */
	if (respond_enabled && fi->dir == HDRLOG_DIR_INBOUND &&
	    rp->action == XDP_PASS) {
		rp->action = respond_frame(rp, cnt, is_link_essential(rp),
					   monitor);
		if (ic && rp->action == XDP_DROP)
			ic->dropped++;
	}
	if (log_flows) {
		flow_update(rp, cnt);
		if (log_no_packets)
			return rp->action;
	}
	if (!listed && log_listed) {
		cnt->not_listed++;
		return rp->action;
	}
	if (!listed && sample_every > 1 && cnt->seen % sample_every) {
		cnt->sampled_out++;
		if (ic)
			ic->sampled_out++;
		return rp->action;
	}
	/* The clock costs ~60 ns in this VM: read it only for a logged frame. */
	rp->ts_ns = bpf_ktime_get_ns();
	if (snaplen)
		cap = copy_frame(ctx, hook, rp, fi->len);
	if (bpf_ringbuf_output(&records, rp, sizeof(*rp) + cap, ring_flags()))
		cnt->lost++;
	else
		cnt->logged++;
	return rp->action;
}

#endif
