// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The syslog formatter byte by byte, without a socket or a receiver:
 * PRI, the RFC 5424 and RFC 3164 headers, structured data and its
 * escaping, RFC 6587 framing, cutting to the size limit, and hostile
 * bytes in every string that comes from outside hdrlog (list and
 * interface names, process names, the host name). And the JSON body it
 * carries: rendered once per record for every output that sends it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "fields.h"
#include "json.h"
#include "sink.h"
#include "syslog_fmt.h"

#define T0	(1710408413ULL * 1000000000ULL + 123456000ULL)
#define ALL	(~0ULL)

static struct syslog_fmt *fmt;
static char out[SYSLOG_MSG_MAX + SYSLOG_FRAME_EXTRA];

static void packet(struct event *e)
{
	memset(e, 0, sizeof(*e));
	e->present = FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_EVENT_TYPE) |
		     FIELD_BIT(F_IP_V) | FIELD_BIT(F_SRC_PORT);
	e->time_ns = T0;
	e->event_type = EVENT_PACKET;
	e->ip_v = 4;
	e->src_port = 4000;
}

static void lists(struct event *e, const char *const *names, int n)
{
	e->present |= FIELD_BIT(F_SRC_LISTS);
	for (int i = 0; i < n; i++)
		e->src_lists[i] = names[i];
	e->n_src_lists = n;
}

static size_t build(const struct event *e, const char *body,
		    enum syslog_framing fr, bool *cut)
{
	size_t n = syslog_fmt_message(fmt, e, body, body ? strlen(body) : 0,
				      fr, out, sizeof(out), cut);

	assert_true(n > 0 && n < sizeof(out));
	out[n] = '\0';	/* for the string asserts; NUL framing ends at n - 1 */
	return n;
}

static int setup(void **state)
{
	(void)state;
	fmt = calloc(1, sizeof(*fmt));
	setenv("TZ", "UTC", 1);
	return fmt ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(fmt);
	return 0;
}

static void rfc5424_header(void **state)
{
	struct event e;
	bool cut;

	(void)state;
	packet(&e);
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, ALL, SYSLOG_MSG_MAX,
			"host.example.org", 4242, false);
	build(&e, "{\"a\":1}", SYSLOG_FRAME_NONE, &cut);
	assert_string_equal(out,
		"<30>1 2024-03-14T09:26:53.123456Z host.example.org hdrlog 4242 packet "
		"[hdrlog@32473 timestamp=\"2024-03-14T09:26:53.123456Z\" event_type=\"packet\" ip_v=\"4\" src_port=\"4000\"] "
		"{\"a\":1}");
	assert_false(cut);

	/* Without fields in the mask: NILVALUE structured data. */
	syslog_fmt_init(fmt, SYSLOG_RFC5424, true, 0, SYSLOG_MSG_MAX,
			"h", 1, false);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_string_equal(out,
		"<30>1 2024-03-14T09:26:53.123456Z h hdrlog 1 packet - @cee:{}");
}

static void pri_from_priority(void **state)
{
	static const char *const one[] = { "tor" };
	struct event e;
	bool cut;

	(void)state;
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, 0, SYSLOG_MSG_MAX, "h", 1,
			false);
	packet(&e);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_memory_equal(out, "<30>1 ", 6);	/* daemon.info */
	lists(&e, one, 1);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_memory_equal(out, "<29>1 ", 6);	/* daemon.notice: a list hit */
	e.present |= FIELD_BIT(F_ACTION);
	e.dropped = true;
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_memory_equal(out, "<28>1 ", 6);	/* daemon.warning: dropped */
}

static void rfc3164_header(void **state)
{
	struct event e;
	bool cut;

	(void)state;
	packet(&e);
	/* Remote: the host name without its domain. */
	syslog_fmt_init(fmt, SYSLOG_RFC3164, false, ALL, SYSLOG_UDP_MAX,
			"host.example.org", 77, false);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_string_equal(out, "<30>Mar 14 09:26:53 host hdrlog[77]: {}");
	/* An address stays whole. */
	syslog_fmt_init(fmt, SYSLOG_RFC3164, true, ALL, SYSLOG_UDP_MAX,
			"198.51.100.7", 77, false);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_string_equal(out,
			    "<30>Mar 14 09:26:53 198.51.100.7 hdrlog[77]: @cee:{}");
	/* Local: no HOSTNAME, as syslog(3); day padded with a space. */
	e.time_ns = 1709280000ULL * 1000000000ULL;	/* 2024-03-01 08:00 */
	syslog_fmt_init(fmt, SYSLOG_RFC3164, false, ALL, SYSLOG_MSG_MAX,
			"host.example.org", 77, true);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_string_equal(out, "<30>Mar  1 08:00:00 hdrlog[77]: {}");
}

static void hostile_host_names(void **state)
{
	char longest[300];
	struct event e;
	bool cut;

	(void)state;
	packet(&e);
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, 0, SYSLOG_MSG_MAX,
			"a b\tc\n\x7f\xc3\xa9", 1, false);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_string_equal(out,
		"<30>1 2024-03-14T09:26:53.123456Z a-b-c---- hdrlog 1 packet - {}");
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, 0, SYSLOG_MSG_MAX, "", 1,
			false);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_non_null(strstr(out, "Z - hdrlog 1 packet "));
	/* A leading dot leaves no host for 3164: NILVALUE-like "-". */
	syslog_fmt_init(fmt, SYSLOG_RFC3164, false, 0, SYSLOG_MSG_MAX,
			".example", 1, false);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_string_equal(out, "<30>Mar 14 09:26:53 - hdrlog[1]: {}");
	/* The longest host name fits, and a message still does. */
	memset(longest, 'h', sizeof(longest));
	longest[sizeof(longest) - 1] = '\0';
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, ALL, SYSLOG_MSG_MIN,
			longest, 2147483647, false);
	assert_true(build(&e, "{}", SYSLOG_FRAME_NONE, &cut) <= SYSLOG_MSG_MIN);
	assert_non_null(strstr(out, " hdrlog 2147483647 packet "));
}

static void sd_escaping(void **state)
{
	static const char *const names[] = {
		"a\"b", "c\\d", "e]f", "g\nh\x01", "caf\xc3\xa9", "bad\xff\xfe",
	};
	struct event e;
	bool cut;

	(void)state;
	packet(&e);
	e.present = FIELD_BIT(F_SRC_LISTS) | FIELD_BIT(F_IN_IFACE) | FIELD_BIT(F_COMM);
	lists(&e, names, 6);
	e.in_iface = "h\"]\\N";
	strcpy(e.comm, "x y=\"z\"");
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, ALL, SYSLOG_MSG_MAX, "h", 1,
			false);
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	/* No event type: MSGID is the NILVALUE. Field order is the table's. */
	assert_string_equal(out,
		"<29>1 2024-03-14T09:26:53.123456Z h hdrlog 1 - [hdrlog@32473 "
		"in_iface=\"h\\\"\\]\\\\N\" comm=\"x y=\\\"z\\\"\" "
		"src_lists=\"a\\\"b,c\\\\d,e\\]f,g?h?,caf\xc3\xa9,bad??\"] {}");
	assert_false(cut);
}

static void hostile_msgid(void **state)
{
	struct event e;
	bool cut;

	(void)state;
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, 0, SYSLOG_MSG_MAX, "h", 1,
			false);
	packet(&e);
	e.event_type = (enum event_type)7;	/* no name: "?" */
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_non_null(strstr(out, " hdrlog 1 ? - {}"));
	e.event_type = EVENT_SOCKET;
	build(&e, "{}", SYSLOG_FRAME_NONE, &cut);
	assert_non_null(strstr(out, " hdrlog 1 socket - {}"));
}

static void framing(void **state)
{
	struct event e;
	size_t n, len;
	char *sp;
	bool cut;

	(void)state;
	packet(&e);
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, ALL, SYSLOG_MSG_MAX, "h", 1,
			false);
	/* Octet counting: MSG-LEN SP MSG, MSG-LEN the bytes that follow. */
	n = build(&e, "{\"x\":\"y\"}", SYSLOG_FRAME_OCTETS, &cut);
	sp = strchr(out, ' ');
	assert_non_null(sp);
	len = strtoul(out, NULL, 10);
	assert_int_equal(len, n - (size_t)(sp + 1 - out));
	assert_memory_equal(sp + 1, "<30>1 ", 6);
	assert_memory_equal(out + n - 9, "{\"x\":\"y\"}", 9);
	/* Non-transparent: LF after; a local stream: NUL after. */
	n = build(&e, "{}", SYSLOG_FRAME_LF, &cut);
	assert_int_equal(out[n - 1], '\n');
	assert_memory_equal(out, "<30>1 ", 6);
	assert_null(memchr(out, '\n', n - 1));
	n = build(&e, "{}", SYSLOG_FRAME_NUL, &cut);
	assert_int_equal(out[n - 1], '\0');
	assert_int_equal(strlen(out), n - 1);
}

static void cut_to_size(void **state)
{
	static char body[4000], names_buf[64][40];
	static const char *names[64];
	struct event e;
	size_t n, len;
	bool cut;

	(void)state;
	packet(&e);
	for (int i = 0; i < 64; i++) {
		snprintf(names_buf[i], sizeof(names_buf[i]), "list-%02d-%s", i,
			 "xxxxxxxxxx");
		names[i] = names_buf[i];
	}
	lists(&e, names, 64);
	syslog_fmt_init(fmt, SYSLOG_RFC5424, false, ALL, SYSLOG_UDP_MAX, "h", 1,
			false);

	/* Fits: SD and body whole. */
	build(&e, "{\"k\":\"v\"}", SYSLOG_FRAME_NONE, &cut);
	assert_false(cut);
	assert_non_null(strstr(out, "[hdrlog@32473 "));

	/* SD too long with the body: the SD goes first, the body stays whole. */
	memset(body, 'b', 1500);
	body[1500] = '\0';
	n = build(&e, body, SYSLOG_FRAME_NONE, &cut);
	assert_true(cut);
	assert_true(n <= SYSLOG_UDP_MAX);
	assert_non_null(strstr(out, " packet - bbbb"));
	assert_int_equal(strlen(strstr(out, " packet - ") + 10), 1500);

	/* Still too long: the body is cut at a character, to max_msg exactly. */
	for (int i = 0; i < 3000; i += 2)
		memcpy(body + i, "\xc3\xa9", 2);	/* é */
	body[3000] = '\0';
	n = build(&e, body, SYSLOG_FRAME_OCTETS, &cut);
	assert_true(cut);
	len = strtoul(out, NULL, 10);
	assert_true(len <= SYSLOG_UDP_MAX && len >= SYSLOG_UDP_MAX - 1);
	assert_int_equal((unsigned char)out[n - 1], 0xa9);	/* whole é */

	/* Below the RFC's floor max_msg is raised to 480. */
	syslog_fmt_init(fmt, SYSLOG_RFC3164, false, ALL, 10, "h", 1, false);
	n = build(&e, body, SYSLOG_FRAME_NONE, &cut);
	assert_true(cut && n <= SYSLOG_MSG_MIN && n >= SYSLOG_MSG_MIN - 1);

	/* No body: "{}", counted as cut; no room: nothing. */
	build(&e, NULL, SYSLOG_FRAME_NONE, &cut);
	assert_true(cut);
	assert_string_equal(out + strlen(out) - 4, ": {}");
	assert_int_equal(syslog_fmt_message(fmt, &e, "{}", 2, SYSLOG_FRAME_NONE,
					    out, SYSLOG_MSG_MIN, &cut), 0);
}

/* An output that sends the shared JSON rendering, as json and syslog do. */
static char seen[2][256];
static int n_seen;

static int fake_write(struct sink *s, const struct event *e)
{
	size_t len;
	const char *r = json_render(e, s->cfg->fields, &len);

	assert_true(len > 0 && len < sizeof(seen[0]));
	memcpy(seen[n_seen], r, len);
	seen[n_seen++][len] = '\0';
	/* what a later output would render differently if it rendered again */
	((struct event *)e)->src_port++;
	return 0;
}

static void json_rendered_once(void **state)
{
	static const struct sink_ops fake_ops = { .name = "fake",
						  .write = fake_write };
	struct sink_config cfg = { .fields = ALL };
	struct sink a = { .ops = &fake_ops, .cfg = &cfg }, b = a;
	struct sink *const sinks[] = { &a, &b };
	struct event e;
	size_t len;

	(void)state;
	assert_int_equal(json_render_get(&cfg), 0);
	assert_int_equal(json_render_get(&cfg), 0);
	packet(&e);
	sink_write_all(sinks, 2, &e);
	/* both outputs got the text made for the first */
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[0], seen[1]);
	assert_non_null(strstr(seen[0], "\"src_port\":4000"));
	assert_true(a.records == 1 && b.records == 1);

	/* The next record at the same address is rendered anew. */
	n_seen = 0;
	sink_write_all(sinks, 2, &e);
	assert_non_null(strstr(seen[0], "\"src_port\":4002"));
	assert_string_equal(seen[0], seen[1]);
	/* Outside sink_write_all() nothing is reused. */
	assert_non_null(strstr(json_render(&e, ALL, &len), "\"src_port\":4004"));
	json_render_put();
	json_render_put();
	assert_int_equal(json_render_users(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc5424_header),
		cmocka_unit_test(pri_from_priority),
		cmocka_unit_test(rfc3164_header),
		cmocka_unit_test(hostile_host_names),
		cmocka_unit_test(sd_escaping),
		cmocka_unit_test(hostile_msgid),
		cmocka_unit_test(framing),
		cmocka_unit_test(cut_to_size),
		cmocka_unit_test(json_rendered_once),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
