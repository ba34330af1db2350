/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every formatter that can run without a socket or a file, on one event,
 * with the checks that hold whatever the event holds: JSON that parses
 * and has no raw control character, a message line within its buffer,
 * and syslog messages (RFC 5424 and 3164, each transport's framing) within
 * their size with no line break or NUL inside.
 *
 * syslog.c keeps its message builder static, behind the socket code, so
 * it is compiled into the harness; the fuzz build leaves formats/syslog.c
 * out of its link for that reason.
 */
#ifndef HDRLOG_FUZZ_FORMATTERS_H
#define HDRLOG_FUZZ_FORMATTERS_H

#include <stdlib.h>
#include <yajl/yajl_tree.h>

#include "../../formats/syslog.c"

static struct json_writer fz_json;
static struct syslog_sink *fz_syslog;
static char fz_buf[JSON_RECORD_MAX + 1];

static void formatters_init(void)
{
	stderr = fopen("/dev/null", "w");
	fz_syslog = calloc(1, sizeof(*fz_syslog));
	if (!fz_syslog || json_writer_init(&fz_json) ||
	    json_writer_init(&fz_syslog->w))
		abort();
}

static void check_json(const struct event *e, uint64_t mask)
{
	size_t n = json_writer_record(&fz_json, e, mask, fz_buf,
				      JSON_RECORD_MAX);
	yajl_val v;

	if (!n)
		return;		/* too long: counted by the outputs */
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

static void check_syslog(const struct event *e, uint64_t mask,
			 unsigned int knobs)
{
	static const enum transport transports[] = { T_UDP, T_TCP, T_UNIX };
	struct sink_config cfg = {
		.fields = mask,
		.syslog_format = knobs & 1 ? SYSLOG_RFC3164 : SYSLOG_RFC5424,
		.syslog_lf_framing = knobs & 2,
		.syslog_cee = knobs & 4,
	};
	struct sink s = { .target = "fuzz", .cfg = &cfg, .priv = fz_syslog };
	struct syslog_sink *x = fz_syslog;

	for (size_t t = 0; t < 3; t++) {
		size_t len, start = 0, end;

		x->transport = transports[t];
		x->sotype = x->transport == T_UDP ? SOCK_DGRAM : SOCK_STREAM;
		x->max_msg = x->transport == T_UDP ? SYSLOG_UDP_MAX :
						     SYSLOG_MSG_MAX;
		build_tail(&s, x);
		len = build_message(&s, e);
		if (len > sizeof(x->msg))
			abort();
		end = len;
		if (x->transport == T_TCP && !cfg.syslog_lf_framing) {
			/* "LEN " and exactly LEN bytes after it */
			size_t v = 0;

			while (start < len && x->msg[start] >= '0' &&
			       x->msg[start] <= '9')
				v = v * 10 + (x->msg[start++] - '0');
			if (start >= len || x->msg[start++] != ' ' ||
			    v != len - start)
				abort();
		} else if (x->transport != T_UDP) {
			end--;		/* the LF or NUL that ends it */
		}
		if (end - start > x->max_msg)
			abort();
		for (size_t i = start; i < end; i++)
			if (x->msg[i] == '\n' || x->msg[i] == '\0')
				abort();
	}
}

static void format_everything(const struct event *e, uint64_t mask,
			      unsigned int knobs)
{
	char text[FIELD_TEXT_MAX];

	/* field_text() is for the fields an event has, as outputs use it */
	for (int id = 0; id < F_COUNT; id++)
		for (unsigned int i = 0; event_has(e, id) && i <= MAX_LISTS; i++)
			if (field_text(e, id, i, text) < 0)
				break;
	check_json(e, mask);
	check_message(e, mask);
	check_syslog(e, mask, knobs);
}

#endif
