// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Decode a ring-buffer record into host order, once.
 *
 * The kernel program is ours, but the decoder does not lean on that: a
 * record is bytes, and every count, length, index and enum in it is
 * checked here, so that no formatter can read past an array or print a
 * value a record cannot hold. What no kernel program of this version can
 * send (a length past the record, an IP version that is neither 4 nor 6,
 * an unknown socket event) refuses the record, which main.c counts as
 * undecodable; what only bounds a count (VLAN tags, list bits past the
 * lists loaded) is clamped.
 */
#include <endian.h>
#include <netinet/in.h>
#include <string.h>
#include <linux/bpf.h>

#include "clock.h"
#include "community_id.h"
#include "event.h"
#include "iface.h"
#include "record.h"

#define SET(e, id) ((e)->present |= FIELD_BIT(id))
#define IPV6_HEADER_LEN	40	/* not in payload_len, in IPv4's tot_len */

static const field_mask packet_fields =
	FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_EVENT_TYPE) | FIELD_BIT(F_IFINDEX) |
	FIELD_BIT(F_PKT_LEN) | FIELD_BIT(F_DIRECTION);

static const field_mask eth_fields =
	FIELD_BIT(F_SRC_MAC) | FIELD_BIT(F_DEST_MAC) | FIELD_BIT(F_ETHER_TYPE);

static const field_mask ip_fields =
	FIELD_BIT(F_IP_V) | FIELD_BIT(F_SRC_IP) | FIELD_BIT(F_DEST_IP) |
	FIELD_BIT(F_PROTO) | FIELD_BIT(F_IP_PROTO) | FIELD_BIT(F_TTL) |
	FIELD_BIT(F_TOS) | FIELD_BIT(F_IP_LEN);

static const field_mask tcp_fields =
	FIELD_BIT(F_TCP_FLAGS) | FIELD_BIT(F_TCP_SEQ) | FIELD_BIT(F_TCP_ACK) |
	FIELD_BIT(F_TCP_WIN);

static int decode_ip(struct event *e, const struct hdrlog_record *r)
{
	if (r->ip_v != 4 && r->ip_v != 6)
		return -1;
	e->present |= ip_fields;
	e->ip_v = r->ip_v;
	memcpy(e->src_ip, r->src_ip, 16);
	memcpy(e->dest_ip, r->dest_ip, 16);
	e->ip_proto = r->ip_proto;
	e->ttl = r->ttl;
	e->tos = r->tos;
	e->ip_len = be16toh(r->ip_len);
	if (r->ip_v == 4) {
		SET(e, F_IP_ID);
		e->ip_id = be32toh(r->ip_id);
	} else {
		e->ip_len += IPV6_HEADER_LEN;	/* total length, as IPv4's */
		SET(e, F_FLOW_LABEL);
		e->flow_label = be32toh(r->flow_label) & 0xfffff;
	}
	if (r->flags & HDRLOG_RF_FRAGMENT) {
		e->present |= FIELD_BIT(F_FRAG_OFFSET) | FIELD_BIT(F_MORE_FRAGMENTS);
		/* 13 bits in 8-byte units, in IPv4 and IPv6 alike */
		e->frag_offset = (be16toh(r->frag_off) & 0x1fff) * 8;
		e->more_fragments = r->flags & HDRLOG_RF_MORE_FRAGS;
		if (r->ip_v == 6) {
			SET(e, F_IP_ID);
			e->ip_id = be32toh(r->ip_id);
		}
	}
	return 0;
}

static void decode_l4(struct event *e, const struct hdrlog_record *r)
{
	uint16_t sport, dport;

	if (r->flags & HDRLOG_RF_PORTS) {
		e->present |= FIELD_BIT(F_SRC_PORT) | FIELD_BIT(F_DEST_PORT);
		e->src_port = be16toh(r->src_port);
		e->dest_port = be16toh(r->dest_port);
		sport = e->src_port;
		dport = e->dest_port;
	} else if (r->flags & HDRLOG_RF_ICMP) {
		e->present |= FIELD_BIT(F_ICMP_TYPE) | FIELD_BIT(F_ICMP_CODE);
		e->icmp_type = r->icmp_type;
		e->icmp_code = r->icmp_code;
		sport = e->icmp_type;
		dport = e->icmp_code;
	} else {
		return;
	}
	if (r->flags & HDRLOG_RF_TCP) {
		e->present |= tcp_fields;
		e->tcp_flags = r->tcp_flags;
		e->tcp_seq = be32toh(r->tcp_seq);
		e->tcp_ack = be32toh(r->tcp_ack);
		e->tcp_win = be16toh(r->tcp_win);
	}
	if (community_id_v1(0, e->ip_v, e->src_ip, e->dest_ip, e->ip_proto,
			    sport, dport, e->community_id) > 0)
		SET(e, F_COMMUNITY_ID);
}

static void decode_list_names(struct event *e, uint64_t src, uint64_t dest,
			      const struct list_set *lists)
{
	/* bits of lists that are not loaded name nothing */
	uint64_t loaded = lists->n_lists >= 64 ? ~0ULL :
			  (1ULL << lists->n_lists) - 1;

	src &= loaded;
	dest &= loaded;
	if (src) {
		SET(e, F_SRC_LISTS);
		e->n_src_lists = list_set_names(lists, src, e->src_lists,
						MAX_LISTS);
	}
	if (dest) {
		SET(e, F_DEST_LISTS);
		e->n_dest_lists = list_set_names(lists, dest, e->dest_lists,
						 MAX_LISTS);
	}
}

/* With lists or --respond: what the program did with the frame. */
static void decode_action(struct event *e, const struct hdrlog_record *r)
{
	SET(e, F_ACTION);
	e->dropped = r->action == XDP_DROP;
	e->would_drop = r->flags & HDRLOG_RF_WOULD_DROP;
	if (e->would_drop)
		SET(e, F_WOULD_DROP);
}

/* What every record starts with. */
static void decode_start(struct event *e, field_mask present,
			 enum event_type type, uint64_t ts_ns,
			 const struct decode_ctx *ctx)
{
	e->present = present;
	e->n_src_lists = 0;
	e->n_dest_lists = 0;
	e->time_ns = clock_map_realtime(ctx->clock, ts_ns);
	e->event_type = type;
}


static const field_mask sock_fields =
	FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_EVENT_TYPE) | FIELD_BIT(F_EVENT) |
	FIELD_BIT(F_NETNS) | FIELD_BIT(F_IP_V) | FIELD_BIT(F_SRC_IP) |
	FIELD_BIT(F_DEST_IP) | FIELD_BIT(F_PROTO) | FIELD_BIT(F_IP_PROTO) |
	FIELD_BIT(F_SRC_PORT) | FIELD_BIT(F_DEST_PORT);

static const field_mask owner_fields =
	FIELD_BIT(F_PID) | FIELD_BIT(F_TID) | FIELD_BIT(F_COMM) | FIELD_BIT(F_UID) |
	FIELD_BIT(F_CGROUP_ID) | FIELD_BIT(F_DIRECTION);

static int decode_socket(struct event *e, const struct hdrlog_sock_record *r,
			 const struct decode_ctx *ctx)
{
	if (!r->event || r->event > HDRLOG_SOCK_UDP_SEND ||
	    (r->ep.ip_v != 4 && r->ep.ip_v != 6))
		return -1;
	if (!(r->flags & HDRLOG_SF_NO_OWNER) &&
	    r->direction != HDRLOG_DIR_OUTBOUND &&
	    r->direction != HDRLOG_DIR_INBOUND)
		return -1;
	decode_start(e, sock_fields, EVENT_SOCKET, r->ts_ns, ctx);
	e->sock_event = r->event;
	e->netns = r->ep.netns;
	e->ip_v = r->ep.ip_v;
	memcpy(e->src_ip, r->ep.src_ip, 16);
	memcpy(e->dest_ip, r->ep.dest_ip, 16);
	e->ip_proto = r->ep.ip_proto;
	e->src_port = be16toh(r->ep.src_port);
	e->dest_port = be16toh(r->ep.dest_port);
	if (r->ep.ip_proto == IPPROTO_TCP) {
		SET(e, F_TCP_STATE);
		e->tcp_state = r->tcp_state;
	}
	if (!(r->flags & HDRLOG_SF_NO_OWNER)) {
		e->present |= owner_fields;
		e->pid = r->pid;
		e->tid = r->tid;
		e->uid = r->uid;
		e->cgroup_id = r->cgroup_id;
		memcpy(e->comm, r->comm, 16);
		e->comm[16] = '\0';
		e->direction = r->direction;
	}
	if (r->event == HDRLOG_SOCK_CLOSE) {
		e->present |= FIELD_BIT(F_BYTES_SENT) | FIELD_BIT(F_BYTES_RECEIVED);
		e->bytes_sent = r->bytes_sent;
		e->bytes_received = r->bytes_received;
		if (!(r->flags & HDRLOG_SF_NO_OWNER)) {
			SET(e, F_DURATION_MS);
			e->duration_ns = r->duration_ns;
		}
	}
	if (community_id_v1(0, e->ip_v, e->src_ip, e->dest_ip, e->ip_proto,
			    e->src_port, e->dest_port, e->community_id) > 0)
		SET(e, F_COMMUNITY_ID);
	if ((r->flags & HDRLOG_SF_LISTS) && ctx->lists)
		decode_list_names(e, r->src_lists, r->dest_lists, ctx->lists);
	e->data = NULL;
	e->cap_len = 0;
	return 0;
}

int event_decode(struct event *e, const void *rec, size_t size,
		 const struct decode_ctx *ctx)
{
	const struct hdrlog_record *r = rec;

	if (size >= sizeof(struct hdrlog_sock_record) &&
	    r->version == HDRLOG_RECORD_VERSION && r->kind == HDRLOG_REC_SOCKET)
		return decode_socket(e, rec, ctx);
	/* frame bytes past the record, or more than the frame had */
	if (size < sizeof(*r) || r->version != HDRLOG_RECORD_VERSION ||
	    r->kind != HDRLOG_REC_PACKET || size - sizeof(*r) < r->cap_len ||
	    r->cap_len > r->pkt_len ||
	    (r->direction != HDRLOG_DIR_INBOUND &&
	     r->direction != HDRLOG_DIR_OUTBOUND))
		return -1;

	decode_start(e, packet_fields, EVENT_PACKET, r->ts_ns, ctx);
	e->ifindex = r->ifindex;
	e->direction = r->direction;
	e->tc = r->hook == HDRLOG_HOOK_TC;
	if (r->flags & HDRLOG_RF_OWNER) {
		/* the sending socket's process (tc egress, add_owner()) */
		e->present |= FIELD_BIT(F_PID) | FIELD_BIT(F_COMM);
		e->pid = r->pid;
		memcpy(e->comm, r->comm, 16);
		e->comm[16] = '\0';
	}
	e->in_iface = e->out_iface = NULL;
	if (r->direction == HDRLOG_DIR_OUTBOUND)
		e->out_iface = iface_name(ctx->ifaces, r->ifindex);
	else
		e->in_iface = iface_name(ctx->ifaces, r->ifindex);
	if (e->in_iface)
		SET(e, F_IN_IFACE);
	if (e->out_iface)
		SET(e, F_OUT_IFACE);
	if (r->flags & HDRLOG_RF_ETH)
		e->present |= eth_fields;
	memcpy(e->src_mac, r->src_mac, 6);
	memcpy(e->dest_mac, r->dest_mac, 6);
	/* e->vlan has room for what a record can carry, no more */
	e->vlan_count = r->vlan_count < HDRLOG_MAX_VLANS ? r->vlan_count :
							  HDRLOG_MAX_VLANS;
	for (int i = 0; i < e->vlan_count; i++)
		e->vlan[i] = be16toh(r->vlan_tci[i]) & 0x0fff;
	if (e->vlan_count)
		SET(e, F_VLAN);
	e->ether_type = be16toh(r->ether_type);
	e->pkt_len = r->pkt_len;
	e->data = r->cap_len ? r->data : NULL;
	e->cap_len = r->cap_len;
	e->truncated = r->flags & HDRLOG_RF_TRUNCATED;
	if (e->truncated)
		SET(e, F_TRUNCATED);
	if (r->flags & HDRLOG_RF_IP) {
		if (decode_ip(e, r))
			return -1;
		decode_l4(e, r);
	}
	if (ctx->lists || ctx->respond)
		decode_action(e, r);
	if (ctx->lists)
		decode_list_names(e, r->src_lists, r->dest_lists, ctx->lists);
	return 0;
}

static const field_mask flow_fields =
	FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_EVENT_TYPE) | FIELD_BIT(F_IFINDEX) |
	FIELD_BIT(F_DIRECTION) | FIELD_BIT(F_IP_V) | FIELD_BIT(F_SRC_IP) |
	FIELD_BIT(F_DEST_IP) | FIELD_BIT(F_PROTO) | FIELD_BIT(F_IP_PROTO) |
	FIELD_BIT(F_FLOW_PKTS_TOSERVER) | FIELD_BIT(F_FLOW_PKTS_TOCLIENT) |
	FIELD_BIT(F_FLOW_BYTES_TOSERVER) | FIELD_BIT(F_FLOW_BYTES_TOCLIENT) |
	FIELD_BIT(F_FLOW_START) | FIELD_BIT(F_FLOW_END) | FIELD_BIT(F_FLOW_AGE) |
	FIELD_BIT(F_FLOW_STATE) | FIELD_BIT(F_FLOW_REASON) |
	FIELD_BIT(F_FLOW_MIN_TTL) | FIELD_BIT(F_FLOW_MAX_TTL);

/* TCP flag bits */
#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04

int event_decode_flow(struct event *e, const struct hdrlog_flow_key *k,
		      const struct hdrlog_flow *v, const struct decode_ctx *ctx)
{
	struct event_flow *f = &e->flow;
	const uint8_t *cip = v->client_hi ? k->hi_ip : k->lo_ip;
	const uint8_t *sip = v->client_hi ? k->lo_ip : k->hi_ip;
	uint16_t cport = be16toh(v->client_hi ? k->hi_port : k->lo_port);
	uint16_t sport = be16toh(v->client_hi ? k->lo_port : k->hi_port);
	bool icmp = k->ip_proto == IPPROTO_ICMP ||
		    (k->ip_proto == IPPROTO_ICMPV6 && k->ip_v == 6);
	uint16_t cid_sport = cport, cid_dport = sport;

	if ((k->ip_v != 4 && k->ip_v != 6) ||
	    (v->direction != HDRLOG_DIR_INBOUND &&
	     v->direction != HDRLOG_DIR_OUTBOUND))
		return -1;
	memset(f, 0, sizeof(*f));
	decode_start(e, flow_fields, EVENT_FLOW, v->last_ns, ctx);
	e->ifindex = k->ifindex;
	e->direction = v->direction;
	e->tc = false;
	e->in_iface = e->out_iface = NULL;
	if (v->direction == HDRLOG_DIR_OUTBOUND)
		e->out_iface = iface_name(ctx->ifaces, k->ifindex);
	else
		e->in_iface = iface_name(ctx->ifaces, k->ifindex);
	if (e->in_iface)
		SET(e, F_IN_IFACE);
	if (e->out_iface)
		SET(e, F_OUT_IFACE);
	e->vlan_count = k->inner_vlan ? 2 : k->vlan ? 1 : 0;
	e->vlan[0] = k->vlan;
	e->vlan[1] = k->inner_vlan;
	if (e->vlan_count)
		SET(e, F_VLAN);
	e->ip_v = k->ip_v;
	memcpy(e->src_ip, cip, 16);
	memcpy(e->dest_ip, sip, 16);
	e->ip_proto = k->ip_proto;
	if (icmp) {
		e->present |= FIELD_BIT(F_ICMP_TYPE) | FIELD_BIT(F_ICMP_CODE);
		e->icmp_type = v->icmp_type;
		e->icmp_code = v->icmp_code;
		cid_sport = v->icmp_type;
		cid_dport = v->icmp_code;
	} else if (k->ip_proto == IPPROTO_TCP || k->ip_proto == IPPROTO_UDP ||
		   k->ip_proto == IPPROTO_UDPLITE ||
		   k->ip_proto == IPPROTO_SCTP) {
		/* the protocols whose ports the parser reads (parse_l4()) */
		e->present |= FIELD_BIT(F_SRC_PORT) | FIELD_BIT(F_DEST_PORT);
		e->src_port = cport;
		e->dest_port = sport;
	}
	if (community_id_v1_once(0, e->ip_v, e->src_ip, e->dest_ip,
				 e->ip_proto, cid_sport, cid_dport,
				 e->community_id) > 0)
		SET(e, F_COMMUNITY_ID);
	if (v->has_owner) {
		e->present |= FIELD_BIT(F_PID) | FIELD_BIT(F_COMM);
		e->pid = v->pid;
		memcpy(e->comm, v->comm, 16);
		e->comm[16] = '\0';
	}
	if (ctx->lists)
		decode_list_names(e, v->client_lists, v->server_lists,
				  ctx->lists);
	/* last seen is the coarse clock's: up to a tick behind first seen */
	if (e->time_ns < clock_map_realtime(ctx->clock, v->first_ns))
		e->time_ns = clock_map_realtime(ctx->clock, v->first_ns);
	f->start_ns = clock_map_realtime(ctx->clock, v->first_ns);
	f->end_ns = e->time_ns;
	e->duration_ns = f->end_ns - f->start_ns;
	f->pkts_toserver = v->pkts[0];
	f->pkts_toclient = v->pkts[1];
	f->bytes_toserver = v->bytes[0];
	f->bytes_toclient = v->bytes[1];
	f->tcp_flags_toserver = v->tcp_flags & 0xff;
	f->tcp_flags_toclient = v->tcp_flags >> 8 & 0xff;
	f->min_ttl = v->min_ttl;
	f->max_ttl = v->max_ttl;
	f->dropped_pkts = v->dropped;
	if (v->dropped)
		SET(e, F_FLOW_DROPPED);
	if (k->ip_proto == IPPROTO_TCP) {
		uint8_t ts = f->tcp_flags_toserver, tc = f->tcp_flags_toclient;

		e->present |= FIELD_BIT(F_FLOW_TCP_FLAGS) |
			      FIELD_BIT(F_FLOW_TCP_FLAGS_TS) |
			      FIELD_BIT(F_FLOW_TCP_FLAGS_TC);
		if (((ts | tc) & TH_RST) || ((ts & tc) & TH_FIN))
			f->state = FLOW_STATE_CLOSED;
		else if ((ts & tc) & TH_SYN)
			f->state = FLOW_STATE_ESTABLISHED;
		else
			f->state = FLOW_STATE_NEW;
	} else {
		f->state = v->pkts[0] && v->pkts[1] ? FLOW_STATE_ESTABLISHED :
						      FLOW_STATE_NEW;
	}
	e->data = NULL;
	e->cap_len = 0;
	return 0;
}
