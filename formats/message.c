// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "fields.h"
#include "message.h"

struct line {
	char *buf;
	size_t size;
	size_t len;
	field_mask shown;	/* fields present and selected by --fields */
};

static bool shown(const struct line *l, enum field_id id)
{
	return id < F_COUNT && (l->shown & FIELD_BIT(id));
}

static void add(struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= l->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n < l->size - l->len ? (size_t)n
						       : l->size - l->len - 1;
}

static void add_field(struct line *l, const struct event *e, enum field_id id)
{
	char t[FIELD_TEXT_MAX];

	field_text(e, id, 0, t);
	add(l, "%s", t);
}

/* before, the field, after: when the field is shown */
static void add_shown(struct line *l, const struct event *e, enum field_id id,
		      const char *before, const char *after)
{
	if (!shown(l, id))
		return;
	add(l, "%s", before);
	add_field(l, e, id);
	add(l, "%s", after);
}

/* address:port, IPv6 in brackets as in URLs; '?' when not selected */
static void add_endpoint(struct line *l, const struct event *e,
			 enum field_id ip, enum field_id port)
{
	int v6 = e->ip_v == 6;

	if (!shown(l, ip)) {
		add(l, "?");
		return;
	}
	add(l, "%s", v6 && shown(l, port) ? "[" : "");
	add_field(l, e, ip);
	if (shown(l, port)) {
		add(l, "%s:", v6 ? "]" : "");
		add_field(l, e, port);
	}
}

/* tcpdump's letters: [S], [S.], [P.], [F.], [R] ... */
static void add_tcp_flags(struct line *l, uint8_t f)
{
	static const struct { uint8_t bit; char c; } letters[] = {
		{ 0x02, 'S' }, { 0x01, 'F' }, { 0x04, 'R' }, { 0x08, 'P' },
		{ 0x20, 'U' }, { 0x40, 'E' }, { 0x80, 'W' }, { 0x10, '.' },
	};
	char s[10];
	int n = 0;

	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (f & letters[i].bit)
			s[n++] = letters[i].c;
	if (!n)
		memcpy(s, "none", 4), n = 4;
	s[n] = '\0';
	add(l, " [%s]", s);
}

static void add_names(struct line *l, const char *what, const char *const *n,
		      int count)
{
	add(l, " %s=", what);
	for (int i = 0; i < count; i++)
		add(l, "%s%s", i ? "," : "", n[i]);
}

/* TCP 203.0.113.7:51514 -> 198.51.100.1:22, for packets and sockets */
static void add_flow(struct line *l, const struct event *e)
{
	if (shown(l, F_PROTO))
		add_field(l, e, F_PROTO);
	else
		add(l, "IPv%u", e->ip_v);
	add(l, " ");
	add_endpoint(l, e, F_SRC_IP, F_SRC_PORT);
	add(l, " -> ");
	add_endpoint(l, e, F_DEST_IP, F_DEST_PORT);
}

/* The list names: the same for packets and sockets. */
static void add_lists(struct line *l, const struct event *e)
{
	if (shown(l, F_SRC_LISTS))
		add_names(l, "lists", e->src_lists, e->n_src_lists);
	if (shown(l, F_DEST_LISTS))
		add_names(l, "dest_lists", e->dest_lists, e->n_dest_lists);
}

/* TCP 203.0.113.7:51514 -> 198.51.100.1:22 [S] ... on eth0 */
static void packet_message(struct line *l, const struct event *e)
{
	/* The kind of frame decides the shape; --fields decides each part. */
	if (event_has(e, F_IP_V)) {
		add_flow(l, e);
		if (shown(l, F_TCP_FLAGS))
			add_tcp_flags(l, e->tcp_flags);
		if (shown(l, F_ICMP_TYPE) && shown(l, F_ICMP_CODE))
			add(l, " type %u code %u", e->icmp_type, e->icmp_code);
		if (shown(l, F_FRAG_OFFSET) && shown(l, F_MORE_FRAGMENTS))
			add(l, " frag %u%s", e->frag_offset,
			    e->more_fragments ? "+" : "");
	} else if (event_has(e, F_ETHER_TYPE)) {
		add(l, "%s ", e->ether_type == 0x0806 ? "ARP" : "ether");
		add_endpoint(l, e, F_SRC_MAC, F_COUNT);
		add(l, " -> ");
		add_endpoint(l, e, F_DEST_MAC, F_COUNT);
		if (e->ether_type != 0x0806 && shown(l, F_ETHER_TYPE))
			add(l, " type 0x%04x", e->ether_type);
	} else {
		add(l, "frame");
	}
	add_lists(l, e);
	if (shown(l, F_TRUNCATED))
		add(l, " truncated");
	if (shown(l, F_ACTION) && e->dropped)
		add(l, " dropped");
	else if (shown(l, F_WOULD_DROP) && e->would_drop)
		add(l, " would drop");
	if (shown(l, F_IN_IFACE))
		add(l, " on %s", e->in_iface);
	else if (shown(l, F_OUT_IFACE))
		add(l, " out %s", e->out_iface);
}

/*
 * What a process did with a socket, in the words of ss(8) and lsof:
 *   close TCP 198.51.100.2:40000 -> 198.51.100.1:22 CLOSE by ssh[4242]
 *     uid 1000 sent 3120 received 5100 after 5012.250 ms lists=tor
 * The source is the local end for connect, close and udp_send, the
 * peer for accept, as in the record.
 */
static void socket_message(struct line *l, const struct event *e)
{
	if (shown(l, F_EVENT))
		add_field(l, e, F_EVENT);
	else
		add(l, "socket");
	add(l, " ");
	add_flow(l, e);
	add_shown(l, e, F_TCP_STATE, " ", "");
	if (shown(l, F_COMM) || shown(l, F_PID)) {
		add(l, " by ");
		add_shown(l, e, F_COMM, "", "");
		add_shown(l, e, F_PID, "[", "]");
	}
	add_shown(l, e, F_UID, " uid ", "");
	add_shown(l, e, F_BYTES_SENT, " sent ", "");
	add_shown(l, e, F_BYTES_RECEIVED, " received ", "");
	add_shown(l, e, F_DURATION_MS, " after ", " ms");
	add_lists(l, e);
}

/*
 * A flow, as softflowd and nfdump print one:
 *   flow TCP 198.51.100.2:40000 -> 198.51.100.1:22 fin 12/3120 pkts/bytes
 *     out, 10/5100 back [S.PF] 5 s by ssh[4242] lists=tor on eth0
 */
static void flow_message(struct line *l, const struct event *e)
{
	const struct event_flow *f = &e->flow;

	add(l, "flow ");
	add_flow(l, e);
	add_shown(l, e, F_FLOW_REASON, " ", "");
	add(l, " %llu/%llu pkts/bytes, %llu/%llu back",
	    (unsigned long long)f->pkts_toserver,
	    (unsigned long long)f->bytes_toserver,
	    (unsigned long long)f->pkts_toclient,
	    (unsigned long long)f->bytes_toclient);
	if (shown(l, F_FLOW_TCP_FLAGS))
		add_tcp_flags(l, f->tcp_flags_toserver | f->tcp_flags_toclient);
	add_shown(l, e, F_FLOW_AGE, " ", " s");
	if (shown(l, F_COMM) || shown(l, F_PID)) {
		add(l, " by ");
		add_shown(l, e, F_COMM, "", "");
		add_shown(l, e, F_PID, "[", "]");
	}
	add_lists(l, e);
	if (shown(l, F_IN_IFACE))
		add(l, " on %s", e->in_iface);
	else if (shown(l, F_OUT_IFACE))
		add(l, " out %s", e->out_iface);
}

/* "block 203.0.113.7/32 by syn-flood: syn 950 >= 200, ttl 600 s" */
static void respond_message(struct line *l, const struct event *e)
{
	const struct event_respond *r = &e->respond;
	char addr[FIELD_TEXT_MAX];
	int n = field_text(e, F_SRC_IP, 0, addr);

	add(l, "%s %s/%u", e->event_type == EVENT_ALERT ? "alert" :
	    e->event_type == EVENT_BLOCK ? "block" : "unblock",
	    n > 0 ? addr : "?", r->prefix);
	add(l, " by %s", r->policy ? r->policy : "?");
	if (e->event_type != EVENT_UNBLOCK)
		add(l, ": %s %llu >= %llu",
		    respond_detector_names[r->detector % RESPOND_DETECTORS],
		    (unsigned long long)r->value,
		    (unsigned long long)r->threshold);
	if (e->event_type == EVENT_BLOCK)
		add(l, ", ttl %llu s", (unsigned long long)r->ttl_s);
	add_shown(l, e, F_RESPOND_RESULT, ", ", "");
	add_shown(l, e, F_RESPOND_DROPPED, ", ",
		  e->would_drop ? " frames it would have dropped" :
				  " frames dropped");
	if (e->event_type == EVENT_BLOCK && e->would_drop)
		add(l, " (monitor: nothing dropped)");
}

size_t event_message(const struct event *e, field_mask fields, char *buf,
		     size_t size)
{
	struct line l = { buf, size, 0, e->present & fields };

	if (!size)
		return 0;
	buf[0] = '\0';
	/* A socket event is told by its event field, shown or not. */
	if (e->event_type == EVENT_FLOW)
		flow_message(&l, e);
	else if (e->event_type >= EVENT_ALERT)
		respond_message(&l, e);
	else if (event_has(e, F_EVENT))
		socket_message(&l, e);
	else
		packet_message(&l, e);
	return l.len;
}

const char *event_message_id(const struct event *e)
{
	if (e->event_type == EVENT_STATS)
		return HDRLOG_MESSAGE_ID_STATS;
	if (e->event_type == EVENT_FLOW)
		return HDRLOG_MESSAGE_ID_FLOW;
	if (e->event_type >= EVENT_ALERT)
		return HDRLOG_MESSAGE_ID_RESPOND;
	return event_has(e, F_EVENT) ? HDRLOG_MESSAGE_ID_SOCKET
				     : HDRLOG_MESSAGE_ID_PACKET;
}

int event_priority(const struct event *e)
{
	/* a block is a change the operator should see: warning; else notice */
	if (e->event_type == EVENT_BLOCK)
		return 4;
	if (e->event_type >= EVENT_ALERT)
		return 5;
	if ((event_has(e, F_ACTION) && e->dropped) ||
	    (event_has(e, F_WOULD_DROP) && e->would_drop))
		return 4;
	if (event_has(e, F_SRC_LISTS) || event_has(e, F_DEST_LISTS))
		return 5;
	return 6;
}
