/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages to a receiver over a socket, never blocking capture: a local
 * unix socket (datagram or stream, whichever the receiver made), UDP,
 * TCP, or TLS over TCP (RFC 5425). Any message output (syslog today)
 * formats a message and hands it here; how it gets there,
 * what is queued, reconnects and the counts of written and lost records
 * are the transport's.
 *
 * Datagrams go out with MSG_DONTWAIT and count as lost when the receiver's
 * queue is full or it is missing; a local datagram receiver that is only
 * busy gets a burst from the queue as it reads. Streams (TCP, or a unix
 * socket that is SOCK_STREAM) go through a bounded in-memory queue that
 * is sent from transport_send() and transport_flush() with non-blocking
 * sends; when the receiver goes away the queue keeps filling while the
 * transport reconnects with exponential back-off, and what does not fit
 * is counted lost. A message half sent when a connection breaks is sent
 * again whole on the next one (a receiver may keep the torn piece too; a
 * cut is better than a loss). What the kernel had taken when the receiver
 * died is gone unseen, as with any plain TCP syslog: the receiver's EOF is
 * looked for before each send to keep that small.
 *
 * TLS is a stream like TCP, with a handshake between connecting and up:
 * the same queue, back-off, messages and counts. The receiver's
 * certificate is verified (CA file or the system's store, and the host
 * name); one that fails is an outage like a refused connection, said
 * with the reason, and nothing is sent in clear.
 */
#ifndef HDRLOG_TRANSPORT_H
#define HDRLOG_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sink;
struct sink_config;
struct transport_tls;

#define TRANSPORT_QUEUE_BYTES	(4 * 1024 * 1024)
#define TRANSPORT_MAX_ADDRS	8

enum transport_kind { TRANSPORT_UNIX, TRANSPORT_UDP, TRANSPORT_TCP,
		      TRANSPORT_TLS };

/* What an output's TARGET means when parts are left out. */
struct transport_defaults {
	const char *label;	/* "syslog": starts every message */
	const char *path;	/* an empty TARGET: unix:path */
	const char *port;	/* udp:// or tcp:// without a port */
	const char *tls_port;	/* tls:// without a port */
	size_t min_msg;		/* smallest message: bounds the length FIFO */
	const char *usage;	/* what a bad target's message suggests;
				 * NULL: the syslog targets */
};

/* Framed messages waiting for the socket, oldest first. */
struct transport_queue {
	char *buf;
	size_t start;		/* first byte of the oldest message */
	size_t sent;		/* bytes of that message already sent */
	size_t end;
	uint32_t *lens;		/* framed length of each message, a ring */
	size_t lhead, lcount, lcap;
};

struct transport_addrs {
	struct sockaddr_storage a[TRANSPORT_MAX_ADDRS];
	socklen_t len[TRANSPORT_MAX_ADDRS];
	int n;
};

struct transport {
	struct sink *s;		/* counts written and lost records */
	const struct transport_defaults *def;
	char name[320];		/* the target, for messages */
	enum transport_kind kind;
	int sotype;		/* SOCK_DGRAM or SOCK_STREAM; 0 unknown yet */
	char host[256];
	char port[8];
	struct transport_addrs addrs;
	int next_addr;

	int fd;
	int state;		/* enum conn_state in transport.c */
	uint64_t retry_at, backoff, connect_deadline;
	struct transport_tls *tls;	/* TRANSPORT_TLS: credentials, session */
	bool reconnect;		/* SIGHUP: reconnect at the next message boundary */
	bool down;		/* an outage was reported; quiet until it heals */
	uint64_t failed_at_down;
	bool full;		/* the queue overflowed while connected */
	uint64_t failed_at_full;
	uint64_t refused_at;	/* UDP: last ICMP error, see transport_refused() */

	struct transport_queue q;
};

/*
 * Parse target ("unix:PATH", "udp://HOST[:PORT]", "tcp://HOST[:PORT]",
 * "tls://HOST[:PORT]", "" for unix:def->path), resolve it, read TLS
 * credentials (s->cfg's tls_*) and start connecting; a receiver that is
 * not there yet is not fatal. 0, or a negative errno with a message
 * (-EINVAL: a bad target or TLS file).
 */
int transport_open(struct transport *t, struct sink *s, const char *target,
		   const struct transport_defaults *def);
/*
 * --check: parse and resolve target as transport_open() would, connect
 * nothing. 0; 1 with a warning when a unix socket is not there (the
 * output would start and count records lost until it is); or a negative
 * errno with a message.
 */
int transport_check(const char *target, const struct sink_config *cfg,
		    const struct transport_defaults *def);
/*
 * HOST[:PORT] at hostport (what follows a target's scheme), parsed as
 * tcp:// takes it (def->port when there is none) and resolved: for an
 * output that connects through a library of its own (relp.h). host
 * takes 256 bytes, port 8. 0, or a negative errno with a message.
 */
int transport_host_port(const char *target, const char *hostport,
			const struct transport_defaults *def, char *host,
			char *port);
/*
 * Whether a message built now can go anywhere. A datagram transport with
 * no receiver tries again now and then and says no meanwhile: the record
 * is counted lost and need not be built. A stream always says yes (the
 * queue holds it) and tells its framing by transport_is_stream().
 */
bool transport_ready(struct transport *t);
bool transport_is_stream(const struct transport *t);
/* Send or queue one framed message; counts it written or lost. */
void transport_send(struct transport *t, const char *msg, size_t len);
/* Move the connection along and send what is queued; at least every 50 ms. */
void transport_flush(struct transport *t);
/*
 * SIGHUP: resolve again, reconnect at the next message boundary; TLS
 * reads its certificate files again (renewed ones; kept on failure).
 */
void transport_reopen(struct transport *t);
/* A bounded wait for the queue, then close; the rest is counted lost. */
void transport_close(struct transport *t);

/*
 * UDP to a port where nothing listens: the datagram leaves (send() says
 * so) and an ICMP port unreachable comes back, which the kernel keeps
 * only as the one error the next send() fails with. An output that counts
 * its losses (udp:// here, ipfix.c) has every ICMP error queued on the
 * socket instead, one per datagram that came back, and reads them here.
 */
/* Queue ICMP errors on fd, a UDP socket of family (IP_RECVERR). */
void transport_udp_recverr(int fd, int family);
/*
 * The next ICMP error queued on fd: true with the errno it stands for in
 * *err (ECONNREFUSED: port unreachable) and the start of the datagram
 * that came back (its UDP payload) in buf, *len bytes (at most *len on
 * entry; buf or len NULL: not wanted); false when none is left. Errors of
 * local origin are passed over: the send() that met one said so. Reading
 * one clears the socket's pending error too, so that the next send() does
 * not fail for a datagram already counted here.
 */
bool transport_icmp_error(int fd, int *err, void *buf, size_t *len);
/*
 * n records whose datagrams came back move from written to lost in s
 * (at most what it counted written), and err, the first ICMP error, is
 * said unless one was said in the last 50 s: *said_at keeps when (0:
 * never). what is lost, for the message: "datagrams", "flow records".
 */
void transport_refused(struct sink *s, const char *label, const char *name,
		       const char *what, uint64_t n, int err,
		       uint64_t *said_at);

#endif
