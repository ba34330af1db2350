/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every formatter that can run without a socket or a file, on one event,
 * with the checks that hold whatever the event holds: JSON that parses
 * and has no raw control character, a message line within its buffer,
 * and syslog messages (RFC 5424 and 3164, each transport's framing) within
 * their size with no line break or NUL inside.
 *
 * The syslog formatter (syslog_fmt.h) is pure, apart from the socket
 * code, so it is called here as the syslog output calls it.
 */
#ifndef HDRLOG_FUZZ_FORMATTERS_H
#define HDRLOG_FUZZ_FORMATTERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "event.h"
#include "json.h"
#include "message.h"
#include "syslog_fmt.h"

static struct json_writer fz_json;
static struct json_writer fz_ecs;	/* --schema ecs: nested objects */
static struct syslog_fmt *fz_syslog;
static char fz_buf[JSON_RECORD_MAX + 1];
static char fz_msg[SYSLOG_MSG_MAX + SYSLOG_FRAME_EXTRA];

static void formatters_init(void)
{
	stderr = fopen("/dev/null", "w");
	fz_syslog = calloc(1, sizeof(*fz_syslog));
	if (!fz_syslog || json_writer_init(&fz_json, SCHEMA_DEFAULT) ||
	    json_writer_init(&fz_ecs, SCHEMA_ECS))
		abort();
}

/* The JSON record of w in fz_buf; its length (0: it did not fit). */
static size_t check_json_of(struct json_writer *w, const struct event *e,
			    uint64_t mask)
{
	size_t n = json_writer_record(w, e, mask, fz_buf, JSON_RECORD_MAX);
	yajl_val v;

	if (!n)
		return 0;	/* too long: counted by the outputs */
	if (n > JSON_RECORD_MAX)
		abort();
	fz_buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)fz_buf[i] < 0x20)
			abort();
	v = yajl_tree_parse(fz_buf, NULL, 0);
	if (!v || !YAJL_IS_OBJECT(v))
		abort();
	yajl_tree_free(v);
	return n;
}

/* Both schemas' records; fz_buf keeps the default one's for syslog. */
static size_t check_json(const struct event *e, uint64_t mask)
{
	check_json_of(&fz_ecs, e, mask);
	return check_json_of(&fz_json, e, mask);
}

static void check_message(const struct event *e, uint64_t mask)
{
	static const size_t sizes[] = { 1, 2, 17, 80, 512, 4096 };
	char line[4096];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n;

		memset(line, 0x5a, sizeof(line));
		n = event_message(e, mask, line, sizes[i]);
		if (n >= sizes[i] || line[n] != '\0')
			abort();
	}
	if (event_priority(e) < 4 || event_priority(e) > 6)
		abort();
}

/* The body check_json() left in fz_buf, as every transport frames it. */
static void check_syslog(const struct event *e, uint64_t mask,
			 unsigned int knobs, size_t body_len)
{
	static const struct {
		enum syslog_framing framing;
		size_t max;
		bool local;
	} ways[] = {
		{ SYSLOG_FRAME_NONE, SYSLOG_UDP_MAX, false },	/* UDP */
		{ SYSLOG_FRAME_OCTETS, SYSLOG_MSG_MAX, false },	/* TCP */
		{ SYSLOG_FRAME_LF, SYSLOG_MSG_MAX, false },	/* TCP, LF */
		{ SYSLOG_FRAME_NUL, SYSLOG_MSG_MAX, true },	/* unix stream */
		{ SYSLOG_FRAME_NONE, SYSLOG_MSG_MAX, true },	/* unix dgram */
	};
	enum syslog_format format = knobs & 1 ? SYSLOG_RFC3164 : SYSLOG_RFC5424;

	for (size_t t = 0; t < sizeof(ways) / sizeof(ways[0]); t++) {
		size_t len, start = 0, end;
		bool cut;

		syslog_fmt_init(fz_syslog, format, knobs & 4, mask, ways[t].max,
				"fuzz.example", 4242, ways[t].local);
		len = syslog_fmt_message(fz_syslog, e, fz_buf, body_len,
					 ways[t].framing, fz_msg,
					 sizeof(fz_msg), &cut);
		if (!len || len > sizeof(fz_msg))
			abort();
		end = len;
		if (ways[t].framing == SYSLOG_FRAME_OCTETS) {
			/* "LEN " and exactly LEN bytes after it */
			size_t v = 0;

			while (start < len && fz_msg[start] >= '0' &&
			       fz_msg[start] <= '9')
				v = v * 10 + (fz_msg[start++] - '0');
			if (start >= len || fz_msg[start++] != ' ' ||
			    v != len - start)
				abort();
		} else if (ways[t].framing != SYSLOG_FRAME_NONE) {
			end--;		/* the LF or NUL that ends it */
		}
		if (end - start > ways[t].max)
			abort();
		for (size_t i = start; i < end; i++)
			if (fz_msg[i] == '\n' || fz_msg[i] == '\0')
				abort();
	}
}

static void format_everything(const struct event *e, uint64_t mask,
			      unsigned int knobs)
{
	char text[FIELD_TEXT_MAX];
	size_t body_len;

	/* field_text() is for the fields an event has, as outputs use it */
	for (int id = 0; id < F_COUNT; id++)
		for (unsigned int i = 0; event_has(e, id) && i <= MAX_LISTS; i++)
			if (field_text(e, id, i, text) < 0)
				break;
	body_len = check_json(e, mask);
	check_message(e, mask);
	check_syslog(e, mask, knobs, body_len);
}

#endif
