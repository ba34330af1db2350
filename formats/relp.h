/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Syslog messages over RELP (rsyslog's Reliable Event Logging Protocol)
 * through librelp: the receiver acknowledges every message, and what it
 * has not acknowledged when a connection breaks is sent again on the
 * next one. librelp's client blocks (connecting, waiting for
 * acknowledgements when its window is full), so a sender thread owns it;
 * the capture thread only formats and queues (bounded like the stream
 * transports, TRANSPORT_QUEUE_BYTES), and overflow is counted lost.
 *
 * Written: a record counts as written once hdrlog knows the receiver
 * acknowledged it. librelp tells nothing per acknowledgement, but keeps
 * at most RELP_WINDOW messages unacknowledged (one more after each
 * reconnect, see confirmed()): every record accepted longer ago than
 * that was acknowledged. So while running, written is up to a window
 * behind what the receiver has; a clean
 * close (librelp's "close" is answered after every earlier message)
 * confirms the rest. At a close that is not clean, the records librelp
 * still held unconfirmed are counted lost: some of them may have
 * arrived, and hdrlog cannot tell which. A receiver that dies after
 * keeping a message and before acknowledging it gets it again: RELP
 * delivers at least once.
 */
#ifndef HDRLOG_RELP_H
#define HDRLOG_RELP_H

#include <stdbool.h>
#include <stddef.h>

struct sink;
struct relp_out;

#define RELP_SCHEME		"relp://"
/* rsyslog's documentation and examples put imrelp on 2514 (no IANA port). */
#define RELP_DEFAULT_PORT	"2514"
/* librelp's own default window: messages sent and not yet acknowledged. */
#define RELP_WINDOW		128

/* Whether target ("relp://HOST[:PORT]") is a RELP one. */
bool relp_target(const char *target);
/*
 * Parse target, resolve its host and start the sender thread, which
 * connects (a receiver that is not there yet is not fatal). label
 * starts messages ("syslog"). 0, or a negative errno with a message.
 */
int relp_open(struct relp_out **r, struct sink *s, const char *target,
	      const char *label);
/* --check: parse and resolve as relp_open() would, connect nothing. */
int relp_check(const char *target, const char *label);
/* Queue one message (unframed: RELP frames it); counts overflow lost. */
void relp_send(struct relp_out *r, const char *msg, size_t len);
/* Move counts into the sink, say when a full queue drained. */
void relp_flush(struct relp_out *r);
/* SIGHUP: a receiver that is down is tried again at once. */
void relp_reopen(struct relp_out *r);
/*
 * A bounded wait for the queue and librelp's window, a clean close if
 * the receiver is there; the rest is counted lost, so that records =
 * written + failed.
 */
void relp_close(struct relp_out *r);

#endif
