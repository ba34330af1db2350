// SPDX-License-Identifier: GPL-2.0-or-later
/* Non-blocking message transports: unix, UDP, TCP; see transport.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sink.h"
#include "transport.h"

#define SEND_BATCH		(64 * 1024)	/* send before flush past this */
#define BACKOFF_MIN_NS		100000000ull	/* 100 ms */
#define BACKOFF_MAX_NS		5000000000ull	/* 5 s */
#define CONNECT_TIMEOUT_NS	5000000000ull

enum conn_state { ST_DOWN, ST_CONNECTING, ST_UP };

/* --- target ----------------------------------------------------------- */

static int bad_target(const struct transport *t, const char *target,
		      const char *why)
{
	pr_err("bad %s target '%s': %s (use unix:PATH, udp://HOST[:PORT], tcp://HOST[:PORT] or relp://HOST[:PORT])",
	       t->def->label, target, why);
	return -EINVAL;
}

/* HOST[:PORT], [V6][:PORT] or a bare IPv6 literal. */
static int parse_hostport(struct transport *t, const char *target,
			  const char *p)
{
	const char *host = p, *port = NULL, *colon;
	size_t host_len;
	struct in6_addr a6;
	char tmp[256];

	if (*p == '[') {
		const char *close = strchr(p, ']');

		if (!close)
			return bad_target(t, target, "no ']' after the IPv6 address");
		host = p + 1;
		host_len = close - host;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return bad_target(t, target, "junk after ']'");
	} else if ((colon = strrchr(p, ':')) && strchr(p, ':') != colon) {
		/* Several colons: an IPv6 literal, perhaps with a port. */
		host_len = colon - p;
		if (host_len < sizeof(tmp)) {
			memcpy(tmp, p, host_len);
			tmp[host_len] = '\0';
		}
		if (host_len < sizeof(tmp) && inet_pton(AF_INET6, tmp, &a6) == 1)
			port = colon + 1;
		else if (inet_pton(AF_INET6, p, &a6) == 1)
			host_len = strlen(p);
		else
			return bad_target(t, target, "not an IPv6 address (put it in [] before a port)");
	} else if (colon) {
		host_len = colon - p;
		port = colon + 1;
	} else {
		host_len = strlen(p);
	}
	if (!host_len)
		return bad_target(t, target, "no host");
	if (host_len >= sizeof(t->host))
		return bad_target(t, target, "host name too long");
	memcpy(t->host, host, host_len);
	t->host[host_len] = '\0';
	if (!port) {
		snprintf(t->port, sizeof(t->port), "%s", t->def->port);
	} else {
		char *end;
		unsigned long v = strtoul(port, &end, 10);

		if (!*port || *end || v < 1 || v > 65535 || *port == '+' ||
		    *port == '-')
			return bad_target(t, target, "the port is a number from 1 to 65535");
		snprintf(t->port, sizeof(t->port), "%lu", v);
	}
	return 0;
}

/* The addresses of host:port into a, which is left alone on failure. */
static int resolve(struct transport *t, struct transport_addrs *a)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = t->kind == TRANSPORT_TCP ? SOCK_STREAM : SOCK_DGRAM,
		.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	int err, n = 0;

	err = getaddrinfo(t->host, t->port, &hints, &res);
	if (err == EAI_NONAME || err == EAI_ADDRFAMILY || err == EAI_NODATA) {
		/* AI_ADDRCONFIG hides ::1 and 127.0.0.1 without other addresses. */
		hints.ai_flags &= ~AI_ADDRCONFIG;
		err = getaddrinfo(t->host, t->port, &hints, &res);
	}
	if (err) {
		pr_err("%s %s: cannot resolve %s: %s", t->def->label, t->name,
		       t->host,
		       err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next)
		if (ai->ai_addrlen <= sizeof(a->a[0]) && n < TRANSPORT_MAX_ADDRS)
			n++;
	if (!n) {
		freeaddrinfo(res);
		pr_err("%s %s: %s has no usable address", t->def->label,
		       t->name, t->host);
		return -EHOSTUNREACH;
	}
	a->n = 0;
	for (ai = res; ai && a->n < TRANSPORT_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(a->a[0]))
			continue;
		memcpy(&a->a[a->n], ai->ai_addr, ai->ai_addrlen);
		a->len[a->n++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	t->next_addr = 0;
	return 0;
}

static int parse_target(struct transport *t, const char *target)
{
	if (!*target || !strncmp(target, "unix:", 5)) {
		const char *path = *target ? target + 5 : t->def->path;
		struct sockaddr_un *un = (struct sockaddr_un *)&t->addrs.a[0];

		if (!*path)
			return bad_target(t, target, "no socket path");
		if (strlen(path) >= sizeof(un->sun_path))
			return bad_target(t, target, "socket path too long");
		t->kind = TRANSPORT_UNIX;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		t->addrs.len[0] = sizeof(*un);
		t->addrs.n = 1;
		return 0;
	}
	if (!strncmp(target, "udp://", 6))
		t->kind = TRANSPORT_UDP;
	else if (!strncmp(target, "tcp://", 6))
		t->kind = TRANSPORT_TCP;
	else
		return bad_target(t, target, "unknown scheme");
	if (parse_hostport(t, target, target + 6))
		return -EINVAL;
	return resolve(t, &t->addrs);
}

/* --- queue ------------------------------------------------------------ */

static int queue_init(struct transport_queue *q, size_t min_msg)
{
	q->lcap = TRANSPORT_QUEUE_BYTES / (min_msg ? min_msg : 1);
	q->buf = malloc(TRANSPORT_QUEUE_BYTES);
	q->lens = malloc(q->lcap * sizeof(*q->lens));
	if (!q->buf || !q->lens)
		return -ENOMEM;
	return 0;
}

static void queue_free(struct transport_queue *q)
{
	free(q->buf);
	free(q->lens);
	q->buf = NULL;
	q->lens = NULL;
}

static bool queue_push(struct transport_queue *q, const char *m, size_t n)
{
	if (q->lcount == q->lcap || q->end - q->start + n > TRANSPORT_QUEUE_BYTES)
		return false;
	if (q->end + n > TRANSPORT_QUEUE_BYTES) {
		memmove(q->buf, q->buf + q->start, q->end - q->start);
		q->end -= q->start;
		q->start = 0;
	}
	memcpy(q->buf + q->end, m, n);
	q->end += n;
	q->lens[(q->lhead + q->lcount++) % q->lcap] = n;
	return true;
}

/* n more bytes went out; returns how many messages that completed. */
static uint64_t queue_sent(struct transport_queue *q, size_t n)
{
	uint64_t done = 0;

	q->sent += n;
	while (q->lcount && q->sent >= q->lens[q->lhead]) {
		q->sent -= q->lens[q->lhead];
		q->start += q->lens[q->lhead];
		q->lhead = (q->lhead + 1) % q->lcap;
		q->lcount--;
		done++;
	}
	if (!q->lcount)
		q->start = q->end = q->sent = 0;
	return done;
}

/* --- connections ------------------------------------------------------ */

static void close_fd(struct transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static void conn_up(struct transport *t)
{
	t->state = ST_UP;
	t->backoff = BACKOFF_MIN_NS;
	if (t->down)
		pr_info("%s %s: connected again; %llu records lost meanwhile",
			t->def->label, t->name,
			(unsigned long long)(t->s->failed - t->failed_at_down));
	t->down = false;
}

/* The connection broke or could not be made: try again later. */
static void conn_down(struct transport *t, int err, uint64_t now)
{
	close_fd(t);
	t->state = ST_DOWN;
	t->q.sent = 0;		/* a torn message goes again, whole */
	t->reconnect = false;
	t->retry_at = now + t->backoff;
	t->backoff = t->backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS
						     : t->backoff * 2;
	if (t->addrs.n > 1)
		t->next_addr = (t->next_addr + 1) % t->addrs.n;
	if (t->down)
		return;
	t->down = true;
	t->failed_at_down = t->s->failed;
	if (t->sotype == SOCK_STREAM)
		pr_warn("%s %s: %s; queueing records (up to %d MiB) and reconnecting",
			t->def->label, t->name, err ? strerror(err) :
			"the receiver closed the connection",
			TRANSPORT_QUEUE_BYTES >> 20);
	else
		pr_warn("%s %s: %s; counting lost records and retrying now and then",
			t->def->label, t->name, strerror(err));
}

/* Start a connection; a unix socket path tells its type by refusing one. */
static void conn_start(struct transport *t, uint64_t now)
{
	const struct sockaddr *sa = (struct sockaddr *)&t->addrs.a[t->next_addr];
	socklen_t len = t->addrs.len[t->next_addr];
	int type = t->kind == TRANSPORT_TCP ? SOCK_STREAM :
		   t->kind == TRANSPORT_UDP ? SOCK_DGRAM :
		   t->sotype ? t->sotype : SOCK_DGRAM;

	for (;;) {
		t->fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       0);
		if (t->fd < 0) {
			conn_down(t, errno, now);
			return;
		}
		if (!connect(t->fd, sa, len))
			break;
		if (errno == EINPROGRESS && type == SOCK_STREAM) {
			t->sotype = type;
			t->state = ST_CONNECTING;
			t->connect_deadline = now + CONNECT_TIMEOUT_NS;
			return;
		}
		if (errno == EPROTOTYPE && t->kind == TRANSPORT_UNIX &&
		    !t->sotype && type == SOCK_DGRAM) {
			close_fd(t);
			type = SOCK_STREAM;
			continue;
		}
		conn_down(t, errno, now);
		return;
	}
	t->sotype = type;
	if (t->kind == TRANSPORT_UDP) {
		int on = 1;

		if (sa->sa_family == AF_INET6)
			setsockopt(t->fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof(on));
		else
			setsockopt(t->fd, SOL_IP, IP_RECVERR, &on, sizeof(on));
	}
	conn_up(t);
}

static void conn_check(struct transport *t, uint64_t now)
{
	struct pollfd p = { .fd = t->fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, 0) <= 0) {
		if (now >= t->connect_deadline)
			conn_down(t, ETIMEDOUT, now);
		return;
	}
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		conn_down(t, err, now);
	else
		conn_up(t);
}

/*
 * A receiver that went away shows as EOF or an error before a send would
 * notice; a send to it would succeed and the data vanish.
 */
static int peer_gone(struct transport *t)
{
	struct pollfd p = { .fd = t->fd, .events = POLLIN | POLLRDHUP };
	char junk[512];
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & POLLERR) {
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		return err ? err : EPIPE;
	}
	for (;;) {	/* receivers send nothing; read what some do */
		ssize_t n = recv(t->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n == 0)
			return -1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		return errno;
	}
	return (p.revents & (POLLHUP | POLLRDHUP)) ? -1 : 0;
}

static void caught_up(struct transport *t)
{
	if (t->full && !t->q.lcount) {
		pr_info("%s %s: the receiver caught up; %llu records lost while the queue was full",
			t->def->label, t->name,
			(unsigned long long)(t->s->failed - t->failed_at_full));
		t->full = false;
	}
}

/* --- streams ---------------------------------------------------------- */

/* Move the connection along and send what the socket takes. */
static void stream_pump(struct transport *t)
{
	struct transport_queue *q = &t->q;
	uint64_t now = clock_mono_ns();
	int gone;

	if (t->state == ST_DOWN && now >= t->retry_at)
		conn_start(t, now);
	if (t->state == ST_CONNECTING)
		conn_check(t, now);
	if (t->state != ST_UP)
		return;
	gone = peer_gone(t);
	if (gone) {
		conn_down(t, gone > 0 ? gone : 0, now);
		return;
	}
	while (q->end > q->start + q->sent) {
		size_t want = q->end - q->start - q->sent;
		ssize_t n;

		/* SIGHUP: stop at a message boundary, then reconnect. */
		if (t->reconnect && q->lcount)
			want = q->lens[q->lhead] - q->sent;
		n = send(t->fd, q->buf + q->start + q->sent, want,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_down(t, n < 0 ? errno : EPIPE, now);
			return;
		}
		t->s->written += queue_sent(q, n);
		if (t->reconnect && !q->sent)
			break;
	}
	caught_up(t);
	if (t->reconnect && !q->sent) {
		close_fd(t);
		t->reconnect = false;
		t->state = ST_DOWN;
		t->retry_at = now;
		conn_start(t, now);
	}
}

/* The queue would not take a record: count it, say so once. */
static void queue_overflow(struct transport *t)
{
	t->s->failed++;
	if (t->state == ST_UP && !t->full && !t->down) {
		pr_warn("%s %s: the receiver does not keep up; queue full, counting lost records",
			t->def->label, t->name);
		t->full = true;
		t->failed_at_full = t->s->failed - 1;
	}
}

/* --- datagrams -------------------------------------------------------- */

/*
 * UDP to a closed port: the datagram leaves (send() says so) and an ICMP
 * port unreachable comes back. The kernel keeps only the last such error
 * for the next send() to fail with, so counting those would miss most;
 * with IP_RECVERR every ICMP error is queued on the socket, one per
 * datagram that came back, and each moves one record from written to
 * lost here. Read at every flush and when a send reports one. A datagram
 * dropped without an ICMP error (a firewall, ICMP rate limits on the far
 * host) stays counted as written: nothing tells hdrlog about it.
 */
static void udp_refusals(struct transport *t)
{
	struct sink *s = t->s;
	uint64_t refused = 0, now;
	int first_err = 0, err;
	socklen_t len = sizeof(err);

	if (t->kind != TRANSPORT_UDP || t->fd < 0)
		return;
	for (int i = 0; i < 4096; i++) {	/* bounded; the rest next time */
		char ctl[512];
		struct msghdr m = { .msg_control = ctl,
				    .msg_controllen = sizeof(ctl) };
		struct cmsghdr *c;

		if (recvmsg(t->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err ee;

			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee.ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;	/* local: the send said so */
			refused++;
			if (!first_err)
				first_err = ee.ee_errno;
		}
	}
	if (!refused)
		return;
	/* The error the next send() would fail with is one of these. */
	getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (refused > s->written)
		refused = s->written;
	s->written -= refused;
	s->failed += refused;
	now = clock_mono_ns();
	if (!t->refused_at || now - t->refused_at > 10 * BACKOFF_MAX_NS) {
		if (first_err == ECONNREFUSED)
			pr_warn("%s %s: nothing listens there (port unreachable); datagrams are lost until something does",
				t->def->label, t->name);
		else
			pr_warn("%s %s: %s (ICMP); datagrams are lost until it is reachable",
				t->def->label, t->name, strerror(first_err));
	}
	t->refused_at = now;
}

/* One datagram: 1 sent, 0 the local receiver's queue is full, -1 lost. */
static int dgram_send(struct transport *t, const char *m, size_t len)
{
	ssize_t n;

	for (int tries = 0;; tries++) {
		n = send(t->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			t->s->written++;
			return 1;
		}
		if (errno == EINTR)
			continue;
		/* UDP: an earlier datagram's ICMP error; this one did not go. */
		if (t->kind == TRANSPORT_UDP && errno == ECONNREFUSED && tries < 3) {
			udp_refusals(t);
			continue;
		}
		break;
	}
	if (t->kind == TRANSPORT_UNIX && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (t->kind == TRANSPORT_UDP || errno == EAGAIN ||
	    errno == EWOULDBLOCK || errno == ENOBUFS || errno == EMSGSIZE) {
		t->s->failed++;	/* the receiver is busy: this one is lost */
		return -1;
	}
	/*
	 * The local receiver went away. If it restarted, its new socket takes
	 * this message at once, and nobody needs to hear about it.
	 */
	close_fd(t);
	t->state = ST_DOWN;
	conn_start(t, clock_mono_ns());
	if (t->state == ST_UP && t->sotype == SOCK_DGRAM &&
	    send(t->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
		t->s->written++;
		return 1;
	}
	t->s->failed++;
	return -1;
}

/*
 * A local datagram receiver takes only net.unix.max_dgram_qlen messages
 * ahead of reading them (10 unless raised; systemd makes it 512): a burst
 * waits in the queue and goes out as the receiver reads.
 */
static void dgram_pump(struct transport *t)
{
	struct transport_queue *q = &t->q;

	while (q->lcount) {
		if (t->state != ST_UP) {
			t->s->failed += q->lcount;
			q->lcount = 0;
			queue_sent(q, 0);
			break;
		}
		if (!dgram_send(t, q->buf + q->start, q->lens[q->lhead]))
			break;
		queue_sent(q, q->lens[q->lhead]);
	}
	caught_up(t);
}

/* --- the interface ---------------------------------------------------- */

bool transport_is_stream(const struct transport *t)
{
	return t->sotype == SOCK_STREAM;
}

bool transport_ready(struct transport *t)
{
	/* Datagrams to a missing receiver: count, and try again now and then. */
	if (t->sotype != SOCK_STREAM && t->state != ST_UP) {
		uint64_t now = clock_mono_ns();

		if (now >= t->retry_at)
			conn_start(t, now);
		if (t->state != ST_UP && t->sotype != SOCK_STREAM) {
			t->s->failed++;
			return false;
		}
	}
	return true;
}

void transport_send(struct transport *t, const char *msg, size_t len)
{
	if (t->sotype == SOCK_STREAM) {
		if (!queue_push(&t->q, msg, len))
			queue_overflow(t);
		if (t->q.end - t->q.start >= SEND_BATCH)
			stream_pump(t);
		return;
	}
	if (t->q.lcount)
		dgram_pump(t);
	if (!t->q.lcount && dgram_send(t, msg, len))
		return;
	if (!queue_push(&t->q, msg, len))
		queue_overflow(t);
}

void transport_flush(struct transport *t)
{
	if (t->sotype == SOCK_STREAM)
		stream_pump(t);
	else if (t->q.lcount)
		dgram_pump(t);
	udp_refusals(t);
}

void transport_reopen(struct transport *t)
{
	uint64_t now = clock_mono_ns();

	if (t->kind != TRANSPORT_UNIX) {
		/* The name may point elsewhere now; the old stay on failure. */
		resolve(t, &t->addrs);
	}
	t->backoff = BACKOFF_MIN_NS;
	if (t->sotype == SOCK_STREAM && t->state == ST_UP) {
		/* Let the message being sent finish first: no torn frame. */
		t->reconnect = true;
		stream_pump(t);
		return;
	}
	udp_refusals(t);	/* the old socket's, before it goes */
	close_fd(t);
	t->state = ST_DOWN;
	t->q.sent = 0;
	t->retry_at = now;
	conn_start(t, now);
}

/* Bounded wait for the stream queue to drain, at exit. */
static void drain(struct transport *t, uint64_t budget_ns)
{
	uint64_t deadline = clock_mono_ns() + budget_ns;

	while (t->q.lcount && t->state != ST_DOWN &&
	       clock_mono_ns() < deadline) {
		struct pollfd p = { .fd = t->fd, .events = POLLOUT };

		transport_flush(t);
		if (!t->q.lcount || t->state == ST_DOWN)
			break;
		poll(&p, 1, 50);
	}
}

void transport_close(struct transport *t)
{
	if (t->q.lcount) {
		drain(t, 1000000000ull);
		/* Counted as lost: the summary, printed after close, says so. */
		t->s->failed += t->q.lcount;
		t->q.lcount = 0;
	}
	udp_refusals(t);	/* what came back meanwhile */
	close_fd(t);
	queue_free(&t->q);
}

static void set_target(struct transport *t, const char *target,
		       const struct transport_defaults *def)
{
	memset(t, 0, sizeof(*t));
	t->def = def;
	t->fd = -1;
	if (*target)
		snprintf(t->name, sizeof(t->name), "%s", target);
	else
		snprintf(t->name, sizeof(t->name), "unix:%s", def->path);
}

int transport_check(const char *target, const struct transport_defaults *def)
{
	struct transport t;
	struct sockaddr_un *un = (struct sockaddr_un *)&t.addrs.a[0];
	struct stat st;
	int err;

	set_target(&t, target, def);
	err = parse_target(&t, target);
	if (err || t.kind != TRANSPORT_UNIX)
		return err;
	if (!stat(un->sun_path, &st) && S_ISSOCK(st.st_mode))
		return 0;
	pr_warn("%s %s: no socket at %s yet: records would be counted lost until a receiver makes it",
		def->label, t.name, un->sun_path);
	return 1;
}

int transport_host_port(const char *target, const char *hostport,
			const struct transport_defaults *def, char *host,
			char *port)
{
	struct transport t;
	int err;

	set_target(&t, target, def);
	t.kind = TRANSPORT_TCP;
	err = parse_hostport(&t, target, hostport);
	if (!err)
		err = resolve(&t, &t.addrs);
	if (err)
		return err;
	memcpy(host, t.host, sizeof(t.host));
	memcpy(port, t.port, sizeof(t.port));
	return 0;
}

int transport_open(struct transport *t, struct sink *s, const char *target,
		   const struct transport_defaults *def)
{
	int err;

	set_target(t, target, def);
	t->s = s;
	err = parse_target(t, target);
	if (!err)
		err = queue_init(&t->q, def->min_msg);
	if (err) {
		if (err == -ENOMEM)
			pr_err("out of memory");
		queue_free(&t->q);
		return err;
	}
	t->sotype = t->kind == TRANSPORT_TCP ? SOCK_STREAM :
		    t->kind == TRANSPORT_UDP ? SOCK_DGRAM : 0;
	t->backoff = BACKOFF_MIN_NS;
	/* A receiver that is not there yet is not fatal: retried later. */
	conn_start(t, clock_mono_ns());
	if (t->state == ST_CONNECTING) {
		struct pollfd p = { .fd = t->fd, .events = POLLOUT };

		poll(&p, 1, 1000);	/* a moment, so the first records go at once */
		conn_check(t, clock_mono_ns());
	}
	return 0;
}
