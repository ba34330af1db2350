/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A record as one line a person reads, for journald's MESSAGE: a packet
 * tcpdump-like,
 *   TCP 203.0.113.7:51514 -> 198.51.100.1:22 [S] lists=spamhaus dropped
 * a socket event as what a process did,
 *   close TCP 198.51.100.2:40000 -> 198.51.100.1:22 CLOSE by ssh[4242] ...
 * and the severity and journal MESSAGE_ID that go with it. (syslog
 * messages carry the JSON record; RFC 5424's MSGID names the kind.)
 */
#ifndef HDRLOG_MESSAGE_H
#define HDRLOG_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

struct event;

/*
 * Only the fields in the mask (--fields) are shown. Writes at most size
 * bytes with the NUL; returns the length written.
 */
size_t event_message(const struct event *e, field_mask fields, char *buf,
		     size_t size);

/*
 * syslog severity: 4 (warning) for a dropped frame or one that would be,
 * 5 (notice) for a list hit, 6 (info) otherwise.
 */
int event_priority(const struct event *e);

/* journald MESSAGE_IDs (sd-id128), one per kind of record; hdrlog(8). */
#define HDRLOG_MESSAGE_ID_PACKET "5f1e2c9b0d8a4e63a7b4c1d2e3f40516"
#define HDRLOG_MESSAGE_ID_SOCKET "82e2240771a2428692829e4a6922dc1f"
#define HDRLOG_MESSAGE_ID_STATS "c3a9d4f0e6b84f2a9e1d7b5c8a604e21"
#define HDRLOG_MESSAGE_ID_FLOW "4b7e0f3a9c2d4e1f8a6b5c7d9e0f1a2b"
#define HDRLOG_MESSAGE_ID_RESPOND "9d3f6a1e07c54b28b6e2f4a8c1d05e73"	/* alert, block, unblock */

/* The MESSAGE_ID for e: HDRLOG_MESSAGE_ID_SOCKET or _PACKET. */
const char *event_message_id(const struct event *e);

#endif
