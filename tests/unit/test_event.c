// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * event_decode() on records no kernel program of ours sends: every count,
 * length and enum is bounded by the decoder, not trusted. Records are
 * copied into heap blocks of exactly their size, so that under ASan a read
 * past one is an error, not a quiet look at the neighbours.
 */
#include <endian.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "event.h"
#include "fields.h"
#include "iface.h"
#include "record.h"

static struct clock_map clock_map;
static struct iface_table ifaces = {
	.v = { { .ifindex = 7, .name = "veth\x1b[0m" } },
	.n = 1,
};
static struct list_set lists;	/* two lists: "b" (bit 0), "a" (bit 1) */
static struct decode_ctx ctx = { .clock = &clock_map, .ifaces = &ifaces };

static int setup(void **state)
{
	(void)state;
	strcpy(lists.lists[0].name, "b");
	strcpy(lists.lists[1].name, "a");
	lists.by_name[0] = 1;
	lists.by_name[1] = 0;
	lists.n_lists = 2;
	return 0;
}

/* rec's first size bytes, decoded from a block of exactly that size. */
static int decode(struct event *e, const void *rec, size_t size,
		  const struct decode_ctx *c)
{
	void *copy = malloc(size ? size : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, rec, size);
	memset(e, 0xa5, sizeof(*e));
	ret = event_decode(e, copy, size, c);
	/* the event may point into the record: check it before freeing */
	if (!ret && e->data) {
		assert_true(e->data >= (const uint8_t *)copy);
		assert_true(e->data + e->cap_len <= (const uint8_t *)copy + size);
	}
	free(copy);
	if (!ret)
		e->data = NULL;
	return ret;
}

static void packet(struct hdrlog_record *r)
{
	memset(r, 0, sizeof(*r));
	r->version = HDRLOG_RECORD_VERSION;
	r->kind = HDRLOG_REC_PACKET;
	r->ifindex = 7;
	r->pkt_len = 60;
	r->flags = HDRLOG_RF_ETH;
	r->ether_type = htobe16(0x0800);
	r->direction = HDRLOG_DIR_INBOUND;
}

static void sock(struct hdrlog_sock_record *r)
{
	memset(r, 0, sizeof(*r));
	r->version = HDRLOG_RECORD_VERSION;
	r->kind = HDRLOG_REC_SOCKET;
	r->event = HDRLOG_SOCK_CONNECT;
	r->direction = HDRLOG_DIR_OUTBOUND;
	r->ep.ip_v = 4;
	r->ep.ip_proto = 6;
	r->tcp_state = 1;
}

/* Every field's text, every array element up to past any bound. */
static void format_all(const struct event *e)
{
	char buf[FIELD_TEXT_MAX + 64];

	for (int id = 0; id < F_COUNT; id++) {
		if (!event_has(e, id))
			continue;
		for (unsigned int i = 0; i < MAX_LISTS + 2; i++) {
			int n = field_text(e, id, i, buf);

			if (n < 0)
				break;
			assert_true(n < FIELD_TEXT_MAX);
			assert_int_equal(strlen(buf), n);
		}
	}
}

/* UBSan saw vlan[2] read in fields.c: vlan_count came from the record. */
static void test_vlan_count(void **state)
{
	struct hdrlog_record r;
	struct event e;
	char buf[FIELD_TEXT_MAX];

	(void)state;
	packet(&r);
	r.vlan_tci[0] = htobe16(0x2064);	/* priority 1, id 100 */
	r.vlan_tci[1] = htobe16(0x00c8);
	for (unsigned int count = 0; count < 256; count++) {
		r.vlan_count = count;
		assert_int_equal(decode(&e, &r, sizeof(r), &ctx), 0);
		assert_true(e.vlan_count <= HDRLOG_MAX_VLANS);
		assert_int_equal(event_has(&e, F_VLAN), count > 0);
		assert_int_equal(field_text(&e, F_VLAN, HDRLOG_MAX_VLANS, buf),
				 -1);
		if (count) {
			assert_int_equal(field_text(&e, F_VLAN, 0, buf), 3);
			assert_string_equal(buf, "100");
		}
		if (count >= 2) {
			field_text(&e, F_VLAN, 1, buf);
			assert_string_equal(buf, "200");
		}
		format_all(&e);
	}
}

/* Frame bytes are taken only when they are all in the record. */
static void test_cap_len(void **state)
{
	struct {
		struct hdrlog_record r;
		uint8_t data[64];
	} rec;
	struct event e;

	(void)state;
	packet(&rec.r);
	memset(rec.data, 0x42, sizeof(rec.data));
	rec.r.cap_len = 60;
	assert_int_equal(decode(&e, &rec, sizeof(rec.r) + 60, &ctx), 0);
	assert_int_equal(e.cap_len, 60);
	/* one byte short of cap_len, and the largest cap_len there is */
	assert_int_equal(decode(&e, &rec, sizeof(rec.r) + 59, &ctx), -1);
	rec.r.cap_len = 0xffff;
	rec.r.pkt_len = 0xffffffff;
	assert_int_equal(decode(&e, &rec, sizeof(rec), &ctx), -1);
	/* more frame bytes than the frame had */
	rec.r.cap_len = 61;
	rec.r.pkt_len = 60;
	assert_int_equal(decode(&e, &rec, sizeof(rec), &ctx), -1);
	/* none: no data pointer */
	rec.r.cap_len = 0;
	assert_int_equal(decode(&e, &rec, sizeof(rec.r), &ctx), 0);
	assert_int_equal(e.cap_len, 0);
}

/* Any record cut short, and sizes around both headers. */
static void test_short_records(void **state)
{
	struct hdrlog_sock_record s;
	struct hdrlog_record r;
	struct event e;

	(void)state;
	packet(&r);
	for (size_t n = 0; n < sizeof(r); n++)
		assert_int_equal(decode(&e, &r, n, &ctx), -1);
	sock(&s);
	for (size_t n = 0; n < sizeof(s); n++) {
		int ret = decode(&e, &s, n, &ctx);

		/* a socket record never passes for a packet one */
		assert_int_equal(ret, -1);
	}
	assert_int_equal(decode(&e, &s, sizeof(s), &ctx), 0);
	assert_int_equal(e.sock_event, HDRLOG_SOCK_CONNECT);
}

static void test_version_and_kind(void **state)
{
	static const uint16_t kinds[] = { 0, 3, 0x100, 0xffff };
	struct hdrlog_record r;
	struct event e;

	(void)state;
	packet(&r);
	r.version = HDRLOG_RECORD_VERSION + 1;
	assert_int_equal(decode(&e, &r, sizeof(r), &ctx), -1);
	r.version = 0;
	assert_int_equal(decode(&e, &r, sizeof(r), &ctx), -1);
	r.version = HDRLOG_RECORD_VERSION;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		r.kind = kinds[i];
		assert_int_equal(decode(&e, &r, sizeof(r), &ctx), -1);
	}
}

/* List bits past the lists loaded name nothing. */
static void test_list_masks(void **state)
{
	struct decode_ctx c = ctx;
	struct hdrlog_record r;
	struct event e;

	(void)state;
	c.lists = &lists;
	packet(&r);
	r.flags |= HDRLOG_RF_LISTS;
	r.src_lists = ~3ULL;		/* only lists that do not exist */
	r.dest_lists = ~0ULL;
	assert_int_equal(decode(&e, &r, sizeof(r), &c), 0);
	assert_false(event_has(&e, F_SRC_LISTS));
	assert_int_equal(e.n_src_lists, 0);
	assert_true(event_has(&e, F_DEST_LISTS));
	assert_int_equal(e.n_dest_lists, 2);
	assert_string_equal(e.dest_lists[0], "a");
	assert_string_equal(e.dest_lists[1], "b");
	format_all(&e);

	/* with no list loaded at all */
	lists.n_lists = 0;
	assert_int_equal(decode(&e, &r, sizeof(r), &c), 0);
	assert_false(event_has(&e, F_SRC_LISTS));
	assert_false(event_has(&e, F_DEST_LISTS));
	lists.n_lists = 2;
}

/* IP fields: a version that is neither 4 nor 6, and values past their bits. */
static void test_ip_fields(void **state)
{
	struct hdrlog_record r;
	struct event e;

	(void)state;
	packet(&r);
	r.flags |= HDRLOG_RF_IP | HDRLOG_RF_PORTS | HDRLOG_RF_FRAGMENT;
	for (unsigned int v = 0; v < 256; v++) {
		r.ip_v = v;
		assert_int_equal(decode(&e, &r, sizeof(r), &ctx),
				 v == 4 || v == 6 ? 0 : -1);
	}
	r.ip_v = 6;
	r.ip_len = htobe16(0xffff);
	r.frag_off = htobe16(0xffff);
	r.flow_label = htobe32(0xffffffff);
	assert_int_equal(decode(&e, &r, sizeof(r), &ctx), 0);
	assert_int_equal(e.ip_len, 0xffff + 40);
	assert_int_equal(e.frag_offset, 0x1fff * 8);
	assert_int_equal(e.flow_label, 0xfffff);
	format_all(&e);
}

static void test_socket_records(void **state)
{
	struct hdrlog_sock_record s;
	struct event e;

	(void)state;
	sock(&s);
	for (unsigned int ev = 0; ev < 256; ev++) {
		s.event = ev;
		assert_int_equal(decode(&e, &s, sizeof(s), &ctx),
				 ev >= HDRLOG_SOCK_CONNECT &&
				 ev <= HDRLOG_SOCK_UDP_SEND ? 0 : -1);
	}
	s.event = HDRLOG_SOCK_CLOSE;
	for (unsigned int v = 0; v < 256; v++) {
		s.ep.ip_v = v;
		assert_int_equal(decode(&e, &s, sizeof(s), &ctx),
				 v == 4 || v == 6 ? 0 : -1);
	}
	s.ep.ip_v = 6;
	for (unsigned int d = 0; d < 256; d++) {
		s.direction = d;
		assert_int_equal(decode(&e, &s, sizeof(s), &ctx),
				 d == 1 || d == 2 ? 0 : -1);
	}
	/* without an owner, the direction is not read */
	s.flags = HDRLOG_SF_NO_OWNER;
	assert_int_equal(decode(&e, &s, sizeof(s), &ctx), 0);
	s.flags = 0;
	s.direction = 2;
	s.tcp_state = 0xff;
	memset(s.comm, 0xff, sizeof(s.comm));	/* no NUL */
	assert_int_equal(decode(&e, &s, sizeof(s), &ctx), 0);
	{
		char text[FIELD_TEXT_MAX];

		assert_int_equal(field_text(&e, F_TCP_STATE, 0, text), 1);
		assert_string_equal(text, "?");	/* no such state */
	}
	assert_int_equal(strlen(e.comm), 16);
	format_all(&e);
}

/* A small deterministic generator: the same bytes on every run. */
static uint64_t rnd_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/*
 * Random records with a valid version and kind (else nothing is read),
 * random sizes: whatever decodes must format within bounds.
 */
/* Packet records: in_iface or out_iface by direction; no direction, no record. */
static void test_packet_direction(void **state)
{
	struct hdrlog_record r;
	struct event e;

	(void)state;
	packet(&r);
	assert_int_equal(decode(&e, &r, sizeof(r), &ctx), 0);
	assert_true(event_has(&e, F_IN_IFACE));
	assert_false(event_has(&e, F_OUT_IFACE));
	assert_int_equal(e.direction, HDRLOG_DIR_INBOUND);
	r.direction = HDRLOG_DIR_OUTBOUND;
	assert_int_equal(decode(&e, &r, sizeof(r), &ctx), 0);
	assert_true(event_has(&e, F_OUT_IFACE));
	assert_false(event_has(&e, F_IN_IFACE));
	assert_true(event_has(&e, F_DIRECTION));
	r.direction = 0;
	assert_int_not_equal(decode(&e, &r, sizeof(r), &ctx), 0);
	r.direction = 3;
	assert_int_not_equal(decode(&e, &r, sizeof(r), &ctx), 0);
}

static void test_random_records(void **state)
{
	uint8_t buf[sizeof(struct hdrlog_record) + 256];
	struct decode_ctx c = ctx;
	struct event e;
	int decoded = 0;

	(void)state;
	c.lists = &lists;
	for (int i = 0; i < 200000; i++) {
		struct hdrlog_record *r = (void *)buf;
		size_t size = rnd() % sizeof(buf);

		for (size_t j = 0; j < sizeof(buf); j += 8) {
			uint64_t x = rnd();

			memcpy(buf + j, &x, 8);
		}
		r->version = HDRLOG_RECORD_VERSION;
		r->kind = rnd() & 1 ? HDRLOG_REC_PACKET : HDRLOG_REC_SOCKET;
		r->cap_len = rnd() % 300;
		if (rnd() & 1)
			r->ip_v = rnd() & 1 ? 4 : 6;
		if (rnd() & 1)
			r->direction = rnd() & 1 ? HDRLOG_DIR_INBOUND :
						   HDRLOG_DIR_OUTBOUND;
		if (decode(&e, buf, size, &c))
			continue;
		decoded++;
		if (event_has(&e, F_VLAN))
			assert_true(e.vlan_count <= HDRLOG_MAX_VLANS);
		assert_true(e.n_src_lists <= lists.n_lists);
		assert_true(e.n_dest_lists <= lists.n_lists);
		format_all(&e);
	}
	/* the loop reached the formatters, not only the size checks */
	assert_true(decoded > 1000);
}

/*
 * A flow table entry: src is the client whichever end of the key it is,
 * the ports follow it, list masks go with their ends, a last seen a tick
 * behind first seen (the coarse clock) does not make a negative age, and
 * a key or value no program makes is refused; UDP-Lite keeps its ports;
 * a double-tagged flow has both VLAN ids.
 */
static void test_flow_entries(void **state)
{
	struct hdrlog_flow_key k = { .ifindex = 7, .ip_v = 4, .ip_proto = 6 };
	struct hdrlog_flow v = { .direction = HDRLOG_DIR_INBOUND };
	struct decode_ctx c = ctx;
	struct event e;

	(void)state;
	c.lists = &lists;
	memcpy(k.lo_ip, "\x0a\x00\x00\x01", 4);
	memcpy(k.hi_ip, "\x0a\x00\x00\x02", 4);
	k.lo_port = htobe16(80);
	k.hi_port = htobe16(40000);
	v.client_hi = 1;
	v.pkts[0] = 5;
	v.pkts[1] = 4;
	v.tcp_flags = 0x1b | 0x1b << 8;
	v.client_lists = 1;	/* "b" */
	v.first_ns = 2000000000;
	v.last_ns = 1999000000;
	memset(&e, 0xa5, sizeof(e));
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), 0);
	assert_int_equal(e.event_type, EVENT_FLOW);
	assert_memory_equal(e.src_ip, "\x0a\x00\x00\x02", 4);
	assert_int_equal(e.src_port, 40000);
	assert_int_equal(e.dest_port, 80);
	assert_int_equal(e.flow.pkts_toserver, 5);
	assert_int_equal(e.flow.pkts_toclient, 4);
	assert_int_equal(e.flow.state, FLOW_STATE_CLOSED);
	assert_true(e.flow.end_ns >= e.flow.start_ns);
	assert_true(event_has(&e, F_SRC_LISTS) && !event_has(&e, F_DEST_LISTS));
	assert_string_equal(e.src_lists[0], "b");
	assert_true(event_has(&e, F_COMMUNITY_ID));
	assert_true(event_has(&e, F_IN_IFACE) && !event_has(&e, F_OUT_IFACE));
	assert_false(event_has(&e, F_PID));
	/* the other way round: the client is lo */
	v.client_hi = 0;
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), 0);
	assert_memory_equal(e.src_ip, "\x0a\x00\x00\x01", 4);
	assert_int_equal(e.src_port, 80);
	/* UDP-Lite's ports are in the key, as its packet records have them */
	k.ip_proto = IPPROTO_UDPLITE;
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), 0);
	assert_true(event_has(&e, F_SRC_PORT) && event_has(&e, F_DEST_PORT));
	assert_int_equal(e.src_port, 80);
	assert_int_equal(e.dest_port, 40000);
	k.ip_proto = IPPROTO_TCP;
	/* the key's VLAN ids, outer first, as a double-tagged frame's */
	k.vlan = 7;
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), 0);
	assert_true(event_has(&e, F_VLAN));
	assert_int_equal(e.vlan_count, 1);
	assert_int_equal(e.vlan[0], 7);
	k.inner_vlan = 100;
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), 0);
	assert_int_equal(e.vlan_count, 2);
	assert_int_equal(e.vlan[0], 7);
	assert_int_equal(e.vlan[1], 100);
	k.vlan = k.inner_vlan = 0;
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), 0);
	assert_false(event_has(&e, F_VLAN));
	k.ip_v = 5;
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), -1);
	k.ip_v = 4;
	v.direction = 0;
	assert_int_equal(event_decode_flow(&e, &k, &v, &c), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vlan_count),
		cmocka_unit_test(test_cap_len),
		cmocka_unit_test(test_short_records),
		cmocka_unit_test(test_version_and_kind),
		cmocka_unit_test(test_list_masks),
		cmocka_unit_test(test_ip_fields),
		cmocka_unit_test(test_socket_records),
		cmocka_unit_test(test_packet_direction),
		cmocka_unit_test(test_random_records),
		cmocka_unit_test(test_flow_entries),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
