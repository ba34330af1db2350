// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The IPFIX output: "-o ipfix://HOST[:PORT]" (default port 4739), flow
 * records (--log flows) as IPFIX (RFC 7011) over UDP to a collector:
 * nfdump's nfcapd, pmacct's nfacctd, SiLK, a SIEM's NetFlow input.
 *
 * What is sent. Two templates, 256 for IPv4 flows and 257 for IPv6, built
 * from one table (ies[] below) that the encoder follows too, with IANA's
 * information elements where one exists and enterprise elements under the
 * private enterprise number 32473 (RFC 5612's number for documentation,
 * as the syslog output's SD-ID hdrlog@32473) for the rest: the process
 * (pid, comm), the list names and the Community ID. Each flow is sent as
 * two unidirectional records, client to server and, when the server
 * answered, server to client, each with its own direction's counts and
 * TCP flags. RFC 5103's biflow (one record with reverse elements, PEN
 * 29305) is not used: nfdump 1.7.1 (Debian 12) maps only the reverse
 * octet and packet counts, and a reverse tcpControlBits, flowStart or TTL
 * falls through as the forward element of the same number, overwriting
 * the client's. Two records are what every collector reads.
 *
 * Messages: at most IPFIX_MSG_MAX (1400) bytes, under a 1500-byte path
 * MTU with IPv6 and UDP headers, so never fragmented; both records of a
 * flow always go in one message. Records are packed into the message
 * being built and it is sent when the next flow does not fit, or at the
 * main loop's flush (every 50 ms): a burst of flows costs one datagram per
 * ten or so, a trickle at most 50 ms of delay. The sequence number counts
 * data records made (RFC 7011 section 3.1), so a collector sees the gaps
 * the network made, and those of messages counted lost here. Templates go
 * first in a message (RFC 7011 section 8)
 * when the stream starts, every IPFIX_REFRESH_NS (30 s) and every
 * IPFIX_REFRESH_MSGS (64) messages after (section 8.4: UDP has no session
 * to tell the collector of a restart; nfcapd keeps templates until it
 * stops, so a restarted nfcapd drops data until they come again), after
 * SIGHUP, and after the collector's port was found closed.
 *
 * Paced: UDP has no flow control, and a collector's socket buffer is
 * small (nfcapd's 208 KiB by default: 92 messages of 1400 bytes).
 * At exit every open flow is exported at once, a million at --flow-table
 * 2000000; sent as fast as they were made, nfcapd on loopback got as
 * few as 874,176 of 1,036,288, a loss nobody counted (nfcapd sees only
 * gaps in the sequence; the kernel counts UDP RcvbufErrors). So messages
 * go out from a thread of this output at --ipfix-rate data records a
 * second (50000 by default: the fastest rate at which nfcapd with its
 * default buffer lost nothing in 16 runs on a loaded 2-CPU VM, where
 * 100000 lost 778 and 1424 records in 2 of 9 runs: hdrlog(8)), at
 * most IPFIX_BURST_RECORDS back to back. Messages wait in a queue of
 * IPFIX_QUEUE_MSGS (about 180,000 flows). While capture runs the main
 * loop never waits for it: a message that finds it full (flows ending
 * faster than the rate for seconds) counts its flows lost, said once. The
 * stop's flows (capture is over: sink_capture_over) wait for room instead,
 * at most IPFIX_STOP_NS from the first of them: an exit of N records
 * takes about N / rate seconds (a million: 20 s), and what is left at
 * the bound is counted lost. A second stop signal (sink_stop_now) makes
 * the bound now: whoever sent it will not wait.
 *
 * UDP, never blocking capture: the socket is non-blocking and connected;
 * a full socket buffer is tried again a millisecond later; a datagram the
 * kernel will not take for another reason (no route) counts its flows
 * lost. A collector that is not listening answers with ICMP
 * port unreachable: as in transport.c, IP_RECVERR queues every such error
 * on the socket, and the returned error carries the start of the datagram
 * that came back, whose sequence number says which message it was and so
 * how many flows to move from written to lost (the last IPFIX_SENT_RING
 * messages sent are remembered, by the sender as it sends them). They are
 * read at each flush, and while the stop waits for the pace.
 *
 * Why a writer of its own rather than libfixbuf (Debian's libfixbuf-dev
 * 2.4.1, which the issue proposed): fixbuf's UDP exporter sends with a
 * blocking send() and, when a send fails, prints a GLib warning once per
 * process and reports success, never reading ICMP errors; hdrlog could not
 * count one lost flow, against its rule that every loss is counted and
 * reported. Going around it (fbExporterAllocBuffer(), sending each message
 * here) would leave fixbuf only the encoding, and fBufAppend() emits a full
 * message into that one buffer with no call back to send it first.
 * Template refresh over UDP is the application's job with fixbuf too
 * (fbSessionExportTemplates()). And it would add GLib (libglib-2.0,
 * libgthread-2.0, fixbuf's mutexes) to a daemon that links neither: Debian's
 * libfixbuf9 uses GLib's symbols without naming it (no DT_NEEDED, no
 * Depends), and fixbuf ends the process with g_error() on some misuse.
 * What hdrlog sends is two fixed templates of 24 elements: this file, about
 * 1000 lines of C with the socket and the pace, and nfdump reads its output
 * (tests/integration/test_ipfix.py).
 *
 * Packet and socket records are not flows: they are counted as skipped
 * (the summary's "skipped"), as pcap skips socket events; a stats record
 * is never handed to this output (write_stats is NULL). --fields does not
 * change the template: IPFIX is for collectors, which want it fixed.
 */
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "log.h"
#include "sink.h"
#include "transport.h"

#define IPFIX_PORT		"4739"	/* IANA, RFC 7011 section 10.3 */
#define IPFIX_MSG_MAX		1400
#define IPFIX_VERSION		10
#define IPFIX_HDR_LEN		16
#define IPFIX_SET_HDR_LEN	4
#define IPFIX_SET_TEMPLATE	2
#define IPFIX_TID_V4		256
#define IPFIX_TID_V6		257
#define IPFIX_PEN		32473u	/* RFC 5612: for documentation */
#define IPFIX_VARLEN		65535
#define IPFIX_REFRESH_NS	(30 * 1000000000ull)
#define IPFIX_REFRESH_MSGS	64
#define IPFIX_LISTS_MAX		200	/* bytes of list names a record carries */
#define IPFIX_SENT_RING		1024	/* messages whose ICMP error is placed */
#define IPFIX_RATE_DEFAULT	50000	/* records a second: hdrlog(8) says why */
#define IPFIX_BURST_RECORDS	384	/* back to back at most: 32 messages */
#define IPFIX_QUEUE_MSGS	16384	/* 23 MB at most, touched as used */
#define IPFIX_ROOM_BATCH	256	/* a writer waiting for room wakes for */
#define IPFIX_STOP_NS		(60 * 1000000000ull)	/* the stop's bound */
#define IPFIX_RETRY_NS		1000000	/* the socket's buffer was full */
#define IPFIX_COLLECT_NS	50000000	/* ICMP errors read at the stop */
#define IPFIX_SNDBUF		(1 << 20)	/* wmem_max caps it */

/* What a field of the record is; the encoder's switch follows these. */
enum ie_kind {
	IE_SRC_IP, IE_DEST_IP, IE_SRC_PORT, IE_DEST_PORT, IE_PROTO,
	IE_OCTETS, IE_PACKETS, IE_START_MS, IE_END_MS, IE_TCP_FLAGS,
	IE_END_REASON, IE_IN_IFACE, IE_OUT_IFACE, IE_DIRECTION, IE_VLAN,
	IE_ICMP, IE_MIN_TTL, IE_MAX_TTL, IE_DROPPED, IE_INNER_VLAN,
	IE_PID, IE_COMM, IE_SRC_LISTS, IE_DEST_LISTS, IE_COMMUNITY_ID,
};

/*
 * The template, in order: IANA's element number for IPv4 and for IPv6
 * flows (the same but for addresses and ICMP), its length (IPFIX_VARLEN:
 * a string), and the enterprise number (0: IANA's). icmpTypeCode comes
 * after destinationTransportPort: nfdump puts both in one place, and the
 * later wins.
 */
static const struct ie {
	enum ie_kind kind;
	uint16_t id4, id6;
	uint16_t len4, len6;
	uint32_t pen;
} ies[] = {
	{ IE_SRC_IP, 8, 27, 4, 16, 0 },		/* source{IPv4,IPv6}Address */
	{ IE_DEST_IP, 12, 28, 4, 16, 0 },	/* destination...Address */
	{ IE_SRC_PORT, 7, 7, 2, 2, 0 },		/* sourceTransportPort */
	{ IE_DEST_PORT, 11, 11, 2, 2, 0 },	/* destinationTransportPort */
	{ IE_PROTO, 4, 4, 1, 1, 0 },		/* protocolIdentifier */
	{ IE_OCTETS, 1, 1, 8, 8, 0 },		/* octetDeltaCount */
	{ IE_PACKETS, 2, 2, 8, 8, 0 },		/* packetDeltaCount */
	{ IE_START_MS, 152, 152, 8, 8, 0 },	/* flowStartMilliseconds */
	{ IE_END_MS, 153, 153, 8, 8, 0 },	/* flowEndMilliseconds */
	{ IE_TCP_FLAGS, 6, 6, 2, 2, 0 },	/* tcpControlBits (RFC 7125) */
	{ IE_END_REASON, 136, 136, 1, 1, 0 },	/* flowEndReason */
	{ IE_IN_IFACE, 10, 10, 4, 4, 0 },	/* ingressInterface */
	{ IE_OUT_IFACE, 14, 14, 4, 4, 0 },	/* egressInterface */
	{ IE_DIRECTION, 61, 61, 1, 1, 0 },	/* flowDirection */
	{ IE_VLAN, 58, 58, 2, 2, 0 },		/* vlanId */
	{ IE_ICMP, 32, 139, 2, 2, 0 },		/* icmpTypeCodeIPv{4,6} */
	{ IE_MIN_TTL, 52, 52, 1, 1, 0 },	/* minimumTTL */
	{ IE_MAX_TTL, 53, 53, 1, 1, 0 },	/* maximumTTL */
	{ IE_DROPPED, 133, 133, 8, 8, 0 },	/* droppedPacketDeltaCount */
	{ IE_INNER_VLAN, 245, 245, 2, 2, 0 },	/* dot1qCustomerVlanId */
	/* hdrlog's own, under PEN 32473 (hdrlog(8) lists them) */
	{ IE_PID, 1, 1, 4, 4, IPFIX_PEN },
	{ IE_COMM, 2, 2, IPFIX_VARLEN, IPFIX_VARLEN, IPFIX_PEN },
	{ IE_SRC_LISTS, 3, 3, IPFIX_VARLEN, IPFIX_VARLEN, IPFIX_PEN },
	{ IE_DEST_LISTS, 4, 4, IPFIX_VARLEN, IPFIX_VARLEN, IPFIX_PEN },
	{ IE_COMMUNITY_ID, 5, 5, IPFIX_VARLEN, IPFIX_VARLEN, IPFIX_PEN },
};
#define N_IES	(sizeof(ies) / sizeof(ies[0]))

/* The template set: a set header, then each template's header and fields. */
#define TEMPLATE_FIELDS_LEN	(4 * N_IES + 4 * 5)	/* 5 with a PEN */
#define TEMPLATE_SET_LEN	(IPFIX_SET_HDR_LEN + 2 * (4 + TEMPLATE_FIELDS_LEN))

/*
 * The largest record: fixed fields (IPv6), comm and the Community ID with
 * one length byte, list names with one (IPFIX_LISTS_MAX < 255).
 */
#define RECORD_FIXED_MAX	(16 + 16 + 2 + 2 + 1 + 8 + 8 + 8 + 8 + 2 + 1 + \
				 4 + 4 + 1 + 2 + 2 + 1 + 1 + 8 + 2 + 4)
#define RECORD_MAX		(RECORD_FIXED_MAX + 1 + 16 + \
				 2 * (1 + IPFIX_LISTS_MAX) + 1 + COMMUNITY_ID_SIZE)
_Static_assert(IPFIX_LISTS_MAX < 255, "list names take one length byte");
_Static_assert(IPFIX_HDR_LEN + TEMPLATE_SET_LEN + IPFIX_SET_HDR_LEN +
	       2 * RECORD_MAX <= IPFIX_MSG_MAX,
	       "a flow's two records fit in a message that starts with templates");

static const struct transport_defaults ipfix_defaults = {
	.label = "ipfix",
	.port = IPFIX_PORT,
	.usage = "ipfix://HOST[:PORT]",
};

/* A message made, waiting for its turn to go. */
struct ipfix_msg {
	uint32_t len;
	uint32_t records;	/* IPFIX data records: what the rate counts */
	uint32_t flows;		/* flow records (sink records) */
	bool templates;		/* it starts with the templates */
	uint8_t bytes[IPFIX_MSG_MAX];
};

/*
 * The sender thread's side, all under lock: the queue of messages made
 * and not yet sent, the pace, the socket, and what became of the flows
 * of the messages sent since the main loop last looked.
 */
struct ipfix_sender {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* to the sender: a message, or the stop */
	pthread_cond_t room;	/* to the writer at the stop: a slot freed */
	struct ipfix_msg *ring;	/* IPFIX_QUEUE_MSGS */
	uint32_t head, count;
	uint64_t rate;		/* data records a second */
	uint64_t tat;		/* when the line is free (GCRA) */
	uint64_t deadline;	/* the stop's bound; 0: not stopping */
	bool cut_short;		/* a second stop signal made it then */
	bool stop;		/* close(): send what is queued, then end */
	uint64_t records;	/* data records queued: the wait it means */
	/*
	 * Who waits, so that each is woken only when it has work: the
	 * sender for a message when the queue was empty (not one per
	 * message while it keeps the pace), the writer at the stop for
	 * IPFIX_ROOM_BATCH free slots (not one).
	 */
	bool sender_idle;
	bool writer_waits;
	uint64_t sent, lost;	/* flows, not yet in the sink's counts */
	int lost_err;		/* why the first of lost was */
	uint64_t timed_out;	/* flows left at the stop's bound */
	bool templates_lost;	/* a message with them did not go */
	/*
	 * Messages sent: sequence number and flows, for ICMP errors.
	 * Kept as they go, not as they are queued: the queue holds far
	 * more than IPFIX_SENT_RING, and a refused message's flows are
	 * then found (they were counted one a message, the rest written).
	 */
	struct {
		uint32_t seq;
		uint32_t flows;
	} sent_ring[IPFIX_SENT_RING];
	uint32_t sent_next;
};

struct ipfix_sink {
	struct sink *s;
	char name[300];		/* HOST:PORT, for messages */
	char host[256];
	char port[8];
	int fd;			/* written under tx.lock */
	uint32_t domain;	/* Observation Domain ID */
	uint32_t seq;		/* data records made before this message */

	uint8_t msg[IPFIX_MSG_MAX];
	size_t len;		/* 0: no message begun */
	size_t set_off;		/* the open data set's header; 0: none */
	uint16_t set_tid;
	uint32_t msg_records;	/* IPFIX data records in msg */
	uint32_t msg_flows;	/* flow records (sink records) in msg */
	bool msg_templates;	/* msg starts with the templates */

	bool templates_due;
	uint64_t templates_at;	/* when they were last sent */
	uint32_t msgs_since_templates;

	uint64_t refused_at;	/* the last ICMP error: transport_refused() */

	struct ipfix_sender tx;
	bool stopping;		/* the stop's flows have begun: wait for room */
	bool wait_said;		/* the stop's wait for the pace: said */
	bool overflowing;	/* the queue was full while running: said */
	uint64_t collected_at;	/* at the stop: collect() last called */
	uint64_t overflow_lost;	/* flows lost to it since it was said */
};

/* --- encoding --------------------------------------------------------- */

/*
 * v's low len bytes, big-endian. Lengths 1, 2, 4 and 8 (every fixed
 * element) as one store each: a byte loop per element was a sixth of the
 * output's CPU at a million flows exported.
 */
static inline uint8_t *put_be(uint8_t *p, uint64_t v, unsigned int len)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (len) {
	case 1:
		*p = v;
		break;
	case 2:
		v16 = htobe16(v);
		memcpy(p, &v16, 2);
		break;
	case 4:
		v32 = htobe32(v);
		memcpy(p, &v32, 4);
		break;
	case 8:
		v64 = htobe64(v);
		memcpy(p, &v64, 8);
		break;
	default:
		for (unsigned int i = len; i--;) {
			p[i] = v & 0xff;
			v >>= 8;
		}
	}
	return p + len;
}

/* A string element: one length byte (every string here is < 255). */
static inline uint8_t *put_str(uint8_t *p, const char *str, size_t len)
{
	*p++ = len;
	memcpy(p, str, len);
	return p + len;
}

/*
 * List names joined by ',', whole names only, at most IPFIX_LISTS_MAX
 * bytes; *cut says that some did not fit.
 */
static uint8_t *put_lists(uint8_t *p, const char *const *names, int n,
			  bool *cut)
{
	uint8_t *len = p++;
	size_t used = 0;

	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (used + !!used + l > IPFIX_LISTS_MAX) {
			*cut = true;
			break;
		}
		if (used)
			p[used++] = ',';
		memcpy(p + used, names[i], l);
		used += l;
	}
	*len = used;
	return p + used;
}

/* A template set for both templates at p (TEMPLATE_SET_LEN bytes). */
static size_t put_templates(uint8_t *p)
{
	uint8_t *start = p;

	p = put_be(p, IPFIX_SET_TEMPLATE, 2);
	p = put_be(p, TEMPLATE_SET_LEN, 2);
	for (int v6 = 0; v6 < 2; v6++) {
		p = put_be(p, v6 ? IPFIX_TID_V6 : IPFIX_TID_V4, 2);
		p = put_be(p, N_IES, 2);
		for (size_t i = 0; i < N_IES; i++) {
			const struct ie *ie = &ies[i];
			uint16_t id = v6 ? ie->id6 : ie->id4;

			p = put_be(p, ie->pen ? id | 0x8000 : id, 2);
			p = put_be(p, v6 ? ie->len6 : ie->len4, 2);
			if (ie->pen)
				p = put_be(p, ie->pen, 4);
		}
	}
	return p - start;
}

/* enum flow_end_reason to IANA's flowEndReason. */
static uint8_t end_reason(uint8_t reason)
{
	switch (reason) {
	case FLOW_END_IDLE:
		return 0x01;	/* idle timeout */
	case FLOW_END_ACTIVE:
		return 0x02;	/* active timeout */
	case FLOW_END_FIN:
	case FLOW_END_RST:
		return 0x03;	/* end of Flow detected */
	case FLOW_END_SHUTDOWN:
		return 0x04;	/* forced end */
	case FLOW_END_EVICTED:
		return 0x05;	/* lack of resources */
	}
	return 0x00;		/* reserved: unknown */
}

/*
 * One data record of flow e at p (RECORD_MAX bytes): its client-to-server
 * half, or with rev its server-to-client half. Returns its length.
 *
 * Both halves carry the flow's start and end, TTL range, VLAN, ICMP type
 * and code (the first frame's), process and Community ID; the server's
 * half has the endpoints, list names, interfaces and direction the other
 * way round, and no dropped count (the flow's is on the client's half
 * once, so that summing records adds it once).
 */
static size_t put_record(uint8_t *p, const struct event *e, bool rev,
			 bool *cut)
{
	const struct event_flow *f = &e->flow;
	bool v6 = e->ip_v == 6;
	/*
	 * The type and code the flow record has, as the JSON record: ICMP
	 * (1) over either IP version, ICMPv6 (58) over IPv6. Not keyed on
	 * ip_v alone: ICMP inside IPv6 (next header 1) sent 0. Its type
	 * and code go in the template's one ICMP element (139 for IPv6).
	 */
	bool icmp = event_has(e, F_ICMP_TYPE);
	/* flowDirection: 0 ingress, 1 egress; the first frame's way */
	bool out = (e->direction == HDRLOG_DIR_OUTBOUND) != rev;
	/*
	 * What the record does not have is sent as 0 or "": the event's
	 * other bytes are not set (a flow without ports, owner or
	 * Community ID: they were the previous flow's, on the stack).
	 */
	bool ports = !icmp && event_has(e, F_SRC_PORT);
	uint32_t pid = event_has(e, F_PID) ? e->pid : 0;
	size_t comm_len = event_has(e, F_COMM) ? strnlen(e->comm, 16) : 0;
	size_t cid_len = event_has(e, F_COMMUNITY_ID) ?
			 strnlen(e->community_id, COMMUNITY_ID_SIZE - 1) : 0;
	uint8_t *start = p;

	/*
	 * Unrolled, each element's kind and lengths are constants: the
	 * switch and put_be()'s length folded away, a record is straight
	 * stores (the loop and its switch were 12% of the export's CPU).
	 */
#pragma GCC unroll 32
	for (size_t i = 0; i < N_IES; i++) {
		unsigned int len = v6 ? ies[i].len6 : ies[i].len4;

		switch (ies[i].kind) {
		case IE_SRC_IP:
			memcpy(p, rev ? e->dest_ip : e->src_ip, len);
			p += len;
			break;
		case IE_DEST_IP:
			memcpy(p, rev ? e->src_ip : e->dest_ip, len);
			p += len;
			break;
		case IE_SRC_PORT:
			p = put_be(p, !ports ? 0 : rev ? e->dest_port : e->src_port, len);
			break;
		case IE_DEST_PORT:
			p = put_be(p, !ports ? 0 : rev ? e->src_port : e->dest_port, len);
			break;
		case IE_PROTO:
			p = put_be(p, e->ip_proto, len);
			break;
		case IE_OCTETS:
			p = put_be(p, rev ? f->bytes_toclient : f->bytes_toserver, len);
			break;
		case IE_PACKETS:
			p = put_be(p, rev ? f->pkts_toclient : f->pkts_toserver, len);
			break;
		case IE_START_MS:
			p = put_be(p, f->start_ns / 1000000, len);
			break;
		case IE_END_MS:
			p = put_be(p, f->end_ns / 1000000, len);
			break;
		case IE_TCP_FLAGS:
			p = put_be(p, rev ? f->tcp_flags_toclient : f->tcp_flags_toserver, len);
			break;
		case IE_END_REASON:
			p = put_be(p, end_reason(f->reason), len);
			break;
		case IE_IN_IFACE:
			p = put_be(p, out ? 0 : e->ifindex, len);
			break;
		case IE_OUT_IFACE:
			p = put_be(p, out ? e->ifindex : 0, len);
			break;
		case IE_DIRECTION:
			p = put_be(p, out, len);
			break;
		case IE_VLAN:
			p = put_be(p, e->vlan_count ? e->vlan[0] & 0x0fff : 0, len);
			break;
		case IE_ICMP:
			p = put_be(p, icmp ? e->icmp_type << 8 | e->icmp_code : 0, len);
			break;
		case IE_MIN_TTL:
			p = put_be(p, f->min_ttl, len);
			break;
		case IE_MAX_TTL:
			p = put_be(p, f->max_ttl, len);
			break;
		case IE_DROPPED:
			p = put_be(p, rev ? 0 : f->dropped_pkts, len);
			break;
		case IE_INNER_VLAN:	/* part of the flow's key */
			p = put_be(p, e->vlan_count > 1 ? e->vlan[1] & 0x0fff : 0, len);
			break;
		case IE_PID:
			p = put_be(p, pid, len);
			break;
		case IE_COMM:
			p = put_str(p, e->comm, comm_len);
			break;
		case IE_SRC_LISTS:
			p = rev ? put_lists(p, e->dest_lists, e->n_dest_lists, cut)
				: put_lists(p, e->src_lists, e->n_src_lists, cut);
			break;
		case IE_DEST_LISTS:
			p = rev ? put_lists(p, e->src_lists, e->n_src_lists, cut)
				: put_lists(p, e->dest_lists, e->n_dest_lists, cut);
			break;
		case IE_COMMUNITY_ID:
			p = put_str(p, e->community_id, cid_len);
			break;
		}
	}
	return p - start;
}

/* --- messages --------------------------------------------------------- */

static void set_close(struct ipfix_sink *x)
{
	if (x->set_off)
		put_be(x->msg + x->set_off + 2, x->len - x->set_off, 2);
	x->set_off = 0;
	x->set_tid = 0;
}

static void msg_begin(struct ipfix_sink *x)
{
	uint64_t now = clock_mono_ns();

	x->len = IPFIX_HDR_LEN;		/* filled in by msg_send() */
	x->msg_records = x->msg_flows = 0;
	x->msg_templates = x->templates_due ||
			   now - x->templates_at >= IPFIX_REFRESH_NS ||
			   x->msgs_since_templates >= IPFIX_REFRESH_MSGS;
	if (x->msg_templates)
		x->len += put_templates(x->msg + x->len);
}

/*
 * ICMP errors queued on the socket: each moves its message's flows to
 * lost. Under tx.lock, or with the sender ended: the ring is the sender's.
 */
static void read_refusals(struct ipfix_sink *x)
{
	struct ipfix_sender *t = &x->tx;
	uint64_t refused = 0, datagrams = 0;
	int first_err = 0, err;

	if (x->fd < 0)
		return;
	for (int i = 0; i < 4096; i++) {	/* bounded; the rest next time */
		uint8_t head[IPFIX_HDR_LEN];
		size_t n = sizeof(head);
		uint32_t seq, flows = 1;	/* not found: at least one */

		if (!transport_icmp_error(x->fd, &err, head, &n))
			break;
		if (n >= 12) {
			seq = (uint32_t)head[8] << 24 | head[9] << 16 |
			      head[10] << 8 | head[11];
			for (int j = 0; j < IPFIX_SENT_RING; j++)
				if (t->sent_ring[j].flows &&
				    t->sent_ring[j].seq == seq) {
					flows = t->sent_ring[j].flows;
					t->sent_ring[j].flows = 0;
					break;
				}
		}
		refused += flows;
		datagrams++;
		if (!first_err)
			first_err = err;
	}
	if (!datagrams)
		return;
	transport_refused(x->s, ipfix_defaults.label, x->name, "flow records",
			  refused, first_err, &x->refused_at);
	/* The collector may come back without our templates. */
	x->templates_due = true;
}

/* --- the sender thread ------------------------------------------------ */

/* Wait on c until at (clock_mono_ns()), a signal, or a spurious wake. */
static void wait_until(pthread_cond_t *c, pthread_mutex_t *lock, uint64_t at)
{
	struct timespec ts = {
		.tv_sec = at / 1000000000,
		.tv_nsec = at % 1000000000,
	};

	pthread_cond_timedwait(c, lock, &ts);
}

/*
 * Send m, with the export time of now. 0, or a negative errno: -EAGAIN
 * when the socket's buffer is full (or ENOBUFS: a full device queue),
 * worth another try.
 */
static int send_msg(int fd, struct ipfix_msg *m)
{
	ssize_t n = -1;

	put_be(m->bytes + 4, clock_real_ns() / 1000000000, 4);	/* Export Time */
	errno = EBADF;
	for (int tries = 0; fd >= 0 && tries < 4; tries++) {
		n = send(fd, m->bytes, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		/*
		 * ECONNREFUSED: an earlier datagram's ICMP error, which this
		 * send took off the socket, and did not go; the error queue
		 * still has it for read_refusals().
		 */
		if (n >= 0 || (errno != EINTR && errno != ECONNREFUSED))
			break;
	}
	if (n >= 0)
		return 0;
	return errno == EWOULDBLOCK || errno == ENOBUFS ? -EAGAIN : -errno;
}

/*
 * The pace: messages go as the rate allows, a few back to back at most
 * (IPFIX_BURST_RECORDS), the rest spread; a collector's socket buffer
 * (nfcapd's 208 KiB by default, 92 messages) takes a burst that
 * size while the collector is busy elsewhere. What the rate counts are
 * data records, what collectors count as flows.
 */
static void *sender_main(void *arg)
{
	struct ipfix_sink *x = arg;
	struct ipfix_sender *t = &x->tx;
	uint64_t burst = IPFIX_BURST_RECORDS * 1000000000ull / t->rate;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct ipfix_msg *m = &t->ring[t->head];
		uint64_t now;
		uint32_t seq;
		int err;

		if (!t->count) {
			if (t->stop)
				break;
			t->sender_idle = true;
			pthread_cond_wait(&t->wake, &t->lock);
			t->sender_idle = false;
			continue;
		}
		now = clock_mono_ns();
		if (t->deadline && now >= t->deadline)
			err = -ETIMEDOUT;	/* the stop took too long */
		else if (t->tat > now + burst) {
			/*
			 * until the line is free: a whole burst a wake-up,
			 * as few wake-ups as the burst allows (each costs
			 * tens of microseconds of CPU in a VM)
			 */
			wait_until(&t->wake, &t->lock, t->tat);
			continue;
		} else {
			err = send_msg(x->fd, m);
			if (err == -EAGAIN) {
				wait_until(&t->wake, &t->lock, now + IPFIX_RETRY_NS);
				continue;
			}
			t->tat = (t->tat > now ? t->tat : now) +
				 m->records * 1000000000ull / t->rate;
		}
		if (err && m->templates)
			t->templates_lost = true;
		if (err == -ETIMEDOUT) {
			t->timed_out += m->flows;
		} else if (err) {
			if (!t->lost)
				t->lost_err = -err;
			t->lost += m->flows;
		} else {
			t->sent += m->flows;
			/* Its ICMP error, if one comes, is placed by this. */
			memcpy(&seq, m->bytes + 8, 4);
			t->sent_ring[t->sent_next].seq = be32toh(seq);
			t->sent_ring[t->sent_next].flows = m->flows;
			t->sent_next = (t->sent_next + 1) % IPFIX_SENT_RING;
		}
		t->records -= m->records;
		t->head = (t->head + 1) % IPFIX_QUEUE_MSGS;
		/*
		 * Empty: the next message takes the first slot again, so the
		 * ring's memory is touched only as deep as it was used.
		 */
		if (!--t->count)
			t->head = 0;
		if (t->writer_waits &&
		    t->count <= IPFIX_QUEUE_MSGS - IPFIX_ROOM_BATCH)
			pthread_cond_signal(&t->room);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int sender_start(struct ipfix_sink *x, uint32_t rate)
{
	struct ipfix_sender *t = &x->tx;
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	t->rate = rate ? rate : IPFIX_RATE_DEFAULT;
	/* calloc: pages the ring never reaches are never touched */
	t->ring = calloc(IPFIX_QUEUE_MSGS, sizeof(*t->ring));
	if (!t->ring) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* clock_mono_ns() */
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->room, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals are the main loop's: it waits for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t->thread, NULL, sender_main, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("ipfix %s: cannot start its sender thread: %s", x->name,
		       strerror(err));
		return -err;
	}
	t->running = true;
	return 0;
}

/*
 * A stop signal while stopping (sink_stop_now): the stop's bound is now.
 * The sender then counts what is queued lost, as at the bound, and so is
 * what the writer still queues: the bound's path, said once by
 * sender_stop(). A bound already passed is left to say itself. Under
 * tx.lock, once stopping.
 */
static void stop_cut_short(struct ipfix_sink *x)
{
	struct ipfix_sender *t = &x->tx;
	uint64_t now;

	if (!sink_stop_now || t->cut_short)
		return;
	now = clock_mono_ns();
	if (now >= t->deadline)
		return;
	t->deadline = now;
	t->cut_short = true;
	pthread_cond_signal(&t->wake);	/* it may wait for the pace */
}

/*
 * The stop has begun (its flows, or close()): capture is over, so the
 * writer may wait for the pace now, which holds up only the exit; the
 * stop's bound starts.
 */
static void sender_stopping(struct ipfix_sink *x)
{
	if (x->stopping)
		return;
	x->stopping = true;
	pthread_mutex_lock(&x->tx.lock);
	x->tx.deadline = clock_mono_ns() + IPFIX_STOP_NS;
	stop_cut_short(x);	/* a second signal before the stop's flows */
	pthread_mutex_unlock(&x->tx.lock);
}

/*
 * The exit is about to wait for the pace: said once if that is a second
 * or more, and how to end it, so that a Ctrl-C that seems to do nothing
 * is pressed again rather than answered with SIGKILL (which loses the
 * summary and every output's last writes). Under tx.lock.
 */
static void stop_wait_say(struct ipfix_sink *x)
{
	struct ipfix_sender *t = &x->tx;
	uint64_t now = clock_mono_ns();

	if (x->wait_said || t->cut_short || t->records < t->rate ||
	    now >= t->deadline)
		return;
	x->wait_said = true;
	pr_info("ipfix %s: stopping: the flow records queued take about %llu s more at --ipfix-rate %llu (%llu s at most); a second SIGINT or SIGTERM ends the wait, counting them lost",
		x->name, (unsigned long long)(t->records / t->rate),
		(unsigned long long)t->rate,
		(unsigned long long)((t->deadline - now) / 1000000000 + 1));
}

static void sender_free(struct ipfix_sender *t)
{
	if (!t->ring)
		return;
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->room);
	pthread_mutex_destroy(&t->lock);
	free(t->ring);
}

/*
 * What the sender did since the last call goes into the sink's counts,
 * then the ICMP errors are read: both under tx.lock (or with the sender
 * ended), so that a datagram refused is always counted sent first.
 */
static void collect(struct ipfix_sink *x)
{
	struct ipfix_sender *t = &x->tx;
	struct sink *s = x->s;

	s->written += t->sent;
	s->failed += t->lost;
	if (t->lost)
		sink_write_failed(s, x->name, t->lost_err);	/* no route, ... */
	else
		sink_write_worked(s, x->name, t->sent);
	t->sent = t->lost = 0;
	/*
	 * Marked sent when queued; the collector may never have had them
	 * (a first message that found no route): the next message again.
	 */
	if (t->templates_lost)
		x->templates_due = true;
	t->templates_lost = false;
	read_refusals(x);
}

/*
 * The sender sends what is queued, within the stop's bound, and ends.
 * Meanwhile what it did and the ICMP errors are read as the main loop's
 * flush would (IPFIX_COLLECT_NS): the socket's error queue holds a few
 * hundred, and the exit's seconds of refusals were counted written.
 */
static void sender_stop(struct ipfix_sink *x)
{
	struct ipfix_sender *t = &x->tx;

	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	while (t->count) {
		stop_wait_say(x);
		/*
		 * The timeout wakes it: nobody signals room (writer_waits);
		 * a signal does not end a condition wait.
		 */
		wait_until(&t->room, &t->lock, clock_mono_ns() + IPFIX_COLLECT_NS);
		stop_cut_short(x);
		collect(x);
	}
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = false;
	collect(x);	/* what it sent last, and what came back meanwhile */
	if (t->timed_out) {	/* said once, here */
		char why[64];

		x->s->failed += t->timed_out;
		if (t->cut_short)
			snprintf(why, sizeof(why), SINK_STOP_NOW_WHY);
		else
			snprintf(why, sizeof(why), "in the stop's %llu s",
				 IPFIX_STOP_NS / 1000000000);
		pr_warn("ipfix %s: %llu flow records not sent %s at --ipfix-rate %llu: counted lost",
			x->name, (unsigned long long)t->timed_out, why,
			(unsigned long long)t->rate);
	}
}

/* --- messages, continued ------------------------------------------------ */

/*
 * Queue the message being built, if it has a record, for the sender.
 * While capture runs this never waits: a full queue (flows ending faster
 * than the rate for long) counts the message's flows lost. Once the
 * stop's flows come (capture is over) it waits for room, within the
 * stop's bound.
 */
static void msg_send(struct ipfix_sink *x)
{
	struct ipfix_sender *t = &x->tx;
	uint8_t *h = x->msg;
	struct ipfix_msg *m;
	bool again;

	if (!x->msg_records)
		return;
	set_close(x);
	put_be(h, IPFIX_VERSION, 2);
	put_be(h + 2, x->len, 2);
	put_be(h + 8, x->seq, 4);	/* Export Time: when it goes */
	put_be(h + 12, x->domain, 4);
	pthread_mutex_lock(&t->lock);
	if (x->stopping)
		stop_cut_short(x);
	while (x->stopping && t->count == IPFIX_QUEUE_MSGS &&
	       clock_mono_ns() < t->deadline) {
		uint64_t at = clock_mono_ns() + IPFIX_COLLECT_NS;

		stop_wait_say(x);
		t->writer_waits = true;
		/* in slices: a second stop signal ends it (stop_cut_short) */
		wait_until(&t->room, &t->lock, at < t->deadline ? at : t->deadline);
		t->writer_waits = false;
		stop_cut_short(x);
	}
	/*
	 * The exit's flows are written for a while (a second for a million)
	 * as the sender sends: read what came back, as sender_stop() does.
	 */
	if (x->stopping && clock_mono_ns() - x->collected_at >= IPFIX_COLLECT_NS) {
		collect(x);
		x->collected_at = clock_mono_ns();
	}
	if (t->count < IPFIX_QUEUE_MSGS) {
		m = &t->ring[(t->head + t->count) % IPFIX_QUEUE_MSGS];
		memcpy(m->bytes, x->msg, x->len);
		m->len = x->len;
		m->records = x->msg_records;
		m->flows = x->msg_flows;
		m->templates = x->msg_templates;
		t->count++;
		t->records += m->records;
		/* Room again once half of it is: said once, not per slot. */
		again = x->overflowing && t->count < IPFIX_QUEUE_MSGS / 2;
		if (t->sender_idle)
			pthread_cond_signal(&t->wake);
		pthread_mutex_unlock(&t->lock);
		if (again) {
			pr_info("ipfix %s: the queue takes flow records again; %llu were lost while it was full",
				x->name, (unsigned long long)x->overflow_lost);
			x->overflowing = false;
			x->overflow_lost = 0;
		}
		if (x->msg_templates) {
			x->templates_due = false;
			x->templates_at = clock_mono_ns();
			x->msgs_since_templates = 0;
		}
		x->msgs_since_templates++;
	} else if (x->stopping) {
		/* the stop's bound has passed: said with the sender's */
		t->timed_out += x->msg_flows;
		pthread_mutex_unlock(&t->lock);
	} else {
		pthread_mutex_unlock(&t->lock);
		x->s->failed += x->msg_flows;
		if (!x->overflowing)
			pr_warn("ipfix %s: flows end faster than --ipfix-rate %llu records a second lets out, and the %u messages queued are full: counting flow records lost",
				x->name, (unsigned long long)t->rate,
				IPFIX_QUEUE_MSGS);
		x->overflowing = true;
		x->overflow_lost += x->msg_flows;
	}
	/*
	 * Made is numbered, sent or not: a collector sees a message lost
	 * here as a gap in the sequence too.
	 */
	x->seq += x->msg_records;	/* modulo 2^32 */
	x->len = 0;
	x->msg_records = x->msg_flows = 0;
}

/* Room for n more bytes of records of template tid in the message. */
static bool msg_room(const struct ipfix_sink *x, uint16_t tid, size_t n)
{
	if (x->set_tid != tid)
		n += IPFIX_SET_HDR_LEN;
	return x->len + n <= IPFIX_MSG_MAX;
}

static void msg_add(struct ipfix_sink *x, uint16_t tid, const uint8_t *rec,
		    size_t n)
{
	if (x->set_tid != tid) {
		set_close(x);
		x->set_off = x->len;
		x->set_tid = tid;
		put_be(x->msg + x->len, tid, 2);
		x->len += IPFIX_SET_HDR_LEN;
	}
	memcpy(x->msg + x->len, rec, n);
	x->len += n;
	x->msg_records++;
}

/* --- the socket ------------------------------------------------------- */

/* A connected, non-blocking UDP socket to host:port that queues ICMP errors. */
static int udp_connect(struct ipfix_sink *x)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	int err, fd = -1;

	err = getaddrinfo(x->host, x->port, &hints, &res);
	if (err) {
		pr_err("ipfix %s: cannot resolve %s: %s", x->name, x->host,
		       err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
		return -EHOSTUNREACH;
	}
	err = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		transport_udp_recverr(fd, ai->ai_family);
		/* Room for a device slower than the pace; capped by wmem_max. */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ IPFIX_SNDBUF },
			   sizeof(int));
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		err = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		pr_err("ipfix %s: %s", x->name, strerror(-err));
		return err;
	}
	return fd;
}

/* "//HOST[:PORT]" (what follows "ipfix:") into host and port. */
static int parse_target(const char *target, char *host, char *port)
{
	char esc[LOG_ESCAPE_SIZE(256)];

	if (strncmp(target, "//", 2)) {
		pr_err("bad ipfix target 'ipfix:%s': no '//' before the collector (use ipfix://HOST[:PORT])",
		       log_escape(esc, sizeof(esc), target, strnlen(target, 256)));
		return -EINVAL;
	}
	return transport_host_port(target + 2, target + 2, &ipfix_defaults, host,
				   port);
}

/* --- the sink --------------------------------------------------------- */

static int ipfix_write(struct sink *s, const struct event *e)
{
	struct ipfix_sink *x = s->priv;
	uint8_t rec[2][RECORD_MAX];
	size_t n[2] = { 0, 0 };
	uint16_t tid;
	bool cut = false;

	if (e->event_type != EVENT_FLOW ||
	    (e->ip_v != 4 && e->ip_v != 6)) {
		s->skipped++;	/* not a flow: no place for it here */
		return 0;
	}
	/*
	 * The sweep at exit: not keyed on reason shutdown, which the flows
	 * that had ended do not have (fin, rst): a queue full of those
	 * counted the rest lost.
	 */
	if (sink_capture_over)
		sender_stopping(x);
	tid = e->ip_v == 6 ? IPFIX_TID_V6 : IPFIX_TID_V4;
	/*
	 * A record each way that had frames. After an active report, a way
	 * may have none, or both (a flow that went idle right after the
	 * report: its counts all went out there): nothing is sent then, as
	 * NetFlow exporters send nothing when such a flow expires; an empty
	 * record would be one more flow to a collector.
	 */
	if (e->flow.pkts_toserver || e->flow.dropped_pkts)
		n[0] = put_record(rec[0], e, false, &cut);
	if (e->flow.pkts_toclient)	/* the server answered */
		n[1] = put_record(rec[1], e, true, &cut);
	if (!n[0] && !n[1]) {
		s->skipped++;
		return 0;
	}
	if (cut)
		s->cut++;
	if (x->len && !msg_room(x, tid, n[0] + n[1]))
		msg_send(x);
	if (!x->len)
		msg_begin(x);
	if (n[0])
		msg_add(x, tid, rec[0], n[0]);
	if (n[1])
		msg_add(x, tid, rec[1], n[1]);
	x->msg_flows++;
	return 0;
}

static int ipfix_flush(struct sink *s)
{
	struct ipfix_sink *x = s->priv;

	msg_send(x);
	pthread_mutex_lock(&x->tx.lock);
	collect(x);
	pthread_mutex_unlock(&x->tx.lock);
	return 0;
}

/* SIGHUP: the name may point elsewhere now; templates for the new socket. */
static int ipfix_reopen(struct sink *s)
{
	struct ipfix_sink *x = s->priv;
	int fd, old = -1;

	msg_send(x);
	fd = udp_connect(x);
	pthread_mutex_lock(&x->tx.lock);
	collect(x);	/* the old socket's errors, before it goes */
	if (fd >= 0) {
		old = x->fd;
		x->fd = fd;
	}
	pthread_mutex_unlock(&x->tx.lock);
	if (fd < 0) {
		pr_err("ipfix %s: keeping the collector's address resolved before",
		       x->name);
		return 0;
	}
	if (old >= 0)
		close(old);
	x->templates_due = true;
	return 0;
}

static void ipfix_close(struct sink *s)
{
	struct ipfix_sink *x = s->priv;

	sender_stopping(x);
	msg_send(x);
	sender_stop(x);
	if (x->fd >= 0)
		close(x->fd);
	sender_free(&x->tx);
	free(x);
}

static int ipfix_open(struct sink *s)
{
	struct ipfix_sink *x = calloc(1, sizeof(*x));
	int err;

	if (!x) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	x->s = s;
	x->fd = -1;
	err = parse_target(s->target, x->host, x->port);
	if (err) {
		free(x);
		return err;
	}
	if (strchr(x->host, ':'))	/* an IPv6 literal */
		snprintf(x->name, sizeof(x->name), "[%s]:%s", x->host, x->port);
	else
		snprintf(x->name, sizeof(x->name), "%s:%s", x->host, x->port);
	x->fd = udp_connect(x);
	if (x->fd < 0) {
		err = x->fd;
		free(x);
		return err;
	}
	x->domain = s->cfg->ipfix_domain;
	x->templates_due = true;
	err = sender_start(x, s->cfg->ipfix_rate);
	if (err) {
		close(x->fd);
		sender_free(&x->tx);
		free(x);
		return err;
	}
	s->priv = x;
	return 0;
}

/* --check: the target parsed and resolved, nothing sent. */
static int ipfix_check(const struct sink *s)
{
	char host[256], port[8];

	return parse_target(s->target, host, port);
}

const struct sink_ops ipfix_sink_ops = {
	.name = "ipfix",
	.check = ipfix_check,
	.open = ipfix_open,
	.write = ipfix_write,
	.flush = ipfix_flush,
	.reopen = ipfix_reopen,
	.close = ipfix_close,
};
