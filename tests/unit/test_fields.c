// SPDX-License-Identifier: GPL-2.0-or-later
/* The field table, value text, and the JSON lines built from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "event.h"
#include "fields.h"
#include "json.h"
#include "sink.h"

static const struct sink_config all_fields = {
	.fields = FIELD_MASK_ALL,
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	assert_int_equal(fread(buf, 1, n, f), n);
	fclose(f);
	return buf;
}

/* Every field is documented in the man page, in table order. */
static void test_man_page_documents_every_field(void **state)
{
	char *man = slurp(MAN_PAGE);
	const char *pos = strstr(man, ".SH RECORD FIELDS");

	(void)state;
	assert_non_null(pos);
	for (int i = 0; i < F_COUNT; i++) {
		char entry[64];

		snprintf(entry, sizeof(entry), ".TP\n.B %s\n", field_table[i].name);
		pos = strstr(pos, entry);
		if (!pos)
			fail_msg("man page lacks field %s (or has it out of order)",
				 field_table[i].name);
	}
	free(man);
}

/* Every field's ECS names are in the man page's ECS FIELD NAMES. */
static void test_man_page_documents_ecs_names(void **state)
{
	char *man = slurp(MAN_PAGE);
	char *pos = strstr(man, ".SH ECS FIELD NAMES");
	char *end;

	(void)state;
	assert_non_null(pos);
	end = strstr(pos + 1, "\n.SH ");
	assert_non_null(end);
	end[1] = '\0';
	for (int i = 0; i < F_COUNT; i++) {
		const struct field *f = &field_table[i];
		char entry[64], *next;

		snprintf(entry, sizeof(entry), ".TP\n.B %s\n", f->name);
		pos = strstr(pos, entry);
		if (!pos)
			fail_msg("ECS FIELD NAMES lacks %s (or out of order)",
				 f->name);
		pos += strlen(entry);
		next = strstr(pos, ".TP\n");
		if (next)
			*next = '\0';
		for (int k = 0; k < ECS_LEAVES_MAX && f->ecs[k].path; k++) {
			char b[96], br[96];

			snprintf(b, sizeof(b), ".B %s\n", f->ecs[k].path);
			snprintf(br, sizeof(br), ".BR %s :\n", f->ecs[k].path);
			if (!strstr(pos, b) && !strstr(pos, br))
				fail_msg("ECS FIELD NAMES: %s lacks %s", f->name,
					 f->ecs[k].path);
		}
		if (next)
			*next = '.';
	}
	free(man);
}

static void test_fields_parse(void **state)
{
	const char *bad;
	size_t bad_len;
	field_mask mask;

	(void)state;
	assert_int_equal(fields_parse("timestamp,src_ip,dest_port", &mask,
				      &bad, &bad_len), 0);
	assert_true(mask == (FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_SRC_IP) |
			 FIELD_BIT(F_DEST_PORT)));
	assert_int_equal(fields_parse("src_ip,nope,ttl", &mask, &bad, &bad_len), -1);
	assert_int_equal(bad_len, 4);
	assert_memory_equal(bad, "nope", 4);
	assert_int_equal(fields_parse("src_ip,", &mask, &bad, &bad_len), -1);
	assert_int_equal(fields_parse("src_i", &mask, &bad, &bad_len), -1);
}

static struct event sample_event(void)
{
	struct event e = {
		.present = FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_EVENT_TYPE) |
			   FIELD_BIT(F_IN_IFACE) | FIELD_BIT(F_SRC_MAC) |
			   FIELD_BIT(F_VLAN) | FIELD_BIT(F_SRC_IP) |
			   FIELD_BIT(F_DEST_IP) | FIELD_BIT(F_PROTO) |
			   FIELD_BIT(F_TCP_FLAGS) | FIELD_BIT(F_TCP_SEQ) |
			   FIELD_BIT(F_MORE_FRAGMENTS) | FIELD_BIT(F_TRUNCATED),
		.time_ns = 1795708862123456789ull,
		.event_type = EVENT_PACKET,
		.in_iface = "ve\"th0",
		.src_mac = { 0x02, 0xab, 0x00, 0x10, 0xff, 0x0e },
		.vlan = { 100, 4094 },
		.vlan_count = 2,
		.ip_v = 4,
		.src_ip = { 203, 0, 113, 7 },
		.dest_ip = { 198, 51, 100, 1 },
		.ip_proto = 6,
		.tcp_flags = 0x12,
		.tcp_seq = 4294967295u,
		.more_fragments = false,
		.truncated = true,
	};
	return e;
}

static void test_field_text(void **state)
{
	struct event e = sample_event();
	char t[FIELD_TEXT_MAX];

	(void)state;
	field_text(&e, F_SRC_MAC, 0, t);
	assert_string_equal(t, "02:ab:00:10:ff:0e");
	field_text(&e, F_SRC_IP, 0, t);
	assert_string_equal(t, "203.0.113.7");
	field_text(&e, F_TCP_FLAGS, 0, t);
	assert_string_equal(t, "12");
	field_text(&e, F_TCP_SEQ, 0, t);
	assert_string_equal(t, "4294967295");
	field_text(&e, F_PROTO, 0, t);
	assert_string_equal(t, "TCP");
	assert_int_equal(field_text(&e, F_VLAN, 1, t), 4);
	assert_string_equal(t, "4094");
	assert_int_equal(field_text(&e, F_VLAN, 2, t), -1);

	e.ip_v = 6;
	memset(e.src_ip, 0, 16);
	e.src_ip[0] = 0x20, e.src_ip[1] = 0x01, e.src_ip[2] = 0x0d;
	e.src_ip[3] = 0xb8, e.src_ip[15] = 1;
	field_text(&e, F_SRC_IP, 0, t);
	assert_string_equal(t, "2001:db8::1");
	e.ip_proto = 200;
	field_text(&e, F_PROTO, 0, t);
	assert_string_equal(t, "200");
}

/* uint_text() against printf at every length's edges. */
static void test_uint_text(void **state)
{
	char want[32], got[32];
	uint64_t p = 1;

	(void)state;
	for (int d = 0; d < 20; d++, p *= 10) {
		uint64_t v[] = { p - 1, p, p + 1, p * 5 + 37 };

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
			assert_int_equal(uint_text(v[i], got), strlen(want));
			assert_string_equal(got, want);
		}
	}
	assert_int_equal(uint_text(UINT64_MAX, got), 20);
	assert_string_equal(got, "18446744073709551615");
}

static void test_proto_names(void **state)
{
	(void)state;
	assert_string_equal(ip_proto_name(1), "ICMP");
	assert_string_equal(ip_proto_name(17), "UDP");
	assert_string_equal(ip_proto_name(47), "GRE");
	assert_string_equal(ip_proto_name(58), "IPv6-ICMP");
	assert_string_equal(ip_proto_name(132), "SCTP");
	assert_string_equal(ip_proto_name(136), "UDPLite");
	assert_null(ip_proto_name(61));
	assert_null(ip_proto_name(253));
}

/* A JSON line read back: types, escaping, omitted and selected fields. */
static void test_json_line(void **state)
{
	char path[] = "/tmp/hdrlog-test-json-XXXXXX";
	char spec[64], err[128];
	struct event e = sample_event();
	struct sink *s;
	yajl_val root, v;
	char *text;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(spec, sizeof(spec), "json:%s", path);
	s = sink_create(spec, &all_fields);
	assert_non_null(s);
	assert_int_equal(s->ops->write(s, &e), 0);
	e.present = FIELD_BIT(F_SRC_IP);
	assert_int_equal(s->ops->write(s, &e), 0);
	sink_destroy(s);

	text = slurp(path);
	unlink(path);
	char *nl = strchr(text, '\n');

	assert_non_null(nl);
	*nl = '\0';
	root = yajl_tree_parse(text, err, sizeof(err));
	assert_non_null(root);
	assert_string_equal(YAJL_GET_STRING(yajl_tree_get(root,
		(const char *[]){ "timestamp", NULL }, yajl_t_string)),
		"2026-11-26T16:01:02.123456Z");
	assert_string_equal(YAJL_GET_STRING(yajl_tree_get(root,
		(const char *[]){ "in_iface", NULL }, yajl_t_string)), "ve\"th0");
	v = yajl_tree_get(root, (const char *[]){ "vlan", NULL }, yajl_t_array);
	assert_non_null(v);
	assert_int_equal(YAJL_GET_ARRAY(v)->len, 2);
	assert_int_equal(YAJL_GET_INTEGER(YAJL_GET_ARRAY(v)->values[1]), 4094);
	v = yajl_tree_get(root, (const char *[]){ "tcp_seq", NULL }, yajl_t_number);
	assert_int_equal(YAJL_GET_INTEGER(v), 4294967295ll);
	assert_true(YAJL_IS_TRUE(yajl_tree_get(root,
		(const char *[]){ "truncated", NULL }, yajl_t_any)));
	assert_true(YAJL_IS_FALSE(yajl_tree_get(root,
		(const char *[]){ "more_fragments", NULL }, yajl_t_any)));
	assert_null(yajl_tree_get(root, (const char *[]){ "ttl", NULL }, yajl_t_any));
	yajl_tree_free(root);
	assert_string_equal(nl + 1, "{\"src_ip\":\"203.0.113.7\"}\n");
	free(text);
}

/*
 * Foreign text is escaped by yajl; valid UTF-8 passes, and in a string
 * that is not valid UTF-8 every non-ASCII byte becomes '?'.
 */
static void test_json_foreign_strings(void **state)
{
	char path[] = "/tmp/hdrlog-test-json-XXXXXX";
	char spec[64];
	struct event e = {
		.present = FIELD_BIT(F_IN_IFACE) | FIELD_BIT(F_SRC_LISTS),
		.in_iface = "a\\b\n\x01\xff\xc3\xa9",
		.n_src_lists = 2,
		.src_lists = { "bad-1", "tor.exits" },
	};
	struct sink *s;
	char *text;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(spec, sizeof(spec), "json:%s", path);
	s = sink_create(spec, &all_fields);
	assert_non_null(s);
	assert_int_equal(s->ops->write(s, &e), 0);
	e.present = FIELD_BIT(F_IN_IFACE);
	e.in_iface = "caf\xc3\xa9";
	assert_int_equal(s->ops->write(s, &e), 0);
	sink_destroy(s);
	text = slurp(path);
	unlink(path);
	assert_string_equal(text, "{\"in_iface\":\"a\\\\b\\n\\u0001???\","
			    "\"src_lists\":[\"bad-1\",\"tor.exits\"]}\n"
			    "{\"in_iface\":\"caf\xc3\xa9\"}\n");
	free(text);
}

/*
 * A writer made in memory that held something else (a stack writer, as
 * ecs_line()'s) keeps no renderings from it: json_writer_init() forgets
 * them, so an interface name is written as it is, not as the bytes there.
 */
static void test_json_writer_init_forgets(void **state)
{
	struct event e = {
		.present = FIELD_BIT(F_IN_IFACE),
		.in_iface = "lo",
	};
	struct json_writer w;
	char buf[256];
	size_t n;

	(void)state;
	memset(&w, 0, sizeof(w));
	memcpy(w.rendered[0].in, "lo", 2);
	w.rendered[0].in_len = 2;
	memcpy(w.rendered[0].out, "\"stale\"", 7);
	w.rendered[0].out_len = 7;
	assert_int_equal(json_writer_init(&w, SCHEMA_DEFAULT), 0);
	n = json_writer_record(&w, &e, FIELD_MASK_ALL, buf, sizeof(buf) - 1);
	json_writer_free(&w);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"in_iface\":\"lo\"}");
}

/* A failing write is counted, not fatal, and writing resumes after. */
static void test_json_write_error_counted(void **state)
{
	struct event e = { .present = FIELD_BIT(F_IFINDEX), .ifindex = 7 };
	struct sink *s = sink_create("json:/dev/full", &all_fields);

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 3; i++)
		assert_int_equal(s->ops->write(s, &e), 0);
	assert_true(s->ops->flush(s) < 0);
	assert_int_equal(s->failed, 3);
	assert_int_equal(s->written, 0);
	sink_destroy(s);
}

/* One record with the ECS writer, as text. */
static char *ecs_line(const struct event *e, field_mask mask)
{
	static char buf[JSON_RECORD_MAX + 1];
	struct json_writer w;
	size_t n;

	assert_int_equal(json_writer_init(&w, SCHEMA_ECS), 0);
	n = json_writer_record(&w, e, mask, buf, JSON_RECORD_MAX);
	json_writer_free(&w);
	assert_true(n > 0);
	buf[n] = '\0';
	return buf;
}

/*
 * ECS names nest: one object per prefix however the table orders the
 * fields, values in ECS's spelling, nothing for absent fields, and an
 * object only when a name in it is written.
 */
static void test_ecs_nesting(void **state)
{
	struct event e = sample_event();

	(void)state;
	e.present |= FIELD_BIT(F_DEST_PORT) | FIELD_BIT(F_SRC_PORT) |
		     FIELD_BIT(F_IFINDEX) | FIELD_BIT(F_DIRECTION) |
		     FIELD_BIT(F_ACTION) | FIELD_BIT(F_SRC_LISTS);
	e.src_port = 40000;
	e.dest_port = 443;
	e.ifindex = 7;
	e.direction = HDRLOG_DIR_INBOUND;
	e.dropped = true;
	e.n_src_lists = 1;
	e.src_lists[0] = "tor";
	assert_string_equal(ecs_line(&e, FIELD_MASK_ALL),
		"{\"@timestamp\":\"2026-11-26T16:01:02.123456Z\","
		"\"destination\":{\"ip\":\"198.51.100.1\",\"port\":443},"
		"\"ecs\":{\"version\":\"" ECS_VERSION "\"},"
		"\"event\":{\"action\":\"drop\",\"category\":[\"network\"],"
		"\"kind\":\"event\",\"type\":[\"connection\",\"denied\"]},"
		"\"hdrlog\":{\"event_type\":\"packet\",\"more_fragments\":false,"
		"\"src_lists\":[\"tor\"],\"tcp_flags\":\"12\","
		"\"tcp_seq\":4294967295,\"truncated\":true},"
		"\"network\":{\"direction\":\"ingress\","
		"\"inner\":{\"vlan\":{\"id\":\"4094\"}},"
		"\"transport\":\"tcp\",\"vlan\":{\"id\":\"100\"}},"
		"\"observer\":{\"ingress\":{\"interface\":{\"id\":\"7\","
		"\"name\":\"ve\\\"th0\"}}},"
		"\"source\":{\"ip\":\"203.0.113.7\",\"mac\":\"02-AB-00-10-FF-0E\","
		"\"port\":40000}}");
	/* only what --fields selects; ecs.version always (ECS requires it) */
	assert_string_equal(ecs_line(&e, FIELD_BIT(F_DEST_PORT)),
		"{\"destination\":{\"port\":443},"
		"\"ecs\":{\"version\":\"" ECS_VERSION "\"}}");
	/*
	 * event and action share event.action (a packet has no socket
	 * event): were both there, the first is written, once
	 */
	e.present = FIELD_BIT(F_EVENT) | FIELD_BIT(F_ACTION);
	e.sock_event = HDRLOG_SOCK_ACCEPT;
	assert_string_equal(ecs_line(&e, FIELD_MASK_ALL),
		"{\"ecs\":{\"version\":\"" ECS_VERSION "\"},"
		"\"event\":{\"action\":\"accept\"}}");
	e.present = FIELD_BIT(F_ACTION);
	assert_string_equal(ecs_line(&e, FIELD_MASK_ALL),
		"{\"ecs\":{\"version\":\"" ECS_VERSION "\"},"
		"\"event\":{\"action\":\"drop\"}}");
	/* an outgoing frame: its interface index under observer.egress */
	e.present = FIELD_BIT(F_IFINDEX) | FIELD_BIT(F_DIRECTION);
	e.direction = HDRLOG_DIR_OUTBOUND;
	assert_string_equal(ecs_line(&e, FIELD_MASK_ALL),
		"{\"ecs\":{\"version\":\"" ECS_VERSION "\"},"
		"\"network\":{\"direction\":\"egress\"},"
		"\"observer\":{\"egress\":{\"interface\":{\"id\":\"7\"}}}}");
}

/* A socket close: event.type end, event.action, the duration in ns. */
static void test_ecs_socket(void **state)
{
	struct event e = {
		.present = FIELD_BIT(F_EVENT_TYPE) | FIELD_BIT(F_EVENT) |
			   FIELD_BIT(F_PID) | FIELD_BIT(F_COMM) | FIELD_BIT(F_UID) |
			   FIELD_BIT(F_DURATION_MS) | FIELD_BIT(F_IP_V) |
			   FIELD_BIT(F_PROTO) | FIELD_BIT(F_IP_PROTO),
		.event_type = EVENT_SOCKET,
		.sock_event = HDRLOG_SOCK_CLOSE,
		.pid = 4242,
		.comm = "curl",
		.uid = 1000,
		.duration_ns = 1234567890,
		.ip_v = 6,
		.ip_proto = 58,
	};

	(void)state;
	assert_string_equal(ecs_line(&e, FIELD_MASK_ALL),
		"{\"ecs\":{\"version\":\"" ECS_VERSION "\"},"
		"\"event\":{\"action\":\"close\",\"category\":[\"network\"],"
		"\"duration\":1234567890,\"kind\":\"event\","
		"\"type\":[\"connection\",\"end\"]},"
		"\"hdrlog\":{\"event_type\":\"socket\"},"
		"\"network\":{\"iana_number\":\"58\",\"transport\":\"ipv6-icmp\","
		"\"type\":\"ipv6\"},"
		"\"process\":{\"name\":\"curl\",\"pid\":4242},"
		"\"user\":{\"id\":\"1000\"}}");
}

/* Every ECS name is a dotted path of lower-case words, or @timestamp. */
static void test_ecs_names(void **state)
{
	(void)state;
	for (int id = 0; id < F_COUNT; id++) {
		const struct field *f = &field_table[id];

		assert_non_null(f->ecs[0].path);
		for (int k = 0; k < ECS_LEAVES_MAX && f->ecs[k].path; k++) {
			const char *p = f->ecs[k].path;

			if (!strcmp(p, "@timestamp"))
				continue;
			assert_true(strspn(p, "abcdefghijklmnopqrstuvwxyz_.") ==
				    strlen(p));
			/* hdrlog's own: under hdrlog., with the field's name */
			if (!strncmp(p, "hdrlog.", 7))
				assert_string_equal(p + 7, f->name);
		}
	}
}

/* A flow record: "flow.x" and "tcp.x" names nested, whatever --fields keeps. */
static void test_json_flow_nesting(void **state)
{
	static char buf[JSON_RECORD_MAX];
	struct json_writer w;
	struct event e;
	size_t n;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.event_type = EVENT_FLOW;
	e.ip_proto = 6;
	e.flow.pkts_toserver = 3;
	e.flow.pkts_toclient = 2;
	e.flow.tcp_flags_toserver = 0x1b;
	e.flow.tcp_flags_toclient = 0x12;
	e.flow.reason = FLOW_END_FIN;
	e.present = FIELD_BIT(F_EVENT_TYPE) | FIELD_BIT(F_PROTO) |
		    FIELD_BIT(F_FLOW_PKTS_TOSERVER) | FIELD_BIT(F_FLOW_PKTS_TOCLIENT) |
		    FIELD_BIT(F_FLOW_REASON) | FIELD_BIT(F_FLOW_TCP_FLAGS) |
		    FIELD_BIT(F_FLOW_TCP_FLAGS_TS) | FIELD_BIT(F_FLOW_TCP_FLAGS_TC);
	assert_int_equal(json_writer_init(&w, SCHEMA_DEFAULT), 0);
	n = json_writer_record(&w, &e, ~0ull, buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf, "{\"event_type\":\"flow\",\"proto\":\"TCP\","
		"\"flow\":{\"pkts_toserver\":3,\"pkts_toclient\":2,"
		"\"reason\":\"fin\"},\"tcp\":{\"tcp_flags\":\"1b\","
		"\"tcp_flags_ts\":\"1b\",\"tcp_flags_tc\":\"12\"}}");
	/* an object first and last in the record */
	n = json_writer_record(&w, &e, FIELD_BIT(F_FLOW_PKTS_TOCLIENT), buf,
			       sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf, "{\"flow\":{\"pkts_toclient\":2}}");
	n = json_writer_record(&w, &e, FIELD_BIT(F_FLOW_REASON) |
			       FIELD_BIT(F_FLOW_TCP_FLAGS_TC), buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf, "{\"flow\":{\"reason\":\"fin\"},"
		"\"tcp\":{\"tcp_flags_tc\":\"12\"}}");
	json_writer_free(&w);
}

/*
 * A block record (issue 14): the alert and respond objects in the default
 * schema, past bit 63 of a mask; in ECS event.kind, both categories,
 * event.type denied and rule.name.
 */
static void test_respond_record(void **state)
{
	struct json_writer w;
	struct event e;
	char buf[1024];
	size_t n;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.event_type = EVENT_BLOCK;
	e.ip_v = 4;
	memcpy(e.src_ip, "\xcb\x00\x71\x07", 4);
	e.respond.policy = "syn-flood";
	e.respond.detector = DET_SYN;
	e.respond.prefix = 32;
	e.respond.value = 950;
	e.respond.threshold = 200;
	e.respond.ttl_s = 600;
	e.respond.result = RESULT_BLOCKED;
	e.present = FIELD_BIT(F_EVENT_TYPE) | FIELD_BIT(F_SRC_IP) |
		    FIELD_BIT(F_ALERT_SIGNATURE) | FIELD_BIT(F_RESPOND_DETECTOR) |
		    FIELD_BIT(F_RESPOND_VALUE) | FIELD_BIT(F_RESPOND_THRESHOLD) |
		    FIELD_BIT(F_RESPOND_PREFIX) | FIELD_BIT(F_RESPOND_TTL) |
		    FIELD_BIT(F_RESPOND_RESULT);
	assert_true(F_RESPOND_RESULT >= 64);
	assert_int_equal(json_writer_init(&w, SCHEMA_DEFAULT), 0);
	n = json_writer_record(&w, &e, FIELD_MASK_ALL, buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf, "{\"event_type\":\"block\","
		"\"src_ip\":\"203.0.113.7\",\"alert\":{\"signature\":\"syn-flood\"},"
		"\"respond\":{\"detector\":\"syn\",\"value\":950,"
		"\"threshold\":200,\"prefix\":32,\"ttl\":600,"
		"\"result\":\"blocked\"}}");
	/* --fields leaves out what it does not name, past bit 63 too */
	n = json_writer_record(&w, &e, FIELD_BIT(F_RESPOND_TTL), buf,
			       sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf, "{\"respond\":{\"ttl\":600}}");
	json_writer_free(&w);
	assert_non_null(strstr(ecs_line(&e, FIELD_MASK_ALL),
		"\"event\":{\"category\":[\"intrusion_detection\",\"network\"],"
		"\"kind\":\"event\",\"type\":[\"denied\"]}"));
	assert_non_null(strstr(ecs_line(&e, FIELD_MASK_ALL),
		"\"rule\":{\"name\":\"syn-flood\"}"));
	e.event_type = EVENT_ALERT;
	assert_non_null(strstr(ecs_line(&e, FIELD_MASK_ALL),
		"\"kind\":\"alert\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_man_page_documents_every_field),
		cmocka_unit_test(test_man_page_documents_ecs_names),
		cmocka_unit_test(test_fields_parse),
		cmocka_unit_test(test_field_text),
		cmocka_unit_test(test_uint_text),
		cmocka_unit_test(test_proto_names),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_json_flow_nesting),
		cmocka_unit_test(test_json_foreign_strings),
		cmocka_unit_test(test_json_writer_init_forgets),
		cmocka_unit_test(test_json_write_error_counted),
		cmocka_unit_test(test_ecs_nesting),
		cmocka_unit_test(test_ecs_socket),
		cmocka_unit_test(test_ecs_names),
		cmocka_unit_test(test_respond_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
