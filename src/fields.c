// SPDX-License-Identifier: GPL-2.0-or-later
/* The field table and the text of each field's value. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "event.h"
#include "fields.h"

#define FIELD(name, kind, doc, ...) \
	{ name, sizeof(name) - 1, kind, doc, { __VA_ARGS__ }, 0, 0 }
_Static_assert(sizeof(struct event) <= UINT16_MAX, "struct field's member is 16 bits");
/* A number that is an unsigned member of struct event as it is. */
#define MEMBER_TYPE(member) __typeof__(((struct event *)0)->member)
#define FIELD_U(name, member, doc, ...) \
	{ name, sizeof(name) - 1, FK_NUMBER, doc, { __VA_ARGS__ }, \
	  offsetof(struct event, member), \
	  sizeof(MEMBER_TYPE(member)) + \
	  0 * sizeof(char[(MEMBER_TYPE(member))-1 > 0 ? 1 : -1]) /* unsigned */ }
/*
 * A field's ECS names. Where ECS has no place for a field it goes under
 * "hdrlog.", with its own name, as ECS asks of custom fields.
 */
#define ECS(path) { path, 0, EV_SAME }
#define ECS_AS(path, kind, how) { path, kind, how }

const struct field field_table[F_COUNT] = {
	[F_TIMESTAMP] = FIELD("timestamp", FK_STRING, "capture time, RFC 3339 UTC with microseconds",
		ECS("@timestamp")),
	[F_EVENT_TYPE] = FIELD("event_type", FK_STRING, "kind of record: packet, socket, flow, stats, alert, block, unblock",
		ECS_AS("event.kind", FK_STRING, EV_EVENT_KIND),
		ECS_AS("event.category", FK_STRING_ARRAY, EV_EVENT_CATEGORY),
		ECS_AS("event.type", FK_STRING_ARRAY, EV_EVENT_TYPE),
		ECS("hdrlog.event_type")),
	[F_EVENT] = FIELD("event", FK_STRING, "socket event: connect, accept, close, udp_send",
		ECS("event.action")),
	[F_IN_IFACE] = FIELD("in_iface", FK_FOREIGN_STRING, "interface the frame arrived on",
		ECS("observer.ingress.interface.name")),
	[F_OUT_IFACE] = FIELD("out_iface", FK_FOREIGN_STRING, "interface the frame left by (direction out)",
		ECS("observer.egress.interface.name")),
	[F_IFINDEX] = FIELD_U("ifindex", ifindex, "that interface's index",
		ECS_AS("observer.ingress.interface.id", FK_STRING, EV_IF_IN),
		ECS_AS("observer.egress.interface.id", FK_STRING, EV_IF_OUT)),
	[F_PID] = FIELD_U("pid", pid, "process id of the process behind the socket",
		ECS("process.pid")),
	[F_TID] = FIELD_U("tid", tid, "its thread id",
		ECS("process.thread.id")),
	[F_COMM] = FIELD("comm", FK_FOREIGN_STRING, "its command name",
		ECS("process.name")),
	[F_UID] = FIELD_U("uid", uid, "its user id",
		ECS_AS("user.id", FK_STRING, EV_KEYWORD)),
	[F_CGROUP_ID] = FIELD_U("cgroup_id", cgroup_id, "its cgroup v2 id",
		ECS("hdrlog.cgroup_id")),
	[F_NETNS] = FIELD_U("netns", netns, "inode of the socket's network namespace",
		ECS("hdrlog.netns")),
	[F_SRC_MAC] = FIELD("src_mac", FK_STRING, "Ethernet source address",
		ECS_AS("source.mac", FK_STRING, EV_MAC)),
	[F_DEST_MAC] = FIELD("dest_mac", FK_STRING, "Ethernet destination address",
		ECS_AS("destination.mac", FK_STRING, EV_MAC)),
	[F_VLAN] = FIELD("vlan", FK_NUMBER_ARRAY, "802.1Q/802.1ad VLAN ids, outer first",
		ECS_AS("network.vlan.id", FK_STRING, EV_ELEMENT_0),
		ECS_AS("network.inner.vlan.id", FK_STRING, EV_ELEMENT_1)),
	[F_ETHER_TYPE] = FIELD_U("ether_type", ether_type, "EtherType after any VLAN tags",
		ECS("hdrlog.ether_type")),
	[F_IP_V] = FIELD_U("ip_v", ip_v, "IP version, 4 or 6",
		ECS_AS("network.type", FK_STRING, EV_NETWORK_TYPE)),
	[F_SRC_IP] = FIELD("src_ip", FK_STRING, "IP source address",
		ECS("source.ip")),
	[F_DEST_IP] = FIELD("dest_ip", FK_STRING, "IP destination address",
		ECS("destination.ip")),
	[F_PROTO] = FIELD("proto", FK_STRING, "IANA keyword of the IP protocol, or its number",
		ECS_AS("network.transport", FK_STRING, EV_LOWER)),
	[F_IP_PROTO] = FIELD_U("ip_proto", ip_proto, "IP protocol number (IPv6: after the extension headers)",
		ECS_AS("network.iana_number", FK_STRING, EV_KEYWORD)),
	[F_TTL] = FIELD_U("ttl", ttl, "IPv4 TTL or IPv6 hop limit",
		ECS("hdrlog.ttl")),
	[F_TOS] = FIELD_U("tos", tos, "IPv4 type of service or IPv6 traffic class",
		ECS("hdrlog.tos")),
	[F_IP_LEN] = FIELD_U("ip_len", ip_len, "IP packet length, header included",
		ECS("hdrlog.ip_len")),
	[F_IP_ID] = FIELD_U("ip_id", ip_id, "IPv4 identification or IPv6 fragment identification",
		ECS("hdrlog.ip_id")),
	[F_FLOW_LABEL] = FIELD_U("flow_label", flow_label, "IPv6 flow label",
		ECS("hdrlog.flow_label")),
	[F_FRAG_OFFSET] = FIELD_U("frag_offset", frag_offset, "fragment offset in bytes (fragments only)",
		ECS("hdrlog.frag_offset")),
	[F_MORE_FRAGMENTS] = FIELD("more_fragments", FK_BOOL, "more-fragments flag (fragments only)",
		ECS("hdrlog.more_fragments")),
	[F_SRC_PORT] = FIELD_U("src_port", src_port, "TCP, UDP or SCTP source port",
		ECS("source.port")),
	[F_DEST_PORT] = FIELD_U("dest_port", dest_port, "TCP, UDP or SCTP destination port",
		ECS("destination.port")),
	[F_DIRECTION] = FIELD("direction", FK_STRING, "in or out: the frame arrived or left; a socket was accepted or opened here",
		ECS_AS("network.direction", FK_STRING, EV_DIRECTION)),
	[F_TCP_STATE] = FIELD("tcp_state", FK_STRING, "TCP state the socket entered",
		ECS("hdrlog.tcp_state")),
	[F_TCP_FLAGS] = FIELD("tcp_flags", FK_STRING, "TCP flags byte as two hex digits",
		ECS("hdrlog.tcp_flags")),
	[F_TCP_SEQ] = FIELD_U("tcp_seq", tcp_seq, "TCP sequence number",
		ECS("hdrlog.tcp_seq")),
	[F_TCP_ACK] = FIELD_U("tcp_ack", tcp_ack, "TCP acknowledgment number",
		ECS("hdrlog.tcp_ack")),
	[F_TCP_WIN] = FIELD_U("tcp_win", tcp_win, "TCP window, unscaled",
		ECS("hdrlog.tcp_win")),
	[F_ICMP_TYPE] = FIELD_U("icmp_type", icmp_type, "ICMP or ICMPv6 type",
		ECS("hdrlog.icmp_type")),
	[F_ICMP_CODE] = FIELD_U("icmp_code", icmp_code, "ICMP or ICMPv6 code",
		ECS("hdrlog.icmp_code")),
	[F_PKT_LEN] = FIELD_U("pkt_len", pkt_len, "frame length in bytes",
		ECS("network.bytes")),
	[F_TRUNCATED] = FIELD("truncated", FK_BOOL, "the frame ended inside an announced header",
		ECS("hdrlog.truncated")),
	[F_DURATION_MS] = FIELD("duration_ms", FK_NUMBER, "close: milliseconds since connect or accept",
		ECS_AS("event.duration", FK_NUMBER, EV_NANOSECONDS)),
	[F_BYTES_SENT] = FIELD_U("bytes_sent", bytes_sent, "close: bytes the peer acknowledged",
		ECS("hdrlog.bytes_sent")),
	[F_BYTES_RECEIVED] = FIELD_U("bytes_received", bytes_received, "close: bytes received",
		ECS("hdrlog.bytes_received")),
	[F_COMMUNITY_ID] = FIELD("community_id", FK_STRING, "Community ID v1 flow hash",
		ECS("network.community_id")),
	[F_SRC_LISTS] = FIELD("src_lists", FK_FOREIGN_STRING_ARRAY, "names of the lists holding the source, sorted",
		ECS("hdrlog.src_lists")),
	[F_DEST_LISTS] = FIELD("dest_lists", FK_FOREIGN_STRING_ARRAY, "names of the lists holding the destination, sorted",
		ECS("hdrlog.dest_lists")),
	[F_ACTION] = FIELD("action", FK_STRING, "what XDP did: \"pass\" or \"drop\" (with lists)",
		ECS("event.action")),
	[F_WOULD_DROP] = FIELD("would_drop", FK_BOOL, "--monitor: the policy would have dropped it",
		ECS("hdrlog.would_drop")),
	[F_FLOW_PKTS_TOSERVER] = FIELD_U("flow.pkts_toserver", flow.pkts_toserver, "flow: frames from the client (src)",
		ECS("source.packets"),
		ECS_AS("network.packets", FK_NUMBER, EV_FLOW_PACKETS)),
	[F_FLOW_PKTS_TOCLIENT] = FIELD_U("flow.pkts_toclient", flow.pkts_toclient, "flow: frames from the server (dest)",
		ECS("destination.packets")),
	[F_FLOW_BYTES_TOSERVER] = FIELD_U("flow.bytes_toserver", flow.bytes_toserver, "flow: IP bytes from the client",
		ECS("source.bytes"),
		ECS_AS("network.bytes", FK_NUMBER, EV_FLOW_BYTES)),
	[F_FLOW_BYTES_TOCLIENT] = FIELD_U("flow.bytes_toclient", flow.bytes_toclient, "flow: IP bytes from the server",
		ECS("destination.bytes")),
	[F_FLOW_START] = FIELD("flow.start", FK_STRING, "flow: its first frame's time (of this report)",
		ECS("event.start")),
	[F_FLOW_END] = FIELD("flow.end", FK_STRING, "flow: its last frame's time",
		ECS("event.end")),
	[F_FLOW_AGE] = FIELD("flow.age", FK_NUMBER, "flow: seconds from start to end, whole",
		ECS_AS("event.duration", FK_NUMBER, EV_NANOSECONDS)),
	[F_FLOW_STATE] = FIELD("flow.state", FK_STRING, "flow: new, established or closed",
		ECS("hdrlog.flow.state")),
	[F_FLOW_REASON] = FIELD("flow.reason", FK_STRING, "flow: why written: idle, active, fin, rst, evicted, shutdown",
		ECS("event.reason")),
	[F_FLOW_MIN_TTL] = FIELD_U("flow.min_ttl", flow.min_ttl, "flow: lowest TTL or hop limit, both ways",
		ECS("hdrlog.flow.min_ttl")),
	[F_FLOW_MAX_TTL] = FIELD_U("flow.max_ttl", flow.max_ttl, "flow: highest TTL or hop limit, both ways",
		ECS("hdrlog.flow.max_ttl")),
	[F_FLOW_DROPPED] = FIELD_U("flow.dropped", flow.dropped_pkts, "flow: frames the lists dropped",
		ECS("hdrlog.flow.dropped")),
	[F_FLOW_TCP_FLAGS] = FIELD("tcp.tcp_flags", FK_STRING, "flow: TCP flags seen either way, two hex digits",
		ECS("hdrlog.tcp.tcp_flags")),
	[F_FLOW_TCP_FLAGS_TS] = FIELD("tcp.tcp_flags_ts", FK_STRING, "flow: TCP flags seen from the client",
		ECS("hdrlog.tcp.tcp_flags_ts")),
	[F_FLOW_TCP_FLAGS_TC] = FIELD("tcp.tcp_flags_tc", FK_STRING, "flow: TCP flags seen from the server",
		ECS("hdrlog.tcp.tcp_flags_tc")),
	[F_ALERT_ACTION] = FIELD("alert.action", FK_STRING, "alert: \"blocked\" (a block policy) or \"allowed\" (log only)",
		ECS("hdrlog.alert.action")),
	[F_ALERT_SIGNATURE] = FIELD("alert.signature", FK_STRING, "alert, block, unblock: the policy's name",
		ECS("rule.name")),
	[F_ALERT_CATEGORY] = FIELD("alert.category", FK_STRING, "alert: what the detector finds, in Suricata's classification words",
		ECS("rule.category")),
	[F_ALERT_SEVERITY] = FIELD_U("alert.severity", respond.severity, "alert: 1 (high) to 3 (low), the policy's",
		ECS("event.severity")),
	[F_RESPOND_DETECTOR] = FIELD("respond.detector", FK_STRING, "alert, block: syn, port-scan, host-scan, packet-rate, byte-rate, baseline",
		ECS("hdrlog.respond.detector")),
	[F_RESPOND_VALUE] = FIELD_U("respond.value", respond.value, "alert, block: what the source did in the window (per second for rates)",
		ECS("hdrlog.respond.value")),
	[F_RESPOND_THRESHOLD] = FIELD_U("respond.threshold", respond.threshold, "alert, block: the policy's threshold, in the same unit",
		ECS("hdrlog.respond.threshold")),
	[F_RESPOND_WINDOW] = FIELD_U("respond.window_ms", respond.window_ms, "alert, block: the counting window, milliseconds",
		ECS("hdrlog.respond.window_ms")),
	[F_RESPOND_PREFIX] = FIELD_U("respond.prefix", respond.prefix, "alert, block, unblock: prefix length of the source (src_ip)",
		ECS("hdrlog.respond.prefix")),
	[F_RESPOND_TTL] = FIELD_U("respond.ttl", respond.ttl_s, "block: seconds the block lasts",
		ECS("hdrlog.respond.ttl")),
	[F_RESPOND_EXPIRES] = FIELD("respond.expires", FK_STRING, "block: when it expires, RFC 3339 UTC",
		ECS("hdrlog.respond.expires")),
	[F_RESPOND_RESULT] = FIELD("respond.result", FK_STRING, "blocked, logged, already-blocked, protected, list-full; unblock: expired, shutdown",
		ECS("hdrlog.respond.result")),
	[F_RESPOND_DROPPED] = FIELD_U("respond.dropped", respond.dropped, "unblock: frames the block dropped (--monitor: would have), the kernel's count",
		ECS("hdrlog.respond.dropped")),
};

const struct ecs_leaf ecs_version_leaf =
	ECS_AS("ecs.version", FK_STRING, EV_ECS_VERSION);

const char *ip_proto_name(uint8_t proto)
{
	/*
	 * IANA protocol keywords, 0-143, spelled as Suricata's eve.json does;
	 * NULL where IANA gives no keyword (the number is written instead).
	 */
	static const char *const names[256] = {
		"HOPOPT", "ICMP", "IGMP", "GGP", "IP-in-IP", "ST", "TCP",
		"CBT", "EGP", "IGP", "BBN-RCC-MON", "NVP-II", "PUP", "ARGUS",
		"EMCON", "XNET", "CHAOS", "UDP", "MUX", "DCN-MEAS", "HMP",
		"PRM", "XNS-IDP", "TRUNK-1", "TRUNK-2", "LEAF-1", "LEAF-2",
		"RDP", "IRTP", "ISO-TP4", "NETBLT", "MFE-NSP", "MERIT-INP",
		"DCCP", "3PC", "IDPR", "XTP", "DDP", "IDPR-CMTP", "TP++",
		"IL", "IPv6", "SDRP", "IPv6-Route", "IPv6-Frag", "IDRP",
		"RSVP", "GRE", "DSR", "BNA", "ESP", "AH", "I-NLSP", "SwIPe",
		"NARP", "MOBILE", "TLSP", "SKIP", "IPv6-ICMP", "IPv6-NoNxt",
		"IPv6-Opts", NULL, "CFTP", NULL, "SAT-EXPAK", "KRYPTOLAN",
		"RVD", "IPPC", NULL, "SAT-MON", "VISA", "IPCU", "CPNX",
		"CPHB", "WSN", "PVP", "BR-SAT-MON", "SUN-ND", "WB-MON",
		"WB-EXPAK", "ISO-IP", "VMTP", "SECURE-VMTP", "VINES", "TTP",
		"NSFNET-IGP", "DGP", "TCF", "EIGRP", "OSPF", "Sprite-RPC",
		"LARP", "MTP", "AX.25", "OS", "MICP", "SCC-SP", "ETHERIP",
		"ENCAP", NULL, "GMTP", "IFMP", "PNNI", "PIM", "ARIS", "SCPS",
		"QNX", "A/N", "IPComp", "SNP", "Compaq-Peer", "IPX-in-IP",
		"VRRP", "PGM", NULL, "L2TP", "DDX", "IATP", "STP", "SRP",
		"UTI", "SMP", "SM", "PTP", "IS-IS", "FIRE", "CRTP", "CRUDP",
		"SSCOPMCE", "IPLT", "SPS", "PIPE", "SCTP", "FC",
		"RSVP-E2E-IGNORE", "Mobility", "UDPLite", "MPLS-in-IP",
		"manet", "HIP", "Shim6", "WESP", "ROHC", "Ethernet",
	};

	return names[proto];
}

const char digit_pairs[201] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* s, shorter than max, and its NUL: its length. Names are short: no calls. */
static inline int copy_name(const char *s, size_t max, char *buf)
{
	size_t n = 0;

	while (n < max && s[n]) {
		buf[n] = s[n];
		n++;
	}
	buf[n] = '\0';
	return n;
}

/*
 * The Community ID, NUL-terminated in its COMMUNITY_ID_SIZE bytes, eight
 * bytes at a time: the longest text of a flow record, copied per record.
 */
static int id_text(const char id[COMMUNITY_ID_SIZE], char *buf)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull;

	for (int i = 0; i < COMMUNITY_ID_SIZE; i += 8) {
		uint64_t w, zero;

		memcpy(&w, id + i, 8);
		memcpy(buf + i, &w, 8);
		/* the lowest byte of w that is 0, if any: its high bit set */
		zero = (w - ones) & ~w & (ones << 7);
		if (zero) {
			int n = i + __builtin_ctzll(zero) / 8;

			buf[n] = '\0';
			return n;
		}
	}
	buf[COMMUNITY_ID_SIZE - 1] = '\0';	/* unterminated: cut */
	return COMMUNITY_ID_SIZE - 1;
#else
	return copy_name(id, COMMUNITY_ID_SIZE - 1, buf);
#endif
}

static int mac_text(const uint8_t *m, char *buf)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 6; i++) {
		buf[i * 3] = hex[m[i] >> 4];
		buf[i * 3 + 1] = hex[m[i] & 15];
		buf[i * 3 + 2] = ':';
	}
	buf[17] = '\0';
	return 17;
}

static int ip_text(int ip_v, const uint8_t *a, char *buf)
{
	if (ip_v == 4) {
		char *p = buf;

		for (int i = 0; i < 4; i++) {
			unsigned int v = a[i];

			if (v >= 100) {
				*p++ = '0' + v / 100;
				v %= 100;
				*p++ = '0' + v / 10;
			} else if (v >= 10) {
				*p++ = '0' + v / 10;
			}
			*p++ = '0' + v % 10;
			*p++ = '.';
		}
		*--p = '\0';
		return p - buf;
	}
	inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
	return strlen(buf);
}

/*
 * Names of the enums a record carries, turned into text only here (the
 * idea of tcpdump's tok2str). A value no table names is printed "?".
 */
static const char *const event_type_names[] = {
	[EVENT_PACKET] = "packet",
	[EVENT_SOCKET] = "socket",
	[EVENT_STATS] = "stats",
	[EVENT_FLOW] = "flow",
	[EVENT_ALERT] = "alert",
	[EVENT_BLOCK] = "block",
	[EVENT_UNBLOCK] = "unblock",
};

const char *const respond_detector_names[RESPOND_DETECTORS] = {
	[DET_SYN] = "syn", [DET_PORT_SCAN] = "port-scan",
	[DET_HOST_SCAN] = "host-scan", [DET_PACKET_RATE] = "packet-rate",
	[DET_BYTE_RATE] = "byte-rate", [DET_BASELINE] = "baseline",
};

/* Suricata's classification.config words for what each detector sees. */
static const char *const respond_category_names[] = {
	[DET_SYN] = "Attempted Denial of Service",
	[DET_PORT_SCAN] = "Detection of a Network Scan",
	[DET_HOST_SCAN] = "Detection of a Network Scan",
	[DET_PACKET_RATE] = "Attempted Denial of Service",
	[DET_BYTE_RATE] = "Attempted Denial of Service",
	[DET_BASELINE] = "Potentially Bad Traffic",
};

static const char *const respond_result_names[] = {
	[RESULT_LOGGED] = "logged", [RESULT_BLOCKED] = "blocked",
	[RESULT_ALREADY] = "already-blocked", [RESULT_PROTECTED] = "protected",
	[RESULT_FULL] = "list-full", [RESULT_EXPIRED] = "expired",
	[RESULT_SHUTDOWN] = "shutdown", [RESULT_REMOVED] = "removed",
	[RESULT_EXPIRED_STOPPED] = "expired-while-stopped",
};

const char *const flow_reason_names[FLOW_END_SHUTDOWN + 1] = {
	[FLOW_END_IDLE] = "idle", [FLOW_END_ACTIVE] = "active",
	[FLOW_END_FIN] = "fin", [FLOW_END_RST] = "rst",
	[FLOW_END_EVICTED] = "evicted", [FLOW_END_SHUTDOWN] = "shutdown",
};

static const char *const flow_state_names[] = {
	[FLOW_STATE_NEW] = "new", [FLOW_STATE_ESTABLISHED] = "established",
	[FLOW_STATE_CLOSED] = "closed",
};

static int hex_byte(uint8_t v, char *buf)
{
	buf[0] = "0123456789abcdef"[v >> 4];
	buf[1] = "0123456789abcdef"[v & 15];
	buf[2] = '\0';
	return 2;
}

static const char *const sock_event_names[] = {
	[HDRLOG_SOCK_CONNECT] = "connect",
	[HDRLOG_SOCK_ACCEPT] = "accept",
	[HDRLOG_SOCK_CLOSE] = "close",
	[HDRLOG_SOCK_UDP_SEND] = "udp_send",
};

static const char *const direction_names[] = {
	[HDRLOG_DIR_OUTBOUND] = "out",
	[HDRLOG_DIR_INBOUND] = "in",
};

/* The kernel's TCP states (include/net/tcp_states.h), by number. */
static const char *const tcp_state_names[] = {
	[1] = "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	"NEW_SYN_RECV", "BOUND_INACTIVE",
};

static const char *name_of(const char *const *names, size_t n, unsigned int v)
{
	return v < n && names[v] ? names[v] : "?";
}

#define NAME(table, v) name_of(table, sizeof(table) / sizeof(table[0]), (v))

int field_text(const struct event *e, enum field_id id, unsigned int i,
	       char *buf)
{
	const struct field *f = &field_table[id];
	const char *s;

	if (f->member_size)
		return uint_text(field_uint(e, f->member, f->member_size), buf);
	switch (id) {
	case F_VLAN:
		if (i >= e->vlan_count)
			return -1;
		return uint_text(e->vlan[i], buf);
	case F_SRC_LISTS:
		if (i >= e->n_src_lists)
			return -1;
		s = e->src_lists[i];
		break;
	case F_DEST_LISTS:
		if (i >= e->n_dest_lists)
			return -1;
		s = e->dest_lists[i];
		break;
	case F_TIMESTAMP:
		return rfc3339_us(e->time_ns, buf);
	case F_EVENT_TYPE:
		s = NAME(event_type_names, e->event_type);
		break;
	case F_EVENT:
		s = NAME(sock_event_names, e->sock_event);
		break;
	case F_COMM:
		/* its own bound: comm is 17 bytes, NUL-terminated by decode */
		return copy_name(e->comm, sizeof(e->comm) - 1, buf);
	case F_DIRECTION:
		s = NAME(direction_names, e->direction);
		break;
	case F_TCP_STATE:
		s = NAME(tcp_state_names, e->tcp_state);
		break;
	case F_DURATION_MS: {
		/* milliseconds with microseconds: 1234.567 */
		int n = uint_text(e->duration_ns / 1000000, buf);

		buf[n] = '.';
		buf[n + 1] = '0' + e->duration_ns / 100000 % 10;
		buf[n + 2] = '0' + e->duration_ns / 10000 % 10;
		buf[n + 3] = '0' + e->duration_ns / 1000 % 10;
		buf[n + 4] = '\0';
		return n + 4;
	}
	case F_IN_IFACE:
		s = e->in_iface;
		break;
	case F_OUT_IFACE:
		s = e->out_iface;
		break;
	case F_SRC_MAC:
		return mac_text(e->src_mac, buf);
	case F_DEST_MAC:
		return mac_text(e->dest_mac, buf);
	case F_SRC_IP:
		return ip_text(e->ip_v, e->src_ip, buf);
	case F_DEST_IP:
		return ip_text(e->ip_v, e->dest_ip, buf);
	case F_PROTO:
		s = ip_proto_name(e->ip_proto);
		if (!s)
			return uint_text(e->ip_proto, buf);
		break;
	case F_MORE_FRAGMENTS:
		s = e->more_fragments ? "true" : "false";
		break;
	case F_TCP_FLAGS:
		return hex_byte(e->tcp_flags, buf);
	case F_FLOW_START:
		return rfc3339_us(e->flow.start_ns, buf);
	case F_FLOW_END:
		return rfc3339_us(e->flow.end_ns, buf);
	case F_FLOW_AGE:
		return uint_text(e->flow.end_ns > e->flow.start_ns ?
				 (e->flow.end_ns - e->flow.start_ns) /
				 1000000000ull : 0, buf);
	case F_FLOW_STATE:
		s = NAME(flow_state_names, e->flow.state);
		break;
	case F_FLOW_REASON:
		s = NAME(flow_reason_names, e->flow.reason);
		break;
	case F_FLOW_TCP_FLAGS:
		return hex_byte(e->flow.tcp_flags_toserver |
				e->flow.tcp_flags_toclient, buf);
	case F_FLOW_TCP_FLAGS_TS:
		return hex_byte(e->flow.tcp_flags_toserver, buf);
	case F_FLOW_TCP_FLAGS_TC:
		return hex_byte(e->flow.tcp_flags_toclient, buf);
	case F_TRUNCATED:
		s = e->truncated ? "true" : "false";
		break;
	case F_COMMUNITY_ID:
		return id_text(e->community_id, buf);
	case F_ACTION:
		s = e->dropped ? "drop" : "pass";
		break;
	case F_ALERT_ACTION:
		s = e->respond.block ? "blocked" : "allowed";
		break;
	case F_ALERT_SIGNATURE:
		s = e->respond.policy;
		break;
	case F_ALERT_CATEGORY:
		s = NAME(respond_category_names, e->respond.detector);
		break;
	case F_RESPOND_DETECTOR:
		s = NAME(respond_detector_names, e->respond.detector);
		break;
	case F_RESPOND_EXPIRES:
		return rfc3339_us(e->respond.expires_ns, buf);
	case F_RESPOND_RESULT:
		s = NAME(respond_result_names, e->respond.result);
		break;
	case F_WOULD_DROP:
		s = e->would_drop ? "true" : "false";
		break;
	default:
		return -1;
	}
	if (!s)		/* a name the record does not carry (a policy's) */
		return -1;
	return copy_name(s, FIELD_TEXT_MAX - 1, buf);
}

/* --- the ECS spelling of values ---------------------------------------- */

static const char *const ecs_direction_names[] = {
	[HDRLOG_DIR_OUTBOUND] = "egress",
	[HDRLOG_DIR_INBOUND] = "ingress",
};

/* event.type: what kind of network event, in ECS's allowed values. */
static const char *event_type_value(const struct event *e, unsigned int i)
{
	/* response records: one value, what happened to the source */
	if (e->event_type == EVENT_ALERT)
		return i ? NULL : "info";
	if (e->event_type == EVENT_BLOCK)
		return i ? NULL : "denied";
	if (e->event_type == EVENT_UNBLOCK)
		return i ? NULL : "allowed";
	if (i == 0)
		return "connection";
	if (i > 1)
		return NULL;
	if (e->event_type == EVENT_FLOW)	/* an active report goes on */
		return e->flow.ended ? "end" : "info";
	if (e->event_type == EVENT_SOCKET) {
		switch (e->sock_event) {
		case HDRLOG_SOCK_CONNECT:
		case HDRLOG_SOCK_ACCEPT:
			return "start";
		case HDRLOG_SOCK_CLOSE:
			return "end";
		}
		return NULL;
	}
	/* a frame checked against lists: the firewall's verdict */
	if (!event_has(e, F_ACTION))
		return NULL;
	return e->dropped ? "denied" : "allowed";
}

/* One of hdrlog's own words (shorter than FIELD_TEXT_MAX), or -1 for NULL. */
static int copy_text(const char *s, char *buf)
{
	return s ? copy_name(s, FIELD_TEXT_MAX - 1, buf) : -1;
}

enum field_kind ecs_kind(enum field_id id, const struct ecs_leaf *l)
{
	return l->how == EV_SAME ? field_table[id].kind : l->kind;
}

int ecs_text(const struct event *e, enum field_id id,
	     const struct ecs_leaf *l, unsigned int i, char *buf)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *mac;
	int n;

	if (l->how == EV_SAME)
		return field_text(e, id, i, buf);
	if (i && l->how != EV_EVENT_TYPE && l->how != EV_EVENT_CATEGORY)
		return -1;	/* the other array leaves have one element */
	switch (l->how) {
	case EV_SAME:
		break;
	case EV_KEYWORD:
		return field_text(e, id, 0, buf);
	case EV_LOWER:
		n = field_text(e, id, 0, buf);
		for (int k = 0; k < n; k++)
			if (buf[k] >= 'A' && buf[k] <= 'Z')
				buf[k] += 'a' - 'A';
		return n;
	case EV_MAC:
		mac = id == F_SRC_MAC ? e->src_mac : e->dest_mac;
		for (int k = 0; k < 6; k++) {
			buf[k * 3] = hex[mac[k] >> 4];
			buf[k * 3 + 1] = hex[mac[k] & 15];
			buf[k * 3 + 2] = '-';
		}
		buf[17] = '\0';
		return 17;
	case EV_ELEMENT_0:
	case EV_ELEMENT_1:
		return field_text(e, id, l->how - EV_ELEMENT_0, buf);
	case EV_NETWORK_TYPE:
		return copy_text(e->ip_v == 4 ? "ipv4" : "ipv6", buf);
	case EV_DIRECTION:
		return copy_text(NAME(ecs_direction_names, e->direction), buf);
	case EV_IF_IN:
	case EV_IF_OUT:
		if ((e->direction == HDRLOG_DIR_INBOUND) != (l->how == EV_IF_IN))
			return -1;
		return uint_text(e->ifindex, buf);
	case EV_NANOSECONDS:
		return uint_text(e->duration_ns, buf);
	case EV_EVENT_KIND:
		return copy_text(e->event_type == EVENT_ALERT ? "alert" : "event",
				 buf);
	case EV_EVENT_CATEGORY:
		/* response records: ["intrusion_detection", "network"] */
		if (e->event_type >= EVENT_ALERT)
			return copy_text(i == 0 ? "intrusion_detection" :
					 i == 1 ? "network" : NULL, buf);
		return i ? -1 : copy_text("network", buf);
	case EV_EVENT_TYPE:
		return copy_text(event_type_value(e, i), buf);
	case EV_ECS_VERSION:
		return copy_text(ECS_VERSION, buf);
	case EV_FLOW_PACKETS:
		return uint_text(e->flow.pkts_toserver + e->flow.pkts_toclient,
				 buf);
	case EV_FLOW_BYTES:
		return uint_text(e->flow.bytes_toserver + e->flow.bytes_toclient,
				 buf);
	}
	return -1;
}

int fields_parse(const char *list, field_mask *mask, const char **bad,
		 size_t *bad_len)
{
	field_mask m = 0;
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		int id;

		for (id = 0; id < F_COUNT; id++)
			if (strlen(field_table[id].name) == n &&
			    !strncmp(field_table[id].name, p, n))
				break;
		if (id == F_COUNT) {
			*bad = p;
			*bad_len = n;
			return -1;
		}
		m |= FIELD_BIT(id);
		if (!p[n])
			break;
		p += n + 1;
	}
	*mask = m;
	return 0;
}
