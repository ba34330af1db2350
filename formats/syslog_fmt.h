/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A record as one syslog message, RFC 5424 or RFC 3164, framed for its
 * transport (RFC 6587 for streams). Pure: no socket, no clock, no host
 * name lookup; what a message depends on is in struct syslog_fmt, so
 * every byte can be checked in a unit test (tests/unit/test_syslog.c).
 *
 * RFC 5424 (default):
 *   <PRI>1 TIMESTAMP HOSTNAME hdrlog PID MSGID [hdrlog@32473 k="v" ...] JSON
 * RFC 3164:
 *   <PRI>Mmm dd hh:mm:ss HOSTNAME hdrlog[PID]: JSON
 *
 * Facility: daemon (3). hdrlog is a system daemon; the local0-7 facilities
 * belong to each site's own policy, which a program should not pre-empt.
 * Receivers pick hdrlog's messages by APP-NAME/program name and MSGID
 * (the event type: packet or socket). Severity: event_priority().
 *
 * SD-ID: hdrlog@32473. 32473 is the example private enterprise number
 * that RFC 5612 reserves for documentation; hdrlog has no PEN of its own.
 *
 * A message longer than max_msg first loses its structured data (the JSON
 * body says the same), then the JSON is cut at a character boundary; the
 * caller counts such records as cut.
 */
#ifndef HDRLOG_SYSLOG_FMT_H
#define HDRLOG_SYSLOG_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

struct event;

#define SYSLOG_FACILITY		3	/* daemon */
#define SYSLOG_SD_ID		"hdrlog@32473"
#define SYSLOG_UDP_MAX		2048	/* RFC 5426: receivers SHOULD take 2048 */
#define SYSLOG_MSG_MAX		8192	/* rsyslog's default maxMessageSize */
#define SYSLOG_MSG_MIN		480	/* RFC 5424 6.1: every receiver takes it */
#define SYSLOG_SD_MAX		(24 * 1024)	/* 35 fields, 2 x 64 list names */
/* Framing around a message: "LEN SP" in front, LF or NUL behind. */
#define SYSLOG_FRAME_EXTRA	16

enum syslog_framing {
	SYSLOG_FRAME_NONE,	/* one message per datagram */
	SYSLOG_FRAME_OCTETS,	/* RFC 6587 3.4.1 octet counting: "LEN SP" */
	SYSLOG_FRAME_LF,	/* RFC 6587 3.4.2 non-transparent: LF after */
	SYSLOG_FRAME_NUL,	/* a local stream socket, as syslog(3) sends */
};

struct syslog_fmt {
	enum syslog_format format;
	bool cee;		/* "@cee:" before the JSON body */
	field_mask fields;	/* FIELD_BIT(enum field_id) for the SD */
	size_t max_msg;		/* longest message without framing */
	char tail[320];		/* " HOSTNAME hdrlog PID " or " HOSTNAME hdrlog[PID]: " */
	size_t tail_len;
	char sd[SYSLOG_SD_MAX];	/* scratch for the structured data */
};

/*
 * Fill in f. host is gethostname()'s answer (bytes that do not belong in
 * a HOSTNAME become '-'; RFC 3164 takes it without its domain); local:
 * RFC 3164 to a local daemon, which takes no HOSTNAME, as from syslog(3).
 * max_msg below SYSLOG_MSG_MIN is raised to it.
 */
void syslog_fmt_init(struct syslog_fmt *f, enum syslog_format format,
		     bool cee, field_mask fields, size_t max_msg,
		     const char *host, int pid, bool local);

/*
 * The message for e with body (its JSON record, body_len bytes; NULL or
 * empty: "{}", counted as cut) at out, framed. out must hold max_msg +
 * SYSLOG_FRAME_EXTRA bytes. Returns the framed length, or 0 if size is
 * too small; *cut says whether anything was left out.
 */
size_t syslog_fmt_message(struct syslog_fmt *f, const struct event *e,
			  const char *body, size_t body_len,
			  enum syslog_framing framing, char *out, size_t size,
			  bool *cut);

#endif
