// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The IPFIX output byte by byte against RFC 7011's layout: flow records
 * made by hand go through the real sink (sink_create("ipfix://...")) to a
 * UDP socket of the test's on 127.0.0.1, and each datagram is read back:
 * the message header (version, length, export time, sequence number,
 * observation domain), the template set (both templates, IANA's element
 * numbers and lengths, enterprise elements under PEN 32473), data sets and
 * every field of a record, both directions of a flow, the end reasons,
 * template refresh (and after SIGHUP), the size limit, and what is not a
 * flow.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "event.h"
#include "sink.h"

#define T0_MS	1764580000123ULL
#define N_FIELDS	25
#define PEN	32473

static int rx = -1;
static char target[64];
static struct sink_config cfg = { .fields = ~0ULL, .ipfix_domain = 0x01020304 };
static uint8_t dgram[65536];

static uint64_t be(const uint8_t *p, int len)
{
	uint64_t v = 0;

	for (int i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

/* The next datagram, waiting at most a second; its length. */
static size_t receive(void)
{
	struct timeval tv = { 1, 0 };
	ssize_t n;

	setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(rx, dgram, sizeof(dgram), 0);
	assert_true(n > 0);
	return n;
}

static bool nothing_waiting(void)
{
	return recv(rx, dgram, sizeof(dgram), MSG_DONTWAIT) < 0;
}

static void flow4(struct event *e)
{
	static const char *const src_lists[] = { "a", "b" };
	static const char *const dest_lists[] = { "tor" };

	memset(e, 0, sizeof(*e));
	e->event_type = EVENT_FLOW;
	e->present = FIELD_BIT(F_SRC_PORT) | FIELD_BIT(F_DEST_PORT) |
		     FIELD_BIT(F_PID) | FIELD_BIT(F_COMM) |
		     FIELD_BIT(F_COMMUNITY_ID);
	e->ip_v = 4;
	e->ip_proto = 6;
	inet_pton(AF_INET, "198.51.100.1", e->src_ip);
	inet_pton(AF_INET, "203.0.113.2", e->dest_ip);
	e->src_port = 40000;
	e->dest_port = 80;
	e->ifindex = 3;
	e->direction = HDRLOG_DIR_INBOUND;
	e->vlan[0] = 7;
	e->vlan[1] = 100;
	e->vlan_count = 2;
	e->pid = 4242;
	strcpy(e->comm, "curl");
	strcpy(e->community_id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	e->src_lists[0] = src_lists[0];
	e->src_lists[1] = src_lists[1];
	e->n_src_lists = 2;
	e->dest_lists[0] = dest_lists[0];
	e->n_dest_lists = 1;
	e->flow = (struct event_flow){
		.start_ns = T0_MS * 1000000 + 456789,
		.end_ns = (T0_MS + 1333) * 1000000,
		.pkts_toserver = 5, .bytes_toserver = 400,
		.pkts_toclient = 4, .bytes_toclient = 3000,
		.tcp_flags_toserver = 0x1b, .tcp_flags_toclient = 0x12,
		.min_ttl = 60, .max_ttl = 64,
		.reason = FLOW_END_FIN, .ended = true,
		.dropped_pkts = 2,
	};
	e->time_ns = e->flow.end_ns;
}

static struct sink *open_sink(void)
{
	struct sink *s = sink_create(target, &cfg);

	assert_non_null(s);
	return s;
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int big = 4 << 20;

	(void)state;
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx < 0 || bind(rx, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(rx, (struct sockaddr *)&a, &len))
		return -1;
	setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	snprintf(target, sizeof(target), "ipfix://127.0.0.1:%u",
		 ntohs(a.sin_port));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(rx);
	return 0;
}

/* The template set at p: returns its length. */
static size_t check_templates(const uint8_t *p)
{
	static const uint16_t id4[N_FIELDS] = { 8, 12, 7, 11, 4, 1, 2, 152,
		153, 6, 136, 10, 14, 61, 58, 32, 52, 53, 133, 245, 1, 2, 3, 4,
		5 };
	static const uint16_t len[N_FIELDS] = { 4, 4, 2, 2, 1, 8, 8, 8, 8, 2,
		1, 4, 4, 1, 2, 2, 1, 1, 8, 2, 4, 65535, 65535, 65535, 65535 };
	const uint8_t *q = p + 4;

	assert_int_equal(be(p, 2), 2);		/* Template Set */
	for (int v6 = 0; v6 < 2; v6++) {
		assert_int_equal(be(q, 2), v6 ? 257 : 256);
		assert_int_equal(be(q + 2, 2), N_FIELDS);
		q += 4;
		for (int i = 0; i < N_FIELDS; i++) {
			uint16_t id = id4[i], l = len[i];

			if (v6 && i < 2)
				id = i ? 28 : 27, l = 16;
			if (v6 && id == 32)
				id = 139;	/* icmpTypeCodeIPv6 */
			if (i >= 20) {	/* enterprise elements */
				assert_int_equal(be(q, 2), 0x8000 | id);
				assert_int_equal(be(q + 2, 2), l);
				assert_int_equal(be(q + 4, 4), PEN);
				q += 8;
			} else {
				assert_int_equal(be(q, 2), id);
				assert_int_equal(be(q + 2, 2), l);
				q += 4;
			}
		}
	}
	assert_int_equal(be(p + 2, 2), q - p);
	return q - p;
}

/* A string element at *p: checked and stepped over. */
static void check_str(const uint8_t **p, const char *want)
{
	assert_int_equal(**p, strlen(want));
	assert_memory_equal(*p + 1, want, strlen(want));
	*p += 1 + strlen(want);
}

/* One IPv4 data record of flow4() at p, one way; its length. */
static size_t check_record4(const uint8_t *p, bool rev)
{
	const uint8_t *q = p;
	uint8_t a[4], b[4];

	inet_pton(AF_INET, "198.51.100.1", a);
	inet_pton(AF_INET, "203.0.113.2", b);
	assert_memory_equal(q, rev ? b : a, 4);
	assert_memory_equal(q + 4, rev ? a : b, 4);
	assert_int_equal(be(q + 8, 2), rev ? 80 : 40000);
	assert_int_equal(be(q + 10, 2), rev ? 40000 : 80);
	assert_int_equal(q[12], 6);
	assert_int_equal(be(q + 13, 8), rev ? 3000 : 400);
	assert_int_equal(be(q + 21, 8), rev ? 4 : 5);
	assert_int_equal(be(q + 29, 8), T0_MS);		/* ms, cut down */
	assert_int_equal(be(q + 37, 8), T0_MS + 1333);
	assert_int_equal(be(q + 45, 2), rev ? 0x12 : 0x1b);
	assert_int_equal(q[47], 0x03);			/* end of flow */
	assert_int_equal(be(q + 48, 4), rev ? 0 : 3);	/* ingress */
	assert_int_equal(be(q + 52, 4), rev ? 3 : 0);	/* egress */
	assert_int_equal(q[56], rev ? 1 : 0);		/* flowDirection */
	assert_int_equal(be(q + 57, 2), 7);
	assert_int_equal(be(q + 59, 2), 0);		/* not ICMP */
	assert_int_equal(q[61], 60);
	assert_int_equal(q[62], 64);
	assert_int_equal(be(q + 63, 8), rev ? 0 : 2);	/* dropped, once */
	assert_int_equal(be(q + 71, 2), 100);		/* the inner VLAN */
	assert_int_equal(be(q + 73, 4), 4242);
	q += 77;
	check_str(&q, "curl");
	check_str(&q, rev ? "tor" : "a,b");
	check_str(&q, rev ? "a,b" : "tor");
	check_str(&q, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	return q - p;
}

static void message_layout(void **state)
{
	struct sink *s = open_sink();
	struct event e;
	size_t n, off, set_len;
	uint64_t now = time(NULL);

	(void)state;
	flow4(&e);
	sink_write(s, &e);
	assert_true(nothing_waiting());		/* batched until the flush */
	s->ops->flush(s);
	n = receive();
	/* Message header (RFC 7011 section 3.1) */
	assert_int_equal(be(dgram, 2), 10);
	assert_int_equal(be(dgram + 2, 2), n);
	assert_true(be(dgram + 4, 4) >= now - 1 && be(dgram + 4, 4) <= now + 5);
	assert_int_equal(be(dgram + 8, 4), 0);	/* no data record before */
	assert_int_equal(be(dgram + 12, 4), 0x01020304);
	/* the templates first, then one data set with both ways */
	off = 16 + check_templates(dgram + 16);
	assert_int_equal(be(dgram + off, 2), 256);
	set_len = be(dgram + off + 2, 2);
	assert_int_equal(off + set_len, n);
	off += 4;
	off += check_record4(dgram + off, false);
	off += check_record4(dgram + off, true);
	assert_int_equal(off, n);

	/* The next message: no templates, the sequence past both records. */
	e.src_port = 40001;
	sink_write(s, &e);
	s->ops->flush(s);
	n = receive();
	assert_int_equal(be(dgram + 8, 4), 2);
	assert_int_equal(be(dgram + 16, 2), 256);
	assert_int_equal(be(dgram + 18, 2), n - 16);
	s->ops->flush(s);
	assert_true(nothing_waiting());		/* nothing new: nothing sent */

	/* SIGHUP: a new socket, and the templates again before any data. */
	assert_int_equal(s->ops->reopen(s), 0);
	e.src_port = 40002;
	sink_write(s, &e);
	s->ops->flush(s);
	n = receive();
	assert_int_equal(be(dgram + 8, 4), 4);
	assert_int_equal(be(dgram + 16, 2), 2);
	sink_close(s);
	assert_int_equal(s->records, 3);
	assert_int_equal(s->written, 3);
	assert_int_equal(s->failed + s->skipped + s->cut, 0);
	sink_destroy(s);
}

/*
 * ICMPv6, and ICMP inside IPv6 (next header 1): the type and code the
 * flow record has go in template 257's icmpTypeCodeIPv6, whatever the
 * protocol (it sent 0 for ICMP inside IPv6).
 */
static void ipv6_icmp(void **state)
{
	static const struct { uint8_t proto, type, code; } cases[] = {
		{ 58, 128, 0 }, { 1, 3, 3 },
	};
	uint8_t a[16], b[16];

	(void)state;
	inet_pton(AF_INET6, "2001:db8::1", a);
	inet_pton(AF_INET6, "2001:db8:1::2", b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sink *s = open_sink();
		struct event e;
		const uint8_t *q;
		size_t n;

		flow4(&e);
		e.ip_v = 6;
		e.ip_proto = cases[i].proto;
		memcpy(e.src_ip, a, 16);
		memcpy(e.dest_ip, b, 16);
		/* type and code, no ports: as event_decode_flow() makes it */
		e.present &= ~(FIELD_BIT(F_SRC_PORT) | FIELD_BIT(F_DEST_PORT));
		e.present |= FIELD_BIT(F_ICMP_TYPE) | FIELD_BIT(F_ICMP_CODE);
		e.icmp_type = cases[i].type;
		e.icmp_code = cases[i].code;
		e.flow.pkts_toclient = 0;	/* no answer: one record */
		e.flow.reason = FLOW_END_IDLE;
		e.vlan_count = 0;
		e.direction = HDRLOG_DIR_OUTBOUND;
		sink_write(s, &e);
		sink_close(s);
		n = receive();
		q = dgram + 16 + be(dgram + 18, 2);	/* past the templates */
		assert_int_equal(be(q, 2), 257);
		assert_int_equal(be(q + 2, 2), dgram + n - q);
		q += 4;
		assert_memory_equal(q, a, 16);
		assert_memory_equal(q + 16, b, 16);
		assert_int_equal(be(q + 32, 4), 0);	/* no ports for ICMP */
		assert_int_equal(q[36], cases[i].proto);
		assert_int_equal(q[37 + 8 * 4 + 2], 0x01);	/* idle */
		assert_int_equal(be(q + 48 + 24, 4), 0);	/* ingress */
		assert_int_equal(be(q + 52 + 24, 4), 3);	/* egress: sent */
		assert_int_equal(q[56 + 24], 1);
		assert_int_equal(be(q + 57 + 24, 2), 0);	/* untagged */
		assert_int_equal(be(q + 59 + 24, 2),		/* type.code */
				 cases[i].type << 8 | cases[i].code);
		assert_int_equal(be(dgram + 8, 4), 0);
		assert_true(nothing_waiting());
		assert_int_equal(s->written, 1);
		sink_destroy(s);
	}
}

static void end_reasons(void **state)
{
	static const struct { uint8_t reason, ipfix; } map[] = {
		{ FLOW_END_IDLE, 1 }, { FLOW_END_ACTIVE, 2 }, { FLOW_END_FIN, 3 },
		{ FLOW_END_RST, 3 }, { FLOW_END_SHUTDOWN, 4 },
		{ FLOW_END_EVICTED, 5 },
	};
	struct sink *s = open_sink();
	struct event e;
	const uint8_t *q;
	size_t rec;

	(void)state;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		flow4(&e);
		e.flow.pkts_toclient = 0;
		e.flow.reason = map[i].reason;
		sink_write(s, &e);
	}
	sink_close(s);
	receive();
	q = dgram + 16 + be(dgram + 18, 2) + 4;
	flow4(&e);
	rec = 77 + 5 + 4 + 4 + 31;	/* fixed, comm, lists, Community ID */
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		assert_int_equal(q[i * rec + 47], map[i].ipfix);
	assert_true(nothing_waiting());
	sink_destroy(s);
}

/*
 * Many flows with long list names: every message within 1400 bytes,
 * both records of a flow in one message, sequence numbers counting data
 * records, templates again after 64 messages, list names cut at a name.
 */
static void sizes_sequence_refresh(void **state)
{
	static char names[40][32];
	struct sink *s = open_sink();
	struct event e;
	uint32_t records = 0;
	int msgs = 0, with_templates = 0, first_refresh = -1;

	(void)state;
	flow4(&e);
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "a-list-named-%02d-xxxxxx", i);
		e.src_lists[i % MAX_LISTS] = names[i];
	}
	e.n_src_lists = MAX_LISTS;
	for (int i = 0; i < 400; i++) {
		e.src_port = 1000 + i;
		sink_write(s, &e);
	}
	sink_close(s);
	assert_int_equal(s->written, 400);
	assert_int_equal(s->cut, MAX_LISTS * 22 > 200 ? 400 : 0);
	for (;;) {
		struct timeval tv = { 0, 200000 };
		ssize_t n;
		size_t off = 16;
		uint32_t in_msg = 0;

		setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(rx, dgram, sizeof(dgram), 0);
		if (n <= 0)
			break;
		assert_true(n <= 1400);
		assert_int_equal(be(dgram + 8, 4), records);
		if (be(dgram + 16, 2) == 2) {
			with_templates++;
			if (msgs && first_refresh < 0)
				first_refresh = msgs;
			off += be(dgram + 18, 2);
		}
		/* one data set of whole flows: an even number of records */
		assert_int_equal(be(dgram + off, 2), 256);
		assert_int_equal(off + be(dgram + off + 2, 2), n);
		for (off += 4; off < (size_t)n; in_msg++) {
			const uint8_t *q = dgram + off + 77;

			q += 1 + *q;		/* comm */
			/* source lists: "tor", or whole names within 200 */
			assert_true(*q == 3 || (*q <= 200 && (*q + 1) % 23 == 0));
			q += 1 + *q;
			q += 1 + *q;		/* destination lists */
			q += 1 + *q;		/* Community ID */
			off = q - dgram;
		}
		assert_int_equal(off, n);
		assert_int_equal(in_msg % 2, 0);
		records += in_msg;
		msgs++;
	}
	assert_int_equal(records, 800);
	assert_int_equal(first_refresh, 64);
	assert_true(with_templates >= 2);
	sink_destroy(s);
}

/*
 * A flow without ports, owner or Community ID (GRE, say; no process
 * known): zero and empty, not what the event's bytes held. The export
 * loop decodes every flow into the same stack event, so those bytes were
 * the previous flow's: its process and ports went out with this one.
 */
static void absent_fields(void **state)
{
	struct sink *s = open_sink();
	struct event e;
	const uint8_t *q;

	(void)state;
	flow4(&e);		/* ports, pid, comm and id set, as a stale event */
	e.ip_proto = 47;
	e.present = 0;		/* ... none of them this flow's */
	e.flow.pkts_toclient = 0;
	sink_write(s, &e);
	sink_close(s);
	receive();
	q = dgram + 16 + be(dgram + 18, 2) + 4;
	assert_int_equal(be(q + 8, 2), 0);		/* source port */
	assert_int_equal(be(q + 10, 2), 0);		/* destination port */
	assert_int_equal(q[12], 47);
	assert_int_equal(be(q + 73, 4), 0);		/* pid */
	q += 77;
	check_str(&q, "");				/* comm */
	check_str(&q, "a,b");
	check_str(&q, "tor");
	check_str(&q, "");				/* Community ID */
	assert_true(nothing_waiting());
	sink_destroy(s);
}

/*
 * Reports after an active one: a record only for a way that had frames
 * since; none for a flow that went idle right after its report (an empty
 * record would be one more flow to the collector).
 */
static void empty_ways(void **state)
{
	struct sink *s = open_sink();
	struct event e;
	const uint8_t *q;

	(void)state;
	flow4(&e);
	e.flow.pkts_toserver = e.flow.pkts_toclient = 0;
	e.flow.bytes_toserver = e.flow.bytes_toclient = 0;
	e.flow.dropped_pkts = 0;
	sink_write(s, &e);
	assert_int_equal(s->skipped, 1);
	e.flow.pkts_toclient = 4;	/* the server's way only */
	e.flow.bytes_toclient = 3000;
	sink_write(s, &e);
	sink_close(s);
	receive();
	assert_int_equal(s->written, 1);
	q = dgram + 16 + be(dgram + 18, 2);	/* past the templates */
	assert_int_equal(be(q + 2, 2), 4 + check_record4(q + 4, true));
	assert_true(nothing_waiting());
	sink_destroy(s);
}

/* Packet and socket records are not flows: skipped, nothing sent. */
static void not_flows(void **state)
{
	struct sink *s = open_sink();
	struct event e;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.event_type = EVENT_PACKET;
	e.ip_v = 4;
	sink_write(s, &e);
	e.event_type = EVENT_SOCKET;
	sink_write(s, &e);
	sink_close(s);
	assert_true(nothing_waiting());
	assert_int_equal(s->records, 2);
	assert_int_equal(s->skipped, 2);
	assert_int_equal(s->written + s->failed, 0);
	assert_null(s->ops->write_stats);	/* stats records: not handed */
	sink_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_layout),
		cmocka_unit_test(ipv6_icmp),
		cmocka_unit_test(end_reasons),
		cmocka_unit_test(sizes_sequence_refresh),
		cmocka_unit_test(absent_fields),
		cmocka_unit_test(empty_ways),
		cmocka_unit_test(not_flows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
