// SPDX-License-Identifier: GPL-2.0-or-later
/* Non-blocking message transports: unix, UDP, TCP, TLS; see transport.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
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
#define HANDSHAKE_TIMEOUT_NS	10000000000ull
#define VERDICT_NS		1000000000ull	/* see tls_verdict() */
#define REFUSED_QUIET_NS	50000000000ull	/* see transport_refused() */

enum conn_state { ST_DOWN, ST_CONNECTING, ST_HANDSHAKE, ST_VERDICT, ST_UP };

/*
 * TLS through GnuTLS rather than OpenSSL: on Debian libgnutls30 is on
 * every system already (apt depends on it), so TLS adds no library to a
 * host; rsyslog's usual TLS driver (gtls) is GnuTLS too, so the tests'
 * receiver and hdrlog use one library's behaviour at both ends; and it
 * checks the receiver's name within the handshake
 * (gnutls_session_set_verify_cert) and says why a certificate failed in
 * words (gnutls_certificate_verification_status_print). OpenSSL would do
 * the same job in about as much code (X509_VERIFY_PARAM_set1_host,
 * X509_verify_cert_error_string) and is the more widely used library
 * (syslog-ng, Fluent Bit and librdkafka use it, so a host with a Kafka
 * output has libssl3 anyway); a minimal Debian has no libssl3.
 */
struct transport_tls {
	gnutls_certificate_credentials_t cred;
	gnutls_certificate_credentials_t next_cred;	/* SIGHUP's, for the next session */
	gnutls_session_t session;
	char name[256];		/* checked against the certificate */
	bool sni;		/* name is a DNS name: sent as SNI */
	bool send_pending;	/* a record send said AGAIN: finish it first */
	bool reported;		/* a TLS failure was said in this outage */
	uint64_t deadline;	/* of the handshake, or the verdict */
};

/* --- target ----------------------------------------------------------- */

static int bad_target(const struct transport *t, const char *target,
		      const char *why)
{
	pr_err("bad %s target '%s': %s (use %s)", t->def->label, target, why,
	       t->def->usage ? t->def->usage :
	       "unix:PATH, udp://HOST[:PORT], tcp://HOST[:PORT], tls://HOST[:PORT] or relp://HOST[:PORT]");
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
		snprintf(t->port, sizeof(t->port), "%s",
			 t->kind == TRANSPORT_TLS ? t->def->tls_port : t->def->port);
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
		.ai_socktype = t->kind == TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM,
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
	else if (!strncmp(target, "tls://", 6))
		t->kind = TRANSPORT_TLS;
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

/* --- TLS credentials -------------------------------------------------- */

/* A file TLS needs, readable now: else say which and why. */
static int tls_file_readable(const char *label, const char *name,
			     const char *option, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = errno;

	if (fd < 0) {
		pr_err("%s %s: %s %s: %s", label, name, option, path,
		       strerror(err));
		return -err;
	}
	close(fd);
	return 0;
}

/*
 * Fresh credentials from cfg: the CAs that may sign the receiver's
 * certificate (--tls-ca, else the system's store) and perhaps a client
 * certificate with its key. 0, or -EINVAL with the reason said.
 */
static int tls_load(const struct sink_config *cfg, const char *label,
		    const char *name, gnutls_certificate_credentials_t *out)
{
	const char *key = cfg->tls_key ? cfg->tls_key : cfg->tls_cert;
	gnutls_certificate_credentials_t c;
	int r;

	if ((cfg->tls_ca &&
	     tls_file_readable(label, name, "--tls-ca", cfg->tls_ca)) ||
	    (cfg->tls_cert &&
	     tls_file_readable(label, name, "--tls-cert", cfg->tls_cert)) ||
	    (cfg->tls_key &&
	     tls_file_readable(label, name, "--tls-key", cfg->tls_key)))
		return -EINVAL;
	r = gnutls_certificate_allocate_credentials(&c);
	if (r < 0) {
		pr_err("%s %s: %s", label, name, gnutls_strerror(r));
		return -ENOMEM;
	}
	if (cfg->tls_ca) {
		r = gnutls_certificate_set_x509_trust_file(c, cfg->tls_ca,
							   GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			pr_err("%s %s: --tls-ca %s: %s", label, name,
			       cfg->tls_ca, r ? gnutls_strerror(r) :
			       "no PEM certificate in it");
			goto fail;
		}
	} else {
		r = gnutls_certificate_set_x509_system_trust(c);
		if (r <= 0) {
			pr_err("%s %s: the system's CA store: %s; name the receiver's CA with --tls-ca",
			       label, name, r ? gnutls_strerror(r) :
			       "no certificates in it");
			goto fail;
		}
	}
	if (cfg->tls_cert) {
		r = gnutls_certificate_set_x509_key_file(c, cfg->tls_cert, key,
							 GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			pr_err("%s %s: --tls-cert %s with its key in %s%s: %s",
			       label, name, cfg->tls_cert, key,
			       cfg->tls_key ? "" : " (--tls-key names another file)",
			       gnutls_strerror(r));
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	gnutls_certificate_free_credentials(c);
	return -EINVAL;
}

static int tls_init(struct transport *t, const struct sink_config *cfg)
{
	struct transport_tls *x = calloc(1, sizeof(*x));
	struct in6_addr a;
	const char *name = cfg->tls_server_name ? cfg->tls_server_name
						: t->host;

	if (!x) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	t->tls = x;
	if (strlen(name) >= sizeof(x->name)) {
		pr_err("%s %s: --tls-server-name is too long", t->def->label,
		       t->name);
		return -EINVAL;
	}
	strcpy(x->name, name);
	/* RFC 6066: no address literals in SNI; gnutls checks IP SANs. */
	x->sni = inet_pton(AF_INET, name, &a) != 1 &&
		 inet_pton(AF_INET6, name, &a) != 1;
	return tls_load(cfg, t->def->label, t->name, &x->cred);
}

static void tls_free(struct transport *t)
{
	struct transport_tls *x = t->tls;

	if (!x)
		return;
	if (x->session)
		gnutls_deinit(x->session);
	if (x->cred)
		gnutls_certificate_free_credentials(x->cred);
	if (x->next_cred)
		gnutls_certificate_free_credentials(x->next_cred);
	free(x);
	t->tls = NULL;
}

/* --- connections ------------------------------------------------------ */

static void close_fd(struct transport *t)
{
	if (t->tls && t->tls->session) {
		gnutls_deinit(t->tls->session);
		t->tls->session = NULL;
		t->tls->send_pending = false;
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

/*
 * A clean end: TLS says close_notify first (non-blocking, best effort),
 * so the receiver logs no truncation.
 */
static void close_clean(struct transport *t)
{
	if (t->tls && t->tls->session && t->state == ST_UP &&
	    !t->tls->send_pending)
		gnutls_bye(t->tls->session, GNUTLS_SHUT_WR);
	close_fd(t);
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
	if (t->tls && t->tls->session) {
		char *desc = gnutls_session_get_desc(t->tls->session);

		t->tls->reported = false;
		pr_debug("%s %s: TLS session %s", t->def->label, t->name,
			 desc ? desc : "");
		gnutls_free(desc);
	}
}

/*
 * The connection broke or could not be made: try again later. An outage
 * is said once; a TLS failure too within one (it is what needs fixing,
 * and may follow a refused connection that was said first).
 */
static void conn_fail(struct transport *t, const char *why, bool tls_failure,
		      uint64_t now)
{
	bool say = !t->down || (tls_failure && !t->tls->reported);

	close_fd(t);
	t->state = ST_DOWN;
	t->q.sent = 0;		/* a torn message goes again, whole */
	t->reconnect = false;
	t->retry_at = now + t->backoff;
	t->backoff = t->backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS
						     : t->backoff * 2;
	if (t->addrs.n > 1)
		t->next_addr = (t->next_addr + 1) % t->addrs.n;
	if (tls_failure)
		t->tls->reported = true;
	if (!say)
		return;
	if (!t->down)
		t->failed_at_down = t->s->failed;
	t->down = true;
	if (t->sotype == SOCK_STREAM)
		pr_warn("%s %s: %s; queueing records (up to %d MiB) and reconnecting",
			t->def->label, t->name, why, TRANSPORT_QUEUE_BYTES >> 20);
	else
		pr_warn("%s %s: %s; counting lost records and retrying now and then",
			t->def->label, t->name, why);
}

static void conn_down(struct transport *t, int err, uint64_t now)
{
	conn_fail(t, err ? strerror(err) : "the receiver closed the connection",
		  false, now);
}

/*
 * gnutls's error, or the socket's when that is what failed (errno is
 * still send()'s or recv()'s then): a reset is a reset, not a TLS fault.
 */
static void tls_fail(struct transport *t, const char *what, int r,
		     uint64_t now)
{
	bool io = r == GNUTLS_E_PUSH_ERROR || r == GNUTLS_E_PULL_ERROR;
	char why[256];

	snprintf(why, sizeof(why), "TLS %s: %s", what,
		 io ? strerror(errno ? errno : EPIPE) : gnutls_strerror(r));
	conn_fail(t, why, !io || t->state == ST_HANDSHAKE ||
			   t->state == ST_VERDICT, now);
}

/* Connected: TLS starts its handshake, the rest are up. */
static void tls_handshake(struct transport *t, uint64_t now);

static void conn_connected(struct transport *t, uint64_t now)
{
	struct transport_tls *x = t->tls;
	int r;

	if (t->kind != TRANSPORT_TLS) {
		conn_up(t);
		return;
	}
	if (x->next_cred) {	/* no session uses the old ones now */
		gnutls_certificate_free_credentials(x->cred);
		x->cred = x->next_cred;
		x->next_cred = NULL;
	}
	/* NO_SIGNAL: MSG_NOSIGNAL, a receiver gone is no SIGPIPE. */
	r = gnutls_init(&x->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
				     GNUTLS_NO_SIGNAL);
	if (r < 0) {
		x->session = NULL;
		tls_fail(t, "session", r, now);
		return;
	}
	/* The system's policy, less what RFC 8996 retired. */
	r = gnutls_set_default_priority_append(x->session,
					       "-VERS-TLS1.1:-VERS-TLS1.0",
					       NULL, 0);
	if (!r)
		r = gnutls_credentials_set(x->session, GNUTLS_CRD_CERTIFICATE,
					   x->cred);
	if (!r && x->sni)
		r = gnutls_server_name_set(x->session, GNUTLS_NAME_DNS,
					   x->name, strlen(x->name));
	if (r) {
		tls_fail(t, "session", r, now);
		return;
	}
	/* The chain against the CAs and the certificate against the name. */
	gnutls_session_set_verify_cert(x->session, x->name, 0);
	gnutls_transport_set_int(x->session, t->fd);
	t->state = ST_HANDSHAKE;
	x->deadline = now + HANDSHAKE_TIMEOUT_NS;
	tls_handshake(t, now);
}

/*
 * A receiver that asked for a client certificate may refuse it (or its
 * absence) only after the client's handshake is done: TLS 1.3 ends the
 * client's side before the receiver has checked it, and a receiver such
 * as rsyslog checks names or fingerprints itself after the handshake,
 * in any version. It says so an RTT later, with an alert or by closing.
 * Records sent meanwhile would be counted written and be lost, and a
 * receiver that refuses every time would be reconnected to at once, again
 * and again. So its word comes first: VERDICT_NS without a refusal (a
 * session ticket is no proof: rsyslog's own check comes after it).
 * Records wait in the queue meanwhile.
 */
static void tls_verdict(struct transport *t, uint64_t now)
{
	struct transport_tls *x = t->tls;
	char junk[512], why[256];
	ssize_t n = 0;

	for (int i = 0; i < 64; i++) {	/* bounded; the rest next time */
		n = gnutls_record_recv(x->session, junk, sizeof(junk));
		if (n > 0 || n == GNUTLS_E_INTERRUPTED ||
		    (n < 0 && n != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(n)))
			continue;
		break;
	}
	if (n == GNUTLS_E_AGAIN || n > 0) {
		if (now >= x->deadline) {
			pr_debug("%s %s: the receiver asked for a client certificate, and did not refuse it within a second",
				 t->def->label, t->name);
			conn_up(t);
		}
		return;
	}
	snprintf(why, sizeof(why), "TLS: the receiver %s%s after the handshake: %s",
		 n == GNUTLS_E_FATAL_ALERT_RECEIVED ? "refused the session, alert " :
		 "closed the connection",
		 n == GNUTLS_E_FATAL_ALERT_RECEIVED ?
		 gnutls_alert_get_name(gnutls_alert_get(x->session)) : "",
		 t->s->cfg->tls_cert ? "it did not take the client certificate" :
		 "it wants a client certificate (--tls-cert)");
	conn_fail(t, why, true, now);
}

static void tls_handshake(struct transport *t, uint64_t now)
{
	struct transport_tls *x = t->tls;
	gnutls_datum_t text;
	char why[512];
	int r;

	do
		r = gnutls_handshake(x->session);
	while (r == GNUTLS_E_INTERRUPTED);
	if (!r) {
		if (gnutls_certificate_client_get_request_status(x->session)) {
			t->state = ST_VERDICT;
			x->deadline = now + VERDICT_NS;
			tls_verdict(t, now);
			return;
		}
		conn_up(t);
		return;
	}
	if (r == GNUTLS_E_AGAIN || !gnutls_error_is_fatal(r)) {
		if (now >= x->deadline)
			conn_fail(t, "TLS handshake: the receiver did not finish it in time",
				  true, now);
		return;
	}
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
	    !gnutls_certificate_verification_status_print(
			gnutls_session_get_verify_cert_status(x->session),
			GNUTLS_CRT_X509, &text, 0)) {
		int n = snprintf(why, sizeof(why),
				 "TLS: the receiver's certificate for '%s' fails verification: %s",
				 x->name, (const char *)text.data);

		/* gnutls ends its sentences with a space */
		for (n = n < (int)sizeof(why) ? n : (int)sizeof(why) - 1;
		     n > 0 && why[n - 1] == ' '; n--)
			why[n - 1] = '\0';
		gnutls_free(text.data);
		conn_fail(t, why, true, now);
	} else if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		snprintf(why, sizeof(why),
			 "TLS handshake: the receiver refused it (alert: %s)",
			 gnutls_alert_get_name(gnutls_alert_get(x->session)));
		conn_fail(t, why, true, now);
	} else {
		tls_fail(t, "handshake", r, now);
	}
}

/* Start a connection; a unix socket path tells its type by refusing one. */
static void conn_start(struct transport *t, uint64_t now)
{
	const struct sockaddr *sa = (struct sockaddr *)&t->addrs.a[t->next_addr];
	socklen_t len = t->addrs.len[t->next_addr];
	int type = t->kind == TRANSPORT_TCP || t->kind == TRANSPORT_TLS ?
		   SOCK_STREAM :
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
	if (t->kind == TRANSPORT_UDP)
		transport_udp_recverr(t->fd, sa->sa_family);
	conn_connected(t, now);
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
		conn_connected(t, now);
}

/* Connecting or the handshake moves along when the socket is ready. */
static void conn_progress(struct transport *t, uint64_t now)
{
	if (t->state == ST_CONNECTING)
		conn_check(t, now);
	if (t->state == ST_HANDSHAKE)
		tls_handshake(t, now);
	else if (t->state == ST_VERDICT)
		tls_verdict(t, now);
}

/* What to wait for on the socket: TLS may need to read to go on. */
static short conn_events(const struct transport *t)
{
	if ((t->state == ST_HANDSHAKE &&
	     !gnutls_record_get_direction(t->tls->session)) ||
	    t->state == ST_VERDICT)
		return POLLIN;
	return POLLOUT;
}

/*
 * What a TLS receiver sent goes through the session: a close_notify is
 * its close, and TLS 1.3 tickets must not be read from under it. 1 the
 * receiver is gone, 0 not, -1 already put down (an error said).
 */
static int tls_drain_input(struct transport *t)
{
	char junk[512];

	for (int i = 0; i < 64; i++) {	/* bounded; the rest next time */
		ssize_t n = gnutls_record_recv(t->tls->session, junk,
					       sizeof(junk));

		if (n > 0 || n == GNUTLS_E_INTERRUPTED ||
		    (n < 0 && n != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(n)))
			continue;
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
			return 1;
		if (n == GNUTLS_E_AGAIN)
			return 0;
		tls_fail(t, "receive", (int)n, clock_mono_ns());
		return -1;
	}
	return 0;
}

/*
 * A receiver that went away shows as EOF or an error before a send would
 * notice; a send to it would succeed and the data vanish. Returns an
 * errno, -1 for EOF, 0 if it is there, or -2 if already put down.
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
	if (t->kind == TRANSPORT_TLS && (p.revents & POLLIN)) {
		int r = tls_drain_input(t);

		if (r)
			return r < 0 ? -2 : -1;
		return (p.revents & POLLRDHUP) ? -1 : 0;
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

/*
 * One TLS record's worth from buf. gnutls wants a send that said AGAIN
 * repeated before anything else; it has the bytes encrypted already, so
 * NULL, 0 repeats it, and its result counts the first call's bytes.
 * Bytes sent, 0 for later, -1 put down.
 */
static ssize_t tls_send(struct transport *t, const char *buf, size_t len,
			uint64_t now)
{
	struct transport_tls *x = t->tls;
	ssize_t n;

	for (;;) {
		n = x->send_pending ? gnutls_record_send(x->session, NULL, 0)
				    : gnutls_record_send(x->session, buf, len);
		if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			break;
		x->send_pending = true;
		if (n == GNUTLS_E_AGAIN)
			return 0;
	}
	x->send_pending = false;
	if (n > 0)
		return n;
	if (!n)
		errno = EPIPE;
	tls_fail(t, "send", n ? (int)n : GNUTLS_E_PUSH_ERROR, now);
	return -1;
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
	conn_progress(t, now);
	if (t->state != ST_UP)
		return;
	gone = peer_gone(t);
	if (gone == -2)
		return;
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
		if (t->kind == TRANSPORT_TLS) {
			n = tls_send(t, q->buf + q->start + q->sent, want, now);
			if (n < 0)
				return;
			if (!n)
				break;
			t->s->written += queue_sent(q, n);
			if (t->reconnect && !q->sent)
				break;
			continue;
		}
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
	if (t->reconnect && !q->sent && !(t->tls && t->tls->send_pending)) {
		close_clean(t);
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

void transport_udp_recverr(int fd, int family)
{
	int on = 1;

	if (family == AF_INET6)
		setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof(on));
	else
		setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof(on));
}

bool transport_icmp_error(int fd, int *err, void *buf, size_t *len)
{
	/* Bounded: the queue holds far fewer; the rest next time. */
	for (int i = 0; i < 4096; i++) {
		char ctl[512];
		struct iovec iov = { .iov_base = buf,
				     .iov_len = buf && len ? *len : 0 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl,
				    .msg_controllen = sizeof(ctl) };
		ssize_t n = recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
		struct cmsghdr *c;

		if (n < 0)
			return false;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err ee;
			int pending;
			socklen_t plen = sizeof(pending);

			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee.ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;	/* local: the send said so */
			/* The error the next send() would fail with is one of these. */
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &plen);
			*err = ee.ee_errno;
			if (buf && len)
				*len = n;
			return true;
		}
	}
	return false;
}

void transport_refused(struct sink *s, const char *label, const char *name,
		       const char *what, uint64_t n, int err,
		       uint64_t *said_at)
{
	uint64_t now = clock_mono_ns();

	if (n > s->written)
		n = s->written;
	s->written -= n;
	s->failed += n;
	if (!*said_at || now - *said_at > REFUSED_QUIET_NS) {
		if (err == ECONNREFUSED)
			pr_warn("%s %s: nothing listens there (port unreachable); %s are lost until something does",
				label, name, what);
		else
			pr_warn("%s %s: %s (ICMP); %s are lost until it is reachable",
				label, name, strerror(err), what);
	}
	*said_at = now;
}

/*
 * Each ICMP error on a udp:// socket (transport_icmp_error()) moves one
 * record from written to lost. Read at every flush and when a send
 * reports one. A datagram dropped without an ICMP error (a firewall, ICMP
 * rate limits on the far host) stays counted as written: nothing tells
 * hdrlog about it.
 */
static void udp_refusals(struct transport *t)
{
	uint64_t refused = 0;
	int first_err = 0, err;

	if (t->kind != TRANSPORT_UDP || t->fd < 0)
		return;
	/* bounded; the rest next time */
	for (int i = 0; i < 4096 && transport_icmp_error(t->fd, &err, NULL, NULL);
	     i++) {
		refused++;
		if (!first_err)
			first_err = err;
	}
	if (refused)
		transport_refused(t->s, t->def->label, t->name, "datagrams",
				  refused, first_err, &t->refused_at);
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
	gnutls_certificate_credentials_t c;

	if (t->kind != TRANSPORT_UNIX) {
		/* The name may point elsewhere now; the old stay on failure. */
		resolve(t, &t->addrs);
	}
	/* Renewed certificates: for the next session, which starts below. */
	if (t->tls) {
		if (!tls_load(t->s->cfg, t->def->label, t->name, &c)) {
			if (t->tls->next_cred)
				gnutls_certificate_free_credentials(t->tls->next_cred);
			t->tls->next_cred = c;
		} else {
			pr_err("%s %s: keeping the TLS certificates read before",
			       t->def->label, t->name);
		}
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

/* Wait at most ms for the socket to take more, or the handshake to go on. */
static void conn_wait(struct transport *t, int ms)
{
	struct pollfd p = { .fd = t->fd, .events = conn_events(t) };

	poll(&p, 1, ms);
}

/*
 * Bounded wait for the stream queue to drain, at exit; a second stop
 * signal (sink_stop_now) ends it within a slice.
 */
static void drain(struct transport *t, uint64_t budget_ns)
{
	uint64_t deadline = clock_mono_ns() + budget_ns;

	while (t->q.lcount && t->state != ST_DOWN && !sink_stop_now &&
	       clock_mono_ns() < deadline) {
		transport_flush(t);
		if (!t->q.lcount || t->state == ST_DOWN)
			break;
		conn_wait(t, 50);
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
	close_clean(t);
	tls_free(t);
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

int transport_check(const char *target, const struct sink_config *cfg,
		    const struct transport_defaults *def)
{
	struct transport t;
	struct sockaddr_un *un = (struct sockaddr_un *)&t.addrs.a[0];
	struct stat st;
	int err;

	set_target(&t, target, def);
	err = parse_target(&t, target);
	if (!err && t.kind == TRANSPORT_TLS) {
		/* The files read and parsed as a start would; nothing sent. */
		err = tls_init(&t, cfg);
		tls_free(&t);
		return err;
	}
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
	uint64_t deadline;
	int err;

	set_target(t, target, def);
	t->s = s;
	err = parse_target(t, target);
	if (!err && t->kind == TRANSPORT_TLS)
		err = tls_init(t, s->cfg);
	if (!err)
		err = queue_init(&t->q, def->min_msg);
	if (err) {
		if (err == -ENOMEM)
			pr_err("out of memory");
		tls_free(t);
		queue_free(&t->q);
		return err;
	}
	t->sotype = t->kind == TRANSPORT_UDP ? SOCK_DGRAM :
		    t->kind == TRANSPORT_UNIX ? 0 : SOCK_STREAM;
	t->backoff = BACKOFF_MIN_NS;
	/* A receiver that is not there yet is not fatal: retried later. */
	conn_start(t, clock_mono_ns());
	/* A moment for connecting (and TLS), so the first records go at once. */
	deadline = clock_mono_ns() + 1000000000ull;
	while ((t->state == ST_CONNECTING || t->state == ST_HANDSHAKE ||
		t->state == ST_VERDICT) && clock_mono_ns() < deadline) {
		conn_wait(t, (int)((deadline - clock_mono_ns()) / 1000000) + 1);
		conn_progress(t, clock_mono_ns());
	}
	return 0;
}
