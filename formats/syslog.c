// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Records as syslog messages, to a local socket, over UDP or over TCP.
 *
 * RFC 5424 (default):
 *   <PRI>1 TIMESTAMP HOSTNAME hdrlog PID packet [hdrlog@32473 k="v" ...] JSON
 * RFC 3164 (--syslog-format rfc3164):
 *   <PRI>Mmm dd hh:mm:ss HOSTNAME hdrlog[PID]: JSON
 *
 * Facility: daemon (3). hdrlog is a system daemon; the local0-7 facilities
 * belong to each site's own policy, which a program should not pre-empt.
 * Receivers pick hdrlog's messages by APP-NAME/program name and MSGID.
 * Severity: event_priority() (warning, notice or info).
 *
 * SD-ID: hdrlog@32473. 32473 is the example private enterprise number
 * that RFC 5612 reserves for documentation; hdrlog has no PEN of its own.
 *
 * Size: messages are kept within what receivers take by default: 2048
 * bytes over UDP (RFC 5426 says receivers SHOULD take 2048; 480/1180 is
 * the floor, which no record fits), 8192 bytes otherwise (rsyslog's
 * default maxMessageSize). A longer message first loses its structured
 * data (the JSON body says the same), then the JSON is cut; both count
 * in s->cut.
 *
 * Transports never block capture. Datagrams go out with MSG_DONTWAIT and
 * count as lost when the receiver's queue is full or it is missing.
 * Streams (TCP, or a unix socket that is SOCK_STREAM) go through a
 * bounded in-memory queue that is sent from write() and flush() with
 * non-blocking sends; when the receiver goes away the queue keeps filling
 * while hdrlog reconnects with exponential back-off, and what does not
 * fit is counted lost. A message half sent when a connection breaks is
 * sent again whole on the next one (a receiver may keep the torn piece
 * too; a cut is better than a loss). What the kernel had taken when the
 * receiver died is gone unseen, as with any plain TCP syslog: the
 * receiver's EOF is looked for before each send to keep that small.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "fields.h"
#include "json.h"
#include "log.h"
#include "message.h"
#include "sink.h"

#define SYSLOG_FACILITY		3	/* daemon */
#define SYSLOG_SD_ID		"hdrlog@32473"
#define SYSLOG_DEFAULT_PATH	"/dev/log"
#define SYSLOG_DEFAULT_PORT	"514"
#define SYSLOG_UDP_MAX		2048
#define SYSLOG_MSG_MAX		8192
#define SYSLOG_SD_MAX		(24 * 1024)	/* 35 fields, 2 x 64 list names */
#define SYSLOG_QUEUE_BYTES	(4 * 1024 * 1024)
/* Smallest framed message: a header, "-" and "{}"; bounds the length FIFO. */
#define SYSLOG_MIN_FRAME	32
#define SYSLOG_SEND_BATCH	(64 * 1024)	/* send before flush past this */
#define BACKOFF_MIN_NS		100000000ull	/* 100 ms */
#define BACKOFF_MAX_NS		5000000000ull	/* 5 s */
#define CONNECT_TIMEOUT_NS	5000000000ull
#define MAX_ADDRS		8

/* For messages: what "-o syslog" alone means, spelled out. */
#define SINK_NAME(s)	(*(s)->target ? (s)->target : "unix:" SYSLOG_DEFAULT_PATH)

enum transport { T_UNIX, T_UDP, T_TCP };
enum conn_state { ST_DOWN, ST_CONNECTING, ST_UP };

/* Framed messages waiting for a stream socket, oldest first. */
struct queue {
	char *buf;
	size_t start;		/* first byte of the oldest message */
	size_t sent;		/* bytes of that message already sent */
	size_t end;
	uint32_t *lens;		/* framed length of each message, a ring */
	size_t lhead, lcount, lcap;
};

struct syslog_sink {
	enum transport transport;
	int sotype;		/* SOCK_DGRAM or SOCK_STREAM; 0 unknown yet */
	char host[256];
	char port[8];
	struct sockaddr_storage addrs[MAX_ADDRS];
	socklen_t addr_lens[MAX_ADDRS];
	int n_addrs, next_addr;

	int fd;
	enum conn_state state;
	uint64_t retry_at, backoff, connect_deadline;
	bool reconnect;		/* SIGHUP: reconnect at the next message boundary */
	bool down;		/* an outage was reported; quiet until it heals */
	uint64_t failed_at_down;
	bool full;		/* the queue overflowed while connected */
	uint64_t failed_at_full;
	uint64_t refused_at;	/* UDP: last ICMP port unreachable */

	size_t max_msg;
	char tail[320];		/* " HOSTNAME hdrlog PID " or " HOSTNAME hdrlog[PID]: " */
	size_t tail_len;

	struct json_writer w;
	struct queue q;
	char sd[SYSLOG_SD_MAX];
	char body[JSON_RECORD_MAX];
	char msg[SYSLOG_MSG_MAX + 16];	/* room for an octet count */
};

/* --- target ----------------------------------------------------------- */

static int bad_target(struct sink *s, const char *why)
{
	pr_err("bad syslog target '%s': %s (use unix:PATH, udp://HOST[:PORT] or tcp://HOST[:PORT])",
	       s->target, why);
	return -EINVAL;
}

/* HOST[:PORT], [V6][:PORT] or a bare IPv6 literal. */
static int parse_hostport(struct sink *s, struct syslog_sink *x, const char *p)
{
	const char *host = p, *port = NULL, *colon;
	size_t host_len;
	struct in6_addr a6;
	char tmp[256];

	if (*p == '[') {
		const char *close = strchr(p, ']');

		if (!close)
			return bad_target(s, "no ']' after the IPv6 address");
		host = p + 1;
		host_len = close - host;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return bad_target(s, "junk after ']'");
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
			return bad_target(s, "not an IPv6 address (put it in [] before a port)");
	} else if (colon) {
		host_len = colon - p;
		port = colon + 1;
	} else {
		host_len = strlen(p);
	}
	if (!host_len)
		return bad_target(s, "no host");
	if (host_len >= sizeof(x->host))
		return bad_target(s, "host name too long");
	memcpy(x->host, host, host_len);
	x->host[host_len] = '\0';
	if (!port) {
		strcpy(x->port, SYSLOG_DEFAULT_PORT);
	} else {
		char *end;
		unsigned long v = strtoul(port, &end, 10);

		if (!*port || *end || v < 1 || v > 65535 || *port == '+' ||
		    *port == '-')
			return bad_target(s, "the port is a number from 1 to 65535");
		snprintf(x->port, sizeof(x->port), "%lu", v);
	}
	return 0;
}

static int resolve(struct sink *s, struct syslog_sink *x)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = x->transport == T_TCP ? SOCK_STREAM : SOCK_DGRAM,
		.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	int err;

	err = getaddrinfo(x->host, x->port, &hints, &res);
	if (err == EAI_NONAME || err == EAI_ADDRFAMILY || err == EAI_NODATA) {
		/* AI_ADDRCONFIG hides ::1 and 127.0.0.1 without other addresses. */
		hints.ai_flags &= ~AI_ADDRCONFIG;
		err = getaddrinfo(x->host, x->port, &hints, &res);
	}
	if (err) {
		pr_err("syslog %s: cannot resolve %s: %s", SINK_NAME(s), x->host,
		       err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
		return -EHOSTUNREACH;
	}
	x->n_addrs = 0;
	for (ai = res; ai && x->n_addrs < MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(x->addrs[0]))
			continue;
		memcpy(&x->addrs[x->n_addrs], ai->ai_addr, ai->ai_addrlen);
		x->addr_lens[x->n_addrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	x->next_addr = 0;
	if (!x->n_addrs) {
		pr_err("syslog %s: %s has no usable address", SINK_NAME(s), x->host);
		return -EHOSTUNREACH;
	}
	return 0;
}

static int parse_target(struct sink *s, struct syslog_sink *x)
{
	const char *t = s->target;

	if (!*t || !strncmp(t, "unix:", 5)) {
		const char *path = *t ? t + 5 : SYSLOG_DEFAULT_PATH;
		struct sockaddr_un *un = (struct sockaddr_un *)&x->addrs[0];

		if (!*path)
			return bad_target(s, "no socket path");
		if (strlen(path) >= sizeof(un->sun_path))
			return bad_target(s, "socket path too long");
		x->transport = T_UNIX;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		x->addr_lens[0] = sizeof(*un);
		x->n_addrs = 1;
		return 0;
	}
	if (!strncmp(t, "udp://", 6))
		x->transport = T_UDP;
	else if (!strncmp(t, "tcp://", 6))
		x->transport = T_TCP;
	else
		return bad_target(s, "unknown scheme");
	if (parse_hostport(s, x, t + 6))
		return -EINVAL;
	return resolve(s, x);
}

/* --- message ---------------------------------------------------------- */

struct out {
	char *p;
	char *end;
	bool over;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->over || (size_t)(o->end - o->p) < n) {
		o->over = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return false;
		for (size_t j = 1; j <= k; j++)
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

/*
 * An SD-PARAM value: '"', '\' and ']' get a backslash (RFC 5424 6.3.3).
 * Control characters, which would break newline framing, and the bytes of
 * text that is not UTF-8 become '?', as in the JSON body.
 */
static void put_sd_value(struct out *o, const char *v, size_t n)
{
	bool utf8 = utf8_valid((const unsigned char *)v, n);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = v[i];
		char esc[2] = { '\\', (char)c };

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			put(o, "?", 1);
		else if (c == '"' || c == '\\' || c == ']')
			put(o, esc, 2);
		else
			put(o, esc + 1, 1);
	}
}

/* [hdrlog@32473 name="value" ...], or "-" without fields. */
static size_t build_sd(const struct event *e, uint64_t mask, char *buf,
		       size_t size)
{
	struct out o = { buf, buf + size, false };
	char text[FIELD_TEXT_MAX];

	mask &= e->present;
	if (!mask) {
		buf[0] = '-';
		return 1;
	}
	put(&o, "[" SYSLOG_SD_ID, sizeof(SYSLOG_SD_ID));
	while (mask) {
		enum field_id id = __builtin_ctzll(mask);
		const struct field *f = &field_table[id];
		int n;

		mask &= mask - 1;
		put(&o, " ", 1);
		put(&o, f->name, f->name_len);	/* <= 32 printable ASCII */
		put(&o, "=\"", 2);
		if (f->kind == FK_NUMBER_ARRAY ||
		    f->kind == FK_FOREIGN_STRING_ARRAY) {
			for (unsigned int i = 0;
			     (n = field_text(e, id, i, text)) >= 0; i++) {
				if (i)
					put(&o, ",", 1);
				put_sd_value(&o, text, n);
			}
		} else {
			n = field_text(e, id, 0, text);
			put_sd_value(&o, text, n > 0 ? n : 0);
		}
		put(&o, "\"", 1);
	}
	put(&o, "]", 1);
	if (o.over) {
		buf[0] = '-';	/* cannot happen with bounded names */
		return 1;
	}
	return o.p - buf;
}

/* The longest prefix of s, at most n bytes, that ends on a character. */
static size_t utf8_floor(const char *s, size_t len, size_t n)
{
	if (n >= len)
		return len;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* "<PRI>" and the time: RFC 3339 for 5424, "Mmm dd hh:mm:ss" local for 3164. */
static size_t build_head(const struct sink *s, const struct event *e,
			 char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char *start = p;

	*p++ = '<';
	p += uint_text(SYSLOG_FACILITY * 8 + event_priority(e), p);
	*p++ = '>';
	if (s->cfg->syslog_format == SYSLOG_RFC5424) {
		*p++ = '1';
		*p++ = ' ';
		p += field_text(e, F_TIMESTAMP, 0, p);
	} else {
		time_t t = e->time_ns / 1000000000ull;
		struct tm tm;

		localtime_r(&t, &tm);
		memcpy(p, months + 3 * tm.tm_mon, 3);
		p += 3;
		p += sprintf(p, " %2d %02d:%02d:%02d", tm.tm_mday, tm.tm_hour,
			     tm.tm_min, tm.tm_sec);
	}
	return p - start;
}

/*
 * The message for e in x->msg, framed for the transport, cut to fit;
 * returns its framed length.
 */
static size_t build_message(struct sink *s, const struct event *e)
{
	struct syslog_sink *x = s->priv;
	const struct sink_config *cfg = s->cfg;
	bool rfc5424 = cfg->syslog_format == SYSLOG_RFC5424;
	const char *cee = cfg->syslog_cee ? "@cee:" : "";
	size_t cee_len = strlen(cee);
	char head[96 + FIELD_TEXT_MAX];
	size_t head_len, sd_len = 0, body_len, fixed, len, off;
	bool cut = false;
	char *m;

	head_len = build_head(s, e, head);
	memcpy(head + head_len, x->tail, x->tail_len);
	head_len += x->tail_len;
	if (rfc5424) {
		char type[FIELD_TEXT_MAX];
		int n = event_has(e, F_EVENT_TYPE) ?
			field_text(e, F_EVENT_TYPE, 0, type) : -1;

		if (n <= 0 || n > 32)
			n = 1, type[0] = '-';
		memcpy(head + head_len, type, n);
		head_len += n;
		head[head_len++] = ' ';
		sd_len = build_sd(e, cfg->fields, x->sd, sizeof(x->sd));
	}
	body_len = json_writer_record(&x->w, e, cfg->fields, x->body,
				      sizeof(x->body));
	if (!body_len) {
		memcpy(x->body, "{}", 2);
		body_len = 2;
		cut = true;
	}

	/* Too long: without the structured data, then with the JSON cut. */
	fixed = head_len + (rfc5424 ? 1 : 0) + cee_len;
	if (rfc5424 && fixed + sd_len + body_len > x->max_msg && sd_len > 1) {
		x->sd[0] = '-';
		sd_len = 1;
		cut = true;
	}
	if (fixed + sd_len + body_len > x->max_msg) {
		body_len = utf8_floor(x->body, body_len,
				      x->max_msg - fixed - sd_len);
		cut = true;
	}
	if (cut)
		s->cut++;
	len = fixed + sd_len + body_len;

	/* RFC 6587 octet counting: "LEN SP" in front. */
	off = 0;
	if (x->sotype == SOCK_STREAM && x->transport == T_TCP &&
	    !cfg->syslog_lf_framing) {
		off = uint_text(len, x->msg);
		x->msg[off++] = ' ';
	}
	m = x->msg + off;
	memcpy(m, head, head_len);
	m += head_len;
	if (rfc5424) {
		memcpy(m, x->sd, sd_len);
		m += sd_len;
		*m++ = ' ';
	}
	memcpy(m, cee, cee_len);
	m += cee_len;
	memcpy(m, x->body, body_len);
	m += body_len;
	/*
	 * Non-transparent framing ends a message with LF; a local stream
	 * socket gets a NUL, as glibc's syslog(3) sends.
	 */
	if (x->sotype == SOCK_STREAM) {
		if (x->transport == T_TCP && cfg->syslog_lf_framing)
			*m++ = '\n';
		else if (x->transport == T_UNIX)
			*m++ = cfg->syslog_lf_framing ? '\n' : '\0';
	}
	return m - x->msg;
}

/* Precomputed " HOSTNAME APP-NAME PROCID " (5424) or " HOSTNAME TAG[PID]: ". */
static void build_tail(struct sink *s, struct syslog_sink *x)
{
	char host[256] = "";
	size_t n;

	if (gethostname(host, sizeof(host) - 1) || !host[0])
		strcpy(host, "-");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			*p = '-';
	if (s->cfg->syslog_format == SYSLOG_RFC5424) {
		snprintf(x->tail, sizeof(x->tail), " %s hdrlog %d ", host,
			 (int)getpid());
	} else if (x->transport == T_UNIX) {
		/* Local daemons take no HOSTNAME here, as from syslog(3). */
		snprintf(x->tail, sizeof(x->tail), " hdrlog[%d]: ",
			 (int)getpid());
	} else {
		/* RFC 3164 4.1.2: the host name without the domain. */
		n = strcspn(host, ".");
		if (inet_addr(host) == INADDR_NONE)
			host[n] = '\0';
		snprintf(x->tail, sizeof(x->tail), " %s hdrlog[%d]: ", host,
			 (int)getpid());
	}
	x->tail_len = strlen(x->tail);
}

/* --- queue (streams) ---------------------------------------------------- */

static int queue_init(struct queue *q)
{
	q->lcap = SYSLOG_QUEUE_BYTES / SYSLOG_MIN_FRAME;
	q->buf = malloc(SYSLOG_QUEUE_BYTES);
	q->lens = malloc(q->lcap * sizeof(*q->lens));
	if (!q->buf || !q->lens)
		return -ENOMEM;
	return 0;
}

static void queue_free(struct queue *q)
{
	free(q->buf);
	free(q->lens);
}

static bool queue_push(struct queue *q, const char *m, size_t n)
{
	if (q->lcount == q->lcap || q->end - q->start + n > SYSLOG_QUEUE_BYTES)
		return false;
	if (q->end + n > SYSLOG_QUEUE_BYTES) {
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
static uint64_t queue_sent(struct queue *q, size_t n)
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

/* --- connections ---------------------------------------------------------- */

static void close_fd(struct syslog_sink *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

static void conn_up(struct sink *s)
{
	struct syslog_sink *x = s->priv;

	x->state = ST_UP;
	x->backoff = BACKOFF_MIN_NS;
	if (x->down)
		pr_info("syslog %s: connected again; %llu records lost meanwhile",
			SINK_NAME(s),
			(unsigned long long)(s->failed - x->failed_at_down));
	x->down = false;
}

/* The connection broke or could not be made: try again later. */
static void conn_down(struct sink *s, int err, uint64_t now)
{
	struct syslog_sink *x = s->priv;

	close_fd(x);
	x->state = ST_DOWN;
	x->q.sent = 0;		/* a torn message goes again, whole */
	x->reconnect = false;
	x->retry_at = now + x->backoff;
	x->backoff = x->backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS
						     : x->backoff * 2;
	if (x->n_addrs > 1)
		x->next_addr = (x->next_addr + 1) % x->n_addrs;
	if (x->down)
		return;
	x->down = true;
	x->failed_at_down = s->failed;
	if (x->sotype == SOCK_STREAM)
		pr_warn("syslog %s: %s; queueing records (up to %d MiB) and reconnecting",
			SINK_NAME(s), err ? strerror(err) :
			"the receiver closed the connection",
			SYSLOG_QUEUE_BYTES >> 20);
	else
		pr_warn("syslog %s: %s; counting lost records and retrying now and then",
			SINK_NAME(s), strerror(err));
}

/* Start a connection; a unix socket path tells its type by refusing one. */
static void conn_start(struct sink *s, uint64_t now)
{
	struct syslog_sink *x = s->priv;
	const struct sockaddr *sa = (struct sockaddr *)&x->addrs[x->next_addr];
	socklen_t len = x->addr_lens[x->next_addr];
	int type = x->transport == T_TCP ? SOCK_STREAM :
		   x->transport == T_UDP ? SOCK_DGRAM :
		   x->sotype ? x->sotype : SOCK_DGRAM;

	for (;;) {
		x->fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       0);
		if (x->fd < 0) {
			conn_down(s, errno, now);
			return;
		}
		if (!connect(x->fd, sa, len))
			break;
		if (errno == EINPROGRESS && type == SOCK_STREAM) {
			x->sotype = type;
			x->state = ST_CONNECTING;
			x->connect_deadline = now + CONNECT_TIMEOUT_NS;
			return;
		}
		if (errno == EPROTOTYPE && x->transport == T_UNIX && !x->sotype &&
		    type == SOCK_DGRAM) {
			close_fd(x);
			type = SOCK_STREAM;
			continue;
		}
		conn_down(s, errno, now);
		return;
	}
	x->sotype = type;
	if (x->transport == T_UDP) {
		int on = 1;

		if (sa->sa_family == AF_INET6)
			setsockopt(x->fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof(on));
		else
			setsockopt(x->fd, SOL_IP, IP_RECVERR, &on, sizeof(on));
	}
	conn_up(s);
}

static void conn_check(struct sink *s, uint64_t now)
{
	struct syslog_sink *x = s->priv;
	struct pollfd p = { .fd = x->fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, 0) <= 0) {
		if (now >= x->connect_deadline)
			conn_down(s, ETIMEDOUT, now);
		return;
	}
	if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		conn_down(s, err, now);
	else
		conn_up(s);
}

/*
 * A receiver that went away shows as EOF or an error before a send would
 * notice; a send to it would succeed and the data vanish.
 */
static int peer_gone(struct syslog_sink *x)
{
	struct pollfd p = { .fd = x->fd, .events = POLLIN | POLLRDHUP };
	char junk[512];
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & POLLERR) {
		getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		return err ? err : EPIPE;
	}
	for (;;) {	/* receivers send nothing; read what some do */
		ssize_t n = recv(x->fd, junk, sizeof(junk), MSG_DONTWAIT);

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

/* Stream: move the connection along and send what the socket takes. */
static void pump(struct sink *s)
{
	struct syslog_sink *x = s->priv;
	struct queue *q = &x->q;
	uint64_t now = clock_mono_ns();
	int gone;

	if (x->state == ST_DOWN && now >= x->retry_at)
		conn_start(s, now);
	if (x->state == ST_CONNECTING)
		conn_check(s, now);
	if (x->state != ST_UP)
		return;
	gone = peer_gone(x);
	if (gone) {
		conn_down(s, gone > 0 ? gone : 0, now);
		return;
	}
	while (q->end > q->start + q->sent) {
		size_t want = q->end - q->start - q->sent;
		ssize_t n;

		/* SIGHUP: stop at a message boundary, then reconnect. */
		if (x->reconnect && q->lcount)
			want = q->lens[q->lhead] - q->sent;
		n = send(x->fd, q->buf + q->start + q->sent, want,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_down(s, n < 0 ? errno : EPIPE, now);
			return;
		}
		s->written += queue_sent(q, n);
		if (x->reconnect && !q->sent)
			break;
	}
	if (x->full && !q->lcount) {
		pr_info("syslog %s: the receiver caught up; %llu records lost while the queue was full",
			SINK_NAME(s),
			(unsigned long long)(s->failed - x->failed_at_full));
		x->full = false;
	}
	if (x->reconnect && !q->sent) {
		close_fd(x);
		x->reconnect = false;
		x->state = ST_DOWN;
		x->retry_at = now;
		conn_start(s, now);
	}
}

/* The queue would not take a record: count it, say so once. */
static void queue_overflow(struct sink *s)
{
	struct syslog_sink *x = s->priv;

	s->failed++;
	if (x->state == ST_UP && !x->full && !x->down) {
		pr_warn("syslog %s: the receiver does not keep up; queue full, counting lost records",
			SINK_NAME(s));
		x->full = true;
		x->failed_at_full = s->failed - 1;
	}
}

static void stream_write(struct sink *s, size_t len)
{
	struct syslog_sink *x = s->priv;

	if (!queue_push(&x->q, x->msg, len))
		queue_overflow(s);
	if (x->q.end - x->q.start >= SYSLOG_SEND_BATCH)
		pump(s);
}

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
static void udp_refusals(struct sink *s)
{
	struct syslog_sink *x = s->priv;
	uint64_t refused = 0, now;
	int first_err = 0, err;
	socklen_t len = sizeof(err);

	for (int i = 0; i < 4096; i++) {	/* bounded; the rest next time */
		char ctl[512];
		struct msghdr m = { .msg_control = ctl,
				    .msg_controllen = sizeof(ctl) };
		struct cmsghdr *c;

		if (recvmsg(x->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
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
	getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (refused > s->written)
		refused = s->written;
	s->written -= refused;
	s->failed += refused;
	now = clock_mono_ns();
	if (!x->refused_at || now - x->refused_at > 10 * BACKOFF_MAX_NS) {
		if (first_err == ECONNREFUSED)
			pr_warn("syslog %s: nothing listens there (port unreachable); datagrams are lost until something does",
				SINK_NAME(s));
		else
			pr_warn("syslog %s: %s (ICMP); datagrams are lost until it is reachable",
				SINK_NAME(s), strerror(first_err));
	}
	x->refused_at = now;
}

/* One datagram: 1 sent, 0 the local receiver's queue is full, -1 lost. */
static int dgram_send(struct sink *s, const char *m, size_t len)
{
	struct syslog_sink *x = s->priv;
	ssize_t n;

	for (int tries = 0;; tries++) {
		n = send(x->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			s->written++;
			return 1;
		}
		if (errno == EINTR)
			continue;
		/* UDP: an earlier datagram's ICMP error; this one did not go. */
		if (x->transport == T_UDP && errno == ECONNREFUSED && tries < 3) {
			udp_refusals(s);
			continue;
		}
		break;
	}
	if (x->transport == T_UNIX && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (x->transport == T_UDP || errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == ENOBUFS || errno == EMSGSIZE) {
		s->failed++;	/* the receiver is busy: this one is lost */
		return -1;
	}
	/*
	 * The local receiver went away. If it restarted, its new socket takes
	 * this message at once, and nobody needs to hear about it.
	 */
	close_fd(x);
	x->state = ST_DOWN;
	conn_start(s, clock_mono_ns());
	if (x->state == ST_UP && x->sotype == SOCK_DGRAM &&
	    send(x->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
		s->written++;
		return 1;
	}
	s->failed++;
	return -1;
}

/*
 * A local datagram receiver takes only net.unix.max_dgram_qlen messages
 * ahead of reading them (10 unless raised; systemd makes it 512): a burst
 * waits in the queue and goes out as the receiver reads.
 */
static void dgram_pump(struct sink *s)
{
	struct syslog_sink *x = s->priv;
	struct queue *q = &x->q;

	while (q->lcount) {
		if (x->state != ST_UP) {
			s->failed += q->lcount;
			q->lcount = 0;
			queue_sent(q, 0);
			break;
		}
		if (!dgram_send(s, q->buf + q->start, q->lens[q->lhead]))
			break;
		queue_sent(q, q->lens[q->lhead]);
	}
	if (x->full && !q->lcount) {
		pr_info("syslog %s: the receiver caught up; %llu records lost while the queue was full",
			SINK_NAME(s),
			(unsigned long long)(s->failed - x->failed_at_full));
		x->full = false;
	}
}

static void dgram_write(struct sink *s, size_t len)
{
	struct syslog_sink *x = s->priv;

	if (x->q.lcount)
		dgram_pump(s);
	if (!x->q.lcount && dgram_send(s, x->msg, len))
		return;
	if (!queue_push(&x->q, x->msg, len))
		queue_overflow(s);
}

static int syslog_write(struct sink *s, const struct event *e)
{
	struct syslog_sink *x = s->priv;
	size_t len;

	/* Datagrams to a missing receiver: count, and try again now and then. */
	if (x->sotype != SOCK_STREAM && x->state != ST_UP) {
		uint64_t now = clock_mono_ns();

		if (now >= x->retry_at)
			conn_start(s, now);
		if (x->state != ST_UP && x->sotype != SOCK_STREAM) {
			s->failed++;
			return -ENOTCONN;
		}
	}
	len = build_message(s, e);
	if (x->sotype == SOCK_STREAM)
		stream_write(s, len);
	else
		dgram_write(s, len);
	return 0;
}

static int syslog_flush(struct sink *s)
{
	struct syslog_sink *x = s->priv;

	if (x->sotype == SOCK_STREAM)
		pump(s);
	else if (x->q.lcount)
		dgram_pump(s);
	if (x->transport == T_UDP && x->fd >= 0)
		udp_refusals(s);
	return 0;
}

/* Bounded wait for the stream queue to drain, at exit. */
static void drain(struct sink *s, uint64_t budget_ns)
{
	struct syslog_sink *x = s->priv;
	uint64_t deadline = clock_mono_ns() + budget_ns;

	while (x->q.lcount && x->state != ST_DOWN && clock_mono_ns() < deadline) {
		struct pollfd p = { .fd = x->fd, .events = POLLOUT };

		syslog_flush(s);
		if (!x->q.lcount || x->state == ST_DOWN)
			break;
		poll(&p, 1, 50);
	}
}

static int syslog_reopen(struct sink *s)
{
	struct syslog_sink *x = s->priv;
	uint64_t now = clock_mono_ns();

	if (x->transport != T_UNIX) {
		/* The name may point elsewhere now; keep the old on failure. */
		struct syslog_sink old;

		memcpy(old.addrs, x->addrs, sizeof(x->addrs));
		memcpy(old.addr_lens, x->addr_lens, sizeof(x->addr_lens));
		old.n_addrs = x->n_addrs;
		if (resolve(s, x)) {
			memcpy(x->addrs, old.addrs, sizeof(x->addrs));
			memcpy(x->addr_lens, old.addr_lens, sizeof(x->addr_lens));
			x->n_addrs = old.n_addrs;
		}
	}
	x->backoff = BACKOFF_MIN_NS;
	if (x->sotype == SOCK_STREAM && x->state == ST_UP) {
		/* Let the message being sent finish first: no torn frame. */
		x->reconnect = true;
		pump(s);
		return 0;
	}
	if (x->transport == T_UDP && x->fd >= 0)
		udp_refusals(s);	/* the old socket's, before it goes */
	close_fd(x);
	x->state = ST_DOWN;
	x->q.sent = 0;
	x->retry_at = now;
	conn_start(s, now);
	return 0;
}

static void syslog_free(struct syslog_sink *x)
{
	close_fd(x);
	json_writer_free(&x->w);
	queue_free(&x->q);
	free(x);
}

static void syslog_close(struct sink *s)
{
	struct syslog_sink *x = s->priv;

	if (x->q.lcount) {
		drain(s, 1000000000ull);
		/* Counted as lost: the summary, printed after close, says so. */
		s->failed += x->q.lcount;
	}
	if (x->transport == T_UDP && x->fd >= 0)
		udp_refusals(s);	/* what came back meanwhile */
	syslog_free(x);
}

static int syslog_open(struct sink *s)
{
	struct syslog_sink *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return -ENOMEM;
	x->fd = -1;
	if (json_writer_init(&x->w)) {
		free(x);
		return -ENOMEM;
	}
	s->priv = x;
	err = parse_target(s, x);
	if (!err)
		err = queue_init(&x->q);
	if (err) {
		if (err == -ENOMEM)
			pr_err("out of memory");
		syslog_free(x);
		s->priv = NULL;
		return err;
	}
	x->sotype = x->transport == T_TCP ? SOCK_STREAM :
		    x->transport == T_UDP ? SOCK_DGRAM : 0;
	x->max_msg = x->transport == T_UDP ? SYSLOG_UDP_MAX : SYSLOG_MSG_MAX;
	build_tail(s, x);
	x->backoff = BACKOFF_MIN_NS;
	/* A receiver that is not there yet is not fatal: hdrlog retries. */
	conn_start(s, clock_mono_ns());
	if (x->state == ST_CONNECTING) {
		struct pollfd p = { .fd = x->fd, .events = POLLOUT };

		poll(&p, 1, 1000);	/* a moment, so the first records go at once */
		conn_check(s, clock_mono_ns());
	}
	return 0;
}

const struct sink_ops syslog_sink_ops = {
	.name = "syslog",
	.open = syslog_open,
	.write = syslog_write,
	.flush = syslog_flush,
	.reopen = syslog_reopen,
	.close = syslog_close,
};
