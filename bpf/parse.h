/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bounded header parsers for the XDP program. Each takes the cursor and
 * data_end, fills the record, and either advances the cursor past its
 * header or returns -1 when the frame ends inside it. Nothing here reads
 * at or past data_end, and no parser runs on payload.
 */
#ifndef HDRLOG_PARSE_H
#define HDRLOG_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "record.h"

#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88A8
#define IP_MF_		0x2000
#define IP_OFFSET_	0x1FFF

struct cursor {
	void *pos;
	void *end;
};

/* True when n bytes from the cursor are inside the frame. */
static __always_inline int cursor_has(const struct cursor *c, __u32 n)
{
	return c->pos + n <= c->end;
}

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

static __always_inline int is_vlan_tpid(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q_) ||
	       proto == bpf_htons(ETH_P_8021AD_);
}

/*
 * Ethernet plus up to HDRLOG_MAX_TAGS 802.1Q/802.1ad tags (the record
 * names the outer HDRLOG_MAX_VLANS); returns the inner ethertype.
 *
 * No tag limit makes a frame safe to pass. __netif_receive_skb_core()
 * (net/core/dev.c) untags a frame whose protocol is a VLAN TPID, hands
 * a tag with a configured VLAN device to it and starts another round
 * (so nested VLAN devices peel tag after tag), and at check_vlan_id
 * strips a tag with VLAN id 0 whose inner protocol is again a TPID and
 * checks the next one, for as many as the frame holds. Any depth of
 * tags can therefore reach ip_rcv(). A frame whose tags go on past the
 * last one followed gets HDRLOG_RF_DEPTH without HDRLOG_RF_IP, and
 * apply_lists() drops it whenever a block or allow list is in force.
 */
static __always_inline int parse_eth(struct cursor *c, struct hdrlog_record *r,
				     __be16 *proto)
{
	struct ethhdr *eth = c->pos;
	void *start = c->pos;
	__u32 depth;

	if (!cursor_has(c, sizeof(*eth)))
		return -1;
	__builtin_memcpy(r->dest_mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(r->src_mac, eth->h_source, ETH_ALEN);
	*proto = eth->h_proto;
	r->ether_type = *proto;
	r->flags |= HDRLOG_RF_ETH;
	c->pos += sizeof(*eth);

#pragma unroll
	for (int i = 0; i < HDRLOG_MAX_TAGS; i++) {
		struct vlan_hdr_ *vh = c->pos;

		if (!is_vlan_tpid(*proto))
			break;
		if (!cursor_has(c, sizeof(*vh)))
			return -1;
		if (i < HDRLOG_MAX_VLANS) {
			r->vlan_tci[i] = vh->tci;
			r->vlan_count = i + 1;
		}
		r->vlan_depth = i + 1;
		*proto = vh->proto;
		r->ether_type = *proto;
		c->pos += sizeof(*vh);
	}
	if (is_vlan_tpid(*proto))
		r->flags |= HDRLOG_RF_DEPTH;	/* tags left: see above */
	/*
	 * Each tag count leaves the loop with its own constant cursor, and
	 * the verifier would walk every parser below once per count (nine
	 * times). Read the count back from the record, which the verifier
	 * does not track: one cursor with a bounded variable offset, one
	 * walk.
	 */
	depth = *(volatile __u8 *)&r->vlan_depth;
	if (depth > HDRLOG_MAX_TAGS)
		return -1;
	c->pos = start + sizeof(*eth) + depth * sizeof(struct vlan_hdr_);
	*proto = *(volatile __be16 *)&r->ether_type;
	return 0;
}

/* IPv4 with options; returns the L4 protocol, or -1 when truncated. */
static __always_inline int parse_ipv4(struct cursor *c, struct hdrlog_record *r)
{
	struct iphdr *ip = c->pos;
	__u32 hlen;

	if (!cursor_has(c, sizeof(*ip)))
		return -1;
	r->flags |= HDRLOG_RF_IP;
	r->ip_v = 4;
	r->ip_proto = ip->protocol;
	r->ttl = ip->ttl;
	r->tos = ip->tos;
	r->ip_len = ip->tot_len;
	r->ip_id = bpf_htonl(bpf_ntohs(ip->id));
	__builtin_memcpy(r->src_ip, &ip->saddr, 4);
	__builtin_memcpy(r->dest_ip, &ip->daddr, 4);
	if (ip->frag_off & bpf_htons(IP_MF_ | IP_OFFSET_)) {
		r->flags |= HDRLOG_RF_FRAGMENT;
		if (ip->frag_off & bpf_htons(IP_MF_))
			r->flags |= HDRLOG_RF_MORE_FRAGS;
		r->frag_off = ip->frag_off & bpf_htons(IP_OFFSET_);
	}
	hlen = ip->ihl * 4;
	if (hlen < sizeof(*ip))
		return -1;	/* a bad IHL announces no usable header */
	if (!cursor_has(c, hlen))
		return -1;
	c->pos += hlen;
	return ip->protocol;
}

struct ipv6_opt_hdr_ {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct frag_hdr_ {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset << 3 | M */
	__be32 identification;
};

static __always_inline int ipv6_is_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	       nh == IPPROTO_DSTOPTS || nh == IPPROTO_FRAGMENT ||
	       nh == IPPROTO_AH;
}

/*
 * IPv6 and up to HDRLOG_MAX_IPV6_EXT extension headers. Returns the upper
 * protocol, 0 when the upper header must not be parsed (a non-first
 * fragment, or a chain deeper than the limit), -1 when truncated.
 */
static __always_inline int parse_ipv6(struct cursor *c, struct hdrlog_record *r)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 nh;

	if (!cursor_has(c, sizeof(*ip6)))
		return -1;
	r->flags |= HDRLOG_RF_IP;
	r->ip_v = 6;
	r->ttl = ip6->hop_limit;
	r->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	r->flow_label = bpf_htonl(((__u32)(ip6->flow_lbl[0] & 0x0f) << 16) |
				  ((__u32)ip6->flow_lbl[1] << 8) |
				  ip6->flow_lbl[2]);
	r->ip_len = ip6->payload_len;
	__builtin_memcpy(r->src_ip, &ip6->saddr, 16);
	__builtin_memcpy(r->dest_ip, &ip6->daddr, 16);
	nh = ip6->nexthdr;
	r->ip_proto = nh;
	c->pos += sizeof(*ip6);

#pragma unroll
	for (int i = 0; i < HDRLOG_MAX_IPV6_EXT; i++) {
		if (!ipv6_is_ext(nh))
			return nh;
		if (nh == IPPROTO_FRAGMENT) {
			struct frag_hdr_ *fh = c->pos;

			if (!cursor_has(c, sizeof(*fh)))
				return -1;
			r->flags |= HDRLOG_RF_FRAGMENT;
			if (fh->frag_off & bpf_htons(1))
				r->flags |= HDRLOG_RF_MORE_FRAGS;
			r->frag_off = bpf_htons(bpf_ntohs(fh->frag_off) >> 3);
			r->ip_id = fh->identification;
			nh = fh->nexthdr;
			r->ip_proto = nh;
			c->pos += sizeof(*fh);
			if (r->frag_off)
				return 0;
			continue;
		}

		struct ipv6_opt_hdr_ *oh = c->pos;
		__u32 len;

		if (!cursor_has(c, sizeof(*oh)))
			return -1;
		if (nh == IPPROTO_AH)
			len = ((__u32)oh->hdrlen + 2) * 4;
		else
			len = ((__u32)oh->hdrlen + 1) * 8;
		if (!cursor_has(c, len))
			return -1;
		nh = oh->nexthdr;
		r->ip_proto = nh;
		c->pos += len;
	}
	if (ipv6_is_ext(nh)) {
		r->flags |= HDRLOG_RF_DEPTH;
		return 0;
	}
	return nh;
}

struct sctp_hdr_ {
	__be16 source;
	__be16 dest;
	__be32 vtag;
	__be32 checksum;
};

/* Transport header; -1 when truncated. */
static __always_inline int parse_l4(struct cursor *c, struct hdrlog_record *r,
				    int proto)
{
	switch (proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = c->pos;

		if (!cursor_has(c, sizeof(*th)))
			return -1;
		r->src_port = th->source;
		r->dest_port = th->dest;
		r->tcp_seq = th->seq;
		r->tcp_ack = th->ack_seq;
		r->tcp_win = th->window;
		/* byte 13 of the header: CWR ECE URG ACK PSH RST SYN FIN */
		r->tcp_flags = ((__u8 *)th)[13];
		r->flags |= HDRLOG_RF_PORTS | HDRLOG_RF_TCP;
		break;
	}
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE: {
		struct udphdr *uh = c->pos;

		if (!cursor_has(c, sizeof(*uh)))
			return -1;
		r->src_port = uh->source;
		r->dest_port = uh->dest;
		r->flags |= HDRLOG_RF_PORTS;
		break;
	}
	case IPPROTO_SCTP: {
		struct sctp_hdr_ *sh = c->pos;

		if (!cursor_has(c, sizeof(*sh)))
			return -1;
		r->src_port = sh->source;
		r->dest_port = sh->dest;
		r->flags |= HDRLOG_RF_PORTS;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *ic = c->pos;

		/* type, code and checksum are common to every message */
		if (!cursor_has(c, 4))
			return -1;
		r->icmp_type = ic[0];
		r->icmp_code = ic[1];
		r->flags |= HDRLOG_RF_ICMP;
		break;
	}
	}
	return 0;
}

#endif
