/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The record layout shared by the packet programs and userspace. Fields keep
 * the byte order they had on the wire; userspace decodes each record once
 * (src/event.c). Bump HDRLOG_RECORD_VERSION on any layout change.
 */
#ifndef HDRLOG_RECORD_H
#define HDRLOG_RECORD_H

#include <linux/types.h>

#define HDRLOG_RECORD_VERSION	5

#define HDRLOG_MAX_VLANS	2	/* tags a record names, outer first */
#define HDRLOG_MAX_TAGS		8	/* tags the parser follows */
#define HDRLOG_MAX_IPV6_EXT	8	/* extension headers walked */
#define HDRLOG_MAX_LISTS	64	/* one bit each in a list mask */
#define HDRLOG_MAX_SNAPLEN	65535	/* frame bytes a record can carry */

enum hdrlog_record_kind {
	HDRLOG_REC_PACKET = 1,
	HDRLOG_REC_SOCKET = 2,
};

/*
 * Which way: a frame arriving or leaving (packet records), or who opened
 * a socket (socket records). One word for both, so a record of either
 * kind reads "in" or "out".
 */
enum hdrlog_direction {
	HDRLOG_DIR_OUTBOUND = 1,	/* frame sent; connect(2), datagram sent */
	HDRLOG_DIR_INBOUND = 2,		/* frame received; accept(2) */
};

/* The hook a packet record comes from (pcapng names it in epb_verdict). */
enum hdrlog_hook {
	HDRLOG_HOOK_XDP = 0,
	HDRLOG_HOOK_TC = 1,
};

enum hdrlog_sock_event {
	HDRLOG_SOCK_CONNECT = 1,	/* outbound TCP, established */
	HDRLOG_SOCK_ACCEPT,		/* inbound TCP, accepted */
	HDRLOG_SOCK_CLOSE,		/* TCP socket reached TCP_CLOSE */
	HDRLOG_SOCK_UDP_SEND,		/* first datagram to a new peer */
};

/* Which kind of program produced a socket record. */
enum hdrlog_attach {
	HDRLOG_ATTACH_FENTRY = 1,
	HDRLOG_ATTACH_KPROBE,
	HDRLOG_ATTACH_TRACEPOINT,
};

/* What the parser found; a field is meaningful only when its bit is set. */
enum hdrlog_rec_flag {
	HDRLOG_RF_TRUNCATED	= 1 << 0,  /* frame ended inside an announced header */
	HDRLOG_RF_IP		= 1 << 1,  /* IPv4 or IPv6 header read */
	HDRLOG_RF_FRAGMENT	= 1 << 2,  /* IPv4 MF/offset or IPv6 fragment header */
	HDRLOG_RF_MORE_FRAGS	= 1 << 3,
	HDRLOG_RF_PORTS		= 1 << 4,  /* TCP, UDP or SCTP ports read */
	HDRLOG_RF_TCP		= 1 << 5,  /* TCP flags, seq, ack, window read */
	HDRLOG_RF_ICMP		= 1 << 6,  /* ICMP or ICMPv6 type and code read */
	HDRLOG_RF_DEPTH		= 1 << 7,  /* more VLAN tags or IPv6 extension
					    * headers than walked; without
					    * HDRLOG_RF_IP: tags (see parse_eth) */
	HDRLOG_RF_ETH		= 1 << 8,  /* Ethernet header read */
	HDRLOG_RF_LISTS		= 1 << 9,  /* addresses checked against the lists */
	HDRLOG_RF_WOULD_DROP	= 1 << 10, /* --monitor: the policy would drop */
	HDRLOG_RF_OWNER		= 1 << 11, /* pid and comm: the sending socket's */
};

struct hdrlog_record {
	__u16 version;
	__u16 kind;
	__u32 ifindex;
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pkt_len;		/* frame length */
	__u16 flags;		/* enum hdrlog_rec_flag */
	__u8 vlan_count;
	__u8 ip_v;		/* 4 or 6 when HDRLOG_RF_IP */
	__u8 dest_mac[6];
	__u8 src_mac[6];
	__be16 vlan_tci[HDRLOG_MAX_VLANS];
	__be16 ether_type;	/* the last one read: after any VLAN tags */
	__u8 ip_proto;		/* IPv6: the header after the extension chain */
	__u8 ttl;		/* IPv4 TTL, IPv6 hop limit */
	__u8 tos;		/* IPv4 TOS, IPv6 traffic class */
	__u8 tcp_flags;
	__be16 ip_len;		/* IPv4 total length, IPv6 payload length */
	__be16 frag_off;	/* as on the wire: offset in 8-byte units */
	__be32 ip_id;		/* IPv4 id (low 16 bits), IPv6 fragment id */
	__be32 flow_label;	/* low 20 bits */
	__u8 src_ip[16];	/* IPv4 in the first 4 bytes */
	__u8 dest_ip[16];
	__be16 src_port;
	__be16 dest_port;
	__be32 tcp_seq;
	__be32 tcp_ack;
	__be16 tcp_win;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 action;		/* XDP_PASS or XDP_DROP, whatever the hook */
	__u8 vlan_depth;	/* tags followed, at most HDRLOG_MAX_TAGS */
	__u16 cap_len;		/* frame bytes in data[], at most the snap length */
	__u64 src_lists;	/* bit i: list i holds the source */
	__u64 dest_lists;
	__u8 direction;		/* enum hdrlog_direction: in or out */
	__u8 hook;		/* enum hdrlog_hook: what ran the program */
	__u8 pad[2];
	__u32 pid;		/* HDRLOG_RF_OWNER: the process that opened */
	char comm[16];		/* the local socket sending it (egress) */
	__u8 data[];		/* the frame's first bytes, for pcap and filters */
};

/*
 * The two ends of a socket: src is the side that opened the connection
 * (or sent the datagram), dest the side that accepted it, whichever end
 * is local. The socket programs keep one per socket while it lives (at
 * close the kernel has cleared the ports) and put it in each record.
 */
struct hdrlog_endpoints {
	__u32 netns;		/* inode of the socket's network namespace */
	__u8 ip_v;		/* 4 or 6; 0: not known yet */
	__u8 ip_proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__be16 src_port;
	__be16 dest_port;
	__u8 pad[2];
	__u8 src_ip[16];	/* IPv4 in the first 4 bytes */
	__u8 dest_ip[16];
};


/* A socket event. */
struct hdrlog_sock_record {
	__u16 version;
	__u16 kind;		/* HDRLOG_REC_SOCKET */
	__u32 pid;		/* tgid; 0 with HDRLOG_SF_NO_OWNER */
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u32 tid;
	__u32 uid;
	__u64 cgroup_id;
	__u8 event;		/* enum hdrlog_sock_event */
	__u8 direction;		/* enum hdrlog_direction */
	__u8 tcp_state;		/* the state the socket entered */
	__u8 flags;		/* enum hdrlog_sock_flag */
	__u8 attach;		/* enum hdrlog_attach */
	__u8 pad[3];
	struct hdrlog_endpoints ep;
	__u8 pad2[4];
	__u64 duration_ns;	/* close: since connect or accept */
	__u64 bytes_sent;	/* close: bytes acked by the peer */
	__u64 bytes_received;
	__u64 src_lists;
	__u64 dest_lists;
	char comm[16];
};

enum hdrlog_sock_flag {
	HDRLOG_SF_NO_OWNER	= 1 << 0,	/* opened before hdrlog started */
	HDRLOG_SF_LISTS		= 1 << 1,	/* addresses checked against lists */
};

#define HDRLOG_MAX_IFACES	64	/* interfaces one hdrlog captures on */

/*
 * Per interface and direction (--stats-interval, --metrics), in struct
 * hdrlog_counters: the interface's slot is its index in the loader's
 * list (iface_ifindex[], bpf/maps.h), the way enum hdrlog_direction - 1.
 */
struct hdrlog_iface_counters {
	__u64 seen;		/* frames the program ran on */
	__u64 dropped;		/* XDP_DROP or TC_ACT_SHOT, whatever the list */
	__u64 sampled_out;	/* frames skipped by --sample */
};

/* Per-CPU counters, one array slot, summed by userspace. */
struct hdrlog_counters {
	__u64 seen;		/* frames the program ran on */
	__u64 logged;		/* records submitted to the ring buffer */
	__u64 lost;		/* records dropped: ring buffer full */
	__u64 sampled_out;	/* frames skipped by --sample */
	__u64 not_listed;	/* frames skipped by --log listed */
	__u64 too_deep;		/* headers deeper than the parser follows */
	__u64 passed;		/* passed (XDP_PASS, TC_ACT_OK), with lists */
	__u64 dropped;		/* dropped by a block list */
	__u64 dropped_allow;	/* XDP_DROP: source in no allow list */
	__u64 dropped_deep;	/* XDP_DROP by --too-deep drop */
	__u64 would_drop;	/* --monitor: passed, but the policy says drop */
	__u64 sock_events;	/* socket records submitted */
	__u64 sock_lost;	/* socket records dropped: ring buffer full */
	__u64 udp_limited;	/* udp_send events skipped by the rate bound */
	__u64 out_seen;		/* of seen: frames leaving (tc egress) */
	__u64 out_passed;	/* of passed: leaving */
	__u64 out_dropped;	/* of the three dropped: leaving */
	__u64 out_would_drop;	/* of would_drop: leaving */
	__u64 flows_new;	/* --log flows: flow table entries made */
	__u64 flow_table_full;	/* frames of flows with no room in the table */
	__u64 src_hits[HDRLOG_MAX_LISTS];	/* frames whose source list i holds */
	__u64 dest_hits[HDRLOG_MAX_LISTS];
	/* [slot][way]: outgoing, incoming; the totals are the ones above */
	struct hdrlog_iface_counters iface[HDRLOG_MAX_IFACES][2];
};

/*
 * The flow table (--log flows): one entry per conversation, both ways.
 * The key orders the two endpoints (address, then port) so that either
 * way's frames find the same entry: lo is the lower, hi the higher; which
 * of them is the client (sent the first frame seen) is in the value.
 * ICMP has no ports: lo_port is the type (a reply's type turned into its
 * request's, so that echo and echo reply are one flow) and hi_port the
 * code. A fragment past the first has no ports either: it counts in a
 * flow with ports 0.
 */
struct hdrlog_flow_key {
	__u32 ifindex;
	__u16 vlan;		/* outer VLAN id, host order; 0: untagged */
	__u8 ip_v;
	__u8 ip_proto;
	__u8 lo_ip[16];		/* IPv4 in the first 4 bytes */
	__u8 hi_ip[16];
	__be16 lo_port;
	__be16 hi_port;
	/*
	 * the inner (customer) VLAN id of a double-tagged frame (802.1ad
	 * then 802.1Q): a provider's customers reuse addresses, so frames of
	 * one outer tag and two inner ones are two flows, as Suricata keys
	 * them; 0: one tag or none
	 */
	__u16 inner_vlan;
	__u16 pad;
};

/*
 * A slot of flow_slots (bpf/flows.bpf.h), which userspace maps and reads
 * in place: a flow while its state is LIVE. The counts are shared by
 * every CPU and updated with atomic adds (see flow_update()). Index 0 of
 * each pair is "toserver" (from the client), 1 "toclient", as in
 * Suricata's eve.
 *
 * 192 bytes, three cache lines (the array's values start page aligned):
 * the first holds what a lookup compares, the second what every frame
 * of a known flow adds to, the third what a frame writes now and then
 * (a list hit, an owner).
 */
struct hdrlog_flow {
	/*
	 * line 0: the lookup's, written when the flow is made and when
	 * userspace takes it out: a frame of a known flow only reads it, so
	 * it stays clean in the caches (no write-back when it leaves them)
	 */
	struct hdrlog_flow_key key;
	__u64 state;		/* enum hdrlog_flow_state; 64 bits: atomics */
	__u64 first_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	/* line 1: every frame's */
	__u64 pkts[2];
	__u64 bytes[2];		/* IP length: IPv4 total length, IPv6 + 40 */
	/* bits 0-7: ORed toserver, 8-15: toclient; 64 bits for the atomic */
	__u64 tcp_flags;
	__u64 dropped;		/* frames of the flow the lists dropped */
	__u8 client_hi;		/* the client is the key's hi endpoint */
	__u8 min_ttl;
	__u8 max_ttl;
	__u8 has_owner;		/* pid, comm: a local socket sent a frame */
	__u8 direction;		/* the first frame's: enum hdrlog_direction */
	__u8 icmp_type;		/* the first frame's, ICMP only */
	__u8 icmp_code;
	__u8 pad1;
	__u64 last_ns;		/* bpf_ktime_get_coarse_ns(): CLOCK_MONOTONIC */
	/* line 2: now and then */
	__u64 client_lists;	/* list masks of the client's address */
	__u64 server_lists;
	__u32 pid;
	char comm[16];
	__u32 index_pos;	/* the flow's entry in flow_index */
	__u8 pad2[24];
};
_Static_assert(sizeof(struct hdrlog_flow) == 192, "three cache lines");

/*
 * A slot's state (see bpf/flows.bpf.h). EMPTY: never used, or given
 * back. BUSY: a CPU took it, filled it and is putting it in the index.
 * LIVE: a flow. GONE: exported by userspace, no longer a flow, not
 * reusable yet. ORPHAN: filled, but another CPU put the same flow in the
 * index first: userspace gives it back.
 */
enum hdrlog_flow_state {
	HDRLOG_FLOW_EMPTY = 0,
	HDRLOG_FLOW_BUSY,
	HDRLOG_FLOW_LIVE,
	HDRLOG_FLOW_GONE,
	HDRLOG_FLOW_ORPHAN,
};

/*
 * An entry of flow_index: EMPTY, a tombstone (a flow was there: probe
 * chains go on past it, an insert may take it), or a flow's slot number
 * in the low 32 bits and a tag from its key's hash in the high 32 (never
 * 0, so that no entry is EMPTY by chance).
 */
#define HDRLOG_FLOW_INDEX_EMPTY	0ull
#define HDRLOG_FLOW_INDEX_TOMB	(~0ull)
/* A CPU's front cache: at most 1 << this many entries (bpf/flows.bpf.h) */
#define HDRLOG_FLOW_CACHE_BITS	16

/*
 * A notice in flows_ended: the flow in slot ended. first_ns tells this
 * flow from a later one in the same slot (a slot is reused a second
 * after its flow's export at the earliest, so no two share a first_ns).
 */
struct hdrlog_flow_ended {
	__u32 slot;
	__u32 pad;
	__u64 first_ns;
};

/*
 * The lists as the kernel sees them: the address space cut into ranges,
 * each with the mask of every list covering it, sorted by start. A lookup
 * indexes a chunk table by the address's top HDRLOG_CHUNK_BITS bits, then
 * searches the ranges of that chunk: a handful of array reads, where an
 * LPM trie walk over a million prefixes costs ~110 ns here.
 *
 * The ranges are stored as the leaves of a static B+-tree of
 * HDRLOG_NODE_KEYS-way nodes, one node per map value: a leaf holds
 * HDRLOG_NODE_KEYS consecutive ranges, an inner node the first start of
 * each of as many children. Each read of a range table is a helper call
 * (its size varies, so the verifier cannot inline it) and costs about as
 * much as the search inside a whole node; a binary search over ranges
 * took one such read per step, 18 for a chunk of 200k ranges, the tree
 * one per level, 3 for the same chunk. Leaves come first in the table,
 * then each level of inner nodes, the root last.
 *
 * A chunk names the smallest subtree holding every range that meets it,
 * and the keys of its root that lead to them: the search starts there,
 * among those keys only (a chunk of a few ranges then takes a step or
 * two, not a whole node's six), and goes down levels nodes. With levels
 * 0 the chunk lies in one range, whose mask it holds.
 */
#define HDRLOG_CHUNK_BITS	20
#define HDRLOG_CHUNKS		((1u << HDRLOG_CHUNK_BITS) + 1)
#define HDRLOG_SEARCH_STEPS	26	/* > log2 of the most ranges we build */
#define HDRLOG_NODE_BITS	6
#define HDRLOG_NODE_KEYS	(1u << HDRLOG_NODE_BITS)
/* levels enough for 1 << HDRLOG_SEARCH_STEPS ranges */
#define HDRLOG_TREE_LEVELS	\
	((HDRLOG_SEARCH_STEPS + HDRLOG_NODE_BITS - 1) / HDRLOG_NODE_BITS)

struct hdrlog_chunk {
	__u32 node;		/* the subtree's root, an index in the table */
	__u8 levels;		/* nodes from there to a leaf, 0: none */
	__u8 first;		/* the root's keys first..end-1 lead to them */
	__u8 end;
	__u8 pad;
	__u64 mask;		/* when levels == 0 */
};

/*
 * One node. Keys 0..n-1 are valid: in a leaf the starts and masks of its
 * ranges, in an inner node the first start under each child, the
 * children being the nodes child..child+n-1. Keys n.. repeat key n-1 (and
 * its mask), so that below the root the search can halve all
 * HDRLOG_NODE_KEYS keys in fixed steps, unrolled, and clamp to n-1.
 */
struct hdrlog_node_v4 {
	__u32 start[HDRLOG_NODE_KEYS];	/* host order */
	__u64 mask[HDRLOG_NODE_KEYS];	/* leaves only */
	__u32 child;
	__u32 n;
};

struct hdrlog_node_v6 {
	__u64 start_hi[HDRLOG_NODE_KEYS];	/* host order, first 8 bytes */
	__u64 start_lo[HDRLOG_NODE_KEYS];
	__u64 mask[HDRLOG_NODE_KEYS];	/* leaves only */
	__u32 child;
	__u32 n;
};

/* The ranges as src/ranges.c cuts them, before they go into leaves. */
struct hdrlog_range_v4 {
	__u32 start;		/* host order */
	__u32 pad;
	__u64 mask;
};

struct hdrlog_range_v6 {
	__u64 start_hi;		/* host order, the address's first 8 bytes */
	__u64 start_lo;
	__u64 mask;
};

#endif
