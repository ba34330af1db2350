/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A record as one line a person reads, tcpdump-like, for journald's
 * MESSAGE and syslog's RFC 3164 text:
 *   TCP 203.0.113.7:51514 -> 198.51.100.1:22 [S] lists=spamhaus dropped
 * and the severity that goes with it.
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
size_t event_message(const struct event *e, uint64_t fields, char *buf,
		     size_t size);

/*
 * syslog severity: 4 (warning) for a dropped frame or one that would be,
 * 5 (notice) for a list hit, 6 (info) otherwise.
 */
int event_priority(const struct event *e);

/* journald MESSAGE_ID of packet records (sd-id128, documented in hdrlog(8)). */
#define HDRLOG_MESSAGE_ID_PACKET "5f1e2c9b0d8a4e63a7b4c1d2e3f40516"

#endif
