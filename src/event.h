/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A record decoded once into host order; formatters only read this. */
#ifndef HDRLOG_EVENT_H
#define HDRLOG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fields.h"
#include "lists.h"
#include "record.h"

#define COMMUNITY_ID_SIZE 32	/* "1:" + 28 base64 chars + NUL, rounded */

/* What a record is about; named in text only when written (fields.c). */
enum event_type {
	EVENT_PACKET,
	EVENT_SOCKET,
	EVENT_STATS,		/* hdrlog's own counters (--stats-interval) */
	EVENT_FLOW,		/* one flow, ended or reported (--log flows) */
	/* --respond (issue 14); these three last: fields.c tests >= */
	EVENT_ALERT,		/* a policy's threshold crossed */
	EVENT_BLOCK,		/* a source put in the dynamic block list */
	EVENT_UNBLOCK,		/* ... taken out: expired */
};

/* --respond's detectors (src/respond.c); names in fields.c. */
enum respond_detector {
	DET_SYN,		/* TCP SYNs without ACK per second */
	DET_PORT_SCAN,		/* distinct destination ports per window */
	DET_HOST_SCAN,		/* distinct destination hosts per window */
	DET_PACKET_RATE,	/* packets per second */
	DET_BYTE_RATE,		/* bytes per second */
	DET_BASELINE,		/* rate above the source's learned EWMA */
	RESPOND_DETECTORS
};

extern const char *const respond_detector_names[RESPOND_DETECTORS];

/* What came of a decision (respond.result). */
enum respond_result {
	RESULT_LOGGED,		/* a log policy: alert only */
	RESULT_BLOCKED,
	RESULT_ALREADY,		/* in the block list already */
	RESULT_PROTECTED,	/* allow or never-block listed: not blocked */
	RESULT_FULL,		/* the block list is full: not blocked */
	RESULT_EXPIRED,		/* unblock: its TTL is over */
	RESULT_SHUTDOWN,	/* unblock: hdrlog stopped */
	RESULT_REMOVED,		/* unblock: hdrlog --unblock */
	RESULT_EXPIRED_STOPPED,	/* unblock: expired while hdrlog was stopped */
};

/*
 * An alert, block or unblock record. The source is src_ip (its prefix
 * masked) with ip_v; the policy name lives as long as the --respond
 * configuration.
 */
struct event_respond {
	const char *policy;
	uint8_t detector;		/* enum respond_detector */
	uint8_t severity;		/* 1..3 */
	uint8_t prefix;
	uint8_t result;			/* enum respond_result */
	bool block;			/* the policy's action is block */
	uint64_t value;
	uint64_t threshold;
	uint64_t window_ms;
	uint64_t ttl_s;
	uint64_t expires_ns;		/* wall clock */
	uint64_t dropped;		/* unblock: the block's frames dropped */
};

/* Why a flow record was written (IPFIX's flowEndReason where one fits). */
enum flow_end_reason {
	FLOW_END_IDLE,		/* no frame for the idle timeout */
	FLOW_END_ACTIVE,	/* long flow: reported every active timeout */
	FLOW_END_FIN,		/* TCP FIN seen both ways (or FIN then idle) */
	FLOW_END_RST,		/* TCP RST */
	FLOW_END_EVICTED,	/* made room for a new flow in a full table */
	FLOW_END_SHUTDOWN,	/* hdrlog stopped: every open flow reported */
};

/* flow.state, as Suricata's eve writes it. */
enum flow_state {
	FLOW_STATE_NEW,		/* one way only so far */
	FLOW_STATE_ESTABLISHED,	/* both ways (TCP: SYN seen both ways) */
	FLOW_STATE_CLOSED,	/* TCP: FIN both ways, or RST */
};

/* enum flow_end_reason as flow records write it (fields.c). */
extern const char *const flow_reason_names[FLOW_END_SHUTDOWN + 1];

/*
 * A flow record (event_type EVENT_FLOW). The flow's addresses, ports,
 * protocol, VLAN, interfaces, direction, community_id, lists, pid/comm
 * are the struct event fields of the same names, with src = the side
 * that sent the flow's first frame seen (the client, "toserver").
 */
struct event_flow {
	uint64_t start_ns;		/* wall clock, first frame */
	uint64_t end_ns;		/* wall clock, last frame */
	uint64_t pkts_toserver, pkts_toclient;
	uint64_t bytes_toserver, bytes_toclient;	/* IP length summed */
	uint8_t tcp_flags_toserver, tcp_flags_toclient;	/* OR of all seen */
	uint8_t min_ttl, max_ttl;
	uint8_t reason;			/* enum flow_end_reason */
	bool ended;			/* false: an active-timeout report */
	uint64_t dropped_pkts;		/* frames of the flow a list dropped */
	uint8_t state;			/* enum flow_state */
};

struct event {
	field_mask present;		/* FIELD_BIT(id) per field set */
	uint64_t time_ns;		/* wall clock, UTC, ns since the epoch */
	enum event_type event_type;
	uint8_t sock_event;		/* enum hdrlog_sock_event */
	const char *in_iface;
	const char *out_iface;
	uint32_t pid;
	uint32_t tid;
	uint32_t uid;
	uint64_t cgroup_id;
	uint32_t netns;
	char comm[17];
	uint8_t direction;		/* enum hdrlog_direction */
	uint8_t tcp_state;		/* the kernel's TCP_ESTABLISHED... */
	uint64_t duration_ns;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint32_t ifindex;
	uint8_t src_mac[6];
	uint8_t dest_mac[6];
	uint16_t vlan[HDRLOG_MAX_VLANS];
	uint8_t vlan_count;
	uint16_t ether_type;
	uint8_t ip_v;
	uint8_t src_ip[16];		/* IPv4 in the first 4 bytes */
	uint8_t dest_ip[16];
	uint8_t ip_proto;
	uint8_t ttl;
	uint8_t tos;
	uint32_t ip_len;		/* IPv6: payload + 40, past 65535 */
	uint32_t ip_id;
	uint32_t flow_label;
	uint16_t frag_offset;		/* bytes */
	bool more_fragments;
	uint16_t src_port;
	uint16_t dest_port;
	uint8_t tcp_flags;
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint16_t tcp_win;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint32_t pkt_len;
	bool truncated;
	char community_id[COMMUNITY_ID_SIZE];
	uint8_t n_src_lists;
	uint8_t n_dest_lists;
	bool dropped;
	bool tc;			/* from a tc program, not XDP */
	bool would_drop;
	const char *src_lists[MAX_LISTS];	/* names, sorted */
	const char *dest_lists[MAX_LISTS];
	const uint8_t *data;	/* the frame's first cap_len bytes, or NULL */
	uint32_t cap_len;
	struct event_flow flow;		/* EVENT_FLOW only */
	struct event_respond respond;	/* EVENT_ALERT, _BLOCK, _UNBLOCK */
};

static inline bool event_has(const struct event *e, enum field_id id)
{
	return e->present & FIELD_BIT(id);
}

/* What decoding needs besides the record. */
struct decode_ctx {
	const struct clock_map *clock;
	const struct iface_table *ifaces;
	const struct list_set *lists;	/* for list names; NULL: none */
	bool respond;			/* --respond: frames may be dropped */
};

/*
 * Decode one ring-buffer record. Returns 0, or -1 when the record's
 * version or size is not one this build understands.
 */
int event_decode(struct event *e, const void *rec, size_t size,
		 const struct decode_ctx *ctx);

/*
 * A flow table entry as a flow record: src is the client. Counters,
 * times and reason are the entry's; flowtable.c makes a report's deltas
 * and sets the reason. Returns 0, or -1 for a key no program makes.
 */
int event_decode_flow(struct event *e, const struct hdrlog_flow_key *k,
		      const struct hdrlog_flow *v, const struct decode_ctx *ctx);

#endif
