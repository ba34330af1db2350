// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The one-line message a person reads in journalctl (formats/message.c):
 * its shape per kind of record, what --fields hides, the size bound,
 * and the priority and MESSAGE_ID that go with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "event.h"
#include "fields.h"
#include "message.h"

#define BIT(id)	FIELD_BIT(id)
#define ALL	FIELD_MASK_ALL

static const char *lists_spamhaus[] = { "spamhaus" };
static const char *lists_tor[] = { "tor" };

/* TCP 203.0.113.7:51514 -> 198.51.100.1:22 [S], listed, dropped, on eth0 */
static void tcp_syn(struct event *e)
{
	static const uint8_t src[16] = { 203, 0, 113, 7 };
	static const uint8_t dst[16] = { 198, 51, 100, 1 };

	memset(e, 0, sizeof(*e));
	e->present = BIT(F_TIMESTAMP) | BIT(F_EVENT_TYPE) | BIT(F_IN_IFACE) |
		     BIT(F_IP_V) | BIT(F_SRC_IP) | BIT(F_DEST_IP) |
		     BIT(F_PROTO) | BIT(F_IP_PROTO) | BIT(F_SRC_PORT) |
		     BIT(F_DEST_PORT) | BIT(F_TCP_FLAGS) | BIT(F_SRC_LISTS) |
		     BIT(F_ACTION);
	e->event_type = EVENT_PACKET;
	e->in_iface = "eth0";
	e->ip_v = 4;
	memcpy(e->src_ip, src, 16);
	memcpy(e->dest_ip, dst, 16);
	e->ip_proto = 6;
	e->src_port = 51514;
	e->dest_port = 22;
	e->tcp_flags = 0x02;
	e->n_src_lists = 1;
	e->src_lists[0] = lists_spamhaus[0];
	e->dropped = true;
}

static void close_event(struct event *e)
{
	static const uint8_t src[16] = { 198, 51, 100, 2 };
	static const uint8_t dst[16] = { 198, 51, 100, 1 };

	memset(e, 0, sizeof(*e));
	e->present = BIT(F_TIMESTAMP) | BIT(F_EVENT_TYPE) | BIT(F_EVENT) |
		     BIT(F_PID) | BIT(F_COMM) | BIT(F_UID) | BIT(F_IP_V) |
		     BIT(F_SRC_IP) | BIT(F_DEST_IP) | BIT(F_PROTO) |
		     BIT(F_IP_PROTO) | BIT(F_SRC_PORT) | BIT(F_DEST_PORT) |
		     BIT(F_TCP_STATE) | BIT(F_DURATION_MS) |
		     BIT(F_BYTES_SENT) | BIT(F_BYTES_RECEIVED) |
		     BIT(F_SRC_LISTS);
	e->event_type = EVENT_SOCKET;
	e->sock_event = HDRLOG_SOCK_CLOSE;
	e->pid = 4242;
	strcpy(e->comm, "ssh");
	e->uid = 1000;
	e->ip_v = 4;
	memcpy(e->src_ip, src, 16);
	memcpy(e->dest_ip, dst, 16);
	e->ip_proto = 6;
	e->src_port = 40000;
	e->dest_port = 22;
	e->tcp_state = 7;	/* CLOSE */
	e->duration_ns = 5012250000ull;
	e->bytes_sent = 3120;
	e->bytes_received = 5100;
	e->n_src_lists = 1;
	e->src_lists[0] = lists_tor[0];
}

static const char *message(const struct event *e, field_mask fields)
{
	static char buf[512];
	size_t n = event_message(e, fields, buf, sizeof(buf));

	assert_int_equal(n, strlen(buf));
	return buf;
}

static void test_packet(void **state)
{
	struct event e;

	(void)state;
	tcp_syn(&e);
	assert_string_equal(message(&e, ALL),
		"TCP 203.0.113.7:51514 -> 198.51.100.1:22 [S] lists=spamhaus dropped on eth0");
	assert_int_equal(event_priority(&e), 4);
	assert_string_equal(event_message_id(&e), HDRLOG_MESSAGE_ID_PACKET);
}

static void test_ipv6_brackets(void **state)
{
	static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	struct event e;

	(void)state;
	tcp_syn(&e);
	e.present &= ~(BIT(F_TCP_FLAGS) | BIT(F_SRC_LISTS) | BIT(F_ACTION));
	e.ip_v = 6;
	e.ip_proto = 17;
	memcpy(e.src_ip, a, 16);
	memcpy(e.dest_ip, b, 16);
	e.src_port = 53;
	e.dest_port = 5353;
	e.dropped = false;
	assert_string_equal(message(&e, ALL),
		"UDP [2001:db8::1]:53 -> [2001:db8::2]:5353 on eth0");
	assert_int_equal(event_priority(&e), 6);
	/* without ports, no brackets: an address alone is unambiguous */
	assert_string_equal(message(&e, ALL & ~BIT(F_SRC_PORT) &
				       ~BIT(F_DEST_PORT)),
		"UDP 2001:db8::1 -> 2001:db8::2 on eth0");
}

static void test_fields_hide_parts(void **state)
{
	struct event e;

	(void)state;
	tcp_syn(&e);
	/* an address not selected is '?', the protocol falls back to IPvN */
	assert_string_equal(message(&e, BIT(F_DEST_IP) | BIT(F_DEST_PORT)),
		"IPv4 ? -> 198.51.100.1:22");
	/* a field selected but absent from the record is not shown either */
	e.present &= ~BIT(F_IN_IFACE);
	assert_string_equal(message(&e, ALL),
		"TCP 203.0.113.7:51514 -> 198.51.100.1:22 [S] lists=spamhaus dropped");
}

static void test_icmp_arp_frame(void **state)
{
	struct event e;

	(void)state;
	tcp_syn(&e);
	e.present &= ~(BIT(F_SRC_PORT) | BIT(F_DEST_PORT) | BIT(F_TCP_FLAGS) |
		       BIT(F_SRC_LISTS) | BIT(F_ACTION));
	e.present |= BIT(F_ICMP_TYPE) | BIT(F_ICMP_CODE);
	e.ip_proto = 1;
	e.icmp_type = 8;
	assert_string_equal(message(&e, ALL),
		"ICMP 203.0.113.7 -> 198.51.100.1 type 8 code 0 on eth0");

	memset(&e, 0, sizeof(e));
	e.present = BIT(F_EVENT_TYPE) | BIT(F_SRC_MAC) | BIT(F_DEST_MAC) |
		    BIT(F_ETHER_TYPE);
	memcpy(e.src_mac, "\x02\x00\x5e\x00\x53\x01", 6);
	memset(e.dest_mac, 0xff, 6);
	e.ether_type = 0x0806;
	assert_string_equal(message(&e, ALL),
		"ARP 02:00:5e:00:53:01 -> ff:ff:ff:ff:ff:ff");
	e.ether_type = 0x88cc;
	assert_string_equal(message(&e, ALL),
		"ether 02:00:5e:00:53:01 -> ff:ff:ff:ff:ff:ff type 0x88cc");

	memset(&e, 0, sizeof(e));
	e.present = BIT(F_EVENT_TYPE) | BIT(F_TRUNCATED);
	e.truncated = true;
	assert_string_equal(message(&e, ALL), "frame truncated");
}

static void test_socket(void **state)
{
	struct event e;

	(void)state;
	close_event(&e);
	assert_string_equal(message(&e, ALL),
		"close TCP 198.51.100.2:40000 -> 198.51.100.1:22 CLOSE by ssh[4242] uid 1000 sent 3120 received 5100 after 5012.250 ms lists=tor");
	assert_string_equal(event_message_id(&e), HDRLOG_MESSAGE_ID_SOCKET);
	assert_int_equal(event_priority(&e), 5);	/* a list hit */
	/* the event not selected: still told apart from a packet */
	assert_string_equal(message(&e, BIT(F_PROTO) | BIT(F_SRC_IP) |
					BIT(F_DEST_IP)),
		"socket TCP 198.51.100.2 -> 198.51.100.1");
}

/* A small buffer: cut, NUL-terminated inside it, length returned. */
static void test_size_bound(void **state)
{
	char buf[64];
	struct event e;

	(void)state;
	close_event(&e);
	for (size_t size = 0; size <= sizeof(buf); size++) {
		size_t n;

		memset(buf, 'x', sizeof(buf));
		n = event_message(&e, ALL, buf, size);
		if (!size) {
			assert_int_equal(n, 0);
			assert_int_equal(buf[0], 'x');	/* nothing written */
			continue;
		}
		assert_true(n < size);
		assert_int_equal(strlen(buf), n);
		assert_memory_equal(buf, "close TCP 198.51.100.2:40000", n < 28 ? n : 28);
		if (size < sizeof(buf))
			assert_int_equal(buf[size], 'x');	/* no overrun */
	}
}

static void test_priority(void **state)
{
	struct event e;

	(void)state;
	tcp_syn(&e);
	e.dropped = false;
	assert_int_equal(event_priority(&e), 5);
	e.present |= BIT(F_WOULD_DROP);
	e.would_drop = true;
	assert_int_equal(event_priority(&e), 4);
	e.present &= ~(BIT(F_WOULD_DROP) | BIT(F_SRC_LISTS));
	assert_int_equal(event_priority(&e), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet),
		cmocka_unit_test(test_ipv6_brackets),
		cmocka_unit_test(test_fields_hide_parts),
		cmocka_unit_test(test_icmp_arp_frame),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_priority),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
